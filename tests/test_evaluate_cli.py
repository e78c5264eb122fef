"""``lifecircle evaluate`` / ``standards``: the output contract, and one message + exit 2 on bad input."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from apps import cli
from geo import synthetic

ZH = [
    "社区",
    "范围",
    "缺项",
    "影响人口",
    "占比",
    "人群",
    "条款",
    "已核实",
    "建议选址经度",
    "建议选址纬度",
    "可补全人口",
]
EN = [
    "unit",
    "tier",
    "kind",
    "weight",
    "share",
    "cohort",
    "clause",
    "verified",
    "remedy_lon",
    "remedy_lat",
    "remedy_gain",
]

PACK = """
name = "example"
version = "1"
[[tiers]]
key = "5min"
metres = 300
kinds = ["park", "clinic"]
[[tiers]]
key = "15min"
metres = 1000
kinds = ["park", "clinic", "school"]
"""


def run_cli(args, capsys):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small synthetic district written as planners' files: network, points CSV, park polygons, demand."""
    d = tmp_path_factory.mktemp("evalcli")
    net = synthetic.street_grid(900, seed=4)
    net_path = net.save(d / "grid.lcnet")
    rng = np.random.default_rng(3)
    nodes = rng.choice(net.n_nodes, 40, replace=False)
    lonlat = net.node_lonlat[nodes]
    kinds = ["clinic", "school"] * 10
    pd.DataFrame(
        {"id": [f"f{i}" for i in range(20)], "kind": kinds, "lon": lonlat[:20, 0], "lat": lonlat[:20, 1]}
    ).to_csv(d / "fac.csv", index=False)
    x0, y0 = net.node_xy.min(axis=0)
    boxes = [
        shapely.box(x0 + 400 + 800 * i, y0 + 400 + 700 * j, x0 + 480 + 800 * i, y0 + 480 + 700 * j)
        for i in range(3)
        for j in range(3)
    ]
    parks = gpd.GeoDataFrame({"id": [f"p{i}" for i in range(9)], "kind": "park"}, geometry=boxes, crs=net.crs).to_crs(
        4326
    )
    # a mixed file: one more clinic as a point with the polygons
    mixed = pd.concat(
        [
            parks,
            gpd.GeoDataFrame(
                {"id": ["c99"], "kind": ["clinic"]},
                geometry=gpd.points_from_xy(lonlat[20:21, 0], lonlat[20:21, 1]),
                crs=4326,
            ),
        ]
    )
    gpd.GeoDataFrame(mixed, crs=4326).to_file(d / "parks.geojson", driver="GeoJSON")
    dem_ll = net.node_lonlat[rng.choice(net.n_nodes, 150, replace=False)]
    pd.DataFrame(
        {
            "id": [f"d{i}" for i in range(150)],
            "人口": rng.integers(10, 300, 150),
            "lon": dem_ll[:, 0],
            "lat": dem_ll[:, 1],
        }
    ).to_csv(d / "dem.csv", index=False)
    (d / "pack.toml").write_text(PACK, encoding="utf-8")
    return d, net_path


def evaluate_pack(d, net, *extra) -> list:
    """``evaluate`` of the test facilities, parks and demand against the test pack, then ``extra``."""
    return [
        "evaluate",
        "--network",
        net,
        "--facilities",
        d / "fac.csv",
        "--facilities",
        d / "parks.geojson",
        "--demand",
        d / "dem.csv",
        "--standard",
        d / "pack.toml",
        *extra,
    ]


def test_evaluate_writes_the_contract(files, capsys):
    d, net = files
    code, out, err = run_cli(
        evaluate_pack(
            d,
            net,
            "--out",
            d / "ev.geojson",
            "--summary",
            d / "s.json",
            "--ledger",
            d / "l.xlsx",
            "--report",
            d / "r.html",
        ),
        capsys,
    )
    assert code == 0, err
    s = json.loads((d / "s.json").read_text(encoding="utf-8"))
    assert {"standard", "tiers", "total_weight", "complete", "kinds", "cohorts", "units"} <= set(s)
    assert set(s["standard"]) >= {"name", "version", "verified"} and s["standard"]["verified"] is False
    assert s["tiers"] == {"5min": 300.0, "15min": 1000.0}
    assert set(s["complete"]["15min"]) == {"weight", "share"}
    assert set(s["kinds"]) == {"park", "clinic", "school"}
    ev = gpd.read_file(d / "ev.geojson")
    for col in [
        "id",
        "weight",
        "complete_5min",
        "missing_5min",
        "n_kinds_5min",
        "complete_15min",
        "missing_15min",
        "n_kinds_15min",
        "dist_park",
        "dist_clinic",
        "dist_school",
    ]:
        assert col in ev.columns, col
    assert ev["complete_15min"].between(0, 1).all()
    w = ev["weight"].to_numpy()
    assert s["complete"]["15min"]["weight"] == pytest.approx((w * ev["complete_15min"]).sum(), rel=1e-6)
    led = pd.read_excel(d / "l.xlsx")
    assert list(led.columns) == ZH and len(led) > 0
    assert "unverified" in (d / "r.html").read_text(encoding="utf-8")
    code, _, err = run_cli(
        evaluate_pack(
            d,
            net,
            "--out",
            d / "ev2.geojson",
            "--ledger",
            d / "l.csv",
            "--lang",
            "en",
            "--no-remedies",
        ),
        capsys,
    )
    assert code == 0, err
    assert list(pd.read_csv(d / "l.csv").columns) == EN


def test_standards_lists_and_prints(capsys):
    code, out, _ = run_cli(["standards"], capsys)
    assert code == 0 and "gb50180-2018" in out and "party-service-circle" in out and "chengshi-tijian" in out
    code, out, _ = run_cli(["standards", "chengshi-tijian", "--json"], capsys)
    data = json.loads(out)
    assert data["tiers"][0]["rules"][0]["condition"] == "area_m2 >= 5000" and data["verified"] is False


BAD = [
    ("bad.toml", "name = 'x'\nversion = '1'\n[[tiers]]\nkey = '5min'\nkinds = ['park']\n", "key 'tiers[0].metres'"),
    (
        "bad.toml",
        "name = 'x'\nversion = '1'\n[[tiers]]\nkey='5min'\nmetres=300\nkinds=['park']\n"
        "[[cohorts]]\nkey='old'\ncolumn='pop_60plus'\nkinds=['spa']\n",
        "kind 'spa' is in no tier",
    ),
    ("bad.toml", "name = [", "not valid TOML"),
]


@pytest.mark.parametrize("name,text,words", BAD)
def test_bad_pack_is_one_message_exit_2(files, capsys, name, text, words, tmp_path):
    d, net = files
    (tmp_path / name).write_text(text, encoding="utf-8")
    code, _, err = run_cli(
        [
            "evaluate",
            "--network",
            net,
            "--facilities",
            d / "fac.csv",
            "--demand",
            d / "dem.csv",
            "--standard",
            tmp_path / name,
            "--out",
            tmp_path / "o.geojson",
        ],
        capsys,
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and name in lines[0] and "Traceback" not in err


def test_unknown_standard_missing_cohort_and_unknown_kind_exit_2(files, capsys, tmp_path):
    d, net = files
    base = ["evaluate", "--network", net, "--demand", d / "dem.csv", "--out", tmp_path / "o.geojson"]
    code, _, err = run_cli(base + ["--facilities", d / "fac.csv", "--standard", "no-such-pack"], capsys)
    assert code == 2 and "no such standard" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(base + ["--facilities", d / "fac.csv", "--kinds", "school", "--cohorts", "elderly"], capsys)
    assert code == 2 and "pop_60plus" in err and "dem.csv" in err and len(err.strip().splitlines()) == 1
    pd.DataFrame({"id": ["x"], "kind": ["spaceport"], "lon": [114.0], "lat": [22.5]}).to_csv(
        tmp_path / "f.csv", index=False
    )
    code, _, err = run_cli(base + ["--facilities", tmp_path / "f.csv", "--standard", d / "pack.toml"], capsys)
    assert code == 2 and "spaceport" in err and "f.csv" in err and len(err.strip().splitlines()) == 1


def test_evaluate_demo_shows_a_ledger(capsys, tmp_path):
    code, _, err = run_cli(
        [
            "evaluate",
            "--demo",
            "--standard",
            "party-service-circle",
            "--out",
            tmp_path / "e.geojson",
            "--summary",
            tmp_path / "s.json",
            "--ledger",
            tmp_path / "l.geojson",
        ],
        capsys,
    )
    assert code == 0, err
    s = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert len(s["units"]) >= 3
    led = gpd.read_file(tmp_path / "l.geojson")
    assert len(led) > 0 and list(led.columns[:11]) == ZH


def test_site_objective_complete(capsys, tmp_path):
    base = [
        "site",
        "--demo",
        "--objective",
        "complete",
        "--standard",
        "party-service-circle",
        "--tier",
        "15min",
        "--kind",
        "micro_station",
        "--add",
        "2",
        "--out",
        tmp_path / "s.geojson",
        "--summary",
        tmp_path / "s.json",
    ]
    code, _, err = run_cli(base, capsys)
    assert code == 0, err
    s = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert s["objective"] == "complete" and len(s["sites"]) == 2 and s["optimal"]
    assert s["complete_after"]["weight"] == pytest.approx(s["complete_before"]["weight"] + s["gain"], abs=1e-3)
    code, _, err = run_cli(
        base[:-4] + ["--method", "greedy", "--out", tmp_path / "g.geojson", "--summary", tmp_path / "g.json"], capsys
    )
    assert code == 0, err
    assert json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))["gain"] <= s["gain"] + 1e-6
    code, _, err = run_cli(base[:9] + ["library"] + base[10:], capsys)
    assert code == 2 and "not a required kind" in err and len(err.strip().splitlines()) == 1
