"""The planner-facing siting: :func:`plan_sites` from GeoDataFrames, as ``lifecircle site`` runs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from ..coverage import DEFAULT_SAMPLE_SPACING_M, DemandSamples, demand_samples
from ..errors import SitingError
from ..network import DEFAULT_SNAP_LIMIT_M, Snapped, WalkNetwork, snap_xy
from ..settings import DEFAULT_CANDIDATE_MIN_DISTANCE_M, DEFAULT_RADIUS_M, DEFAULT_TIME_LIMIT_S, SAME_SITE_M
from .candidates import STATION_KINDS, _metric_xy, _same_sites, _weights_column, grid_candidates, station_frame
from .cover import ProgressFn, check_radius, cover_sets
from .models import LSCP, MCLP, _SitingModel

__all__ = ["SitingPlan", "plan_sites"]


@dataclass
class SitingPlan:
    """The result of :func:`plan_sites`: the solved model with its inputs.

    Attributes
    ----------
    net
        The walking network.
    model
        The solved :class:`MCLP` or :class:`LSCP`.
    samples
        The demand spread over network-joined samples (the model's demand elements).
    demand, candidates, stations
        The WGS84 inputs (stations: the facilities counted as existing stations).
    radius
        Service radius in metres.
    excluded
        Candidate ids left out, by reason (``"unreachable"``, ``"existing_station"``).
    """

    net: WalkNetwork
    model: _SitingModel
    samples: DemandSamples
    demand: Any
    candidates: Any
    stations: Any
    radius: float
    excluded: dict[str, list[str]] = field(default_factory=dict)

    def unit_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Per demand unit: (total weight, weight covered or served after siting)."""
        n = self.samples.n_units
        w = self.samples.weight
        total = np.bincount(self.samples.unit, weights=w, minlength=n)
        served = np.bincount(self.samples.unit, weights=w * self.model.served, minlength=n)
        return total, served

    def unserved_units(self) -> list[str]:
        """Ids of demand units with weight of which none is covered after siting."""
        total, served = self.unit_weights()
        ids = self.demand["id"].astype(str).to_numpy()
        return ids[(total > 0) & (served <= 1e-9 * np.maximum(total, 1.0))].tolist()

    def partly_served_units(self) -> list[str]:
        """Ids of demand units (polygons, or under a capacity) only partly covered."""
        total, served = self.unit_weights()
        ids = self.demand["id"].astype(str).to_numpy()
        part = (served > 1e-9 * np.maximum(total, 1.0)) & (served < total * (1 - 1e-9))
        return ids[part].tolist()

    def _units_of(self, sample_mask: np.ndarray) -> list[str]:
        units = np.unique(self.samples.unit[sample_mask & (self.samples.weight > 0)])
        return self.demand["id"].astype(str).to_numpy()[units].tolist()

    def unreachable_units(self) -> list[str]:
        """Ids of demand units with samples beyond the snapping limit of the network."""
        return self._units_of(~self.samples.reachable)

    def uncoverable_units(self) -> list[str]:
        """Ids of reachable demand units that no candidate and no existing station can cover."""
        mask = np.zeros(self.samples.weight.size, bool)
        mask[self.model.uncoverable] = True
        return self._units_of(mask & self.samples.reachable)

    def sites(self):
        """The chosen sites as a WGS84 GeoDataFrame.

        Fields: ``id`` (the candidate id), ``name``, ``rank``, ``gain`` (weight
        newly covered, or served with a capacity), ``within_radius`` (all the
        weight within the radius of the site), ``lon``, ``lat``.
        """
        import geopandas as gpd

        idx = self.model.chosen
        cands = self.candidates.iloc[idx]
        cover = self.model.cover
        within = [float(cover.weight[cover.row(int(j))].sum()) for j in idx]
        coords = shapely.get_coordinates(cands.geometry.values) if len(cands) else np.empty((0, 2))
        names = cands["name"].astype(str).to_numpy() if "name" in cands.columns else np.full(len(cands), "")
        return gpd.GeoDataFrame(
            {
                "id": cands["id"].astype(str).to_numpy(),
                "name": names,
                "rank": self.model.rank.astype(int),
                "gain": np.round(self.model.gains, 3),
                "within_radius": np.round(within, 3),
                "lon": np.round(coords[:, 0], 7),
                "lat": np.round(coords[:, 1], 7),
            },
            geometry=cands.geometry.values,
            crs="EPSG:4326",
        )

    def summary(self) -> dict:
        """The summary JSON of ``lifecircle site``.

        Returns
        -------
        dict
            ``method``, ``optimal``, ``gap``, ``covered_before``,
            ``covered_after``, ``chosen`` (ids in rank order), ``gains``,
            ``total_weight``, ``radius_m``, shares, ``unserved_units`` and
            the counts of candidates and stations.
        """
        m = self.model
        total = float(self.samples.weight.sum())
        ids = self.candidates["id"].astype(str).to_numpy()
        out = {
            "model": m.problem,
            "method": m.method,
            "optimal": bool(m.optimal),
            "gap": None if m.gap is None else float(m.gap),
            "status": m.status,
            "runtime_s": round(m.runtime_s, 3),
            "radius_m": float(self.radius),
            "capacity": m.capacity,
            "total_weight": round(total, 3),
            "unreachable_weight": round(float(self.samples.weight[~self.samples.reachable].sum()), 3),
            "covered_before": round(m.covered_before, 3),
            "covered_after": round(m.covered_after, 3),
            "share_before": round(m.covered_before / total, 6) if total else 0.0,
            "share_after": round(m.covered_after / total, 6) if total else 0.0,
            "chosen": ids[m.chosen].tolist(),
            "gains": [round(float(g), 3) for g in m.gains],
            "unserved_units": self.unserved_units(),
            "partly_served_units": self.partly_served_units(),
            "uncoverable_units": self.uncoverable_units(),
            "unreachable_units": self.unreachable_units(),
            "existing_stations": int(len(self.stations)),
            "candidates": {
                "given": int(len(self.candidates)),
                "usable": int(m.cover.choosable.sum()),
                **{k: len(v) for k, v in self.excluded.items()},
            },
        }
        if isinstance(m, MCLP):
            out["k"] = m.k
            if m.chosen.size < m.k:
                out["note"] = (
                    f"only {m.chosen.size} of the {m.k} requested sites add coverage; more sites would cover nobody new"
                )
        return out


def plan_sites(
    net: WalkNetwork,
    facilities,
    demand,
    *,
    candidates=None,
    radius: float = DEFAULT_RADIUS_M,
    k: int | None = None,
    lscp: bool = False,
    method: str = "greedy",
    time_limit: float = DEFAULT_TIME_LIMIT_S,
    capacity: float | None = None,
    station_kinds: Sequence[str] | None = STATION_KINDS,
    candidate_spacing: float | None = None,
    candidate_area=None,
    candidate_min_distance: float = DEFAULT_CANDIDATE_MIN_DISTANCE_M,
    weight_column: str = "weight",
    snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
    spacing_m: float = DEFAULT_SAMPLE_SPACING_M,
    samples: DemandSamples | None = None,
    progress: ProgressFn | None = None,
) -> SitingPlan:
    """Site new stations on a walking network, existing stations kept.

    Parameters
    ----------
    net
        The walking network.
    facilities
        WGS84 points (``id``, optionally ``kind``); those of ``station_kinds``
        are the existing stations.
    demand
        WGS84 points or polygons with ``id`` and a weight (``weight`` or ``population``).
    candidates
        WGS84 candidate points (``id``, ``name``); None to generate them on a
        grid of ``candidate_spacing`` metres.
    radius
        Service radius in metres of network walk.
    k
        Number of new sites (MCLP); not used with ``lscp``.
    lscp
        Solve the set-covering problem instead: the fewest sites covering all coverable demand.
    method
        ``"greedy"`` or ``"exact"``.
    time_limit
        Seconds for the exact method.
    capacity
        People one new station serves at most (None: no limit).
    station_kinds
        Facility kinds that count as existing stations (None: all facilities).
    candidate_spacing, candidate_area, candidate_min_distance
        Grid generation: spacing, study area (default the demand's convex
        hull) and the least network distance from existing stations.
    weight_column
        Demand weight column (falls back to ``population``).
    snap_limit_m
        Points farther than this from the network are unreachable.
    spacing_m
        Sample spacing of polygon demand.
    samples
        Reuse demand samples from coverage.
    progress
        Called with (done, total) during the candidate searches.

    Returns
    -------
    SitingPlan

    Raises
    ------
    SitingError
        Bad radius or K, no demand, no usable candidate.
    """
    radius = check_radius(radius)
    if not lscp and k is None:
        raise SitingError("give the number of new sites k, or ask for the set-covering problem (lscp=True)")
    stations = station_frame(facilities, station_kinds)
    if samples is None:
        samples = _samples(net, demand, weight_column, spacing_m, snap_limit_m)
    st_xy = _metric_xy(net, stations)
    st = snap_xy(net, st_xy, limit_m=snap_limit_m)
    if candidates is None:
        if candidate_spacing is None:
            raise SitingError("give candidate sites, or a candidate spacing to generate them on a grid")
        area = demand if candidate_area is None else candidate_area
        candidates = grid_candidates(net, area, candidate_spacing, stations=st, min_distance_m=candidate_min_distance)
    cand_xy = _metric_xy(net, candidates)
    cand = snap_xy(net, cand_xy, limit_m=snap_limit_m)
    same = _same_sites(stations, candidates, st_xy, cand_xy, SAME_SITE_M)
    excluded = _excluded(candidates, cand, same)
    _check_candidates(candidates, cand, same, k if not lscp else None, snap_limit_m)
    cover = cover_sets(net, samples.snapped, samples.weight, cand, radius, existing=st, blocked=same, progress=progress)
    model: LSCP | MCLP
    if lscp:
        model = LSCP(cover, capacity=capacity)
    else:
        assert k is not None  # checked above
        model = MCLP(cover, k, capacity=capacity)
    model.solve(method, time_limit=time_limit)
    return SitingPlan(
        net,
        model,
        samples,
        demand.reset_index(drop=True),
        candidates.reset_index(drop=True),
        stations.reset_index(drop=True),
        radius,
        excluded,
    )


def _samples(net: WalkNetwork, demand, weight_column: str, spacing_m: float, snap_limit_m: float) -> DemandSamples:
    if len(demand) == 0:
        raise SitingError("no demand: the demand layer has no rows")
    col = _weights_column(demand, weight_column)
    samples = demand_samples(net, demand, weight_column=col, spacing_m=spacing_m, snap_limit_m=snap_limit_m)
    if not samples.weight.sum() > 0:
        raise SitingError(f"no demand: the weights ({col}) of all {len(demand)} demand units are zero")
    if not samples.weight[samples.reachable].sum() > 0:
        raise SitingError(
            f"no demand on the network: none of the {len(demand)} demand units lies within "
            f"{snap_limit_m:g} m of a walkable street; check the coordinate system and that the network covers them"
        )
    return samples


def _excluded(candidates, cand: Snapped, same: np.ndarray) -> dict[str, list[str]]:
    ids = candidates["id"].astype(str).to_numpy() if len(candidates) else np.empty(0, str)
    return {"unreachable": ids[~cand.reachable].tolist(), "existing_station": ids[same & cand.reachable].tolist()}


def _check_candidates(candidates, cand: Snapped, same: np.ndarray, k: int | None, snap_limit_m: float) -> None:
    n = len(candidates)
    if n == 0:
        raise SitingError("no candidate sites: the candidate layer is empty (or the grid found no network node)")
    if not cand.reachable.any():
        raise SitingError(
            f"all {n} candidate sites are unreachable: none lies within {snap_limit_m:g} m of a walkable "
            "street; check the coordinate system (--crs) and that the network covers them"
        )
    usable = int((cand.reachable & ~same).sum())
    if usable == 0:
        raise SitingError(f"none of the {n} candidate sites can be chosen: every reachable one is an existing station")
    if k is not None and k > usable:
        raise SitingError(
            f"cannot add {k} sites: only {usable} of the {n} candidate sites can be chosen "
            f"({int((~cand.reachable).sum())} unreachable, {int((same & cand.reachable).sum())} existing stations); "
            "ask for fewer sites or give more candidates"
        )
