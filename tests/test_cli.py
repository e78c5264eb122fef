"""The command line: outputs on the demo, and bad input ending in one clear message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from apps import cli
from geo import demo

FACILITY_HEADER = "编号,名称,类型,经度,纬度\n"


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory) -> dict[str, Path]:
    return demo.write_demo_files(tmp_path_factory.mktemp("demo"))


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def coverage_args(demo_files, facilities, out: Path, *extra) -> list:
    return [
        "coverage",
        "--network",
        demo_files["network"],
        "--facilities",
        facilities,
        "--demand",
        demo_files["demand"],
        "--out",
        out,
        *extra,
    ]


# ------------------------------------------------------------------ outputs
def test_coverage_on_the_demo_writes_the_documented_fields(tmp_path, capsys):
    out, summary, gaps = tmp_path / "cov.geojson", tmp_path / "s.json", tmp_path / "gaps.geojson"
    code, _, err = run_cli(["coverage", "--demo", "--out", out, "--summary", summary, "--gaps", gaps], capsys)
    assert code == 0, err
    cov = json.loads(out.read_text(encoding="utf-8"))
    props = cov["features"][0]["properties"]
    for field in ("id", "weight", "dist_party_center", "dist_micro_station", "dist_park", "dist_clinic", "dist_any"):
        assert field in props
    s = json.loads(summary.read_text(encoding="utf-8"))
    assert s["tiers"] == [300.0, 1000.0]
    kinds = set(demo.build_demo().facilities["kind"].astype(str))
    assert {"party_center", "micro_station", "park", "clinic"} <= kinds
    assert set(s["covered"]) == kinds | {"any"}
    assert s["covered"]["any"]["1000"]["share"] == pytest.approx(
        s["covered"]["any"]["1000"]["weight"] / s["total_weight"], abs=1e-6
    )
    assert len(s["units"]) == 6  # the demo's 社区
    g = json.loads(gaps.read_text(encoding="utf-8"))
    assert [f["properties"]["rank"] for f in g["features"]] == list(range(1, len(g["features"]) + 1))
    assert s["gaps"]["unserved_weight"] == pytest.approx(
        s["total_weight"] - s["unreachable_weight"] - s["covered"]["any"]["1000"]["weight"]
    )


def test_coverage_gives_the_frozen_inputs_back_to_the_collector(tmp_path, capsys):
    """The command freezes its inputs out of the collector while it runs, and only then (batch workers run many)."""
    import gc

    assert gc.get_freeze_count() == 0
    code, _, err = run_cli(["coverage", "--demo", "--out", tmp_path / "cov.geojson"], capsys)
    assert code == 0, err
    assert gc.get_freeze_count() == 0
    # an error found after the inputs were frozen: the same
    code, _, err = run_cli(
        [
            "coverage",
            "--demo",
            "--gap-kind",
            "no_such_kind",
            "--gaps",
            tmp_path / "g.geojson",
            "--out",
            tmp_path / "c.geojson",
        ],
        capsys,
    )
    assert code == 2 and "--gap-kind no_such_kind" in err
    assert gc.get_freeze_count() == 0


def test_areas_from_files_and_gcj02_output(tmp_path, demo_files, capsys):
    out = tmp_path / "areas.geojson"
    code, _, err = run_cli(
        [
            "areas",
            "--network",
            demo_files["network"],
            "--facilities",
            demo_files["facilities"],
            "--tiers",
            "5min,15min",
            "--out",
            out,
            "--out-crs",
            "gcj02",
        ],
        capsys,
    )
    assert code == 0, err
    written = tmp_path / "areas.gcj02.geojson"
    assert written.exists() and not out.exists()
    fc = json.loads(written.read_text(encoding="utf-8"))
    assert fc["lifecircle"]["crs"] == "GCJ-02"
    rows = [f["properties"] for f in fc["features"]]
    assert {r["tier_m"] for r in rows} == {300.0, 1000.0}
    assert {"facility_id", "kind", "tier_m"} <= set(rows[0])
    import pandas as pd

    n_facilities = len(pd.read_csv(demo_files["facilities"]))  # every demo facility lies on the network
    assert len(rows) == 2 * n_facilities


def test_network_command_builds_a_cache_file_that_loads(tmp_path, demo_files, capsys):
    out = tmp_path / "demo.lcnet"
    code, _, err = run_cli(["network", "--osm", demo_files["network"], "--out", out], capsys)
    assert code == 0, err
    from geo.network import WalkNetwork

    kept = WalkNetwork.load(out).__dict__
    assert "strokes" in kept and "faces" in kept, "the built file keeps its strokes and faces for service areas"
    cov = tmp_path / "cov.geojson"
    code, _, err = run_cli(
        [
            "coverage",
            "--network",
            out,
            "--facilities",
            demo_files["facilities"],
            "--demand",
            demo_files["demand"],
            "--out",
            cov,
        ],
        capsys,
    )
    assert code == 0, err
    assert "building" not in err  # a .lcnet file is loaded, never rebuilt


def test_console_script_runs_as_a_process(tmp_path):
    out = tmp_path / "cov.geojson"
    proc = subprocess.run(
        [sys.executable, "-m", "lifecircle", "coverage", "--demo", "--out", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.exists()


def test_run_script_keeps_the_callers_directory(tmp_path):
    """`path/to/run areas ... --out x` writes x where the user is, not into the checkout."""
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        ["bash", str(repo / "run"), "areas", "--demo", "--tiers", "300", "--out", "here.geojson", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "here.geojson").exists() and not (repo / "here.geojson").exists()


# ---------------------------------------------------------------- bad input
def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


BAD_CASES = {
    # name: (file content, extra args, words the message must contain)
    "missing coordinate columns": ("编号,名称,类型\nA,站点,park\n", [], ["bad.csv", "经度", "lon"]),
    "swapped lat/lon": (FACILITY_HEADER + "A,站,park,22.556,114.05\n", [], ["bad.csv", "row 2", "swapped"]),
    "empty coordinate": (
        FACILITY_HEADER + "A,站,park,114.05,22.556\nB,站,park,,22.55\n",
        [],
        ["bad.csv", "row 3", "经度"],
    ),
    "non-numeric coordinate": (FACILITY_HEADER + "A,站,park,114.05,abc\n", [], ["bad.csv", "row 2", "纬度", "abc"]),
    "duplicate ids": (
        FACILITY_HEADER + "A,站,park,114.05,22.556\nA,站,park,114.051,22.556\n",
        [],
        ["bad.csv", "row 3", "编号", "rows 2 and 3"],
    ),
    "unknown kind": (
        FACILITY_HEADER + "A,站,spaceport,114.05,22.556\n",
        [],
        ["bad.csv", "row 2", "类型", "spaceport", "--kinds"],
    ),
    "outside the network's area": (
        FACILITY_HEADER + "A,站,park,116.40,39.90\nB,站,park,116.41,39.91\n",
        [],
        ["bad.csv", "row 2", "network"],
    ),
    "header only": (FACILITY_HEADER, [], ["bad.csv", "no"]),
    "empty file": ("", [], ["bad.csv", "empty"]),
    "wrong --crs": (FACILITY_HEADER + "A,站,park,114.05,22.556\n", ["--crs", "mars"], ["mars", "gcj02"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_facilities_give_one_clear_message(case, tmp_path, demo_files, capsys):
    content, extra, words = BAD_CASES[case]
    bad = write(tmp_path / "bad.csv", content)
    out = tmp_path / "out.geojson"
    code, stdout, err = run_cli(coverage_args(demo_files, bad, out, *extra), capsys)
    assert code == 2, err
    # one error line (progress lines such as "building the walking network" may come before it)
    assert "Traceback" not in err and err.count("error:") == 1, err
    for word in words:
        assert word.lower() in err.lower(), (word, err)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.csv"]  # nothing half-written


@pytest.mark.parametrize(
    "name, payload",
    [
        ("bad.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary"),
        ("bad.xlsx", "编号,经度\n1,2\n".encode()),
        ("bad.geojson", b'{"type": "FeatureCollection", "features": [ {'),
        ("bad.gpkg", b"not a geopackage"),
    ],
)
def test_file_that_is_not_what_its_extension_says(name, payload, tmp_path, demo_files, capsys):
    bad = tmp_path / name
    bad.write_bytes(payload)
    out = tmp_path / "out.geojson"
    code, _, err = run_cli(coverage_args(demo_files, bad, out), capsys)
    assert code == 2 and name in err and "Traceback" not in err, err
    assert not out.exists()


def test_bad_demand_and_units_name_their_file(tmp_path, demo_files, capsys):
    demand = write(tmp_path / "人口.csv", "id,population,lon,lat\nD1,-5,114.05,22.556\n")
    out = tmp_path / "out.geojson"
    code, _, err = run_cli(
        [
            "coverage",
            "--network",
            demo_files["network"],
            "--facilities",
            demo_files["facilities"],
            "--demand",
            demand,
            "--out",
            out,
        ],
        capsys,
    )
    assert code == 2 and "人口.csv" in err and "row 2" in err and "population" in err, err
    units = write(
        tmp_path / "units.geojson",
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "x"},
                        "geometry": {"type": "Point", "coordinates": [114.05, 22.55]},
                    }
                ],
            }
        ),
    )
    code, _, err = run_cli(coverage_args(demo_files, demo_files["facilities"], out, "--units", units), capsys)
    assert code == 2 and "units.geojson" in err and "feature 1" in err, err
    assert not out.exists()


def test_gbk_and_gcj02_facilities_are_read(tmp_path, demo_files, capsys):
    from geo import crs

    glon, glat = crs.wgs84_to_gcj02(114.0584, 22.5579)
    fac = write(
        tmp_path / "设施.csv",
        FACILITY_HEADER + f"A,街道党群服务中心,党群服务中心,{glon:.7f},{glat:.7f}\n",
        encoding="gbk",
    )
    out = tmp_path / "areas.geojson"
    code, _, err = run_cli(
        ["areas", "--network", demo_files["network"], "--facilities", fac, "--crs", "gcj02", "--out", out], capsys
    )
    assert code == 0, err
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert {f["properties"]["kind"] for f in fc["features"]} == {"party_center"}


def test_usage_problems_exit_2(tmp_path, capsys):
    code, _, err = run_cli(["coverage", "--out", tmp_path / "x.geojson"], capsys)
    assert code == 2 and "--demo" in err
    code, _, err = run_cli(["coverage", "--demo", "--out", tmp_path / "x.txt"], capsys)
    assert code == 2 and ".geojson" in err
    code, _, err = run_cli(["coverage", "--demo", "--tiers", "abc", "--out", tmp_path / "x.geojson"], capsys)
    assert code == 2 and "tier" in err
    code, _, err = run_cli(["network", "--out", tmp_path / "n.lcnet"], capsys)
    assert code == 2 and "--place" in err
    assert not any(tmp_path.iterdir())
