"""Build a :class:`~geo.network.WalkNetwork` from OpenStreetMap or from arrays.

Sources: an osmnx-style networkx graph (:func:`from_graph`), an osmnx
``.graphml`` file (:func:`from_graphml`), a local ``.osm`` / ``.osm.pbf`` file
read with pyosmium (:func:`from_osm_file`), a place name or a bounding box
downloaded through osmnx (:func:`from_place`, :func:`from_bbox`), or metric node
coordinates and edge ends (:func:`from_arrays`).  Every builder keeps only what
people may walk on (:func:`is_walkable`) and makes the edge set simple without
losing a street (one edge per node pair; longer parallel streets and loops are
cut by new nodes).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely

from ..crs import local_metric_crs
from ..errors import NetworkError
from .core import ProgressFn, WalkNetwork, shared_strings

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
    prev_pair: tuple[int, int] | None = None
    kept: list[float] = []
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
        raise NetworkError(f"{name or source}: graph is in {graph_crs}; give an unprojected (EPSG:4326) graph")
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
            if not isinstance(obj, osmium.osm.Way) or "highway" not in obj.tags:
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
            table.highway.append(highway)
            table.coords.append(coords)
    table.length = _polyline_lengths(table.coords).tolist()  # all edges at once, not one numpy call per edge
    return table


def _polyline_lengths(polylines: list[np.ndarray]) -> np.ndarray:
    """Great-circle length in metres of each lon/lat polyline (osmnx's formula, :func:`_haversine_m`), vectorised."""
    if not polylines:
        return np.empty(0)
    counts = np.fromiter((len(c) for c in polylines), dtype=np.int64, count=len(polylines))
    pts = np.radians(np.concatenate(polylines))
    lon, lat = pts[:, 0], pts[:, 1]
    a = np.sin(np.diff(lat) / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    seg = 2 * 6_371_009 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    ends = np.cumsum(counts)
    seg = np.append(seg, 0.0)
    seg[ends - 1] = 0.0  # the step from one polyline's last point to the next one's first
    out = np.add.reduceat(seg, ends - counts)
    out[counts < 2] = 0.0
    return out


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
    node_lonlat = {i: (float(a), float(b)) for i, (a, b) in enumerate(zip(nlon, nlat))}
    highway = list(edge_highway) if edge_highway is not None else ["residential"] * u.shape[0]
    table = _EdgeTable(
        u=u.tolist(),
        v=v.tolist(),
        length=length.tolist(),
        highway=[str(h) for h in highway],
        coords=[lonlat[offs[k] : offs[k + 1]] for k in range(u.shape[0])],
    )
    for k, c in enumerate(table.coords):  # exact node positions at the ends
        c[0] = node_lonlat[int(u[k])]
        c[-1] = node_lonlat[int(v[k])]
    return _assemble(table, node_lonlat, name=name, source=source, crs=crs)
