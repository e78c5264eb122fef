"""Tests of the generated demo district (the geo.demo package)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LinearRing, Point

from geo import demo

ROOT = Path(__file__).resolve().parents[1]
BOUNDARIES = ROOT / "data" / "boundaries"
METRIC = "EPSG:32650"


# ----------------------------------------------------------------------------- helpers


def walkable(data: dict) -> bool:
    """The osmnx 'walk' filter, written out independently of geo.demo."""
    hw = data.get("highway", "")
    if any(
        word in hw
        for word in (
            "motor",
            "abandoned",
            "construction",
            "cycleway",
            "platform",
            "proposed",
            "raceway",
            "bus_guideway",
        )
    ):
        return False
    if data.get("foot") == "no" or data.get("service") == "private":
        return False
    if data.get("access") in ("private", "no"):
        return False
    return data.get("area") != "yes"


def walk_graph(g: nx.MultiDiGraph) -> nx.Graph:
    """Undirected walkable subgraph (shortest parallel edge kept)."""
    w = nx.Graph()
    for u, v, data in g.edges(data=True):
        if walkable(data) and (not w.has_edge(u, v) or w[u][v]["length"] > data["length"]):
            w.add_edge(u, v, length=data["length"])
    return w


@pytest.fixture(scope="module")
def d() -> demo.DemoDistrict:
    return demo.build_demo()


@pytest.fixture(scope="module")
def w(d: demo.DemoDistrict) -> nx.Graph:
    return walk_graph(d.graph)


@pytest.fixture(scope="module")
def walk_lines(d: demo.DemoDistrict) -> gpd.GeoSeries:
    geoms = [data["geometry"] for _, _, data in d.graph.edges(data=True) if walkable(data)]
    return gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs(METRIC)


def edge_join(g: nx.MultiDiGraph, pts: gpd.GeoSeries) -> list[tuple[int, int, float, float]]:
    """Join points at the nearest walkable edge: (u, v, metres via u, metres via v)."""
    edges = [(u, v, data["length"]) for u, v, data in g.edges(data=True) if walkable(data)]
    lines = (
        gpd.GeoSeries([data["geometry"] for *_, data in g.edges(data=True) if walkable(data)], crs="EPSG:4326")
        .to_crs(METRIC)
        .values
    )
    p = pts.to_crs(METRIC).values
    idx = shapely.STRtree(lines).nearest(p)
    frac = shapely.line_locate_point(lines[idx], p, normalized=True)
    perp = shapely.distance(lines[idx], p)
    out = []
    for i, f, e in zip(idx, frac, perp):
        u, v, length = edges[i]
        out.append((u, v, e + f * length, e + (1 - f) * length))
    return out


def walk_distances(
    w: nx.Graph, g: nx.MultiDiGraph, sources: gpd.GeoSeries, targets: gpd.GeoSeries, cutoff: float | None = None
) -> np.ndarray:
    """Network metres from the nearest source to each target (inf when out of reach)."""
    h = w.copy()
    for u, v, du, dv in edge_join(g, sources):
        for n, x in ((u, du), (v, dv)):
            if not h.has_edge("src", n) or h["src"][n]["length"] > x:
                h.add_edge("src", n, length=x)
    dist = nx.single_source_dijkstra_path_length(h, "src", cutoff=cutoff, weight="length")
    return np.array([min(dist.get(u, np.inf) + du, dist.get(v, np.inf) + dv) for u, v, du, dv in edge_join(g, targets)])


# ----------------------------------------------------------------------------- determinism


def frame_signature(gdf: gpd.GeoDataFrame) -> tuple:
    return (
        pd.DataFrame(gdf.drop(columns="geometry")).to_json(),
        shapely.get_coordinates(gdf.geometry.values).tobytes(),
    )


def network_signature(g: nx.MultiDiGraph) -> tuple:
    nodes = np.array([(n, g.nodes[n]["x"], g.nodes[n]["y"]) for n in g.nodes])
    edges = [
        (u, v, k, tuple(sorted((a, str(b)) for a, b in data.items())))
        for u, v, k, data in g.edges(keys=True, data=True)
    ]
    return nodes.tobytes(), edges


#: Every layer a district carries, listed here so that the tests do not lean on demo.LAYERS.
EVERY_LAYER = (
    "facilities",
    "demand",
    "residential_zones",
    "streets",
    "communities",
    "candidates",
    "lots",
    "residences",
    "parks",
)


def test_two_builds_are_identical() -> None:
    a = demo.build_demo.__wrapped__(2026)
    b = demo.build_demo.__wrapped__(2026)
    assert network_signature(a.graph) == network_signature(b.graph)
    for layer in EVERY_LAYER:
        assert frame_signature(getattr(a, layer)) == frame_signature(getattr(b, layer)), layer
    assert a.gates == b.gates and a.cluster_nodes == b.cluster_nodes
    c = demo.build_demo.__wrapped__(7)
    assert network_signature(c.graph) != network_signature(a.graph)


def test_build_is_cached() -> None:
    assert demo.build_demo() is demo.build_demo()


def test_committed_boundaries_match_a_fresh_write(tmp_path: Path) -> None:
    out = demo.write_boundaries(tmp_path)
    for key, name in (("streets", "demo_streets.geojson"), ("communities", "demo_communities.geojson")):
        assert out[key] == tmp_path / name
        committed = BOUNDARIES / name
        assert committed.exists(), f"{committed} missing: run geo.demo.write_boundaries"
        assert committed.read_bytes() == out[key].read_bytes(), name


def test_boundary_files_are_rfc7946(tmp_path: Path) -> None:
    out = demo.write_boundaries(tmp_path)
    for path in out.values():
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["type"] == "FeatureCollection"
        for feat in doc["features"]:
            assert feat["properties"]["source"] == demo.SOURCE
            ring = feat["geometry"]["coordinates"][0]
            assert ring[0] == ring[-1]
            assert LinearRing(ring).is_ccw  # exterior ring counter-clockwise
            for x, y in ring:
                assert round(x, 7) == x and round(y, 7) == y
                assert 113.9 < x < 114.2 and 22.5 < y < 22.6
    read = gpd.read_file(out["communities"])
    assert read.crs.to_epsg() == 4326 and len(read) == len(demo.build_demo().communities)


# ----------------------------------------------------------------------------- content


def test_layers_are_wgs84_and_labelled(d: demo.DemoDistrict) -> None:
    assert d.name == "示范街道（生成的演示数据）" and "generated" in d.name_en.lower()
    for layer in EVERY_LAYER:
        gdf = getattr(d, layer)
        assert gdf.crs.to_epsg() == 4326, layer
        assert gdf.attrs["source"] == demo.SOURCE, layer
        assert gdf["id"].is_unique, layer
    c = d.streets.to_crs(METRIC).geometry.iloc[0].centroid
    lon, lat = gpd.GeoSeries([c], crs=METRIC).to_crs(4326).iloc[0].coords[0]
    assert abs(lon - 114.06) < 0.01 and abs(lat - 22.56) < 0.01


def test_population(d: demo.DemoDistrict) -> None:
    dem = d.demand
    assert 140_000 <= dem.population.sum() <= 160_000
    assert 800 <= len(dem) <= 2000
    assert (dem.population > 0).all()
    by = dem.groupby("housing").population.sum()
    assert 30_000 <= by["village"] <= 40_000
    comp = dem[dem.housing == "compound"].groupby("compound_id").population.sum()
    assert comp.between(2000, 8000).all()
    zones = d.residential_zones.set_index("id")
    assert (zones.loc[comp.index, "population"] == comp).all()
    assert zones.population.sum() == by["compound"] + by["village"]


def test_facilities(d: demo.DemoDistrict) -> None:
    f = d.facilities
    counts = f.kind.value_counts()
    # the first four kinds, plus the evaluation's amenities (checked in test_amenity_kinds)
    assert set(counts.index) == {"party_center", "micro_station", "park", "clinic", *demo.AMENITY_KINDS}
    pc = f[f.kind == "party_center"]
    assert (pc.level == "street").sum() == 1
    assert 5 <= (pc.level == "community").sum() <= 7
    assert 8 <= counts["micro_station"] <= 12
    assert 3 <= counts["clinic"] <= 5
    assert counts["park"] >= 2


def test_parking_tables(d: demo.DemoDistrict) -> None:
    lots, res = d.lots, d.residences
    assert 25 <= len(lots) <= 40
    assert set(lots.land_use) <= {"office", "retail", "hotel", "industrial", "hospital"}
    assert lots.capacity.between(20, 400).all()
    assert (lots.reserved >= 0).all() and (lots.reserved < lots.capacity).all()
    assert lots.price.between(0, 20).all()
    assert lots.open.str.fullmatch(r"\d\d:\d\d-\d\d:\d\d").all() and lots.open.nunique() >= 3
    assert res.demand.between(20, 300).all() and res.window.nunique() >= 3
    assert set(res.id) <= set(d.gates)
    main_gates = gpd.GeoSeries(
        [Point(d.graph.nodes[d.gates[c][0]]["x"], d.graph.nodes[d.gates[c][0]]["y"]) for c in res.id], crs=4326
    ).to_crs(METRIC)
    assert (main_gates.distance(res.to_crs(METRIC).geometry.reset_index(drop=True)) < 1).all()


def test_about_half_the_parking_gap_closes_within_500_m(d: demo.DemoDistrict) -> None:
    """Like Dongxiao street: hour-by-hour matching within 500 m closes about half the gap."""
    from geo import parking

    net = d.network
    share = parking.match_parking(net, d.lots, d.residences, max_walk_m=500).summary()["share_of_demand"]
    assert 0.4 <= share <= 0.6


# ----------------------------------------------------------------------------- network


def test_network_is_osmnx_style(d: demo.DemoDistrict) -> None:
    g = d.graph
    assert isinstance(g, nx.MultiDiGraph)
    assert g.graph["crs"] == "epsg:4326" and g.graph["name"] == demo.NAME_ZH
    assert 2000 <= g.number_of_nodes() <= 6000
    assert all(isinstance(n, int) for n in g.nodes)
    geod = Geod(ellps="WGS84")
    for u, v, k, data in g.edges(keys=True, data=True):
        assert k == 0 and data["oneway"] is False
        geom = data["geometry"]
        assert geom.coords[0] == (g.nodes[u]["x"], g.nodes[u]["y"])
        assert geom.coords[-1] == (g.nodes[v]["x"], g.nodes[v]["y"])
        assert abs(geod.geometry_length(geom) - data["length"]) < 1e-6 * max(1.0, data["length"])
        assert not g.has_edge(v, u) or u == v
    highways = {data["highway"] for *_, data in g.edges(data=True)}
    assert {
        "primary",
        "secondary",
        "tertiary",
        "residential",
        "living_street",
        "footway",
        "service",
        "motorway",
        "motorway_link",
    } <= highways


def test_walk_network_is_connected(d: demo.DemoDistrict, w: nx.Graph) -> None:
    assert nx.is_connected(w)
    assert nx.is_weakly_connected(d.graph)
    dead_ends = sum(1 for n in w if w.degree(n) == 1)
    assert dead_ends >= 50


def test_carriageways_and_motorway_are_not_walkable(d: demo.DemoDistrict, w: nx.Graph) -> None:
    g = d.graph
    for u, v, data in g.edges(data=True):
        if data["highway"] in ("primary", "secondary"):
            assert data.get("foot") == "no"
        if "motorway" in data["highway"]:
            assert not w.has_edge(u, v)
    sidewalks = [e for e in g.edges(data=True) if e[2].get("footway") == "sidewalk"]
    crossings = [e for e in g.edges(data=True) if e[2].get("footway") == "crossing"]
    assert len(sidewalks) > 100 and len(crossings) > 40
    assert any(data["highway"] == "motorway" for *_, data in g.edges(data=True))


def test_arterials_are_crossed_only_at_crossings(d: demo.DemoDistrict, w: nx.Graph) -> None:
    """Without the crossings (and the footbridge) the walk network falls into pieces."""
    cut = w.copy()
    for u, v, data in d.graph.edges(data=True):
        if (data.get("footway") == "crossing" or data.get("bridge") == "yes") and cut.has_edge(u, v):
            cut.remove_edge(u, v)
    big = [c for c in nx.connected_components(cut) if len(c) > 20]
    assert len(big) >= 9  # at least one piece per super-block


def test_compounds_are_reached_only_through_gates(d: demo.DemoDistrict, w: nx.Graph) -> None:
    assert 20 <= len(d.gates) <= 30
    for cid, gates in d.gates.items():
        inner = set(d.compound_nodes[cid])
        assert 1 <= len(gates) <= 2 and inner and not inner & set(gates)
        assert nx.has_path(w, next(iter(inner)), next(n for n in w if n not in inner and n not in gates))
        cut = w.subgraph(n for n in w if n not in gates)
        for comp in nx.connected_components(cut):
            if comp & inner:
                assert comp <= inner, cid
    private = [(u, v) for u, v, data in d.graph.edges(data=True) if data.get("access") == "private"]
    inner_all = set().union(*map(set, d.compound_nodes.values()))
    assert private and any(u in inner_all or v in inner_all for u, v in private)


def test_cluster_beyond_expressway_hangs_on_the_footbridge(d: demo.DemoDistrict, w: nx.Graph) -> None:
    u, v = d.footbridge
    data = d.graph.get_edge_data(u, v)[0]
    assert data["highway"] == "footway" and data["bridge"] == "yes"
    cluster = set(d.cluster_nodes)
    assert len(cluster) > 20 and (u in cluster) != (v in cluster)
    assert nx.is_connected(w)
    cut = w.copy()
    cut.remove_edge(u, v)
    inside = next(n for n in (u, v) if n in cluster)
    comp = nx.node_connected_component(cut, inside)
    assert comp <= cluster
    # by car the cluster is reached over a motorway_link ramp
    assert any(
        data["highway"] == "motorway_link" and (a in cluster or b in cluster) for a, b, data in d.graph.edges(data=True)
    )


def test_motorway_spot_is_off_the_walk_network(d: demo.DemoDistrict, walk_lines: gpd.GeoSeries) -> None:
    spot = gpd.GeoSeries([d.motorway_spot], crs=4326).to_crs(METRIC).iloc[0]
    assert walk_lines.distance(spot).min() > 300.0  # beyond the default snapping limit
    g = d.graph
    lon, lat = d.motorway_spot.coords[0]
    node = next(n for n in g.nodes if (g.nodes[n]["x"], g.nodes[n]["y"]) == (lon, lat))
    assert {data["highway"] for *_, data in g.in_edges(node, data=True)} == {"motorway_link"}


def test_points_lie_near_walkable_edges(d: demo.DemoDistrict, walk_lines: gpd.GeoSeries) -> None:
    tree = shapely.STRtree(walk_lines.values)
    for layer in ("facilities", "demand", "candidates", "lots", "residences"):
        pts = getattr(d, layer).to_crs(METRIC).geometry.values
        idx = tree.nearest(pts)
        dist = shapely.distance(walk_lines.values[idx], pts)
        assert dist.max() < 60.0, (layer, float(dist.max()))


def test_candidates_spread_and_outside_parks(d: demo.DemoDistrict) -> None:
    c = d.candidates
    assert 150 <= len(c) <= 300
    parks = d.parks.to_crs(METRIC).union_all()
    assert not c.to_crs(METRIC).within(parks).any()
    street = d.streets.to_crs(METRIC).geometry.iloc[0]
    assert c.to_crs(METRIC).within(street).all()


def test_realistic_coverage_gaps(d: demo.DemoDistrict, w: nx.Graph) -> None:
    """Centres and stations leave part of the village and a corner beyond 1000 m."""
    f = d.facilities[d.facilities.kind.isin(["party_center", "micro_station"])]
    far = walk_distances(w, d.graph, f.geometry, d.demand.geometry) > 1000
    pop = d.demand.population.to_numpy()
    village = (d.demand.housing == "village").to_numpy()
    assert 0.1 < pop[far & village].sum() / pop[village].sum() < 0.9
    assert 0.05 < pop[far].sum() / pop.sum() < 0.35
    assert (far & ~village).any()


def test_communities_tile_the_street(d: demo.DemoDistrict) -> None:
    street = d.streets.to_crs(METRIC).geometry.iloc[0]
    comms = d.communities.to_crs(METRIC)
    assert 4 <= len(comms) <= 6
    assert (comms.street == d.name).all()
    union = shapely.union_all(comms.geometry.values)
    assert union.symmetric_difference(street).area < 1.0
    for a, b in itertools.combinations(comms.geometry.values, 2):
        assert a.intersection(b).area < 1.0


# ----------------------------------------------------------------------------- files


def test_write_demo_files(tmp_path: Path, d: demo.DemoDistrict) -> None:
    import osmnx as ox

    out = demo.write_demo_files(tmp_path)
    assert set(out) == {"facilities", "demand", "candidates", "lots", "residences", "network", "parks"}
    cols = {
        "facilities": ["id", "name", "kind", "level", "lon", "lat"],
        "demand": ["id", "name", "population", "pop_60plus", "pop_0_3", "pop_3_6", "pop_6_12", "lon", "lat"],
        "candidates": ["id", "name", "lon", "lat"],
        "lots": ["id", "name", "land_use", "capacity", "open", "reserved", "price", "lon", "lat"],
        "residences": ["id", "name", "demand", "window", "lon", "lat"],
    }
    for key, want in cols.items():
        table = pd.read_csv(out[key], encoding="utf-8")
        assert list(table.columns) == want, key
        assert len(table) == len(getattr(d, key))
    assert pd.read_csv(out["demand"]).population.sum() == d.demand.population.sum()
    g = ox.load_graphml(out["network"])
    assert g.number_of_nodes() == d.graph.number_of_nodes()
    assert g.number_of_edges() == d.graph.number_of_edges()
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


# ----------------------------------------------------------------------------- evaluation layers


def test_amenity_kinds_are_registered_and_plentiful(d: demo.DemoDistrict) -> None:
    from geo import standards

    f = d.facilities
    assert f.kind.nunique() >= 8
    registry = {k.key: k for k in standards.KindRegistry()}
    for kind in demo.AMENITY_KINDS:
        assert kind in registry and registry[kind].label_zh and registry[kind].label_en, kind
        assert (f.kind == kind).sum() >= 2, kind
    assert {
        "kindergarten",
        "primary_school",
        "middle_school",
        "elderly_care",
        "nursing_home",
        "culture",
        "sports",
        "market",
        "police",
        "library",
        "post_station",
        "childcare",
        "health_station",
    } == set(demo.AMENITY_KINDS)
    # schools and kindergartens sit on the street frontage of the blocks, inside the street
    street = d.streets.to_crs(METRIC).geometry.iloc[0]
    pts = f[f.kind.isin(demo.AMENITY_KINDS)].to_crs(METRIC)
    assert pts.within(street.buffer(30.0)).all()


def test_amenities_leave_a_mixed_ledger(d: demo.DemoDistrict, w: nx.Graph) -> None:
    """By plain networkx: some 社区 have far more residents in reach of a kind than others."""
    dem = d.demand
    comm = gpd.sjoin(dem[["geometry"]], d.communities[["id", "geometry"]], how="left", predicate="within")[
        "id"
    ].to_numpy()
    pop = dem.population.to_numpy()
    shares = {}
    for kind, metres in (("primary_school", 500), ("middle_school", 1000)):
        f = d.facilities[d.facilities.kind == kind]
        near = walk_distances(w, d.graph, f.geometry, dem.geometry) <= metres
        shares[kind] = {c: pop[(comm == c) & near].sum() / pop[comm == c].sum() for c in sorted(set(comm))}
        assert max(shares[kind].values()) - min(shares[kind].values()) > 0.2, (kind, shares)
    assert shares["middle_school"]["SQ05"] < 0.1  # deliberately without a middle school


#: GB 50180-2018 as the default pack states it (kind, metres, smallest park area), written
#: out again here so that the check does not read the pack through geo.evaluate.
GB50180_TIERS = {
    "5min": [
        ("kindergarten", 300, 0),
        ("health_station", 300, 0),
        ("elderly_care", 300, 0),
        ("childcare", 300, 0),
        ("culture", 300, 0),
        ("sports", 300, 0),
        ("park", 300, 4000),
    ],
    "10min": [("primary_school", 500, 0), ("sports", 500, 0), ("market", 500, 0), ("park", 500, 10000)],
    "15min": [
        ("middle_school", 1000, 0),
        ("clinic", 1000, 0),
        ("nursing_home", 1000, 0),
        ("culture", 1000, 0),
        ("sports", 1000, 0),
        ("police", 1000, 0),
        ("park", 1000, 50000),
    ],
}


@pytest.fixture(scope="module")
def gb50180_complete(d: demo.DemoDistrict, w: nx.Graph) -> dict:
    """Per building and tier: all of GB 50180-2018's kinds in reach, by plain networkx.

    One multi-source Dijkstra per (kind, park size) from the facility points joined at their
    nearest walkable edge; a park gate ``PK-<n>x`` carries the area of park ``P<n>``.
    """
    fac, dem = d.facilities, d.demand
    area = dict(zip(d.parks.id, d.parks.area_m2))
    gate_of = fac.id.str.extract(r"^PK-(\d+)[a-z]$", expand=False)
    fac_area = np.array([area.get(f"P{n}", np.nan) if isinstance(n, str) else np.nan for n in gate_of])
    dist = {}
    out = {}
    for tier, rules in GB50180_TIERS.items():
        ok = np.ones(len(dem), dtype=bool)
        for kind, metres, min_area in rules:
            if (kind, min_area) not in dist:
                sel = (fac.kind == kind).to_numpy() & (fac_area >= min_area if min_area else True)
                assert sel.any(), kind
                dist[kind, min_area] = walk_distances(w, d.graph, fac.geometry[sel], dem.geometry, cutoff=1100.0)
            ok &= dist[kind, min_area] <= metres
        out[tier] = ok
    return out


def test_gb50180_ledger_is_mixed(d: demo.DemoDistrict, gb50180_complete: dict) -> None:
    """The default pack's circles are complete in some 社区 and not in others (plain networkx):
    the 翠湖 pilot far ahead at 5 minutes, the urban village and the cluster beyond the
    expressway with nobody complete."""
    dem = d.demand
    comm = gpd.sjoin(dem[["geometry"]], d.communities[["id", "geometry"]], how="left", predicate="within")[
        "id"
    ].to_numpy()
    pop = dem.population.to_numpy().astype(float)

    def shares(ok: np.ndarray) -> dict[str, float]:
        return {c: pop[(comm == c) & ok].sum() / pop[comm == c].sum() for c in sorted(set(comm))}

    five, ten, fifteen = (shares(gb50180_complete[t]) for t in ("5min", "10min", "15min"))
    assert five["SQ05"] > 0.30 and max(five.values()) == five["SQ05"], five
    assert min(five.values()) < 0.05, five
    assert sum(0.05 < v < 0.30 for v in five.values()) >= 2, five  # partial 社区
    assert max(ten.values()) > 0.35 and min(ten.values()) < 0.05, ten
    assert max(fifteen.values()) > 0.15 and min(fifteen.values()) < 0.05, fifteen
    cluster = set(d.cluster_nodes)
    beyond = [c for c, nodes in d.compound_nodes.items() if nodes and set(nodes) <= cluster]
    assert beyond  # the compound(s) beyond the expressway
    poor = (dem.housing == "village").to_numpy() | dem.compound_id.isin(beyond).to_numpy()
    for tier in ("5min", "10min", "15min"):
        assert not gb50180_complete[tier][poor].any(), tier


def test_gb50180_pack_asks_for_health_stations(d: demo.DemoDistrict) -> None:
    """The 5-minute tier needs a 社区卫生服务站, the 15-minute one a 社康中心; the demo has both."""
    import tomllib

    pack = tomllib.loads((ROOT / "geo" / "evaluate" / "packs" / "gb50180-2018.toml").read_text("utf-8"))
    kinds = {t["key"]: set(t.get("kinds", [])) | {r["kind"] for r in t.get("rules", [])} for t in pack["tiers"]}
    assert "health_station" in kinds["5min"] and "clinic" not in kinds["5min"]
    assert "clinic" in kinds["15min"] and "health_station" not in kinds["15min"]
    counts = d.facilities.kind.value_counts()
    assert counts["health_station"] >= 10 and counts["clinic"] == 4


def test_cohorts(d: demo.DemoDistrict) -> None:
    dem = d.demand
    cols = ["pop_60plus", "pop_0_3", "pop_3_6", "pop_6_12"]
    assert list(demo.COHORT_COLUMNS) == cols
    for c in cols:
        assert pd.api.types.is_integer_dtype(dem[c]) and (dem[c] >= 0).all(), c
    assert (dem[cols].sum(axis=1) <= dem.population).all()
    share = dem[cols].sum() / dem.population.sum()
    assert 0.07 <= share["pop_60plus"] <= 0.11
    for c in ("pop_0_3", "pop_3_6"):
        assert 0.02 <= share[c] <= 0.05, c
    assert 0.04 <= share["pop_6_12"] <= 0.09
    village = dem[dem.housing == "village"]
    assert village.pop_60plus.sum() / village.population.sum() < share["pop_60plus"]


def test_parks_carry_kind_and_metric_area(d: demo.DemoDistrict) -> None:
    parks = d.parks
    assert (parks.kind == "park").all()
    area = np.array([shapely.area(g) for g in parks.to_crs(METRIC).geometry.values])
    assert np.allclose(parks.area_m2.to_numpy(), area, rtol=1e-4, atol=0.5)
    a = parks.area_m2
    assert (a < 2000).sum() >= 2 and a.between(2000, 5000, inclusive="left").sum() >= 2
    assert (a >= 5000).sum() >= 2
    # every park has an entrance point (kind park) within 25 m of its polygon
    ent = d.facilities[d.facilities.kind == "park"].to_crs(METRIC).geometry
    for geom in parks.to_crs(METRIC).geometry:
        assert ent.distance(geom).min() < 25.0
    # pocket parks keep clear of the streets
    lines = gpd.GeoSeries([data["geometry"] for *_, data in d.graph.edges(data=True)], crs=4326).to_crs(METRIC)
    for geom in parks.to_crs(METRIC).geometry[a < 5000]:
        assert not lines.intersects(geom).any()


# ----------------------------------------------------------------------------- immutability


def test_cached_frames_cannot_be_corrupted(d: demo.DemoDistrict) -> None:
    before = {layer: frame_signature(getattr(d, layer)) for layer in demo.LAYERS}
    fac = d.facilities
    fac.loc[:, "kind"] = "broken"
    fac.loc[fac.index[:5], "name"] = None
    dem = d.demand
    dem["population"] = 0
    parks = d.parks
    parks.loc[parks.index[0], "area_m2"] = -1.0
    again = demo.build_demo()
    assert again is d
    for layer in demo.LAYERS:
        assert frame_signature(getattr(again, layer)) == before[layer], layer
    assert again.demand.population.sum() == 150_000
    with pytest.raises(nx.NetworkXError):
        d.graph.add_node(1)
    with pytest.raises(ValueError):
        d.network.edge_length[0] = 0.0
    with pytest.raises(TypeError):
        d.gates["C01"] = ()  # type: ignore[index]
    assert d.network is d.network  # built once


def test_demo_network_is_the_walk_network_of_its_graph(d: demo.DemoDistrict, w: nx.Graph) -> None:
    from geo import network

    net = d.network
    assert isinstance(net, network.WalkNetwork)
    assert net.n_nodes == w.number_of_nodes() and net.n_edges == w.number_of_edges()
    assert abs(net.edge_length.sum() - sum(length for *_, length in w.edges(data="length"))) < 1e-3


def test_parks_file(tmp_path: Path, d: demo.DemoDistrict) -> None:
    out = demo.write_demo_files(tmp_path)
    parks = gpd.read_file(out["parks"])
    assert list(parks.id) == list(d.parks.id) and (parks.kind == "park").all()
    assert np.allclose(parks.area_m2, d.parks.area_m2)
    table = pd.read_csv(out["demand"])
    assert (table[list(demo.COHORT_COLUMNS)].sum(axis=1) <= table.population).all()
    assert not list(tmp_path.glob(".*"))
