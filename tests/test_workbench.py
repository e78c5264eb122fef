"""The planner's workbench (issue 12): complete life circles, every kind, closing, redo, input from the page.

Every completeness figure is checked against :func:`geo.evaluate.evaluate` run from scratch on the
same changed facilities (the app updates incrementally; the reference never does).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from apps.web.app import PlannerApp
from apps.web.project import load_demo, load_project
from apps.web.state import PlannerState
from geo import crs as gcrs
from geo import evaluate as gev
from geo.io import InputError

ART = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def ws():
    return load_demo()


@pytest.fixture
def state(ws):
    return PlannerState(ws)


def reference(ws, state, standard="gb50180-2018") -> dict:
    """geo.evaluate from scratch on the session's facilities: closed ones dropped, new ones added."""
    fac = ws.eval_facilities
    closed = set(state.closed)
    keep = ~fac["id"].astype(str).isin(closed)
    if "entrance_of" in fac:
        keep &= ~fac["entrance_of"].astype(str).isin(closed)
    rows = [
        {"id": c.id, "kind": c.kind, "area_m2": c.area_m2 if c.area_m2 is not None else np.nan}
        for c in state.candidates
    ]
    extra = gpd.GeoDataFrame(
        rows, geometry=shapely.points([[c.lon, c.lat] for c in state.candidates]) if rows else [], crs="EPSG:4326"
    )
    frame = gpd.GeoDataFrame(pd.concat([fac[keep], extra], ignore_index=True), geometry="geometry", crs="EPSG:4326")
    ev = gev.evaluate(ws.net, frame, ws.demand, standard, cohorts=[], snap_limit_m=ws.snap_limit_m)
    return ev.summary()


def assert_same(state, ref) -> None:
    comp = state.complete()
    for row in comp.headline():
        assert row["complete"] == pytest.approx(ref["complete"][row["tier"]]["weight"], abs=1e-6), row["tier"]
    for t in comp.base.standard.tiers:
        for r in comp.kind_table(t):
            assert r["covered"] == pytest.approx(ref["kinds"][r["kind"]][t.key]["weight"], abs=1e-6), (t.key, r["kind"])


def test_baseline_equals_evaluate(ws, state):
    ref = reference(ws, state)
    assert_same(state, ref)
    assert any(r["complete"] > 0 for r in state.complete().headline())


def test_add_move_close_park_and_clinic_equal_evaluate(ws, state):
    state.edit_kind = "park"
    state.new_area_m2 = 60_000.0
    park = state.add_candidate(114.0500, 22.5700)
    state.edit_kind = "clinic"
    clinic = state.add_candidate(114.0585, 22.5628)
    assert park.kind == "park" and clinic.kind == "clinic"
    assert_same(state, reference(ws, state))
    state.move_candidate(clinic.id, 114.0470, 22.5560)
    assert_same(state, reference(ws, state))
    assert state.close_facility("PK-1a") == "P1"  # an entrance closes its whole park
    clinics = ws.eval_facilities[ws.eval_facilities["kind"] == "clinic"]["id"].astype(str).tolist()
    assert state.close_facility(clinics[0]) == clinics[0]
    assert set(state.closed) == {"P1", clinics[0]}
    ref = reference(ws, state)
    assert_same(state, ref)
    # the per-kind coverage of clinics follows too (geo.coverage on the same facilities)
    from geo import coverage

    pts = ws.facilities[~ws.facilities["id"].astype(str).isin(state.closed_points())]
    extra = gpd.GeoDataFrame(
        {"id": [c.id for c in state.candidates], "kind": [c.kind for c in state.candidates]},
        geometry=shapely.points([[c.lon, c.lat] for c in state.candidates]),
        crs="EPSG:4326",
    )
    cov = coverage.compute_coverage(ws.net, pd.concat([pts, extra], ignore_index=True), ws.demand, tiers=ws.tiers)
    for tier in ws.tiers:
        for kind in ("clinic", "park"):
            assert state.result().covered_weight(kind, tier) == pytest.approx(cov.covered_weight(kind, tier), abs=1e-6)
    # reopen, undo and redo
    state.close_facility("P1", closed=False)
    assert state.closed == [clinics[0]]
    assert_same(state, reference(ws, state))
    assert state.undo() and "P1" in state.closed
    assert_same(state, reference(ws, state))
    assert state.can_redo and state.redo() and "P1" not in state.closed
    assert_same(state, reference(ws, state))
    while state.undo():
        pass
    assert not state.candidates and not state.closed and state.can_redo
    assert_same(state, reference(ws, state))
    base = {r["tier"]: r["base"] for r in state.complete().headline()}
    assert {r["tier"]: r["complete"] for r in state.complete().headline()} == pytest.approx(base)
    state.redo()
    assert [c.kind for c in state.candidates] == ["park"]
    assert_same(state, reference(ws, state))


def test_new_change_clears_redo(state):
    state.edit_kind = "clinic"
    state.add_candidate(114.0585, 22.5628)
    state.undo()
    assert state.can_redo
    state.add_candidate(114.0500, 22.5700)
    assert not state.can_redo


def test_every_kind_of_the_standard_can_be_added(ws, state):
    kinds = set(state.param.edit_kind.objects)
    assert {"kindergarten", "nursing_home", "police", "market", "micro_station", "park", "clinic"} <= kinds
    state.edit_kind = "kindergarten"
    cand = state.add_candidate(114.0585, 22.5628)
    assert cand.kind == "kindergarten"
    assert_same(state, reference(ws, state))


def test_ledger_and_units_follow_the_changes(ws, state):
    comp = state.complete()
    units = comp.unit_table(ws.communities)
    ev = gev.evaluate(
        ws.net,
        ws.eval_facilities,
        ws.demand,
        "gb50180-2018",
        units=ws.communities,
        cohorts=[],
        snap_limit_m=ws.snap_limit_m,
    )
    ref = ev.by_unit(ws.communities)
    for t in comp.base.standard.tiers:
        np.testing.assert_allclose(
            units[f"complete_{t.key}"].to_numpy(), ref[f"complete_{t.key}"].to_numpy(), atol=1e-6
        )
    ledger = comp.view().ledger(lang="en", remedies=False)
    ref_ledger = ev.ledger(lang="en", remedies=False)
    ref_ledger = ref_ledger[ref_ledger["cohort"] == "all"]
    assert len(ledger) == len(ref_ledger)
    np.testing.assert_allclose(ledger["weight"].to_numpy(), ref_ledger["weight"].to_numpy())


def test_standard_chosen_in_the_page(ws, state):
    state.edit_kind = "clinic"
    state.add_candidate(114.0585, 22.5628)
    state.standard = "party-service-circle"
    comp = state.complete()
    assert comp.base.standard.name == "party-service-circle"
    assert_same(state, reference(ws, state, "party-service-circle"))


def test_suggest_objectives_say_why_fewer(ws, state):
    state.edit_kind = "micro_station"
    added = state.suggest(30, objective="cover")
    info = state.suggest_info
    assert 0 < len(added) < 30 and "已被服务" in info["why"]
    assert info["method"] == "greedy"  # greedy + swaps (geo.siting), never a bare greedy
    state.undo()
    added = state.suggest(10, objective="lscp", target=0.5)
    assert state.suggest_info["reached"] and len(added) <= 10
    assert state.result().covered_weight("micro_station", state.gap_tier) >= 0.5 * state.result().total_weight - 1e-6
    state.undo()
    state.edit_kind = "park"
    state.complete_tier = "15min"
    added = state.suggest(2, objective="complete")
    assert all(c.kind == "park" for c in added)
    assert_same(state, reference(ws, state))


def test_typed_gcj02_coordinates_land_where_geo_crs_puts_them(ws):
    app = PlannerApp(ws)
    app.view()
    app.coord_crs_w.value = "gcj02"
    gx, gy = gcrs.wgs84_to_gcj02(114.0585, 22.5628)
    app.coord_w.value = f"{gx:.7f}, {gy:.7f}"
    app._on_place()
    cand = app.state.candidates[-1]
    lon, lat = gcrs.gcj02_to_wgs84(gx, gy)
    assert (cand.lon, cand.lat) == pytest.approx((round(float(lon), 7), round(float(lat), 7)), abs=1e-7)
    assert abs(cand.lon - 114.0585) < 1e-5 and cand.origin == "typed"
    app.coord_w.value = "not a point"
    app._on_place()
    assert "经度" in app.status_w.object and len(app.state.candidates) == 1


def test_uploaded_bad_file_shows_file_row_and_column(ws):
    app = PlannerApp(ws)
    app.view()
    app.upload_role_w.value = "candidates"
    app.upload_w.filename = "候选点.csv"
    app.upload_w.value = b"id,lon,lat\nC1,114.05,22.56\nC2,abc,22.57\n"
    msg = app.upload_msg_w.object
    assert "upload-error" in msg and "候选点.csv" in msg and "row 3" in msg and "lon" in msg
    app.upload_w.filename = "good.csv"
    app.upload_w.value = b"id,lon,lat\nC1,114.05,22.56\nC2,114.06,22.57\n"
    assert "upload-ok" in app.upload_msg_w.object and len(app.state.uploaded_candidates) == 2


def test_demand_without_population_is_refused_unless_rows(tmp_path):
    from geo import demo

    demo.write_demo_files(tmp_path)
    dem = pd.read_csv(tmp_path / "demand.csv", encoding="utf-8")
    keep = [
        c for c in dem.columns if c.lower() in ("id", "lon", "lat", "longitude", "latitude", "经度", "纬度", "x", "y")
    ]
    dem[keep].head(50).to_csv(tmp_path / "dem.csv", index=False)
    proj = tmp_path / "PROJECT.toml"
    base = 'network = "network.graphml"\nfacilities = "facilities.csv"\ndemand = "dem.csv"\n'
    proj.write_text(base, encoding="utf-8")
    with pytest.raises(InputError, match="no population column"):
        load_project(proj)
    proj.write_text(base + 'weight = "rows"\nstandard = "party-service-circle"\n', encoding="utf-8")
    ws = load_project(proj)
    assert ws.demand["weight"].sum() == 50 and ws.standard == "party-service-circle"
    proj.write_text(base + 'weight = "rows"\nstandard = "no-such-pack"\n', encoding="utf-8")
    with pytest.raises(InputError, match="standard"):
        load_project(proj)


def test_what_if_is_incremental_on_the_bench_network():
    """Completeness after a click on the 200k-node grid: bounded local searches, well under 100 ms."""
    from apps.web.complete import CompletenessSession, baseline
    from geo import synthetic
    from geo.coverage import demand_samples

    net = synthetic.street_grid(200_000, seed=0)
    rng = np.random.default_rng(0)
    kinds = ["park", "clinic", "kindergarten", "market"]
    nodes = rng.choice(net.n_nodes, 400, replace=False)
    fac = gpd.GeoDataFrame(
        {
            "id": [f"f{i}" for i in range(nodes.size)],
            "kind": [kinds[i % 4] for i in range(nodes.size)],
            "area_m2": 20_000.0,
        },
        geometry=gpd.points_from_xy(*net.node_lonlat[nodes].T),
        crs="EPSG:4326",
    )
    dn = rng.choice(net.n_nodes, 20_000, replace=True)
    dem = gpd.GeoDataFrame(
        {"id": np.arange(dn.size).astype(str), "weight": 1.0},
        geometry=gpd.points_from_xy(*net.node_lonlat[dn].T),
        crs="EPSG:4326",
    )
    pack = (
        "name = 'bench'\nversion = '1'\n[[tiers]]\nkey = 'a'\nmetres = 300\nkinds = ['park', 'clinic']\n"
        "[[tiers]]\nkey = 'b'\nmetres = 1000\nkinds = ['park', 'clinic', 'kindergarten', 'market']\n"
    )
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "bench.toml"
    path.write_text(pack)
    smp = demand_samples(net, dem, weight_column="weight", snap_limit_m=300)
    base = baseline(net, fac, dem, str(path), samples=smp, snap_limit_m=300)
    s = CompletenessSession(base)
    for k in kinds:  # the first change of a kind builds its engine (one full search): not a click's cost
        s._engine((k, None))
    lon, lat = net.node_lonlat[nodes[0]]
    times = []
    for i in range(6):
        t = time.perf_counter()
        s.add("clinic", float(lon) + 0.001 * i, float(lat), f"N{i}")
        s.headline()
        times.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        s.set_closed(f"f{4 * i + 1}", True)
        s.headline()
        times.append((time.perf_counter() - t) * 1000)
    assert np.median(times) < 100, times
    ev = gev.evaluate(
        net,
        pd.concat(
            [
                fac[~fac["id"].isin([f"f{4 * i + 1}" for i in range(6)])],
                gpd.GeoDataFrame(
                    {"id": [f"N{i}" for i in range(6)], "kind": "clinic"},
                    geometry=shapely.points([[float(lon) + 0.001 * i, float(lat)] for i in range(6)]),
                    crs="EPSG:4326",
                ),
            ]
        ),
        dem,
        str(path),
        samples=smp,
        cohorts=[],
        snap_limit_m=300,
    )
    for row in s.headline():
        assert row["complete"] == pytest.approx(float(smp.weight[ev.complete(row["tier"])].sum()))


def test_remove_undo_then_move(ws, state):
    """Undoing a removal brings the facility back to every engine (it can be moved again)."""
    state.edit_kind = "clinic"
    c = state.add_candidate(114.0585, 22.5628)
    state.remove_candidate(c.id)
    state.undo()
    assert state.move_candidate(c.id, 114.0470, 22.5560) is not None
    assert_same(state, reference(ws, state))
    state.clear_candidates()
    state.undo()
    assert [x.id for x in state.candidates] == [c.id]
    assert_same(state, reference(ws, state))


def test_zone_demand_is_drawn_as_its_samples(ws):
    """Demand given by zones is drawn as the residents it is spread into (points), never as filled zones."""
    import dataclasses
    import json

    from apps.web.workspace import Workspace

    zones = ws.communities[["id", "name", "geometry"]].assign(weight=1000.0)
    z = Workspace(
        title="zones", is_demo=False, net=ws.net, facilities=ws.facilities, demand=zones, communities=ws.communities
    ).prepare()
    assert z.demand_zones and not ws.demand_zones
    fc = json.loads(z.demand_text())
    assert {f["geometry"]["type"] for f in fc["features"]} == {"Point"}
    assert len(fc["features"]) == len(z.coverage.samples.weight) > len(zones)
    assert float(z.coverage.samples.weight.sum()) == pytest.approx(1000.0 * len(zones))  # the zones' people, spread
    assert {f["properties"]["id"] for f in fc["features"]} == set(zones["id"].astype(str))
    state = PlannerState(z)
    assert len(state.drawn_distances()) == len(fc["features"])
    _ = dataclasses


@pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists() or shutil.which("pdftoppm") is None,
    reason="needs /usr/bin/chromium and pdftoppm (poppler-utils)",
)
def test_a4_report_pdf_first_page(ws, tmp_path):
    """The A4 landscape report prints with its map, legend, scale bar, north arrow and tables."""
    import subprocess

    from apps.web import exports

    state = PlannerState(ws)
    state.edit_kind = "clinic"
    state.add_candidate(114.0585, 22.5628)
    state.close_facility("PK-1a")
    html = exports.a4_bytes(state, pdf=False).decode()
    for words in (
        "完整生活圈",
        "各社区完整比例",
        "问题台账",
        "候选站点",
        "未核实",
        "N1",
        "1,000 m",
        ">N<",
        "缺 1 项",
        "gb50180-2018",
        "方法",
    ):
        assert words in html, words
    pdf = exports.a4_bytes(state, pdf=True)
    assert pdf.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(tmp_path / "r.pdf")], capture_output=True, text=True).stdout
    assert "841.92 x 594.96" in info  # A4 landscape
    out = ART / "report_a4_page1"
    subprocess.run(
        ["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", str(tmp_path / "r.pdf"), str(out)], check=True
    )
    png = Path(f"{out}-1.png")
    assert png.is_file() and png.stat().st_size > 50_000


@pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists() or shutil.which("pdftoppm") is None,
    reason="needs /usr/bin/chromium and pdftoppm (poppler-utils)",
)
def test_cli_evaluate_writes_the_pdf_report(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    pdf = tmp_path / "R.pdf"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lifecircle",
            "evaluate",
            "--demo",
            "--out",
            str(tmp_path / "e.geojson"),
            "--report",
            str(pdf),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert pdf.read_bytes().startswith(b"%PDF")
    out = ART / "report_cli_page1"
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf), str(out)], check=True)
    assert Path(f"{out}-1.png").stat().st_size > 30_000
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "lifecircle",
            "evaluate",
            "--demo",
            "--out",
            str(tmp_path / "e.geojson"),
            "--report",
            str(tmp_path / "R.docx"),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--report" in bad.stderr


def test_closing_an_area_without_entrances_is_refused_in_words(ws):
    """A park given only as a polygon is reached by its outline: the map says it cannot close it (nothing changes)."""
    fac = ws.eval_facilities
    gates = fac[fac["kind"] == "park"].dropna(subset=["entrance_of"])
    parks = fac[(fac["kind"] == "park") & (shapely.get_type_id(fac.geometry.values) == 3)]
    park = parks[parks["id"].astype(str) == "P1"]
    frame = pd.concat(
        [fac[~fac["id"].astype(str).isin(gates[gates["entrance_of"] == "P1"]["id"].astype(str))]], ignore_index=True
    )
    from apps.web.complete import CompletenessSession, baseline

    base = baseline(
        ws.net,
        gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326"),
        ws.demand,
        "gb50180-2018",
        samples=ws.coverage.samples,
        snap_limit_m=ws.snap_limit_m,
    )
    s = CompletenessSession(base)
    before = [r["complete"] for r in s.headline()]
    assert len(park) == 1
    with pytest.raises(ValueError, match="without entrance points"):
        s.set_closed("P1", True)
    assert [r["complete"] for r in s.headline()] == before and not s.closed
