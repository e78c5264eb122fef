"""`lifecircle coverage` loads the network beside the tables and traces the gaps beside the layer's
writing: the errors still come in the order the inputs are named, and the outputs are those of a
plain run (the gaps checked against shapely's union of buffers)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from apps import cli
from geo import coverage, demo


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return demo.write_demo_files(tmp_path_factory.mktemp("demo"))


def _args(files, out: Path, **over) -> list[str]:
    given = {
        "network": files["network"],
        "facilities": files["facilities"],
        "demand": files["demand"],
    } | over
    return [
        "coverage",
        *(x for k, v in given.items() for x in (f"--{k}", str(v))),
        "--tiers",
        "300,1000",
        "--gap-tier",
        "300",
        "--out",
        str(out / "c.geojson"),
        "--gaps",
        str(out / "g.geojson"),
        "--summary",
        str(out / "s.json"),
        "-q",
    ]


def test_a_bad_table_is_named_before_a_bad_network(tmp_path, files, capsys):
    bad = tmp_path / "demand.csv"
    bad.write_text("id,population,lon,lat\nD1,3,abc,22.5\n", encoding="utf-8")
    missing = tmp_path / "none.lcnet"
    assert cli.main(_args(files, tmp_path, demand=bad, network=missing)) == 2
    err = capsys.readouterr().err
    assert "demand.csv" in err and "none.lcnet" not in err
    assert not any(tmp_path.glob("*.geojson"))


def test_a_bad_network_alone_is_named(tmp_path, files, capsys):
    missing = tmp_path / "none.lcnet"
    assert cli.main(_args(files, tmp_path, network=missing)) == 2
    assert "none.lcnet" in capsys.readouterr().err
    assert not any(tmp_path.glob("*.geojson")) and not (tmp_path / "s.json").exists()


def test_outputs_equal_the_library_and_shapely(tmp_path, files):
    assert cli.main(_args(files, tmp_path)) == 0
    from geo import io
    from geo.network import load_network

    net = load_network(files["network"])
    fac = io.read_points(files["facilities"], role="facilities")
    dem = io.read_demand(files["demand"])
    result = coverage.compute_coverage(net, fac, dem, tiers=(300, 1000))
    layer = json.loads((tmp_path / "c.geojson").read_text(encoding="utf-8"))["features"]
    want = result.to_geodataframe()
    got = np.array([np.nan if f["properties"]["dist_any"] is None else f["properties"]["dist_any"] for f in layer])
    assert np.allclose(got, want["dist_any"].to_numpy(), equal_nan=True)
    gaps = json.loads((tmp_path / "g.geojson").read_text(encoding="utf-8"))["features"]
    summary = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert summary["gaps"]["count"] == len(gaps)
    # independent reference: the union of 16-sided buffers around the unserved samples (1.5 m slack)
    miss = result.samples.reachable & (result.sample_dist["any"] > 300) & (result.samples.weight > 0)
    assert miss.any()  # the demo leaves some residents beyond 300 m of every kind
    ref = shapely.union_all(shapely.buffer(shapely.points(result.samples.xy[miss]), coverage.DEFAULT_GAP_RADIUS_M))
    polys = [shapely.from_geojson(json.dumps(f["geometry"])) for f in gaps]
    traced = gpd.GeoSeries(polys, crs="EPSG:4326").to_crs(net.crs).values
    assert abs(shapely.area(shapely.union_all(traced)) - ref.area) <= 0.01 * ref.area
