"""Micro-station siting (geo.siting, `lifecircle site`): exactness, parity with spopt, what-if.

Reference instances put demand and candidates exactly on network nodes that
no other edge passes within 1 m of, so an independent networkx Dijkstra
between nodes gives the true walking distances.  On the real Futian graph that
reference is tests/reference.py's graph parsed straight from the GraphML text;
on the demo it is networkx on the node-index graph.  spopt gets the dense cost
matrix from that networkx Dijkstra; lifecircle builds its own sparse covering
pairs on its network (the test checks they agree).
"""

from __future__ import annotations

import itertools
import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import coverage, network, reach, siting
from tests import reference as ref

pytestmark = pytest.mark.xdist_group("siting")


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def demo():
    from geo import demo as demo_mod

    return demo_mod.build_demo()


@pytest.fixture(scope="module")
def demo_net(demo):
    net = demo.network  # a WalkNetwork since geo.demo became a package; a networkx graph before
    return net if isinstance(net, network.WalkNetwork) else network.from_graph(net, name="demo", source="test")


@pytest.fixture(scope="module")
def demo_demand(demo):
    return demo.demand.rename(columns={"population": "weight"})


@pytest.fixture(scope="module")
def futian_ref(futian_graphml):
    graph, _ = ref.graphml_walk_graph(futian_graphml)
    return graph


def _clear_nodes(net: network.WalkNetwork) -> np.ndarray:
    """Nodes that no edge other than their own passes within 1 m of."""
    tree = shapely.STRtree(net.edge_lines)
    pts, edges = tree.query(shapely.points(net.node_xy), predicate="dwithin", distance=1.0)
    foreign = (net.edge_u[edges] != pts) & (net.edge_v[edges] != pts)
    bad = np.bincount(pts[foreign], minlength=net.n_nodes) > 0
    return np.flatnonzero(~bad)


def _clear_radius(dist: np.ndarray, radius: float) -> float:
    """Nudge the radius so that no distance lies within 1 cm of it (rounding cannot flip a pair)."""
    while np.any(np.abs(dist[np.isfinite(dist)] - radius) < 0.01):
        radius += 0.137
    return radius


class NodeInstance:
    """Demand, candidates and existing stations on distinct clear nodes, with reference distances."""

    def __init__(self, net, graph, names, n_dem, n_cand, n_exist, radius, seed):
        rng = np.random.default_rng(seed)
        clear = _clear_nodes(net)
        clear = clear[np.isin(np.array([names(n) for n in clear], dtype=object), list(graph.nodes))]
        picked = rng.choice(clear, n_dem + n_cand + n_exist, replace=False)
        self.net = net
        self.dem, self.cand, self.exist = np.split(picked, [n_dem, n_dem + n_cand])
        self.weight = rng.integers(1, 300, n_dem).astype(float)
        cols = np.concatenate([self.cand, self.exist])
        self.cost = _reference_costs(graph, [names(n) for n in self.dem], [names(n) for n in cols], 3 * radius)
        self.radius = _clear_radius(self.cost, radius)

    def snapped(self, nodes):
        return network.snap_xy(self.net, self.net.node_xy[nodes])

    def cover(self) -> siting.CoverSets:
        return siting.cover_sets(
            self.net,
            self.snapped(self.dem),
            self.weight,
            self.snapped(self.cand),
            self.radius,
            existing=self.snapped(self.exist),
        )

    def predefined(self) -> np.ndarray:
        return np.concatenate([np.zeros(self.cand.size, int), np.ones(self.exist.size, int)])


def _reference_costs(graph, dem_names, col_names, cutoff) -> np.ndarray:
    """Dense (demand x columns) walking distances by networkx Dijkstra (inf beyond ``cutoff``)."""
    out = np.full((len(dem_names), len(col_names)), np.inf)
    row = {n: i for i, n in enumerate(dem_names)}
    for j, src in enumerate(col_names):
        lengths = nx.single_source_dijkstra_path_length(graph, src, cutoff=cutoff, weight="length")
        for n, d in lengths.items():
            if n in row:
                out[row[n], j] = d
    return out


@pytest.fixture(scope="module")
def demo_nodes(demo_net):
    return lambda **kw: NodeInstance(demo_net, demo_net.to_networkx(), int, **kw)


@pytest.fixture(scope="module")
def futian_nodes(futian_net, futian_ref):
    return lambda **kw: NodeInstance(futian_net, futian_ref, lambda n: str(futian_net.node_osmid[n]), **kw)


def _brute_force(cover: siting.CoverSets, k: int) -> float:
    """Best covered weight over every choice of k choosable candidates."""
    rows = cover.matrix().toarray() > 0
    ok = np.flatnonzero(cover.choosable)
    open_w = np.where(cover.covered_before, 0.0, cover.weight)
    best = 0.0
    for combo in itertools.combinations(ok, k):
        best = max(best, float(open_w[rows[list(combo)].any(axis=0)].sum()))
    return cover.before_weight + best


def _spopt_mclp(cost, weight, radius, p, predefined):
    import pulp
    from spopt.locate import MCLP as SpoptMCLP

    model = SpoptMCLP.from_cost_matrix(
        np.where(np.isfinite(cost), cost, 1e9), weight, radius, p, predefined_facilities_arr=predefined
    )
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    return model


# ----------------------------------------------------------- covering pairs
@pytest.mark.parametrize("where", ["demo", "futian"])
def test_cover_pairs_match_networkx(where, request):
    inst = request.getfixturevalue(f"{where}_nodes")(n_dem=300, n_cand=40, n_exist=3, radius=600.0, seed=3)
    cover = inst.cover()
    got = cover.matrix().toarray().T > 0
    want = inst.cost[:, : inst.cand.size] <= inst.radius
    assert (got == want).all()
    assert (cover.covered_before == (inst.cost[:, inst.cand.size :] <= inst.radius).any(axis=1)).all()
    rows = np.repeat(np.arange(cover.n_candidates), np.diff(cover.indptr))
    assert np.allclose(cover.dist, inst.cost[cover.indices, rows], atol=1e-6)
    assert want.sum() > 200, "the instance should have many covering pairs"


# --------------------------------------------------------------- brute force
@pytest.mark.parametrize("seed", [1, 2])
def test_exact_equals_brute_force_on_futian(futian_nodes, seed):
    inst = futian_nodes(n_dem=400, n_cand=30, n_exist=2, radius=450.0, seed=seed)
    cover = inst.cover()
    exact = siting.MCLP(cover, 3).solve("exact")
    best = _brute_force(cover, 3)
    assert exact.optimal and exact.gap is not None and exact.gap <= 1e-6
    assert exact.covered_after == pytest.approx(best, abs=1e-6)
    assert exact.covered_after > exact.covered_before
    greedy = siting.MCLP(cover, 3).solve("greedy")
    assert greedy.covered_after >= 0.98 * best


def test_exact_equals_brute_force_on_demo(demo, demo_net, demo_demand):
    rng = np.random.default_rng(11)
    cands = demo.candidates.iloc[np.sort(rng.choice(len(demo.candidates), 30, replace=False))]
    plan = siting.plan_sites(demo_net, demo.facilities, demo_demand, candidates=cands, radius=500, k=3, method="exact")
    best = _brute_force(plan.model.cover, 3)
    assert plan.model.optimal
    assert plan.model.covered_after == pytest.approx(best, abs=1e-6)
    assert plan.model.covered_after - plan.model.covered_before > 1000
    greedy = siting.plan_sites(
        demo_net, demo.facilities, demo_demand, candidates=cands, radius=500, k=3, method="greedy", samples=plan.samples
    )
    assert greedy.model.covered_after >= 0.98 * best


def test_gains_are_sequential_marginal_gains(futian_nodes):
    inst = futian_nodes(n_dem=400, n_cand=30, n_exist=2, radius=450.0, seed=4)
    cover = inst.cover()
    model = siting.MCLP(cover, 4).solve("exact")
    covered = cover.covered_before.copy()
    for j, gain in zip(model.chosen, model.gains):
        new = cover.covered_by([j]) & ~covered
        assert gain == pytest.approx(cover.weight[new].sum())
        covered |= new
    assert np.all(np.diff(model.gains) <= 1e-9), "ranked by marginal gain"
    assert list(model.rank) == list(range(1, model.chosen.size + 1))
    assert model.covered_after == pytest.approx(cover.weight[covered].sum())


# ----------------------------------------------------------------- spopt
@pytest.mark.parametrize("where", ["demo", "futian"])
def test_mclp_matches_spopt(where, request):
    inst = request.getfixturevalue(f"{where}_nodes")(n_dem=500, n_cand=80, n_exist=3, radius=500.0, seed=5)
    k = 6
    theirs = _spopt_mclp(inst.cost, inst.weight, inst.radius, k + inst.exist.size, inst.predefined())
    mine = siting.MCLP(inst.cover(), k).solve("exact")
    assert mine.optimal
    assert mine.covered_after == pytest.approx(theirs.problem.objective.value(), abs=1e-6)
    greedy = siting.MCLP(inst.cover(), k).solve("greedy")
    assert greedy.covered_after >= 0.98 * mine.covered_after


@pytest.mark.parametrize("where", ["demo", "futian"])
def test_mclp_from_cost_matrix_matches_spopt(where, request):
    """The same dense matrix fed to both: spopt counts predefined sites in p, lifecircle does not."""
    inst = request.getfixturevalue(f"{where}_nodes")(n_dem=400, n_cand=60, n_exist=4, radius=400.0, seed=6)
    theirs = _spopt_mclp(inst.cost, inst.weight, inst.radius, 5 + 4, inst.predefined())
    mine = siting.MCLP.from_cost_matrix(inst.cost, inst.weight, inst.radius, 5, inst.predefined()).solve("exact")
    assert mine.covered_after == pytest.approx(theirs.problem.objective.value(), abs=1e-6)
    assert not np.isin(mine.chosen, np.flatnonzero(inst.predefined())).any()


@pytest.mark.parametrize("where", ["demo", "futian"])
def test_lscp_matches_spopt(where, request):
    import pulp
    from spopt.locate import LSCP as SpoptLSCP

    inst = request.getfixturevalue(f"{where}_nodes")(n_dem=400, n_cand=80, n_exist=3, radius=500.0, seed=7)
    within = inst.cost <= inst.radius
    coverable = within.any(axis=1)
    assert (~coverable).any(), "the instance should have demand no candidate can cover"
    theirs = SpoptLSCP.from_cost_matrix(
        np.where(within[coverable], inst.cost[coverable], 1e9), inst.radius, predefined_facilities_arr=inst.predefined()
    )
    theirs.solve(pulp.PULP_CBC_CMD(msg=False))
    mine = siting.LSCP(inst.cover()).solve("exact")
    assert mine.optimal
    assert mine.objective + inst.exist.size == round(theirs.problem.objective.value())
    assert set(mine.uncoverable) == set(np.flatnonzero(~coverable))
    covered = mine.cover.covered_by(mine.chosen)
    assert covered[coverable].all()
    greedy = siting.LSCP(inst.cover()).solve("greedy")
    assert mine.cover.covered_by(greedy.chosen)[coverable].all()
    assert greedy.objective >= mine.objective


# ------------------------------------------------------------ from pairs
def _random_pairs(seed, n_cand=40, n_dem=300, per=12):
    rng = np.random.default_rng(seed)
    cand = np.repeat(np.arange(n_cand), per)
    dem = rng.integers(0, n_dem, cand.size)
    return cand, dem, rng.integers(1, 100, n_dem).astype(float)


def test_from_pairs_exact_and_greedy():
    cand, dem, w = _random_pairs(1)
    model = siting.MCLP.from_pairs(cand, dem, w, 3).solve("exact")
    assert model.covered_after == pytest.approx(_brute_force(model.cover, 3))
    assert siting.MCLP.from_pairs(cand, dem, w, 3).solve("greedy").covered_after >= 0.98 * model.covered_after


def test_existing_stations_never_rechosen_in_model():
    cand, dem, w = _random_pairs(2)
    big = np.arange(0, 300)  # candidate 40 covers everything but is an existing station
    cand = np.concatenate([cand, np.full(big.size, 40)])
    dem = np.concatenate([dem, big])
    blocked = np.zeros(42, bool)
    blocked[40] = True
    before = np.zeros(300, bool)
    for method in ("greedy", "exact"):
        model = siting.MCLP.from_pairs(cand, dem, w, 5, n_candidates=42, blocked=blocked, covered_before=before).solve(
            method
        )
        assert 40 not in model.chosen


def test_existing_stations_never_rechosen_in_plan(demo, demo_net, demo_demand):
    stations = siting.station_frame(demo.facilities)
    twins = stations[["id", "geometry"]].assign(id=lambda f: "twin-" + f["id"], name="twin")
    same_id = stations[["id", "geometry"]].iloc[:2].assign(name="same id")
    cands = pd.concat([demo.candidates[["id", "name", "geometry"]].iloc[:40], twins, same_id], ignore_index=True)
    for method in ("greedy", "exact"):
        plan = siting.plan_sites(
            demo_net, demo.facilities, demo_demand, candidates=cands, radius=400, k=10, method=method
        )
        chosen = set(plan.summary()["chosen"])
        assert not chosen & (set(twins["id"]) | set(stations["id"]))
        assert set(plan.excluded["existing_station"]) >= set(twins["id"]) | set(same_id["id"])


# --------------------------------------------------------------- capacity
def _max_flow_served(cover, chosen, capacity) -> float:
    """Most open weight the chosen stations can serve (networkx max flow, integer weights)."""
    g = nx.DiGraph()
    for i in np.flatnonzero(cover.open_demand):
        g.add_edge("s", ("d", int(i)), capacity=float(cover.weight[i]))
    for j in chosen:
        g.add_edge(("c", int(j)), "t", capacity=float(capacity))
        for i in cover.row(int(j)):
            if cover.open_demand[i]:
                g.add_edge(("d", int(i)), ("c", int(j)))
    if "s" not in g or "t" not in g:
        return 0.0
    return nx.maximum_flow_value(g, "s", "t")


def test_capacitated_mclp_equals_brute_force():
    cand, dem, w = _random_pairs(3, n_cand=15, n_dem=200, per=25)
    cap = 900.0
    model = siting.MCLP.from_pairs(cand, dem, w, 3, capacity=cap).solve("exact")
    best = max(_max_flow_served(model.cover, c, cap) for c in itertools.combinations(range(15), 3))
    assert model.optimal
    assert model.new_weight == pytest.approx(best, abs=1e-5)
    assert (model.gains <= cap + 1e-6).all()
    greedy = siting.MCLP.from_pairs(cand, dem, w, 3, capacity=cap).solve("greedy")
    assert (greedy.gains <= cap + 1e-6).all()
    assert greedy.new_weight == pytest.approx(_max_flow_served(model.cover, greedy.chosen, cap), abs=1e-5)
    assert greedy.new_weight >= 0.95 * best


def test_capacitated_lscp_serves_what_all_candidates_could():
    cand, dem, w = _random_pairs(4, n_cand=20, n_dem=150, per=20)
    cap = 800.0
    model = siting.LSCP.from_pairs(cand, dem, w, capacity=cap).solve("exact")
    everything = _max_flow_served(model.cover, range(20), cap)
    assert model.new_weight == pytest.approx(everything, rel=1e-6)
    greedy = siting.LSCP.from_pairs(cand, dem, w, capacity=cap).solve("greedy")
    assert model.objective <= greedy.objective
    assert (model.gains <= cap + 1e-6).all()


# ------------------------------------------------------------- messages
def test_model_messages():
    cand, dem, w = _random_pairs(5)
    with pytest.raises(siting.SitingError, match="cannot add 50 sites: only 40"):
        siting.MCLP.from_pairs(cand, dem, w, 50)
    with pytest.raises(siting.SitingError, match="negative"):
        siting.MCLP.from_pairs(cand, dem, w, -1)
    with pytest.raises(siting.SitingError, match="radius must be a positive"):
        siting.CoverSets.from_cost_matrix(np.ones((3, 3)), None, -5)
    with pytest.raises(siting.SitingError, match="unknown method"):
        siting.MCLP.from_pairs(cand, dem, w, 2).solve("fast")
    empty = siting.MCLP.from_pairs(cand, dem, w, 0).solve("exact")
    assert empty.chosen.size == 0 and empty.covered_after == empty.covered_before


def test_plan_messages(demo, demo_net, demo_demand):
    with pytest.raises(siting.SitingError, match="no demand"):
        siting.plan_sites(demo_net, demo.facilities, demo_demand.assign(weight=0.0), candidates=demo.candidates, k=2)
    with pytest.raises(siting.SitingError, match="no demand"):
        siting.plan_sites(demo_net, demo.facilities, demo_demand.iloc[:0], candidates=demo.candidates, k=2)
    far = demo.candidates.iloc[:3].set_geometry(gpd.points_from_xy([114.3] * 3, [22.7] * 3), crs="EPSG:4326")
    with pytest.raises(siting.SitingError, match="all 3 candidate sites are unreachable"):
        siting.plan_sites(demo_net, demo.facilities, demo_demand, candidates=far, k=1)
    with pytest.raises(siting.SitingError, match="cannot add 300 sites"):
        siting.plan_sites(demo_net, demo.facilities, demo_demand, candidates=demo.candidates, k=300)
    with pytest.raises(siting.SitingError, match="radius"):
        siting.plan_sites(demo_net, demo.facilities, demo_demand, candidates=demo.candidates, k=2, radius=-100)


# ------------------------------------------------------------- candidates
def test_grid_candidates(demo, demo_net, demo_demand):
    stations = siting.station_frame(demo.facilities)
    st = network.snap_xy(demo_net, shapely.get_coordinates(stations.geometry.to_crs(demo_net.crs).values))
    cands = siting.grid_candidates(demo_net, demo_demand, 200.0, stations=st, min_distance_m=150.0)
    assert len(cands) > 50 and cands["id"].is_unique and cands["node"].is_unique
    d = reach.node_distances(demo_net, st, 150.0)
    assert (d[cands["node"].to_numpy()] > 150.0).all()
    hull = shapely.convex_hull(
        shapely.multipoints(shapely.get_coordinates(demo_demand.geometry.to_crs(demo_net.crs).values))
    )
    xy = demo_net.node_xy[cands["node"].to_numpy()]
    assert shapely.distance(hull, shapely.points(xy)).max() < 200.0
    plan = siting.plan_sites(demo_net, demo.facilities, demo_demand, candidate_spacing=250.0, radius=300, k=4)
    assert plan.sites()["id"].str.startswith("G").all()


# --------------------------------------------------------------- the CLI
def _run(args, capsys):
    from apps import cli

    rc = cli.main(args)
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_cli_demo_end_to_end(tmp_path, capsys, method):
    out, summ = tmp_path / "sites.geojson", tmp_path / "summary.json"
    rc, err = _run(
        [
            "site",
            "--demo",
            "--radius",
            "500",
            "--add",
            "4",
            "--method",
            method,
            "--out",
            str(out),
            "--summary",
            str(summ),
        ],
        capsys,
    )
    assert rc == 0, err
    sites = json.loads(out.read_text(encoding="utf-8"))
    summary = json.loads(summ.read_text(encoding="utf-8"))
    props = [f["properties"] for f in sites["features"]]
    assert len(props) == 4
    for p in props:
        assert {"id", "name", "rank", "gain", "lon", "lat"} <= set(p)
    assert [p["rank"] for p in props] == [1, 2, 3, 4]
    assert [p["id"] for p in props] == summary["chosen"]
    for key in (
        "method",
        "optimal",
        "gap",
        "covered_before",
        "covered_after",
        "chosen",
        "total_weight",
        "radius_m",
        "unserved_units",
    ):
        assert key in summary
    assert summary["method"] == method and summary["radius_m"] == 500
    if method == "exact":
        assert summary["optimal"] is True and summary["gap"] <= 1e-6
    else:  # greedy reports the gap its Lagrangian bound proves
        assert isinstance(summary["optimal"], bool) and 0.0 <= summary["gap"] < 0.05
    gains = sum(p["gain"] for p in props)
    assert summary["covered_after"] - summary["covered_before"] == pytest.approx(gains, abs=0.01)
    assert summary["covered_before"] <= summary["covered_after"] <= summary["total_weight"]
    assert not list(tmp_path.glob(".*tmp*")), "no temporary file is left behind"


def test_cli_lscp_and_generated_candidates(tmp_path, capsys):
    out, summ = tmp_path / "sites.geojson", tmp_path / "s.json"
    rc, err = _run(
        [
            "site",
            "--demo",
            "--lscp",
            "--radius",
            "400",
            "--candidate-spacing",
            "200",
            "--out",
            str(out),
            "--summary",
            str(summ),
            "--time-limit",
            "30",
        ],
        capsys,
    )
    assert rc == 0, err
    summary = json.loads(summ.read_text(encoding="utf-8"))
    assert summary["model"] == "lscp" and summary["chosen"]
    assert all(i.startswith("G") for i in summary["chosen"])
    assert "uncoverable_units" in summary


def _csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--add", "0"], "nothing to add"),
        (["--add", "500"], "only 207 candidate sites"),
        (["--add", "2", "--radius", "-300"], "radius"),
        (["--add", "2", "--lscp"], "leave out --add"),
        ([], "give --add K"),
    ],
)
def test_cli_messages(tmp_path, capsys, extra, message):
    out = tmp_path / "s.geojson"
    rc, err = _run(["site", "--demo", *extra, "--out", str(out)], capsys)
    assert rc == 2
    assert message in err
    assert err.count("error:") == 1
    assert not out.exists()


def test_cli_no_demand_and_unreachable_candidates(tmp_path, capsys):
    out = tmp_path / "s.geojson"
    zero = _csv(tmp_path, "demand.csv", "id,lon,lat,population\nD1,114.0584,22.5577,0\nD2,114.0525,22.5527,0\n")
    rc, err = _run(["site", "--demo", "--demand", zero, "--add", "2", "--out", str(out)], capsys)
    assert rc == 2 and "no demand" in err
    far = _csv(tmp_path, "cands.csv", "id,lon,lat\nC1,114.30,22.70\nC2,114.31,22.71\n")
    rc, err = _run(["site", "--demo", "--candidates", far, "--add", "1", "--out", str(out)], capsys)
    assert rc == 2 and "all 2 candidate sites are unreachable" in err
    assert not out.exists()


# --------------------------------------------------------------- what-if
def _recompute(whatif: siting.WhatIf, demand, tiers):
    """Full coverage of the what-if's current stations by geo.coverage."""
    lonlat = whatif.net.to_lonlat(whatif.station_xy)
    fac = gpd.GeoDataFrame(
        {"id": whatif.station_ids, "kind": "micro_station"},
        geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]),
        crs="EPSG:4326",
    )
    return coverage.compute_coverage(whatif.net, fac, demand, tiers=tiers, samples=whatif.samples)


def _assert_same(whatif, result, demand, tiers):
    full = _recompute(whatif, demand, tiers)
    want = full.sample_dist[coverage.ANY]
    got = whatif.dist
    assert (np.isfinite(got) == np.isfinite(want)).all()
    fin = np.isfinite(want)
    assert np.abs(got[fin] - want[fin]).max(initial=0.0) < 1e-3
    for t in tiers:
        assert result.covered[t] == pytest.approx(full.covered_weight(coverage.ANY, t))


def test_whatif_matches_full_recomputation_on_demo(demo, demo_net, demo_demand):
    tiers = (300.0, 1000.0)
    w = siting.WhatIf.from_frames(demo_net, demo.facilities, demo_demand, tiers=tiers)
    before = w.covered()
    spot = demo.candidates.geometry.iloc[[5, 60, 120]]
    steps = [
        lambda: w.add(spot.iloc[0].x, spot.iloc[0].y),
        lambda: w.remove(w.station_ids[0]),
        lambda: w.move(w.station_ids[3], spot.iloc[1].x, spot.iloc[1].y),
        lambda: w.add(spot.iloc[2].x, spot.iloc[2].y, station_id="mine"),
        lambda: w.remove("mine"),
        w.undo,
        w.undo,
        w.undo,
    ]
    for step in steps:
        previous = w.covered()
        result = step()
        _assert_same(w, result, demo_demand, tiers)
        for t in tiers:
            assert result.delta[t] == pytest.approx(result.covered[t] - previous[t])
    assert [w.undo().action, w.undo().action] == ["undo remove", "undo add"]
    assert w.covered() == pytest.approx(before)
    with pytest.raises(siting.SitingError, match="nothing to undo"):
        w.undo()
    with pytest.raises(siting.SitingError, match="no station"):
        w.remove("nope")
    with pytest.raises(siting.SitingError, match="walkable street"):
        w.add(114.3, 22.7)


def test_whatif_removal_is_exact_among_many_stations():
    """Local removal against a full multi-source search, with many overlapping stations."""
    from geo.synthetic import random_points_near, street_grid

    net = street_grid(20_000, seed=3)
    xy = random_points_near(net, 5000, seed=4)
    snapped = network.snap_xy(net, xy)
    samples = coverage.DemandSamples(np.arange(5000), np.ones(5000), xy, snapped, 5000)
    st = random_points_near(net, 60, seed=5)
    w = siting.WhatIf(net, samples, st, [f"S{i}" for i in range(60)], tiers=(300.0, 1000.0))
    rng = np.random.default_rng(6)
    for i in range(25):
        op = i % 3
        if op == 0:
            w.remove(w.station_ids[int(rng.integers(len(w.station_ids)))])
        elif op == 1:
            lon, lat = net.to_lonlat(random_points_near(net, 1, seed=100 + i))[0]
            w.add(lon, lat)
        else:
            lon, lat = net.to_lonlat(random_points_near(net, 1, seed=200 + i))[0]
            w.move(w.station_ids[int(rng.integers(len(w.station_ids)))], lon, lat)
        want = reach.nearest_distances(net, network.snap_xy(net, w.station_xy), snapped, limit=1000.0)
        assert (np.isfinite(w.dist) == np.isfinite(want)).all()
        fin = np.isfinite(want)
        assert np.abs(w.dist[fin] - want[fin]).max() < 1e-6
