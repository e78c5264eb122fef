"""Life-circle evaluation (geo.evaluate) against independent references.

* completeness per demand unit = plain networkx multi-source Dijkstra per kind (and per rule
  condition and cohort speed), combined by hand, on a synthetic street grid and on the real
  Futian graph;
* polygon facilities = networkx from the edge points the touch rule defines, found with shapely;
* E2SFCA = PySAL ``access`` on the same network distance matrix.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from geo import evaluate as E
from geo import synthetic
from geo.errors import InputError, StandardError
from geo.evaluate.sources import selection_distances
from tests import reference as ref
from tests.utils import placements

BACK = pyproj.Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)

PACK = """
name = "test-pack"
version = "1"
speed_m_per_min = 60
[[tiers]]
key = "5min"
metres = 300
kinds = ["clinic", "market"]
  [[tiers.rules]]
  kind = "park"
  metres = 250
  condition = "area_m2 >= 5000"
  [[tiers.rules]]
  kind = "park"
  metres = 150
  condition = "2000 <= area_m2 < 5000"
[[tiers]]
key = "15min"
metres = 900
kinds = ["clinic", "school"]
optional = ["market"]
  [[tiers.rules]]
  kind = "school"
  metres = 600
[[cohorts]]
key = "elderly"
column = "pop_60plus"
speed_m_per_min = 45
kinds = ["clinic", "park"]
"""


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def grid():
    """A synthetic street grid as a WalkNetwork and as a plain networkx graph from the same arrays."""
    arr = synthetic.street_grid_arrays(900, seed=3)
    net = synthetic.network_from_arrays(arr)
    g = nx.Graph()
    for u, v, geom in zip(arr.edge_u.tolist(), arr.edge_v.tolist(), arr.geometry):
        geom = np.asarray(geom, float)
        length = float(np.hypot(*np.diff(geom, axis=0).T).sum())
        if u == v or (g.has_edge(u, v) and g[u][v]["length"] <= length):
            continue
        g.add_edge(u, v, length=length, coords=geom, a=u)
    return net, g


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    p = tmp_path_factory.mktemp("packs") / "test-pack.toml"
    p.write_text(PACK, encoding="utf-8")
    return E.load_standard(p)


def _to_lonlat(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(BACK.transform(xy[:, 0], xy[:, 1])))


def _gdf(xy, **cols):
    lon, lat = BACK.transform(xy[:, 0], xy[:, 1])
    return gpd.GeoDataFrame(cols, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def _reference_complete(g, fac_pl, fac_kind, fac_area, dem_pl, std, scale=1.0, kinds_of=None):
    """Per demand placement and tier: complete (bool), by networkx per kind and rule, combined by hand."""
    gg = ref.insert_points(g, fac_pl + dem_pl)
    names = [p[0] for p in dem_pl]
    out = {}
    for t in std.tiers:
        ok = np.ones(len(names), bool)
        kinds = [k for k in t.required_kinds if kinds_of is None or k in kinds_of]
        for k in kinds:
            present = np.zeros(len(names), bool)
            for r in t.rules_of(k):
                sel = [
                    p[0]
                    for p, kk, a in zip(fac_pl, fac_kind, fac_area)
                    if kk == k and (r.condition is None or _cond(r.condition.text, a))
                ]
                if not sel:
                    continue
                d = ref.nearest_source_distances(gg, sel, names, r.metres * scale + 5)
                present |= d <= r.metres * scale
            ok &= present
        out[t.key] = ok
    return out


def _cond(text: str, area: float) -> bool:
    """The two conditions of PACK, written out again."""
    if text == "area_m2 >= 5000":
        return area >= 5000
    if text == "2000 <= area_m2 < 5000":
        return 2000 <= area < 5000
    raise AssertionError(text)


def _facilities(g, rng, n_per_kind=6):
    kinds = ["clinic", "market", "park", "school"]
    pl, xy = placements(g, rng, n_per_kind * len(kinds), "f", on_nodes=False)
    kind = [kinds[i % len(kinds)] for i in range(len(pl))]
    area = rng.choice([800.0, 3000.0, 8000.0], len(pl))
    return pl, xy, kind, area


# ------------------------------------------------------------------ completeness
def test_completeness_equals_networkx_on_grid(grid, pack):
    net, g = grid
    rng = np.random.default_rng(5)
    fac_pl, fac_xy, kind, area = _facilities(g, rng)
    dem_pl, dem_xy = placements(g, rng, 250, "d", on_nodes=False)
    weight = rng.integers(10, 200, len(dem_pl)).astype(float)
    elderly = np.floor(weight * 0.2)
    fac = _gdf(fac_xy, id=[p[0] for p in fac_pl], kind=kind, area_m2=area)
    dem = _gdf(dem_xy, id=[p[0] for p in dem_pl], weight=weight, pop_60plus=elderly)
    ev = E.evaluate(net, fac, dem, pack)
    frame = ev.to_geodataframe()
    expected = _reference_complete(g, fac_pl, kind, area, dem_pl, pack)
    for t in pack.tiers:
        got = frame[f"complete_{t.key}"].to_numpy()
        # a point at a radius's edge may fall either side by rounding: leave those out
        near = np.zeros(len(dem_pl), bool)
        for r in t.rules:
            d = ev.rule_dist[r.key]
            near |= np.abs(d - r.metres) < 0.5
        assert (got[~near] == expected[t.key][~near].astype(float)).all(), t.key
        assert 0 < expected[t.key].sum() < len(dem_pl), "the test should mix complete and incomplete"
        share = weight[expected[t.key]].sum() / weight.sum()
        assert ev.summary()["complete"][t.key]["share"] == pytest.approx(share, abs=0.01)
        # missing lists name exactly the absent kinds
        for i in np.flatnonzero(~near)[:40]:
            miss = frame[f"missing_{t.key}"].iloc[i]
            assert (miss == "") == bool(expected[t.key][i])
            assert frame[f"n_kinds_{t.key}"].iloc[i] == len(t.required_kinds) - (len(miss.split(",")) if miss else 0)
    # the elderly walk slower: radii x 45/60, and only clinic and park count for them
    exp_e = _reference_complete(g, fac_pl, kind, area, dem_pl, pack, scale=45 / 60, kinds_of={"clinic", "park"})
    s = ev.summary()["cohorts"]["elderly"]
    for t in pack.tiers:
        share = elderly[exp_e[t.key]].sum() / elderly.sum()
        assert s[t.key]["share"] == pytest.approx(share, abs=0.02)
    assert s["total_weight"] == pytest.approx(elderly.sum())


def test_completeness_equals_networkx_on_futian(futian_net, futian_graphml, pack):
    graph, _ = ref.graphml_walk_graph(futian_graphml)
    rng = np.random.default_rng(8)
    fac_pl, fac_xy, kind, area = _facilities(graph, rng, n_per_kind=10)
    dem_pl, dem_xy = placements(graph, rng, 200, "d", on_nodes=False)
    weight = rng.integers(10, 200, len(dem_pl)).astype(float)
    fac = _gdf(fac_xy, id=[p[0] for p in fac_pl], kind=kind, area_m2=area)
    dem = _gdf(dem_xy, id=[p[0] for p in dem_pl], weight=weight)
    ev = E.evaluate(futian_net, fac, dem, pack)
    frame = ev.to_geodataframe()
    expected = _reference_complete(graph, fac_pl, kind, area, dem_pl, pack)
    for t in pack.tiers:
        near = np.zeros(len(dem_pl), bool)
        for r in t.rules:
            near |= np.abs(ev.rule_dist[r.key] - r.metres) < 0.5
        got = frame[f"complete_{t.key}"].to_numpy()
        assert (got[~near] == expected[t.key][~near].astype(float)).all(), t.key
    assert expected["15min"].sum() > 0


def test_polygon_demand_counts_the_share_of_its_samples(grid, pack):
    net, g = grid
    rng = np.random.default_rng(2)
    fac_pl, fac_xy, kind, area = _facilities(g, rng)
    fac = _gdf(fac_xy, id=[p[0] for p in fac_pl], kind=kind, area_m2=area)
    x0, y0 = net.node_xy.min(axis=0)
    boxes = [shapely.box(x0 + i * 600, y0 + 300, x0 + i * 600 + 500, y0 + 900) for i in range(3)]
    lonlat = [_to_lonlat(b) for b in boxes]
    dem = gpd.GeoDataFrame({"id": ["a", "b", "c"], "weight": [1000.0, 2000.0, 500.0]}, geometry=lonlat, crs="EPSG:4326")
    ev = E.evaluate(net, fac, dem, pack)
    frame = ev.to_geodataframe()
    smp = ev.samples
    for t in pack.tiers:
        comp = ev.complete(t)
        for u in range(3):
            sel = smp.unit == u
            assert frame[f"complete_{t.key}"].iloc[u] == pytest.approx(
                smp.weight[sel & comp].sum() / smp.weight[sel].sum(), abs=1e-4
            )


# ------------------------------------------------------------------ polygons
def test_polygon_facilities_follow_the_touch_rule(grid):
    net, g = grid
    rng = np.random.default_rng(11)
    x0, y0 = net.node_xy.min(axis=0)
    # parks: boxes of several sizes across the grid (metric), one with an entrance
    boxes = [
        shapely.box(x0 + 300 + 700 * i, y0 + 400 + 500 * j, x0 + 300 + 700 * i + s, y0 + 400 + 500 * j + s)
        for i, j, s in [(0, 0, 90), (1, 1, 40), (2, 0, 60), (0, 2, 110)]
    ]
    touch = 20.0
    lonlat = [_to_lonlat(b) for b in boxes]
    parks = gpd.GeoDataFrame({"id": [f"p{i}" for i in range(4)], "kind": "park"}, geometry=lonlat, crs="EPSG:4326")
    dem_pl, dem_xy = placements(g, rng, 300, "d", on_nodes=False)
    # and some demand on the streets inside the parks or within the touch distance
    for u, v in list(g.edges()):
        line = shapely.LineString(ref.edge_coords(g, u, v))
        inter = line.intersection(boxes[0].buffer(touch)).union(line.intersection(boxes[3].buffer(touch)))
        if inter.length > 10:
            t = line.project(inter.interpolate(0.5, normalized=True)) / line.length
            dem_pl.append((f"in{len(dem_pl)}", u, v, t))
            dem_xy = np.vstack([dem_xy, ref.point_on_edge(g, u, v, t)])
    dem = _gdf(dem_xy, id=[p[0] for p in dem_pl], weight=np.ones(len(dem_pl)))
    std = E.load_standard(_write(PACK_PARK))
    ev = E.evaluate(net, parks, dem, std, touch_m=touch)
    got = ev.kind_dist["park"]
    # reference: the edge pieces inside each box grown by the touch distance, found with shapely
    zones = [b.buffer(touch) for b in boxes]
    pieces = []
    for u, v in g.edges():
        line = shapely.LineString(ref.edge_coords(g, u, v))
        for z in zones:
            inter = line.intersection(z)
            for part in getattr(inter, "geoms", [inter]):
                if part.is_empty:
                    continue
                ends = [shapely.Point(part.coords[0]), shapely.Point(part.coords[-1])]
                for p in ends:
                    pieces.append((u, v, line.project(p) / line.length))
    src = [(f"s{i}", u, v, t) for i, (u, v, t) in enumerate(pieces)]
    gg = ref.insert_points(g, src + dem_pl)
    expected = ref.nearest_source_distances(gg, [s[0] for s in src], [p[0] for p in dem_pl], 1000.0)
    inside = np.array([any(z.distance(shapely.Point(p)) < 1e-6 for z in zones) for p in dem_xy])
    expected[inside] = 0.0
    fin = np.isfinite(expected) & (expected < 495)  # the search reaches the rule radius, 500 m
    assert fin.sum() > 50 and inside.sum() > 0
    assert np.abs(got[fin] - expected[fin]).max() < 0.5
    # the local search of one park at a time (E2SFCA's) finds the same pieces: nearest of them = networkx's
    per_park = [
        selection_distances(net, ev.facilities, np.arange(4) == j, ev.samples.snapped, 500.0, local=True)
        for j in range(4)
    ]
    assert np.abs(np.min(per_park, axis=0)[fin] - expected[fin]).max() < 0.5
    # area from the metric polygon decides which rule applies: 90 m and 110 m boxes are >= 5000 m2
    area = ev.facilities.frame["area_m2"].to_numpy()
    assert area == pytest.approx([b.area for b in boxes], rel=1e-3)


PACK_PARK = """
name = "parks"
version = "1"
[[tiers]]
key = "park"
metres = 500
  [[tiers.rules]]
  kind = "park"
  condition = "area_m2 >= 5000"
"""


def _write(text: str, name: str = "pack.toml"):
    import tempfile
    from pathlib import Path

    d = Path(tempfile.mkdtemp(prefix="lc-pack-"))
    p = d / name
    p.write_text(text, encoding="utf-8")
    return p


def test_entrances_replace_the_touch_rule(grid):
    net, g = grid
    x0, y0 = net.node_xy.min(axis=0)
    box = shapely.box(x0 + 300, y0 + 300, x0 + 420, y0 + 420)
    poly = _to_lonlat(box)
    node = int(np.argmin(np.hypot(*(net.node_xy - [x0 + 1500, y0 + 1500]).T)))
    ent_lon, ent_lat = net.node_lonlat[node]
    fac = gpd.GeoDataFrame(
        {"id": ["p", "e"], "kind": ["park", "park"], "entrance_of": [None, "p"]},
        geometry=[poly, shapely.Point(ent_lon, ent_lat)],
        crs="EPSG:4326",
    )
    dem = _gdf(net.node_xy[[node]], id=["d"], weight=[1.0])
    ev = E.evaluate(net, fac, dem, _write(PACK_PARK))
    assert ev.kind_dist["park"][0] < 1.0  # at the entrance
    assert len(ev.facilities.frame) == 1 and ev.facilities.frame["area_m2"].iloc[0] == pytest.approx(box.area, rel=1e-3)


# ------------------------------------------------------------------ capacity
PACK_CAP = """
name = "cap"
version = "1"
[[tiers]]
key = "15min"
metres = 900
kinds = ["clinic"]
[[capacity]]
kind = "clinic"
column = "beds"
steps = [[300, 1.0], [600, 0.68], [900, 0.22]]
target_per_1000 = 2.0
"""


def test_e2sfca_equals_pysal_access(grid):
    access = pytest.importorskip("access", reason="PySAL access (requirements-test.txt) is not installed")
    net, g = grid
    rng = np.random.default_rng(9)
    fac_pl, fac_xy = placements(g, rng, 12, "f", on_nodes=False)
    dem_pl, dem_xy = placements(g, rng, 200, "d", on_nodes=False)
    beds = rng.integers(5, 60, len(fac_pl)).astype(float)
    pop = rng.integers(50, 800, len(dem_pl)).astype(float)
    fac = _gdf(fac_xy, id=[p[0] for p in fac_pl], kind="clinic", beds=beds)
    dem = _gdf(dem_xy, id=[p[0] for p in dem_pl], weight=pop)
    ev = E.evaluate(net, fac, dem, _write(PACK_CAP))
    got = ev.capacity["clinic"]["sample_per_1000"]
    # the network distance matrix from networkx, then PySAL access's E2SFCA on it
    gg = ref.insert_points(g, fac_pl + dem_pl)
    rows = []
    for p in fac_pl:
        d = nx.single_source_dijkstra_path_length(gg, p[0], cutoff=900.0, weight="length")
        rows += [(q[0], p[0], d[q[0]]) for q in dem_pl if q[0] in d]
    cost = pd.DataFrame(rows, columns=["origin", "dest", "cost"])
    # stay clear of the step edges, where rounding decides the side
    edges = np.array([300.0, 600.0, 900.0])
    assert (np.abs(cost["cost"].to_numpy()[:, None] - edges).min(axis=1) > 0.5).mean() > 0.95
    A = access.Access(
        demand_df=pd.DataFrame({"id": [p[0] for p in dem_pl], "pop": pop}).set_index("id"),
        demand_value="pop",
        supply_df=pd.DataFrame({"id": [p[0] for p in fac_pl], "beds": beds}).set_index("id"),
        supply_value="beds",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    fn = access.weights.step_fn({300: 1.0, 600: 0.68, 900: 0.22})
    res = A.enhanced_two_stage_fca(name="e2", cost="cost", max_cost=900, weight_fn=fn)
    expected = res.reindex([p[0] for p in dem_pl]).fillna(0.0).to_numpy().ravel() * 1000.0
    clear = np.ones(len(dem_pl), bool)
    for o, _dst, c in rows:
        if np.abs(c - edges).min() <= 0.5:
            clear[[p[0] for p in dem_pl].index(o)] = False
    assert clear.sum() > 150
    assert np.allclose(got[clear], expected[clear], rtol=1e-3, atol=1e-6)
    summ = ev.summary()["capacity"]["clinic"]
    assert summ["target_per_1000"] == 2.0 and 0 <= summ["below_target"]["share"] <= 1


# ------------------------------------------------------------------ packs
def test_shipped_packs_load_and_cite_their_sources():
    names = {p["name"] for p in E.list_standards()}
    assert {"gb50180-2018", "chengshi-tijian", "party-service-circle"} <= names
    for name in names:
        s = E.load_standard(name)
        assert s.source
        for r in s.rules:
            assert r.source or s.source, (name, r.key)
        assert not s.verified and s.unverified(), "no shipped value was checked against the published text"
    park = E.load_standard("chengshi-tijian").tier("park")
    assert [(r.metres, r.condition.text) for r in park.rules] == [
        (500.0, "area_m2 >= 5000"),
        (300.0, "2000 <= area_m2 < 5000"),
    ]
    psc = E.load_standard("party-service-circle")
    assert psc.tier("5min").required_kinds == ["party_center", "park", "clinic", "police"]
    assert psc.tier("15min").required_kinds == ["party_center", "post_station", "micro_station"]


def test_minimal_pack_of_the_contract():
    s = E.load_standard(
        _write(
            'name = "example"\nversion = "1"\n[[tiers]]\nkey = "5min"\nmetres = 300\n'
            'kinds = ["park", "clinic"]\n[[tiers]]\nkey = "15min"\nmetres = 1000\n'
            'kinds = ["park", "clinic", "school"]\n'
        )
    )
    assert [t.key for t in s.tiers] == ["5min", "15min"] and s.kinds == ["park", "clinic", "school"]


BAD_PACKS = [
    ("version = '1'\n[[tiers]]\nkey='a'\nmetres=300\nkinds=['park']\n", "name", "is missing"),
    ("name='x'\nversion='1'\n", "tiers", "is missing"),
    ("name='x'\nversion='1'\n[[tiers]]\nkey='a'\nkinds=['park']\n", "tiers[0].metres", "metres"),
    ("name='x'\nversion='1'\n[[tiers]]\nkey='a'\nmetres=-3\nkinds=['park']\n", "tiers[0].metres", "positive"),
    ("name='x'\nversion='1'\n[[tiers]]\nkey='a'\nmetres=300\nkinds=['Park!']\n", "tiers[0].kinds[0]", "lower-case"),
    (
        "name='x'\nversion='1'\n[[tiers]]\nkey='a'\nmetres=300\n[[tiers.rules]]\nkind='park'\ncondition='area_m2 >>= 3'\n",
        "tiers[0].rules[0].condition",
        "cannot be read",
    ),
    (
        "name='x'\nversion='1'\n[[tiers]]\nkey='a'\nmetres=300\n[[tiers.rules]]\nkind='park'\ncondition='__import__(1)'\n",
        "tiers[0].rules[0].condition",
        "comparisons",
    ),
    (
        "name='x'\nversion='1'\n[[tiers]]\nkey='a'\nmetres=300\nkinds=['park']\nradius=3\n",
        "tiers[0].radius",
        "unknown key",
    ),
    (
        "name='x'\nversion='1'\n[[tiers]]\nkey='a'\nmetres=300\nkinds=['park']\n[[cohorts]]\nkey='old'\ncolumn='p'\nkinds=['clinic']\n",
        "cohorts[0].kinds",
        "in no tier",
    ),
    (
        "name='x'\nversion='1'\n[[tiers]]\nkey='a'\nmetres=300\nkinds=['park']\n[[tiers]]\nkey='a'\nmetres=500\nkinds=['park']\n",
        "tiers",
        "twice",
    ),
    ("name='x' version", None, "not valid TOML"),
]


@pytest.mark.parametrize("text,key,words", BAD_PACKS)
def test_bad_pack_names_file_and_key(text, key, words):
    with pytest.raises(StandardError) as exc:
        E.load_standard(_write(text, "bad.toml"))
    msg = str(exc.value)
    assert msg.startswith("bad.toml") and words in msg
    if key:
        assert f"key '{key}'" in msg


def test_missing_cohort_column_and_condition_column(grid, pack):
    net, g = grid
    rng = np.random.default_rng(1)
    fac_pl, fac_xy, kind, area = _facilities(g, rng, 2)
    dem_pl, dem_xy = placements(g, rng, 10, "d", on_nodes=False)
    dem = _gdf(dem_xy, id=[p[0] for p in dem_pl], weight=np.ones(10))
    fac = _gdf(fac_xy, id=[p[0] for p in fac_pl], kind=kind, area_m2=area)
    ev = E.evaluate(net, fac, dem, pack)  # cohorts not asked for: skipped and said so
    assert ev.summary()["cohorts_skipped"] == ["elderly"]
    with pytest.raises(InputError, match="pop_60plus"):
        E.evaluate(net, fac, dem, pack, cohorts=["elderly"])
    with pytest.raises(InputError, match="area_m2"):
        E.evaluate(net, fac.drop(columns="area_m2"), dem, pack)


# ------------------------------------------------------------------ siting for completeness
@pytest.mark.parametrize("k", [2, 3])
def test_completeness_siting_exact_equals_brute_force(grid, pack, k):
    """K clinics that complete the most people in 15min: HiGHS equals brute force over 24 candidates
    (coverage by networkx distances; the residents who miss only clinics, by the engine)."""
    import itertools

    from geo.evaluate.complete import site_for_completeness

    net, g = grid
    rng = np.random.default_rng(31)
    fac_pl, fac_xy, kind, area = _facilities(g, rng, 4)
    keep = [i for i, kk in enumerate(kind) if kk != "clinic" or i < 4]  # one clinic: many miss only clinics
    fac_pl, fac_xy = [fac_pl[i] for i in keep], fac_xy[keep]
    kind, area = [kind[i] for i in keep], area[keep]
    dem_pl, dem_xy = placements(g, rng, 300, "d", on_nodes=False)
    weight = rng.integers(10, 200, len(dem_pl)).astype(float)
    cand_pl, cand_xy = placements(g, rng, 24, "c", on_nodes=False)
    fac = _gdf(fac_xy, id=[p[0] for p in fac_pl], kind=kind, area_m2=area)
    dem = _gdf(dem_xy, id=[p[0] for p in dem_pl], weight=weight)
    cands = _gdf(cand_xy, id=[p[0] for p in cand_pl])
    ev = E.evaluate(net, fac, dem, pack)
    only = ev.missing_only("15min", "clinic")
    assert only.sum() >= 10
    radius = 900.0
    gg = ref.insert_points(g, cand_pl + dem_pl)
    covers = []
    for p in cand_pl:
        d = nx.single_source_dijkstra_path_length(gg, p[0], cutoff=radius + 1, weight="length")
        dist = np.array([d.get(q[0], np.inf) for q in dem_pl])
        covers.append(dist <= radius)
    covers = np.array(covers)
    best = max(float(weight[only & covers[list(c)].any(axis=0)].sum()) for c in itertools.combinations(range(24), k))
    exact = site_for_completeness(ev, "15min", "clinic", k, candidates=cands, method="exact")
    assert exact.gain == pytest.approx(best, abs=1e-6) and exact.optimal
    greedy = site_for_completeness(ev, "15min", "clinic", k, candidates=cands, method="greedy")
    assert greedy.gain <= best + 1e-6 and greedy.gain >= 0.6 * best
    before = float(weight[ev.complete("15min")].sum())
    assert exact.complete_before == pytest.approx(before)
    assert exact.summary()["complete_after"]["weight"] == pytest.approx(before + best, abs=1e-3)


def test_ledger_rows_and_remedies_equal_brute_force(grid, pack):
    """Ledger weights per 社区 x tier x kind by hand; each remedy's gain = the best candidate by networkx."""
    from geo.evaluate.ledger import build_ledger

    net, g = grid
    rng = np.random.default_rng(17)
    fac_pl, fac_xy, kind, area = _facilities(g, rng, 3)
    dem_pl, dem_xy = placements(g, rng, 200, "d", on_nodes=False)
    cand_pl, cand_xy = placements(g, rng, 15, "c", on_nodes=False)
    weight = rng.integers(10, 200, len(dem_pl)).astype(float)
    x0, y0 = net.node_xy.min(axis=0)
    x1, y1 = net.node_xy.max(axis=0)
    xm = (x0 + x1) / 2
    units = gpd.GeoDataFrame(
        {"id": ["W", "E"], "name": ["西社区", "东社区"]},
        geometry=[
            _to_lonlat(shapely.box(x0 - 50, y0 - 50, xm, y1 + 50)),
            _to_lonlat(shapely.box(xm, y0 - 50, x1 + 50, y1 + 50)),
        ],
        crs="EPSG:4326",
    )
    fac = _gdf(fac_xy, id=[p[0] for p in fac_pl], kind=kind, area_m2=area)
    dem = _gdf(dem_xy, id=[p[0] for p in dem_pl], weight=weight)
    ev = E.evaluate(net, fac, dem, pack, units=units, candidates=_gdf(cand_xy, id=[p[0] for p in cand_pl]))
    led = build_ledger(ev)
    side = np.where(dem_xy[:, 0] < xm, "西社区", "东社区")
    gg = ref.insert_points(g, cand_pl + dem_pl)
    cand_d = []
    for p in cand_pl:
        d = nx.single_source_dijkstra_path_length(gg, p[0], cutoff=1000.0, weight="length")
        cand_d.append(np.array([d.get(q[0], np.inf) for q in dem_pl]))
    cand_d = np.array(cand_d)
    rows = led[led["cohort"] == "all"]
    assert len(rows) > 5
    for _, r in rows.iterrows():
        t = pack.tier(r["tier"])
        miss = ~ev.present[("all", t.key, r["kind"])]
        in_unit = side == r["unit"]
        assert r["weight"] == pytest.approx(weight[in_unit & miss].sum(), abs=0.1)
        only = ev.missing_only(t, r["kind"]) & in_unit
        radius = max(x.metres for x in t.rules_of(r["kind"]))
        gains = [(weight[only & (cand_d[c] <= radius)]).sum() for c in range(len(cand_pl))]
        assert r["remedy_gain"] == pytest.approx(max(gains), abs=0.1)
