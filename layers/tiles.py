"""The map at city scale, drawn: raster tiles, compact points, clusters and thinned labels (numpy/PIL).

Why one module of ~650 lines: the street and the area rasters share the projection, the base
grid of the low zooms, the tile cache and the PNG writer; the points, clusters and labels are
the other half of the same city map, small enough to sit beside them.

A district's map ships every layer as GeoJSON (:mod:`layers.geojson`).  A city's does not: its
streets (hundreds of thousands of segments) and the service areas of a thousand facilities are
drawn here as 256 px PNG tiles (Web Mercator ``z/x/y``, as every slippy map) from a route of the
app's own server (``/lc-tiles/...``, :mod:`apps.web.tiles` serves them); the residents go as one compact
array payload that the map's script draws on a canvas, only what is in view; the facilities
come with per-zoom clusters; the 社区 labels with the zoom from which each is shown without
overlapping another.

Everything heavy is built once per layer (the indexes, the projected coordinates, the base
rasters); tiles are rendered on demand and cached (:data:`CACHE_TILES` tiles per layer).

Streets are rasterised with numpy: every segment sampled at half-pixel steps, the segments counted
per pixel (``np.bincount``), the counts made alpha; service areas with PIL's polygon fill (holes
cut per polygon, so one facility's hole never erases another's area), one mask per (kind, tier),
composited largest tier first with the opacities of the vector map, outlined by the mask's edge.
"""

from __future__ import annotations

import io
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from lifecircle.geo import crs as gcrs
from lifecircle.geo.coverage import ANY

from . import style as lstyle
from .geojson import packed_array

__all__ = [
    "TILE",
    "ROUTE",
    "CITY_EDGES",
    "CITY_POINTS",
    "CLUSTER_MIN",
    "CLUSTER_BELOW_ZOOM",
    "mercator",
    "tile_bounds",
    "StreetTiles",
    "AreaTiles",
    "cluster_points",
    "facility_clusters",
    "label_min_zoom",
    "points_payload",
    "EMPTY_PNG",
    "BASE_ZOOM",
    "GAP_SETS",
    "LABEL_THIN_MIN",
]

#: Tile side in pixels.
TILE = 256
#: URL prefix of the tiles.
ROUTE = "lc-tiles"
#: Networks with at least this many edges draw their streets as tiles.
CITY_EDGES = 60_000
#: Drawn demand points from this count on go as a compact payload on a canvas.
CITY_POINTS = 20_000
#: Facilities from this count on are clustered below :data:`CLUSTER_BELOW_ZOOM`.
CLUSTER_MIN = 300
CLUSTER_BELOW_ZOOM = 14
#: Cluster cell (px) and the zooms clusters are made for.
CLUSTER_CELL_PX = 72
CLUSTER_ZOOMS = tuple(range(8, CLUSTER_BELOW_ZOOM))
#: Communities from this count on get a label zoom (labels thinned at the city view).
LABEL_THIN_MIN = 30
#: Gap sets (one per session and change) kept for their tiles.
GAP_SETS = 24
#: Tiles kept per layer.
CACHE_TILES = 4096
_INDEX_ZOOM = 14


# ------------------------------------------------------------------ projection
def mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator world fractions (0..1, y down) of WGS84 degrees (or GCJ-02 degrees, as drawn)."""
    lon, lat = np.asarray(lon, dtype=float), np.clip(np.asarray(lat, dtype=float), -85.05112878, 85.05112878)
    x = (lon + 180.0) / 360.0
    s = np.sin(np.radians(lat))
    y = 0.5 - np.log((1 + s) / (1 - s)) / (4 * np.pi)
    return x, y


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) degrees of tile ``z/x/y``."""
    n = 2.0**z

    def lat(yy: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def _to_map(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    if crs == "gcj02":
        return gcrs.wgs84_to_gcj02(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _png(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


EMPTY_PNG = _png(np.zeros((TILE, TILE, 4), dtype=np.uint8))


#: Tiles below this zoom are block sums of one raster made at it when the server starts.
BASE_ZOOM = 13


@dataclass
class _Grid:
    """A raster over the data's extent at :data:`BASE_ZOOM` (world pixels ``x0, y0`` at its top left)."""

    x0: int
    y0: int
    data: np.ndarray

    @classmethod
    def around(cls, mx: np.ndarray, my: np.ndarray, dtype=np.int32) -> _Grid:
        w = 2.0**BASE_ZOOM * TILE
        x0, y0 = int(np.floor(np.min(mx) * w)) - 2, int(np.floor(np.min(my) * w)) - 2
        x1, y1 = int(np.ceil(np.max(mx) * w)) + 2, int(np.ceil(np.max(my) * w)) + 2
        return cls(x0, y0, np.zeros((y1 - y0, x1 - x0), dtype=dtype))

    def block(self, z: int, x: int, y: int) -> np.ndarray:
        """The grid's cells under tile ``z/x/y`` (``z <= BASE_ZOOM``), summed per tile pixel (float)."""
        f = 2 ** (BASE_ZOOM - z)
        gx, gy = x * TILE * f - self.x0, y * TILE * f - self.y0
        out = np.zeros((TILE * f, TILE * f), dtype=np.float64)
        h, w = self.data.shape
        sx0, sy0, sx1, sy1 = max(gx, 0), max(gy, 0), min(gx + TILE * f, w), min(gy + TILE * f, h)
        if sx1 > sx0 and sy1 > sy0:
            out[sy0 - gy : sy1 - gy, sx0 - gx : sx1 - gx] = self.data[sy0:sy1, sx0:sx1]
        return out.reshape(TILE, f, TILE, f).sum(axis=(1, 3))


class _Cache:
    """A small thread-safe LRU of rendered tiles."""

    def __init__(self, size: int = CACHE_TILES) -> None:
        self.size, self.data, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key, build):
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        value = build()
        with self.lock:
            self.data[key] = value
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value


# ------------------------------------------------------------------ streets
class StreetTiles:
    """The network's streets as raster tiles.

    Parameters
    ----------
    segments
        ``(n, 4)`` array of ``lon0, lat0, lon1, lat1`` (map degrees).
    major
        True for the arterials (drawn thicker).
    color
        Line colour.
    """

    def __init__(self, segments: np.ndarray, major: np.ndarray, color: str = lstyle.STREET_COLOR) -> None:
        seg = np.asarray(segments, dtype=float).reshape(-1, 4)
        x0, y0 = mercator(seg[:, 0], seg[:, 1])
        x1, y1 = mercator(seg[:, 2], seg[:, 3])
        n = 2**_INDEX_ZOOM
        key = (np.floor((x0 + x1) / 2 * n).astype(np.int64) << 20) + np.floor((y0 + y1) / 2 * n).astype(np.int64)
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.xy = np.column_stack([x0, y0, x1, y1])[order]
        self.major = np.asarray(major, dtype=bool)[order]
        self.color = _rgb(color)
        self.cache = _Cache()
        self.grids = {flag: self._base_grid(flag) for flag in (False, True)} if len(self.xy) else {}

    def _base_grid(self, major: bool) -> _Grid:
        """Segments per pixel at :data:`BASE_ZOOM` over the whole network (the low zooms' source)."""
        grid = _Grid.around(self.xy[:, [0, 2]], self.xy[:, [1, 3]])
        w = 2.0**BASE_ZOOM * TILE
        sel = self.xy[self.major == major] * w - np.array([grid.x0, grid.y0, grid.x0, grid.y0], dtype=float)
        h, wid = grid.data.shape
        cells = []  # sampled in chunks, counted once: a city's grid is ~10M cells, each count a pass over it
        for chunk in np.array_split(sel, max(1, len(sel) // 200_000)):
            ix, iy, seg = _sample(chunk)
            ok = (ix >= 0) & (ix < wid) & (iy >= 0) & (iy < h)
            cells.append(_distinct_runs(seg[ok], iy[ok] * wid + ix[ok]))
        if cells:
            counts = np.bincount(np.concatenate(cells), minlength=h * wid)
            grid.data += counts.reshape(h, wid).astype(grid.data.dtype)
        return grid

    @classmethod
    def from_network(cls, net, crs: str = "wgs84") -> StreetTiles:
        """Segments of every edge line of ``net`` (metric), in map degrees."""
        from .geojson import MAJOR_HIGHWAY

        # the edges' polylines straight from the network's arrays (no LineString objects: 240,000 at 200k nodes)
        coords = np.asarray(net.geom_xy, dtype=float)
        index = np.repeat(np.arange(net.n_edges), np.diff(net.geom_offsets))
        same = index[1:] == index[:-1]
        lonlat = net.to_lonlat(coords)
        lon, lat = _to_map(lonlat[:, 0], lonlat[:, 1], crs)
        seg = np.column_stack([lon[:-1], lat[:-1], lon[1:], lat[1:]])[same]
        major = np.isin(net.edge_highway.astype(str), list(MAJOR_HIGHWAY))[index[:-1][same]]
        return cls(seg, major)

    def select(self, z: int, x: int, y: int) -> np.ndarray:
        """Indices of the segments whose midpoint lies in an index cell touching tile ``z/x/y`` (one cell of margin)."""
        n = 2**_INDEX_ZOOM
        scale = n / 2.0**z
        bx0, bx1 = int(math.floor(x * scale)) - 1, int(math.ceil((x + 1) * scale))
        by0, by1 = int(math.floor(y * scale)) - 1, int(math.ceil((y + 1) * scale))
        parts = []
        for bx in range(max(bx0, 0), min(bx1, n - 1) + 1):
            lo = np.searchsorted(self.key, (bx << 20) + max(by0, 0), "left")
            hi = np.searchsorted(self.key, (bx << 20) + min(by1, n - 1), "right")
            if hi > lo:
                parts.append(np.arange(lo, hi))
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def counts(self, z: int, x: int, y: int, which: np.ndarray | None = None) -> np.ndarray:
        """Segments per pixel of tile ``z/x/y`` (``(256, 256)`` int): each segment sampled at half-pixel steps."""
        idx = self.select(z, x, y) if which is None else which
        if idx.size == 0:
            return np.zeros((TILE, TILE), dtype=np.int64)
        w = 2.0**z * TILE
        p = self.xy[idx] * w - np.array([x * TILE, y * TILE, x * TILE, y * TILE], dtype=float)
        inside = (np.maximum(p[:, 0], p[:, 2]) >= 0) & (np.minimum(p[:, 0], p[:, 2]) < TILE)
        inside &= (np.maximum(p[:, 1], p[:, 3]) >= 0) & (np.minimum(p[:, 1], p[:, 3]) < TILE)
        p = p[inside]
        if p.shape[0] == 0:
            return np.zeros((TILE, TILE), dtype=np.int64)
        # clip to the tile (with a margin) so a long segment costs what it crosses
        ix, iy, seg = _sample(np.clip(p, -2.0 * TILE, 3.0 * TILE))
        ok = (ix >= 0) & (ix < TILE) & (iy >= 0) & (iy < TILE)
        # one count per segment and pixel: a segment's samples in the same pixel count once
        cell = _distinct_runs(seg[ok], iy[ok] * TILE + ix[ok])
        return np.bincount(cell, minlength=TILE * TILE).reshape(TILE, TILE)

    def render(self, z: int, x: int, y: int) -> bytes:
        """PNG bytes of tile ``z/x/y``."""
        return self.cache.get((z, x, y), lambda: self._render(z, x, y))

    def _render(self, z: int, x: int, y: int) -> bytes:
        if not self.grids:
            return EMPTY_PNG
        if z < BASE_ZOOM:  # segments per pixel, from the base raster: a line crossing f x f cells counts ~f
            f = 2.0 ** (BASE_ZOOM - z)
            minor, major = self.grids[False].block(z, x, y) / f, self.grids[True].block(z, x, y) / f
        else:
            idx = self.select(z, x, y)
            if idx.size == 0:
                return EMPTY_PNG
            minor = self.counts(z, x, y, idx[~self.major[idx]])
            major = self.counts(z, x, y, idx[self.major[idx]])
        if major.any():
            m = major > 0
            major = (m | np.roll(m, 1, 0) | np.roll(m, 1, 1)).astype(np.int64)
        # fainter as the blocks shrink below a few pixels, so the city view reads as a texture
        k = 1.0 if z >= 15 else 0.55 if z == 14 else 0.32 if z == 13 else 0.2
        alpha = 0.75 * (1.0 - np.exp(-minor * (2.5 * k)))
        alpha = np.maximum(alpha, 0.9 * (major > 0))
        if not alpha.any():
            return EMPTY_PNG
        rgba = np.empty((TILE, TILE, 4), dtype=np.uint8)
        rgba[..., :3] = self.color
        rgba[..., 3] = np.round(alpha * 15).astype(np.uint8) * 17  # 16 levels: a third smaller PNG, no visible step
        return _png(rgba)


def _distinct_runs(seg: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """The cells of ``(seg, cell)`` samples with each segment's repeats dropped.

    A straight segment's samples run through its pixels in order and never come back to one, so
    dropping consecutive repeats keeps each (segment, pixel) once, with no sort.
    """
    if cell.size == 0:
        return cell
    keep = np.empty(cell.size, dtype=bool)
    keep[0] = True
    keep[1:] = (cell[1:] != cell[:-1]) | (seg[1:] != seg[:-1])
    return cell[keep]


def _sample(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels ``(ix, iy)`` of samples at half-pixel steps along segments ``p`` (``x0, y0, x1, y1`` px), and their segment."""
    length = np.hypot(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])
    steps = np.ceil(2.0 * length).astype(np.int64) + 1
    seg = np.repeat(np.arange(p.shape[0]), steps)
    start = np.cumsum(steps) - steps
    t = (np.arange(seg.size) - start[seg]) / np.maximum(steps[seg] - 1, 1)
    px = p[seg, 0] + t * (p[seg, 2] - p[seg, 0])
    py = p[seg, 1] + t * (p[seg, 3] - p[seg, 1])
    return np.floor(px).astype(np.int64), np.floor(py).astype(np.int64), seg


# ------------------------------------------------------------------ service areas
@dataclass
class AreaTiles:
    """Service areas of the existing facilities as raster tiles, per kind (or all) and tiers.

    Parameters
    ----------
    geoms
        Polygons (map degrees), one per facility and tier.
    kinds, tiers
        The kind and tier (m) of each polygon.
    colors
        Colour per kind.
    opacity
        Fill opacity per tier (the vector map's :func:`layers.style.tier_opacity`).
    """

    geoms: np.ndarray
    kinds: np.ndarray
    tiers: np.ndarray
    colors: dict[str, str]
    opacity: dict[float, float]
    min_hole_m2: float = 0.0
    base: bool = True
    rings: list = field(init=False, repr=False)
    tree: shapely.STRtree = field(init=False, repr=False)
    cache: _Cache = field(default_factory=_Cache, repr=False)

    def __post_init__(self) -> None:
        self.geoms = np.asarray(self.geoms, dtype=object)
        self.kinds = np.asarray(self.kinds).astype(str)
        self.tiers = np.asarray(self.tiers, dtype=float)
        self.tree = shapely.STRtree(self.geoms)
        self.rings = _polygon_rings(self.geoms, self.min_hole_m2)
        self.grids = self._base_masks() if self.base else {}

    def _base_masks(self) -> dict[tuple[str, float], _Grid]:
        """One coverage mask per (kind, tier) at :data:`BASE_ZOOM` over all the areas (the low zooms' source)."""
        pts = [ring for rings in self.rings for ext, _h in rings for ring in (ext,)]
        if not pts:
            return {}
        allxy = np.vstack(pts)
        out = {}
        w = 2.0**BASE_ZOOM * TILE
        for k in sorted(set(self.kinds.tolist())):
            for tier in sorted(set(self.tiers.tolist())):
                rows = np.flatnonzero((self.kinds == k) & (self.tiers == tier))
                if rows.size == 0:
                    continue
                grid = _Grid.around(allxy[:, 0], allxy[:, 1], dtype=np.uint8)
                img = Image.fromarray(grid.data)
                _fill(img, [self.rings[i] for i in rows], w, np.array([grid.x0, grid.y0], dtype=float))
                grid.data = np.asarray(img)
                out[(k, float(tier))] = grid
        return out

    @classmethod
    def from_frame(cls, areas, kinds, tiers: Sequence[float], crs: str = "wgs84") -> AreaTiles:
        """From the workspace's areas frame (``kind``, ``tier_m``, WGS84 polygons)."""
        geoms = np.asarray(areas.geometry.values, dtype=object)
        if crs == "gcj02" and geoms.size:
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(_to_map(xy[:, 0], xy[:, 1], crs)))
        from .maplayers import DISPLAY_HOLE_M2

        present = sorted(set(areas["kind"].astype(str)))
        return cls(
            geoms,
            areas["kind"].to_numpy(),
            areas["tier_m"].to_numpy(),
            {k: lstyle.kind_color(kinds, k) for k in present},
            {float(t): float(lstyle.tier_opacity(tiers, t)) for t in tiers},
            DISPLAY_HOLE_M2,
        )

    def mask(self, rows: np.ndarray, z: int, x: int, y: int, margin: int = 1) -> np.ndarray:
        """Coverage mask (``(256 + 2 margin)²`` uint8, 255 inside) of the polygons ``rows`` on tile ``z/x/y``."""
        size = TILE + 2 * margin
        img = Image.new("L", (size, size), 0)
        off = np.array([x * TILE - margin, y * TILE - margin], dtype=float)
        _fill(img, [self.rings[i] for i in rows], 2.0**z * TILE, off)
        return np.asarray(img)

    def render(self, kind: str, tiers: Sequence[float], z: int, x: int, y: int) -> bytes:
        """PNG bytes of tile ``z/x/y`` for ``kind`` (:data:`geo.coverage.ANY`: every kind) and ``tiers``."""
        key = (kind, tuple(sorted(float(t) for t in tiers)), z, x, y)
        return self.cache.get(key, lambda: self._render(kind, key[1], z, x, y))

    def _render(self, kind: str, tiers: tuple[float, ...], z: int, x: int, y: int) -> bytes:
        if z < BASE_ZOOM and self.base:
            return self._render_low(kind, tiers, z, x, y)
        west, south, east, north = tile_bounds(z, x, y)
        pad = (east - west) / TILE * 2
        hits = self.tree.query(shapely.box(west - pad, south - pad, east + pad, north + pad))
        if hits.size == 0:
            return EMPTY_PNG
        out = np.zeros((TILE, TILE, 4), dtype=float)
        for tier in sorted(tiers, reverse=True):
            for k in sorted(self.colors):
                if kind != ANY and k != kind:
                    continue
                rows = hits[(self.kinds[hits] == k) & np.isclose(self.tiers[hits], tier)]
                if rows.size == 0:
                    continue
                m = self.mask(rows, z, x, y)
                eroded = np.asarray(Image.fromarray(m).filter(ImageFilter.MinFilter(3)))
                inside = (m[1:-1, 1:-1] > 127).astype(float)
                edge = ((m > 127) & (eroded <= 127))[1:-1, 1:-1]
                a = np.where(edge, 0.6, inside * self.opacity.get(float(tier), 0.12))
                _over(out, np.array(_rgb(self.colors[k]), dtype=float) / 255.0, a)
        return _rgba_png(out)

    def _render_low(self, kind: str, tiers: tuple[float, ...], z: int, x: int, y: int) -> bytes:
        """A tile below :data:`BASE_ZOOM`: each pixel's covered share of the base masks (no outline)."""
        out = np.zeros((TILE, TILE, 4), dtype=float)
        f2 = 4.0 ** (BASE_ZOOM - z) * 255.0
        for tier in sorted(tiers, reverse=True):
            for k in sorted(self.colors):
                grid = self.grids.get((k, float(tier)))
                if grid is None or (kind != ANY and k != kind):
                    continue
                share = grid.block(z, x, y) / f2
                if share.any():
                    _over(
                        out,
                        np.array(_rgb(self.colors[k]), dtype=float) / 255.0,
                        share * self.opacity.get(float(tier), 0.12),
                    )
        return _rgba_png(out)


def _rgba_png(out: np.ndarray) -> bytes:
    """PNG of a premultiplied float RGBA tile (the empty tile when nothing is drawn)."""
    if not out[..., 3].any():
        return EMPTY_PNG
    rgba = np.empty((TILE, TILE, 4), dtype=np.uint8)
    alpha = out[..., 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        rgb = np.where(alpha[..., None] > 0, out[..., :3] / alpha[..., None], 0.0)
    rgba[..., :3] = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    rgba[..., 3] = np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8)
    return _png(rgba)


def _fill(img: Image.Image, polygons: list, scale: float, off: np.ndarray) -> None:
    """Fill the polygons (rings in world fractions) into ``img`` at ``scale`` px, holes cut per polygon."""
    draw = ImageDraw.Draw(img)
    for rings in polygons:
        for ext, holes in rings:
            e = ext * scale - off
            if not holes:
                draw.polygon(e.ravel().tolist(), fill=255)
                continue
            # the hole is cut in this polygon only: drawn in a patch over its box, then merged
            # (clipped to the image: at a high zoom a polygon's box is far larger than the tile)
            bx0, by0 = np.maximum(np.floor(e.min(axis=0)).astype(int) - 1, 0)
            bx1, by1 = np.minimum(np.ceil(e.max(axis=0)).astype(int) + 1, img.size)
            if bx1 <= bx0 or by1 <= by0:
                continue
            box = (int(bx0), int(by0), int(bx1), int(by1))
            part = Image.new("L", (box[2] - box[0], box[3] - box[1]), 0)
            pd = ImageDraw.Draw(part)
            pd.polygon((e - [bx0, by0]).ravel().tolist(), fill=255)
            boxes = getattr(holes, "boxes", None)
            if boxes is not None and len(holes) > 1:
                # only the holes whose box meets the patch (a pixel of margin): the others would draw
                # nothing; a city's gap polygons have thousands of holes and a tile sees a few of them
                b = boxes * scale - np.tile(off, 2)
                near = (b[:, 2] >= bx0 - 1) & (b[:, 0] <= bx1 + 1) & (b[:, 3] >= by0 - 1) & (b[:, 1] <= by1 + 1)
                holes = [holes[i] for i in np.flatnonzero(near).tolist()]
            for h in holes:
                pd.polygon((h * scale - off - [bx0, by0]).ravel().tolist(), fill=0)
            img.paste(ImageChops.lighter(img.crop(box), part), box)
            draw = ImageDraw.Draw(img)


def _over(out: np.ndarray, rgb: np.ndarray, a: np.ndarray) -> None:
    """Composite colour ``rgb`` with alpha ``a`` over ``out`` (premultiplied RGBA, in place)."""
    out[..., :3] = rgb[None, None, :] * a[..., None] + out[..., :3] * (1 - a[..., None])
    out[..., 3] = a + out[..., 3] * (1 - a)


def _polygon_rings(geoms: np.ndarray, min_hole_m2: float = 0.0) -> list[list[tuple[np.ndarray, _Holes]]]:
    """Per geometry ``[(exterior, holes)]`` of its polygons, in Web Mercator world fractions.

    Holes smaller than ``min_hole_m2`` (areas taken locally, as :func:`layers.geojson.fill_small_holes`)
    are filled, as the vector map does.  Vectorised: a city's service areas have 100,000s of holes,
    so the holes are not made one by one but sliced from the shared coordinates when drawn
    (:class:`_Holes`); Python loops over the polygons only.
    """
    geoms = np.asarray(geoms, dtype=object)
    out: list[list] = [[] for _ in range(geoms.size)]
    if geoms.size == 0:
        return out
    parts, of_geom = shapely.get_parts(geoms, return_index=True)
    polys = shapely.get_type_id(parts) == 3
    parts, of_geom = parts[polys], of_geom[polys]
    rings, of_part = shapely.get_rings(parts, return_index=True)
    if not len(rings):
        return out
    first = np.r_[True, of_part[1:] != of_part[:-1]]  # get_rings gives the exterior first
    coords, of_ring = shapely.get_coordinates(rings, return_index=True)
    bounds = np.searchsorted(of_ring, np.arange(len(rings) + 1))
    # each ring's area by the shoelace formula (what shapely.area of the ring's polygon gives), m2 locally
    x, y = coords[:, 0], coords[:, 1]
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    cross = np.append(cross, 0.0)
    cross[bounds[1:] - 1] = 0.0  # no term from one ring's last point to the next ring's first
    lat = np.radians(y.mean())
    m2 = np.abs(np.add.reduceat(cross, bounds[:-1]) / 2.0) * (111_320.0**2 * np.cos(lat))
    keep = first | (m2 >= min_hole_m2)
    mx, my = mercator(x, y)
    xy = np.column_stack([mx, my])
    lo = np.minimum.reduceat(xy, bounds[:-1], axis=0)
    hi = np.maximum.reduceat(xy, bounds[:-1], axis=0)
    holes = np.flatnonzero(keep & ~first)  # ascending, so each part's kept holes are one run
    h_part = of_part[holes]
    h_box = np.column_stack([lo[holes], hi[holes]])  # x0, y0, x1, y1 per hole
    exteriors = np.flatnonzero(first)
    p_of = of_part[exteriors]
    h0 = np.searchsorted(h_part, p_of, "left").tolist()
    h1 = np.searchsorted(h_part, p_of, "right").tolist()
    starts, ends = bounds[holes], bounds[holes + 1]
    for e, p, a, b in zip(exteriors.tolist(), p_of.tolist(), h0, h1):
        ext = xy[bounds[e] : bounds[e + 1]]
        out[int(of_geom[p])].append((ext, _Holes(xy, starts[a:b], ends[a:b], h_box[a:b]) if b > a else _NO_HOLES))
    return out


class _Holes:
    """A polygon's holes: rings (world fractions) sliced on demand from the shared coordinates ``xy``.

    ``boxes``: ``(n, 4)`` x0, y0, x1, y1 per hole.
    """

    __slots__ = ("xy", "start", "end", "boxes")

    def __init__(self, xy: np.ndarray, start: np.ndarray, end: np.ndarray, boxes: np.ndarray) -> None:
        self.xy, self.start, self.end, self.boxes = xy, start, end, boxes

    def __len__(self) -> int:
        return len(self.start)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.xy[self.start[i] : self.end[i]]

    def __iter__(self):
        return (self.xy[a:b] for a, b in zip(self.start.tolist(), self.end.tolist()))


_NO_HOLES = _Holes(np.empty((0, 2)), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty((0, 4)))


# ------------------------------------------------------------------ points, clusters, labels
def points_payload(
    lon: np.ndarray, lat: np.ndarray, ids: Sequence[str], names: Sequence[str] | None, weights: np.ndarray
) -> str:
    """The drawn residents as compact JSON: integer micro-degree offsets, weights, ids (and names when they differ).

    ``{"n", "x0", "y0", "q", "x", "y", "w", "id", "id_seq", "name"}``: point ``i`` lies at
    ``(x0 + q * x[i], y0 + q * y[i])``; ``x`` and ``y`` are ``"b64u32:"`` base64 little-endian uint32.
    Ids numbered in order (``R0, R1, ...``) go as ``id_seq = [prefix, first number]`` and ``id`` null.
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    q = 1e-6
    x0 = float(np.floor(lon.min() * 1e3) / 1e3) if lon.size else 0.0
    y0 = float(np.floor(lat.min() * 1e3) / 1e3) if lat.size else 0.0
    xi = np.round((lon - x0) / q).astype("<u4")
    yi = np.round((lat - y0) / q).astype("<u4")
    w = np.round(np.asarray(weights, dtype=float), 1)
    wtext = ",".join(str(int(v)) if v == int(v) else repr(float(v)) for v in w.tolist())
    ids = [str(v) for v in ids]
    same = names is None or all(str(a) == str(b) or not str(b) for a, b in zip(ids, names))
    seq = _id_sequence(ids)
    return (
        f'{{"n":{lon.size},"x0":{x0!r},"y0":{y0!r},"q":{q!r},'
        f'"x":"{packed_array(xi, "u32")}","y":"{packed_array(yi, "u32")}",'
        f'"w":[{wtext}],"id_seq":{json.dumps(seq, ensure_ascii=False)},'
        f'"id":{"null" if seq else json.dumps(ids, ensure_ascii=False, separators=(",", ":"))},'
        f'"name":{"null" if same else json.dumps([str(n) for n in names], ensure_ascii=False, separators=(",", ":"))}}}'
    )


def _id_sequence(ids: list[str]) -> list | None:
    """``[prefix, first]`` when ``ids[i] == prefix + str(first + i)`` for every ``i``, else None."""
    if not ids:
        return None
    head = ids[0]
    cut = len(head.rstrip("0123456789"))
    digits = head[cut:]
    if not digits or (len(digits) > 1 and digits[0] == "0"):
        return None
    prefix, first = head[:cut], int(digits)
    return [prefix, first] if all(v == f"{prefix}{first + i}" for i, v in enumerate(ids)) else None


def cluster_points(
    lon: np.ndarray, lat: np.ndarray, z: int, cell_px: int = CLUSTER_CELL_PX
) -> tuple[np.ndarray, np.ndarray]:
    """Grid clusters at zoom ``z``: ``(cell, inverse)``, the distinct cells and each point's cluster index.

    A point's cell is ``floor(world pixel / cell_px)`` in x and y at zoom ``z``.
    """
    x, y = mercator(lon, lat)
    w = 2.0**z * TILE
    cx = np.floor(x * w / cell_px).astype(np.int64)
    cy = np.floor(y * w / cell_px).astype(np.int64)
    cells, inverse = np.unique(np.column_stack([cx, cy]), axis=0, return_inverse=True)
    return cells, inverse.ravel()


def facility_clusters(lon: np.ndarray, lat: np.ndarray, kinds: Sequence[str], ids: Sequence[str]) -> str:
    """Per-zoom clusters of the facilities as JSON text for the map (empty object below :data:`CLUSTER_MIN`).

    ``{"below": Z, "levels": {"z": [[lon, lat, {kind: count}, [ids]] ...]}}``: below zoom ``Z`` the map
    draws the clusters of its zoom (a cell with one facility of the kinds shown is drawn as that facility).
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if lon.size < CLUSTER_MIN:
        return "{}"
    kinds = np.asarray(kinds).astype(str)
    ids = [str(i) for i in ids]
    levels = {}
    for z in CLUSTER_ZOOMS:
        cells, inv = cluster_points(lon, lat, z)
        n = np.bincount(inv, minlength=len(cells))
        mx, my = np.bincount(inv, lon, len(cells)) / n, np.bincount(inv, lat, len(cells)) / n
        members: list[list[int]] = [[] for _ in range(len(cells))]
        for i, c in enumerate(inv.tolist()):
            members[c].append(i)
        rows = []
        for c, idx in enumerate(members):
            counts: dict[str, int] = {}
            for i in idx:
                counts[kinds[i]] = counts.get(kinds[i], 0) + 1
            rows.append([round(float(mx[c]), 6), round(float(my[c]), 6), counts, [ids[i] for i in idx]])
        levels[str(z)] = rows
    return json.dumps({"below": CLUSTER_BELOW_ZOOM, "levels": levels}, ensure_ascii=False, separators=(",", ":"))


def _label_boxes(lon, lat, texts, z: int, char_px: float = 13.0, height_px: float = 20.0) -> np.ndarray:
    """Screen boxes ``(x0, y0, x1, y1)`` in world pixels at zoom ``z`` of labels centred on the points."""
    x, y = mercator(lon, lat)
    w = 2.0**z * TILE
    half_w = np.array([len(t) * char_px / 2 + 6 for t in texts])
    return np.column_stack([x * w - half_w, y * w - height_px / 2, x * w + half_w, y * w + height_px / 2])


def label_min_zoom(lon, lat, texts: Sequence[str], zooms: Sequence[int] = tuple(range(10, 19))) -> np.ndarray:
    """The zoom from which each label is shown: at every zoom from it on, no two shown labels overlap.

    Greedy in the given order at each zoom (a label is shown unless it overlaps one already shown);
    a label's zoom is the smallest from which it is shown at every larger zoom of ``zooms``; at the
    largest zoom every label is shown.
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    zs = sorted(zooms)
    shown = np.zeros((len(zs), lon.size), dtype=bool)
    for k, z in enumerate(zs):
        boxes = _label_boxes(lon, lat, texts, z)
        kept: list[int] = []
        for i in range(lon.size):
            if kept:
                b = boxes[kept]
                hit = (
                    (b[:, 0] < boxes[i, 2])
                    & (boxes[i, 0] < b[:, 2])
                    & (b[:, 1] < boxes[i, 3])
                    & (boxes[i, 1] < b[:, 3])
                )
                if hit.any():
                    continue
            kept.append(i)
        shown[k, kept] = True
    shown[-1] = True
    out = np.full(lon.size, zs[-1], dtype=int)
    for i in range(lon.size):
        z = zs[-1]
        for k in range(len(zs) - 1, -1, -1):
            if not shown[k, i]:
                break
            z = zs[k]
        out[i] = z
    return out
