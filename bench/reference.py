"""Independent answers the benchmark checks lifecircle's against (no geo.reach code).

* :func:`snap_reference` - the nearest edge of each point by shapely's STRtree.
* :func:`split_graph_distances` - points on edges inserted into a networkx
  graph as real nodes (each edge cut at the points on it, each point joined
  to its cut by its gap), then networkx's multi-source Dijkstra: the exact
  network distance of off-node points, by a second method.
* :func:`facility_node_distances` - per-facility node distances by scipy's
  Dijkstra on the full CSR matrix (not the local subgraphs geo.reach uses).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import shapely


def snap_reference(net, xy: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearest edge polyline (shapely STRtree)."""
    tree = shapely.STRtree(net.edge_lines)
    points = shapely.points(np.asarray(xy, float))
    _, dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    return np.asarray(dist, float)


def split_graph_distances(net, graph, sources, targets, limit: float) -> np.ndarray:
    """Network distance from each target point to the nearest source point, by networkx.

    Parameters
    ----------
    net
        The network (for edge ends and lengths).
    graph
        Its networkx graph (nodes 0..N-1, edge ``length``); copied, not changed.
    sources, targets
        Snapped points (``edge``, ``offset`` along it from ``edge_u``, ``gap``).
    limit
        Cutoff in metres; farther targets get ``inf``.
    """
    import networkx as nx

    h = graph.copy()
    points: dict[int, list[tuple[float, tuple]]] = {}
    for kind, snapped in (("s", sources), ("t", targets)):
        for i in np.flatnonzero(snapped.reachable):
            points.setdefault(int(snapped.edge[i]), []).append((float(snapped.offset[i]), (kind, int(i))))
            h.add_edge((kind, int(i)), ("j", kind, int(i)), length=float(snapped.gap[i]))
    for e, pts in points.items():
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length[e])
        if h.has_edge(u, v):
            h.remove_edge(u, v)
        prev, prev_off = u, 0.0
        for off, key in sorted(pts, key=lambda p: p[0]):
            join = ("j",) + key
            h.add_edge(prev, join, length=max(off - prev_off, 0.0))
            prev, prev_off = join, off
        h.add_edge(prev, v, length=max(length - prev_off, 0.0))
    src = [("s", int(i)) for i in np.flatnonzero(sources.reachable)]
    dist = nx.multi_source_dijkstra_path_length(h, src, cutoff=limit, weight="length") if src else {}
    return np.array([dist.get(("t", j), np.inf) for j in range(len(targets))], dtype=float)


def facility_node_distances(
    csr, fac_nodes: np.ndarray, limit: float, chunk: int = 32
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(facility position, node distances up to limit)`` for each facility node."""
    from scipy.sparse.csgraph import dijkstra

    fac_nodes = np.asarray(fac_nodes)
    for start in range(0, fac_nodes.size, chunk):
        block = fac_nodes[start : start + chunk]
        dist = dijkstra(csr, directed=True, indices=block, limit=limit)
        for k in range(block.size):
            yield start + k, dist[k]


def point_distance_from_nodes(net, node_dist: np.ndarray, snapped, *, include_gap: bool = True) -> np.ndarray:
    """Network distance of snapped points given one source's node distances (``inf`` if unreachable).

    With ``include_gap=False`` it is the distance of each point's join point
    (the nearest street point), leaving out the walk from the point to it.
    """
    out = np.full(len(snapped), np.inf)
    ok = snapped.reachable
    e = snapped.edge[ok]
    off = snapped.offset[ok]
    via_u = node_dist[net.edge_u[e]] + off
    via_v = node_dist[net.edge_v[e]] + (net.edge_length[e] - off)
    out[ok] = (snapped.gap[ok] if include_gap else 0.0) + np.minimum(via_u, via_v)
    return out


def sample_in_polygons(polygons, per_polygon: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points inside each polygon (rejection sampling in its bounding box).

    Returns
    -------
    owner, xy
        The polygon index of each point and its coordinates.
    """
    owners, pts = [], []
    for k, poly in enumerate(polygons):
        if poly is None or poly.is_empty or shapely.area(poly) <= 0:
            continue
        shapely.prepare(poly)
        x0, y0, x1, y1 = poly.bounds
        got = np.empty((0, 2))
        for _ in range(8):
            cand = rng.uniform((x0, y0), (x1, y1), (per_polygon * 3, 2))
            got = np.vstack([got, cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]])
            if got.shape[0] >= per_polygon:
                break
        got = got[:per_polygon]
        owners.append(np.full(got.shape[0], k))
        pts.append(got)
    if not pts:
        return np.empty(0, dtype=np.int64), np.empty((0, 2))
    return np.concatenate(owners), np.concatenate(pts)
