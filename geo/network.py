"""Walking networks: build, cache, load and snap points to them.

A :class:`WalkNetwork` is a compact, array-based undirected street network in
a local metric CRS.  It is built once from OpenStreetMap (by place name or
bounding box through osmnx, or from a local ``.osm``, ``.osm.pbf`` or osmnx
``.graphml`` file), filtered to what people may walk on, and cached in a
single ``.lcnet`` file (a NumPy ``.npz`` archive) that loads in a fraction of
a second.

Shortest paths run on its CSR adjacency matrix (:mod:`scipy.sparse.csgraph`);
points join it at the nearest point of the nearest walkable edge
(:func:`snap_points`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pyproj
import scipy.sparse as sp
import shapely

from .crs import local_metric_crs
from .errors import NetworkError
from .settings import DEFAULT_SNAP_LIMIT_M  # noqa: F401 (re-exported)

#: Bump when the walk filter or the file layout changes: old caches are rebuilt.
FORMAT_VERSION = 3


#: highway values nobody may walk on (the osmnx "walk" network type's exclusions).
EXCLUDED_HIGHWAY = frozenset(
    {
        "abandoned", "bus_guideway", "construction", "corridor", "cycleway", "elevator",
        "escalator", "motorway", "motorway_link", "motorway_junction", "motorroad", "no",
        "planned", "platform", "proposed", "raceway", "razed", "busway", "bus_stop",
    }
)
#: access values that close a way to walkers unless foot= says otherwise.
EXCLUDED_ACCESS = frozenset({"no", "private"})
#: foot values that open a way whatever its access tag says.
FOOT_ALLOWED = frozenset({"yes", "designated", "permissive", "official"})

ProgressFn = Callable[[str], None]


def shared_strings(values) -> np.ndarray:
    """An object array of strings in which equal values share one str object.

    A network's per-edge ``highway`` tags take a dozen distinct values: one
    pointer per edge (8 bytes) instead of one string object per edge (~60 bytes).
    """
    arr = np.asarray(values, dtype=str)
    if arr.size == 0:
        return np.empty(0, dtype=object)
    distinct, index = np.unique(arr, return_inverse=True)
    return np.array([str(v) for v in distinct], dtype=object)[index.reshape(-1)]


def _values(value: Any) -> list[str]:
    """Return an OSM tag as a list of lower-case strings (osmnx keeps lists on merged edges)."""
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip().lower() for v in value if v is not None]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1]
        return [p.strip().strip("'\"").lower() for p in inner.split(",") if p.strip()]
    return [v.strip().lower() for v in text.split(";") if v.strip()]


def is_walkable(tags: Mapping[str, Any]) -> bool:
    """Return whether an OSM way (or an osmnx edge) with these tags may be walked on.

    The rule follows the osmnx ``walk`` network type: a way needs a ``highway``
    tag; ``area=yes``, motorways and their links, cycleways, construction and
    similar are left out, as are ``foot=no``, ``service=private`` and
    ``access=private``; this project also leaves out ``access=no``.  A
    ``foot=yes/designated/permissive`` tag re-opens a way closed only by
    ``access``.  On osmnx edges merged from several ways a tag may hold a list:
    one excluded value in it excludes the edge.

    Parameters
    ----------
    tags
        The way's tags (or an osmnx edge's attribute dict).

    Returns
    -------
    bool
    """
    highway = _values(tags.get("highway"))
    if not highway or any(h in EXCLUDED_HIGHWAY for h in highway):
        return False
    if "yes" in _values(tags.get("area")):
        return False
    foot = _values(tags.get("foot"))
    if "no" in foot:
        return False
    if "private" in _values(tags.get("service")):
        return False
    access = _values(tags.get("access"))
    if any(a in EXCLUDED_ACCESS for a in access) and not any(f in FOOT_ALLOWED for f in foot):
        return False
    return True


@dataclass
class WalkNetwork:
    """An undirected walking network held in flat NumPy arrays.

    Attributes
    ----------
    crs
        The local metric CRS of ``node_xy`` and ``geom_xy`` (e.g. ``"EPSG:32650"``).
    node_osmid
        OSM (or source) node id of each node, shape (N,).
    node_xy
        Node coordinates in ``crs``, shape (N, 2).
    node_lonlat
        Node coordinates in WGS84, shape (N, 2).
    edge_u, edge_v
        Node indices of each undirected edge's ends, shape (E,).
    edge_length
        Walking length of each edge in metres (the source's ``length``).
    edge_highway
        The edge's ``highway`` value (first one for merged edges), shape (E,).
    geom_offsets
        Edge ``i``'s polyline is ``geom_xy[geom_offsets[i]:geom_offsets[i+1]]``,
        running from ``edge_u[i]`` to ``edge_v[i]``.
    geom_xy
        Polyline vertices in ``crs``, shape (M, 2).
    name, source
        A display name and where the network came from.
    meta
        Free-form metadata (build date, filter, counts).
    """

    crs: str
    node_osmid: np.ndarray
    node_xy: np.ndarray
    node_lonlat: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_highway: np.ndarray
    geom_offsets: np.ndarray
    geom_xy: np.ndarray
    name: str = ""
    source: str = ""
    meta: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.edge_u.shape[0])

    def __repr__(self) -> str:
        return (
            f"WalkNetwork({self.name or self.source!r}, {self.n_nodes:,} nodes, "
            f"{self.n_edges:,} edges, {self.crs})"
        )

    # ---------------------------------------------------------- derived data
    @cached_property
    def csr(self) -> sp.csr_matrix:
        """Symmetric CSR adjacency matrix of edge lengths, shape (N, N)."""
        n = self.n_nodes
        rows = np.concatenate([self.edge_u, self.edge_v]).astype(np.int32)
        cols = np.concatenate([self.edge_v, self.edge_u]).astype(np.int32)
        # A zero-length edge would vanish from a sparse matrix: keep it walkable.
        data = np.maximum(np.concatenate([self.edge_length, self.edge_length]), 1e-6)
        mat = sp.csr_matrix((data, (rows, cols)), shape=(n, n))
        mat.sum_duplicates()
        mat.indices = mat.indices.astype(np.int32)
        mat.indptr = mat.indptr.astype(np.int32)
        return mat

    @cached_property
    def edge_lines(self) -> np.ndarray:
        """Shapely LineStrings of the edges in the metric CRS, shape (E,)."""
        counts = np.diff(self.geom_offsets)
        index = np.repeat(np.arange(self.n_edges), counts)
        return shapely.linestrings(self.geom_xy, indices=index)

    @cached_property
    def edge_geom_length(self) -> np.ndarray:
        """Planar length of each edge polyline in the metric CRS."""
        seg = np.diff(self.geom_xy, axis=0)
        seglen = np.hypot(seg[:, 0], seg[:, 1])
        # cum[end] - cum[start] spans only the segments inside one edge
        cum = np.concatenate([[0.0], np.cumsum(seglen)])
        start = self.geom_offsets[:-1]
        end = self.geom_offsets[1:] - 1
        return cum[end] - cum[start]

    @cached_property
    def geom_cum(self) -> np.ndarray:
        """Cumulative planar distance of each vertex from its edge's start, shape (M,)."""
        seg = np.diff(self.geom_xy, axis=0)
        seglen = np.concatenate([[0.0], np.hypot(seg[:, 0], seg[:, 1])])
        cum = np.cumsum(seglen)
        starts = np.repeat(self.geom_offsets[:-1], np.diff(self.geom_offsets))
        return cum - cum[starts]

    @cached_property
    def node_tree(self):
        """KD-tree (:class:`scipy.spatial.cKDTree`) over :attr:`node_xy`."""
        from scipy.spatial import cKDTree

        return cKDTree(self.node_xy)

    @cached_property
    def incidence(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, edge ids): the edges touching node ``n`` are ``ids[indptr[n]:indptr[n+1]]``."""
        ends = np.concatenate([self.edge_u, self.edge_v])
        edges = np.concatenate([np.arange(self.n_edges), np.arange(self.n_edges)])
        order = np.argsort(ends, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=self.n_nodes))])
        return indptr, edges[order]

    @cached_property
    def strokes(self) -> "Strokes":
        """Edges chained into strokes: streets that run on straight through junctions."""
        return build_strokes(self)

    @cached_property
    def segment_index(self) -> "SegmentIndex":
        """Exact nearest-segment index used by :func:`snap_xy`."""
        return SegmentIndex(self)

    @cached_property
    def transformer(self) -> tuple[pyproj.Transformer, pyproj.Transformer]:
        """(to metric, to WGS84) transformers."""
        to_metric = pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        to_wgs = pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return to_metric, to_wgs

    def to_metric(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Project WGS84 longitudes and latitudes to the network's CRS, shape (K, 2)."""
        x, y = self.transformer[0].transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])

    def to_lonlat(self, xy: np.ndarray) -> np.ndarray:
        """Project metric coordinates back to WGS84, shape (K, 2)."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        lon, lat = self.transformer[1].transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """Return the WGS84 bounding box (west, south, east, north) of the nodes."""
        lo = self.node_lonlat.min(axis=0)
        hi = self.node_lonlat.max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def edges_geodataframe(self):
        """Return the edges as a WGS84 GeoDataFrame (u, v, length, highway, geometry)."""
        import geopandas as gpd

        lonlat = self.to_lonlat(self.geom_xy)
        counts = np.diff(self.geom_offsets)
        lines = shapely.linestrings(lonlat, indices=np.repeat(np.arange(self.n_edges), counts))
        return gpd.GeoDataFrame(
            {
                "u": self.node_osmid[self.edge_u],
                "v": self.node_osmid[self.edge_v],
                "length": self.edge_length,
                "highway": self.edge_highway,
            },
            geometry=lines,
            crs="EPSG:4326",
        )

    def to_networkx(self):
        """Return an undirected ``networkx.Graph`` of node indices with ``length`` weights."""
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(self.n_nodes))
        graph.add_weighted_edges_from(
            zip(self.edge_u.tolist(), self.edge_v.tolist(), self.edge_length.tolist()),
            weight="length",
        )
        return graph

    # ------------------------------------------------------------------- I/O
    def save(self, path: str | os.PathLike) -> Path:
        """Write the network to a ``.lcnet`` file (atomically) and return its path.

        Parameters
        ----------
        path
            Target file; written to a temporary name first, then renamed.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "format": "lifecircle-network",
            "version": FORMAT_VERSION,
            "crs": self.crs,
            "name": self.name,
            "source": self.source,
            "meta": self.meta,
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh,
                    header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                    node_osmid=self.node_osmid,
                    node_xy=self.node_xy,
                    node_lonlat=self.node_lonlat,
                    edge_u=self.edge_u,
                    edge_v=self.edge_v,
                    edge_length=self.edge_length,
                    edge_highway=self.edge_highway.astype("U"),
                    geom_offsets=self.geom_offsets,
                    geom_xy=self.geom_xy,
                )
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "WalkNetwork":
        """Read a network written by :meth:`save`.

        Raises
        ------
        NetworkError
            When the file is not a lifecircle network or was written by an
            incompatible version.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(bytes(z["header"]).decode())
                if header.get("format") != "lifecircle-network":
                    raise NetworkError(f"{path.name}: not a lifecircle network file")
                if header.get("version") != FORMAT_VERSION:
                    raise NetworkError(
                        f"{path.name}: network file version {header.get('version')} is not "
                        f"{FORMAT_VERSION}; rebuild it with `lifecircle network`"
                    )
                arrays = {k: z[k] for k in z.files if k != "header"}
        except (OSError, ValueError, KeyError) as exc:
            if isinstance(exc, NetworkError):
                raise
            raise NetworkError(f"{path.name}: not a readable lifecircle network file ({exc})") from None
        arrays["edge_highway"] = shared_strings(arrays["edge_highway"])
        return cls(
            crs=header["crs"],
            name=header.get("name", ""),
            source=header.get("source", ""),
            meta=header.get("meta", {}),
            **arrays,
        )


# ---------------------------------------------------------------- building
@dataclass
class _EdgeTable:
    """Edges gathered from a source before deduplication (WGS84 lon/lat geometry)."""

    u: list[int] = field(default_factory=list)
    v: list[int] = field(default_factory=list)
    length: list[float] = field(default_factory=list)
    highway: list[str] = field(default_factory=list)
    coords: list[np.ndarray] = field(default_factory=list)


def _haversine_m(lonlat: np.ndarray) -> float:
    """Great-circle length in metres of a lon/lat polyline (osmnx's formula)."""
    lon = np.radians(lonlat[:, 0])
    lat = np.radians(lonlat[:, 1])
    dlat = np.diff(lat)
    dlon = np.diff(lon)
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlon / 2) ** 2
    return float(np.sum(2 * 6_371_009 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))))


def _segment_lengths(coords: np.ndarray) -> np.ndarray:
    """Great-circle length of each segment of a lon/lat polyline."""
    lon = np.radians(coords[:, 0])
    lat = np.radians(coords[:, 1])
    a = np.sin(np.diff(lat) / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    return 2 * 6_371_009 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _split_polyline(coords: np.ndarray, length: float, fractions: Iterable[float]) -> list[tuple[np.ndarray, float]]:
    """Cut a lon/lat polyline at fractions of its length; return (coords, length) pieces."""
    seg = _segment_lengths(coords)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1] if cum[-1] > 0 else 1.0
    cuts = []
    for f in fractions:
        target = f * total
        k = int(np.clip(np.searchsorted(cum, target) - 1, 0, len(seg) - 1))
        t = (target - cum[k]) / seg[k] if seg[k] > 0 else 0.0
        cuts.append((k, coords[k] + (coords[k + 1] - coords[k]) * t, target))
    pieces, start_k, start_pt, start_d = [], 0, coords[0], 0.0
    for k, pt, d in cuts:
        piece = np.vstack([start_pt, coords[start_k + 1 : k + 1], pt])
        pieces.append((piece, (d - start_d) / total * length))
        start_k, start_pt, start_d = k, pt, d
    pieces.append((np.vstack([start_pt, coords[start_k + 1 :]]), (total - start_d) / total * length))
    return pieces


def _simple_edges(table: _EdgeTable, node_lonlat: Mapping[int, tuple[float, float]]) -> tuple[_EdgeTable, dict]:
    """Make the edge set simple without losing any street.

    The reverse copy of a two-way street is dropped.  Of parallel streets
    between the same two nodes the shortest stays as it is and each longer one
    is cut at its middle by a new node, so the CSR matrix holds one edge per
    node pair, shortest paths are unchanged, and every street can still be
    walked on, drawn and snapped to.  Closed loops are cut in three.
    """
    u = np.asarray(table.u, dtype=np.int64)
    v = np.asarray(table.v, dtype=np.int64)
    length = np.asarray(table.length, dtype=float)
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((length, hi, lo))
    out = _EdgeTable()
    nodes = dict(node_lonlat)
    next_id = -1
    prev_pair, kept = None, []
    for i in order:
        pair = (int(lo[i]), int(hi[i]))
        if pair != prev_pair:
            prev_pair, kept = pair, []
        if any(abs(length[i] - k) < 0.05 for k in kept):
            continue  # the same street seen from its other end
        kept.append(length[i])
        if u[i] != v[i] and len(kept) == 1:
            pieces = [(table.coords[i], length[i])]
        elif length[i] < 1.0:
            continue  # a degenerate loop
        else:
            pieces = _split_polyline(table.coords[i], length[i], (1 / 3, 2 / 3) if u[i] == v[i] else (0.5,))
        ends = [int(u[i])]
        for coords, _ in pieces[:-1]:
            nodes[next_id] = (float(coords[-1, 0]), float(coords[-1, 1]))
            ends.append(next_id)
            next_id -= 1
        ends.append(int(v[i]))
        for (coords, piece_len), a, b in zip(pieces, ends[:-1], ends[1:]):
            out.u.append(a)
            out.v.append(b)
            out.length.append(piece_len)
            out.highway.append(table.highway[i])
            out.coords.append(coords)
    return out, nodes


def _assemble(
    table: _EdgeTable,
    node_lonlat: Mapping[int, tuple[float, float]],
    *,
    name: str,
    source: str,
    crs: str | None = None,
    meta: dict | None = None,
) -> WalkNetwork:
    """Turn gathered edges (lon/lat) into a network with one edge per node pair."""
    if not table.u:
        raise NetworkError(f"{name or source}: no walkable street in this network")
    table, node_lonlat = _simple_edges(table, node_lonlat)
    u = np.asarray(table.u, dtype=np.int64)
    v = np.asarray(table.v, dtype=np.int64)
    length = np.asarray(table.length, dtype=float)
    chosen = np.arange(u.shape[0])

    osmids = np.unique(np.concatenate([u[chosen], v[chosen]]))
    index_of = {int(o): i for i, o in enumerate(osmids)}
    lonlat = np.array([node_lonlat[int(o)] for o in osmids], dtype=float)
    crs = crs or local_metric_crs(lonlat[:, 0], lonlat[:, 1])
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to_metric.transform(lonlat[:, 0], lonlat[:, 1])

    coords = [table.coords[i] for i in chosen]
    counts = np.fromiter((len(c) for c in coords), dtype=np.int64, count=len(coords))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    all_lonlat = np.concatenate(coords)
    gx, gy = to_metric.transform(all_lonlat[:, 0], all_lonlat[:, 1])
    return WalkNetwork(
        crs=crs,
        node_osmid=osmids,
        node_xy=np.column_stack([x, y]),
        node_lonlat=lonlat,
        edge_u=np.array([index_of[int(a)] for a in u[chosen]], dtype=np.int32),
        edge_v=np.array([index_of[int(b)] for b in v[chosen]], dtype=np.int32),
        edge_length=length[chosen],
        edge_highway=shared_strings([table.highway[i] for i in chosen]),
        geom_offsets=offsets,
        geom_xy=np.column_stack([gx, gy]),
        name=name,
        source=source,
        meta={"built": time.strftime("%Y-%m-%d %H:%M:%S"), **(meta or {})},
    )


def from_graph(
    graph,
    *,
    name: str = "",
    source: str = "",
    crs: str | None = None,
    walk_filter: bool = True,
) -> WalkNetwork:
    """Build a walking network from an osmnx-style networkx graph.

    Parameters
    ----------
    graph
        A ``networkx`` (Multi)(Di)Graph whose nodes have ``x`` (longitude) and
        ``y`` (latitude) and whose edges have ``length`` in metres, and
        optionally ``geometry`` (a lon/lat LineString), ``highway``, ``access``,
        ``foot`` and ``service``, as osmnx makes them.
    name, source
        Display name and provenance.
    crs
        Metric CRS to use; by default the UTM zone of the graph.
    walk_filter
        Apply :func:`is_walkable` to every edge (set False for a graph that is
        already a walking network).

    Returns
    -------
    WalkNetwork
    """
    graph_crs = str(graph.graph.get("crs", "epsg:4326")).lower()
    if graph_crs not in ("epsg:4326", "wgs84", "+init=epsg:4326"):
        raise NetworkError(
            f"{name or source}: graph is in {graph_crs}; give an unprojected (EPSG:4326) graph"
        )
    node_lonlat = {int(n): (float(d["x"]), float(d["y"])) for n, d in graph.nodes(data=True)}
    table = _EdgeTable()
    for u, v, data in graph.edges(data=True):
        if walk_filter and not is_walkable(data):
            continue
        u, v = int(u), int(v)
        geom = data.get("geometry")
        if geom is not None and not isinstance(geom, str):
            coords = np.asarray(geom.coords, dtype=float)
        elif isinstance(geom, str):
            coords = np.asarray(shapely.from_wkt(geom).coords, dtype=float)
        else:
            coords = np.array([node_lonlat[u], node_lonlat[v]], dtype=float)
        # a polyline must run from u to v
        if np.hypot(*(coords[0] - node_lonlat[u])) > np.hypot(*(coords[-1] - node_lonlat[u])):
            coords = coords[::-1]
        coords[0] = node_lonlat[u]
        coords[-1] = node_lonlat[v]
        length = data.get("length")
        length = float(length) if length is not None else _haversine_m(coords)
        highway = _values(data.get("highway"))
        table.u.append(u)
        table.v.append(v)
        table.length.append(length)
        table.highway.append(highway[0] if highway else "")
        table.coords.append(coords)
    return _assemble(table, node_lonlat, name=name, source=source, crs=crs)


def from_graphml(path: str | os.PathLike, *, crs: str | None = None) -> WalkNetwork:
    """Build a walking network from an osmnx ``.graphml`` file."""
    import osmnx as ox

    path = Path(path)
    try:
        graph = ox.load_graphml(path)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise NetworkError(f"{path.name}: not a readable osmnx GraphML file ({exc})") from None
    return from_graph(graph, name=path.stem, source=str(path), crs=crs)


def from_osm_file(
    path: str | os.PathLike,
    *,
    crs: str | None = None,
    progress: ProgressFn | None = None,
) -> WalkNetwork:
    """Build a walking network from an OpenStreetMap ``.osm`` (XML) or ``.osm.pbf`` file.

    Ways are read with pyosmium, filtered with :func:`is_walkable`, and split
    into edges at every node shared by two walkable ways (and at way ends), as
    osmnx's simplification does; each edge keeps its full geometry.

    Parameters
    ----------
    path
        The OSM file.
    crs
        Metric CRS; by default the UTM zone of the data.
    progress
        Called with short status lines.
    """
    import osmium

    path = Path(path)
    ways: list[tuple[np.ndarray, str]] = []
    node_lonlat: dict[int, tuple[float, float]] = {}
    try:
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        for obj in processor.with_locations():
            if not obj.is_way() or "highway" not in obj.tags:
                continue
            tags = {k: v for k, v in obj.tags}
            if not is_walkable(tags):
                continue
            # a way clipped at the file's edge loses nodes: split it there, never bridge the gap
            refs: list[int] = []
            for nd in obj.nodes:
                if nd.location.valid():
                    node_lonlat[nd.ref] = (nd.lon, nd.lat)
                    refs.append(nd.ref)
                    continue
                if len(refs) >= 2:
                    ways.append((np.asarray(refs, dtype=np.int64), tags["highway"]))
                refs = []
            if len(refs) >= 2:
                ways.append((np.asarray(refs, dtype=np.int64), tags["highway"]))
    except RuntimeError as exc:
        raise NetworkError(f"{path.name}: not a readable OpenStreetMap file ({exc})") from None
    if progress:
        progress(f"read {len(ways):,} walkable ways from {path.name}")
    table = _split_ways(ways, node_lonlat)
    return _assemble(table, node_lonlat, name=path.name.split(".")[0], source=str(path), crs=crs)


def _split_ways(ways: list[tuple[np.ndarray, str]], node_lonlat: Mapping[int, tuple[float, float]]) -> _EdgeTable:
    """Split OSM ways into edges at junctions (nodes used more than once) and way ends."""
    table = _EdgeTable()
    if not ways:
        return table
    all_refs = np.concatenate([refs for refs, _ in ways])
    uniq, counts = np.unique(all_refs, return_counts=True)
    junction = set(uniq[counts > 1].tolist())
    for refs, highway in ways:
        cut = [0]
        for i in range(1, len(refs) - 1):
            if int(refs[i]) in junction:
                cut.append(i)
        cut.append(len(refs) - 1)
        for a, b in zip(cut[:-1], cut[1:]):
            piece = refs[a : b + 1]
            coords = np.array([node_lonlat[int(r)] for r in piece], dtype=float)
            table.u.append(int(piece[0]))
            table.v.append(int(piece[-1]))
            table.length.append(_haversine_m(coords))
            table.highway.append(highway)
            table.coords.append(coords)
    return table


def from_place(query: str, *, crs: str | None = None) -> WalkNetwork:
    """Download the walking network of a named place through osmnx (needs internet).

    Parameters
    ----------
    query
        A place name osmnx can geocode, e.g. ``"福田区, 深圳市, 中国"``.
    """
    import osmnx as ox

    try:
        graph = ox.graph_from_place(query, network_type="walk", simplify=True, retain_all=True)
    except Exception as exc:  # noqa: BLE001 - network or geocoding failures
        raise NetworkError(f"could not download the network of {query!r}: {exc}") from None
    return from_graph(graph, name=query, source=f"place:{query}", crs=crs)


def from_bbox(bbox: tuple[float, float, float, float], *, crs: str | None = None) -> WalkNetwork:
    """Download the walking network inside a WGS84 (west, south, east, north) box through osmnx."""
    import osmnx as ox

    west, south, east, north = bbox
    if not (west < east and south < north):
        raise NetworkError(f"bbox {bbox} must be west,south,east,north with west<east and south<north")
    try:
        graph = ox.graph_from_bbox((west, south, east, north), network_type="walk", simplify=True, retain_all=True)
    except Exception as exc:  # noqa: BLE001
        raise NetworkError(f"could not download the network of bbox {bbox}: {exc}") from None
    return from_graph(graph, name="bbox", source=f"bbox:{west},{south},{east},{north}", crs=crs)


# ------------------------------------------------------------------ caching
NETWORK_SUFFIX = ".lcnet"


def cache_dir() -> Path:
    """Folder of cached networks: ``$LIFECIRCLE_CACHE`` or ``~/.cache/lifecircle``."""
    base = os.environ.get("LIFECIRCLE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lifecircle"
    )
    return Path(base) / "networks"


def _cache_key(path: Path) -> str:
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{FORMAT_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def load_network(
    source: str | os.PathLike,
    *,
    use_cache: bool = True,
    progress: ProgressFn | None = None,
) -> WalkNetwork:
    """Load a walking network from any supported source, through the cache.

    Parameters
    ----------
    source
        A ``.lcnet`` file written by :meth:`WalkNetwork.save`, an osmnx
        ``.graphml``, an OpenStreetMap ``.osm`` or ``.osm.pbf`` file.
    use_cache
        Reuse (and write) a cached build keyed by the file's path, size and
        modification time, so a network is never rebuilt from an unchanged file.
    progress
        Called with short status lines.

    Raises
    ------
    NetworkError
        When the file is missing, of an unknown kind or unreadable.
    """
    path = Path(source)
    if not path.exists():
        raise NetworkError(f"{path}: network file not found")
    lower = path.name.lower()
    if lower.endswith((NETWORK_SUFFIX, ".npz")):
        return WalkNetwork.load(path)
    if not lower.endswith((".graphml", ".osm", ".osm.pbf", ".pbf", ".osm.xml")):
        raise NetworkError(
            f"{path.name}: unknown network format; use a .lcnet file from `lifecircle network`, "
            "an osmnx .graphml, or an OpenStreetMap .osm / .osm.pbf file"
        )
    cached = cache_dir() / f"{_cache_key(path)}{NETWORK_SUFFIX}"
    if use_cache and cached.exists():
        try:
            return WalkNetwork.load(cached)
        except NetworkError:
            pass
    started = time.perf_counter()
    if progress:
        progress(f"building the walking network from {path.name} ...")
    if lower.endswith(".graphml"):
        net = from_graphml(path)
    else:
        net = from_osm_file(path, progress=progress)
    if progress:
        progress(f"built {net.n_nodes:,} nodes and {net.n_edges:,} edges in {time.perf_counter() - started:.1f} s")
    if use_cache:
        try:
            net.save(cached)
        except OSError:
            pass  # a read-only cache folder only costs a rebuild next time
    return net


# ----------------------------------------------------------------- snapping
@dataclass
class Snapped:
    """Points joined to a network at the nearest point of the nearest walkable edge.

    Attributes
    ----------
    edge
        Index of the edge each point joins, or -1 when it is farther than the
        snapping limit from every edge (unreachable).
    offset
        Walking distance in metres along the edge from ``edge_u`` to the join point.
    gap
        Straight distance in metres from the point to the join point; it
        counts as walking.
    xy
        The join point in the network's CRS, shape (K, 2) (NaN when unreachable).
    """

    edge: np.ndarray
    offset: np.ndarray
    gap: np.ndarray
    xy: np.ndarray

    def __len__(self) -> int:
        return int(self.edge.shape[0])

    @property
    def reachable(self) -> np.ndarray:
        """Boolean mask of points that joined the network."""
        return self.edge >= 0

    def subset(self, mask: np.ndarray) -> "Snapped":
        """Return the points selected by a boolean mask or index array."""
        return Snapped(self.edge[mask], self.offset[mask], self.gap[mask], self.xy[mask])

    @staticmethod
    def concat(parts: Iterable["Snapped"]) -> "Snapped":
        """Join several snapped sets, in order."""
        parts = list(parts)
        return Snapped(
            np.concatenate([p.edge for p in parts]),
            np.concatenate([p.offset for p in parts]),
            np.concatenate([p.gap for p in parts]),
            np.concatenate([p.xy for p in parts]).reshape(-1, 2),
        )


def snap_xy(net: WalkNetwork, xy: np.ndarray, *, limit_m: float = DEFAULT_SNAP_LIMIT_M) -> Snapped:
    """Join metric points to the nearest point of the nearest edge.

    Exact: candidate segments come from a KD-tree over short sub-segments;
    a point whose candidates could hide a nearer segment is checked against
    every sub-segment in the bounding radius.

    Parameters
    ----------
    net
        The network.
    xy
        Points in ``net.crs``, shape (K, 2).
    limit_m
        Snapping limit: points farther from every edge get ``edge == -1``.

    Returns
    -------
    Snapped
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    k = xy.shape[0]
    edge = np.full(k, -1, dtype=np.int64)
    offset = np.full(k, np.nan)
    gap = np.full(k, np.nan)
    joined = np.full((k, 2), np.nan)
    idx = np.flatnonzero(np.isfinite(xy).all(axis=1))
    if idx.size == 0 or net.n_edges == 0:
        return Snapped(edge, offset, gap, joined)
    index = net.segment_index
    seg, dist, t = index.nearest(xy[idx], limit_m)
    ok = seg >= 0
    idx, seg, dist, t = idx[ok], seg[ok], dist[ok], t[ok]
    e = index.seg_edge[seg]
    along = index.seg_cum0[seg] + t * index.seg_len[seg]
    geom_len = net.edge_geom_length[e]
    scale = np.divide(net.edge_length[e], geom_len, out=np.ones_like(geom_len), where=geom_len > 0)
    edge[idx] = e
    offset[idx] = np.clip(along * scale, 0.0, net.edge_length[e])
    gap[idx] = dist
    joined[idx] = index.seg_a[seg] + t[:, None] * (index.seg_b[seg] - index.seg_a[seg])
    return Snapped(edge, offset, gap, joined)


class SegmentIndex:
    """Nearest-segment search over a network's polylines (exact, vectorised).

    Every straight segment is cut into sub-segments of at most ``step`` metres
    whose midpoints go into a :class:`scipy.spatial.cKDTree`.
    """

    def __init__(self, net: WalkNetwork, step: float = 30.0, k: int = 8) -> None:
        from scipy.spatial import cKDTree

        starts = np.zeros(net.geom_xy.shape[0] - 1, dtype=bool)
        starts[net.geom_offsets[1:-1] - 1] = True  # pairs that would join two edges
        keep = np.flatnonzero(~starts)
        self.seg_a = net.geom_xy[keep]
        self.seg_b = net.geom_xy[keep + 1]
        vertex_edge = np.repeat(np.arange(net.n_edges), np.diff(net.geom_offsets))
        self.seg_edge = vertex_edge[keep]
        self.seg_cum0 = net.geom_cum[keep]
        d = self.seg_b - self.seg_a
        self.seg_len = np.hypot(d[:, 0], d[:, 1])
        n_sub = np.maximum(1, np.ceil(self.seg_len / step).astype(np.int64))
        self.sub_seg = np.repeat(np.arange(keep.size), n_sub)
        within = np.arange(n_sub.sum()) - np.repeat(np.cumsum(n_sub) - n_sub, n_sub)
        frac = (within + 0.5) / n_sub[self.sub_seg]
        mid = self.seg_a[self.sub_seg] + frac[:, None] * d[self.sub_seg]
        self.half = float(np.max(self.seg_len / n_sub) / 2.0) + 1e-6
        self.k = int(min(k, mid.shape[0]))
        self.tree = cKDTree(mid)

    def _exact(self, pts: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distance and parameter of each point to each candidate segment, shape (K, C)."""
        a = self.seg_a[cand]
        ab = self.seg_b[cand] - a
        ap = pts[:, None, :] - a
        denom = np.einsum("kcd,kcd->kc", ab, ab)
        t = np.divide(np.einsum("kcd,kcd->kc", ap, ab), denom, out=np.zeros(denom.shape), where=denom > 0)
        t = np.clip(t, 0.0, 1.0)
        diff = ap - t[..., None] * ab
        return np.hypot(diff[..., 0], diff[..., 1]), t, cand

    def nearest(self, pts: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (segment, distance, parameter t) of the nearest segment; -1 beyond ``limit``."""
        n_sub = self.sub_seg.shape[0]
        mid_d, mid_i = self.tree.query(pts, k=self.k, distance_upper_bound=limit + self.half, workers=-1)
        mid_d = mid_d.reshape(len(pts), -1)
        mid_i = mid_i.reshape(len(pts), -1)
        valid = mid_i < n_sub
        cand = self.sub_seg[np.where(valid, mid_i, 0)]
        dist, t, _ = self._exact(pts, cand)
        dist[~valid] = np.inf
        best = np.argmin(dist, axis=1)
        rows = np.arange(len(pts))
        seg = cand[rows, best]
        bd = dist[rows, best]
        bt = t[rows, best]
        # a farther midpoint may still hide a nearer segment: check those points fully
        unsure = valid[:, -1] & (mid_d[:, -1] < np.minimum(bd, limit) + self.half)
        for i in np.flatnonzero(unsure):
            near = self.tree.query_ball_point(pts[i], min(bd[i], limit) + self.half)
            cands = np.unique(self.sub_seg[near])
            d1, t1, _ = self._exact(pts[i : i + 1], cands[None, :])
            j = int(np.argmin(d1[0]))
            seg[i], bd[i], bt[i] = cands[j], d1[0, j], t1[0, j]
        far = ~np.isfinite(bd) | (bd > limit)
        seg = np.where(far, -1, seg)
        return seg, bd, bt


def snap_lonlat(
    net: WalkNetwork, lon: np.ndarray, lat: np.ndarray, *, limit_m: float = DEFAULT_SNAP_LIMIT_M
) -> Snapped:
    """Join WGS84 points to the network (see :func:`snap_xy`)."""
    return snap_xy(net, net.to_metric(lon, lat), limit_m=limit_m)


def snap_points(net: WalkNetwork, points, *, limit_m: float = DEFAULT_SNAP_LIMIT_M) -> Snapped:
    """Join the points of a WGS84 GeoDataFrame or GeoSeries to the network.

    Non-point geometries join at their representative point.
    """
    geoms = points.geometry if hasattr(points, "geometry") else points
    geoms = np.asarray(geoms.values if hasattr(geoms, "values") else geoms)
    if geoms.size == 0:
        return snap_xy(net, np.empty((0, 2)), limit_m=limit_m)
    is_point = shapely.get_type_id(geoms) == 0
    reps = np.where(is_point, geoms, shapely.point_on_surface(geoms))
    coords = shapely.get_coordinates(reps)
    if coords.shape[0] != geoms.size:  # empty geometries
        coords = np.array([[g.x, g.y] if g is not None and not g.is_empty else [np.nan, np.nan] for g in reps])
    return snap_lonlat(net, coords[:, 0], coords[:, 1], limit_m=limit_m)



def from_arrays(
    node_xy: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    *,
    crs: str,
    edge_geometry: list[np.ndarray] | None = None,
    edge_highway: np.ndarray | None = None,
    name: str = "",
    source: str = "arrays",
) -> WalkNetwork:
    """Build a network directly from metric node coordinates and edge end indices.

    Edge lengths are the planar lengths of the (straight, or given) polylines;
    parallel edges and loops are handled as in every builder.

    Parameters
    ----------
    node_xy
        Node coordinates in ``crs``, shape (N, 2).
    edge_u, edge_v
        Node indices of each edge's ends.
    crs
        The metric CRS of the coordinates.
    edge_geometry
        Optional polylines (metric), each running from its u to its v.
    edge_highway
        Optional ``highway`` value per edge.
    """
    node_xy = np.asarray(node_xy, dtype=float)
    u = np.asarray(edge_u, dtype=np.int64)
    v = np.asarray(edge_v, dtype=np.int64)
    if edge_geometry is None:
        edge_geometry = list(np.stack([node_xy[u], node_xy[v]], axis=1))
    counts = np.array([len(g) for g in edge_geometry])
    flat = np.concatenate(edge_geometry)
    d = np.diff(flat, axis=0)
    cum = np.cumsum(np.concatenate([[0.0], np.hypot(d[:, 0], d[:, 1])]))
    offs = np.concatenate([[0], np.cumsum(counts)])
    length = cum[offs[1:] - 1] - cum[offs[:-1]]
    to_wgs = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(flat[:, 0], flat[:, 1])
    lonlat = np.column_stack([lon, lat])
    nlon, nlat = to_wgs.transform(node_xy[:, 0], node_xy[:, 1])
    node_lonlat = {i: (float(a), float(b)) for i, (a, b) in enumerate(zip(nlon, nlat))}
    highway = list(edge_highway) if edge_highway is not None else ["residential"] * u.shape[0]
    table = _EdgeTable(
        u=u.tolist(), v=v.tolist(), length=length.tolist(), highway=[str(h) for h in highway],
        coords=[lonlat[offs[k] : offs[k + 1]] for k in range(u.shape[0])],
    )
    for k, c in enumerate(table.coords):  # exact node positions at the ends
        c[0] = node_lonlat[int(u[k])]
        c[-1] = node_lonlat[int(v[k])]
    return _assemble(table, node_lonlat, name=name, source=source, crs=crs)


# ------------------------------------------------------------------ strokes
#: Largest deflection, in degrees, at which a street is taken to run on through a junction.
STROKE_DEFLECTION_DEG = 35.0


@dataclass
class Strokes:
    """Edges chained into strokes (natural streets).

    Attributes
    ----------
    stroke
        Stroke id of each edge.
    position
        Place of each edge along its stroke (0, 1, 2, ...).
    flipped
        True where the stroke runs through the edge from ``edge_v`` to ``edge_u``.
    """

    stroke: np.ndarray
    position: np.ndarray
    flipped: np.ndarray


def _end_angles(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Direction (radians) in which each edge leaves its u end and its v end."""
    start = net.geom_offsets[:-1]
    end = net.geom_offsets[1:] - 1
    du = net.geom_xy[start + 1] - net.geom_xy[start]
    dv = net.geom_xy[end - 1] - net.geom_xy[end]
    return np.arctan2(du[:, 1], du[:, 0]), np.arctan2(dv[:, 1], dv[:, 0])


def stroke_continuations(net: WalkNetwork) -> np.ndarray:
    """At every junction pair up the edge ends that run on most straight.

    Pairs of ends at a node are taken greedily by deflection (the straightest
    first, each end once, none above :data:`STROKE_DEFLECTION_DEG`), a round
    per pair so that all junctions are matched at once.

    Returns
    -------
    numpy.ndarray
        ``partner[2 * e + end]`` is ``2 * e2 + end2`` when end ``end`` (0 at u,
        1 at v) of edge ``e`` runs on into end ``end2`` of edge ``e2``, else -1.
    """
    angle_u, angle_v = _end_angles(net)
    ends = np.arange(2 * net.n_edges)  # 2 * e + end
    node = np.where(ends % 2 == 0, net.edge_u[ends // 2], net.edge_v[ends // 2])
    angle = np.where(ends % 2 == 0, angle_u[ends // 2], angle_v[ends // 2])
    order = np.argsort(node, kind="stable")
    ends, node, angle = ends[order], node[order], angle[order]
    # every pair (a, b) of ends at the same node, a before b
    first = np.searchsorted(node, node, side="left")
    last = np.searchsorted(node, node, side="right")
    later = last - np.arange(ends.size) - 1
    a = np.repeat(np.arange(ends.size), later)
    b = a + 1 + (np.arange(a.size) - np.repeat(np.cumsum(later) - later, later))
    deflection = np.abs((angle[a] - angle[b]) % (2 * np.pi) - np.pi)
    keep = (deflection <= np.radians(STROKE_DEFLECTION_DEG)) & (ends[a] // 2 != ends[b] // 2)
    a, b, deflection = a[keep], b[keep], deflection[keep]
    rank = np.lexsort((b - first[b], a - first[a], deflection, node[a]))
    a, b = a[rank], b[rank]
    partner = np.full(2 * net.n_edges, -1, dtype=np.int64)
    free = np.ones(ends.size, dtype=bool)
    while a.size:
        _, pick = np.unique(node[a], return_index=True)  # the straightest free pair at each node
        pa, pb = a[pick], b[pick]
        partner[ends[pa]], partner[ends[pb]] = ends[pb], ends[pa]
        free[pa] = free[pb] = False
        alive = free[a] & free[b]
        a, b = a[alive], b[alive]
    return partner


def build_strokes(net: WalkNetwork) -> Strokes:
    """Chain edges into strokes: at each junction a street runs on into the edge that
    continues it most straight (within 35 degrees).  Buffering strokes instead of single
    edges gives the same polygon with far fewer overlapping round caps.

    Walking an edge entered at end ``entry`` is the state ``2 * e + entry``; its
    successor is the partner of the end it leaves by.  Each stroke is a chain of
    states (and its reverse, the same edges the other way); chains are ranked by
    pointer jumping, loops cut at their smallest state, and each stroke keeps the
    direction whose first state is smaller.
    """
    n = 2 * net.n_edges
    succ = stroke_continuations(net)[np.arange(n) ^ 1]
    pred = np.full(n, -1, dtype=np.int64)
    has = succ >= 0
    pred[succ[has]] = np.flatnonzero(has)
    # loops: the smallest state of a loop has no first state before it; cut there
    low, hop = np.arange(n), pred.copy()
    for _ in range(int(np.ceil(np.log2(max(n, 2)))) + 1):
        ok = hop >= 0
        low[ok] = np.minimum(low[ok], low[hop[ok]])
        hop[ok] = hop[hop[ok]]
    on_loop = hop >= 0  # still a predecessor after n jumps: a cycle
    cut = on_loop & (low == np.arange(n))
    pred[cut] = -1
    head, dist = _chain_heads(pred)  # each state's first state, and how far along it is
    e = np.arange(net.n_edges)
    forward = head[2 * e] <= head[2 * e + 1]
    state = np.where(forward, 2 * e, 2 * e + 1)
    _, stroke = np.unique(head[state], return_inverse=True)
    return Strokes(stroke.astype(np.int64), dist[state], state % 2 == 1)


def _chain_heads(pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For chains given by each element's predecessor (-1 at a head, no cycles): every
    element's head and its distance from it, by pointer jumping."""
    n = pred.size
    head = np.where(pred >= 0, pred, np.arange(n))
    dist = (pred >= 0).astype(np.int64)
    done = pred < 0
    while not done.all():
        todo = ~done
        up = head[todo]
        dist[todo] += dist[up]
        done_up = done[up]
        head[todo] = head[up]
        done[todo] = done_up
    return head, dist
