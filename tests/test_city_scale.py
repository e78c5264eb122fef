"""City-scale paths (issue 15) against independent references: shapely, networkx, geopandas, pyogrio."""

from __future__ import annotations

import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.spatial import cKDTree

from geo import coverage, demo, discs
from geo.io import streaming, write_geojson
from geo.network import snap_xy
from geo.network.builders import _haversine_m, _polyline_lengths
from geo.synthetic import random_points_near, street_grid


@pytest.fixture(scope="module")
def grid():
    return street_grid(10_000, seed=4)


@pytest.fixture(scope="module")
def demo_district():
    return demo.build_demo()


def _reference_groups(xy: np.ndarray, radius: float) -> list[set[int]]:
    g = nx.Graph()
    g.add_nodes_from(range(len(xy)))
    g.add_edges_from(map(tuple, cKDTree(xy).query_pairs(2 * radius, output_type="ndarray")))
    return [set(c) for c in nx.connected_components(g)]


def _clustered(grid, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = random_points_near(grid, 12, seed=seed)
    return centres[rng.integers(0, 12, n)] + rng.normal(0, 250, (n, 2))


@pytest.mark.parametrize("seed", [1, 2])
def test_disc_union_equals_the_union_of_buffers(grid, seed):
    xy = _clustered(grid, 3000, seed)
    parts, part_of = discs.disc_union(xy, 80.0)
    # groups: the disc graph's components (networkx), exactly
    got = {}
    for i, p in enumerate(part_of):
        got.setdefault(int(p), set()).add(i)
    assert sorted(map(sorted, got.values())) == sorted(map(sorted, _reference_groups(xy, 80.0)))
    # outline: shapely's union of fine buffers (true circles); every point's part holds it
    ref = shapely.union_all(shapely.buffer(shapely.points(xy), 80.0, quad_segs=32))
    ours = shapely.union_all(parts)
    assert shapely.area(shapely.symmetric_difference(ref, ours)) <= 0.01 * ref.area
    assert shapely.contains(parts[part_of], shapely.points(xy)).all()


@pytest.mark.parametrize("seed", range(6))
def test_traced_outlines_are_valid_where_grid_values_sit_on_the_level(seed):
    # points on the grid's cell centres: many sampled distances are exactly the radius (4 cells), where
    # marching squares' rings would meet at grid points (invalid polygons) if the values stayed on the level
    rng = np.random.default_rng(seed)
    cell, radius = 20.0, 80.0
    xy = (rng.integers(10, 90, (60, 2)) + 0.5) * cell
    group = discs._components(xy, radius)
    polys, owner = discs._traced(xy, group, radius, cell, np.zeros(2), (100, 100))
    assert shapely.is_valid(polys).all()
    ref = shapely.union_all(shapely.buffer(shapely.points(xy), radius, quad_segs=32))
    # sparse discs: the error is per metre of outline (traced within cell**2 / (8 radius) = 0.6 m of the circles,
    # and cells between two groups' lenses set outside)
    assert shapely.area(shapely.symmetric_difference(ref, shapely.union_all(polys))) <= 1.25 * ref.length
    # each outline holds exactly the points of its group (networkx components of the disc graph)
    for poly, g in zip(polys, owner):
        inside = shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
        assert not inside[group != g].any()
    assert sorted(map(sorted, _reference_groups(xy, radius))) == sorted(
        sorted(np.flatnonzero(group == g).tolist()) for g in np.unique(group)
    )


def test_disc_union_in_strips_equals_one_tile(grid, monkeypatch):
    xy = _clustered(grid, 2000, 3)
    whole, part_whole = discs.disc_union(xy, 80.0)
    monkeypatch.setattr(discs, "MAX_CELLS", 20_000)
    assert len(discs._tiles(xy, 80.0, 20.0)) > 2
    strips, part_strips = discs.disc_union(xy, 80.0)
    assert np.array_equal(part_whole, part_strips)
    diff = shapely.area(shapely.symmetric_difference(shapely.union_all(whole), shapely.union_all(strips)))
    assert diff <= 1e-3 * shapely.area(shapely.union_all(whole))


def test_gaps_match_the_buffer_overlay_on_the_demo(demo_district):
    demo_net = demo_district.network
    result = coverage.compute_coverage(demo_net, demo_district.facilities, demo_district.demand, tiers=(300, 1000))
    kind = result.kinds[0]
    gaps = result.gaps(kind, 300).to_crs(demo_net.crs)
    miss = result.samples.reachable & (result.sample_dist[kind] > 300) & (result.samples.weight > 0)
    xy, w = result.samples.xy[miss], result.samples.weight[miss]
    blobs = shapely.get_parts(shapely.union_all(shapely.buffer(shapely.points(xy), 80.0, quad_segs=4)))
    # the same unserved population in all; each gap's population is that of the samples it holds
    assert gaps["unserved_weight"].sum() == pytest.approx(w.sum())
    inside = shapely.contains(np.asarray(gaps.geometry.values)[:, None], shapely.points(xy)[None, :])
    assert (inside.sum(axis=0) == 1).all()
    assert np.allclose(inside @ w, gaps["unserved_weight"].to_numpy(), atol=1e-3)
    # shapely's 16-sided discs sit inside the circles: a part or two fewer where circles just touch
    assert len(blobs) - 3 <= len(gaps) <= len(blobs)
    ref = shapely.union_all(blobs)
    ours = shapely.union_all(gaps.geometry.values)
    assert shapely.area(shapely.symmetric_difference(ref, ours)) <= 0.03 * ref.area


def test_points_in_polygons_equals_within(grid):
    rng = np.random.default_rng(5)
    centres = random_points_near(grid, 40, seed=6)
    polys = np.array(shapely.buffer(shapely.points(centres), rng.uniform(100, 900, 40)))
    polys[3] = None
    xy = random_points_near(grid, 20_000, seed=7)
    got = discs.points_in_polygons(xy, polys)
    tree = shapely.STRtree(polys)
    s_idx, p_idx = tree.query(shapely.points(xy), predicate="within")
    want = np.full(len(xy), -1)
    for s, p in zip(s_idx, p_idx):
        want[s] = p if want[s] < 0 else min(want[s], p)
    assert np.array_equal(got, want)


def test_bulk_snapping_equals_brute_force(grid):
    xy = random_points_near(grid, 40_000, seed=8, jitter=60.0)  # over the chunk size: sorted and chunked
    xy[5] = np.nan
    snapped = snap_xy(grid, xy, limit_m=50.0)
    lines = grid.edge_lines
    tree = shapely.STRtree(lines)
    ok = np.isfinite(xy).all(axis=1)
    pts = shapely.points(xy[ok])
    idx, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    near = dist <= 50.0
    assert np.array_equal(snapped.reachable[ok], near)
    assert np.allclose(snapped.gap[ok][near], dist[near], atol=1e-6)
    assert not snapped.reachable[5]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_bulk_snapping_on_threads_equals_brute_force(grid, monkeypatch, threads):
    """Many small chunks spread over threads: the same joins as shapely's nearest line, whatever the thread count."""
    from geo.network import snapping

    monkeypatch.setattr(snapping, "_CHUNK", 4096)  # 40,000 points: 40 quarter chunks on the threads
    monkeypatch.setattr(snapping, "_threads", lambda: threads)
    xy = random_points_near(grid, 40_000, seed=9, jitter=60.0)
    xy[[7, 30_000]] = np.nan
    snapped = snap_xy(grid, xy, limit_m=50.0)
    lines = grid.edge_lines
    ok = np.isfinite(xy).all(axis=1)
    pts = shapely.points(xy[ok])
    _, dist = shapely.STRtree(lines).query_nearest(pts, return_distance=True, all_matches=False)
    near = dist <= 50.0
    assert np.array_equal(snapped.reachable[ok], near)
    assert np.allclose(snapped.gap[ok][near], dist[near], atol=1e-6)
    assert not snapped.reachable[[7, 30_000]].any()
    # the join point lies on the joined edge, at the joined distance
    joined = shapely.points(snapped.xy[ok][near])
    assert shapely.distance(lines[snapped.edge[ok][near]], joined).max() < 1e-6
    assert np.allclose(shapely.distance(joined, pts[near]), dist[near], atol=1e-6)


@pytest.mark.parametrize("cell", [250.0, 1.0])  # 16-bit keys (radix sort), and cells too many for 16 bits
def test_spatial_order_is_a_lexsort_of_the_cells(cell):
    from geo.network.snapping import _spatial_order

    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 5000, (50_000, 2)) + [800_000, 2_500_000]
    pts[rng.choice(50_000, 40, replace=False)] = np.nan
    order = _spatial_order(pts, cell)
    assert np.array_equal(np.sort(order), np.arange(len(pts)))  # a permutation
    ok = np.isfinite(pts).all(axis=1)
    assert not ok[order[ok.sum() :]].any()  # NaN rows last
    lo = pts[ok].min(axis=0)
    cx, cy = (np.floor((pts[order[: ok.sum()]] - lo) / cell).astype(np.int64)).T
    want = np.lexsort((cy, cx))  # by x strip, then y cell
    assert np.array_equal(cx, cx[want]) and np.array_equal(cy, cy[want])


def test_polyline_lengths_equal_one_by_one():
    rng = np.random.default_rng(9)
    lines = [
        np.column_stack([114 + rng.uniform(0, 0.01, k), 22.5 + rng.uniform(0, 0.01, k)])
        for k in rng.integers(2, 9, 500)
    ]
    assert np.allclose(_polyline_lengths(lines), [_haversine_m(c) for c in lines], rtol=1e-12, atol=1e-9)


def _frame(n: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(10)
    d = rng.uniform(0, 1000, n)
    d[::5] = np.nan
    return gpd.GeoDataFrame(
        {
            "id": [f"R{i}" for i in range(n)],
            "name": ['社区 "东"\n' if i == 3 else f"楼{i}" for i in range(n)],
            "weight": rng.integers(0, 9, n),
            "dist_any": np.round(d, 1),
            "reachable": rng.random(n) > 0.2,
            "note": [None if i % 4 else "x" for i in range(n)],
        },
        geometry=gpd.points_from_xy(114 + rng.uniform(0, 0.1, n), 22.5 + rng.uniform(0, 0.1, n)),
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("polygons", [False, True])
def test_streamed_geojson_equals_geopandas(tmp_path, monkeypatch, polygons):
    frame = _frame(103)
    if polygons:
        frame = frame.set_geometry(frame.geometry.buffer(0.001))
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 10)
    path = write_geojson(frame, tmp_path / "x.geojson", metadata={"k": 1})
    ours = json.loads(path.read_text(encoding="utf-8"))
    ref = json.loads(frame.to_json(na="null", drop_id=True))
    assert ours["lifecircle"]["k"] == 1 and len(ours["features"]) == len(ref["features"])
    for a, b in zip(ours["features"], ref["features"]):
        assert a["properties"] == b["properties"]
        ga, gb = shapely.from_geojson(json.dumps(a["geometry"])), shapely.from_geojson(json.dumps(b["geometry"]))
        assert shapely.hausdorff_distance(ga, gb) <= 1e-7  # rounded to 7 decimals, outer rings counter-clockwise


def test_write_features_in_small_chunks_is_the_same_text():
    import io

    frame = _frame(57)
    props = pd.DataFrame(frame.drop(columns="geometry"))
    geoms = np.asarray(frame.geometry.values)
    texts = []
    for chunk in (1, 7, 1000):
        buf = io.StringIO()
        streaming.write_features(buf, props, geoms, lambda g: shapely.to_geojson(g), str, chunk=chunk)
        texts.append(buf.getvalue())
    assert texts[0] == texts[1] == texts[2]
    assert len(json.loads("[" + texts[0] + "]")) == 57


def test_geopackage_by_extension(tmp_path):
    import pyogrio

    frame = _frame(40)
    path = write_geojson(frame, tmp_path / "cov.gpkg")
    back = pyogrio.read_dataframe(path)
    assert pyogrio.list_layers(path)[0][0] == "cov"
    assert list(back["id"]) == list(frame["id"])
    assert np.allclose(back["dist_any"].to_numpy(float), frame["dist_any"].to_numpy(float), equal_nan=True)
    assert shapely.equals_exact(back.geometry.values, frame.geometry.values, tolerance=1e-9).all()


def test_geoparquet_by_extension(tmp_path):
    frame = _frame(20)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        from geo.errors import OptionError

        with pytest.raises(OptionError, match="pyarrow"):
            write_geojson(frame, tmp_path / "cov.parquet")
        assert not (tmp_path / "cov.parquet").exists()
        return
    path = write_geojson(frame, tmp_path / "cov.parquet")
    back = gpd.read_parquet(path)
    assert list(back["id"]) == list(frame["id"])
