"""Per-source searches that cost what they reach, and the service areas drawn from them,
against independent references: networkx Dijkstra on a graph with the source inserted as
a node, and the reached streets cut and buffered by shapely alone."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely
from shapely import ops

from geo import network, reach, service_areas
from geo.synthetic import random_points_near, street_grid

TIERS = (300.0, 500.0, 1000.0)


@pytest.fixture(scope="module")
def grid():
    return street_grid(20_000, seed=6)


def _graph(net) -> nx.Graph:
    g = nx.Graph()
    for u, v, length in zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_length.tolist()):
        if not g.has_edge(u, v) or g[u][v]["length"] > length:
            g.add_edge(u, v, length=length)
    return g


def _nx_node_distances(net, graph: nx.Graph, snapped, i: int, limit: float) -> dict:
    """networkx distances from source ``i``: its join point inserted as a node splitting its edge."""
    e = int(snapped.edge[i])
    u, v = int(net.edge_u[e]), int(net.edge_v[e])
    off, length, gap = float(snapped.offset[i]), float(net.edge_length[e]), float(snapped.gap[i])
    h = graph.copy()
    h.add_edge("s", u, length=gap + off)
    h.add_edge("s", v, length=gap + length - off)
    dist = nx.single_source_dijkstra_path_length(h, "s", cutoff=limit, weight="length")
    dist.pop("s")
    return dist


def _sources(net, count: int, seed: int):
    xy = random_points_near(net, count, seed=seed, jitter=20.0)
    return xy, network.snap_xy(net, xy)


def test_local_searches_equal_networkx_on_a_grid(grid):
    graph = _graph(grid)
    xy, src = _sources(grid, 12, seed=3)
    seen = 0
    for i, nodes, dist in reach.iter_local_node_distances(grid, src, 1000.0):
        expected = _nx_node_distances(grid, graph, src, i, 1000.0)
        assert (np.diff(nodes) > 0).all()
        clear = {n for n, d in expected.items() if abs(d - 1000.0) > 1e-6}
        got = dict(zip(nodes.tolist(), dist.tolist()))
        assert clear <= set(got) and set(got) <= set(expected)
        assert max(abs(got[n] - expected[n]) for n in got) < 1e-6
        seen += 1
    assert seen == 12


def test_local_searches_equal_networkx_on_futian(futian_net):
    """Curved streets: the straight-line ball still holds every walk within the limit."""
    graph = _graph(futian_net)
    rng = np.random.default_rng(21)
    xy = futian_net.node_xy[rng.choice(futian_net.n_nodes, 10, replace=False)] + rng.uniform(-15, 15, (10, 2))
    src = network.snap_xy(futian_net, xy)
    full = dict(reach.iter_source_node_distances(futian_net, src, 800.0))
    for i, nodes, dist in reach.iter_local_node_distances(futian_net, src, 800.0):
        expected = _nx_node_distances(futian_net, graph, src, i, 800.0)
        ids = np.array(sorted(n for n, d in expected.items() if d < 800.0 - 1e-6))
        assert np.isin(ids, nodes).all()
        assert np.abs(dist - np.array([expected[n] for n in nodes.tolist()])).max() < 1e-6
        # the network-sized array of the older iterator holds the same distances
        assert np.array_equal(np.flatnonzero(np.isfinite(full[i])), nodes)
        assert np.array_equal(full[i][nodes], dist)


def test_local_search_of_a_source_whose_street_is_beyond_the_limit(grid):
    xy, src = _sources(grid, 3, seed=8)
    out = list(reach.iter_local_node_distances(grid, src, 0.5))  # no node within half a metre
    assert all(nodes.size == 0 for _, nodes, _ in out)
    assert [i for i, _, _ in out] == [0, 1, 2]


def _reference_streets(net, graph, snapped, i: int, own_xy: np.ndarray, tier: float) -> shapely.Geometry:
    """The streets reached within ``tier`` by networkx distances, cut with shapely's substring."""
    dist = _nx_node_distances(net, graph, snapped, i, tier)
    lines = net.edge_lines
    pieces = []
    for e in range(net.n_edges):
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length[e])
        du, dv = dist.get(u, np.inf), dist.get(v, np.inf)
        if du > tier and dv > tier:
            continue
        from_u, from_v = min(max(tier - du, 0.0), length), min(max(tier - dv, 0.0), length)
        if from_u + from_v >= length:
            pieces.append(lines[e])
            continue
        if from_u > 0:
            pieces.append(ops.substring(lines[e], 0, from_u / length, normalized=True))
        if from_v > 0:
            pieces.append(ops.substring(lines[e], 1 - from_v / length, 1, normalized=True))
    e, gap, off = int(snapped.edge[i]), float(snapped.gap[i]), float(snapped.offset[i])
    left = tier - gap
    if left > 0:  # the source's own street, walked straight from its join point
        length = float(net.edge_length[e])
        a, b = max(0.0, off - left), min(length, off + left)
        pieces.append(ops.substring(lines[e], a / length, b / length, normalized=True))
        pieces.append(shapely.LineString([own_xy, snapped.xy[i]]))
    return shapely.MultiLineString([p for p in pieces if p.length > 0])


def test_service_areas_on_a_grid_are_the_band_of_the_reached_streets(grid):
    graph = _graph(grid)
    xy, src = _sources(grid, 6, seed=12)
    rows = service_areas.service_areas(grid, src, xy, list(TIERS), buffer_m=25.0)
    assert [(i, t) for i, t, _ in rows] == [(i, t) for i in range(6) for t in TIERS]
    for i, tier, poly in rows:
        streets = _reference_streets(grid, graph, src, i, xy[i], tier)
        band = shapely.buffer(streets, 25.0, quad_segs=16)
        assert shapely.is_valid(poly)
        # round corners drawn with 3 segments a quarter circle lie at most 0.9 m inside the arc
        assert shapely.difference(poly, shapely.buffer(band, 0.2)).area < 0.5
        assert shapely.difference(band, shapely.buffer(poly, 0.9)).area < 1.0 + 5e-5 * band.area
        assert poly.symmetric_difference(band).area < 1e-2 * band.area


# ------------------------------------------------------------ bands from the network's faces
def test_street_faces_are_the_blocks_polygonize_finds(grid):
    from geo.street_faces import street_faces

    faces = street_faces(grid)
    kept, polys = faces.blocks(grid, np.arange(faces.n_faces))
    assert kept.size > 0.95 * faces.n_faces
    assert shapely.is_valid(polys).all() and (shapely.area(polys) > 0).all()
    ref = shapely.get_parts(
        shapely.polygonize(shapely.get_parts(shapely.node(shapely.multilinestrings(grid.edge_lines))))
    )
    inside, owner = shapely.STRtree(ref).query(shapely.point_on_surface(polys), predicate="within")
    # the same block up to the centimetre its corners are rounded to
    same = shapely.area(shapely.symmetric_difference(polys[inside], ref[owner])) < 0.01 * shapely.length(ref[owner])
    assert np.unique(inside[same]).size > 0.99 * polys.size  # the rest: curved streets crossing without a junction
    # each face's ring runs over the edges the face lists
    f = kept[0]
    ring = shapely.get_exterior_ring(polys[0])
    edges = faces.edges_of(np.array([f]))
    assert shapely.length(grid.edge_lines[edges]).sum() == pytest.approx(ring.length, abs=0.05)  # cm corners


@pytest.mark.parametrize("where", ["grid", "futian"])
def test_bands_from_faces_are_the_band_of_the_reached_streets(where, grid, request):
    """Futian has bridges over streets, dead ends and self-touching blocks: the faces' way
    must notice where they do not tile and fall back, giving the same band."""
    from geo.street_faces import street_faces

    net = grid if where == "grid" else request.getfixturevalue("futian_net")
    graph = _graph(net)
    rng = np.random.default_rng(30)
    xy = net.node_xy[rng.choice(net.n_nodes, 5, replace=False)] + rng.uniform(-15, 15, (5, 2))
    src = network.snap_xy(net, xy)
    faces = street_faces(net)
    used = 0
    for i, nodes, dist in reach.iter_local_node_distances(net, src, 1000.0):
        where_ = service_areas.source_join(src, i, xy[i])
        for tier in TIERS:
            through, own = service_areas.reached_pieces(
                net,
                dist,
                tier,
                nodes=nodes,
                source_edge=where_["source_edge"],
                source_offset=where_["source_offset"],
                source_gap=where_["source_gap"],
            )
            connector = service_areas._connector(where_["source_xy"], where_["source_gap"], tier)
            poly = service_areas.faces_band(net, faces, through, own, connector, 25.0, 3)
            if poly is None:
                continue
            used += 1
            band = shapely.buffer(_reference_streets(net, graph, src, i, xy[i], tier), 25.0, quad_segs=16)
            assert shapely.is_valid(poly)
            assert shapely.difference(poly, shapely.buffer(band, 0.2)).area < 0.5
            assert shapely.difference(band, shapely.buffer(poly, 0.9)).area < 1.0 + 5e-5 * band.area
            assert poly.symmetric_difference(band).area < 1e-2 * band.area
    assert used >= 8  # most areas take the faces' way
