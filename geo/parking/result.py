"""Tables -> problem -> result: :func:`match_parking` and the :class:`ParkingResult` it returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..settings import DEFAULT_MAX_WALK_M
from .model import Assignment, ParkingProblem
from .pairs import WalkPairs, walk_pairs
from .tables import (
    PROFILE_SOURCE,
    LotSupply,
    ResidenceDemand,
    _ids,
    _windows,
    demand_windows,
    lot_supply,
    residence_demand,
)
from .windows import TimeWindow, _check_slot_minutes, choose_slot_minutes, format_window, parse_window, slot_labels

__all__ = ["ParkingResult", "match_parking"]


@dataclass
class ParkingResult:
    """A solved shared-parking match, with its tables.

    Attributes
    ----------
    pairs
        One row per compound-lot pair given cars: ``residence_id``, ``lot_id``,
        ``cars``, ``walk_m``, ``window``, ``hours``, names and price.
    residences
        Per compound: ``id``, ``name``, ``demand``, ``window``, ``placed``,
        ``unplaced``, ``share_closed``, ``floor``, ``lots_in_reach``,
        ``nearest_lot_m``, ``mean_walk_m``, ``status`` (served, partly served,
        not served, out of reach, off network, no shortfall), ``on_network``
        (WGS84 points).
    lots
        Per lot: ``id``, ``name``, ``land_use``, ``capacity``, ``reserved``,
        ``price``, ``open``, ``profile`` (where its occupancy came from),
        ``offered`` (its part of ``supply_total``: fewest usable spaces in the
        hours every compound's window covers), ``usable_min``/``usable_max``
        (over the slots any compound needs), ``cars`` (placed there),
        ``used_peak``, ``spare_at_peak``,
        ``status`` (used, unused, no usable spaces, off network, above price
        limit, closed), ``on_network`` (WGS84 points).
    usable, used
        Spaces usable and used per lot (rows, lot ids) and slot (columns,
        ``"19:00"``..., from noon on so a night reads in order), over the
        slots any compound needs.
    assignment
        The solver's :class:`Assignment`.
    options
        The walking limit, windows, fairness, price limit, cap, slot length.
    notes
        Plain-language remarks (closed lots, compounds out of reach, ...).
    """

    pairs: pd.DataFrame
    residences: Any
    lots: Any
    usable: pd.DataFrame
    used: pd.DataFrame
    assignment: Assignment
    options: dict
    notes: list[str] = field(default_factory=list)
    supply_total: int = 0
    supply_basis: str = ""
    _lines: Any = None

    # ------------------------------------------------------------ headline
    @property
    def demand_total(self) -> int:
        """Night shortfall of all compounds, in cars."""
        return int(self.residences["demand"].sum())

    @property
    def matched(self) -> int:
        """Cars placed."""
        return int(self.pairs["cars"].sum()) if len(self.pairs) else 0

    @property
    def share_of_demand(self) -> float:
        """Share of the total night gap closed (0 when there is no gap)."""
        return self.matched / self.demand_total if self.demand_total else 0.0

    def to_geodataframe(self):
        """One WGS84 LineString per pair, from the compound's gate to the lot's entrance.

        Returns
        -------
        geopandas.GeoDataFrame
            ``residence_id``, ``lot_id``, ``cars``, ``walk_m``, ``window``,
            ``hours``, ``residence_name``, ``lot_name``, ``price``, geometry.
        """
        import geopandas as gpd

        return gpd.GeoDataFrame(self.pairs.copy(), geometry=self._lines, crs="EPSG:4326")

    def summary(self) -> dict:
        """The headline figures (DESIGN.md's parking summary, plus context).

        Returns
        -------
        dict
            ``demand_total``, ``supply_total``, ``matched``, ``share_of_demand``,
            ``total_walk_m``, ``mean_walk_m``, ``method``, ``optimal``,
            ``max_walk_m``, ``slot_minutes``, ``supply_basis``, ``windows``,
            ``fairness``, ``price_limit``, ``lot_cap``, ``residences``,
            ``residences_fully_served``, ``unmatched_residences`` (ids placed
            nothing though short), ``out_of_reach_residences``,
            ``off_network_residences``, ``closed_lots``, ``price_excluded_lots``,
            ``off_network_lots``, ``lots_used``, ``below_floor_residences``,
            ``profile_source``, ``stages``, ``notes``.
        """
        r, lt = self.residences, self.lots
        short = r["demand"] > 0
        total_walk = round(self.assignment.total_walk_m, 1)
        return {
            "demand_total": self.demand_total,
            "supply_total": int(self.supply_total),
            "matched": self.matched,
            "share_of_demand": round(self.share_of_demand, 6),
            "total_walk_m": total_walk,
            "mean_walk_m": round(total_walk / self.matched, 1) if self.matched else None,
            "method": self.assignment.method,
            "optimal": self.assignment.optimal,
            **self.options,
            "supply_basis": self.supply_basis,
            "residences": int(len(r)),
            "residences_fully_served": int((short & (r["unplaced"] == 0)).sum()),
            "unmatched_residences": r.loc[short & (r["placed"] == 0), "id"].tolist(),
            "out_of_reach_residences": r.loc[r["status"] == "out of reach", "id"].tolist(),
            "off_network_residences": r.loc[r["status"] == "off network", "id"].tolist(),
            "below_floor_residences": r.loc[r["placed"] < r["floor"], "id"].tolist(),
            "lots": int(len(lt)),
            "lots_used": int((lt["cars"] > 0).sum()),
            "closed_lots": lt.loc[lt["status"] == "closed", "id"].tolist(),
            "price_excluded_lots": lt.loc[lt["status"] == "above price limit", "id"].tolist(),
            "off_network_lots": lt.loc[lt["status"] == "off network", "id"].tolist(),
            "profile_source": PROFILE_SOURCE,
            "solve_seconds": round(self.assignment.seconds, 3),
            "stages": [
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items()} for s in self.assignment.stages
            ],
            "notes": list(self.notes),
        }

    def residence_table(self) -> pd.DataFrame:
        """Per-compound table with lon/lat instead of geometry (for CSV/XLSX)."""
        return _flat(self.residences)

    def lot_table(self) -> pd.DataFrame:
        """Per-lot table with lon/lat and the spaces used in each slot (``used_19:00``...)."""
        table = _flat(self.lots)
        used = self.used.add_prefix("used_").reset_index(drop=True)
        return pd.concat([table.reset_index(drop=True), used], axis=1)


def _flat(gdf) -> pd.DataFrame:
    out = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    out["lon"] = np.round(gdf.geometry.x.to_numpy(), 7)
    out["lat"] = np.round(gdf.geometry.y.to_numpy(), 7)
    return out


def match_parking(
    net,
    lots,
    residences,
    *,
    max_walk_m: float = DEFAULT_MAX_WALK_M,
    window: str | TimeWindow | None = None,
    fairness: float = 0.0,
    price_limit: float | None = None,
    lot_cap: int | Mapping[str, int] | None = None,
    slot_minutes: int | None = None,
    snap_limit_m: float | None = None,
    pairs: WalkPairs | None = None,
    time_limit: float | None = None,
) -> ParkingResult:
    """Match spare night spaces in lots to compounds short of them, optimally.

    Parameters
    ----------
    net
        The walking network (:class:`~geo.network.WalkNetwork`).
    lots
        WGS84 points: ``id``, ``capacity`` and optionally ``name``, ``open``,
        ``reserved``, ``price``, ``land_use``, ``occ_00``..``occ_23``.
    residences
        WGS84 points (the gates): ``id``, ``demand`` and optionally ``name``,
        ``window``.
    max_walk_m
        Walking limit between a gate and a lot's entrance (default 500 m).
    window
        A window for every compound, overriding their own (e.g. "19:00-08:00").
    fairness
        Share of each compound's shortfall placed before any compound gets
        more (0: off); see :meth:`ParkingProblem.solve`.
    price_limit
        Lots above this price (yuan/night) are left out.
    lot_cap
        Most cars given to residents per lot (one number, or per lot id).
    slot_minutes
        Slot length (60, 30, 15); by default 30, or 15 when a time needs it.
    snap_limit_m
        Points farther than this from the network are unreachable.
    pairs
        Walking pairs from :func:`walk_pairs` searched up to at least
        ``max_walk_m`` (to try several limits without searching again).
    time_limit
        Seconds per MIP stage.

    Returns
    -------
    ParkingResult

    Raises
    ------
    InputError
        For bad values in the tables (naming file, row and column).
    WindowError
        For a bad ``window``.
    """
    if max_walk_m <= 0:
        raise ValueError(f"the walking limit must be positive, got {max_walk_m}")
    if fairness is None:
        fairness = 0.0
    if not 0.0 <= float(fairness) <= 1.0:
        raise ValueError(f"fairness must be a share between 0 and 1, got {fairness}")
    override = parse_window(window, what="window") if isinstance(window, str) else window
    res_windows = demand_windows(residences, override)
    lot_windows = _windows(lots, "open", "lots", "open hours")
    slot = _check_slot_minutes(slot_minutes) if slot_minutes else choose_slot_minutes(res_windows + lot_windows)
    supply = lot_supply(lots, slot, price_limit=price_limit, lot_cap=lot_cap)
    demand = residence_demand(residences, slot, window=override)
    if pairs is None:
        pairs = walk_pairs(net, residences, lots, max_walk_m=max_walk_m, snap_limit_m=snap_limit_m)
    else:
        pairs = pairs.within(max_walk_m)
    problem = ParkingProblem(
        demand.demand,
        demand.need,
        supply.usable,
        pairs.res,
        pairs.lot,
        pairs.walk_m,
        supply.cap if lot_cap is not None else None,
    )
    assignment = problem.solve(fairness=float(fairness), time_limit=time_limit)
    options = {
        "max_walk_m": float(max_walk_m),
        "slot_minutes": slot,
        "windows": sorted({str(w) for w in demand.windows}),
        "window_override": None if override is None else str(override),
        "fairness": float(fairness),
        "price_limit": price_limit,
        "lot_cap": lot_cap if not isinstance(lot_cap, Mapping) else dict(lot_cap),
    }
    return _result(lots, residences, supply, demand, pairs, problem, assignment, options)


def _supply_total(supply: LotSupply, demand: ResidenceDemand) -> tuple[np.ndarray, int, str]:
    """Spaces each lot offers: its fewest usable in the hours every compound's window covers.

    When the windows share no hour, its most usable in any needed slot.  The
    total bounds the cars that can be placed (every car holds a space in the
    common hours).

    Returns
    -------
    offered, total, basis
        Per lot, their sum, and the rule in words.
    """
    active = demand.demand > 0
    n = supply.usable.shape[0]
    if not active.any():
        return np.zeros(n, dtype=np.int64), 0, "no compound is short of spaces"
    core = np.asarray(demand.need[active].all(axis=0), dtype=bool)
    labels = slot_labels(supply.slot_minutes)
    if core.any():
        offered = supply.usable[:, core].min(axis=1)
        basis = (
            "sum over lots of their fewest usable spaces in the hours every window covers "
            f"({_span(core, labels, supply.slot_minutes)})"
        )
    else:
        offered = supply.usable[:, demand.need[active].any(axis=0)].max(axis=1)
        basis = "sum over lots of their most usable spaces in any needed slot (the windows share no common hour)"
    return offered, int(offered.sum()), basis


def _span(mask: np.ndarray, labels: list[str], slot_minutes: int) -> str:
    """Text of the slots in ``mask`` as a window, e.g. '20:00-07:00'."""
    pieces = []
    n = mask.size
    for s in range(n):
        if mask[s] and not mask[s - 1]:
            e = s
            while mask[e % n] and e - s < n:
                e += 1
            pieces.append((s * slot_minutes, (e % n) * slot_minutes))
    return format_window(pieces) if pieces else "00:00-24:00"


def _names(frame: pd.DataFrame) -> np.ndarray:
    return frame["name"].astype(str).to_numpy() if "name" in frame.columns else np.full(len(frame), "")


def _result(
    lots,
    residences,
    supply: LotSupply,
    demand: ResidenceDemand,
    pairs: WalkPairs,
    problem: ParkingProblem,
    a: Assignment,
    options: dict,
) -> ParkingResult:
    labels = np.array(slot_labels(supply.slot_minutes))
    needed = (
        np.asarray(demand.need[demand.demand > 0].any(axis=0), dtype=bool)
        if (demand.demand > 0).any()
        else np.zeros(labels.size, bool)
    )
    noon_first = np.roll(np.arange(labels.size), -(labels.size // 2))  # nights read in order
    cols = noon_first[needed[noon_first]]
    usable = pd.DataFrame(supply.usable[:, cols], index=supply.ids, columns=labels[cols])
    used = pd.DataFrame(a.used[:, cols], index=supply.ids, columns=labels[cols])
    pair_table, lines = _pair_table(lots, residences, demand, pairs, a)
    res_table = _residence_table(residences, demand, pairs, a)
    offered, total, basis = _supply_total(supply, demand)
    lot_table = _lot_table(lots, supply, pairs, a, needed, offered)
    result = ParkingResult(
        pair_table, res_table, lot_table, usable, used, a, options, supply_total=total, supply_basis=basis, _lines=lines
    )
    result.notes = _notes(result)
    return result


def _pair_table(lots, residences, demand: ResidenceDemand, pairs: WalkPairs, a: Assignment):
    import shapely

    k = np.flatnonzero(a.cars > 0)
    r, lot_i = pairs.res[k], pairs.lot[k]
    lot_price = (
        pd.to_numeric(lots["price"], errors="coerce").to_numpy(float)
        if "price" in lots.columns
        else np.full(len(lots), np.nan)
    )
    table = pd.DataFrame(
        {
            "residence_id": demand.ids[r],
            "lot_id": _ids(lots)[lot_i],
            "cars": a.cars[k],
            "walk_m": np.round(pairs.walk_m[k], 1),
            "window": [str(demand.windows[i]) for i in r],
            "hours": [demand.windows[i].hours for i in r],
            "residence_name": _names(residences)[r],
            "lot_name": _names(lots)[lot_i],
            "price": lot_price[lot_i],
        }
    )
    gate = shapely.get_coordinates(np.asarray(residences.geometry.values))[r]
    entrance = shapely.get_coordinates(np.asarray(lots.geometry.values))[lot_i]
    coords = np.stack([gate, entrance], axis=1).reshape(-1, 2)
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(k.size), 2)) if k.size else np.empty(0, object)
    return table, lines


def _residence_table(residences, demand: ResidenceDemand, pairs: WalkPairs, a: Assignment):
    import geopandas as gpd

    n = len(residences)
    in_reach = np.bincount(pairs.res, minlength=n)
    nearest = np.full(n, np.inf)
    np.minimum.at(nearest, pairs.res, pairs.walk_m)
    walk = np.bincount(pairs.res, weights=a.cars * pairs.walk_m, minlength=n)
    placed = a.placed
    status = np.where(placed >= demand.demand, "served", np.where(placed > 0, "partly served", "not served"))
    status = np.where(in_reach == 0, "out of reach", status)
    status = np.where(~pairs.res_reachable, "off network", status)
    status = np.where(demand.demand == 0, "no shortfall", status)
    table = gpd.GeoDataFrame(
        {
            "id": demand.ids,
            "name": _names(residences),
            "demand": demand.demand,
            "window": [str(w) for w in demand.windows],
            "placed": placed,
            "unplaced": demand.demand - placed,
            "share_closed": np.round(np.divide(placed, demand.demand, out=np.zeros(n), where=demand.demand > 0), 4),
            "floor": a.floor,
            "lots_in_reach": in_reach,
            "nearest_lot_m": np.where(np.isfinite(nearest), np.round(nearest, 1), np.nan),
            "mean_walk_m": np.where(placed > 0, np.round(np.divide(walk, np.maximum(placed, 1)), 1), np.nan),
            "status": status,
            "on_network": pairs.res_reachable,
        },
        geometry=np.asarray(residences.geometry.values),
        crs="EPSG:4326",
    )
    return table


def _lot_table(lots, supply: LotSupply, pairs: WalkPairs, a: Assignment, needed: np.ndarray, offered: np.ndarray):
    import geopandas as gpd

    n = len(lots)
    cars = np.bincount(pairs.lot, weights=a.cars, minlength=n).astype(np.int64)
    usable = supply.usable[:, needed] if needed.any() else np.zeros((n, 1), np.int64)
    used = a.used[:, needed] if needed.any() else np.zeros((n, 1), np.int64)
    peak = used.max(axis=1)
    peak_slot = np.argmax(used, axis=1)
    spare = usable[np.arange(n), peak_slot] - peak
    status = np.where(usable.max(axis=1) == 0, "no usable spaces", np.where(cars > 0, "used", "unused"))
    status = np.where(~pairs.lot_reachable, "off network", status)
    status = np.where(supply.excluded_price, "above price limit", status)
    status = np.where(supply.closed, "closed", status)
    extra = {c: lots[c].to_numpy() for c in ("land_use", "reserved", "price", "open") if c in lots.columns}
    table = gpd.GeoDataFrame(
        {
            "id": supply.ids,
            "name": _names(lots),
            "capacity": pd.to_numeric(lots["capacity"]).to_numpy(),
            **extra,
            "profile": supply.occupancy_source,
            "offered": offered,
            "usable_min": usable.min(axis=1),
            "usable_max": usable.max(axis=1),
            "cars": cars,
            "used_peak": peak,
            "spare_at_peak": spare,
            "status": status,
            "on_network": pairs.lot_reachable,
        },
        geometry=np.asarray(lots.geometry.values),
        crs="EPSG:4326",
    )
    return table


def _ids_text(ids: Sequence[str], limit: int = 8) -> str:
    ids = list(ids)
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def _notes(result: ParkingResult) -> list[str]:
    """Plain-language remarks for the planner."""
    notes = []
    r, lt = result.residences, result.lots
    if result.demand_total == 0:
        notes.append("no compound is short of spaces (total demand 0): nothing to match, share of demand 0")
    if result.supply_total == 0 and len(lt):
        notes.append("the lots offer no usable space in the hours asked (zero supply): nothing can be matched")
    if len(lt) == 0:
        notes.append("no lot given (zero supply): nothing can be matched")
    walk = result.options["max_walk_m"]
    groups = [
        (lt, lt["status"] == "closed", "lot(s) {} have no open hours to residents and offer nothing"),
        (lt, lt["status"] == "above price limit", "lot(s) {} are above the price limit and are left out"),
        (
            lt,
            lt["status"] == "off network",
            "lot(s) {} are beyond the snapping limit of the walking network and offer nothing",
        ),
        (
            lt,
            lt["status"] == "no usable spaces",
            "lot(s) {} have no usable space in the hours compounds need (occupancy, reserved spaces or open hours)",
        ),
        (r, r["status"] == "out of reach", f"compound(s) {{}} have no lot within {walk:g} m walk and stay unmatched"),
        (
            r,
            r["status"] == "off network",
            "compound(s) {} are beyond the snapping limit of the walking network and stay unmatched",
        ),
        (r, r["placed"] < r["floor"], "compound(s) {} stay below the fairness floor: not enough spaces within reach"),
    ]
    for frame, mask, text in groups:
        if mask.any():
            notes.append(text.format(_ids_text(frame.loc[mask, "id"].tolist())))
    if result.assignment.optimal is False:
        notes.append("the solver stopped at its time limit: the matching is feasible but not proven optimal")
    return notes
