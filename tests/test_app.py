"""The planner's app without a browser: session state, exports, layers, project files, CLI."""

from __future__ import annotations

import io
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from apps.web import exports, views
from apps.web.project import load_demo, load_project, read_project
from apps.web.state import PlannerState
from geo import coverage
from geo import crs as gcrs
from geo.io import InputError

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def ws():
    return load_demo()


@pytest.fixture
def state(ws):
    return PlannerState(ws)


def expected(ws, sites, kind="micro_station"):
    """Covered weight per tier computed from scratch by geo.coverage with extra micro-stations."""
    extra = gpd.GeoDataFrame(
        {"id": [f"X{i}" for i in range(len(sites))], "name": "x", "kind": "micro_station"},
        geometry=[shapely.Point(lon, lat) for lon, lat in sites],
        crs="EPSG:4326",
    )
    fac = gpd.GeoDataFrame(pd.concat([ws.facilities, extra], ignore_index=True), crs="EPSG:4326")
    res = coverage.compute_coverage(ws.net, fac, ws.demand, tiers=ws.tiers)
    return {t: res.covered_weight(kind, t) for t in ws.tiers}


def covered(state, kind=None):
    return {r["tier"]: r["covered"] for r in state.headline(kind).rows}


# ------------------------------------------------------------------ what-if
def test_added_station_gives_what_geo_computes(state, ws):
    cand = state.add_candidate(114.0585, 22.5628)
    assert cand is not None and cand.id == "N1"
    assert covered(state) == pytest.approx(expected(ws, [(cand.lon, cand.lat)]), abs=1e-6)
    assert covered(state, "any") == pytest.approx(expected(ws, [(cand.lon, cand.lat)], "any"), abs=1e-6)
    head = state.headline()
    assert head.rows[-1]["delta"] == pytest.approx(head.rows[-1]["covered"] - head.rows[-1]["base"])
    assert head.unserved == pytest.approx(head.total - head.rows[-1]["covered"])


def test_move_remove_undo_and_clear(state, ws):
    base = covered(state)
    a = state.add_candidate(114.0585, 22.5628)
    b = state.add_candidate(114.05, 22.57)
    two = covered(state)
    assert two == pytest.approx(expected(ws, [(a.lon, a.lat), (b.lon, b.lat)]), abs=1e-6)
    moved = state.move_candidate(a.id, 114.061, 22.555)
    assert covered(state) == pytest.approx(expected(ws, [(moved.lon, moved.lat), (b.lon, b.lat)]), abs=1e-6)
    state.remove_candidate(b.id)
    assert covered(state) == pytest.approx(expected(ws, [(moved.lon, moved.lat)]), abs=1e-6)
    state.clear_candidates()
    assert covered(state) == pytest.approx(base)
    assert state.undo()  # clear
    assert [c.id for c in state.candidates] == [a.id]
    assert state.undo() and state.undo()  # remove, move
    assert covered(state) == pytest.approx(two, abs=1e-6)
    assert state.undo() and state.undo()  # both adds
    assert covered(state) == pytest.approx(base) and not state.can_undo and not state.undo()


def test_gains_are_what_each_candidate_adds(state, ws):
    a = state.add_candidate(114.0585, 22.5628)
    b = state.add_candidate(114.0468753, 22.5559144)
    gains = state.gains().set_index("id")
    both = covered(state)
    only_b = expected(ws, [(b.lon, b.lat)])
    for tier in ws.tiers:
        assert gains.loc[a.id, f"gain_{int(tier)}"] == pytest.approx(both[tier] - only_b[tier], abs=1e-6)
    frame = state.candidates_frame()
    assert list(frame["id"]) == [a.id, b.id] and list(frame["rank"]) == [1, 2]


def test_off_network_site_is_refused(state):
    assert state.add_candidate(114.20, 22.70) is None
    assert "米" in state.message and not state.candidates and not state.can_undo


def test_sessions_are_independent_and_the_workspace_unchanged(ws):
    before = {k: v.copy() for k, v in ws.coverage.sample_dist.items()}
    one, two = PlannerState(ws), PlannerState(ws)
    one.add_candidate(114.0585, 22.5628)
    assert not two.candidates and covered(two) == covered(PlannerState(ws))
    two.kind = "clinic"
    assert one.kind == "micro_station"
    for k, v in ws.coverage.sample_dist.items():
        np.testing.assert_array_equal(v, before[k])


def test_unit_table_adds_up(state, ws):
    state.add_candidate(114.0585, 22.5628)
    table = state.unit_table()
    assert list(table["name"]) == list(ws.communities["name"])
    head = state.headline()
    inside = float(table["weight"].sum())
    assert inside == pytest.approx(head.total, rel=1e-9)  # the communities tile the street
    assert float(table["delta_1000"].sum()) == pytest.approx(head.rows[-1]["delta"], abs=1e-6)


def test_suggest_sites_is_one_undoable_step(state, ws):
    pytest.importorskip("geo.siting")
    base = covered(state)
    added = state.suggest(3)
    assert 1 <= len(added) <= 3 and all(c.origin == "suggested" for c in added)
    assert covered(state)[1000.0] > base[1000.0]
    assert covered(state) == pytest.approx(expected(ws, [(c.lon, c.lat) for c in added]), abs=1e-6)
    assert state.undo() and not state.candidates and covered(state) == pytest.approx(base)


# ------------------------------------------------------------------- exports
def test_geojson_exports_in_wgs84_and_gcj02(state, ws):
    cand = state.add_candidate(114.0585, 22.5628)
    cov = json.loads(exports.export_bytes(state, "coverage"))
    assert cov["lifecircle"]["crs"] == "WGS84" and len(cov["features"]) == len(ws.demand)
    assert {"id", "weight", "dist_micro_station", "dist_any"} <= set(cov["features"][0]["properties"])
    wgs = json.loads(exports.export_bytes(state, "candidates"))
    gcj = json.loads(exports.export_bytes(state, "candidates", "gcj02"))
    assert gcj["lifecircle"]["crs"] == "GCJ-02"
    assert wgs["features"][0]["geometry"]["coordinates"] == [cand.lon, cand.lat]
    shifted = gcrs.wgs84_to_gcj02(cand.lon, cand.lat)
    assert gcj["features"][0]["geometry"]["coordinates"] == pytest.approx(list(shifted), abs=2e-7)
    areas = json.loads(exports.export_bytes(state, "areas"))
    flagged = [f for f in areas["features"] if f["properties"]["candidate"]]
    assert {f["properties"]["tier_m"] for f in flagged} == set(ws.tiers)
    gaps = json.loads(exports.export_bytes(state, "gaps"))
    assert [f["properties"]["rank"] for f in gaps["features"]] == list(range(1, len(gaps["features"]) + 1))
    assert exports.filename("gaps", "gcj02") == "gaps.gcj02.geojson"


def test_tables_export_as_csv_and_xlsx(state):
    state.add_candidate(114.0585, 22.5628)
    raw = exports.export_bytes(state, "units_csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(io.BytesIO(raw))
    assert {"id", "name", "population", "share_micro_station_1000", "added_by_candidates_1000"} <= set(table.columns)
    xlsx = pd.read_excel(io.BytesIO(exports.export_bytes(state, "units_xlsx")))
    assert len(xlsx) == len(table)


def test_html_report_is_offline_and_escapes_names(ws):
    fac = ws.facilities.copy()
    fac.loc[0, "name"] = XSS
    evil = PlannerState(_replace(ws, facilities=fac))
    evil.add_candidate(114.0585, 22.5628)
    html = exports.export_bytes(evil, "report").decode("utf-8")
    import re

    remote = re.findall(r"<(?:script|link)[^>]+(?:src|href)=[\"']https?://", html)
    assert not remote, remote
    assert "L.map(" in html and "leaflet-container" in html  # Leaflet's script and styles inlined
    assert XSS not in html
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in html  # escaped, then JSON-encoded for folium
    assert "生成的演示数据" in html


def _replace(ws, **changes):
    import dataclasses

    clone = dataclasses.replace(ws, **changes)
    clone._cache = {}
    return clone


# -------------------------------------------------------------- page and map
def test_page_sends_gcj02_layers_under_amap_tiles(ws):
    from apps.web.app import PlannerApp

    app = PlannerApp(ws)
    first = json.loads(app.map.facilities)["features"][0]["geometry"]["coordinates"]
    lon, lat = ws.facilities.geometry.x.iloc[0], ws.facilities.geometry.y.iloc[0]
    assert first == pytest.approx([lon, lat], abs=1e-6)
    app.state.tiles = "amap"
    shifted = json.loads(app.map.facilities)["features"][0]["geometry"]["coordinates"]
    assert shifted == pytest.approx(list(gcrs.wgs84_to_gcj02(lon, lat)), abs=1e-6)
    assert app.map.tiles == "amap"
    # a click in GCJ-02 lands at the WGS84 point under it
    app.state.mode = "add"
    glon, glat = gcrs.wgs84_to_gcj02(114.0585, 22.5628)
    app._on_message({"type": "add", "lng": glon, "lat": glat})
    cand = app.state.candidates[0]
    assert (cand.lon, cand.lat) == pytest.approx((114.0585, 22.5628), abs=1e-6)
    pt = json.loads(app.map.candidates)["features"][0]["geometry"]["coordinates"]
    assert pt == pytest.approx([glon, glat], abs=1e-6)


def test_page_ignores_bad_messages(ws):
    from apps.web.app import PlannerApp

    app = PlannerApp(ws)
    app._on_message({"type": "add", "lng": 114.0585, "lat": 22.5628})  # not in add mode
    assert not app.state.candidates
    app.state.mode = "add"
    for msg in (
        {"type": "add", "lng": "x", "lat": 1},
        {"type": "add", "lng": math.nan, "lat": 22.5},
        {"type": "add", "lng": 500, "lat": 22.5},
        {"type": "remove", "id": "N9"},
        {"type": "move", "id": "<b>", "lng": 114.05, "lat": 22.56},
        {"type": "other"},
        {},
    ):
        app._on_message(msg)
    assert not app.state.candidates
    app._on_message({"type": "add", "lng": 114.0585, "lat": 22.5628})
    assert len(app.state.candidates) == 1 and app.last_update_ms > 0
    assert "N1" in app.candidates_w.object and app.pick_w.options == ["N1"]
    app._on_message({"type": "remove", "id": "N1"})
    assert not app.state.candidates


def test_page_relabels_in_english(ws):
    from apps.web.app import PlannerApp

    app = PlannerApp(ws)
    app.state.lang = "en"
    assert "Coverage" in app.titles["headline"].object and "People within" in app.headline_w.object
    assert json.loads(app.map.labels)["remove"] == "Remove"
    assert app.kind_w.options["Micro-station"] == "micro_station"


def test_side_panel_escapes_text():
    table = pd.DataFrame(
        {
            "id": ["1"],
            "name": [XSS],
            "weight": [10.0],
            "share_300": [0.5],
            "delta_300": [1.0],
            "share_1000": [1.0],
            "delta_1000": [0.0],
        }
    )
    html = views.units_html(table, (300.0, 1000.0), "zh")
    assert XSS not in html and "&lt;img" in html
    head = views.header_html("app", "<script>alert(1)</script>", "badge")
    assert "<script>" not in head and "&lt;script&gt;" in head


def test_map_assets_are_served_locally():
    from apps.web.leaflet_map import LEAFLET_ROUTE, LeafletMap, leaflet_dir, static_dirs

    folder = leaflet_dir()
    for name in ("leaflet-src.esm.js", "leaflet.css", "images/layers.png"):
        assert (folder / name).is_file()
    assert static_dirs()[LEAFLET_ROUTE] == str(folder)
    urls = [*LeafletMap._importmap["imports"].values(), *LeafletMap._stylesheets]
    assert all(u.startswith("/") for u in urls), urls
    script = LeafletMap._esm.read_text(encoding="utf-8")
    assert "innerHTML" not in script and "http://" not in script.replace("https://tile.", "").replace(
        "https://webrd", ""
    )


def test_legend_and_distance_classes(ws):
    from layers import style

    classes = style.distance_classes((300.0, 1000.0))
    assert classes.bounds == (300.0, 500.0, 1000.0)
    cls = classes.classify(np.array([0, 300, 301, 999, np.inf, 10]), np.array([1, 1, 1, 1, 1, 0], bool))
    assert cls.tolist() == [0, 0, 1, 2, 3, 4]
    blocks = style.legend(ws.kinds, ["party_center", "micro_station"], (300.0, 1000.0), "micro_station", "zh")
    assert {b["layer"] for b in blocks} >= {"facilities", "areas", "demand", "gaps", "boundaries"}


def test_parking_view(ws):
    pytest.importorskip("geo.parking")
    from apps.web.parking_view import ParkingView, parking_available, parking_result

    assert parking_available(ws)
    view = ParkingView(ws)
    res = parking_result(ws, view.walk_w.value)
    assert f"{res.share_of_demand:.1%}" in view.headline_w.object
    view.walk_w.value = 800
    assert parking_result(ws, 800).matched >= res.matched
    assert json.loads(view.map.parking)["features"]


# --------------------------------------------------------------- project files
@pytest.fixture(scope="module")
def project_dir(tmp_path_factory):
    from geo import demo

    folder = tmp_path_factory.mktemp("project")
    demo.write_demo_files(folder)
    demo.write_boundaries(folder)
    return folder


def _project(folder, text: str):
    path = folder / "PROJECT.toml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = 'network = "network.graphml"\nfacilities = "facilities.csv"\ndemand = "demand.csv"\n'


def test_project_file_loads(project_dir):
    path = _project(
        project_dir,
        'title = "测试街道"\ntiers = ["5min", "15min"]\n'
        + BASE
        + 'communities = "demo_communities.geojson"\nstreets = "demo_streets.geojson"\n'
        + 'lots = "lots.csv"\nresidences = "residences.csv"\ncandidates = { path = "candidates.csv", crs = "wgs84" }\n',
    )
    ws = load_project(path)
    assert ws.title == "测试街道" and not ws.is_demo and ws.tiers == (300.0, 1000.0)
    n_rows = len(pd.read_csv(project_dir / "facilities.csv", encoding="utf-8"))  # every row of the file
    assert len(ws.facilities) == n_rows and ws.communities is not None and ws.lots is not None
    state = PlannerState(ws)
    assert state.add_candidate(114.0585, 22.5628) is not None


@pytest.mark.parametrize(
    "text, words",
    [
        ("network = [", "not valid TOML"),
        (BASE + 'colour = "red"\n', "unknown key(s) colour"),
        ('network = "network.graphml"\n', "missing required key(s) facilities, demand"),
        (BASE.replace("facilities.csv", "nope.csv"), "key 'facilities': file nope.csv not found"),
        (BASE + 'crs = "mars"\n', "key 'crs'"),
        (BASE + "tiers = [-5]\n", "key 'tiers'"),
        (BASE + 'kinds = ["Bad Kind"]\n', "key 'kinds'"),
    ],
)
def test_bad_project_files_give_one_message(project_dir, text, words):
    path = _project(project_dir, text)
    with pytest.raises(InputError) as err:
        load_project(path)
    assert words in str(err.value)


def test_bad_data_file_names_file_row_and_column(project_dir):
    bad = project_dir / "bad_facilities.csv"
    bad.write_text("id,name,kind,lon,lat\nF1,a,party_center,114.05,abc\n", encoding="utf-8")
    path = _project(project_dir, BASE.replace("facilities.csv", "bad_facilities.csv"))
    with pytest.raises(InputError) as err:
        load_project(path)
    assert "bad_facilities.csv" in str(err.value) and "row 2" in str(err.value)


def test_serve_command_reports_bad_projects_with_exit_2(project_dir, capsys):
    from apps.cli import main

    assert main(["serve", str(project_dir / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert "lifecircle serve: error: missing.toml: project file not found" in err and "Traceback" not in err
    path = _project(project_dir, BASE.replace("demand.csv", "gone.csv"))
    assert main(["serve", str(path)]) == 2
    err = capsys.readouterr().err
    assert "gone.csv not found" in err and "Traceback" not in err


def test_read_project_resolves_paths(project_dir):
    conf = read_project(
        _project(project_dir, BASE + 'crs = "gcj02"\ndemand_unused = 1\n'.replace("demand_unused = 1\n", ""))
    )
    assert conf["facilities"]["path"] == project_dir / "facilities.csv"
    assert conf["facilities"]["crs"] == "gcj02" and conf["tiers"] == (300.0, 1000.0)


def test_cli_registers_demo_and_serve():
    from apps.cli import _load_extensions, build_parser

    _load_extensions()
    parser = build_parser()
    args = parser.parse_args(["demo", "--port", "0", "--host", "127.0.0.1"])
    assert args.command == "demo" and args.port == 0 and not args.show
    args = parser.parse_args(["serve", "p.toml", "--port", "5007", "--show"])
    assert args.project == "p.toml" and args.show


def test_example_project_file_documents_known_keys():
    import tomllib
    from pathlib import Path

    from apps.web.project import PROJECT_KEYS

    example = Path(__file__).resolve().parents[1] / "docs" / "project.example.toml"
    assert set(tomllib.loads(example.read_text(encoding="utf-8"))) <= set(PROJECT_KEYS)


def test_service_areas_are_read_back_on_a_restart_and_traced_again_when_an_input_changes(ws, tmp_path, monkeypatch):
    """A restart on the same inputs reads the polygons back; a moved facility or other tiers trace them again."""
    from apps.web import workspace as wsmod
    from geo import reach

    monkeypatch.setenv("LIFECIRCLE_CACHE", str(tmp_path))
    traced = []
    real = reach.facility_service_areas

    def counting(*args, **kwargs):
        traced.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(wsmod.reach, "facility_service_areas", counting)
    fac = ws.facilities.head(6).copy()

    def fresh(facilities, tiers=ws.tiers):
        return wsmod.Workspace("t", False, ws.net, facilities, ws.demand, tiers=tiers)._facility_areas()

    first = fresh(fac)
    again = fresh(fac.copy())
    assert len(traced) == 1, "the same inputs are read back"
    # the reference: the engine run directly, row by row
    named = fac[["id", "kind", "geometry"]].assign(name=[str(v) for v in fac["name"]])
    ref = real(ws.net, named, ws.tiers, snap_limit_m=ws.snap_limit_m).to_crs("EPSG:4326").reset_index(drop=True)
    assert list(again.columns) == list(first.columns) and len(again) == len(ref) > 0
    assert list(again["facility_id"]) == list(ref["facility_id"]) and list(again["tier_m"]) == list(ref["tier_m"])
    diff = shapely.area(shapely.symmetric_difference(again.geometry.values, ref.geometry.values))
    assert float(diff.max()) < 1e-12
    moved = fac.copy()
    moved.geometry = moved.geometry.translate(0.0005, 0.0)
    fresh(moved)
    fresh(fac, tiers=(300.0,))
    assert len(traced) == 3, "a moved facility and other tiers are traced again"


# --------------------------------------------------------------- the workspace's caches
def test_cached_builds_once_per_key_nested_and_alongside(ws):
    """A build may ask for another key (it deadlocked behind one process-wide lock), another key is
    served while one is being built, and concurrent askers of one key get one build."""
    import threading

    from apps.web import workspace as wsmod

    w = wsmod.Workspace("t", False, ws.net, ws.facilities, ws.demand, tiers=ws.tiers)
    nested = []
    t = threading.Thread(target=lambda: nested.append(w.cached(("outer",), lambda: w.cached(("in",), lambda: 1) + 1)))
    t.daemon = True  # the old lock deadlocked here: fail, don't hang
    t.start()
    t.join(20)
    assert nested == [2]
    started, release, built = threading.Event(), threading.Event(), []

    def slow():
        built.append(1)
        started.set()
        assert release.wait(20)
        return "slow"

    results = []
    threads = [threading.Thread(target=lambda: results.append(w.cached(("slow",), slow))) for _ in range(3)]
    threads[0].start()
    assert started.wait(20)
    for t in threads[1:]:
        t.start()
    other = []
    side = threading.Thread(target=lambda: other.append(w.cached(("other",), lambda: "other")))
    side.start()
    side.join(20)
    assert other == ["other"], "another key is built while the slow one is"
    release.set()
    for t in threads:
        t.join(20)
    assert results == ["slow"] * 3 and built == [1]


def test_demand_zones_follows_the_demand_frame(ws):
    """demand_zones is read once per frame and follows a replaced frame (points vs polygons, by shapely)."""
    from apps.web import workspace as wsmod

    w = wsmod.Workspace("t", False, ws.net, ws.facilities, ws.demand, tiers=ws.tiers)
    want = bool(np.isin(shapely.get_type_id(ws.demand.geometry.values), (3, 6)).any())
    assert w.demand_zones is want and w.demand_zones is want
    zones = ws.demand.set_geometry(shapely.buffer(ws.demand.geometry.values, 1e-4))
    w.demand = zones
    assert w.demand_zones is True
    points = ws.demand.set_geometry(shapely.point_on_surface(ws.demand.geometry.values))
    w.demand = points
    assert w.demand_zones is False


def test_the_start_work_runs_once_while_the_areas_are_traced_and_after_a_read_back(ws, tmp_path, monkeypatch):
    """``meanwhile`` runs at the tracing's first progress report (once, however many come), else after the
    polygons are read back; the traced polygons are written on a thread and read back by the next start."""
    from apps.web import workspace as wsmod
    from geo import reach

    monkeypatch.setenv("LIFECIRCLE_CACHE", str(tmp_path))
    real = reach.facility_service_areas
    events = []

    def tracing(*args, progress=None, **kwargs):
        events.append("traced")
        out = real(*args, **kwargs)
        for done in (1, 2, 3):
            progress(done, 3)
            events.append(f"progress {done}")
        return out

    monkeypatch.setattr(wsmod.reach, "facility_service_areas", tracing)
    fac = ws.facilities.head(5).copy()

    def fresh():
        return wsmod.Workspace("t", False, ws.net, fac, ws.demand, tiers=ws.tiers)

    first = fresh()._facility_areas(meanwhile=lambda: events.append("meanwhile"))
    assert events == ["traced", "meanwhile", "progress 1", "progress 2", "progress 3"]
    events.clear()
    again = fresh()._facility_areas(meanwhile=lambda: events.append("meanwhile"))
    assert events == ["meanwhile"], "read back, not traced again; the start's work still done once"
    ref = real(ws.net, fac[["id", "kind", "geometry"]].assign(name=[str(v) for v in fac["name"]]), ws.tiers)
    assert len(first) == len(again) == len(ref) > 0
    diff = shapely.area(shapely.symmetric_difference(again.geometry.values, ref.to_crs("EPSG:4326").geometry.values))
    assert float(diff.max()) < 1e-12
    events.clear()
    empty = wsmod.Workspace("t", False, ws.net, fac.head(0), ws.demand, tiers=ws.tiers)
    assert len(empty._facility_areas(meanwhile=lambda: events.append("meanwhile"))) == 0 and events == ["meanwhile"]


def test_a_standard_the_data_cannot_meet_is_evaluated_once(ws, monkeypatch):
    """Every session asks for the complete view's baseline; a ValueError is remembered, not recomputed."""
    from apps.web import complete
    from apps.web import workspace as wsmod

    calls = []

    def failing(*_args, **_kwargs):
        calls.append(1)
        raise ValueError("parks without an area")

    monkeypatch.setattr(complete, "baseline", failing)
    w = wsmod.Workspace("t", False, ws.net, ws.facilities, ws.demand, tiers=ws.tiers)
    w.coverage = ws.coverage
    for _ in range(3):
        with pytest.raises(ValueError, match="parks without an area"):
            complete.workspace_baseline(w, ws.standard)
    assert calls == [1]


def test_a_sessions_stale_gaps_are_skipped_when_their_turn_comes(ws):
    """A session's gaps job whose change was superseded before it ran computes nothing (result None)."""
    called = []

    def gaps():
        called.append(1)
        return ws.coverage.gaps("micro_station", ws.tiers[-1])

    assert ws.gap_tiles_later(gaps, wanted=lambda: False).result(timeout=60) is None and called == []
    got = json.loads(ws.gap_tiles_later(gaps, wanted=lambda: True).result(timeout=60))
    assert called == [1]
    ref = ws.coverage.gaps("micro_station", ws.tiers[-1]).sort_values("rank").head(len(got["labels"]))
    assert [g[2] for g in got["labels"]] == ref["rank"].tolist() and got["tiles"].startswith("/lc-tiles/")


def test_the_overlap_check_samples_first_and_still_finds_a_lone_reachable_row(ws):
    """A layer with one row near the network (not in the spread-out sample) passes; none near fails.
    Reference: shapely's distance from each row to the network's edge lines."""
    from pathlib import Path
    from types import SimpleNamespace

    from apps.web import project

    n = 3 * project.OVERLAP_SAMPLE + 1
    node = ws.net.to_lonlat(ws.net.node_xy[:1])[0]
    lon = np.full(n, node[0] + 1.0)
    lat = np.full(n, node[1])
    lone = 1  # the sample takes every third row from 0: row 1 is not in it
    lon[lone] = node[0]
    frame = gpd.GeoDataFrame({"id": np.arange(n)}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    metric = shapely.get_coordinates(frame.to_crs(ws.net.crs).geometry.values)
    lines = shapely.union_all(ws.net.edge_lines)
    near = shapely.distance(shapely.points(metric), lines) <= ws.snap_limit_m
    assert near.sum() == 1 and near[lone]
    conf = {k: {"path": Path(f"{k}.csv"), "crs": "wgs84"} for k in ("facilities", "demand")}
    conf["network"] = {"path": Path("network.graphml")}
    fake = SimpleNamespace(net=ws.net, facilities=ws.facilities, demand=frame, snap_limit_m=ws.snap_limit_m)
    project._check_overlap(fake, conf)  # one reachable row is enough
    fake.demand = frame.drop(index=lone)
    with pytest.raises(InputError, match=f"none of the {n - 1} rows"):
        project._check_overlap(fake, conf)
