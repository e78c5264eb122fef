"""Scenarios (方案): the GeoPackage store, conflicts, two processes, apply(), compare() and the CLI.

References are independent of the code under test: the store is read back with plain pyogrio and
sqlite3 as QGIS would see it, apply() is checked against a frame built by hand, compare() against
two separate compute_coverage runs subtracted by hand and against networkx.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from geo import coverage, demo
from geo import scenarios as sc
from geo.errors import LifecircleError, ScenarioConflict, ScenarioError
from tests import reference as ref
from tests.utils import reference_nearest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def district():
    return demo.build_demo()


@pytest.fixture(scope="module")
def demand(district):
    return district.demand.rename(columns={"population": "weight"})


def _two_changes(fac) -> sc.Scenario:
    """Close the first facility, move the 12th 300 m east, add a clinic."""
    f0, f11 = fac.iloc[0], fac.iloc[11]
    return sc.Scenario(
        "两站方案",
        added=[sc.Change("N1", "clinic", "新社康", 114.0500, 22.5520)],
        moved=[
            sc.Change(
                f11["id"],
                f11["kind"],
                f11["name"],
                f11.geometry.x + 0.003,
                f11.geometry.y,
                f11.geometry.x,
                f11.geometry.y,
            )
        ],
        closed=[sc.Change(f0["id"], f0["kind"], f0["name"], f0.geometry.x, f0.geometry.y)],
        note="试算",
    )


# ------------------------------------------------------------------ store
def test_round_trip_through_a_real_gpkg(tmp_path, district):
    store = sc.ScenarioStore(tmp_path / "p.scenarios.gpkg")
    assert store.list().empty and len(store) == 0
    scen = _two_changes(district.facilities)
    saved = store.save(scen, saved_by="王工")
    assert (saved.version, saved.saved_by) == (1, "王工") and saved.saved_at.endswith("Z")
    back = store.load("两站方案")
    assert back == saved
    assert back.added == scen.added and back.moved == scen.moved and back.closed == scen.closed and back.note == "试算"

    # as QGIS sees it: three point layers and an attribute table, EPSG:4326
    layers = dict(pyogrio.list_layers(store.path))
    assert layers == {
        "scenario_added": "Point",
        "scenario_moved": "Point",
        "scenario_closed": "Point",
        "scenarios": None,
    }
    moved = pyogrio.read_dataframe(store.path, layer="scenario_moved")
    assert moved.crs.to_epsg() == 4326
    assert moved["scenario"].tolist() == ["两站方案"] and moved["id"].tolist() == [scen.moved[0].id]
    assert moved.geometry.iloc[0].equals_exact(shapely.Point(scen.moved[0].lon, scen.moved[0].lat), 1e-9)
    assert moved["from_lon"].iloc[0] == pytest.approx(scen.moved[0].from_lon, abs=1e-12)
    with sqlite3.connect(store.path) as con:
        contents = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
        meta = con.execute("SELECT name, version, saved_by, n_added, n_moved, n_closed FROM scenarios").fetchall()
    assert contents == {
        "scenario_added": "features",
        "scenario_moved": "features",
        "scenario_closed": "features",
        "scenarios": "attributes",
    }
    assert meta == [("两站方案", 1, "王工", 1, 1, 1)]
    listing = store.list()
    assert listing[["name", "version", "saved_by", "added", "moved", "closed"]].values.tolist() == [
        ["两站方案", 1, "王工", 1, 1, 1]
    ]
    assert sc.Scenario.from_dict(json.loads(json.dumps(back.to_dict()))) == back
    # an added park keeps its area (the standard's area condition needs it)
    park = store.save(
        sc.Scenario("公园", added=[sc.Change("NP", "park", "新公园", 114.06, 22.55, area_m2=12000.0)]), saved_by="王工"
    )
    assert store.load("公园").added[0].area_m2 == 12000.0 == park.added[0].area_m2
    assert pyogrio.read_dataframe(store.path, layer="scenario_added", where="scenario = '公园'")[
        "area_m2"
    ].tolist() == [12000.0]
    applied = store.load("公园").apply(district.facilities)
    assert applied["area_m2"].iloc[-1] == 12000.0 and applied["area_m2"].iloc[:-1].isna().all()


def test_stale_save_is_refused_and_names_who_saved_since(tmp_path, district):
    store = sc.ScenarioStore(tmp_path / "s.gpkg")
    store.save(_two_changes(district.facilities), saved_by="王工")
    mine, theirs = store.load("两站方案"), store.load("两站方案")  # two sessions open version 1
    theirs.added.append(sc.Change("N2", "park", "口袋公园", 114.06, 22.555))
    won = store.save(theirs, saved_by="李工")
    assert won.version == 2
    mine.closed.clear()
    with pytest.raises(ScenarioConflict) as err:
        store.save(mine, saved_by="王工")
    text = str(err.value)
    assert "李工" in text and won.saved_at.replace("T", " ").removesuffix("Z") in text and "version 2" in text
    assert isinstance(err.value, LifecircleError)
    kept = store.load("两站方案")
    assert kept.version == 2 and len(kept.added) == 2 and len(kept.closed) == 1, "nothing was overwritten"
    # a new scenario under a taken name is refused too
    with pytest.raises(ScenarioConflict, match="already exists, saved by 李工"):
        store.save(sc.Scenario("两站方案"), saved_by="赵工")
    # reopening and saving works
    assert store.save(store.load("两站方案").copy(note="再改"), saved_by="王工").version == 3


def test_rename_duplicate_delete(tmp_path, district):
    store = sc.ScenarioStore(tmp_path / "s.gpkg")
    first = store.save(_two_changes(district.facilities), saved_by="王工")
    store.save(sc.Scenario("B"), saved_by="王工")
    copy = store.duplicate("两站方案", "两站方案-副本", by="李工")
    assert copy.version == 1 and copy.saved_by == "李工" and copy.added == first.added
    with pytest.raises(ScenarioError, match="taken"):
        store.duplicate("两站方案", "B")
    renamed = store.rename("两站方案-副本", "C", by="李工")
    assert renamed.version == 2 and store.names() == ["B", "C", "两站方案"]
    with pytest.raises(ScenarioError, match="taken"):
        store.rename("C", "B")
    with pytest.raises(ScenarioConflict):
        store.delete("C", expected_version=1)
    store.delete("C", expected_version=2)
    assert store.names() == ["B", "两站方案"] and "C" not in store
    with pytest.raises(ScenarioError, match="no scenario named 'C'"):
        store.load("C")
    # a session still holding the deleted scenario cannot silently re-create it
    with pytest.raises(ScenarioConflict, match="no longer in the store"):
        store.save(renamed, saved_by="王工")
    with pytest.raises(ScenarioError, match="needs a name"):
        sc.Scenario("  ")


def test_a_failed_write_leaves_the_store_as_it_was(tmp_path, district, monkeypatch):
    store = sc.ScenarioStore(tmp_path / "s.gpkg")
    store.save(_two_changes(district.facilities), saved_by="王工")
    before = store.path.read_bytes()
    real = pyogrio.write_dataframe
    calls = []

    def crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", crash)
    with pytest.raises(ScenarioError, match="cannot write"):
        store.save(sc.Scenario("新方案"), saved_by="李工")
    monkeypatch.setattr(pyogrio, "write_dataframe", real)
    assert store.path.read_bytes() == before
    assert store.names() == ["两站方案"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".lctmp.gpkg")] == []
    # a temporary file of a dead process is cleaned by the next save
    stale = tmp_path / ".s.gpkg.999999999-abcdef.lctmp.gpkg"
    stale.write_bytes(b"half")
    store.save(sc.Scenario("新方案"), saved_by="李工")
    assert not stale.exists()


def _worker(path: str, who: str, n: int, barrier, results) -> None:
    """Save n own scenarios and, after each, try to save the shared one at version k; report what happened."""
    from geo import scenarios as s

    store = s.ScenarioStore(path)
    barrier.wait()
    out = []
    for k in range(n):
        store.save(
            s.Scenario(f"{who}-{k}", added=[s.Change(f"{who}{k}", "clinic", who, 114.05 + k * 1e-4, 22.55)]),
            saved_by=who,
        )
        try:
            store.save(s.Scenario("shared", note=who), saved_by=who, expected_version=k)
            out.append(f"won {k}")
        except s.ScenarioConflict:
            out.append(f"lost {k}")
    results.put((who, out))


def test_two_processes_saving_at_once(tmp_path):
    path = str(tmp_path / "shared.gpkg")
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, who, 3, barrier, queue)) for who in ("p1", "p2")]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    store = sc.ScenarioStore(path)
    assert store.names() == sorted([f"p{i}-{k}" for i in (1, 2) for k in range(3)] + ["shared"]), "no save was lost"
    for i in (1, 2):
        for k in range(3):
            assert store.load(f"p{i}-{k}").added[0].id == f"p{i}{k}"
    # each version of 'shared' was won by at most one process, and the stored version counts the wins
    wins = sum(r.startswith("won") for res in results.values() for r in res)
    assert wins >= 1 and store.load("shared").version == wins
    for k in range(3):
        assert sum(f"won {k}" in res for res in results.values()) <= 1
    assert pyogrio.read_dataframe(path, layer="scenario_added").shape[0] == 6


_SAVER = """
import sys
from geo import scenarios as s
store = s.ScenarioStore(sys.argv[1])
k = 0
while True:
    scen = s.Scenario(f"n{k % 3}", added=[s.Change(f"a{j}", "clinic", "x", 114.0 + j * 1e-4, 22.5) for j in range(k % 7 + 1)])
    cur = store.load(scen.name).version if scen.name in store else 0
    store.save(scen, expected_version=cur, saved_by="loop")
    print(k, flush=True)
    k += 1
"""


@pytest.mark.parametrize("delay", [1.2])
def test_a_killed_writer_never_leaves_a_half_written_store(tmp_path, delay):
    """SIGKILL a process in the middle of its saves: the store reads whole, and the next save works."""
    import signal
    import time

    path = tmp_path / "k.gpkg"
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # one save done: the store exists
    assert first.strip() == "0"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = sc.ScenarioStore(path)
    listing = store.list()
    assert len(listing) >= 1
    with sqlite3.connect(path) as con:
        rows = dict(con.execute("SELECT scenario, count(*) FROM scenario_added GROUP BY scenario").fetchall())
    for rec in listing.itertuples():
        scen = store.load(rec.name)
        assert rows[rec.name] == rec.added == len(scen.added), "metadata and layers come from the same write"
    # the lock died with the process; its temporary file is removed by the next save
    assert store.save(sc.Scenario("after"), saved_by="me").version == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".lctmp.gpkg")] == []


# ------------------------------------------------------------------ apply
def test_apply_equals_a_hand_built_frame():
    base = gpd.GeoDataFrame(
        {
            "id": ["A", "B", "C", "D"],
            "kind": ["park", "clinic", "clinic", "park"],
            "name": ["甲", "乙", "丙", "丁"],
            "level": ["x", "y", "z", "w"],
        },
        geometry=[
            shapely.Point(114.00, 22.50),
            shapely.Point(114.01, 22.51),
            shapely.Point(114.02, 22.52),
            shapely.Point(114.03, 22.53),
        ],
        crs="EPSG:4326",
    )
    scen = sc.Scenario(
        "t",
        added=[sc.Change("E", "library", "新馆", 114.05, 22.55)],
        moved=[sc.Change("C", "clinic", "丙", 114.025, 22.525, 114.02, 22.52)],
        closed=[sc.Change("B", "clinic", "乙", 114.01, 22.51)],
    )
    expected = gpd.GeoDataFrame(
        {
            "id": ["A", "C", "D", "E"],
            "kind": ["park", "clinic", "park", "library"],
            "name": ["甲", "丙", "丁", "新馆"],
            "level": ["x", "z", "w", np.nan],
        },
        geometry=[
            shapely.Point(114.00, 22.50),
            shapely.Point(114.025, 22.525),
            shapely.Point(114.03, 22.53),
            shapely.Point(114.05, 22.55),
        ],
        crs="EPSG:4326",
    )
    got = scen.apply(base)
    assert_geodataframe_equal(got, expected, check_dtype=False)
    assert base["id"].tolist() == ["A", "B", "C", "D"] and base.geometry.iloc[2].x == 114.02, "input unchanged"
    # a metric frame gets the positions in its own CRS
    metric = scen.apply(base.to_crs("EPSG:32650")).to_crs("EPSG:4326")
    assert shapely.equals_exact(metric.geometry.values, expected.geometry.values, tolerance=1e-9).all()
    with pytest.raises(ScenarioError, match="Z not among the facilities"):
        sc.Scenario("u", closed=[sc.Change("Z", "park", "", 114.0, 22.5)]).apply(base)
    with pytest.raises(ScenarioError, match="already taken"):
        sc.Scenario("u", added=[sc.Change("A", "park", "", 114.0, 22.5)]).apply(base)
    with pytest.raises(ScenarioError, match="both moved and closed"):
        sc.Scenario(
            "u", moved=[sc.Change("A", "park", "", 114.0, 22.5)], closed=[sc.Change("A", "park", "", 114.0, 22.5)]
        )


# ---------------------------------------------------------------- compare
def test_compare_equals_two_coverage_runs_subtracted(district, demand):
    fac, net, units = district.facilities, district.network, district.communities
    a = _two_changes(fac)
    b = sc.Scenario(
        "B",
        added=[
            sc.Change("K1", "kindergarten", "新幼", 114.06, 22.556),
            sc.Change("K2", "clinic", "新社康2", 114.045, 22.56),
        ],
    )
    cmp = sc.compare(net, fac, demand, a, b, tiers=(300, 1000), units=units)
    # the facilities of each side, built by hand
    f_a = fac[fac["id"] != fac.iloc[0]["id"]].copy()
    f_a.loc[f_a["id"] == fac.iloc[11]["id"], "geometry"] = shapely.Point(
        fac.iloc[11].geometry.x + 0.003, fac.iloc[11].geometry.y
    )
    f_a = pd.concat(
        [f_a, gpd.GeoDataFrame({"id": ["N1"], "kind": ["clinic"]}, geometry=[shapely.Point(114.05, 22.552)], crs=4326)],
        ignore_index=True,
    )
    f_b = pd.concat(
        [
            fac,
            gpd.GeoDataFrame(
                {"id": ["K1", "K2"], "kind": ["kindergarten", "clinic"]},
                geometry=[shapely.Point(114.06, 22.556), shapely.Point(114.045, 22.56)],
                crs=4326,
            ),
        ],
        ignore_index=True,
    )
    kinds = list(dict.fromkeys(fac["kind"]))
    ra = coverage.compute_coverage(net, gpd.GeoDataFrame(f_a, crs=4326), demand, tiers=(300, 1000), kinds=kinds)
    rb = coverage.compute_coverage(net, gpd.GeoDataFrame(f_b, crs=4326), demand, tiers=(300, 1000), kinds=kinds)
    head = cmp.headline().set_index(["kind", "tier_m"])
    nonzero = 0
    for kind in [*kinds, "any"]:
        for t in (300.0, 1000.0):
            want = rb.covered_weight(kind, t) - ra.covered_weight(kind, t)
            assert head.loc[(kind, t), "diff_weight"] == pytest.approx(want, abs=1e-6), (kind, t)
            assert head.loc[(kind, t), "weight_a"] == pytest.approx(ra.covered_weight(kind, t), abs=1e-6)
            nonzero += abs(want) > 0
    assert nonzero >= 4, "the scenarios should change several figures"
    # the 社区 table
    ua, ub, got = ra.by_unit(units), rb.by_unit(units), cmp.by_unit()
    for col in ("clinic_300", "party_center_1000", "any_300"):
        np.testing.assert_allclose(got[f"diff_{col}"], ub[f"covered_{col}"] - ua[f"covered_{col}"], atol=1e-3)
    # residents who gain or lose add up to the headline, per tier and kind
    res = cmp.residents()
    assert set(res["change"]) <= {"gain", "loss", "mixed"}
    for t in (300.0, 1000.0):
        sub = res[res["tier_m"] == t]
        for kind in ("clinic", "party_center", "kindergarten", "any"):
            assert sub[f"delta_{kind}"].sum() == pytest.approx(head.loc[(kind, t), "diff_weight"], abs=0.05)
    # A closed a party centre that B keeps: from A to B those residents gain it back
    back = res[(res["tier_m"] == 1000.0) & (res["delta_party_center"] > 0)]
    assert len(back) and back["gained"].str.contains("party_center").all()
    lost = res[(res["tier_m"] == 300.0) & (res["delta_clinic"] < 0)]  # A's new clinic is not in B
    assert len(lost) and lost["lost"].str.contains("clinic").all() and set(lost["change"]) <= {"loss", "mixed"}
    json.dumps(cmp.summary())  # JSON-ready


def test_compare_a_new_station_equals_networkx(district, demand):
    """today vs one added clinic, clinics only: the people gained are those networkx puts within the tier."""
    graph, to_m = ref.lonlat_walk_graph(district.graph)
    fac = district.facilities[district.facilities["kind"] == "clinic"].reset_index(drop=True)
    gap = coverage.compute_coverage(district.network, fac, demand, tiers=(500.0,)).gaps("clinic", 500.0).iloc[0]
    site = (float(gap.center_lon), float(gap.center_lat))  # where the clinics leave most people out
    scen = sc.Scenario("新社康", added=[sc.Change("NEW", "clinic", "新社康", *site)])
    cmp = sc.compare(district.network, fac, demand, None, scen, tiers=(500.0,))
    lonlat = district.network.to_lonlat(cmp.a.samples.xy)
    sample_xy = np.column_stack(to_m.transform(lonlat[:, 0], lonlat[:, 1]))
    fac_xy = np.column_stack(to_m.transform(fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()))
    d_old = reference_nearest(graph, fac_xy, sample_xy, 500.0)
    d_new = reference_nearest(graph, np.column_stack(to_m.transform([site[0]], [site[1]])), sample_xy, 500.0)
    w = cmp.a.samples.weight
    clear = (np.abs(d_old - 500.0) > 1.0) & (np.abs(d_new - 500.0) > 1.0)
    gained_ref = w[clear & (d_old > 500.0) & (d_new <= 500.0)].sum()
    gain = cmp.a.sample_dist["clinic"] > 500.0
    gain &= cmp.b.sample_dist["clinic"] <= 500.0
    assert gained_ref > 1000, "the site should serve new people"
    assert w[clear & gain].sum() == pytest.approx(gained_ref, rel=1e-9)
    assert cmp.headline().set_index("kind").loc["clinic", "diff_weight"] == pytest.approx(w[gain].sum())
    res = cmp.residents(500.0)
    assert (res["change"] == "gain").all() and res["weight"].sum() == pytest.approx(w[gain].sum())


def test_compare_completeness_equals_two_evaluations(district, demand):
    """With a standard, the complete shares of each side are geo.evaluate's on that side's facilities."""
    from geo import evaluate

    fac, parks = district.facilities, district.parks
    required = [
        k
        for k in evaluate.load_standard("gb50180-2018").tier("10min").required_kinds
        if k != "park" and (fac["kind"] == k).any()
    ]
    shut = fac[fac["kind"] == required[0]]  # close every facility of a kind the 10-minute circle needs
    scen = sc.Scenario(
        "关停",
        closed=[sc.Change(r.id, r.kind, r.name, r.geometry.x, r.geometry.y) for r in shut.itertuples()],
        added=[sc.Change("C1", "culture", "新文化站", 114.055, 22.5565)],
    )

    def with_parks(points):
        return [points[points["kind"] != "park"], parks]

    cmp = sc.compare(
        district.network,
        fac,
        demand,
        None,
        scen,
        tiers=(300, 500, 1000),
        units=district.communities,
        standard="gb50180-2018",
        evaluation_facilities=with_parks,
    )
    hand = fac[~fac["id"].isin(shut["id"])]
    hand = gpd.GeoDataFrame(
        pd.concat(
            [
                hand,
                gpd.GeoDataFrame(
                    {"id": ["C1"], "kind": ["culture"]}, geometry=[shapely.Point(114.055, 22.5565)], crs=4326
                ),
            ],
            ignore_index=True,
        ),
        crs=4326,
    )
    before = evaluate.evaluate(district.network, with_parks(fac), demand, "gb50180-2018").summary()
    after = evaluate.evaluate(district.network, with_parks(hand), demand, "gb50180-2018").summary()
    moved = 0.0
    for tier, v in cmp.completeness["complete"].items():
        assert v["a"] == before["complete"][tier] and v["b"] == after["complete"][tier]
        assert v["diff_weight"] == pytest.approx(after["complete"][tier]["weight"] - before["complete"][tier]["weight"])
        moved += abs(v["diff_weight"])
    assert after["complete"]["10min"]["weight"] == 0 < before["complete"]["10min"]["weight"], (
        "nobody is complete without the kind"
    )
    res = cmp.residents(500.0)
    assert res["delta_complete"].sum() == pytest.approx(cmp.completeness["complete"]["10min"]["diff_weight"], abs=0.5)
    units = cmp.by_unit()
    assert units["diff_complete_weight_10min"].sum() == pytest.approx(
        cmp.completeness["complete"]["10min"]["diff_weight"], abs=0.5
    )


# -------------------------------------------------------------------- CLI
def _cli(*args, env_extra=None, cwd=None):
    """Run the command line in a separate process (as a planner does)."""
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "lifecircle", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=300,
    )


class _Run:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys):
    """Run the command line in this process (the same demo build as the test's references)."""
    from apps.cli import main

    def run(*args, **_):
        capsys.readouterr()
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return _Run(code, out.out, out.err)

    return run


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project file on the demo's files (as a planner would have them)."""
    folder = tmp_path_factory.mktemp("proj")
    demo.write_demo_files(folder)
    demo.write_boundaries(folder)
    path = folder / "PROJECT.toml"
    path.write_text(
        'tiers = [300, 1000]\nstandard = "gb50180-2018"\nnetwork = "network.graphml"\nfacilities = "facilities.csv"\n'
        'demand = "demand.csv"\ncommunities = "demo_communities.geojson"\n',
        encoding="utf-8",
    )
    return path


def test_cli_with_a_project_file(project, tmp_path, cli):
    from geo import io, network

    store = sc.ScenarioStore(sc.project_store_path(project))
    assert store.path == project.parent / "PROJECT.scenarios.gpkg"
    fac = io.read_points(project.parent / "facilities.csv", role="facilities")
    saved = store.save(_two_changes(fac), saved_by="王工")
    r = cli("scenarios", str(project))
    assert r.returncode == 0 and "两站方案" in r.stdout and "王工" in r.stdout, r.stderr
    summ = tmp_path / "s.json"
    r = cli(
        "coverage", "--scenario", f"{project}:两站方案", "--out", str(tmp_path / "c.geojson"), "--summary", str(summ)
    )
    assert r.returncode == 0, r.stderr
    assert "两站方案' v1" in r.stderr
    net = network.load_network(project.parent / "network.graphml")
    dem = io.read_demand(project.parent / "demand.csv")
    want = coverage.compute_coverage(net, saved.apply(fac), dem, tiers=(300, 1000)).summary()
    got = json.loads(summ.read_text())
    assert got["covered"]["any"] == want["covered"]["any"] and got["facilities"] == want["facilities"]
    r = cli("coverage", "--scenario", f"{project}:nope", "--out", str(tmp_path / "c2.geojson"))
    assert r.returncode == 2 and "PROJECT.scenarios.gpkg: no scenario named 'nope'" in r.stderr, r.stderr
    # compare: the project's standard cannot be evaluated on park points without area_m2 -> coverage only, said so
    diff = tmp_path / "d.geojson"
    r = cli("scenarios", project, "--compare", "today", "两站方案", "--out", diff, "--summary", tmp_path / "d.json")
    assert r.returncode == 0 and "complete life circles not compared" in r.stderr and "area_m2" in r.stderr, r.stderr
    d = json.loads((tmp_path / "d.json").read_text())
    assert "completeness" not in d and d["covered"]["any"]["300"]["diff_weight"] == pytest.approx(
        round(
            coverage.compute_coverage(net, saved.apply(fac), dem, tiers=(300, 1000)).covered_weight("any", 300)
            - coverage.compute_coverage(net, fac, dem, tiers=(300, 1000)).covered_weight("any", 300),
            3,
        )
    )
    # asked for explicitly, the same problem is an error naming the column
    r = cli("scenarios", project, "--compare", "today", "两站方案", "--out", diff, "--standard", "gb50180-2018")
    assert r.returncode == 2 and "area_m2" in r.stderr, r.stderr


def test_cli_list_export_compare_and_coverage_scenario(tmp_path, district, demand, cli, monkeypatch):
    env = {"LIFECIRCLE_DATA": str(tmp_path / "data")}
    monkeypatch.setenv("LIFECIRCLE_DATA", env["LIFECIRCLE_DATA"])
    store = sc.ScenarioStore(tmp_path / "data" / "demo.scenarios.gpkg")
    a = store.save(_two_changes(district.facilities), saved_by="王工")
    store.save(sc.Scenario("B", added=[sc.Change("K1", "clinic", "新社康2", 114.045, 22.56)]), saved_by="李工")

    r = _cli("scenarios", "--demo", env_extra=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["name", "version", "saved_by", "saved_at", "added", "moved", "closed"]
    assert lines[2].split() == ["两站方案", "1", "王工", a.saved_at, "1", "1", "1"]
    r = cli("scenarios", "--demo", "--json", env_extra=env)
    assert [s["name"] for s in json.loads(r.stdout)] == ["B", "两站方案"]

    out = tmp_path / "x.geojson"
    r = cli("scenarios", "--demo", "--export", "两站方案", "--out", str(out), env_extra=env)
    assert r.returncode == 0, r.stderr
    exported = gpd.read_file(out)
    assert sorted(exported["change"]) == ["added", "closed", "moved"]
    assert exported.loc[exported["change"] == "added", "id"].tolist() == ["N1"]

    diff, summ = tmp_path / "diff.geojson", tmp_path / "s.json"
    r = cli(
        "scenarios",
        "--demo",
        "--compare",
        "today",
        "两站方案",
        "--out",
        str(diff),
        "--summary",
        str(summ),
        env_extra=env,
    )
    assert r.returncode == 0, r.stderr
    s = json.loads(summ.read_text())
    cmp = sc.compare(
        district.network, district.facilities, demand, None, a, tiers=(300, 1000), units=district.communities
    )
    for kind in ("clinic", "party_center", "any"):
        for t in ("300", "1000"):
            assert s["covered"][kind][t]["diff_weight"] == pytest.approx(
                round(cmp.summary()["covered"][kind][t]["diff_weight"], 3)
            )
    assert len(gpd.read_file(diff)) == len(cmp.residents())

    cov = tmp_path / "cov.json"
    r = cli(
        "coverage",
        "--demo",
        "--scenario",
        "demo:两站方案",
        "--out",
        str(tmp_path / "cov.geojson"),
        "--summary",
        str(cov),
        env_extra=env,
    )
    assert r.returncode == 0, r.stderr
    got = json.loads(cov.read_text())
    want = coverage.compute_coverage(
        district.network, a.apply(district.facilities), demand, tiers=(300, 1000)
    ).summary()
    assert got["covered"]["any"] == want["covered"]["any"] and got["covered"]["clinic"] == want["covered"]["clinic"]

    ev_out = tmp_path / "ev.json"
    r = cli(
        "evaluate",
        "--demo",
        "--scenario",
        "demo:两站方案",
        "--out",
        str(tmp_path / "ev.geojson"),
        "--summary",
        str(ev_out),
        "--no-remedies",
    )
    assert r.returncode == 0, r.stderr
    from types import SimpleNamespace

    from apps.cli.evaluate import _demo_facilities  # how the command hands the demo's parks in (gates + polygons)
    from geo import evaluate

    applied = _demo_facilities(SimpleNamespace(facilities=a.apply(district.facilities), parks=district.parks))
    ref_ev = evaluate.evaluate(district.network, [applied], demand, "gb50180-2018").summary()
    got_ev = json.loads(ev_out.read_text())
    assert got_ev["complete"] == ref_ev["complete"] and got_ev["kinds"] == ref_ev["kinds"]

    # bad input: one message naming the option or file, exit 2, no traceback
    for args, words in [
        (
            ("scenarios", "--demo", "--compare", "两站方案", "nope", "--out", str(tmp_path / "d.geojson")),
            "no scenario named 'nope'",
        ),
        (("scenarios", "--demo", "--export", "两站方案"), "--export needs --out"),
        (("scenarios", str(tmp_path / "missing.toml")), "missing.toml: project file not found"),
        (("coverage", "--demo", "--scenario", "nothing", "--out", str(tmp_path / "c.geojson")), "--scenario 'nothing'"),
        (
            ("coverage", "--demo", "--scenario", "demo:nope", "--out", str(tmp_path / "c.geojson")),
            "no scenario named 'nope'",
        ),
    ]:
        r = cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert words in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_store_locations(tmp_path, monkeypatch):
    monkeypatch.setenv(sc.DATA_ENV, str(tmp_path / "d"))
    assert sc.demo_store_path() == tmp_path / "d" / "demo.scenarios.gpkg"
    assert (
        sc.project_store_path(tmp_path / "p" / "PROJECT.toml") == (tmp_path / "p" / "PROJECT.scenarios.gpkg").resolve()
    )
    assert sc.split_ref("C:/x/PROJECT.toml:方案 A") == (Path("C:/x/PROJECT.toml"), "方案 A")
    with pytest.raises(ScenarioError):
        sc.split_ref("PROJECT.toml:")
    monkeypatch.delenv(sc.DATA_ENV)
    assert sc.data_dir().name == "lifecircle"


# -------------------------------------------------------------------- app panel
def test_app_panel_save_open_conflict_and_restart(tmp_path):
    """Two sessions on one store: open gives the same figures, a stale save names who saved since,
    and a new session (a restarted server) reopens the same figures."""
    from apps.web.project import load_demo
    from apps.web.scenarios_panel import ScenarioPanel
    from apps.web.state import PlannerState

    ws = load_demo()
    path = tmp_path / "demo.scenarios.gpkg"
    a, b = PlannerState(ws), PlannerState(ws)
    pa, pb = (
        ScenarioPanel(a, sc.ScenarioStore(path), user="王工"),
        ScenarioPanel(b, sc.ScenarioStore(path), user="李工"),
    )
    assert a.add_candidate(114.0585, 22.5628, kind="clinic") is not None
    assert a.close_facility("PC-01") == "PC-01"
    pa.name_w.value = "方案一"
    saved = pa.save()
    assert saved is not None and saved.version == 1 and saved.counts == {"added": 1, "moved": 0, "closed": 1}
    pb.refresh()
    assert pb.pick_w.options == ["方案一"]
    opened = pb.open("方案一")
    assert opened is not None and "王工" in pb.message_w.object
    assert [(c.kind, c.lon, c.lat) for c in b.candidates] == [("clinic", 114.0585, 22.5628)] and b.closed == ["PC-01"]
    for kind in ("clinic", "party_center", "any"):
        assert b.headline(kind).rows == a.headline(kind).rows

    # A saves again; B's save, made on version 1, is refused and names A's planner
    a.add_candidate(114.0600, 22.5600, kind="park")
    assert pa.save().version == 2
    b.add_candidate(114.0500, 22.5500, kind="library")
    assert pb.save() is None
    assert "王工" in pb.message_w.object and "version 2" in pb.message_w.object
    assert len(sc.ScenarioStore(path).load("方案一").added) == 2, "B's save changed nothing"

    # a new session with a new store object (as after a server restart: only the file is shared)
    c = PlannerState(ws)
    pc = ScenarioPanel(c, sc.ScenarioStore(path), user="赵工")
    pc.open("方案一")
    assert sorted(x.kind for x in c.candidates) == ["clinic", "park"] and c.closed == ["PC-01"]
    for kind in ("clinic", "park", "any"):
        assert c.headline(kind).rows == a.headline(kind).rows

    # rename, duplicate, delete from the panel
    pc.pick_w.value, pc.new_name_w.value = "方案一", "方案二"
    assert pc.duplicate().name == "方案二"
    pc.pick_w.value, pc.new_name_w.value = "方案二", "方案三"
    assert pc.rename().name == "方案三"
    pc.pick_w.value = "方案三"
    assert pc.delete() and sc.ScenarioStore(path).names() == ["方案一"]
    assert "方案一" in pc.table_w.object and "王工" in pc.table_w.object
