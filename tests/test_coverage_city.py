"""City-scale coverage paths against independent references: scipy.ndimage, shapely, brute force."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy import ndimage

from geo import coverage, demo, discs


@pytest.mark.parametrize("shape", [(300, 500), (5, 4), (1, 30), (9, 9)])
@pytest.mark.parametrize("reach", [1, 3, 7])
def test_box_dilation_equals_scipy_maximum_filter(shape, reach):
    grid = (np.random.default_rng(reach).random(shape) < 0.05).astype(np.uint8)
    size = 2 * reach + 1
    want = ndimage.maximum_filter1d(ndimage.maximum_filter1d(grid, size, axis=0, mode="constant"), size, axis=1)
    got = discs._box_any(discs._box_any(grid, reach, axis=0), reach, axis=1)
    assert np.array_equal(got, want.astype(bool))


def test_gap_unit_counts_equal_brute_force():
    district = demo.build_demo()
    result = coverage.compute_coverage(district.network, district.facilities, district.demand, tiers=(300, 1000))
    kind = result.kinds[0]
    gaps = result.gaps(kind, 300).to_crs(district.network.crs)
    miss = result.samples.reachable & (result.sample_dist[kind] > 300) & (result.samples.weight > 0)
    pts = shapely.points(result.samples.xy[miss])
    units = result.samples.unit[miss]
    for poly, n_units in zip(gaps.geometry.values, gaps["n_units"].to_numpy()):
        inside = shapely.contains(poly, pts)
        assert n_units == len(set(units[inside].tolist()))


def _json_layer(path) -> tuple[list[dict], np.ndarray]:
    import json

    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return [f["properties"] for f in features], [shapely.from_geojson(json.dumps(f["geometry"])) for f in features]


@pytest.mark.parametrize("ext", [".parquet", ".gpkg"])
def test_cli_columnar_outputs_equal_the_geojson_read_by_json(tmp_path, ext):
    """`--out x.parquet` / `x.gpkg` (and the gaps) hold what the GeoJSON holds: fields, values, order, geometry."""
    import geopandas as gpd
    import pyogrio

    from apps import cli

    base = ["coverage", "--demo", "--tiers", "300,1000", "--gap-tier", "300", "-q"]
    assert cli.main([*base, "--out", str(tmp_path / "c.geojson"), "--gaps", str(tmp_path / "g.geojson")]) == 0
    assert cli.main([*base, "--out", str(tmp_path / f"c{ext}"), "--gaps", str(tmp_path / f"g{ext}")]) == 0
    for name in ("c", "g"):
        props, geoms = _json_layer(tmp_path / f"{name}.geojson")
        path = tmp_path / f"{name}{ext}"
        back = gpd.read_parquet(path) if ext == ".parquet" else pyogrio.read_dataframe(path)
        if ext == ".gpkg":
            assert pyogrio.list_layers(path)[0][0] == name
        assert list(back.columns[:-1]) == list(props[0])  # the same fields in the same order, geometry last
        assert len(back) == len(props) > 0
        for col in back.columns[:-1]:
            want = [p[col] for p in props]
            got = back[col].tolist()
            if isinstance(want[0], str) or isinstance(want[0], bool):
                assert [bool(v) if isinstance(w, bool) else v for v, w in zip(got, want)] == want, col
            else:
                w = np.array([np.nan if v is None else v for v in want], dtype=float)
                assert np.allclose(np.asarray(got, dtype=float), w, equal_nan=True, rtol=0, atol=1e-9), col
        dist = shapely.hausdorff_distance(np.asarray(back.geometry.values), np.asarray(geoms))
        assert (dist <= 2e-7).all()  # the GeoJSON's coordinates are rounded to 7 decimals


def test_covered_shares_equal_a_groupby_for_points_and_polygons():
    """Per-unit shares against pandas' weighted groupby of the samples (points with zero weights, and polygons)."""
    import pandas as pd

    district = demo.build_demo()
    points = district.demand.copy()
    points.loc[points.index[::7], "population"] = 0
    polygons = points.iloc[:40].copy()
    polygons["geometry"] = polygons.to_crs(district.network.crs).buffer(120).to_crs("EPSG:4326").values
    for demand in (points, polygons):
        result = coverage.compute_coverage(district.network, district.facilities, demand, tiers=(300, 1000))
        frame = result.to_geodataframe()
        s = result.samples
        for kind in [*result.kinds, coverage.ANY]:
            for tier in result.tiers:
                hit = s.weight * (result.sample_dist[kind] <= tier)
                g = pd.DataFrame({"u": s.unit, "hit": hit, "w": s.weight}).groupby("u").sum()
                want = np.zeros(len(demand))
                ok = g["w"].to_numpy() > 0
                want[g.index.to_numpy()[ok]] = (g["hit"] / g["w"]).to_numpy()[ok]
                got = frame[f"covered_{kind}_{coverage.tier_key(tier)}"].to_numpy()
                assert np.allclose(got, np.round(want, 4), atol=1e-12)
        assert list(frame["id"]) == list(demand["id"].astype(str))
