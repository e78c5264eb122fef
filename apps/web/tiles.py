"""Serving the city map's tiles: the workspace's tile layers and the Tornado route ``/lc-tiles/``.

The renderers (streets, service areas, gaps as PNG tiles; points, clusters, labels) live in
:mod:`layers.tiles`; this module keeps one :class:`MapTiles` per workspace (built once by
:func:`prepare`, the server calls it before it listens) and the :class:`TileHandler` that answers
``/lc-tiles/...`` behind the page's sign-in, rendering in a worker thread.
"""

from __future__ import annotations

import gzip
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import numpy as np
import shapely
from bokeh.server.views.auth_request_handler import AuthRequestHandler
from tornado.ioloop import IOLoop
from tornado.web import HTTPError, authenticated

from lifecircle.geo.coverage import ANY
from lifecircle.layers import style as lstyle
from lifecircle.layers.tiles import (
    CITY_EDGES,
    CLUSTER_MIN,
    GAP_SETS,
    ROUTE,
    AreaTiles,
    StreetTiles,
    _to_map,
    mercator,
)

__all__ = ["ROUTE", "CITY_EDGES", "CLUSTER_MIN", "mercator", "MapTiles", "prepare", "TileHandler"]


# ------------------------------------------------------------------ the workspace's tiles
class MapTiles:
    """The tile layers of one workspace (per map CRS), built once by :func:`prepare`."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.token = secrets.token_hex(4)  # in every URL: a restarted server's tiles are not cached stale
        self.streets: dict[str, StreetTiles] = {}
        self.areas: dict[str, AreaTiles] = {}
        self.gaps: OrderedDict[str, AreaTiles] = OrderedDict()
        self.data: dict[str, tuple[bytes, bytes]] = {}  # name -> (JSON bytes, the same gzipped)
        self.lock = threading.Lock()  # the gap sets
        self.data_lock = threading.Lock()
        # one lock per layer while its index is built (a second at 200k nodes, made before the server is
        # ready): a street tile never waits for the areas' index, nor a gap tile for either
        self.build_locks = {"streets": threading.Lock(), "areas": threading.Lock()}
        self.visited = 0.0  # time.monotonic() of the last visitor's request (the start's warm-up yields to them)
        self._foreground = 0  # map events being handled (a click's figures): tiles wait for them
        self._foreground_done = threading.Condition()

    def touch(self) -> None:
        """A visitor asked for something (a page, a tile, a data layer): the background warm-up waits."""
        self.visited = time.monotonic()

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Mark a map event (a click, a drag) being handled: tile renders wait until it is done.

        Rendering holds the GIL for most of a tile; a click that came while a session's new gap tiles
        were drawn waited for them (its 5-40 ms of figures took 100-400 ms).
        """
        with self._foreground_done:
            self._foreground += 1
        try:
            yield
        finally:
            with self._foreground_done:
                self._foreground -= 1
                self._foreground_done.notify_all()

    def wait_for_foreground(self, longest_s: float = 0.5) -> None:
        """Wait (at most ``longest_s``) while map events are being handled."""
        with self._foreground_done:
            self._foreground_done.wait_for(lambda: self._foreground == 0, timeout=longest_s)

    def wait_for_quiet(self, quiet_s: float = 0.4, longest_s: float = 30.0) -> None:
        """Sleep while visitors were served within ``quiet_s`` (at most ``longest_s`` in all).

        The tiles warmed at start compete with a first visitor for the one interpreter: the tiles they
        ask for are rendered on demand instead, and the warm-up goes on once the page is quiet.
        """
        deadline = time.monotonic() + longest_s
        while time.monotonic() < deadline and time.monotonic() - self.visited < quiet_s:
            time.sleep(quiet_s / 4)

    def publish_data(self, name: str, text: str) -> str:
        """Serve ``text`` (JSON, the same for every session) at ``/lc-tiles/<token>/data/<name>.json``; its URL.

        A large per-workspace layer (a city's residents) goes to the page this way, fetched by the map's
        script, instead of inside every session's websocket document; it is gzipped once, here.
        """
        raw = text.encode("utf-8")
        with self.data_lock:
            if name not in self.data:
                self.data[name] = (raw, gzip.compress(raw, compresslevel=6, mtime=0))
        return f"/{ROUTE}/{self.token}/data/{name}.json"

    def data_bytes(self, name: str) -> tuple[bytes, bytes]:
        """``(JSON bytes, gzipped)`` of a published data layer (raises KeyError for an unknown one)."""
        with self.data_lock:
            return self.data[name]

    def publish_gaps(self, gaps, crs: str = "wgs84") -> str:
        """Serve the gap polygons of a frame (WGS84) as tiles; return the layer's URL template.

        Each published set has its own key in the URL (a session's gaps change with its what-if);
        the last :data:`GAP_SETS` sets are kept.
        """
        geoms = np.asarray(gaps.geometry.values, dtype=object)
        if crs == "gcj02" and geoms.size:
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(_to_map(xy[:, 0], xy[:, 1], crs)))
        layer = AreaTiles(
            geoms, ["gap"] * len(geoms), [1.0] * len(geoms), {"gap": lstyle.GAP_COLOR}, {1.0: 0.22}, base=False
        )
        key = secrets.token_hex(6)
        with self.lock:
            self.gaps[key] = layer
            while len(self.gaps) > GAP_SETS:
                self.gaps.popitem(last=False)
        return self.url("gaps", crs, set=key)

    @property
    def city_streets(self) -> bool:
        return self.ws.net.n_edges >= CITY_EDGES

    def street_tiles(self, crs: str) -> StreetTiles:
        return self._built("streets", self.streets, crs, lambda: StreetTiles.from_network(self.ws.net, crs))

    def area_tiles(self, crs: str) -> AreaTiles:
        return self._built(
            "areas", self.areas, crs, lambda: AreaTiles.from_frame(self.ws.areas, self.ws.kinds, self.ws.tiers, crs)
        )

    def _built(self, layer: str, store: dict, crs: str, make: Callable[[], Any]) -> Any:
        """``store[crs]``, made by ``make`` once under the layer's own build lock (read without it once made)."""
        found = store.get(crs)
        if found is None:
            with self.build_locks[layer]:
                if crs not in store:
                    store[crs] = make()
                found = store[crs]
        return found

    def url(self, layer: str, crs: str, **query: str) -> str:
        """Leaflet's URL template of a tile layer."""
        q = urlencode(query)
        return f"/{ROUTE}/{self.token}/{layer}/{crs}/{{z}}/{{x}}/{{y}}.png" + (f"?{q}" if q else "")

    @staticmethod
    def gap_set(url: str) -> str:
        """The gap set's key in a URL :meth:`publish_gaps` returned ("" when it has none)."""
        return parse_qs(urlparse(url).query).get("set", [""])[0]

    def render(self, layer: str, crs: str, z: int, x: int, y: int, kind: str = ANY, tiers: str = "") -> bytes:
        """PNG bytes of one tile (raises KeyError for an unknown layer)."""
        if crs not in ("wgs84", "gcj02") or not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
            raise KeyError(crs)
        self.wait_for_foreground()
        if layer == "streets":
            return self.street_tiles(crs).render(z, x, y)
        if layer == "gaps":
            with self.lock:
                gaps = self.gaps[kind]
            return gaps.render("gap", [1.0], z, x, y)
        if layer == "areas":
            wanted = [float(t) for t in tiers.split(",") if t.strip()] if tiers else list(self.ws.tiers)
            return self.area_tiles(crs).render(kind, wanted, z, x, y)
        raise KeyError(layer)


def prepare(ws, build: bool = True) -> MapTiles:
    """The :class:`MapTiles` of ``ws`` (made once); with ``build``, its tile indexes built too (a city's)."""
    with _PREPARE_LOCK:
        tiles = ws.__dict__.get("_tiles")
        if tiles is None:
            tiles = MapTiles(ws)
            ws.__dict__["_tiles"] = tiles
    if build and tiles.city_streets:
        tiles.street_tiles("wgs84")
    if build and ws.city_areas:
        tiles.area_tiles("wgs84")
    return tiles


_PREPARE_LOCK = threading.Lock()
#: Tiles render on one thread of their own, not on the IOLoop's default pool (cores + 4 threads):
#: rendering holds the GIL for most of a tile, so more threads draw no more tiles per second but
#: keep the IOLoop waiting. 196 gap tiles of the 200k-node city with a click every 50 ms beside
#: them: six threads 10.4 s and clicks of 128-382 ms, one thread 10.0 s and clicks of 13-22 ms.
TILE_THREADS = 1
#: The renderers' pool (its thread starts with the first tile, so forking workers before is safe).
_RENDER_POOL = ThreadPoolExecutor(max_workers=TILE_THREADS, thread_name_prefix="lifecircle-tiles")


class TileHandler(AuthRequestHandler):
    """``GET /lc-tiles/<token>/<layer>/<crs>/<z>/<x>/<y>.png[?kind=..&tiers=..]``: one PNG tile.

    ``GET /lc-tiles/<token>/data/<name>.json``: a layer published by :meth:`MapTiles.publish_data`
    (gzipped once at publication; sent so to a browser that accepts gzip).
    Behind the server's access control like the page (a sign-in first when it is on).
    """

    def initialize(self, tiles: MapTiles) -> None:
        self.tiles = tiles

    @authenticated
    async def get(self, path: str) -> None:
        self.tiles.touch()
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == self.tiles.token and parts[1] == "data" and parts[2].endswith(".json"):
            self._data(parts[2][:-5])
            return
        if len(parts) != 6 or not parts[5].endswith(".png") or parts[0] != self.tiles.token:
            raise HTTPError(404)
        try:
            z, x, y = int(parts[3]), int(parts[4]), int(parts[5][:-4])
        except ValueError:
            raise HTTPError(404) from None
        kind = self.get_argument("set", "")[:32] if parts[1] == "gaps" else self.get_argument("kind", ANY)[:64]
        tiers = self.get_argument("tiers", "")[:64]
        try:
            data = await IOLoop.current().run_in_executor(
                _RENDER_POOL, lambda: self.tiles.render(parts[1], parts[2], z, x, y, kind=kind, tiers=tiers)
            )
        except (KeyError, ValueError):
            raise HTTPError(404) from None
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "public, max-age=86400")
        self.write(data)

    def _data(self, name: str) -> None:
        try:
            raw, packed = self.tiles.data_bytes(name)
        except KeyError:
            raise HTTPError(404) from None
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "private, max-age=86400")
        self.set_header("Vary", "Accept-Encoding")
        if "gzip" in self.request.headers.get("Accept-Encoding", ""):
            self.set_header("Content-Encoding", "gzip")  # Tornado's own gzip leaves an encoded body alone
            self.write(packed)
        else:
            self.write(raw)
