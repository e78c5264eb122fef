"""Shared night parking (geo/parking/, `lifecircle parking`) against independent references.

* The cars placed and the total walking equal networkx's ``max_flow_min_cost``
  on the same bipartite network (source -> lots, lots -> compounds with
  integer walking metres, compounds -> sink), on the demo and on the real
  Futian graph.
* With varied windows the MIP equals a PuLP/CBC model (and brute force on a
  tiny one); every lot's spaces hold slot by slot, checked with a loop
  written here from the minutes of the windows.
* Edge cases give a clear result or message.
"""

from __future__ import annotations

import itertools
import json
import math
import re

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import demo, io, network, parking, reach
from tests.conftest import shared_file

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulp.*")

LIMIT = 500.0
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


# ------------------------------------------------------------ independent helpers
def minutes_of(text: str | None) -> set[int]:
    """Minutes of the day a "HH:MM-HH:MM" window covers (crossing midnight when end <= start)."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip():
        return set(range(1440))
    if str(text).strip().lower() == "closed":
        return set()
    h1, m1, h2, m2 = map(int, _HHMM.match(str(text).strip()).groups())
    start, end = h1 * 60 + m1, (h2 * 60 + m2) % 1440
    if end > start:
        return set(range(start, end))
    return set(range(start, 1440)) | set(range(0, end))


def usable_reference(lot: dict, slot_start: int, slot: int) -> int:
    """Spaces of one lot in one slot, written out from the minutes (no geo.parking code)."""
    open_minutes = minutes_of(lot.get("open"))
    if not all(m in open_minutes for m in range(slot_start, slot_start + slot)):
        return 0
    land = lot.get("land_use")
    occ = parking.LAND_USE_PROFILES[land][slot_start // 60] if isinstance(land, str) and land else 0.0
    return max(0, math.floor(lot["capacity"] * (1 - occ) + 1e-9) - int(lot.get("reserved", 0) or 0))


def nx_reference(demand: dict, supply: dict, pairs) -> tuple[int, int]:
    """Cars and integer walking metres from networkx's max_flow_min_cost."""
    g = nx.DiGraph()
    for lot, cap in supply.items():
        g.add_edge("source", ("lot", lot), capacity=int(cap), weight=0)
    for res, dem in demand.items():
        g.add_edge(("res", res), "sink", capacity=int(dem), weight=0)
    for res, lot, walk in pairs:
        g.add_edge(("lot", lot), ("res", res), weight=int(round(walk)))
    if "source" not in g or "sink" not in g:
        return 0, 0
    flow = nx.max_flow_min_cost(g, "source", "sink")
    return int(sum(flow["source"].values())), int(nx.cost_of_flow(g, flow))


def integer_walk(result: parking.ParkingResult, pairs: parking.WalkPairs) -> int:
    """Total walking of a result in whole metres per pair (as the reference counts it)."""
    a = result.assignment
    return int(a.cars @ np.rint(pairs.walk_m))


def pulp_reference(problem: parking.ParkingProblem) -> tuple[int, int]:
    """Most cars, then least whole walking metres, by PuLP + CBC with one row per lot and slot."""
    import pulp

    p = problem
    n = p.pair_res.size
    x = [pulp.LpVariable(f"x{k}", lowBound=0, cat="Integer") for k in range(n)]
    m = pulp.LpProblem("ref", pulp.LpMaximize)
    for r in range(p.n_res):
        ks = [k for k in range(n) if p.pair_res[k] == r]
        if ks:
            m += pulp.lpSum(x[k] for k in ks) <= int(p.demand[r])
    for lot in range(p.n_lots):
        for s in range(p.usable.shape[1]):
            ks = [k for k in range(n) if p.pair_lot[k] == lot and p.need[p.pair_res[k], s]]
            if ks:
                m += pulp.lpSum(x[k] for k in ks) <= int(p.usable[lot, s])
    if p.lot_cap is not None:
        for lot in range(p.n_lots):
            ks = [k for k in range(n) if p.pair_lot[k] == lot]
            if ks:
                m += pulp.lpSum(x[k] for k in ks) <= int(p.lot_cap[lot])
    m += pulp.lpSum(x)
    solver = pulp.PULP_CBC_CMD(msg=False)
    m.solve(solver)
    cars = int(round(pulp.value(m.objective) or 0))
    walk = np.rint(p.pair_walk)
    m += pulp.lpSum(x) >= cars
    m.sense = pulp.LpMinimize
    m.setObjective(pulp.lpSum(float(w) * v for w, v in zip(walk, x)))
    m.solve(solver)
    chosen = np.array([int(round(v.varValue or 0)) for v in x])
    return int(chosen.sum()), int(chosen @ walk)


def check_feasible(
    result: parking.ParkingResult, lots: pd.DataFrame, residences: pd.DataFrame, limit: float, window: str | None = None
) -> None:
    """Slot by slot, compound by compound and pair by pair, with loops written here."""
    slot = result.options["slot_minutes"]
    pairs = result.pairs
    res_win = {r["id"]: minutes_of(window or r.get("window")) for r in residences.to_dict("records")}
    for lot in lots.to_dict("records"):
        mine = pairs[pairs["lot_id"] == lot["id"]]
        for start in range(0, 1440, slot):
            slot_minutes = set(range(start, start + slot))
            used = sum(int(c) for rid, c in zip(mine["residence_id"], mine["cars"]) if res_win[rid] & slot_minutes)
            assert used <= usable_reference(lot, start, slot), (lot["id"], start)
    placed = pairs.groupby("residence_id")["cars"].sum()
    for r in residences.to_dict("records"):
        assert placed.get(r["id"], 0) <= r["demand"]
    assert (pairs["walk_m"] <= limit + 0.05).all()
    assert (pairs["cars"] > 0).all()


# -------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def district():
    return demo.build_demo()


@pytest.fixture(scope="module")
def demo_net(district):
    net = district.network  # a WalkNetwork since geo.demo became a package; a networkx graph before
    return (
        net if isinstance(net, network.WalkNetwork) else network.from_graph(net, name="demo", source="lifecircle demo")
    )


@pytest.fixture(scope="module")
def demo_pairs(district, demo_net):
    return parking.walk_pairs(demo_net, district.residences, district.lots, max_walk_m=800.0)


def _points(records: list[dict], lonlat: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.DataFrame(records), geometry=shapely.points(lonlat), crs="EPSG:4326")


# ---------------------------------------------------------------- time windows
def test_windows_cross_midnight_and_half_hours():
    w = parking.parse_window("19:00-08:00")
    assert w.hours == 13.0
    assert parking.parse_window("19:00-07:30").hours == 12.5
    mask = parking.parse_window("19:00-07:30").slot_mask(30)
    labels = parking.slot_labels(30)
    on = {labels[i] for i in np.flatnonzero(mask)}
    assert "19:00" in on and "07:00" in on and "07:30" not in on and "18:30" not in on and "00:00" in on
    assert parking.parse_window("19：00 ～ 07：30").hours == 12.5  # full-width colon and tilde
    assert parking.parse_window("07:00-09:00, 19:00-23:00").hours == 6.0
    assert parking.parse_window("00:00-24:00").hours == 24.0
    assert parking.parse_window("closed").is_empty
    assert parking.parse_window(None) is None and parking.parse_window("  ") is None


def test_slot_grid_and_overlap_rounding():
    assert parking.choose_slot_minutes([parking.parse_window("19:00-07:30")]) == 30
    odd = parking.parse_window("19:10-07:20")
    assert parking.choose_slot_minutes([odd]) == 15
    labels = parking.slot_labels(15)
    need = {labels[i] for i in np.flatnonzero(odd.slot_mask(15, mode="overlap"))}
    assert "19:00" in need and "07:15" in need and "07:30" not in need  # a car occupies every slot it touches
    inside = {labels[i] for i in np.flatnonzero(odd.slot_mask(15, mode="within"))}
    assert "19:00" not in inside and "19:15" in inside and "07:15" not in inside  # a lot is open only in whole slots


@pytest.mark.parametrize("text", ["25:00-08:00", "evening", "19:00-19:00", "19:61-08:00", "19:00"])
def test_bad_windows_name_the_value(text):
    with pytest.raises(parking.WindowError, match=re.escape(text)):
        parking.parse_window(text)


# ---------------------------------------------------------------------- supply
def test_usable_spaces_formula_profiles_and_open_hours():
    lots = pd.DataFrame(
        {
            "id": ["A", "B", "C", "D"],
            "capacity": [100, 50, 40, 30],
            "reserved": [5, 0, 2, 0],
            "land_use": ["office", None, "hotel", None],
            "open": ["19:00-08:00", None, "20:00-07:30", "closed"],
        }
    )
    supply = parking.lot_supply(lots, 30)
    for i, lot in enumerate(lots.to_dict("records")):
        for s, start in enumerate(range(0, 1440, 30)):
            assert supply.usable[i, s] == usable_reference(lot, start, 30), (lot["id"], start)
    assert (supply.usable[1] == 50).all()  # only capacity: that many in every hour
    assert supply.usable[3].sum() == 0 and supply.closed.tolist() == [False, False, False, True]
    office_20 = parking.slot_labels(30).index("20:00")
    assert supply.usable[0, office_20] == math.floor(100 * (1 - parking.LAND_USE_PROFILES["office"][20])) - 5


def test_occupancy_columns_win_and_are_checked():
    occ = {f"occ_{h:02d}": (0.5 if 8 <= h < 20 else "10%") for h in range(24)}
    lots = pd.DataFrame([{"id": "A", "capacity": 80, "land_use": "hotel", **occ}])
    supply = parking.lot_supply(lots, 60)
    assert supply.usable[0, 22] == 72 and supply.usable[0, 12] == 40
    assert supply.occupancy_source == ["occ_00..occ_23"]
    bad = lots.copy()
    bad["occ_03"] = 1.7
    with pytest.raises(io.InputError, match="occ_03"):
        parking.lot_supply(bad, 60)
    with pytest.raises(io.InputError, match="occ_05"):
        parking.lot_supply(lots.drop(columns="occ_05"), 60)
    with pytest.raises(io.InputError, match="unknown land use 'school'"):
        parking.lot_supply(pd.DataFrame({"id": ["A"], "capacity": [5], "land_use": ["school"]}), 60)
    chinese = parking.lot_supply(pd.DataFrame({"id": ["A"], "capacity": [100], "land_use": ["写字楼"]}), 60)
    assert chinese.occupancy_source == ["office"]


def test_price_limit_and_lot_cap():
    lots = pd.DataFrame({"id": ["A", "B"], "capacity": [40, 40], "price": [20, 5]})
    supply = parking.lot_supply(lots, 30, price_limit=10, lot_cap=25)
    assert supply.usable[0].max() == 0 and supply.excluded_price.tolist() == [True, False]
    assert supply.usable[1].max() == 25


# ------------------------------------------------------------ walking distances
def test_walk_pairs_are_exactly_those_within_the_limit(district, demo_net):
    pairs = parking.walk_pairs(demo_net, district.residences, district.lots, max_walk_m=LIMIT)
    res_s = network.snap_points(demo_net, district.residences)
    lot_s = network.snap_points(demo_net, district.lots)
    expected = {}
    for j in range(len(lot_s)):  # one unbounded-style super-source search per lot, on the whole graph
        one = lot_s.subset(np.array([j]))
        dist = reach.point_distances(
            demo_net, reach.node_distances(demo_net, one, 5000.0), res_s, sources=one, limit=LIMIT
        )
        for i in np.flatnonzero(np.isfinite(dist)):
            expected[(int(i), j)] = dist[i]
    got = {(int(r), int(lot)): w for r, lot, w in zip(pairs.res, pairs.lot, pairs.walk_m)}
    assert got.keys() == expected.keys()
    assert max(abs(got[k] - expected[k]) for k in got) < 1e-6
    assert (pairs.walk_m <= LIMIT).all()


# ------------------------------------------------ optimality against networkx
def _reference_for(result, lots, pairs, window):
    supply = {}
    core = minutes_of(window)
    for lot in lots.to_dict("records"):
        slots = [s for s in range(0, 1440, 30) if set(range(s, s + 30)) & core]
        supply[lot["id"]] = min(usable_reference(lot, s, 30) for s in slots)
    demand = dict(zip(result.residences["id"], result.residences["demand"]))
    lot_ids = lots["id"].astype(str).to_numpy()
    res_ids = result.residences["id"].to_numpy()
    triples = [(res_ids[r], lot_ids[lot], w) for r, lot, w in zip(pairs.res, pairs.lot, pairs.walk_m)]
    return nx_reference(demand, supply, triples)


@pytest.mark.parametrize("limit", [300.0, 500.0, 800.0])
def test_demo_same_window_equals_networkx(district, demo_net, demo_pairs, limit):
    window = "19:00-08:00"
    result = parking.match_parking(
        demo_net, district.lots, district.residences, window=window, max_walk_m=limit, pairs=demo_pairs
    )
    pairs = demo_pairs.within(limit)
    cars, cost = _reference_for(result, district.lots, pairs, window)
    assert result.assignment.method.startswith("min-cost flow")
    assert result.matched == cars
    assert integer_walk(result, pairs) == cost
    check_feasible(result, district.lots, district.residences, limit, window)
    forced = parking.ParkingProblem(result.residences["demand"].to_numpy(), *_problem_arrays(result, pairs))
    assert forced.solve(force_mip=True).matched == cars


def _problem_arrays(result, pairs):
    supply = result.usable.to_numpy()
    need = np.ones((len(result.residences), supply.shape[1]), dtype=bool)
    return need, supply, pairs.res, pairs.lot, pairs.walk_m


def test_demo_varied_windows_equals_pulp_and_holds_every_slot(district, demo_net, demo_pairs):
    result = parking.match_parking(demo_net, district.lots, district.residences, pairs=demo_pairs)
    check_feasible(result, district.lots, district.residences, LIMIT)
    supply = parking.lot_supply(district.lots, 30)
    need = parking.residence_demand(district.residences, 30)
    pairs = demo_pairs.within(LIMIT)
    problem = parking.ParkingProblem(need.demand, need.need, supply.usable, pairs.res, pairs.lot, pairs.walk_m)
    cars, walk = pulp_reference(problem)
    assert result.matched == cars
    assert integer_walk(result, pairs) == walk
    assert result.summary()["optimal"] is True


@pytest.fixture(scope="module")
def futian_case(futian_net):
    """EV charging stations as lots, network nodes as compound gates.

    stations.csv does not state its datum (PROVENANCE.md: scraped from a Chinese
    charging app): this test assumes GCJ-02 and converts with geo.crs, as
    ``--crs gcj02`` would.  Capacity is the station's pile count x 3.
    """
    from geo import crs

    stations = pd.read_csv(shared_file("st_evcdp/stations.csv"))
    lon, lat = crs.gcj02_to_wgs84(stations["longitude"].to_numpy(), stations["latitude"].to_numpy())
    w, s, e, n = futian_net.bounds_lonlat()
    inside = (lon > w) & (lon < e) & (lat > s) & (lat < n)
    assert inside.sum() >= 20
    rng = np.random.default_rng(7)
    lots = _points(
        [
            {
                "id": f"EV{sid}",
                "capacity": int(c) * 3,
                "open": "19:00-08:00",
                "land_use": ["office", "retail", "hotel", None][k % 4],
            }
            for k, (sid, c) in enumerate(zip(stations["station_id"][inside], stations["count"][inside]))
        ],
        np.column_stack([lon[inside], lat[inside]]),
    )
    nodes = rng.choice(futian_net.n_nodes, size=150, replace=False)
    windows = ["19:00-07:30", "18:30-08:00", "20:00-07:00", "19:30-07:30"]
    residences = _points(
        [{"id": f"N{k}", "demand": int(rng.integers(5, 60)), "window": windows[k % 4]} for k in range(nodes.size)],
        futian_net.node_lonlat[nodes],
    )
    pairs = parking.walk_pairs(futian_net, residences, lots, max_walk_m=LIMIT)
    return lots, residences, pairs


def test_futian_same_window_equals_networkx(futian_net, futian_case):
    lots, residences, pairs = futian_case
    window = "19:00-07:30"
    result = parking.match_parking(futian_net, lots, residences, window=window, pairs=pairs)
    cars, cost = _reference_for(result, lots, pairs, window)
    assert cars > 100
    assert result.matched == cars
    assert integer_walk(result, pairs) == cost
    check_feasible(result, lots, residences, LIMIT, window)


def test_futian_varied_windows_hold_every_slot(futian_net, futian_case):
    lots, residences, pairs = futian_case
    result = parking.match_parking(futian_net, lots, residences, pairs=pairs)
    assert result.assignment.method in ("MIP (HiGHS)", parking.LP_METHOD)  # several slot rows per lot
    assert result.matched > 0
    check_feasible(result, lots, residences, LIMIT)
    same = parking.match_parking(futian_net, lots, residences, pairs=pairs, window="18:30-08:00")
    assert same.matched <= result.matched  # the widest window needs every slot


# -------------------------------------------------------- MIP against references
def _random_problem(seed: int, n_res: int = 7, n_lots: int = 4, cap: bool = False) -> parking.ParkingProblem:
    rng = np.random.default_rng(seed)
    windows = ["19:00-07:30", "18:30-08:00", "20:00-07:00", "22:00-06:00", "07:00-19:00"]
    need = np.stack([parking.parse_window(windows[k]).slot_mask(30) for k in rng.integers(0, 5, n_res)])
    usable = rng.integers(0, 12, (n_lots, 1)) + rng.integers(0, 6, (n_lots, 48))
    pairs = [
        (r, lot, float(rng.integers(50, 500))) for r in range(n_res) for lot in range(n_lots) if rng.random() < 0.6
    ]
    res, lot, walk = (np.array(v) for v in zip(*pairs))
    lot_cap = rng.integers(3, 15, n_lots) if cap else None
    return parking.ParkingProblem.from_arrays(
        rng.integers(1, 15, n_res), usable, (res, lot, walk), need=need, lot_cap=lot_cap
    )


@pytest.mark.parametrize("seed", range(6))
def test_mip_equals_pulp_cbc(seed):
    problem = _random_problem(seed, cap=seed % 2 == 1)
    got = problem.solve()
    cars, walk = pulp_reference(problem)
    assert got.matched == cars
    assert int(got.cars @ np.rint(problem.pair_walk)) == walk
    assert (got.used <= problem.usable).all()


def test_varied_windows_with_constant_spaces_solve_as_a_flow():
    """Spaces constant over the night: one row per lot suffices, whatever the windows."""
    base = _random_problem(11, n_res=9, n_lots=5)
    usable = np.repeat(np.array([[6], [9], [4], [12], [7]]), 48, axis=1)
    demand = base.demand.copy()
    demand[0] = 0  # a compound with no shortfall does not split the rows either
    problem = parking.ParkingProblem(demand, base.need, usable, base.pair_res, base.pair_lot, base.pair_walk)
    got = problem.solve()
    assert got.method.startswith("min-cost flow")
    forced = problem.solve(force_mip=True)
    assert (got.matched, int(got.cars @ np.rint(problem.pair_walk))) == pulp_reference(problem)
    assert forced.matched == got.matched


def test_mip_equals_brute_force_on_a_tiny_instance():
    need = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=bool)
    usable = np.array([[2, 3, 2], [1, 2, 2]])
    res = np.array([0, 0, 1, 1, 2, 2])
    lot = np.array([0, 1, 0, 1, 0, 1])
    walk = np.array([100.0, 300.0, 250.0, 120.0, 80.0, 400.0])
    demand = np.array([3, 3, 2])
    problem = parking.ParkingProblem.from_arrays(demand, usable, (res, lot, walk), need=need)
    best = None
    for x in itertools.product(range(4), repeat=6):
        x = np.array(x)
        if (np.bincount(res, weights=x, minlength=3) > demand).any():
            continue
        used = np.zeros_like(usable)
        for k in range(6):
            used[lot[k]] += need[res[k]] * x[k]
        if (used > usable).any():
            continue
        key = (-int(x.sum()), int(x @ walk))
        best = key if best is None or key < best else best
    got = problem.solve()
    assert (-got.matched, int(got.cars @ walk)) == best


def test_fairness_floor():
    # compound 0 is next to the only lot, compound 1 farther: without fairness both fit only partly
    problem = parking.ParkingProblem.from_arrays(
        [10, 10], [10], (np.array([0, 1]), np.array([0, 0]), np.array([50.0, 400.0]))
    )
    plain = problem.solve()
    assert plain.placed.tolist() == [10, 0]
    fair = problem.solve(fairness=0.4)
    assert fair.placed.tolist() == [6, 4] and fair.matched == 10
    # a floor that cannot be met for everyone: as many floor cars as possible, reported
    tight = parking.ParkingProblem.from_arrays(
        [10, 10], [6], (np.array([0, 1]), np.array([0, 0]), np.array([50.0, 400.0]))
    )
    got = tight.solve(fairness=0.5)
    assert got.placed.sum() == 6 and (got.placed >= 1).all()


def test_fairness_in_match_reports_floors(district, demo_net, demo_pairs):
    result = parking.match_parking(demo_net, district.lots, district.residences, pairs=demo_pairs, fairness=0.2)
    r = result.residences
    reachable = r["status"].isin(["served", "partly served", "not served"])
    summary = result.summary()
    assert set(summary["below_floor_residences"]) == set(r.loc[r["placed"] < r["floor"], "id"])
    assert (
        r.loc[reachable & ~r["id"].isin(summary["below_floor_residences"]), "placed"]
        >= r.loc[reachable & ~r["id"].isin(summary["below_floor_residences"]), "floor"]
    ).all()
    check_feasible(result, district.lots, district.residences, LIMIT)


def test_price_limit_and_cap_in_the_match(district, demo_net, demo_pairs):
    result = parking.match_parking(
        demo_net, district.lots, district.residences, pairs=demo_pairs, price_limit=10, lot_cap=20
    )
    price = dict(zip(district.lots["id"], district.lots["price"]))
    assert all(price[lot] <= 10 for lot in result.pairs["lot_id"])
    assert (result.pairs.groupby("lot_id")["cars"].sum() <= 20).all()
    assert set(result.summary()["price_excluded_lots"]) == {lot for lot, p in price.items() if p > 10}


# --------------------------------------------------------------- edge cases
def _small_case(
    demo_net, district, *, capacities=(30, 40), demands=(20, 25), open_hours=("19:00-08:00", "19:00-08:00")
):
    lots = district.lots.iloc[:2].copy()
    lots["capacity"] = list(capacities)
    lots["open"] = list(open_hours)
    lots["land_use"] = None
    lots["reserved"] = 0
    res = district.residences.iloc[:2].copy()
    res["demand"] = list(demands)
    return lots.reset_index(drop=True), res.reset_index(drop=True)


def test_zero_supply_gives_share_zero_and_a_note(district, demo_net):
    lots, res = _small_case(demo_net, district, capacities=(0, 0))
    result = parking.match_parking(demo_net, lots, res)
    s = result.summary()
    assert s["matched"] == 0 and s["share_of_demand"] == 0 and s["supply_total"] == 0
    assert any("zero supply" in n for n in s["notes"])
    assert len(result.to_geodataframe()) == 0


def test_zero_demand_gives_share_zero_and_a_note(district, demo_net):
    lots, res = _small_case(demo_net, district, demands=(0, 0))
    s = parking.match_parking(demo_net, lots, res).summary()
    assert s["demand_total"] == 0 and s["matched"] == 0 and s["share_of_demand"] == 0
    assert any("no compound is short" in n for n in s["notes"])


def test_lot_with_no_open_hours_offers_nothing(district, demo_net, demo_pairs):
    lots = district.lots.copy()
    closed = lots["id"].iloc[3]
    lots.loc[3, "open"] = "不开放"
    result = parking.match_parking(demo_net, lots, district.residences, pairs=demo_pairs)
    assert closed not in set(result.pairs["lot_id"])
    s = result.summary()
    assert s["closed_lots"] == [closed]
    assert any(closed in n and "no open hours" in n for n in s["notes"])


def test_compound_out_of_reach_is_reported_unmatched(district, demo_net, demo_pairs):
    result = parking.match_parking(demo_net, district.lots, district.residences, pairs=demo_pairs, max_walk_m=LIMIT)
    far = set(result.residences.loc[result.residences["lots_in_reach"] == 0, "id"])
    assert far, "the demo has compounds beyond 500 m of every lot"
    s = result.summary()
    assert set(s["out_of_reach_residences"]) == far
    assert far <= set(s["unmatched_residences"])
    assert not far & set(result.pairs["residence_id"])


def test_empty_lot_table(district, demo_net):
    lots = district.lots.iloc[:0]
    s = parking.match_parking(demo_net, lots, district.residences).summary()
    assert s["matched"] == 0 and s["supply_total"] == 0 and s["share_of_demand"] == 0


@pytest.mark.parametrize("value, reason", [(-5, "non-negative"), (2.5, "whole")])
def test_bad_capacities_in_memory(district, demo_net, value, reason):
    lots = district.lots.copy()
    lots["capacity"] = lots["capacity"].astype(float)
    lots.loc[2, "capacity"] = value
    with pytest.raises(io.InputError, match=reason):
        parking.match_parking(demo_net, lots, district.residences)


def _write_csv(path, frame):
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table["lon"] = frame.geometry.x
    table["lat"] = frame.geometry.y
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("value, words", [("-5", "negative"), ("2.5", "whole"), ("abc", "not a number")])
def test_bad_capacities_in_files_exit_2(tmp_path, district, capsys, value, words):
    from apps import cli

    path = _write_csv(tmp_path / "lots.csv", district.lots)
    text = path.read_text().splitlines()
    cells = text[3].split(",")
    cells[text[0].split(",").index("capacity")] = value
    text[3] = ",".join(cells)
    path.write_text("\n".join(text) + "\n")
    code = cli.main(["parking", "--demo", "--lots", str(path), "--out", str(tmp_path / "m.geojson")])
    err = capsys.readouterr().err
    assert code == 2
    assert "lots.csv" in err and "row 4" in err and "capacity" in err
    assert words in err
    assert not (tmp_path / "m.geojson").exists()


def test_bad_window_in_file_names_row_and_column(tmp_path, district, capsys):
    from apps import cli

    res = district.residences.copy()
    res.loc[1, "window"] = "evening"
    path = _write_csv(tmp_path / "res.csv", res)
    code = cli.main(["parking", "--demo", "--residences", str(path), "--out", str(tmp_path / "m.geojson")])
    err = capsys.readouterr().err
    assert code == 2 and "res.csv, row 3, column 'window'" in err and "evening" in err


@pytest.mark.parametrize(
    "args, words",
    [
        (["--window", "8pm-7am"], "--window"),
        (["--fairness", "1.5"], "--fairness"),
        (["--max-walk", "0"], "--max-walk"),
        (["--lot-cap", "-1"], "--lot-cap"),
        (["--table-out", "x.txt"], "--table-out"),
    ],
)
def test_cli_usage_errors(tmp_path, capsys, args, words):
    from apps import cli

    code = cli.main(["parking", "--demo", "--out", str(tmp_path / "m.geojson"), *args])
    assert code == 2 and words in capsys.readouterr().err


# ------------------------------------------------------------------------ CLI
def test_cli_end_to_end_demo(tmp_path, capsys):
    from apps import cli

    out, summary, xlsx = tmp_path / "m.geojson", tmp_path / "s.json", tmp_path / "t.xlsx"
    code = cli.main(
        [
            "parking",
            "--demo",
            "--max-walk",
            "500",
            "--out",
            str(out),
            "--summary",
            str(summary),
            "--tables",
            str(tmp_path / "tables"),
            "--table-out",
            str(xlsx),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["lifecircle"]["crs"] == "WGS84"
    feats = data["features"]
    assert feats and all(f["geometry"]["type"] == "LineString" for f in feats)
    for key in ("residence_id", "lot_id", "cars", "walk_m", "window", "hours"):
        assert key in feats[0]["properties"]
    s = json.loads(summary.read_text())
    for key in (
        "demand_total",
        "supply_total",
        "matched",
        "share_of_demand",
        "total_walk_m",
        "method",
        "max_walk_m",
        "unmatched_residences",
    ):
        assert key in s
    assert s["matched"] == sum(f["properties"]["cars"] for f in feats)
    assert 0 < s["share_of_demand"] < 1 and s["max_walk_m"] == 500
    assert max(f["properties"]["walk_m"] for f in feats) <= 500
    tables = pd.read_excel(xlsx, sheet_name=None)
    assert set(tables) == {"residences", "lots", "pairs"}
    per_res = pd.read_csv(tmp_path / "tables" / "residences.csv", encoding="utf-8-sig")
    assert per_res["placed"].sum() == s["matched"]
    per_lot = pd.read_csv(tmp_path / "tables" / "lots.csv", encoding="utf-8-sig")
    assert {"used_peak", "usable_min", "cars"} <= set(per_lot.columns)
    assert "placed" in err and "of the gap" in err


def test_cli_window_override_and_gcj02_output(tmp_path, capsys):
    from apps import cli

    out = tmp_path / "m.geojson"
    code = cli.main(
        [
            "parking",
            "--demo",
            "--window",
            "20:00-07:00",
            "--out",
            str(out),
            "--out-crs",
            "gcj02",
            "--summary",
            str(tmp_path / "s.json"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    written = tmp_path / "m.gcj02.geojson"
    assert json.loads(written.read_text())["lifecircle"]["crs"] == "GCJ-02"
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["windows"] == ["20:00-07:00"] and s["method"].startswith("min-cost flow")


def test_cli_zero_supply_is_a_result(tmp_path, district, capsys):
    from apps import cli

    lots = district.lots.copy()
    lots["capacity"] = 0
    path = _write_csv(tmp_path / "lots.csv", lots)
    code = cli.main(
        [
            "parking",
            "--demo",
            "--lots",
            str(path),
            "--out",
            str(tmp_path / "m.geojson"),
            "--summary",
            str(tmp_path / "s.json"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["matched"] == 0 and s["share_of_demand"] == 0 and "zero supply" in err


# ------------------------------------------------- LP first, MIP when the vertex is fractional
_NESTED = ("18:30-08:00", "19:00-07:30", "19:30-07:30", "20:00-07:00")
_CROSSING = ("19:00-07:30", "18:30-08:00", "20:00-07:00", "22:00-06:00", "07:00-19:00", "17:00-23:00", "21:00-09:00")


def _window_problem(seed: int, windows: tuple[str, ...], n_res: int = 12, n_lots: int = 5) -> parking.ParkingProblem:
    rng = np.random.default_rng(seed)
    need = np.stack([parking.parse_window(windows[k]).slot_mask(30) for k in rng.integers(0, len(windows), n_res)])
    usable = rng.integers(0, 12, (n_lots, 1)) + rng.integers(0, 6, (n_lots, 48))
    core = parking.parse_window("20:00-07:00").slot_mask(30)
    usable[:, core] += rng.integers(2, 10, (n_lots, 1))  # more spaces deep in the night: several rows per lot
    pairs = [
        (r, lot, float(rng.integers(50, 500))) for r in range(n_res) for lot in range(n_lots) if rng.random() < 0.6
    ]
    res, lot, walk = (np.array(v) for v in zip(*pairs))
    return parking.ParkingProblem.from_arrays(rng.integers(1, 15, n_res), usable, (res, lot, walk), need=need)


@pytest.mark.parametrize("seed", range(4))
def test_nested_windows_solve_as_an_integral_lp_equal_to_pulp(seed):
    """Nested windows: each lot's slot rows are laminar, the LP vertex integral, the answer CBC's."""
    problem = _window_problem(seed, _NESTED, n_res=30, n_lots=10)
    got = problem.solve()
    assert got.method == parking.LP_METHOD
    assert (got.matched, int(got.cars @ np.rint(problem.pair_walk))) == pulp_reference(problem)
    forced = problem.solve(force_mip=True)
    assert forced.method == "MIP (HiGHS)"
    assert (forced.matched, int(forced.cars @ np.rint(problem.pair_walk))) == (
        got.matched,
        int(got.cars @ np.rint(problem.pair_walk)),
    )
    assert (got.used <= problem.usable).all()


@pytest.mark.parametrize("seed", [7, 9, 41])
def test_crossing_windows_with_a_fractional_lp_fall_back_to_the_mip(seed):
    """Crossing windows whose LP vertex is fractional: solved again as a MIP, the answer CBC's."""
    problem = _window_problem(seed, _CROSSING)
    got = problem.solve()
    assert got.method == "MIP (HiGHS)"
    assert (got.matched, int(got.cars @ np.rint(problem.pair_walk))) == pulp_reference(problem)
    assert (got.used <= problem.usable).all()
