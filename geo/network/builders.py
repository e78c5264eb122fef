"""Build a :class:`~geo.network.WalkNetwork` from OpenStreetMap or from arrays.

Sources: an osmnx-style networkx graph (:func:`from_graph`), an osmnx
``.graphml`` file (:func:`from_graphml`), a local ``.osm`` / ``.osm.pbf`` file
(:func:`from_osm_file`: ``.osm.pbf`` decoded with NumPy by :mod:`.osmpbf`, XML
read with pyosmium), a place name or a bounding box
downloaded through osmnx (:func:`from_place`, :func:`from_bbox`), or metric node
coordinates and edge ends (:func:`from_arrays`).  Every builder keeps only what
people may walk on (:func:`is_walkable`) and makes the edge set simple without
losing a street (one edge per node pair; longer parallel streets and loops are
cut by new nodes).  Edges are gathered in flat arrays (:class:`_EdgeTable`) and
split, measured and deduplicated with array operations, never one Python object
per way or edge: a city's million nodes build in seconds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely

from ..errors import NetworkError
from .core import ProgressFn, WalkNetwork
from .edgetable import (  # the array build every builder shares
    _assemble,
    _codes,
    _EdgeTable,
    _flat_polyline_lengths,
    _haversine_m,
    _Nodes,
    _nodes_from,
    _polyline_lengths,  # noqa: F401 - tests import it from here
    _ranges,
    _table_from_lists,
)

__all__ = [
    "EXCLUDED_HIGHWAY",
    "EXCLUDED_ACCESS",
    "FOOT_ALLOWED",
    "is_walkable",
    "from_graph",
    "from_graphml",
    "from_osm_file",
    "from_place",
    "from_bbox",
    "from_arrays",
]

#: highway values nobody may walk on (the osmnx "walk" network type's exclusions).
EXCLUDED_HIGHWAY = frozenset(
    {
        "abandoned",
        "bus_guideway",
        "construction",
        "corridor",
        "cycleway",
        "elevator",
        "escalator",
        "motorway",
        "motorway_link",
        "motorway_junction",
        "motorroad",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "busway",
        "bus_stop",
    }
)
#: access values that close a way to walkers unless foot= says otherwise.
EXCLUDED_ACCESS = frozenset({"no", "private"})
#: foot values that open a way whatever its access tag says.
FOOT_ALLOWED = frozenset({"yes", "designated", "permissive", "official"})


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


# ---------------------------------------------------------------- building
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
        raise NetworkError(f"{name or source}: graph is in {graph_crs}; give an unprojected (EPSG:4326) graph")
    node_lonlat = {int(n): (float(d["x"]), float(d["y"])) for n, d in graph.nodes(data=True)}
    us: list[int] = []
    vs: list[int] = []
    lengths: list[float] = []
    highways: list[str] = []
    polylines: list[np.ndarray] = []
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
        us.append(u)
        vs.append(v)
        lengths.append(length)
        highways.append(highway[0] if highway else "")
        polylines.append(coords)
    nodes = _nodes_from(
        np.fromiter(node_lonlat, dtype=np.int64, count=len(node_lonlat)),
        np.array(list(node_lonlat.values()), dtype=float),
    )
    ends = nodes.index(np.asarray(us + vs, dtype=np.int64))
    table = _table_from_lists(ends[: len(us)], ends[len(us) :], lengths, highways, polylines)
    return _assemble(table, nodes, name=name, source=source, crs=crs)


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

    Ways are read into flat arrays (:func:`geo.network.osmpbf.read_osm`: NumPy
    for ``.osm.pbf``, pyosmium for XML), filtered with :func:`is_walkable`, and
    split into edges at every node shared by two walkable ways (and at way
    ends), as osmnx's simplification does; each edge keeps its full geometry.
    A way clipped at the file's edge (nodes without a location) is split
    there, never bridged.

    Parameters
    ----------
    path
        The OSM file.
    crs
        Metric CRS; by default the UTM zone of the data.
    progress
        Called with short status lines.
    """
    from .osmpbf import read_osm

    path = Path(path)
    try:
        arrays = read_osm(path, _WALK_KEYS)
    except RuntimeError as exc:
        raise NetworkError(f"{path.name}: not a readable OpenStreetMap file ({exc})") from None
    except OSError as exc:
        raise NetworkError(f"{path.name}: not a readable OpenStreetMap file ({exc})") from None
    ways, nodes = _walkable_pieces(arrays)
    del arrays
    if progress:
        progress(f"read {ways.count:,} walkable ways from {path.name}")
    table = _split_ways(ways, nodes)
    del ways
    return _assemble(table, nodes, name=path.name.split(".")[0], source=str(path), crs=crs)


#: The tags :func:`is_walkable` reads (``highway`` first: ways without it are not read).
_WALK_KEYS = ("highway", "area", "foot", "service", "access")


@dataclass
class _Ways:
    """Walkable way pieces: piece ``p``'s nodes are ``nodes[offsets[p]:offsets[p+1]]`` (node table indices)."""

    nodes: np.ndarray
    offsets: np.ndarray
    highway: np.ndarray
    names: np.ndarray

    @property
    def count(self) -> int:
        """Number of pieces."""
        return int(self.offsets.shape[0] - 1)


def _walkable_pieces(arrays) -> tuple[_Ways, _Nodes]:
    """Keep the walkable ways, cut where a node has no location, and drop pieces of one node."""
    tags = arrays.tags
    walkable = _walkable_ways(tags, arrays.strings)
    counts = np.diff(arrays.offsets)
    way = np.repeat(np.arange(counts.shape[0]), counts)
    keep = walkable[way]
    refs, way = arrays.refs[keep], way[keep]
    if refs.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return _Ways(empty, np.zeros(1, dtype=np.int64), empty, np.empty(0, dtype=str)), _Nodes(empty, np.empty((0, 2)))
    n_table = arrays.node_id.shape[0]
    at = np.searchsorted(arrays.node_id, refs)
    found = at < n_table
    found[found] = arrays.node_id[at[found]] == refs[found]
    # a piece starts at a way's first node and after each node without a location
    start = np.r_[True, way[1:] != way[:-1]] | np.r_[True, ~found[:-1]]
    piece = np.cumsum(start) - 1
    piece, at, way = piece[found], at[found], way[found]
    size = np.bincount(piece)
    long_enough = size[piece] >= 2
    piece, at, way = piece[long_enough], at[long_enough], way[long_enough]
    starts = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1]]) if piece.size else np.empty(0, dtype=np.int64)
    offsets = np.r_[starts, at.shape[0]].astype(np.int64)
    # the highway value of each piece: its way's, as an index into the sorted distinct values
    strings = np.array([*arrays.strings, ""], dtype=object)
    distinct, inverse = np.unique(tags[way[starts], 0], return_inverse=True)
    names, rank = np.unique(np.array([str(strings[c]) for c in distinct], dtype=str), return_inverse=True)
    highway = rank.reshape(-1)[inverse.reshape(-1)].astype(np.int64)
    # the nodes the pieces use, numbered in id order (the node table is sorted)
    used = np.bincount(at, minlength=n_table) > 0
    index = np.cumsum(used) - 1
    lonlat = np.column_stack([arrays.node_x[used] / 10_000_000, arrays.node_y[used] / 10_000_000])
    return (
        _Ways(nodes=index[at], offsets=offsets, highway=highway, names=names),
        _Nodes(arrays.node_id[used], lonlat),
    )


def _walkable_ways(tags: np.ndarray, strings: list[str]) -> np.ndarray:
    """Apply :func:`is_walkable` to each distinct combination of the ways' tag values."""
    if tags.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    base = len(strings) + 1
    if base ** tags.shape[1] < 2**62:  # one int64 per way: a plain sort instead of rows
        key = ((tags.astype(np.int64) + 1) * base ** np.arange(tags.shape[1], dtype=np.int64)).sum(axis=1)
        _, first, which = np.unique(key, return_index=True, return_inverse=True)
        combos = tags[first]
    else:
        combos, which = np.unique(tags, axis=0, return_inverse=True)
    text = np.array([*strings, None], dtype=object)  # code -1: no such tag
    ok = np.array([is_walkable(dict(zip(_WALK_KEYS, text[combo]))) for combo in combos], dtype=bool)
    return ok[which.reshape(-1)]


def _split_ways(ways: _Ways, nodes: _Nodes) -> _EdgeTable:
    """Split way pieces into edges at junctions (nodes used more than once) and piece ends, all at once."""
    at, offsets = ways.nodes, ways.offsets
    if at.size == 0:
        return _table_from_lists(np.empty(0, np.int64), np.empty(0, np.int64), [], [], [])
    uses = np.bincount(at, minlength=nodes.ids.shape[0])
    first = np.zeros(at.shape[0], dtype=bool)
    first[offsets[:-1]] = True
    last = np.zeros(at.shape[0], dtype=bool)
    last[offsets[1:] - 1] = True
    cut = np.flatnonzero((uses[at] > 1) | first | last)
    begins = ~last[cut[:-1]]  # every cut but a piece's last starts an edge, which ends at the next cut
    start, end = cut[:-1][begins], cut[1:][begins]
    piece = np.searchsorted(offsets, start, side="right") - 1
    geom_offsets = np.concatenate([[0], np.cumsum(end - start + 1)]).astype(np.int64)
    point = at[_ranges(start, end - start + 1)]
    lonlat = nodes.lonlat[point]
    return _EdgeTable(
        u=at[start],
        v=at[end],
        length=_flat_polyline_lengths(lonlat, geom_offsets),
        highway=ways.highway[piece],
        names=ways.names,
        offsets=geom_offsets,
        lonlat=lonlat,
        point=point,
    )


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
    node_lonlat = np.column_stack([nlon, nlat])
    lonlat[offs[:-1]] = node_lonlat[u]  # exact node positions at the ends
    lonlat[offs[1:] - 1] = node_lonlat[v]
    if edge_highway is not None:
        codes, names = _codes([str(h) for h in edge_highway])
    else:
        codes, names = np.zeros(u.shape[0], dtype=np.int64), np.array(["residential"])
    table = _EdgeTable(
        u=u, v=v, length=length, highway=codes, names=names, offsets=offs.astype(np.int64), lonlat=lonlat
    )
    nodes = _Nodes(np.arange(node_xy.shape[0], dtype=np.int64), node_lonlat)
    return _assemble(table, nodes, name=name, source=source, crs=crs)
