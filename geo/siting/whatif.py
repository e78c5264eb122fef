"""The what-if engine: add, remove, move and undo one station on the nearest-station distances.

One engine serves the planner's map (:mod:`apps.web.state`), the command
line and the notebooks.  A :class:`WhatIf` holds, per demand sample, the
network distance to the nearest station; every step runs bounded searches on
a local subgraph (:func:`geo.reach.local_node_distances`), so a click costs a
few milliseconds whatever the size of the network.  Besides the headline
(:meth:`WhatIf.covered`), it says what each station adds (:meth:`WhatIf.without`:
the distances its samples would have were it removed, kept until a change
nearby) and draws a site's service areas (:meth:`WhatIf.areas`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from .. import reach, service_areas
from ..coverage import DemandSamples, demand_samples, tier_key
from ..errors import SitingError
from ..network import DEFAULT_SNAP_LIMIT_M, Snapped, WalkNetwork, snap_xy
from ..pairs import TargetIndex
from ..settings import DEFAULT_BUFFER_M
from ..standards import DEFAULT_TIERS, parse_tiers
from .candidates import STATION_KINDS, _metric_xy, _weights_column, station_frame

__all__ = ["WhatIf", "WhatIfResult"]


@dataclass
class WhatIfResult:
    """The effect of one what-if step.

    Attributes
    ----------
    action
        ``"add"``, ``"remove"``, ``"move"`` or ``"undo"`` (of which action).
    station_id
        The station added, removed or moved.
    covered
        ``{tier: weight}`` within each tier of a station after the step.
    delta
        ``{tier: weight}`` change against before the step.
    changed
        Indices of samples whose nearest-station distance changed.
    elapsed_ms
        Time the step took.
    """

    action: str
    station_id: str
    covered: dict[float, float]
    delta: dict[float, float]
    changed: np.ndarray
    elapsed_ms: float

    def to_dict(self) -> dict:
        """JSON-friendly form (tiers as ``"300"`` keys)."""
        return {
            "action": self.action,
            "station_id": self.station_id,
            "covered": {tier_key(t): round(w, 3) for t, w in self.covered.items()},
            "delta": {tier_key(t): round(w, 3) for t, w in self.delta.items()},
            "changed": int(self.changed.size),
            "elapsed_ms": round(self.elapsed_ms, 2),
        }


@dataclass
class _Step:
    """One undoable step: the station list before it, the distances it overwrote, where it happened."""

    action: str
    station_id: str
    stations: tuple[list[str], np.ndarray, Snapped]
    changes: list[tuple[np.ndarray, np.ndarray]]
    points: list[np.ndarray] = field(default_factory=list)

    @property
    def changed(self) -> np.ndarray:
        parts = [idx for idx, _ in self.changes]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)


class WhatIf:
    """Nearest-station distances of the demand, updated one station at a time.

    Holds, per demand sample, the network distance to the nearest station
    (up to the largest tier).  Adding a station runs one bounded search from
    it and merges by minimum.  Removing one runs one bounded search from it
    (to find the samples it was nearest to) and one multi-source search over
    the remaining stations on the local subgraph that can still reach those
    samples.  Moving is both; every step can be undone.  Each step costs a few
    milliseconds whatever the size of the network.

    Parameters
    ----------
    net
        The walking network.
    samples
        The demand samples (:func:`geo.coverage.demand_samples`).
    station_xy
        Existing stations in the network's CRS, shape (S, 2).
    station_ids
        Their ids.
    tiers
        Walking distances in metres whose covered weight is reported.
    snap_limit_m
        A station farther than this from the network covers nothing.
    """

    def __init__(
        self,
        net: WalkNetwork,
        samples: DemandSamples,
        station_xy: np.ndarray,
        station_ids: Sequence[str],
        *,
        tiers: Sequence[float] = DEFAULT_TIERS,
        snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
    ) -> None:
        self.net = net
        self.samples = samples
        self.tiers = parse_tiers(tiers)
        self.limit = self.tiers[-1]
        self.snap_limit_m = snap_limit_m
        xy = np.asarray(station_xy, dtype=float).reshape(-1, 2)
        self._ids = [str(i) for i in station_ids]
        if len(self._ids) != xy.shape[0] or len(set(self._ids)) != len(self._ids):
            raise SitingError("give one distinct id per station")
        self._xy = xy
        self._snapped = snap_xy(net, xy, limit_m=snap_limit_m)
        self._index = TargetIndex.build(net, samples.snapped)
        self._history: list[_Step] = []
        self._added = 0
        self._reach: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._without: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        _ = (net.node_tree, net.csr)  # build the cached indexes now, not on the first click
        self.dist = self._full(self._snapped)
        w = samples.weight
        self._cov = {t: float(w[self.dist <= t].sum()) for t in self.tiers}

    @classmethod
    def from_frames(
        cls,
        net: WalkNetwork,
        facilities,
        demand,
        *,
        kinds: Sequence[str] | None = STATION_KINDS,
        tiers: Sequence[float] = DEFAULT_TIERS,
        weight_column: str = "weight",
        samples: DemandSamples | None = None,
        snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
    ) -> WhatIf:
        """Build from WGS84 facilities (those of ``kinds`` are the stations) and demand."""
        stations = station_frame(facilities, kinds)
        if samples is None:
            col = _weights_column(demand, weight_column)
            samples = demand_samples(net, demand, weight_column=col, snap_limit_m=snap_limit_m)
        ids = (
            stations["id"].astype(str).tolist() if "id" in stations.columns else [str(i) for i in range(len(stations))]
        )
        return cls(net, samples, _metric_xy(net, stations), ids, tiers=tiers, snap_limit_m=snap_limit_m)

    # ------------------------------------------------------------ state
    @property
    def station_ids(self) -> list[str]:
        """Ids of the current stations."""
        return list(self._ids)

    @property
    def station_xy(self) -> np.ndarray:
        """Current stations in the network's CRS."""
        return self._xy.copy()

    @property
    def can_undo(self) -> bool:
        """Whether there is a step to undo."""
        return bool(self._history)

    def covered(self) -> dict[float, float]:
        """``{tier: weight}`` within each tier of a station (kept up to date by every step)."""
        return dict(self._cov)

    def without(self, station_id: str) -> tuple[np.ndarray, np.ndarray]:
        """What one station adds: its samples' nearest-station distances were it removed.

        Kept until a station changes within reach of it, so asking for every
        station after each click costs searches only near the click.

        Returns
        -------
        idx, dist
            The samples within the largest tier of the station, and their
            distance to the nearest other station (``inf`` beyond the largest tier).
            Elsewhere removing it changes nothing.

        Raises
        ------
        SitingError
            When there is no such station.
        """
        sid = str(station_id)
        if sid not in self._ids:
            raise SitingError(f"no station with id {sid!r}")
        if sid not in self._without:
            i = self._ids.index(sid)
            one = self._snapped.subset(np.array([i]))
            idx, d = self._reach_of(sid, one)
            out = self.dist[idx].copy()
            nearest = d <= out + 1e-6
            if nearest.any():
                others = self._snapped.subset(np.arange(len(self._ids)) != i)
                out[nearest] = self._nearest_local(one, idx[nearest], others)
            self._without[sid] = (idx, out)
        idx, out = self._without[sid]
        return idx, out.copy()

    def areas(
        self, lon: float, lat: float, *, buffer_m: float = DEFAULT_BUFFER_M, simplify_m: float = 0.0
    ) -> dict[float, shapely.Geometry]:
        """Service-area polygons (WGS84) of a site per tier; empty when it is off the network.

        Parameters
        ----------
        lon, lat
            The site in WGS84.
        buffer_m
            Half-width of the band around reached streets.
        simplify_m
            Simplify the polygons by this many metres (for drawing).
        """
        xy = self.net.to_metric(np.atleast_1d(lon), np.atleast_1d(lat))
        src = snap_xy(self.net, xy, limit_m=self.snap_limit_m)
        if not src.reachable[0]:
            return {}
        node_dist = reach.local_node_distances(self.net, src, self.limit)
        where = service_areas.source_join(src, 0, xy[0])
        polys = np.array(
            [
                service_areas.service_area_polygon(self.net, node_dist, tier, **where, buffer_m=buffer_m)
                for tier in self.tiers
            ],
            dtype=object,
        )
        if simplify_m > 0:
            polys = shapely.simplify(polys, simplify_m)
        return dict(zip(self.tiers, shapely.transform(polys, self.net.to_lonlat)))

    def _full(self, snapped: Snapped) -> np.ndarray:
        if not snapped.reachable.any():
            return np.full(len(self.samples.weight), np.inf)
        return reach.nearest_distances(self.net, snapped, self.samples.snapped, limit=self.limit)

    def _result(self, action: str, sid: str, before: dict, changed: np.ndarray, started: float) -> WhatIfResult:
        after = self.covered()
        delta = {t: after[t] - before[t] for t in self.tiers}
        return WhatIfResult(action, sid, after, delta, changed, (time.perf_counter() - started) * 1000.0)

    def _snapshot(self) -> tuple[list[str], np.ndarray, Snapped]:
        return list(self._ids), self._xy.copy(), self._snapped

    def _set(self, idx: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Write distances (and the covered weights they change); return what they overwrote, for undo."""
        old = (idx, self.dist[idx].copy())
        self._write(idx, values)
        return old

    def _write(self, idx: np.ndarray, values: np.ndarray) -> None:
        w = self.samples.weight[idx]
        was = self.dist[idx]
        for t in self.tiers:
            self._cov[t] += float(w[values <= t].sum() - w[was <= t].sum())
        self.dist[idx] = values

    def _touched(self, step: _Step, xy: np.ndarray) -> None:
        """A station appeared or went at ``xy``: forget what it may change (:meth:`without`)."""
        step.points.append(np.asarray(xy, float).reshape(2))
        self._forget_near([step.points[-1]], step.station_id)

    def _forget_near(self, points: list[np.ndarray], sid: str) -> None:
        self._without.pop(sid, None)
        if not self._without or not points:
            return
        radius = 2.0 * self.limit * reach.STRAIGHT_LINE_SLACK + 10.0
        pos = {s: i for i, s in enumerate(self._ids)}
        for key in [k for k in self._without if k in pos]:
            here = self._xy[pos[key]]
            if any(np.hypot(*(here - p)) <= radius for p in points):
                del self._without[key]
        for key in [k for k in self._without if k not in pos]:
            del self._without[key]

    # ---------------------------------------------------------- actions
    def add(self, lon: float, lat: float, station_id: str | None = None) -> WhatIfResult:
        """Add a station at a WGS84 point: one bounded search, merged by minimum.

        Raises
        ------
        SitingError
            When the point is farther than the snapping limit from the network,
            or ``station_id`` is taken.
        """
        started = time.perf_counter()
        before = self.covered()
        step = _Step("add", "", self._snapshot(), [])
        step.station_id = self._add(lon, lat, station_id, step)
        self._history.append(step)
        return self._result("add", step.station_id, before, step.changed, started)

    def _add(self, lon: float, lat: float, station_id: str | None, step: _Step) -> str:
        xy = self.net.to_metric(np.atleast_1d(lon), np.atleast_1d(lat))
        snapped = snap_xy(self.net, xy, limit_m=self.snap_limit_m)
        if not snapped.reachable[0]:
            raise SitingError(
                f"({lon:.6f}, {lat:.6f}) is farther than {self.snap_limit_m:g} m from any walkable street"
            )
        sid = str(station_id) if station_id is not None else self._new_id()
        if sid in self._ids:
            raise SitingError(f"a station with id {sid!r} exists already")
        idx, d = self._reached(snapped)
        better = d < self.dist[idx]
        step.changes.append(self._set(idx[better], d[better]))
        self._ids.append(sid)
        self._xy = np.vstack([self._xy, xy])
        self._snapped = Snapped.concat([self._snapped, snapped])
        self._reach[sid] = (idx, d)
        step.station_id = step.station_id or sid
        self._touched(step, xy[0])
        return sid

    def _new_id(self) -> str:
        while True:
            self._added += 1
            sid = f"new-{self._added}"
            if sid not in self._ids:
                return sid

    def _reached(self, snapped: Snapped) -> tuple[np.ndarray, np.ndarray]:
        """Samples within the largest tier of one station, and their distances."""
        if not snapped.reachable.any():
            return np.empty(0, np.int64), np.empty(0)
        node_dist = reach.local_node_distances(self.net, snapped, self.limit)
        return self._index.reached(self.net, node_dist, snapped, self.limit)

    def _reach_of(self, sid: str, snapped: Snapped) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_reached` of a current station, kept while it stays where it is."""
        if sid not in self._reach:
            self._reach[sid] = self._reached(snapped)
        return self._reach[sid]

    def remove(self, station_id: str) -> WhatIfResult:
        """Remove a station: the samples it was nearest to get their next-nearest station."""
        started = time.perf_counter()
        before = self.covered()
        step = _Step("remove", str(station_id), self._snapshot(), [])
        self._remove(str(station_id), step)
        self._history.append(step)
        return self._result("remove", step.station_id, before, step.changed, started)

    def _remove(self, sid: str, step: _Step) -> None:
        if sid not in self._ids:
            raise SitingError(f"no station with id {sid!r}")
        keep = np.array([i != sid for i in self._ids])
        gone = self._snapped.subset(~keep)
        idx, d = self._reach_of(sid, gone)
        gone_xy = self._xy[~keep][0]
        self._ids = [i for i in self._ids if i != sid]
        self._xy = self._xy[keep]
        self._snapped = self._snapped.subset(keep)
        self._reach.pop(sid, None)
        hit = idx[d <= self.dist[idx] + 1e-6]  # samples this station was nearest to
        if hit.size:
            step.changes.append(self._set(hit, self._nearest_local(gone, hit, self._snapped)))
        self._touched(step, gone_xy)

    def _nearest_local(self, gone: Snapped, hit: np.ndarray, others: Snapped) -> np.ndarray:
        """Distances from ``hit`` samples to the ``others`` stations, on the local subgraph.

        A walk of at most the limit from a station to a sample the ``gone``
        station reached stays within twice the limit (as the crow flies) of
        it, so the search runs on the nodes of that disc.
        """
        net = self.net
        radius = 2.0 * self.limit * reach.STRAIGHT_LINE_SLACK + 10.0
        centre = gone.xy[gone.reachable][0]
        local = np.unique(np.asarray(net.node_tree.query_ball_point(centre, radius), dtype=np.int64))
        near = others.reachable & (np.hypot(*(others.xy - centre).T) <= radius)
        sources = others.subset(near)
        node_dist = reach.local_node_distances(net, sources, self.limit, nodes=local)
        targets = self.samples.snapped.subset(hit)
        return reach.point_distances(net, node_dist, targets, sources=sources, limit=self.limit)

    def move(self, station_id: str, lon: float, lat: float) -> WhatIfResult:
        """Move a station to a WGS84 point (remove + add, undone as one step)."""
        started = time.perf_counter()
        before = self.covered()
        sid = str(station_id)
        step = _Step("move", sid, self._snapshot(), [])
        self._remove(sid, step)
        try:
            self._add(lon, lat, sid, step)
        except SitingError:
            self._restore(step)
            raise
        self._history.append(step)
        return self._result("move", sid, before, step.changed, started)

    def undo(self) -> WhatIfResult:
        """Undo the last add, remove or move.

        Raises
        ------
        SitingError
            When there is nothing to undo.
        """
        if not self._history:
            raise SitingError("nothing to undo")
        started = time.perf_counter()
        before = self.covered()
        step = self._history.pop()
        self._restore(step)
        return self._result(f"undo {step.action}", step.station_id, before, step.changed, started)

    def _restore(self, step: _Step) -> None:
        ids, xy, snapped = step.stations
        self._ids, self._xy, self._snapped = list(ids), xy, snapped
        for idx, old in reversed(step.changes):
            self._write(idx, old)
        self._reach.pop(step.station_id, None)
        self._forget_near(step.points, step.station_id)
