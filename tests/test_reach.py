"""Network distances and service areas against a plain networkx reference."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely import ops

from geo import network, reach, service_areas
from tests import reference as ref
from tests.utils import compare_nearest as _compare
from tests.utils import placements as _placements

LIMIT = 1000.0


def test_futian_walk_filter_matches_reference(futian_net, futian_graphml):
    import networkx as nx

    graph, _ = ref.graphml_walk_graph(futian_graphml)
    # every distinct walkable street once (a two-way street is stored in both directions)
    raw = nx.read_graphml(futian_graphml)
    per_pair: dict[tuple, list[float]] = {}
    for u, v, d in raw.edges(data=True):
        if ref.walkable(d) and not (u == v and float(d["length"]) < 1.0):
            lengths = per_pair.setdefault(tuple(sorted((u, v))), [])
            # the two directions of one street differ by rounding only
            if all(abs(float(d["length"]) - x) >= 0.05 for x in lengths):
                lengths.append(float(d["length"]))
    assert futian_net.edge_length.sum() == pytest.approx(sum(map(sum, per_pair.values())), abs=1.0)
    # the routing graph holds the shortest of parallel streets: node-to-node lengths match
    real = [(u, v, d) for u, v, d in graph.edges(data=True) if not (str(u) + str(v)).count("mid:")]
    for u, v, d in real[:500]:
        i, j = np.searchsorted(futian_net.node_osmid, [int(u), int(v)])
        assert futian_net.csr[i, j] == pytest.approx(d["length"])
    assert not set(futian_net.edge_highway) & {"motorway", "motorway_link"}
    unfiltered, _ = ref.graphml_walk_graph(futian_graphml, filtered=False)
    dropped = unfiltered.number_of_edges() - graph.number_of_edges()
    assert dropped > 50  # motorways, links, private and access=no edges are in this graph


def test_futian_distances_equal_networkx(futian_net, futian_graphml):
    graph, to_m = ref.graphml_walk_graph(futian_graphml)
    _compare(futian_net, graph, to_m, np.random.default_rng(7))


def test_futian_distances_with_short_limit(futian_net, futian_graphml):
    graph, to_m = ref.graphml_walk_graph(futian_graphml)
    _compare(futian_net, graph, to_m, np.random.default_rng(11), n_fac=25, limit=300.0)


def test_snap_gap_counts_as_walking(futian_net, futian_graphml):
    graph, _ = ref.graphml_walk_graph(futian_graphml)
    rng = np.random.default_rng(3)
    (dem,), dxy = _placements(graph, rng, 1, "d", on_nodes=False)
    checked = 0
    for _ in range(60):
        (fac,), fxy = _placements(graph, rng, 1, "f", on_nodes=False)
        # move the facility 12 m off its street, perpendicular to it
        line = shapely.LineString(ref.edge_coords(graph, fac[1], fac[2]))
        a = np.asarray(line.interpolate(fac[3] - 0.01, normalized=True).coords[0])
        b = np.asarray(line.interpolate(fac[3] + 0.01, normalized=True).coords[0])
        normal = np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
        s_fac = network.snap_xy(futian_net, fxy + normal * 12.0)
        if abs(s_fac.gap[0] - 12.0) > 0.01:
            continue  # another street lies within 12 m of this spot
        g = ref.insert_points(graph, [fac, dem])
        expected = ref.nearest_source_distances(g, [fac[0]], [dem[0]], 50_000)[0]
        got = reach.nearest_distances(futian_net, s_fac, network.snap_xy(futian_net, dxy), limit=50_000)[0]
        assert got == pytest.approx(expected + 12.0, abs=0.5)
        checked += 1
    assert checked >= 10


def test_point_reachable_only_over_motorway_is_not_covered(futian_net, futian_graphml):
    """Walking along a motorway would bring these points within 1000 m; the filter keeps them out."""
    filtered, to_m = ref.graphml_walk_graph(futian_graphml)
    full, _ = ref.graphml_walk_graph(futian_graphml, filtered=False)
    motorway_nodes = {n for u, v, d in full.edges(data=True) if not filtered.has_edge(u, v) for n in (u, v)}
    shared = sorted(n for n in motorway_nodes if n in filtered)
    rng = np.random.default_rng(0)
    found = None
    for source in rng.permutation(shared)[:80]:
        d_full = ref.nearest_source_distances(full, [source], list(filtered.nodes), 1000.0)
        d_walk = ref.nearest_source_distances(filtered, [source], list(filtered.nodes), 1000.0)
        gained = np.flatnonzero(np.isfinite(d_full) & ~np.isfinite(d_walk))
        if gained.size:
            found = (source, list(filtered.nodes)[gained[0]], d_full[gained[0]])
            break
    assert found, "the Futian graph should hold a place only a motorway brings within 1000 m"
    source, target, via_motorway = found
    xy = np.array([filtered.nodes[source]["xy"], filtered.nodes[target]["xy"]])
    snapped = network.snap_xy(futian_net, xy)
    got = reach.nearest_distances(
        futian_net, snapped.subset(np.array([0])), snapped.subset(np.array([1])), limit=1000.0
    )
    assert via_motorway <= 1000.0 and not np.isfinite(got[0])


def _reference_reached_lines(graph, placement, radius):
    """Reached pieces (metric LineStrings) from a facility at placement, via networkx."""
    name, u0, v0, t0 = placement
    g = ref.insert_points(graph, [placement])
    dist = ref.nearest_source_distances(g, [name], list(graph.nodes), radius)
    d = dict(zip(graph.nodes, dist))
    pieces = []
    for u, v, data in graph.edges(data=True):
        line = shapely.LineString(ref.edge_coords(graph, u, v))
        length = data["length"]
        if {u, v} == {u0, v0}:
            t = t0 if u == u0 else 1 - t0
            pos = t * length
            a, b = max(0.0, pos - radius), min(length, pos + radius)
            pieces.append(ops.substring(line, a / length, b / length, normalized=True))
        from_u = np.clip(radius - d[u], 0, length) if np.isfinite(d[u]) else 0.0
        from_v = np.clip(radius - d[v], 0, length) if np.isfinite(d[v]) else 0.0
        if from_u + from_v >= length:
            pieces.append(line)
            continue
        if from_u > 0:
            pieces.append(ops.substring(line, 0, from_u / length, normalized=True))
        if from_v > 0:
            pieces.append(ops.substring(line, 1 - from_v / length, 1, normalized=True))
    return shapely.MultiLineString([p for p in pieces if p.length > 0]), d


def test_service_area_polygons_follow_the_streets(futian_net, futian_graphml):
    import geopandas as gpd
    import pyproj

    graph, _ = ref.graphml_walk_graph(futian_graphml)
    rng = np.random.default_rng(5)
    placements, xy = _placements(graph, rng, 3, "f", on_nodes=False)
    back = pyproj.Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)
    lon, lat = back.transform(xy[:, 0], xy[:, 1])
    fac = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"], "kind": "park"}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"
    )
    areas = reach.facility_service_areas(futian_net, fac, [300, 1000], buffer_m=25.0).to_crs("EPSG:32650")
    assert len(areas) == 6
    node_xy = np.array([graph.nodes[n]["xy"] for n in graph.nodes])
    for k, placement in enumerate(placements):
        polys = {}
        for tier in (300.0, 1000.0):
            poly = areas[(areas.facility_id == fac.id[k]) & (areas.tier_m == tier)].geometry.iloc[0]
            lines, d = _reference_reached_lines(graph, placement, tier)
            dist = np.array([d[n] for n in graph.nodes])
            reached = dist <= tier
            # every reached node lies inside; the polygon is the 25 m band around reached streets
            assert shapely.contains_xy(shapely.buffer(poly, 0.5), node_xy[reached, 0], node_xy[reached, 1]).all()
            band = shapely.buffer(lines, 25.0, quad_segs=16)
            assert shapely.difference(poly, shapely.buffer(band, 1.0)).area < 1.0
            # rounded ends are drawn with 3 segments a quarter: at most 25(1-cos(pi/12)) = 0.9 m in
            assert shapely.difference(band, shapely.buffer(poly, 2.0)).area < 1.0
            # nodes farther than the tier plus the buffer (straight-line) never fall inside
            far = shapely.distance(shapely.points(node_xy), lines) > 26.0
            assert not shapely.contains_xy(poly, node_xy[far, 0], node_xy[far, 1]).any()
            # it is not a convex hull: it has holes or concavities on a real network
            assert poly.area < 0.9 * poly.convex_hull.area
            polys[tier] = poly
        # the 5-minute circle lies inside the 15-minute one (up to the drawing of rounded ends)
        assert shapely.difference(polys[300.0], shapely.buffer(polys[1000.0], 1.0)).area < 1e-6


def test_parallel_and_serial_service_areas_agree(futian_net):
    import geopandas as gpd

    rng = np.random.default_rng(9)
    nodes = futian_net.node_lonlat[rng.choice(futian_net.n_nodes, 12, replace=False)]
    fac = gpd.GeoDataFrame(
        {"id": [str(i) for i in range(12)]}, geometry=gpd.points_from_xy(nodes[:, 0], nodes[:, 1]), crs="EPSG:4326"
    )
    one = reach.facility_service_areas(futian_net, fac, [500], workers=1)
    two = reach.facility_service_areas(futian_net, fac, [500], workers=2)
    assert list(one.facility_id) == list(two.facility_id)
    assert np.allclose(one.area_m2, two.area_m2)


def test_chained_lines_cover_exactly_the_reached_pieces(futian_net):
    """Joining pieces along strokes changes how many lines there are, never what they cover."""
    rng = np.random.default_rng(12)
    src = network.snap_xy(futian_net, futian_net.node_xy[rng.choice(futian_net.n_nodes, 5, replace=False)])
    for _i, dist in reach.iter_source_node_distances(futian_net, src, 800.0):
        through, _ = service_areas.reached_pieces(futian_net, dist, 800.0)
        chained = service_areas.chained_lines(futian_net, through)
        single = service_areas.cut_pieces(futian_net, through)
        assert len(chained) < len(single)
        assert shapely.length(chained).sum() == pytest.approx(shapely.length(single).sum(), rel=1e-9)
        a, b = shapely.union_all(chained), shapely.union_all(single)
        assert shapely.hausdorff_distance(a, b) < 1e-6
        assert shapely.is_simple(chained).mean() > 0.9  # strokes rarely cross themselves


def test_street_band_is_the_buffer_of_the_streets(futian_net):
    """The faster band (merged runs buffered one by one, then unioned) equals one buffer."""
    rng = np.random.default_rng(4)
    src = network.snap_xy(futian_net, futian_net.node_xy[rng.choice(futian_net.n_nodes, 4, replace=False)] + 6.0)
    for i, dist in reach.iter_source_node_distances(futian_net, src, 1000.0):
        lines = service_areas.service_area_lines(
            futian_net,
            dist,
            1000.0,
            source_xy=np.vstack([src.xy[i] + 6.0, src.xy[i]]),
            source_edge=int(src.edge[i]),
            source_offset=float(src.offset[i]),
            source_gap=float(src.gap[i]),
        )
        fast, slow = service_areas.street_band(lines, 25.0), shapely.buffer(lines, 25.0, quad_segs=3)
        assert fast.symmetric_difference(slow).area < 1e-4 * slow.area  # only the round joins differ


# ------------------------------------------------------- bands built from blocks
def _reference_band(lines: shapely.Geometry) -> shapely.Geometry:
    """The band as one plain GEOS buffer, drawn finely (16 segments a quarter circle)."""
    return shapely.buffer(lines, 25.0, quad_segs=16)


def _assert_is_band(poly: shapely.Geometry, lines: shapely.Geometry) -> None:
    band = _reference_band(lines)
    assert shapely.is_valid(poly)
    # corners drawn with 3 segments a quarter circle sit at most 25(1-cos(pi/12)) = 0.9 m inside the arc
    assert shapely.difference(poly, shapely.buffer(band, 0.2)).area < 0.5
    assert shapely.difference(band, shapely.buffer(poly, 0.9)).area < 0.05 * band.area / 1e3 + 1.0
    assert poly.symmetric_difference(band).area < 1e-2 * band.area


def _toy_streets() -> shapely.Geometry:
    """A 6 x 6 street grid (blocks 80 m) with what breaks naive block finding: a bridge that
    crosses three blocks with no junction, a dead end into a block, a loop inside a block
    reached by one path (a block with a hole), and a street that meets another mid-line."""
    lines = []
    for k in range(7):
        for j in range(6):
            lines.append(shapely.LineString([(j * 80, k * 80), (j * 80 + 80, k * 80)]))
            lines.append(shapely.LineString([(k * 80, j * 80), (k * 80, j * 80 + 80)]))
    lines.append(shapely.LineString([(0, 20), (240, 60)]))  # the bridge: no junction where it crosses
    lines.append(shapely.LineString([(320, 320), (345, 345)]))  # dead end into a block
    lines.append(shapely.LineString([(400, 400), (405, 405)]))  # path to a loop
    lines.append(shapely.LineString([(405, 405), (415, 405), (415, 415), (405, 415), (405, 405)]))
    lines.append(shapely.LineString([(160, 440), (200, 480), (160, 480)]))  # meets a street mid-line
    return shapely.MultiLineString(lines)


def test_band_from_blocks_is_the_buffer_of_toy_streets():
    lines = _toy_streets()
    found = service_areas.street_blocks(shapely.get_parts(lines))
    assert found is not None  # the crossing bridge is split where it crosses, not given up on
    faces, union, loose = found
    assert shapely.area(faces).sum() == pytest.approx(union.area, rel=1e-9)
    poly = service_areas.street_band(lines, 25.0, blocks=True)
    _assert_is_band(poly, lines)
    # the block around the loop keeps a hole only where it is farther than 25 m from the loop
    assert poly.contains(shapely.Point(430, 430)) and not poly.contains(shapely.Point(450, 450))
    assert not poly.contains(shapely.Point(40, 120))  # a plain block's hole
    assert poly.symmetric_difference(service_areas.street_band(lines, 25.0)).area < 1e-3 * poly.area


def test_band_from_blocks_is_the_buffer_on_a_street_grid():
    from geo.synthetic import street_grid

    net = street_grid(40_000, seed=4)
    rng = np.random.default_rng(2)
    xy = net.node_xy[rng.choice(net.n_nodes, 4, replace=False)] + 12.0
    src = network.snap_xy(net, xy)
    for i, dist in reach.iter_source_node_distances(net, src, 1000.0):
        where = dict(
            source_xy=np.vstack([xy[i], src.xy[i]]),
            source_edge=int(src.edge[i]),
            source_offset=float(src.offset[i]),
            source_gap=float(src.gap[i]),
        )
        through, _ = service_areas.reached_pieces(
            net,
            dist,
            1000.0,
            source_edge=where["source_edge"],
            source_offset=where["source_offset"],
            source_gap=where["source_gap"],
        )
        assert service_areas.blocks_pay(net, through)  # a dense grid at 1000 m takes the blocks' way
        lines = service_areas.service_area_lines(net, dist, 1000.0, **where)
        poly = service_areas.service_area_polygon(net, dist, 1000.0, **where)
        _assert_is_band(poly, lines)
        assert shapely.get_num_interior_rings(poly) > 50  # the blocks' holes
        reached = np.flatnonzero(dist <= 1000.0)
        assert shapely.contains_xy(shapely.buffer(poly, 0.01), net.node_xy[reached, 0], net.node_xy[reached, 1]).all()


def test_band_from_blocks_on_futian_and_the_demo(futian_net):
    from geo import demo

    nets = {"futian": futian_net, "demo": demo.build_demo().network}
    rng = np.random.default_rng(8)
    for net in nets.values():
        xy = net.node_xy[rng.choice(net.n_nodes, 6, replace=False)] + 9.0
        src = network.snap_xy(net, xy)
        for i, dist in reach.iter_source_node_distances(net, src, 1000.0):
            for tier in (500.0, 1000.0):
                lines = service_areas.service_area_lines(
                    net,
                    dist,
                    tier,
                    source_xy=np.vstack([xy[i], src.xy[i]]),
                    source_edge=int(src.edge[i]),
                    source_offset=float(src.offset[i]),
                    source_gap=float(src.gap[i]),
                )
                _assert_is_band(service_areas.street_band(lines, 25.0, blocks=True), lines)


def test_inset_convex_equals_a_negative_buffer():
    rng = np.random.default_rng(0)
    polys = np.array(
        [
            shapely.convex_hull(shapely.multipoints(rng.normal(0, rng.uniform(20, 80), (rng.integers(3, 12), 2))))
            for _ in range(500)
        ],
        dtype=object,
    )
    polys = np.where(rng.random(500) < 0.5, polys, shapely.reverse(polys))  # either orientation
    polys = np.concatenate([polys, [shapely.Polygon([(0, 0), (100, 0), (100, 100), (50, 40), (0, 100)])]])  # not convex
    shrunk, done = service_areas.inset_convex(polys, 7.0)
    assert not done[-1] and done.sum() > 300
    expected = shapely.buffer(polys[done], -7.0)
    assert shapely.hausdorff_distance(shrunk, expected).max() < 1e-6
    # those it leaves alone lose an edge, or vanish, when shrunk
    left = shapely.buffer(polys[:-1][~done[:-1]], -7.0)
    corners = shapely.get_num_coordinates(shapely.get_exterior_ring(left)) - 1
    assert (
        (corners < shapely.get_num_coordinates(shapely.get_exterior_ring(polys[:-1][~done[:-1]])) - 1)
        | shapely.is_empty(left)
    ).all()


def test_merged_pieces_cover_what_the_pieces_cover():
    rng = np.random.default_rng(3)
    edge = rng.integers(0, 6, 60)
    start = rng.uniform(0, 80, 60)
    pieces = service_areas.Pieces(edge, start, start + rng.uniform(0.5, 30, 60))
    merged = service_areas.merged_pieces(pieces)
    for e in range(6):
        grid = np.linspace(0, 120, 24_001)
        inside = (
            (grid >= pieces.start[pieces.edge == e][:, None]) & (grid <= pieces.end[pieces.edge == e][:, None])
        ).any(0)
        inside_merged = (
            (grid >= merged.start[merged.edge == e][:, None]) & (grid <= merged.end[merged.edge == e][:, None])
        ).any(0)
        assert (inside == inside_merged).all()
        mine = merged.start[merged.edge == e]
        assert (np.diff(mine) > 0).all() and (
            merged.start[merged.edge == e][1:] > merged.end[merged.edge == e][:-1]
        ).all()


def test_every_tiers_argument_goes_through_parse_tiers():
    from geo import coverage, demo
    from geo.errors import OptionError
    from geo.standards import parse_tiers

    d = demo.build_demo()
    fac = d.facilities.iloc[:6]
    scalar = reach.facility_service_areas(d.network, fac, tiers=300, workers=1)
    named = service_areas.facility_service_areas(d.network, fac, tiers="5min", workers=1)
    listed = service_areas.facility_service_areas(d.network, fac, tiers=[300.0, 300], workers=1)
    assert list(scalar["tier_m"].unique()) == [300.0]
    for other in (named, listed):
        assert list(other["facility_id"]) == list(scalar["facility_id"])
        assert other.geometry.geom_equals_exact(scalar.geometry, 1e-9).all()
    cov = coverage.compute_coverage(d.network, d.facilities, d.demand, tiers="300,1000")
    assert cov.tiers == (300.0, 1000.0)
    assert parse_tiers(5, speed_m_per_min=60) == (300.0,)
    for speed in (0, -80, float("nan")):
        with pytest.raises(OptionError) as info:
            parse_tiers("5", speed_m_per_min=speed)
        assert info.value.option == "speed"
