"""One planner's session: settings, candidate micro-stations and the figures they give.

:class:`PlannerState` is created once per browser session (and can be used
on its own in a notebook).  Every candidate step goes through the one
what-if engine, :class:`geo.siting.WhatIf`: adding a candidate runs one
bounded search from the new site and merges it into the nearest-distance
arrays; moving, removing and undoing update only the samples they change.
Every figure the page shows comes from :meth:`PlannerState.result`, a
:class:`geo.coverage.CoverageResult` with the engine's distances, and each
candidate's gain from :meth:`geo.siting.WhatIf.without`.

Why one module of ~970 lines: :class:`PlannerState` is the session's one
``param.Parameterized`` (the HoloViz pattern the layout binds to), and its steps (add, move,
close, reopen, open a scenario) share one undo/redo history and one set of what-if engines, so
they are methods of one class. Splitting the per-kind and the completeness halves into mixins is
the next step (see the issue notes).

Example
-------
>>> from apps.web.project import load_demo
>>> from apps.web.state import PlannerState
>>> state = PlannerState(load_demo())
>>> state.add_candidate(114.0585, 22.5628)        # doctest: +SKIP
>>> state.headline().rows                         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import param
import shapely

from lifecircle.geo import settings, siting
from lifecircle.geo.coverage import ANY, CoverageResult, tier_key
from lifecircle.geo.errors import SitingError

from .workspace import CANDIDATE_KIND, Workspace

__all__ = ["LAYERS", "DEFAULT_LAYERS", "TILES", "COORD_DECIMALS", "Candidate", "Headline", "PlannerState"]

#: Layers the planner can switch on and off.
LAYERS = ("facilities", "areas", "candidates", "demand", "gaps", "boundaries", "shares")
DEFAULT_LAYERS = ["facilities", "areas", "candidates", "demand", "gaps", "boundaries"]
#: Tile providers: none (offline vector base), OpenStreetMap, Amap (GCJ-02).
TILES = ("none", "osm", "amap")
#: Candidate coordinates are rounded to this many decimals (about 1 cm).
COORD_DECIMALS = 7


@dataclass(frozen=True)
class Candidate:
    """A candidate micro-station placed by the planner (or suggested).

    Attributes
    ----------
    id
        ``"N1"``, ``"N2"``, ... in the order they were placed.
    lon, lat
        WGS84, rounded to 7 decimals; its service areas come from
        :meth:`PlannerState.candidate_areas`, what it adds from :meth:`PlannerState.gains`.
    origin
        ``"click"`` or ``"suggested"``.
    """

    id: str
    lon: float
    lat: float
    origin: str = "click"
    kind: str = CANDIDATE_KIND
    area_m2: float | None = None


@dataclass
class Headline:
    """The headline figures for one facility kind.

    Attributes
    ----------
    kind
        The kind (or ``"any"``).
    total, unreachable
        Total demand weight, and the part beyond the snapping limit.
    rows
        One dict per tier: ``tier``, ``base`` (covered before candidates),
        ``covered``, ``share``, ``delta``.
    unserved, base_unserved
        Weight not covered within the largest tier, now and before candidates.
    """

    kind: str
    total: float
    unreachable: float
    rows: list[dict] = field(default_factory=list)
    unserved: float = 0.0
    base_unserved: float = 0.0


class PlannerState(param.Parameterized):
    """The state of one planner's session.

    Parameters
    ----------
    workspace
        The shared, read-only data of the app process.
    """

    kind = param.Selector(default=CANDIDATE_KIND, objects=[CANDIDATE_KIND, ANY], doc="Kind whose coverage is shown")
    gap_tier = param.Number(default=1000.0, doc="Tier (m) whose gaps are drawn")
    lang = param.Selector(default="zh", objects=["zh", "en"], doc="Language of labels")
    layers = param.ListSelector(default=list(DEFAULT_LAYERS), objects=list(LAYERS), doc="Visible map layers")
    kinds_shown = param.ListSelector(default=[], objects=[], doc="Facility kinds drawn on the map")
    tiers_shown = param.ListSelector(default=[], objects=[], doc="Tiers (m) whose service areas are drawn")
    tiles = param.Selector(default="none", objects=list(TILES), doc="Background tiles (none = offline)")
    mode = param.Selector(default="pan", objects=["pan", "add"], doc="'add': a map click adds a candidate")
    edit_kind = param.Selector(
        default=CANDIDATE_KIND, objects=[CANDIDATE_KIND], doc="Kind of the facility a click adds"
    )
    new_area_m2 = param.Number(
        default=10000.0, bounds=(0, None), doc="Area (m²) given to an added park (for area conditions)"
    )
    view = param.Selector(
        default="kind", objects=["kind", "complete"], doc="Per-kind coverage, or complete life circles"
    )
    standard = param.String(default=settings.DEFAULT_STANDARD, doc="Standard pack of the complete view")
    complete_tier = param.String(default="", doc="Tier key of the complete view")
    version = param.Integer(default=0, doc="Bumped on every change of the candidates")
    message = param.String(default="", doc="Last status message for the planner")

    def __init__(self, workspace: Workspace, **params) -> None:
        kinds = [*workspace.analysis_kinds(), ANY]
        kind = params.pop("kind", CANDIDATE_KIND if CANDIDATE_KIND in kinds else ANY)
        params.setdefault("gap_tier", float(workspace.tiers[-1]))
        shown = {k: params.pop(k, None) for k in ("kinds_shown", "tiers_shown")}
        super().__init__(**params)
        self.param.kind.objects = kinds
        self.kind = kind
        present = [k for k in kinds if k != ANY]
        tiers = [float(t) for t in workspace.tiers]
        self.param.kinds_shown.objects, self.param.tiers_shown.objects = present, tiers
        self.kinds_shown = list(shown["kinds_shown"] if shown["kinds_shown"] is not None else present)
        self.tiers_shown = list(shown["tiers_shown"] if shown["tiers_shown"] is not None else tiers)
        self.ws = workspace
        self.candidates: list[Candidate] = []
        self._history: list[dict] = []
        self._counter = 0
        self._memo: dict = {}
        self.last_seconds = 0.0
        self.engines: dict[str, siting.WhatIf] = {}
        self.closed: list[str] = []
        self._redo: list = []
        #: New facilities standing for a moved existing one (opened from a scenario): new id -> existing id.
        self.moved_from: dict[str, str] = {}
        self._complete = None
        #: Candidate sites uploaded in the page (``推荐选址`` uses them before the project's).
        self.uploaded_candidates: gpd.GeoDataFrame | None = None
        self._complete_for = ""
        self.complete_error = ""
        if getattr(workspace, "standard", None):
            self.standard = str(workspace.standard)
        self._set_edit_kinds()
        self._area_cache: dict[tuple[float, float], dict] = {}
        self.suggest_info: dict = {}
        #: Most candidates this session holds (each keeps its distances to every demand sample).
        self.max_candidates = int(settings.MAX_CANDIDATES_PER_SESSION)

    # ------------------------------------------------------------ engines
    def _set_edit_kinds(self) -> None:
        """Every kind the planner can add: the project's, the standard's and the candidates' kind."""
        kinds = [k for k in self.param.kind.objects if k != ANY]
        for k in self.ws_all_kinds():
            if k not in kinds:
                kinds.append(k)
        try:
            from lifecircle.geo.evaluate import load_standard

            for k in load_standard(self.standard).kinds:
                if k not in kinds:
                    kinds.append(k)
        except ValueError:  # a bad pack: said where the completeness is shown
            pass
        self.param.edit_kind.objects = kinds
        if self.edit_kind not in kinds:
            self.edit_kind = kinds[0]

    def ws_all_kinds(self) -> list[str]:
        """Kinds of every facility of the project (the evaluation's), in registry order."""
        fac = getattr(self.ws, "eval_facilities", None)
        fac = self.ws.facilities if fac is None else fac
        present = set(fac["kind"].astype(str))
        ordered = [k for k in self.ws.kinds.keys() if k in present]
        return ordered + sorted(present - set(ordered))

    def engine_of(self, kind: str) -> siting.WhatIf | None:
        """The coverage what-if engine of ``kind`` (None for kinds the per-kind view does not show)."""
        if kind not in self.ws.coverage.sample_dist or kind == ANY:
            return None
        if kind not in self.engines:
            self.engines[kind] = _what_if_engine(self.ws, kind)
        return self.engines[kind]

    @property
    def engine(self) -> siting.WhatIf:
        """The engine of the candidates' kind (micro-stations)."""
        return self.engine_of(CANDIDATE_KIND)

    def complete(self):
        """The session's completeness for :attr:`standard`, or None when it cannot be computed.

        A :class:`apps.web.complete.CompletenessSession`; when the standard or the data cannot be
        evaluated (a bad pack, parks without an area for an area condition), :attr:`complete_error`
        says why and the per-kind figures go on without it.
        """
        from .complete import CompletenessSession, workspace_baseline

        if self._complete is not None and self._complete_for == self.standard:
            return self._complete
        if self._complete_for == self.standard and self.complete_error:
            return None
        self._complete_for = self.standard
        try:
            base = workspace_baseline(self.ws, self.standard)
        except ValueError as exc:  # LifecircleError: InputError, StandardError, OptionError
            self._complete, self.complete_error = None, str(exc)
            return None
        self.complete_error = ""
        self._complete = CompletenessSession(base)
        self._replay()
        return self._complete

    def _replay(self) -> None:
        """Apply the session's changes to a new standard's completeness (no undo across a change of standard)."""
        comp = self._complete
        for fid in self.closed:
            comp.set_closed(fid, True)
        for c in self.candidates:
            comp.add(c.kind, c.lon, c.lat, c.id, self._attrs(c))
        comp._ops.clear()
        if self._history:
            self._history.clear()
            self._redo.clear()

    def _attrs(self, cand: Candidate) -> dict:
        return {"area_m2": float(cand.area_m2)} if cand.area_m2 is not None else {}

    # ------------------------------------------------------------ candidates
    def add_candidate(
        self,
        lon: float,
        lat: float,
        *,
        origin: str = "click",
        kind: str | None = None,
        area_m2: float | None = None,
        _redo: bool = False,
    ) -> Candidate | None:
        """Place a new facility of ``kind`` (default :attr:`edit_kind`); None when the site is off the network.

        Parameters
        ----------
        lon, lat
            The site in WGS84.
        origin
            ``"click"``, ``"typed"`` or ``"suggested"``.
        kind
            Facility kind (default the kind chosen in the page).
        area_m2
            Its area (default: :attr:`new_area_m2` for a park, none for other kinds).
        """
        started = time.perf_counter()
        if len(self.candidates) >= self.max_candidates:
            self.message = self.full_text()
            return None
        kind = str(kind or self.edit_kind)
        lon, lat = round(float(lon), COORD_DECIMALS), round(float(lat), COORD_DECIMALS)
        area = float(area_m2) if area_m2 is not None else (float(self.new_area_m2) if kind == "park" else None)
        cand = Candidate(self._peek_id(), lon, lat, origin, kind, area)
        steps = self._engine_steps(lambda: self._add_engines(cand))
        if steps is None:
            return None
        self._remember(steps, ("add", (lon, lat), {"origin": origin, "kind": kind, "area_m2": area}), redo=_redo)
        self._new_id()
        self.candidates = [*self.candidates, cand]
        self._changed(started, cand.id)
        return cand

    def _add_engines(self, cand: Candidate) -> list[str]:
        done: list[str] = []
        eng = self.engine_of(cand.kind)
        if eng is not None:
            eng.add(cand.lon, cand.lat, cand.id)
            done.append(cand.kind)
        try:
            if self.complete() is not None:
                self.complete().add(cand.kind, cand.lon, cand.lat, cand.id, self._attrs(cand))
        except SitingError:
            for k in reversed(done):
                self.engines[k].undo()
            raise
        return done

    def _engine_steps(self, fn) -> list[str] | None:
        """Run engine steps; on a site off the network say so and return None (nothing changed)."""
        try:
            return fn()
        except SitingError:
            self.message = self._off_network_text()
            self.version += 1  # redraw a dragged marker where it was
            return None

    def move_candidate(self, cid: str, lon: float, lat: float, *, _redo: bool = False) -> Candidate | None:
        """Move a new facility (bounded searches); None when the site is off the network."""
        started = time.perf_counter()
        idx = self._index(cid)
        old = self.candidates[idx]
        lon, lat = round(float(lon), COORD_DECIMALS), round(float(lat), COORD_DECIMALS)

        def run() -> list[str]:
            done: list[str] = []
            eng = self.engine_of(old.kind)
            if eng is not None:
                eng.move(cid, lon, lat)
                done.append(old.kind)
            try:
                if self.complete() is not None:
                    self.complete().move(cid, lon, lat)
            except SitingError:
                for k in reversed(done):
                    self.engines[k].undo()
                raise
            return done

        steps = self._engine_steps(run)
        if steps is None:
            return None
        self._remember(steps, ("move", (cid, lon, lat), {}), redo=_redo)
        moved = dataclasses.replace(old, lon=lon, lat=lat)
        self.candidates = [*self.candidates[:idx], moved, *self.candidates[idx + 1 :]]
        self._changed(started, cid)
        return moved

    def remove_candidate(self, cid: str, *, _redo: bool = False) -> None:
        """Remove a new facility."""
        started = time.perf_counter()
        idx = self._index(cid)
        cand = self.candidates[idx]
        steps = []
        eng = self.engine_of(cand.kind)
        if eng is not None:
            eng.remove(cid)
            steps.append(cand.kind)
        if self.complete() is not None:
            self.complete().remove(cid)
        self._remember(steps, ("remove", (cid,), {}), redo=_redo)
        self.candidates = [*self.candidates[:idx], *self.candidates[idx + 1 :]]
        self._changed(started, cid)

    def clear_candidates(self, *, _redo: bool = False) -> None:
        """Remove every new facility (undoable)."""
        if self.candidates:
            started = time.perf_counter()
            steps = []
            for c in self.candidates:
                eng = self.engine_of(c.kind)
                if eng is not None:
                    eng.remove(c.id)
                    steps.append(c.kind)
                if self.complete() is not None:
                    self.complete().remove(c.id)
            self._remember(steps, ("clear", (), {}), comp=len(self.candidates), redo=_redo)
            self.candidates = []
            self._changed(started, "")

    # ------------------------------------------------------------ closing
    def facility_points(self, fid: str) -> list[tuple[str, float, float, str]]:
        """The map points (id, lon, lat, kind) of an existing facility or of the park an entrance opens."""
        comp = self.complete()
        row = comp.facility_row(fid) if comp is not None else None
        fac = getattr(self.ws, "eval_facilities", None)
        fac = self.ws.facilities if fac is None else fac
        pts = fac[shapely.get_type_id(fac.geometry.values) == 0]
        if row is None:
            hit = pts[pts["id"].astype(str) == str(fid)]
        elif comp is not None:
            ids = [comp.base.point_ids[j] for j in np.flatnonzero(comp.base.point_row == row)]
            hit = pts[pts["id"].astype(str).isin(ids)]
        return [(str(r.id), float(r.geometry.x), float(r.geometry.y), str(r.kind)) for r in hit.itertuples()]

    def close_facility(self, fid: str, closed: bool = True, *, _redo: bool = False) -> str | None:
        """Close (关闭) an existing facility, or reopen it; return its id (a park for an entrance), None if unknown."""
        started = time.perf_counter()
        comp = self.complete()
        points = self.facility_points(fid)
        if not points and (comp is None or not (comp.base.ev.facilities.frame["id"].astype(str) == str(fid)).any()):
            return None
        steps = []
        for pid, lon, lat, kind in points:
            eng = self.engine_of(kind)
            if eng is None:
                continue
            if closed and pid in eng.station_ids:
                eng.remove(pid)
                steps.append(kind)
            elif not closed and pid not in eng.station_ids:
                try:
                    eng.add(lon, lat, pid)
                    steps.append(kind)
                except SitingError:
                    pass
        try:
            rid = comp.set_closed(fid, closed) if comp is not None else str(fid)
        except SitingError as exc:  # an area facility without entrances
            for kind in reversed(steps):
                self.engines[kind].undo()
            self.message = str(exc)
            return None
        self._remember(steps, ("close", (fid, closed), {}), comp=1 if comp is not None else 0, redo=_redo)
        self.closed = sorted(set(self.closed) | {rid}) if closed else [c for c in self.closed if c != rid]
        self._changed(started, rid)
        return rid

    def closed_points(self) -> list[str]:
        """Ids of the map points of the closed facilities."""
        return [pid for fid in self.closed for pid, *_ in self.facility_points(fid)]

    # ------------------------------------------------------------ history
    def undo(self) -> bool:
        """Undo the last change; return False when there is nothing to undo."""
        if not self._history:
            return False
        started = time.perf_counter()
        entry = self._history.pop()
        self.candidates, self._counter, self.closed = entry["candidates"], entry["counter"], entry["closed"]
        for kind in reversed(entry["steps"]):
            self.engines[kind].undo()
        comp = self.complete()
        for _ in range(entry["comp"] if comp is not None else 0):
            comp.undo()
        if entry["action"] is not None:
            self._redo.append(entry["action"])
        self._changed(started, "")
        return True

    def redo(self) -> bool:
        """Do again the last undone change; return False when there is nothing to redo."""
        if not self._redo:
            return False
        self._do_again(self._redo.pop())
        return True

    def _do_again(self, action: tuple) -> None:
        name, args, kw = action
        if name == "batch":
            with self.one_step():
                for inner in args[0]:
                    self._do_again(inner)
            return
        fn = {
            "add": self.add_candidate,
            "move": self.move_candidate,
            "remove": self.remove_candidate,
            "close": self.close_facility,
            "clear": self.clear_candidates,
        }[name]
        fn(*args, **kw, _redo=True)

    @contextlib.contextmanager
    def one_step(self) -> Iterator[None]:
        """Make the changes done inside one undo step (opening a scenario); redo does them again together."""
        mark = len(self._history)
        try:
            yield
        finally:
            entries = self._history[mark:]
            if len(entries) > 1:
                del self._history[mark:]
                actions = [e["action"] for e in entries]
                first = entries[0]
                self._history.append(
                    {
                        "candidates": first["candidates"],
                        "counter": first["counter"],
                        "closed": first["closed"],
                        "steps": [k for e in entries for k in e["steps"]],
                        "comp": sum(e["comp"] for e in entries),
                        "action": ("batch", (actions,), {}) if all(a is not None for a in actions) else None,
                    }
                )

    @property
    def can_undo(self) -> bool:
        """True when there is something to undo."""
        return bool(self._history)

    @property
    def can_redo(self) -> bool:
        """True when there is something to redo."""
        return bool(self._redo)

    def _remember(self, steps: list[str], action=None, *, comp: int = 1, redo: bool = False) -> None:
        """Keep the state before a change, the engine steps it took, and how to do it again."""
        self._history.append(
            {
                "candidates": list(self.candidates),
                "counter": self._counter,
                "closed": list(self.closed),
                "steps": list(steps),
                "comp": comp,
                "action": action,
            }
        )
        if not redo:
            self._redo.clear()

    def _new_id(self) -> str:
        cid = self._peek_id()
        self._counter = int(cid[1:])
        return cid

    def _peek_id(self) -> str:
        """The id :meth:`_new_id` gives next, without taking it."""
        taken = self._ws_ids() | {c.id for c in self.candidates}
        counter = self._counter
        while True:
            counter += 1
            cid = f"N{counter}"
            if cid not in taken:
                return cid

    def _ws_ids(self) -> set[str]:
        """Ids of the project's facilities (new ones never take them)."""

        def build() -> set[str]:
            fac = getattr(self.ws, "eval_facilities", None)
            ids = set(self.ws.facilities["id"].astype(str))
            return ids | set(fac["id"].astype(str)) if fac is not None else ids

        return self.ws.cached(("facility_ids",), build)

    def _index(self, cid: str) -> int:
        for i, c in enumerate(self.candidates):
            if c.id == cid:
                return i
        raise KeyError(f"no candidate {cid!r}")

    def _changed(self, started: float, _cid: str) -> None:
        self._memo.clear()
        self.result()
        self.last_seconds = time.perf_counter() - started
        self.message = ""
        self.version += 1

    def full_text(self, k: int | None = None) -> str:
        """The message when more candidates would exceed :attr:`max_candidates` (``k``: a suggestion's size)."""
        cap, room = self.max_candidates, max(self.max_candidates - len(self.candidates), 0)
        if self.lang == "en":
            text = f"A session holds at most {cap} candidate sites"
            more = f" ({room} more fit)" if k is not None else ""
            return f"{text}{more}: remove or clear some before adding more."
        more = f"（还可添加 {room} 个）" if k is not None else ""
        return f"本会话最多保留 {cap} 个候选站点{more}：请先删除或清除部分站点再添加。"

    def _off_network_text(self) -> str:
        limit = f"{self.ws.snap_limit_m:g}"
        if self.lang == "en":
            return f"That site is more than {limit} m from any walkable street: choose a site on or near a street."
        return f"该位置距最近的可步行道路超过 {limit} 米，请在道路附近选址。"

    # --------------------------------------------------------------- figures
    def result(self) -> CoverageResult:
        """The coverage with the changes: the baseline distances, with those of every changed kind's engine."""
        if "result" not in self._memo:
            base = self.ws.coverage
            dist = dict(base.sample_dist)
            for kind, eng in self.engines.items():
                dist[kind] = eng.dist.copy()
            if self.engines:
                kinds = [k for k in dist if k != ANY]
                dist[ANY] = np.minimum.reduce([dist[k] for k in kinds]) if kinds else base.sample_dist[ANY]
            counts = dict(base.facility_counts)
            for c in self.candidates:
                counts[c.kind] = counts.get(c.kind, 0) + 1
            for kind, eng in self.engines.items():
                counts[kind] = len(eng.station_ids)
            self._memo["result"] = dataclasses.replace(base, sample_dist=dist, facility_counts=counts)
        return self._memo["result"]

    def headline(self, kind: str | None = None) -> Headline:
        """The headline figures of ``kind`` (default: the selected kind)."""
        kind = kind or self.kind
        res, base = self.result(), self.ws.coverage
        rows = []
        for tier in res.tiers:
            before, now = base.covered_weight(kind, tier), res.covered_weight(kind, tier)
            rows.append(
                {
                    "tier": tier,
                    "base": before,
                    "covered": now,
                    "share": now / res.total_weight if res.total_weight else 0.0,
                    "delta": now - before,
                }
            )
        return Headline(
            kind,
            res.total_weight,
            res.unreachable_weight,
            rows,
            res.total_weight - rows[-1]["covered"],
            res.total_weight - rows[-1]["base"],
        )

    def gains(self) -> pd.DataFrame:
        """What each new facility adds in its kind's coverage: covered weight lost if it were removed.

        Returns
        -------
        pandas.DataFrame
            ``id``, ``kind``, ``lon``, ``lat``, ``origin`` and ``gain_<tier>`` per tier
            (NaN for kinds the per-kind view does not cover).
        """
        res = self.result()
        w = res.samples.weight
        cols = ["id", "kind", "lon", "lat", "origin", *[f"gain_{tier_key(t)}" for t in res.tiers]]
        rows = []
        for c in self.candidates:
            row = {"id": c.id, "kind": c.kind, "lon": c.lon, "lat": c.lat, "origin": c.origin}
            eng = self.engines.get(c.kind)
            if eng is None:
                row.update({f"gain_{tier_key(t)}": float("nan") for t in res.tiers})
            else:
                kind = ANY if self.kind == ANY else c.kind
                idx, without = eng.without(c.id)  # elsewhere removing it changes nothing
                if kind == ANY:
                    others = [res.sample_dist[k][idx] for k in res.sample_dist if k not in (ANY, c.kind)]
                    if others:
                        without = np.minimum(without, np.minimum.reduce(others))
                now = res.sample_dist[kind][idx]
                for tier in res.tiers:
                    row[f"gain_{tier_key(tier)}"] = float(w[idx][now <= tier].sum() - w[idx][without <= tier].sum())
            rows.append(row)
        return pd.DataFrame(rows, columns=cols)

    @property
    def gain_kind(self) -> str:
        """The kind whose coverage suggestions count in (the chosen edit kind, when the per-kind view covers it)."""
        return self.edit_kind if self.edit_kind in self.ws.coverage.sample_dist else CANDIDATE_KIND

    def unit_table(self) -> pd.DataFrame:
        """Coverage per boundary unit (社区) for the selected kind, with the change candidates make.

        Returns
        -------
        pandas.DataFrame
            ``id``, ``name``, ``weight``, then per tier ``share_<tier>`` and
            ``delta_<tier>`` (covered weight added by the candidates); empty
            without community boundaries.
        """
        units = self.ws.communities
        if units is None or not len(units):
            return pd.DataFrame(columns=["id", "name", "weight"])
        key = ("units", self.kind)
        if key not in self._memo:
            now = self.result().by_unit(units)
            before = self._base_units()
            out = pd.DataFrame({"id": now["id"], "name": now["name"], "weight": now["weight"]})
            for tier in self.ws.tiers:
                col = f"{self.kind}_{tier_key(tier)}"
                out[f"share_{tier_key(tier)}"] = now[f"share_{col}"].to_numpy()
                out[f"delta_{tier_key(tier)}"] = now[f"covered_{col}"].to_numpy() - before[f"covered_{col}"].to_numpy()
            self._memo[key] = out
        return self._memo[key]

    def _base_units(self) -> gpd.GeoDataFrame:
        return self.ws.cached(("base_units",), lambda: self.ws.coverage.by_unit(self.ws.communities))

    def gaps(self, kind: str | None = None, tier: float | None = None) -> gpd.GeoDataFrame:
        """Gap polygons of ``kind`` (default the selected one) at ``tier``, ranked by unserved weight."""
        kind = kind or self.kind
        tier = float(tier if tier is not None else self.gap_tier)
        key = ("gaps", kind, tier)
        if key not in self._memo:
            self._memo[key] = self.result().gaps(kind, tier)
        return self._memo[key]

    def unit_distances(self, kind: str | None = None) -> np.ndarray:
        """Distance of every demand unit to the nearest facility of ``kind`` (inf beyond the largest tier)."""
        kind = kind or self.kind
        key = ("unit_dist", kind)
        if key not in self._memo:
            self._memo[key] = self.result().unit_distances(kind)
        return self._memo[key]

    def drawn_distances(self, kind: str | None = None) -> np.ndarray:
        """Distances of what the map draws: per demand unit, or per sample for demand given by zones."""
        if self.ws.demand_zones:
            return self.result().sample_dist[kind or self.kind]
        return self.unit_distances(kind)

    def drawn_reachable(self) -> np.ndarray:
        """Reachability of what the map draws (see :meth:`drawn_distances`)."""
        return self.ws.coverage.samples.reachable if self.ws.demand_zones else self.unit_reachable()

    def unit_reachable(self) -> np.ndarray:
        """True for demand units with at least one sample joined to the network."""

        def build() -> np.ndarray:
            s = self.ws.coverage.samples
            return np.bincount(s.unit, weights=s.reachable.astype(float), minlength=s.n_units) > 0

        return self.ws.cached(("unit_reachable",), build)

    def candidate_areas(self, cand: Candidate) -> dict[float, shapely.Geometry]:
        """Service areas (WGS84, simplified by a metre) of a candidate per tier, built once per site."""
        key = (cand.lon, cand.lat)
        if key not in self._area_cache:
            self._area_cache[key] = self.engine.areas(cand.lon, cand.lat, simplify_m=1.0)  # same net and tiers
        return self._area_cache[key]

    # -------------------------------------------------------------- siting
    def suggest(
        self, k: int, *, method: str = "greedy", objective: str = "cover", target: float = 0.9
    ) -> list[Candidate]:
        """Add recommended sites of :attr:`edit_kind` (推荐选址) as one undoable step.

        Parameters
        ----------
        k
            Sites to add (the most, for ``objective="lscp"``).
        method
            ``"greedy"`` (greedy plus swaps, :mod:`geo.siting`) or ``"exact"`` (HiGHS).
        objective
            ``"cover"``: the most people within :attr:`gap_tier` (MCLP); ``"complete"``: the most
            people made complete in :attr:`complete_tier` (:func:`geo.evaluate.complete.site_for_completeness`);
            ``"lscp"``: the fewest sites (at most ``k``) that bring coverage to ``target``.
        target
            Share of the weight the ``"lscp"`` objective aims for.

        Returns
        -------
        list of Candidate
            The facilities added; :attr:`suggest_info` says in words why there are fewer than ``k``.

        Raises
        ------
        ValueError
            From :class:`geo.siting.SitingError` or :class:`geo.errors.OptionError` (no usable
            candidate, K too large, a kind the tier does not require).
        """
        if len(self.candidates) + int(k) > self.max_candidates:
            raise SitingError(self.full_text(int(k)))
        started = time.perf_counter()
        kind, k = self.edit_kind, int(k)
        if objective == "complete":
            points, info = self._suggest_complete(kind, k, method)
        else:
            points, info = self._suggest_cover(kind, k, method, lscp_target=target if objective == "lscp" else None)
        added = self._add_many(points, started, kind)
        info.update(objective=objective, kind=kind, asked=k, added=len(added), seconds=time.perf_counter() - started)
        info["why"] = self._fewer_text(info) if len(added) < k else ""
        self.suggest_info = info
        return added

    def _suggest_cover(self, kind: str, k: int, method: str, lscp_target: float | None):
        cands = self._candidate_sites()
        plan = siting.plan_sites(
            self.ws.net,
            self._stations_with_candidates(),
            self.ws.demand,
            candidates=cands,
            candidate_spacing=None if cands is not None else 150.0,
            candidate_area=self._study_area(),
            radius=float(self.gap_tier),
            k=1 if lscp_target is not None else k,
            method=method,
            station_kinds=(kind,),
            samples=self.ws.coverage.samples,
            snap_limit_m=self.ws.snap_limit_m,
        )
        model = plan.model
        total = float(plan.samples.weight.sum())
        info = {"method": model.method, "optimal": bool(model.optimal)}
        if lscp_target is not None:
            goal = lscp_target * total
            info["target"] = lscp_target
            best = None
            for kk in range(1, k + 1):
                m = siting.MCLP(model.cover, kk).solve(method)
                best = m
                if m.covered_after >= goal - 1e-9 or m.gains[-1] <= 0:
                    break
            model = best
            info["reached"] = bool(model is not None and model.covered_after >= goal - 1e-9)
            info["covered_share"] = model.covered_after / total if total else 0.0
        chosen = np.asarray(model.chosen, dtype=np.int64)
        gains = np.asarray(model.gains, float)
        pts = plan.candidates.iloc[chosen]
        keep = gains > 0
        points = [(float(g.x), float(g.y)) for g, ok in zip(pts.geometry.values, keep) if ok]
        info["chosen"] = pts["id"].astype(str).to_numpy()[keep].tolist() if "id" in pts else []
        info["uncovered_reachable"] = float(model.cover.weight[np.setdiff1d(model.uncovered, model.uncoverable)].sum())
        return points, info

    def _suggest_complete(self, kind: str, k: int, method: str):
        from lifecircle.geo.evaluate.complete import site_for_completeness

        comp = self.complete()
        if comp is None:
            raise SitingError(self.complete_error)
        tier = self.complete_tier or comp.base.standard.tiers[-1].key
        plan = site_for_completeness(comp.view(), tier, kind, k, candidates=self._candidate_sites(), method=method)
        sites = plan.sites[plan.sites["gain"] > 0]
        points = [(float(g.x), float(g.y)) for g in sites.geometry.values]
        info = {
            "method": plan.method,
            "optimal": plan.optimal,
            "tier": tier,
            "chosen": sites["id"].astype(str).tolist(),
            "gain": plan.gain,
            "uncovered_reachable": 0.0 if len(sites) < k else None,
        }
        return points, info

    def _candidate_sites(self) -> gpd.GeoDataFrame | None:
        """The project's candidate sites, else those uploaded in the page (None: a grid)."""
        up = self.uploaded_candidates
        return up if up is not None else self.ws.candidates

    def _fewer_text(self, info: dict) -> str:
        """Why fewer sites than asked, in words."""
        zh = self.lang != "en"
        if info.get("objective") == "lscp" and info.get("reached"):
            share = f"{100 * info['target']:.0f}%"
            return (
                f"{info['added']} 个站点已使覆盖率达到目标 {share}，无需更多。"
                if zh
                else f"{info['added']} sites already bring coverage to the {share} target; more are not needed."
            )
        if info.get("objective") == "complete":
            return (
                "其余只缺这一类设施的居民都已被推荐站点补全；其余未完整的居民还缺其他类设施，再增此类设施也不能使其完整。"
                if zh
                else "Every resident missing only this kind is completed by the sites returned; the others also miss "
                "other kinds, so more sites of this kind would complete nobody."
            )
        return (
            "可达范围内的居民都已被服务：再增加站点也覆盖不到新的居民（其余居民离任何候选点都超出步行距离）。"
            if zh
            else "Everyone reachable is already served: another site would cover nobody new (the rest live beyond "
            "walking distance of every candidate site)."
        )

    def _add_many(
        self, points: list[tuple[float, float]], started: float, kind: str = CANDIDATE_KIND
    ) -> list[Candidate]:
        found = [(round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)) for lon, lat in points]
        history, counter, closed = list(self.candidates), self._counter, list(self.closed)
        added, steps = [], []
        area = float(self.new_area_m2) if kind == "park" else None
        for lon, lat in found:
            cand = Candidate(self._peek_id(), lon, lat, "suggested", kind, area)
            try:
                steps += self._add_engines(cand)
            except SitingError:  # off the network
                continue
            self._new_id()
            self.candidates = [*self.candidates, cand]
            added.append(cand)
        if not added:
            return []
        self._history.append(
            {
                "candidates": history,
                "counter": counter,
                "closed": closed,
                "steps": steps,
                "comp": len(added),
                "action": None,
            }
        )
        self._redo.clear()
        self._changed(started, "")
        return added

    def _stations_with_candidates(self) -> gpd.GeoDataFrame:
        """Every open facility point (closed ones left out) plus the new ones."""
        fac = getattr(self.ws, "eval_facilities", None)
        fac = self.ws.facilities if fac is None else fac
        fac = fac[shapely.get_type_id(fac.geometry.values) == 0][["id", "kind", "geometry"]]
        if self.closed:
            fac = fac[~fac["id"].astype(str).isin(self.closed_points())]
        if not self.candidates:
            return fac
        extra = gpd.GeoDataFrame(
            {"id": [c.id for c in self.candidates], "kind": [c.kind for c in self.candidates]},
            geometry=shapely.points([[c.lon, c.lat] for c in self.candidates]),
            crs="EPSG:4326",
        )
        return gpd.GeoDataFrame(pd.concat([fac, extra], ignore_index=True), geometry="geometry", crs="EPSG:4326")

    def _study_area(self):
        for frame in (self.ws.streets, self.ws.communities):
            if frame is not None and len(frame):
                return frame
        return None

    # ------------------------------------------------------------- exports
    def candidates_frame(self) -> gpd.GeoDataFrame:
        """The candidates as sites (DESIGN's sites layout: ``id``, ``rank``, ``gain``), WGS84 points."""
        gains = self.gains()
        top = f"gain_{tier_key(self.ws.tiers[-1])}"
        frame = gpd.GeoDataFrame(
            {
                "id": gains["id"],
                "rank": np.arange(1, len(gains) + 1),
                "gain": gains[top].round(3) if len(gains) else [],
                "kind": gains["kind"],
                "origin": gains["origin"],
                **{c: gains[c].round(3) for c in gains.columns if c.startswith("gain_")},
                "gain_kind": self.gain_kind,
            },
            geometry=shapely.points(gains[["lon", "lat"]].to_numpy()) if len(gains) else [],
            crs="EPSG:4326",
        )
        return frame

    def areas_frame(self) -> gpd.GeoDataFrame:
        """Service areas of the existing facilities and of the candidates (``candidate`` flags them)."""
        base = self.ws.areas.assign(candidate=False)
        rows = [
            {"facility_id": c.id, "kind": CANDIDATE_KIND, "name": c.id, "tier_m": t, "candidate": True, "geometry": g}
            for c in self.candidates
            for t, g in self.candidate_areas(c).items()
        ]
        if not rows:
            return base
        extra = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
        return gpd.GeoDataFrame(pd.concat([base, extra], ignore_index=True), geometry="geometry", crs="EPSG:4326")

    def coverage_frame(self) -> gpd.GeoDataFrame:
        """The demand units with their distances (the coverage GeoJSON's layout)."""
        return self.result().to_geodataframe()

    def summary(self) -> dict:
        """The coverage summary JSON (DESIGN's layout) with the candidates listed."""
        out = self.result().summary()
        out["candidates"] = self.gains().to_dict("records")
        return out


def _what_if_engine(ws: Workspace, kind: str = CANDIDATE_KIND) -> siting.WhatIf:
    """The what-if engine of one session and kind: a fork of the process's (one full search per kind and process)."""
    from .complete import fork_engine

    template = ws.cached(
        ("whatif", kind),
        lambda: siting.WhatIf.from_frames(
            ws.net,
            ws.facilities,
            ws.demand,
            kinds=(kind,),
            tiers=ws.tiers,
            samples=ws.coverage.samples,
            snap_limit_m=ws.snap_limit_m,
        ),
    )
    return fork_engine(template)
