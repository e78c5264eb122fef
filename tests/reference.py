"""Independent reference implementations the tests compare lifecircle against.

Plain networkx graphs built straight from the GraphML text (no osmnx, no
lifecircle code), the walk filter written out again, and Dijkstra from networkx.
"""

from __future__ import annotations

import ast

import networkx as nx
import numpy as np
import pyproj
import shapely
import shapely.ops
from shapely import wkt

EXCLUDED = {
    "motorway",
    "motorway_link",
    "cycleway",
    "construction",
    "proposed",
    "abandoned",
    "bus_guideway",
    "raceway",
    "platform",
    "elevator",
    "escalator",
    "corridor",
    "no",
}


def tag_values(value) -> list[str]:
    if value is None:
        return []
    value = str(value)
    if value.startswith("["):
        return [str(v).lower() for v in ast.literal_eval(value)]
    return [value.lower()]


def walkable(data: dict) -> bool:
    hw = tag_values(data.get("highway"))
    if not hw or any(h in EXCLUDED for h in hw):
        return False
    if "no" in tag_values(data.get("foot")):
        return False
    if "private" in tag_values(data.get("service")):
        return False
    if any(a in ("private", "no") for a in tag_values(data.get("access"))):
        if not any(f in ("yes", "designated", "permissive") for f in tag_values(data.get("foot"))):
            return False
    return True


def _add_streets(graph, streets, pos):
    """Add streets to an undirected graph: the shortest of parallel streets joins its two
    nodes directly, every other one (and every closed loop) through virtual nodes at its
    middle (thirds for a loop), so that no street is lost and paths use the shortest."""
    by_pair: dict = {}
    for u, v, length, coords in streets:
        kept = by_pair.setdefault(tuple(sorted((str(u), str(v)))), [])
        if any(abs(length - k[2]) < 0.05 for k in kept):
            continue
        kept.append((u, v, length, coords))
    for items in by_pair.values():
        items.sort(key=lambda item: item[2])
        for k, (u, v, length, coords) in enumerate(items):
            if u == v and length < 1.0:
                continue
            if u != v and k == 0:
                graph.add_edge(u, v, length=length, coords=coords, a=u)
                continue
            line = shapely.LineString(coords)
            cuts = [1 / 3, 2 / 3] if u == v else [0.5]
            ends = [u] + [f"mid:{u}:{v}:{k}:{c:.3f}" for c in cuts] + [v]
            stops = [0.0] + cuts + [1.0]
            for (a, b), (s0, s1) in zip(zip(ends[:-1], ends[1:]), zip(stops[:-1], stops[1:])):
                piece = np.asarray(shapely.ops.substring(line, s0, s1, normalized=True).coords)
                for n, xy in ((a, piece[0]), (b, piece[-1])):
                    pos.setdefault(n, tuple(xy))
                graph.add_edge(a, b, length=(s1 - s0) * length, coords=piece, a=a)


def _metric_coords(geometry, u, v, pos, to_m) -> np.ndarray:
    """An edge's polyline in metres, running from u to v (straight when it has no geometry)."""
    if geometry is None:
        return np.array([pos[u], pos[v]])
    lonlat = np.asarray(geometry.coords)
    x, y = to_m.transform(lonlat[:, 0], lonlat[:, 1])
    coords = np.column_stack([x, y])
    if np.hypot(*(coords[0] - pos[u])) > np.hypot(*(coords[-1] - pos[u])):
        coords = coords[::-1]
    return coords


def graphml_walk_graph(path, *, filtered: bool = True):
    """Undirected walking graph from an osmnx GraphML file (text parsed here, no osmnx).

    Returns the graph (edge attrs: length, coords as metric (n,2) array from u to v)
    and the transformer to EPSG:32650.
    """
    raw = nx.read_graphml(path)
    to_m = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
    graph = nx.Graph()
    pos = {}
    for n, d in raw.nodes(data=True):
        pos[n] = to_m.transform(float(d["x"]), float(d["y"]))
    streets = []
    for u, v, d in raw.edges(data=True):
        if filtered and not walkable(d):
            continue
        geometry = wkt.loads(d["geometry"]) if "geometry" in d else None
        streets.append((u, v, float(d["length"]), _metric_coords(geometry, u, v, pos, to_m)))
    _add_streets(graph, streets, pos)
    for n in graph.nodes:
        graph.nodes[n]["xy"] = pos[n]
    return graph, to_m


def edge_coords(graph, u, v) -> np.ndarray:
    """The edge's metric polyline oriented from u to v."""
    d = graph[u][v]
    return d["coords"] if d["a"] == u else d["coords"][::-1]


def point_on_edge(graph, u, v, t: float) -> np.ndarray:
    """Metric point at fraction t (by planar length) along edge u->v."""
    line = shapely.LineString(edge_coords(graph, u, v))
    return np.asarray(line.interpolate(t, normalized=True).coords[0])


def insert_points(graph, placements):
    """Return a copy of graph with virtual nodes at the given placements.

    placements: list of (name, u, v, t) with t the fraction from u to v (t=0 is u).
    Several points on one edge are chained in order of position.
    """
    g = graph.copy()
    by_edge: dict[tuple, list] = {}
    for name, u, v, t in placements:
        if t <= 0.0:
            g.add_edge(name, u, length=0.0)
            continue
        if t >= 1.0:
            g.add_edge(name, v, length=0.0)
            continue
        key = (u, v) if (u, v) in by_edge or (v, u) not in by_edge else (v, u)
        if key != (u, v):
            t = 1.0 - t
        by_edge.setdefault(key, []).append((t, name))
    for (u, v), items in by_edge.items():
        length = graph[u][v]["length"]
        g.remove_edge(u, v)
        items.sort()
        prev, prev_t = u, 0.0
        for t, name in items:
            g.add_edge(prev, name, length=(t - prev_t) * length)
            prev, prev_t = name, t
        g.add_edge(prev, v, length=(1.0 - prev_t) * length)
    return g


def nearest_source_distances(graph, sources, targets, cutoff):
    """networkx multi-source Dijkstra distances from the nearest source to each target."""
    dist = nx.multi_source_dijkstra_path_length(graph, set(sources), cutoff=cutoff, weight="length")
    return np.array([dist.get(t, np.inf) for t in targets])


def lonlat_walk_graph(raw, *, filtered: bool = True):
    """Undirected metric walking graph from an osmnx-style graph in lon/lat (e.g. the demo's)."""
    to_m = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
    graph = nx.Graph()
    pos = {n: to_m.transform(float(d["x"]), float(d["y"])) for n, d in raw.nodes(data=True)}
    streets = []
    for u, v, d in raw.edges(data=True):
        attrs = {
            k: (str(val) if not isinstance(val, (list, tuple)) else str(list(val)))
            for k, val in d.items()
            if k != "geometry"
        }
        if filtered and not walkable(attrs):
            continue
        streets.append((u, v, float(d["length"]), _metric_coords(d.get("geometry"), u, v, pos, to_m)))
    _add_streets(graph, streets, pos)
    for n in graph.nodes:
        graph.nodes[n]["xy"] = pos[n]
    return graph, to_m


def stroke_continuations(net) -> np.ndarray:
    """Junction by junction in plain Python: pair edge ends greedily by deflection (straightest
    first, each end once, none above the network module's limit), as ``partner`` arrays
    (``2 * e + end`` -> ``2 * e2 + end2`` or -1)."""
    from geo.network import STROKE_DEFLECTION_DEG

    start, end = net.geom_offsets[:-1], net.geom_offsets[1:] - 1
    leave = {0: net.geom_xy[start + 1] - net.geom_xy[start], 1: net.geom_xy[end - 1] - net.geom_xy[end]}
    ends_at: dict[int, list[tuple[int, float]]] = {}
    for e in range(net.n_edges):
        for side, node in ((0, int(net.edge_u[e])), (1, int(net.edge_v[e]))):
            dx, dy = leave[side][e]
            ends_at.setdefault(node, []).append((2 * e + side, float(np.arctan2(dy, dx))))
    partner = np.full(2 * net.n_edges, -1, dtype=np.int64)
    limit = np.radians(STROKE_DEFLECTION_DEG)
    for ends in ends_at.values():
        pairs = sorted(
            (abs((ends[a][1] - ends[b][1]) % (2 * np.pi) - np.pi), a, b)
            for a in range(len(ends))
            for b in range(a + 1, len(ends))
        )
        used: set[int] = set()
        for deflection, a, b in pairs:
            if deflection > limit:
                break
            if a in used or b in used or ends[a][0] // 2 == ends[b][0] // 2:
                continue
            used.update((a, b))
            partner[ends[a][0]], partner[ends[b][0]] = ends[b][0], ends[a][0]
    return partner
