"""Coverage, gaps and unit summaries against plain networkx references."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
import shapely.affinity

from geo import coverage, demo, reach
from tests import reference as ref
from tests.utils import compare_nearest, placements, reference_nearest

BACK = pyproj.Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)


@pytest.fixture(scope="module")
def demo_district():
    return demo.build_demo()


@pytest.fixture(scope="module")
def demo_net(demo_district):
    return demo_district.network  # a WalkNetwork; demo_district.graph is its networkx graph


@pytest.fixture(scope="module")
def demo_graph(demo_district):
    return ref.lonlat_walk_graph(demo_district.graph)


def _first_kinds(district):
    """The demo's centres, stations, parks and clinics: the kinds these tests were written for
    (the evaluation's amenities bring everyone within 1000 m of *some* facility)."""
    fac = district.facilities
    return fac[fac.kind.isin(["party_center", "micro_station", "park", "clinic"])].reset_index(drop=True)


def _gdf(xy, **cols):
    lon, lat = BACK.transform(xy[:, 0], xy[:, 1])
    return gpd.GeoDataFrame(cols, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def test_demo_distances_equal_networkx(demo_net, demo_graph):
    graph, to_m = demo_graph
    compare_nearest(demo_net, graph, to_m, np.random.default_rng(21), n_fac=10, n_dem=300)


def test_demo_motorway_spot_is_not_covered(demo_district, demo_net):
    """The demo has a spot reachable only along its expressway: walking never reaches it."""
    spot = demo_district.motorway_spot
    fac = _first_kinds(demo_district)
    dem = gpd.GeoDataFrame({"id": ["spot"], "weight": [100.0]}, geometry=[spot], crs="EPSG:4326")
    result = coverage.compute_coverage(demo_net, fac, dem, tiers=(300, 1000))
    assert result.covered_weight("any", 1000) == 0.0


def test_coverage_summary_equals_brute_force(demo_net, demo_graph):
    graph, _ = demo_graph
    rng = np.random.default_rng(4)
    fac_pl, fac_xy = placements(graph, rng, 9, "f", on_nodes=False)
    dem_pl, dem_xy = placements(graph, rng, 400, "d", on_nodes=False)
    kinds = np.array(["park", "clinic", "micro_station"] * 3)
    weights = rng.integers(10, 500, len(dem_pl)).astype(float)
    fac = _gdf(fac_xy, id=[p[0] for p in fac_pl], kind=kinds)
    dem = _gdf(dem_xy, id=[p[0] for p in dem_pl], weight=weights)
    result = coverage.compute_coverage(demo_net, fac, dem, tiers=(300, 500, 1000))
    g = ref.insert_points(graph, fac_pl + dem_pl)
    names = [p[0] for p in dem_pl]
    per_kind = {
        k: ref.nearest_source_distances(g, [p[0] for p, kk in zip(fac_pl, kinds) if kk == k], names, 1000.0)
        for k in set(kinds)
    }
    per_kind["any"] = np.min(np.vstack(list(per_kind.values())), axis=0)
    summary = result.summary()
    assert summary["total_weight"] == pytest.approx(weights.sum())
    for kind, dist in per_kind.items():
        for tier in (300, 500, 1000):
            clear = np.abs(dist - tier) > 0.5
            expected = weights[clear & (dist <= tier)].sum()
            got = result.samples.weight[clear & (result.sample_dist[kind] <= tier)].sum()
            assert got == pytest.approx(expected)
    frame = result.to_geodataframe()
    assert list(frame["id"]) == names
    d_any = frame["dist_any"].to_numpy(dtype=float)
    fin = np.isfinite(per_kind["any"])
    assert np.nanmax(np.abs(d_any[fin] - per_kind["any"][fin])) < 0.5
    assert np.isnan(d_any[~fin]).all()


def test_polygon_demand_is_spread_over_residential_streets(demo_district, demo_net):
    zones = demo_district.residential_zones.rename(columns={"population": "weight"})
    result = coverage.compute_coverage(demo_net, _first_kinds(demo_district), zones)
    assert result.total_weight == pytest.approx(zones["weight"].sum())
    # samples lie inside their own polygon (or on its edge streets)
    polys = zones.geometry.to_crs(demo_net.crs).values
    inside = shapely.dwithin(polys[result.samples.unit], shapely.points(result.samples.xy), 1.0)
    assert inside.all()
    assert np.bincount(result.samples.unit).min() >= 1
    frame = result.to_geodataframe()
    assert len(frame) == len(zones)
    # each zone's covered share equals networkx's distances over the zone's own samples
    graph, to_m = ref.lonlat_walk_graph(demo_district.graph)
    fac_ll = np.asarray(shapely.get_coordinates(_first_kinds(demo_district).geometry.values))
    sample_ll = demo_net.to_lonlat(result.samples.xy)
    d_ref = reference_nearest(
        graph,
        np.column_stack(to_m.transform(fac_ll[:, 0], fac_ll[:, 1])),
        np.column_stack(to_m.transform(sample_ll[:, 0], sample_ll[:, 1])),
        1000.0,
    )
    w, unit = result.samples.weight, result.samples.unit
    clear = np.abs(d_ref - 1000.0) > 1.0
    for k in np.unique(unit):
        mine = (unit == k) & clear
        if w[unit == k].sum() == 0 or w[(unit == k) & ~clear].sum() > 0:
            continue
        expected = w[mine & (d_ref <= 1000.0)].sum() / w[unit == k].sum()
        assert frame["covered_any_1000"].iloc[k] == pytest.approx(expected, abs=1e-9)


def test_units_and_gaps_add_up(demo_district, demo_net):
    dem = demo_district.demand.rename(columns={"population": "weight"})
    result = coverage.compute_coverage(demo_net, _first_kinds(demo_district), dem)
    units = result.by_unit(demo_district.communities)
    assert units["weight"].sum() == pytest.approx(result.total_weight, rel=1e-6)
    for tier in result.tiers:
        key = coverage.tier_key(tier)
        assert units[f"covered_any_{key}"].sum() == pytest.approx(result.covered_weight("any", tier), rel=1e-6)
    gaps = result.gaps("any", 1000)
    unserved = result.samples.weight[result.samples.reachable & (result.sample_dist["any"] > 1000)].sum()
    assert unserved > 0, "the demo leaves a gap on purpose"
    assert gaps["unserved_weight"].sum() == pytest.approx(unserved)
    assert list(gaps["rank"]) == list(range(1, len(gaps) + 1))
    assert (np.diff(gaps["unserved_weight"].to_numpy()) <= 0).all()
    # no served sample lies inside a gap farther than the disc radius from an unserved one
    miss_xy = result.samples.xy[result.sample_dist["any"] > 1000]
    centre = gaps.to_crs(demo_net.crs).geometry.values
    assert shapely.intersects(centre[0], shapely.points(miss_xy)).any()


def test_adding_a_facility_in_the_largest_gap_equals_networkx(demo_district, demo_net, demo_graph):
    """A station at the largest gap's centre covers exactly whom networkx says it reaches."""
    graph, to_m = demo_graph
    dem = demo_district.demand.rename(columns={"population": "weight"})
    fac = _first_kinds(demo_district)
    before = coverage.compute_coverage(demo_net, fac, dem)
    gap = before.gaps("any", 1000).iloc[0]
    extra = gpd.GeoDataFrame(
        {"id": ["new"], "kind": ["micro_station"]},
        geometry=gpd.points_from_xy([gap.center_lon], [gap.center_lat]),
        crs="EPSG:4326",
    )
    after = coverage.compute_coverage(
        demo_net, gpd.GeoDataFrame(pd.concat([fac, extra], ignore_index=True), crs="EPSG:4326"), dem
    )
    new_xy = np.column_stack(to_m.transform([gap.center_lon], [gap.center_lat]))
    lonlat = demo_net.to_lonlat(after.samples.xy)
    sample_xy = np.column_stack(to_m.transform(lonlat[:, 0], lonlat[:, 1]))
    d_new = reference_nearest(graph, new_xy, sample_xy, 1000.0)
    d_old = before.sample_dist["any"]
    w = after.samples.weight
    clear = (np.abs(d_new - 1000.0) > 1.0) & (np.abs(d_old - 1000.0) > 1.0)
    expected = w[clear & ((d_old <= 1000.0) | (d_new <= 1000.0))].sum()
    got = w[clear & (after.sample_dist["any"] <= 1000.0)].sum()
    assert got == pytest.approx(expected, rel=1e-9)
    gained = w[clear & (d_old > 1000.0) & (d_new <= 1000.0)].sum()
    assert gained >= 0.5 * gap.unserved_weight, "a station at the gap's centre serves most of the gap"


def test_unreachable_demand_is_reported_not_dropped(demo_district, demo_net):
    far = gpd.GeoDataFrame(
        {"id": ["far", "near"], "weight": [10.0, 5.0]},
        geometry=[shapely.Point(114.3, 22.7), demo_district.demand.geometry.iloc[0]],
        crs="EPSG:4326",
    )
    result = coverage.compute_coverage(demo_net, _first_kinds(demo_district), far)
    s = result.summary()
    assert s["total_weight"] == 15.0 and s["unreachable_weight"] == 10.0
    frame = result.to_geodataframe()
    assert list(frame["reachable"]) == [False, True]
    assert np.isnan(frame["dist_any"].iloc[0])


def test_futian_traffic_zones_coverage(futian_net):
    """Real traffic zones with population (in place in ../shared/data) over the Futian graph."""
    from geo import io
    from tests.conftest import shared_file

    zones = gpd.read_file(shared_file("shenzhenbuscorr/sz_taz_491.geojson"))
    attrs = io.read_table(shared_file("shenzhenbuscorr/sz_taz_attributes_utf8.csv"))
    west, south, east, north = futian_net.bounds_lonlat()
    zones = zones.cx[west:east, south:north].copy()
    pop = dict(zip(attrs["小区编号"].astype(str), attrs["人口（人）"]))
    zones["id"] = zones["name"].astype(str)
    zones["weight"] = zones["id"].map(pop).fillna(0.0).astype(float)
    assert len(zones) >= 3 and zones["weight"].sum() > 0
    rng = np.random.default_rng(1)
    nodes = futian_net.node_lonlat[rng.choice(futian_net.n_nodes, 6, replace=False)]
    fac = gpd.GeoDataFrame(
        {"id": list("abcdef"), "kind": ["clinic"] * 6},
        geometry=gpd.points_from_xy(nodes[:, 0], nodes[:, 1]),
        crs="EPSG:4326",
    )
    result = coverage.compute_coverage(futian_net, fac, zones[["id", "weight", "geometry"]])
    s = result.summary()
    assert s["total_weight"] == pytest.approx(zones["weight"].sum())
    graph, to_m = ref.graphml_walk_graph(shared_file("transbigdata/futian_sw_osmnx_G.graphml"))
    fac_xy = np.column_stack(to_m.transform(nodes[:, 0], nodes[:, 1]))
    lonlat = futian_net.to_lonlat(result.samples.xy)
    sample_xy = np.column_stack(to_m.transform(lonlat[:, 0], lonlat[:, 1]))
    expected_d = reference_nearest(graph, fac_xy, sample_xy, 1000.0)
    w = result.samples.weight
    for tier in (300.0, 1000.0):
        clear = (np.abs(expected_d - tier) > 1.0) & (np.abs(result.sample_dist["clinic"] - tier) > 1.0)
        assert w[clear & (result.sample_dist["clinic"] <= tier)].sum() == pytest.approx(
            w[clear & (expected_d <= tier)].sum(), rel=1e-9
        )
        assert w[~clear].sum() < 0.01 * w.sum()


# ------------------------------------------------------------------ the one rule for demand weights


def test_newcomer_session_counts_the_demo_population(demo_district):
    """compute_coverage on the demo's own frames counts its 150,000 residents (population)."""
    d = demo_district
    result = coverage.compute_coverage(d.network, d.facilities, d.demand)
    assert result.total_weight == float(d.demand.population.sum()) == 150_000.0
    areas = reach.facility_service_areas(d.network, d.facilities, tiers=300)
    assert len(areas) > 0


def test_weight_columns_in_order_and_errors():
    from geo.errors import InputError, OptionError

    pts = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"], "户数": [1, 2, 3], "人口": [10, 20, 30]},
        geometry=gpd.points_from_xy([114.0] * 3, [22.5] * 3),
        crs="EPSG:4326",
    )
    w, col = coverage.resolve_weights(pts)
    assert col == "人口" and list(w) == [10.0, 20.0, 30.0]  # population before households
    w, col = coverage.resolve_weights(pts.assign(权重=[0.5, 1.5, 2.0]))
    assert col == "权重" and list(w) == [0.5, 1.5, 2.0]
    w, col = coverage.resolve_weights(pts.drop(columns="人口"))
    assert col == "户数" and list(w) == [1.0, 2.0, 3.0]
    with pytest.raises(OptionError, match=r"weight_column.*'people'.*'户数'"):
        coverage.resolve_weights(pts, "people")
    bare = pts[["id", "geometry"]]
    with pytest.raises(InputError, match=r"no weight column.*'id'.*rows"):
        coverage.resolve_weights(bare)
    w, col = coverage.resolve_weights(bare, "rows")
    assert col == "rows" and list(w) == [1.0, 1.0, 1.0]
    with pytest.raises(InputError, match=r"feature 2, column '人口'"):
        coverage.resolve_weights(pts.assign(人口=[1, "x", 3]))


def test_siting_uses_the_same_rule(demo_district):
    from geo.siting.candidates import _weights_column

    assert _weights_column(demo_district.demand, "weight") == "population"
    assert _weights_column(demo_district.demand, None) == "population"


def test_by_unit_follows_edited_boundaries(demo_district, demo_net):
    """by_unit remembers which unit holds each sample; an edited boundary is assigned afresh.

    Reference: each sample's unit by shapely ``contains`` over every polygon, summed by hand.
    """
    dem = demo_district.demand.rename(columns={"population": "weight"})
    result = coverage.compute_coverage(demo_net, _first_kinds(demo_district), dem)
    units = demo_district.communities[["id", "name", "geometry"]].reset_index(drop=True)
    xy = result.samples.xy

    def brute_weights(frame) -> np.ndarray:
        polys = frame.to_crs(demo_net.crs).geometry.values
        pts = shapely.points(xy)
        out = np.zeros(len(frame))
        for i, poly in enumerate(polys):
            out[i] = result.samples.weight[shapely.contains(poly, pts)].sum()
        return out

    first = result.by_unit(units)
    np.testing.assert_allclose(first["weight"].to_numpy(), brute_weights(units), rtol=1e-9)
    again = dataclasses.replace(result, facility_counts=dict(result.facility_counts)).by_unit(
        units
    )  # a what-if's result
    np.testing.assert_array_equal(again["weight"].to_numpy(), first["weight"].to_numpy())
    edited = units.copy()
    edited.loc[0, "geometry"] = shapely.affinity.scale(edited.geometry.iloc[0], 0.5, 0.5)  # shrunk: no overlaps
    moved = result.by_unit(edited)
    expect = brute_weights(edited)
    np.testing.assert_allclose(moved["weight"].to_numpy(), expect, rtol=1e-9)
    assert moved["weight"].iloc[0] != pytest.approx(first["weight"].iloc[0])


def test_kinds_searched_beside_the_snapping_equal_networkx_on_shared_streets(demo_net, demo_graph):
    """Residents on their facility's own street (walked along it directly), per kind, with fresh and reused samples.

    compute_coverage runs the facilities' searches on a thread while the demand is snapped, and
    looks each resident's street up once for all kinds; reusing the samples takes the plain path.
    Both must give networkx's distances.
    """
    graph, _ = demo_graph
    rng = np.random.default_rng(15)
    fac_pl, fac_xy = placements(graph, rng, 12, "f", on_nodes=False)
    kinds = np.array(["park", "clinic", "micro_station"] * 4)
    # half the residents on a facility's own street, either side of it; the rest anywhere
    shared = []
    for i, (_, u, v, t) in enumerate(fac_pl * 10):
        s = float(np.clip(t + rng.choice([-1, 1]) * rng.uniform(0.05, 0.15), 0.02, 0.98))
        shared.append((f"s{i}", u, v, s))
    shared_xy = np.array([ref.point_on_edge(graph, u, v, s) for _, u, v, s in shared])
    other_pl, other_xy = placements(graph, rng, 120, "d", on_nodes=False)
    dem_pl, dem_xy = shared + other_pl, np.vstack([shared_xy, other_xy])
    fac = _gdf(fac_xy, id=[p[0] for p in fac_pl], kind=kinds)
    dem = _gdf(dem_xy, id=[p[0] for p in dem_pl], weight=np.ones(len(dem_pl)))
    fresh = coverage.compute_coverage(demo_net, fac, dem, tiers=(300, 1000))
    reused = coverage.compute_coverage(demo_net, fac, dem, tiers=(300, 1000), samples=fresh.samples)
    g = ref.insert_points(graph, fac_pl + dem_pl)
    names = [p[0] for p in dem_pl]
    expected = {
        k: ref.nearest_source_distances(g, [p[0] for p, kk in zip(fac_pl, kinds) if kk == k], names, 1000.0)
        for k in ("park", "clinic", "micro_station")
    }
    expected["any"] = np.min(np.vstack(list(expected.values())), axis=0)
    for kind, want in expected.items():
        for result in (fresh, reused):
            got = result.sample_dist[kind]
            fin = np.isfinite(want)
            assert np.array_equal(np.isfinite(got), fin)
            assert np.abs(got[fin] - want[fin]).max() < 0.5
        assert np.array_equal(fresh.sample_dist[kind], reused.sample_dist[kind])
