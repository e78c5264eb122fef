"""Complete life circles in the planner's map: the evaluation by a standard, updated click by click.

The baseline is :func:`geo.evaluate.evaluate` over the workspace's facilities (every kind, parks
as polygons with their gates as entrances), computed once per standard and shared by the
sessions.  A session's :class:`CompletenessSession` keeps, for every (kind, condition) the
standard's rules select, each demand sample's distance to the nearest qualifying facility, and
updates it with one what-if engine (:class:`geo.siting.WhatIf`) per selection: adding, moving or
closing a facility runs bounded local searches around it (:func:`geo.reach.local_node_distances`)
on the selections of its kind only, and completeness is recombined from the changed kind's
arrays.  A click never runs a full evaluation.

Polygon facilities without entrance points (a park drawn as an area) keep their baseline
contribution (their touch rule needs the polygon); their entrances and every point facility can
be closed and reopened.  Cohorts are not recomputed in the map (the all-residents figures are).
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle.geo import evaluate as gev
from lifecircle.geo.errors import SitingError
from lifecircle.geo.evaluate.engine import ALL, Evaluation
from lifecircle.geo.evaluate.packs import Condition, Standard
from lifecircle.geo.evaluate.sources import selection_distances
from lifecircle.geo.siting import WhatIf

__all__ = [
    "Baseline",
    "CompletenessSession",
    "baseline",
    "demo_facilities",
    "fork_engine",
    "point_sources",
    "workspace_baseline",
]


def demo_facilities(district) -> gpd.GeoDataFrame:
    """The demo's facilities with its parks as polygons and their gates as entrances (``entrance_of``)."""
    fac = district.facilities.copy()
    parks = getattr(district, "parks", None)
    if parks is None or not len(parks):
        return fac
    is_park = fac["kind"] == "park"
    fac["entrance_of"] = None
    fac.loc[is_park, "entrance_of"] = "P" + fac.loc[is_park, "id"].astype(str).str.extract(r"PK-(\d+)", expand=False)
    known = set(parks["id"].astype(str))
    fac.loc[is_park & ~fac["entrance_of"].isin(known), "entrance_of"] = None
    return gpd.GeoDataFrame(pd.concat([fac, parks.copy()], ignore_index=True), geometry="geometry", crs="EPSG:4326")


def point_sources(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The point features of the evaluation's facilities (what the map draws and closes)."""
    pts = facilities[shapely.get_type_id(facilities.geometry.values) == 0]
    return pts.reset_index(drop=True)


def _sel_key(kind: str, cond: Condition | None) -> tuple[str, str | None]:
    return (kind, cond.text if cond is not None else None)


@dataclass
class Baseline:
    """One standard's evaluation of the workspace's facilities (shared, read-only).

    Attributes
    ----------
    ev
        The :class:`geo.evaluate.Evaluation` of the existing facilities.
    selections
        ``{(kind, condition text or None): (Condition or None, limit metres)}``.
    fixed
        Per selection, the distances from polygon facilities that have no entrance points.
    unit_of_sample
        社区 index of each sample (-1 outside), or None without units.
    """

    ev: Evaluation
    standard: Standard
    selections: dict
    fixed: dict
    point_row: np.ndarray
    point_xy: np.ndarray
    point_ids: list[str]
    unit_of_sample: np.ndarray | None
    snap_limit_m: float
    templates: dict = field(default_factory=dict, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def engine(self, key) -> WhatIf:
        """A session's own engine of a selection: a fork of the shared one (built once per process)."""
        with self.lock:
            if key not in self.templates:
                cond, lim = self.selections[key]
                frame = self.ev.facilities.frame
                mask = self.ev.facilities.kinds == key[0]
                if cond is not None and mask.any():
                    mask &= cond.evaluate(frame)
                pick = np.flatnonzero(mask[self.point_row])
                ids = [self.point_ids[i] for i in pick]
                self.templates[key] = WhatIf(
                    self.ev.net, self.ev.samples, self.point_xy[pick], ids, tiers=(lim,), snap_limit_m=self.snap_limit_m
                )
            return fork_engine(self.templates[key])

    def warm(self) -> None:
        """Build every selection's shared engine now (start-up), so no click pays a full search."""
        for key in self.selections:
            self.engine(key)


def baseline(
    net,
    facilities,
    demand,
    standard: str,
    *,
    samples,
    units=None,
    candidates=None,
    snap_limit_m: float,
    touch_m: float | None = None,
) -> Baseline:
    """Evaluate the existing facilities once and prepare what sessions need to update it."""
    kw = {} if touch_m is None else {"touch_m": touch_m}
    ev = gev.evaluate(
        net,
        facilities,
        demand,
        standard,
        units=units,
        candidates=candidates,
        samples=samples,
        snap_limit_m=snap_limit_m,
        cohorts=[],
        **kw,
    )
    std = ev.standard
    selections: dict = {}
    for r in std.rules:
        key = _sel_key(r.kind, r.condition)
        cond, lim = selections.get(key, (r.condition, 0.0))
        selections[key] = (cond, max(lim, r.metres))
    for kind in std.kinds:
        radii = [r.metres for r in std.rules if r.kind == kind]
        key = (kind, None)
        cond, lim = selections.get(key, (None, 0.0))
        selections[key] = (None, max(lim, max(radii) if radii else 1000.0))
    src = ev.facilities
    n_rows = len(src.frame)
    has_point = np.zeros(n_rows, bool)
    has_point[src.point_fac] = True
    kinds = src.kinds
    fixed = {}
    for key, (cond, lim) in selections.items():
        mask = (kinds == key[0]) & ~has_point
        if cond is not None and mask.any():
            mask &= cond.evaluate(src.frame)
        fixed[key] = (
            selection_distances(net, src, mask, ev.samples.snapped, lim)
            if mask.any()
            else np.full(len(ev.samples.weight), np.inf)
        )
    ids, xy = _point_ids(facilities, src, net)
    which = ev.unit_of_samples(units) if units is not None and len(units) else None
    return Baseline(ev, std, selections, fixed, src.point_fac.copy(), xy, ids, which, float(snap_limit_m))


def _point_ids(facilities, src, net) -> tuple[list[str], np.ndarray]:
    """Ids and metric coordinates of the point features, in the order :func:`prepare_facilities` joined them."""
    frames = facilities if isinstance(facilities, (list, tuple)) else [facilities]
    ids: list[str] = []
    xys = [np.empty((0, 2))]
    for i, f in enumerate(f for f in frames if f is not None and len(f)):
        f = f.to_crs("EPSG:4326") if f.crs is not None else f.set_crs("EPSG:4326")
        fid = f["id"].astype(str).tolist() if "id" in f else [f"F{i + 1}_{j + 1}" for j in range(len(f))]
        point = shapely.get_type_id(f.geometry.values) == 0
        ids += [x for x, p in zip(fid, point) if p]
        xys.append(shapely.get_coordinates(f.geometry.to_crs(net.crs).values[point]))
    seen: dict[str, int] = {}
    out = []
    for x in ids:  # duplicate ids would clash in the engines
        seen[x] = seen.get(x, 0) + 1
        out.append(x if seen[x] == 1 else f"{x}~{seen[x]}")
    if len(out) != len(src.point_fac):  # pragma: no cover - prepare_facilities changed its order
        raise RuntimeError("facility points do not line up with the evaluation's sources")
    return out, np.vstack(xys)


@dataclass
class _Op:
    """One undoable change: which selections' engines took how many steps."""

    steps: list[tuple[tuple, int]]
    closed_before: set
    added_before: dict


class CompletenessSession:
    """A session's completeness: the baseline plus the planner's added, moved and closed facilities.

    Parameters
    ----------
    base
        The shared :class:`Baseline`.
    """

    def __init__(self, base: Baseline) -> None:
        self.base = base
        self.dist: dict = {key: self._base_dist(key) for key in base.selections}
        self._engines: dict = {}
        self._sel_memo: dict = {}
        self.added: dict[str, tuple[str, float, float, dict]] = {}  # id -> kind, lon, lat, attrs
        self.closed: set[str] = set()  # facility row ids
        self._ops: list[_Op] = []
        self.present: dict = {}
        for t in base.standard.tiers:
            for k in t.required_kinds:
                self.present[(t.key, k)] = self._present(t, k)

    # ------------------------------------------------------------ arrays
    def _base_dist(self, key) -> np.ndarray:
        """The evaluation's array of a selection (rules sharing a selection share one array)."""
        ev = self.base.ev
        if key[1] is None and key[0] in ev.kind_dist:
            return ev.kind_dist[key[0]]
        rule = next(r for r in self.base.standard.rules if _sel_key(r.kind, r.condition) == key)
        return ev.rule_dist[rule.key]

    def _present(self, tier, kind: str) -> np.ndarray:
        m = np.zeros(len(self.base.ev.samples.weight), bool)
        for r in tier.rules_of(kind):
            m |= self.dist[_sel_key(r.kind, r.condition)] <= r.metres + 1e-9
        return m

    def _engine(self, key) -> WhatIf:
        """The session's what-if engine of one selection (a fork of the process's, see :meth:`Baseline.engine`)."""
        if key not in self._engines:
            self._engines[key] = self.base.engine(key)
        return self._engines[key]

    def _refresh(self, kind: str) -> None:
        """Recombine the kind's selections from their engines and recompute its presence."""
        for key in self.base.selections:
            if key[0] == kind and key in self._engines:
                self.dist[key] = np.minimum(self.base.fixed[key], self._engines[key].dist)
        for t in self.base.standard.tiers:
            if kind in t.required_kinds:
                self.present[(t.key, kind)] = self._present(t, kind)

    def selections_of(self, kind: str, attrs: dict | None = None) -> list[tuple]:
        """The selections a new facility of ``kind`` with ``attrs`` belongs to."""
        memo = (kind, tuple(sorted((attrs or {}).items())))
        if memo in self._sel_memo:
            return self._sel_memo[memo]
        out = []
        row = pd.DataFrame([attrs or {}])
        for key, (cond, _lim) in self.base.selections.items():
            if key[0] != kind:
                continue
            if cond is not None:
                if any(c not in row for c in cond.columns) or not bool(cond.evaluate(row)[0]):
                    continue
            out.append(key)
        self._sel_memo[memo] = out
        return out

    def kinds(self) -> list[str]:
        """The kinds the standard names."""
        return list(self.base.standard.kinds)

    # ------------------------------------------------------------ changes
    def add(self, kind: str, lon: float, lat: float, fid: str, attrs: dict | None = None) -> None:
        """Add a facility point of ``kind`` (``attrs`` such as ``{"area_m2": 10000}`` for conditions)."""
        steps = []
        try:
            for key in self.selections_of(kind, attrs):
                self._engine(key).add(lon, lat, fid)
                steps.append((key, 1))
        except SitingError:
            self._rollback(steps)
            raise
        self._ops.append(_Op(steps, set(self.closed), dict(self.added)))
        self.added[fid] = (kind, float(lon), float(lat), dict(attrs or {}))
        self._refresh(kind)

    def move(self, fid: str, lon: float, lat: float) -> None:
        """Move an added facility."""
        kind, _x, _y, attrs = self.added[fid]
        steps = []
        try:
            for key in self.selections_of(kind, attrs):
                self._engine(key).move(fid, lon, lat)
                steps.append((key, 1))
        except SitingError:
            self._rollback(steps)
            raise
        self._ops.append(_Op(steps, set(self.closed), dict(self.added)))
        self.added[fid] = (kind, float(lon), float(lat), attrs)
        self._refresh(kind)

    def remove(self, fid: str) -> None:
        """Remove an added facility."""
        before = dict(self.added)
        kind, _x, _y, attrs = self.added.pop(fid)
        steps = []
        for key in self.selections_of(kind, attrs):
            self._engine(key).remove(fid)
            steps.append((key, 1))
        self._ops.append(_Op(steps, set(self.closed), before))
        self._refresh(kind)

    def facility_row(self, fid: str) -> int | None:
        """Row of the facility ``fid`` (a facility or one of its entrances) in the evaluation."""
        frame = self.base.ev.facilities.frame
        for j, pid in enumerate(self.base.point_ids):
            if pid == str(fid):
                return int(self.base.point_row[j])
        hit = np.flatnonzero(frame["id"].astype(str).to_numpy() == str(fid))
        return int(hit[0]) if hit.size else None

    def set_closed(self, fid: str, closed: bool) -> str:
        """Close (or reopen) an existing facility: all of its point sources leave (or rejoin) its selections.

        Returns the facility's row id (an entrance closes its whole park).
        """
        row = self.facility_row(fid)
        if row is None:
            raise SitingError(f"no facility {fid!r}")
        frame = self.base.ev.facilities.frame
        rid = str(frame["id"].iloc[row])
        if (rid in self.closed) == closed:
            return rid
        kind = str(frame["kind"].iloc[row])
        pts = np.flatnonzero(self.base.point_row == row)
        if not pts.size:  # reached by its outline (touch rule), which the engines do not redo
            raise SitingError(
                f"facility {rid} is an area without entrance points: close it in the data "
                "(or give its entrances with entrance_of) and reload"
            )
        steps = []
        for key, (cond, _lim) in self.base.selections.items():
            if key[0] != kind or (cond is not None and not bool(cond.evaluate(frame.iloc[[row]])[0])):
                continue
            eng = self._engine(key)
            n = 0
            for j in pts:
                pid = self.base.point_ids[j]
                if closed:
                    if pid in eng._ids:
                        eng.remove(pid)
                        n += 1
                else:
                    lon, lat = eng.net.to_lonlat(self.base.point_xy[j])[0]
                    try:
                        eng.add(float(lon), float(lat), pid)
                        n += 1
                    except SitingError:
                        pass  # the point never reached the network
            steps.append((key, n))
        self._ops.append(_Op(steps, set(self.closed), dict(self.added)))
        if closed:
            self.closed.add(rid)
        else:
            self.closed.discard(rid)
        self._refresh(kind)
        return rid

    def _rollback(self, steps) -> None:
        for key, n in reversed(steps):
            for _ in range(n):
                self._engines[key].undo()

    def undo(self) -> None:
        """Undo the last change (the caller keeps the list of added facilities)."""
        op = self._ops.pop()
        self._rollback(op.steps)
        self.closed = set(op.closed_before)
        self.added = dict(op.added_before)
        for kind in {k[0] for k, _n in op.steps}:
            self._refresh(kind)

    # ------------------------------------------------------------ figures
    @property
    def weight(self) -> np.ndarray:
        return self.base.ev.samples.weight

    def complete(self, tier) -> np.ndarray:
        """Sample mask: every required kind of the tier present."""
        t = tier if not isinstance(tier, str) else self.base.standard.tier(tier)
        out = self.base.ev.samples.reachable.copy()
        for k in t.required_kinds:
            out &= self.present[(t.key, k)]
        return out

    def n_kinds(self, tier) -> np.ndarray:
        t = tier if not isinstance(tier, str) else self.base.standard.tier(tier)
        reach = self.base.ev.samples.reachable
        n = np.zeros(len(self.weight), np.int64)
        for k in t.required_kinds:
            n += self.present[(t.key, k)] & reach
        return n

    def view(self) -> Evaluation:
        """The current state as a :class:`geo.evaluate.Evaluation` (all residents; no cohorts)."""
        ev = self.base.ev
        rule_dist = {r.key: self.dist[_sel_key(r.kind, r.condition)] for r in ev.standard.rules}
        kind_dist = {k: self.dist[(k, None)] for k in ev.standard.kinds}
        present = {}
        for t in ev.standard.tiers:
            for k in t.kinds:
                m = np.zeros(len(self.weight), bool)
                for r in t.rules_of(k):
                    m |= rule_dist[r.key] <= r.metres + 1e-9
                present[(ALL, t.key, k)] = m
        return dataclasses.replace(
            ev,
            rule_dist=rule_dist,
            kind_dist=kind_dist,
            present=present,
            cohort_weight={ALL: ev.samples.weight},
            cohorts=[],
            skipped_cohorts=[],
            capacity={},
            _ledger=None,
        )

    def headline(self) -> list[dict]:
        """Per tier: ``tier`` (key), ``label``, ``metres``, ``base`` and ``complete`` weight, ``share``, ``delta``."""
        w, tot = self.weight, float(self.weight.sum())
        ev = self.base.ev
        rows = []
        for t in self.base.standard.tiers:
            now = float(w[self.complete(t)].sum())
            before = float(w[ev.complete(t)].sum())
            rows.append(
                {
                    "tier": t.key,
                    "label": t.label("zh"),
                    "label_en": t.label("en"),
                    "metres": t.metres,
                    "base": before,
                    "complete": now,
                    "share": now / tot if tot else 0.0,
                    "delta": now - before,
                    "n_kinds": len(t.required_kinds),
                }
            )
        return rows

    def kind_table(self, tier) -> list[dict]:
        """Per required kind of the tier: weight within reach, share, change."""
        t = tier if not isinstance(tier, str) else self.base.standard.tier(tier)
        w, tot = self.weight, float(self.weight.sum())
        reach = self.base.ev.samples.reachable
        out = []
        for k in t.required_kinds:
            now = float(w[self.present[(t.key, k)] & reach].sum())
            before = float(w[self.base.ev.present[(ALL, t.key, k)] & reach].sum())
            out.append({"kind": k, "covered": now, "share": now / tot if tot else 0.0, "delta": now - before})
        return out

    def unit_table(self, units) -> pd.DataFrame:
        """Per 社区: ``id``, ``name``, ``weight``, per tier ``complete_<tier>`` (share) and ``delta_<tier>`` (weight)."""
        which = self.base.unit_of_sample
        if which is None or units is None:
            return pd.DataFrame(columns=["id", "name", "weight"])
        inside = which >= 0
        n = len(units)
        u, w = which[inside], self.weight[inside]
        tot = np.bincount(u, weights=w, minlength=n)
        out = pd.DataFrame(
            {
                "id": units["id"].astype(str).to_numpy(),
                "name": units["name"].astype(str).to_numpy() if "name" in units else "",
                "weight": tot,
            }
        )
        for t in self.base.standard.tiers:
            now = np.bincount(u, weights=w * self.complete(t)[inside], minlength=n)
            before = np.bincount(u, weights=w * self.base.ev.complete(t)[inside], minlength=n)
            out[f"complete_{t.key}"] = np.divide(now, tot, out=np.zeros(n), where=tot > 0)
            out[f"delta_{t.key}"] = now - before
        return out

    def sample_classes(self, tier) -> tuple[list[int], list[str]]:
        """Per sample: required kinds within reach, and the kinds missing (comma-separated)."""
        t = tier if not isinstance(tier, str) else self.base.standard.tier(tier)
        reach = self.base.ev.samples.reachable
        have = self.n_kinds(t)
        miss = (
            np.stack([~(self.present[(t.key, k)] & reach) for k in t.required_kinds])
            if t.required_kinds
            else np.zeros((0, len(reach)), bool)
        )
        kinds = t.required_kinds
        cache: dict = {}
        names = []
        for col in miss.T:
            key = col.tobytes()
            if key not in cache:
                cache[key] = ",".join(kinds[i] for i in np.flatnonzero(col))
            names.append(cache[key])
        return have.astype(int).tolist(), names

    def demand_units(self, tier) -> tuple[list[int], list[str], list[float]]:
        """Per demand unit: required kinds present for all of it, the kinds missing (comma-separated), share complete."""
        t = tier if not isinstance(tier, str) else self.base.standard.tier(tier)
        smp = self.base.ev.samples
        n, unit, w = smp.n_units, smp.unit, smp.weight
        reach = smp.reachable
        missing = np.zeros((len(t.required_kinds), n), bool)
        for i, k in enumerate(t.required_kinds):
            miss = ~(self.present[(t.key, k)] & reach)
            missing[i] = np.bincount(unit, weights=miss.astype(float), minlength=n) > 0
        tot = np.bincount(unit, weights=w, minlength=n)
        comp = np.bincount(unit, weights=w * self.complete(t), minlength=n)
        share = np.divide(comp, tot, out=np.zeros(n), where=tot > 0)
        have = (len(t.required_kinds) - missing.sum(axis=0)).astype(int).tolist()
        kinds = t.required_kinds
        names = [",".join(kinds[i] for i in np.flatnonzero(missing[:, j])) for j in range(n)]
        return have, names, share.round(4).tolist()


def fork_engine(engine: WhatIf) -> WhatIf:
    """A copy of a what-if engine that shares its read-only parts (network, sample index) and owns its state.

    Forking costs a copy of the distance array, not a search over the network.
    """
    e = copy.copy(engine)
    e.dist = engine.dist.copy()
    e._ids = list(engine._ids)
    e._xy = engine._xy.copy()
    e._history = []
    e._reach = dict(engine._reach)
    e._without = {}
    e._cov = dict(engine._cov)
    return e


def new_facility_id(taken: set[str], counter: int) -> tuple[str, int]:
    """The next ``N<n>`` id not in ``taken``."""
    while True:
        counter += 1
        cid = f"N{counter}"
        if cid not in taken:
            return cid, counter


def workspace_baseline(ws, standard: str) -> Baseline:
    """The workspace's :class:`Baseline` for ``standard``, computed once per process.

    A standard the data cannot be evaluated by (a ValueError, e.g. parks without an area) is
    remembered too: every session's page asks again, and evaluating a city takes ~0.2 s.
    """
    fac = getattr(ws, "eval_facilities", None)
    fac = ws.facilities if fac is None else fac
    std = gev.load_standard(standard)

    def build() -> Baseline | ValueError:
        try:
            return baseline(
                ws.net,
                fac,
                ws.demand,
                standard,
                samples=ws.coverage.samples,
                units=ws.communities,
                candidates=ws.candidates,
                snap_limit_m=ws.snap_limit_m,
            )
        except ValueError as exc:
            return exc

    out = ws.cached(("complete-baseline", std.name, std.path), build)
    if isinstance(out, ValueError):
        raise out.with_traceback(None)
    return out
