"""The data an app process serves: loaded and computed once, shared read-only.

A :class:`Workspace` holds the walking network, the facilities, the demand,
the boundaries and parking layers, the baseline coverage and the service
areas of the existing facilities, and caches the map layers built from them.
Every browser session reads it and keeps its own candidates in a
:class:`apps.web.state.PlannerState`.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from lifecircle.geo import coverage as gcov
from lifecircle.geo import reach
from lifecircle.geo.network import DEFAULT_SNAP_LIMIT_M, WalkNetwork
from lifecircle.geo.standards import DEFAULT_TIERS, KindRegistry, parse_tiers
from lifecircle.layers import geojson as lgj

__all__ = ["CANDIDATE_KIND", "Workspace"]

#: Gaps labelled with their rank on a city's map (the vector map labels its first 8 too).
GAP_LABELS = 8
#: Kind of the stations the planner adds.
CANDIDATE_KIND = "micro_station"
#: Zooms (and layers) of the city view's tiles warmed at start, in this order (a city fits at zoom 12
#: in a 1440 x 900 window).
WARM_ZOOMS = (12, 11, 10)
WARM_LAYERS = ("streets", "areas", "gaps")


@dataclass
class Workspace:
    """Everything one app process serves (treat as read-only after :meth:`prepare`).

    Attributes
    ----------
    title
        Shown in the page header.
    is_demo
        True for the generated demo district (the page says so).
    net
        The walking network.
    facilities
        WGS84 points with ``id``, ``name``, ``kind``.
    demand
        WGS84 points or polygons with ``id`` and ``weight`` (population).
    kinds
        The facility kinds (labels, colours).
    tiers
        Life-circle tiers in metres.
    communities, streets
        Boundary polygons (社区, 街道) with ``id`` and ``name``, or None.
    candidates, lots, residences
        Optional point layers (candidate sites, parking lots, compounds).
    snap_limit_m
        Points farther from the network are unreachable.
    eval_facilities
        Every facility of the project for the complete life-circle view (points and polygons,
        entrances with ``entrance_of``); None: :attr:`facilities`.
    standard
        The standard pack of the complete view (name or TOML path).
    project_path
        The PROJECT.toml this workspace was loaded from (its scenarios live beside it); None for
        the demo.
    """

    title: str
    is_demo: bool
    net: WalkNetwork
    facilities: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    kinds: KindRegistry = field(default_factory=KindRegistry)
    tiers: tuple[float, ...] = DEFAULT_TIERS
    communities: gpd.GeoDataFrame | None = None
    streets: gpd.GeoDataFrame | None = None
    candidates: gpd.GeoDataFrame | None = None
    lots: gpd.GeoDataFrame | None = None
    residences: gpd.GeoDataFrame | None = None
    snap_limit_m: float = DEFAULT_SNAP_LIMIT_M
    eval_facilities: gpd.GeoDataFrame | None = None
    standard: str = "gb50180-2018"
    project_path: Path | None = None
    coverage: gcov.CoverageResult | None = None
    areas: gpd.GeoDataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _key_locks: dict = field(default_factory=dict, repr=False)
    _zones_memo: tuple | None = field(default=None, repr=False)  # (demand frame, demand_zones)
    _gap_jobs: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ computing
    def prepare(
        self, progress: Callable[[str], None] | None = None, meanwhile: Callable[[], None] | None = None
    ) -> Workspace:
        """Compute the baseline coverage, the existing facilities' service areas and the map's heavy layers.

        Tracing a city's service areas keeps the worker processes busy for seconds (all cores); the
        coverage, the map's layers that need no service area (:meth:`_prepare_map_early`) and
        ``meanwhile`` (the caller's own warm-up) are made in this process during that time.
        """
        say = progress or (lambda _msg: None)
        self.tiers = parse_tiers(self.tiers)
        early_s = 0.0

        def early() -> None:
            nonlocal early_s
            started = time.perf_counter()
            self.coverage = gcov.compute_coverage(
                self.net,
                self.facilities,
                self.demand,
                tiers=self.tiers,
                kinds=self.analysis_kinds(),
                snap_limit_m=self.snap_limit_m,
            )
            self.timings["coverage_s"] = time.perf_counter() - started
            say(f"coverage of {len(self.demand):,} demand units computed")
            self._prepare_map_early()
            if meanwhile is not None:
                meanwhile()
            early_s = time.perf_counter() - started

        say("building service areas ...")
        started = time.perf_counter()
        self.areas = self._facility_areas(meanwhile=early)
        self.timings["areas_s"] = time.perf_counter() - started - early_s
        self.timings["early_s"] = early_s
        started = time.perf_counter()
        self.prepare_map()
        self.timings["map_s"] = time.perf_counter() - started
        return self

    def _prepare_map_early(self) -> None:
        """The city map's layers that need no service area: the street tiles' index, 社区 outlines, facility
        clusters, the residents' payload and every first visitor's gaps (made once; :meth:`prepare_map`
        calls it too)."""
        if not self.city_scale or self._cache.get("map_early"):
            return
        from . import tiles

        t = tiles.prepare(self, build=False)
        self._gaps_job(CANDIDATE_KIND, float(self.tiers[-1]), "wgs84")  # on the background thread, not awaited
        if self.city_streets:
            t.street_tiles("wgs84")
        self.boundaries_text("wgs84")
        self.facility_clusters_text("wgs84")
        if self.city_points:
            self.demand_points_ref("wgs84")  # built, gzipped and served from the app's route
        self._cache["map_early"] = True

    def prepare_map(self) -> None:
        """Build the map's heavy layers once, before any visitor (at city scale: tile indexes, the first gaps;
        the city view's tiles are warmed on the background thread, the fitted zoom first)."""
        if not self.city_scale:
            return
        self._prepare_map_early()
        if self.city_areas:
            self.map_tiles().area_tiles("wgs84")

    def warm_tiles_later(self) -> Future | None:
        """The city view's tiles rendered on the background thread, the fitted zoom first (a city's).

        The server calls it once it listens: 1.3 s of CPU for the fitted view's three layers at 200k
        nodes, done while the first browser comes (a second or two); a visitor's own tiles go first
        (each tile of the warm-up waits while one was served just before).
        """
        return _background().submit(self._warm_tiles, WARM_ZOOMS) if self.city_scale else None

    def settle_heap(self) -> None:
        """Once the start's layers are made: collect once, then ``gc.freeze()`` (~0.1 s at 200k nodes).

        A city's workspace is millions of long-lived objects; without this every full collection
        during a session walks them all again (up to 380 ms during a click at 500k nodes measured).
        Frozen objects are never collected, so only the server calls this, once, before it is ready.
        """
        gc.collect()
        gc.freeze()

    def _warm_tiles(self, zooms: tuple[int, ...] = WARM_ZOOMS, layers: tuple[str, ...] = WARM_LAYERS) -> int:
        """Render the city view's tiles (``layers`` at ``zooms``, over the study area) into the tile cache.

        Each tile waits while a visitor was served just before (their own tiles first).
        """
        from lifecircle.layers import tiles

        t, done = self.map_tiles(), 0
        gap_set = ""
        if "gaps" in layers and (CANDIDATE_KIND, float(self.tiers[-1]), "wgs84") in self._gap_jobs:
            # every first visitor's gaps: rendered on demand they were the first page's slowest tiles
            gap_set = t.gap_set(json.loads(self.baseline_gaps_text(CANDIDATE_KIND, self.tiers[-1]))["tiles"])
        draw = [
            (layer, kw)
            for layer, kw, wanted in (
                ("streets", {}, self.city_streets),
                ("areas", {"kind": CANDIDATE_KIND}, self.city_areas),
                ("gaps", {"kind": gap_set}, bool(gap_set)),
            )
            if wanted and layer in layers
        ]
        west, south, east, north = self.bounds()
        for z in zooms:
            x0, y1 = (int(v * 2**z) for v in tiles.mercator(west, south))
            x1, y0 = (int(v * 2**z) for v in tiles.mercator(east, north))
            for x in range(x0, x1 + 1):
                for y in range(y0, y1 + 1):
                    t.wait_for_quiet()  # a visitor's own tiles first
                    for layer, kw in draw:
                        try:
                            t.render(layer, "wgs84", z, x, y, **kw)
                        except KeyError:  # a gap set already pushed out by newer ones
                            pass
                    done += 1
        return done

    def baseline_gaps_job(self, kind: str, tier: float, crs: str = "wgs84") -> Future:
        """The future of :meth:`baseline_gaps_text` (started by :meth:`_prepare_map_early` for the first view)."""
        return self._gaps_job(kind, float(tier), crs)

    def baseline_gaps_text(self, kind: str, tier: float, crs: str = "wgs84") -> str:
        """The baseline gaps of ``kind`` at ``tier`` as :meth:`gap_tiles_text`, made once per process (city scale)."""
        return self._gaps_job(kind, float(tier), crs).result()

    def gap_tiles_text(self, gaps: gpd.GeoDataFrame, crs: str = "wgs84") -> str:
        """A city's gaps for the map: ``{"tiles": url, "labels": [[lon, lat, rank, unserved, share], ...]}`` (JSON).

        The polygons are drawn as tiles (:meth:`apps.web.tiles.MapTiles.publish_gaps`); the ranked
        labels of the largest gaps carry their figures.
        """
        if not len(gaps):
            return json.dumps({"tiles": "", "labels": []})
        url = self.map_tiles().publish_gaps(gaps, crs)
        top = gaps.sort_values("rank").head(GAP_LABELS)
        inside = shapely.point_on_surface(np.asarray(top.geometry.values, dtype=object))
        lon, lat = _map_xy(shapely.get_coordinates(inside), crs)
        labels = [
            [round(float(a), 6), round(float(b), 6), int(r), float(u), float(sh)]
            for a, b, r, u, sh in zip(lon, lat, top["rank"], top["unserved_weight"], top["share_of_unserved"])
        ]
        return json.dumps({"tiles": url, "labels": labels})

    def gap_tiles_later(
        self, gaps: Callable[[], gpd.GeoDataFrame], crs: str = "wgs84", wanted: Callable[[], bool] | None = None
    ) -> Future:
        """:meth:`gap_tiles_text` of ``gaps()`` on the background thread: a session's gaps take seconds in a city.

        ``wanted`` is asked when the job's turn comes: False (the session changed again meanwhile, and a
        newer job is queued) skips it, the future's result is then None.  Clicks come faster than a
        city's gaps (~1 s of CPU each), and stale ones competed with the next click for the CPU.
        """

        def job() -> str | None:
            self.map_tiles().wait_for_foreground()  # a click being handled first (the job holds the GIL ~1 s)
            if wanted is not None and not wanted():
                return None
            return self.gap_tiles_text(gaps(), crs)

        return _background().submit(job)

    def _gaps_job(self, kind: str, tier: float, crs: str) -> Future:
        key = (kind, tier, crs)
        with self._lock:
            if key not in self._gap_jobs:
                self._gap_jobs[key] = _background().submit(
                    lambda: self.gap_tiles_text(self.coverage.gaps(kind, tier), crs)
                )
            return self._gap_jobs[key]

    def analysis_kinds(self) -> list[str]:
        """Kinds present in the facilities plus the candidates' kind, in registry order."""
        present = set(self.facilities["kind"].astype(str)) | {CANDIDATE_KIND}
        ordered = [k for k in self.kinds.keys() if k in present]
        return ordered + sorted(present - set(ordered))

    def _facility_areas(self, meanwhile: Callable[[], None] | None = None) -> gpd.GeoDataFrame:
        """Service-area polygons (WGS84) of every reachable facility and tier.

        The one service-area orchestration, :func:`geo.reach.facility_service_areas` (the CLI's
        ``areas`` command runs it too), with the app's columns: ``facility_id``, ``kind``,
        ``name`` ("" when missing), ``tier_m``, geometry.  ``meanwhile`` is called once, in this
        thread: while the areas are traced, at the first progress report (by then the worker
        processes are forked, so no thread of this process is copied into them), else after them.
        """
        columns = ["facility_id", "kind", "name", "tier_m"]
        pending = [meanwhile] if meanwhile is not None else []

        def run_meanwhile(*_args) -> None:
            while pending:
                pending.pop()()

        if len(self.facilities) == 0:
            run_meanwhile()
            return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs="EPSG:4326")
        facilities = self.facilities[["id", "kind", "geometry"]].assign(
            name=[_text(v) for v in self.facilities["name"]] if "name" in self.facilities else ""
        )
        key = _areas_key(self.net, facilities, self.tiers, self.snap_limit_m)
        cached = _read_areas(key)
        if cached is not None:
            self.timings["areas_cached"] = 1.0
            run_meanwhile()
            return cached
        areas = reach.facility_service_areas(
            self.net, facilities, self.tiers, snap_limit_m=self.snap_limit_m, progress=run_meanwhile
        )
        run_meanwhile()
        if len(areas) == 0:
            return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs="EPSG:4326")
        frame = areas[[*columns, areas.geometry.name]].reset_index(drop=True)
        frame = frame.to_crs("EPSG:4326") if frame.crs is not None else frame.set_crs("EPSG:4326")
        _write_areas_later(key, frame)  # on a thread (~1 s, mostly outside the GIL): the map's layers go on
        return frame

    # --------------------------------------------------------------- city scale
    @property
    def city_scale(self) -> bool:
        """True for a city: a network of :data:`layers.tiles.CITY_EDGES` edges or more, or many facilities.

        Only then are layers drawn the city way (tiles, compact points, clusters); a district's map
        stays as it is, however many residents its zones are spread into.
        """
        return self.city_streets or self._n_facilities() >= _tiles().CLUSTER_MIN

    @property
    def city_streets(self) -> bool:
        """Streets drawn as tiles (a network of :data:`layers.tiles.CITY_EDGES` edges or more)."""
        return self.net.n_edges >= _tiles().CITY_EDGES

    @property
    def city_areas(self) -> bool:
        """Service areas of the existing facilities drawn as tiles (a city with many polygons)."""
        return self.city_scale and self.areas is not None and len(self.areas) >= _tiles().CLUSTER_MIN

    @property
    def city_points(self) -> bool:
        """Residents drawn from a compact payload on a canvas (many points)."""
        n = self.coverage.samples.xy.shape[0] if self.demand_zones and self.coverage is not None else len(self.demand)
        return n >= _tiles().CITY_POINTS and self.city_scale

    def _n_facilities(self) -> int:
        return len(self.facilities)

    def map_tiles(self):
        """The workspace's :class:`apps.web.tiles.MapTiles` (its indexes are built by :meth:`prepare_map`)."""
        from . import tiles

        return tiles.prepare(self, build=False)

    def tile_urls(self, kind: str, crs: str = "wgs84") -> str:
        """JSON text of the tile layers the map draws (empty object for a district)."""
        out = {}
        if self.city_streets or self.city_areas:
            t = self.map_tiles()
            if self.city_streets:
                out["streets"] = t.url("streets", crs)
            if self.city_areas:
                out["areas"] = t.url("areas", crs, kind=kind)
        return json.dumps(out)

    def demand_points_text(self, crs: str = "wgs84") -> str:
        """The drawn residents as :func:`layers.tiles.points_payload` text (city scale)."""

        def build() -> str:
            ids = self.demand["id"].astype(str).to_numpy()
            names = (self.demand["name"] if "name" in self.demand else self.demand["id"]).to_numpy()
            if self.demand_zones:
                smp = self.coverage.samples
                lonlat, unit, w = self.net.to_lonlat(smp.xy), smp.unit, smp.weight
                ids, names = ids[unit], names[unit]
            else:
                pts = shapely.point_on_surface(self.demand.geometry.values)
                lonlat, w = shapely.get_coordinates(pts), self.demand["weight"].to_numpy()
            lon, lat = _map_xy(lonlat, crs)
            return _tiles().points_payload(lon, lat, ids, [_text(n) for n in names], w)

        return self.cached(("demand_points", crs), build)

    def demand_points_ref(self, crs: str = "wgs84") -> str:
        """``{"url"}`` JSON text: where the page fetches :meth:`demand_points_text` (city scale).

        The payload (1 MB and more at 100,000 residents) is the same for every session: it is served
        once gzipped from the app's own route (:meth:`apps.web.tiles.MapTiles.publish_data`), not sent
        inside each session's document.
        """

        text = self.demand_points_text(crs)
        url = self.map_tiles().publish_data(f"demand_points-{crs}", text)  # gzipped once per name
        return json.dumps({"url": url})

    def facility_clusters_text(self, crs: str = "wgs84", frame: gpd.GeoDataFrame | None = None, key: str = "") -> str:
        """Per-zoom clusters of the facility points (``frame``, default :attr:`facilities`) as JSON text."""

        def build() -> str:
            fac = self.facilities if frame is None else frame
            xy = shapely.get_coordinates(shapely.point_on_surface(fac.geometry.values))
            lon, lat = _map_xy(xy, crs)
            return _tiles().facility_clusters(lon, lat, fac["kind"].astype(str), fac["id"].astype(str))

        return self.cached(("facility_clusters", key, crs), build)

    def boundaries_text(self, crs: str = "wgs84") -> str:
        """街道/社区 outlines with names; at city scale each 社区 label with the zoom it shows from (``lz``)."""
        from lifecircle.layers import maplayers as lml

        def build() -> str:
            frames = self.boundary_frames()
            zoom = at = None
            units = dict(frames).get("community")
            if units is not None and len(units) >= _tiles().LABEL_THIN_MIN:
                xy = shapely.get_coordinates(shapely.point_on_surface(units.geometry.values))
                lon, lat = _map_xy(xy, crs)
                zoom = _tiles().label_min_zoom(lon, lat, units["name"].astype(str).tolist())
                at = np.column_stack([lon, lat])
            return lml.boundaries_text(frames, crs=crs, label_zoom=zoom, label_at=at)

        return self.cached(("boundaries", crs), build)

    # --------------------------------------------------------------- layers
    def cached(self, key: tuple, build: Callable[[], object]) -> object:
        """Return ``build()`` computed once per process for ``key``.

        Each key has its own lock while it is built: a session asking for a layer another one is
        building waits for that one only, others read theirs meanwhile, and a ``build`` may itself
        ask for another key (one process-wide lock held while building blocked every session behind
        the slowest layer and deadlocked on a nested call).
        """
        try:
            return self._cache[key]
        except KeyError:
            pass
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._cache:
                value = build()
                with self._lock:
                    self._cache[key] = value
        return self._cache[key]

    def streets_text(self, crs: str = "wgs84") -> str:
        """The network's streets as the map's vector base layer (GeoJSON text)."""
        return self.cached(("streets", crs), lambda: lgj.streets_layer(self.net, crs=crs))

    def boundary_frames(self) -> list[tuple[str, gpd.GeoDataFrame]]:
        """``[("street", frame), ("community", frame)]`` for the layers present."""
        out = []
        if self.streets is not None and len(self.streets):
            out.append(("street", self.streets))
        if self.communities is not None and len(self.communities):
            out.append(("community", self.communities))
        return out

    def facilities_text(self, crs: str = "wgs84") -> str:
        """The facilities as points with ``id``, ``name``, ``kind``."""

        def build() -> str:
            props = [
                {"id": str(r.id), "name": _text(r.name), "kind": str(r.kind)}
                for r in self.facilities[["id", "name", "kind"]].itertuples(index=False)
            ]
            return lgj.feature_collection(self.facilities.geometry.values, props, crs=crs)

        return self.cached(("facilities", crs), build)

    def areas_text(self, crs: str = "wgs84") -> str:
        """The existing facilities' service areas (simplified) as GeoJSON text."""

        def build() -> str:
            geoms = shapely.simplify(self.areas.geometry.values, 1e-5)
            props = [
                {"id": r.facility_id, "kind": r.kind, "tier": float(r.tier_m)}
                for r in self.areas.itertuples(index=False)
            ]
            return lgj.feature_collection(geoms, props, crs=crs)

        return self.cached(("areas", crs), build)

    @property
    def demand_zones(self) -> bool:
        """True when the demand is given by zones (polygons): the map draws the residents they are spread into.

        Asked several times per click; the geometry types are read once per demand frame.
        """
        memo = self._zones_memo
        if memo is None or memo[0] is not self.demand:
            types = shapely.get_type_id(self.demand.geometry.values)
            memo = self._zones_memo = (self.demand, bool(np.isin(types, (3, 6)).any()))
        return memo[1]

    def demand_text(self, crs: str = "wgs84") -> str:
        """The demand drawn: points with ``i``, ``id``, ``name``, ``w`` (classes are sent apart).

        Demand given by zones is drawn as the sample points its people are spread into (one
        dot per sample, ``i`` its sample index, ``w`` its share of the zone's people), never as
        filled zones that would hide the service areas.
        """
        if self.demand_zones:
            return self.cached(("demand_samples", crs), lambda: self._samples_text(crs))

        def build() -> str:
            names = self.demand["name"] if "name" in self.demand else self.demand["id"]
            props = [
                {"i": i, "id": str(a), "name": _text(n), "w": round(float(w), 1)}
                for i, (a, n, w) in enumerate(zip(self.demand["id"], names, self.demand["weight"]))
            ]
            return lgj.feature_collection(self.demand.geometry.values, props, crs=crs)

        return self.cached(("demand", crs), build)

    def _samples_text(self, crs: str) -> str:
        smp = self.coverage.samples
        lonlat = self.net.to_lonlat(smp.xy)
        names = (self.demand["name"] if "name" in self.demand else self.demand["id"]).to_numpy()
        ids = self.demand["id"].astype(str).to_numpy()
        props = [
            {"i": i, "id": ids[u], "name": _text(names[u]), "w": round(float(w), 1)}
            for i, (u, w) in enumerate(zip(smp.unit, smp.weight))
        ]
        return lgj.feature_collection(shapely.points(lonlat), props, crs=crs)

    def bounds(self) -> tuple[float, float, float, float]:
        """WGS84 (west, south, east, north) of the study area."""
        if self.streets is not None and len(self.streets):
            return tuple(float(v) for v in self.streets.total_bounds)
        return tuple(float(v) for v in self.demand.total_bounds)


_BACKGROUND: list[ThreadPoolExecutor] = []


def _background() -> ThreadPoolExecutor:
    """One worker thread per process for the layers made after the server starts listening."""
    if not _BACKGROUND:
        _BACKGROUND.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="lifecircle-layers"))
    return _BACKGROUND[0]


# ------------------------------------------------------------------ the service areas' cache
#: The code whose change invalidates cached service areas (besides the inputs).
_AREA_CODE = (
    "geo/service_areas.py",
    "geo/street_faces.py",
    "geo/reach.py",
    "geo/network/core.py",
    "geo/network/strokes.py",
)
#: Sets of cached service areas kept (each project's latest, for a few projects).
_AREA_FILES = 6


def _areas_dir() -> Path:
    """Cached service areas live beside the cached networks (``$LIFECIRCLE_CACHE/areas``)."""
    from lifecircle.geo.network.cache import cache_dir

    return cache_dir().parent / "areas"


def _areas_key(net: WalkNetwork, facilities: gpd.GeoDataFrame, tiers, snap_limit_m: float) -> str:
    """A digest of everything the existing facilities' service areas depend on.

    The network's arrays, the facilities (id, kind, name, point), the tiers, the snap limit and
    the text of the service-area code: a restart on unchanged data reads the polygons back
    instead of tracing them again (tens of seconds for a city), any change traces them anew.
    """
    import hashlib

    from lifecircle import geo

    h = hashlib.sha256()
    for arr in (net.node_xy, net.edge_u, net.edge_v, net.edge_length, net.geom_offsets, net.geom_xy):
        a = np.ascontiguousarray(arr)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    h.update(str(getattr(net, "crs", "")).encode())
    h.update(np.asarray(net.edge_highway).astype(str).tobytes())
    for col in ("id", "kind", "name"):
        h.update("\x1f".join(str(v) for v in facilities[col]).encode("utf-8"))
    h.update(b"".join(shapely.to_wkb(np.asarray(facilities.geometry.values, dtype=object)).tolist()))
    h.update(repr((tuple(float(t) for t in tiers), float(snap_limit_m))).encode())
    root = Path(geo.__file__).resolve().parent.parent
    for rel in _AREA_CODE:
        f = root / rel
        h.update(f.read_bytes() if f.is_file() else rel.encode())
    return h.hexdigest()[:24]


def _read_areas(key: str) -> gpd.GeoDataFrame | None:
    with _AREA_WRITES_LOCK:
        writing = _AREA_WRITES.get(key)
    if writing is not None:  # this process is writing that set now
        writing.join()
    path = _areas_dir() / f"{key}.parquet"
    if not path.is_file():
        return None
    try:
        return gpd.read_parquet(path)
    except Exception:  # noqa: BLE001 - a damaged cache file is traced again, never fatal
        return None


#: Service-area sets being written by this process (key -> thread).
_AREA_WRITES: dict[str, threading.Thread] = {}
_AREA_WRITES_LOCK = threading.Lock()


def _write_areas_later(key: str, frame: gpd.GeoDataFrame) -> threading.Thread:
    """:func:`_write_areas` on its own thread (not a daemon: the file is finished before the process exits)."""

    def write() -> None:
        try:
            _write_areas(key, frame)
        finally:
            with _AREA_WRITES_LOCK:
                _AREA_WRITES.pop(key, None)

    thread = threading.Thread(target=write, name="lifecircle-areas-cache")
    with _AREA_WRITES_LOCK:
        _AREA_WRITES[key] = thread
        thread.start()
    return thread


def _write_areas(key: str, frame: gpd.GeoDataFrame) -> None:
    from lifecircle.geo.atomic import OutputError, atomic_path

    try:
        with atomic_path(_areas_dir() / f"{key}.parquet") as tmp:
            frame.to_parquet(tmp)
        older = sorted(_areas_dir().glob("*.parquet"), key=lambda f: f.stat().st_mtime, reverse=True)
        for stale in older[_AREA_FILES:]:  # the inputs or the code changed: the oldest sets go
            stale.unlink(missing_ok=True)
    except (OSError, OutputError, ImportError, ValueError):
        pass  # a read-only cache folder only costs tracing them again next start


def _tiles():
    """The city map's renderers and thresholds (:mod:`layers.tiles`)."""
    from lifecircle.layers import tiles

    return tiles


def _map_xy(lonlat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 ``(n, 2)`` degrees as map coordinates (GCJ-02 under Amap)."""
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    if crs == "gcj02":
        from lifecircle.geo import crs as gcrs

        return gcrs.wgs84_to_gcj02(lonlat[:, 0], lonlat[:, 1])
    lgj.check_crs(crs)
    return lonlat[:, 0], lonlat[:, 1]


def _text(value: object) -> str:
    """A text cell as a plain string ("" for missing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)
