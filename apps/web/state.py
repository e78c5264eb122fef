"""One planner's session: settings, candidate micro-stations and the figures they give.

:class:`PlannerState` is created once per browser session (and can be used
on its own in a notebook).  Every candidate step goes through the one
what-if engine, :class:`geo.siting.WhatIf`: adding a candidate runs one
bounded search from the new site and merges it into the nearest-distance
arrays; moving, removing and undoing update only the samples they change.
Every figure the page shows comes from :meth:`PlannerState.result`, a
:class:`geo.coverage.CoverageResult` with the engine's distances, and each
candidate's gain from :meth:`geo.siting.WhatIf.without`.

Example
-------
>>> from apps.web.project import load_demo
>>> from apps.web.state import PlannerState
>>> state = PlannerState(load_demo())
>>> state.add_candidate(114.0585, 22.5628)        # doctest: +SKIP
>>> state.headline().rows                         # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import param
import shapely

from lifecircle.geo import settings
from lifecircle.geo import siting
from lifecircle.geo.coverage import ANY, CoverageResult, tier_key
from lifecircle.geo.errors import SitingError
from .workspace import CANDIDATE_KIND, Workspace

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
        self._history: list[tuple[list[Candidate], int, int]] = []
        self._counter = 0
        self._memo: dict = {}
        self.last_seconds = 0.0
        self.engine = _what_if_engine(workspace)
        self._area_cache: dict[tuple[float, float], dict] = {}
        self.suggest_info: dict = {}
        #: Most candidates this session holds (each keeps its distances to every demand sample).
        self.max_candidates = int(settings.MAX_CANDIDATES_PER_SESSION)

    # ------------------------------------------------------------ candidates
    def add_candidate(self, lon: float, lat: float, *, origin: str = "click") -> Candidate | None:
        """Place a candidate micro-station; return it, or None when the site is off the network.

        Parameters
        ----------
        lon, lat
            The site in WGS84.
        origin
            ``"click"`` or ``"suggested"``.
        """
        started = time.perf_counter()
        if len(self.candidates) >= self.max_candidates:
            self.message = self.full_text()
            return None
        lon, lat = round(float(lon), COORD_DECIMALS), round(float(lat), COORD_DECIMALS)
        cand = Candidate(self._peek_id(), lon, lat, origin)
        try:
            self.engine.add(lon, lat, cand.id)
        except SitingError:  # off the network
            self.message = self._off_network_text()
            return None
        self._remember(steps=1)
        self._new_id()
        self.candidates = [*self.candidates, cand]
        self._changed(started, cand.id)
        return cand

    def move_candidate(self, cid: str, lon: float, lat: float) -> Candidate | None:
        """Move a candidate to a new site (one bounded search); None when the site is off the network."""
        started = time.perf_counter()
        idx = self._index(cid)
        lon, lat = round(float(lon), COORD_DECIMALS), round(float(lat), COORD_DECIMALS)
        try:
            self.engine.move(cid, lon, lat)
        except SitingError:  # off the network: the engine keeps the candidate where it was
            self.message = self._off_network_text()
            self.version += 1  # redraw the candidate where it was
            return None
        self._remember(steps=1)
        old = self.candidates[idx]
        moved = dataclasses.replace(old, lon=lon, lat=lat)
        self.candidates = [*self.candidates[:idx], moved, *self.candidates[idx + 1:]]
        self._changed(started, cid)
        return moved

    def remove_candidate(self, cid: str) -> None:
        """Remove a candidate."""
        started = time.perf_counter()
        idx = self._index(cid)
        self._remember(steps=1)
        self.engine.remove(cid)
        self.candidates = [*self.candidates[:idx], *self.candidates[idx + 1:]]
        self._changed(started, cid)

    def clear_candidates(self) -> None:
        """Remove every candidate (undoable)."""
        if self.candidates:
            started = time.perf_counter()
            self._remember(steps=len(self.candidates))
            for c in self.candidates:
                self.engine.remove(c.id)
            self.candidates = []
            self._changed(started, "")

    def undo(self) -> bool:
        """Undo the last add, move, remove or clear; return False when there is nothing to undo."""
        if not self._history:
            return False
        started = time.perf_counter()
        self.candidates, self._counter, steps = self._history.pop()
        for _ in range(steps):
            self.engine.undo()
        self._changed(started, "")
        return True

    @property
    def can_undo(self) -> bool:
        """True when there is something to undo."""
        return bool(self._history)

    def _remember(self, steps: int) -> None:
        """Keep the candidates before a change, and how many engine steps the change takes."""
        self._history.append((list(self.candidates), self._counter, steps))

    def _new_id(self) -> str:
        cid = self._peek_id()
        self._counter = int(cid[1:])
        return cid

    def _peek_id(self) -> str:
        """The id :meth:`_new_id` gives next, without taking it."""
        taken = set(self.ws.facilities["id"].astype(str)) | {c.id for c in self.candidates}
        counter = self._counter
        while True:
            counter += 1
            cid = f"N{counter}"
            if cid not in taken:
                return cid

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
        """The coverage with the candidates: the baseline distances merged with theirs."""
        if "result" not in self._memo:
            base = self.ws.coverage
            dist = dict(base.sample_dist)
            dist[CANDIDATE_KIND] = self.engine.dist.copy()
            dist[ANY] = np.minimum(base.sample_dist[ANY], dist[CANDIDATE_KIND])
            counts = dict(base.facility_counts)
            counts[CANDIDATE_KIND] = counts.get(CANDIDATE_KIND, 0) + len(self.candidates)
            self._memo["result"] = dataclasses.replace(base, sample_dist=dist, facility_counts=counts)
        return self._memo["result"]

    def headline(self, kind: str | None = None) -> Headline:
        """The headline figures of ``kind`` (default: the selected kind)."""
        kind = kind or self.kind
        res, base = self.result(), self.ws.coverage
        rows = []
        for tier in res.tiers:
            before, now = base.covered_weight(kind, tier), res.covered_weight(kind, tier)
            rows.append({"tier": tier, "base": before, "covered": now,
                         "share": now / res.total_weight if res.total_weight else 0.0, "delta": now - before})
        return Headline(kind, res.total_weight, res.unreachable_weight, rows,
                        res.total_weight - rows[-1]["covered"], res.total_weight - rows[-1]["base"])

    def gains(self) -> pd.DataFrame:
        """What each candidate adds for the gain kind: covered weight lost if it were removed.

        Returns
        -------
        pandas.DataFrame
            ``id``, ``lon``, ``lat``, ``origin`` and ``gain_<tier>`` per tier.
        """
        kind = self.gain_kind
        res = self.result()
        w = res.samples.weight
        now = res.sample_dist[kind]
        rows = []
        for c in self.candidates:
            idx, without = self.engine.without(c.id)  # elsewhere removing it changes nothing
            if kind == ANY:
                without = np.minimum(without, self.ws.coverage.sample_dist[ANY][idx])
            row = {"id": c.id, "lon": c.lon, "lat": c.lat, "origin": c.origin}
            for tier in res.tiers:
                row[f"gain_{tier_key(tier)}"] = float(w[idx][now[idx] <= tier].sum() - w[idx][without <= tier].sum())
            rows.append(row)
        return pd.DataFrame(rows, columns=["id", "lon", "lat", "origin", *[f"gain_{tier_key(t)}" for t in res.tiers]])

    @property
    def gain_kind(self) -> str:
        """The kind whose coverage candidates' gains are counted in."""
        return self.kind if self.kind in (CANDIDATE_KIND, ANY) else CANDIDATE_KIND

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
            self._area_cache[key] = self.engine.areas(cand.lon, cand.lat, simplify_m=1.0)
        return self._area_cache[key]

    # -------------------------------------------------------------- siting
    def suggest(self, k: int, *, method: str = "greedy") -> list[Candidate]:
        """Add the best ``k`` new sites for the gain kind (:func:`geo.siting.plan_sites`), as one undoable step.

        Sites come from the workspace's candidate layer, or from a 150 m grid
        over the study area; the current candidates count as existing stations.
        The service radius is :attr:`gap_tier`.

        Returns
        -------
        list of Candidate
            The candidates added (fewer than ``k`` when more would cover nobody new).

        Raises
        ------
        ValueError
            From :class:`geo.siting.SitingError` (no usable candidate, K too large).
        """
        if len(self.candidates) + int(k) > self.max_candidates:
            raise SitingError(self.full_text(int(k)))
        started = time.perf_counter()
        plan = siting.plan_sites(
            self.ws.net, self._stations_with_candidates(), self.ws.demand,
            candidates=self.ws.candidates, candidate_spacing=None if self.ws.candidates is not None else 150.0,
            candidate_area=self._study_area(), radius=float(self.gap_tier), k=int(k), method=method,
            station_kinds=None if self.gain_kind == ANY else (CANDIDATE_KIND,),
            samples=self.ws.coverage.samples, snap_limit_m=self.ws.snap_limit_m,
        )
        sites = plan.sites()
        sites = sites[sites["gain"] > 0]
        added = self._add_many([(float(r.lon), float(r.lat)) for r in sites.itertuples()], started)
        self.suggest_info = {"method": plan.model.method, "optimal": bool(plan.model.optimal),
                             "chosen": sites["id"].astype(str).tolist(), "seconds": time.perf_counter() - started}
        return added

    def _add_many(self, points: list[tuple[float, float]], started: float) -> list[Candidate]:
        found = [(round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)) for lon, lat in points]
        history, counter = list(self.candidates), self._counter
        added = []
        for lon, lat in found:
            cand = Candidate(self._peek_id(), lon, lat, "suggested")
            try:
                self.engine.add(lon, lat, cand.id)
            except SitingError:  # off the network
                continue
            self._new_id()
            self.candidates = [*self.candidates, cand]
            added.append(cand)
        if not added:
            return []
        self._history.append((history, counter, len(added)))
        self._changed(started, "")
        return added

    def _stations_with_candidates(self) -> gpd.GeoDataFrame:
        fac = self.ws.facilities[["id", "kind", "geometry"]]
        if not self.candidates:
            return fac
        extra = gpd.GeoDataFrame({"id": [c.id for c in self.candidates], "kind": CANDIDATE_KIND},
                                 geometry=shapely.points([[c.lon, c.lat] for c in self.candidates]), crs="EPSG:4326")
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
                "kind": CANDIDATE_KIND,
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
        rows = [{"facility_id": c.id, "kind": CANDIDATE_KIND, "name": c.id, "tier_m": t, "candidate": True, "geometry": g}
                for c in self.candidates for t, g in self.candidate_areas(c).items()]
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


def _what_if_engine(ws: Workspace) -> siting.WhatIf:
    """The what-if engine of one session, on the candidates' kind."""
    return siting.WhatIf.from_frames(
        ws.net, ws.facilities, ws.demand, kinds=(CANDIDATE_KIND,), tiers=ws.tiers,
        samples=ws.coverage.samples, snap_limit_m=ws.snap_limit_m,
    )
