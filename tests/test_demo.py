"""Tests of the generated demo district (geo/demo.py)."""

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
    if any(word in hw for word in ("motor", "abandoned", "construction", "cycleway", "platform",
                                   "proposed", "raceway", "bus_guideway")):
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
    return walk_graph(d.network)


@pytest.fixture(scope="module")
def walk_lines(d: demo.DemoDistrict) -> gpd.GeoSeries:
    geoms = [data["geometry"] for _, _, data in d.network.edges(data=True) if walkable(data)]
    return gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs(METRIC)


def edge_join(g: nx.MultiDiGraph, pts: gpd.GeoSeries) -> list[tuple[int, int, float, float]]:
    """Join points at the nearest walkable edge: (u, v, metres via u, metres via v)."""
    edges = [(u, v, data["length"]) for u, v, data in g.edges(data=True) if walkable(data)]
    lines = gpd.GeoSeries([data["geometry"] for *_, data in g.edges(data=True) if walkable(data)],
                          crs="EPSG:4326").to_crs(METRIC).values
    p = pts.to_crs(METRIC).values
    idx = shapely.STRtree(lines).nearest(p)
    frac = shapely.line_locate_point(lines[idx], p, normalized=True)
    perp = shapely.distance(lines[idx], p)
    out = []
    for i, f, e in zip(idx, frac, perp):
        u, v, length = edges[i]
        out.append((u, v, e + f * length, e + (1 - f) * length))
    return out


def walk_distances(w: nx.Graph, g: nx.MultiDiGraph, sources: gpd.GeoSeries,
                   targets: gpd.GeoSeries, cutoff: float | None = None) -> np.ndarray:
    """Network metres from the nearest source to each target (inf when out of reach)."""
    h = w.copy()
    for u, v, du, dv in edge_join(g, sources):
        for n, x in ((u, du), (v, dv)):
            if not h.has_edge("src", n) or h["src"][n]["length"] > x:
                h.add_edge("src", n, length=x)
    dist = nx.single_source_dijkstra_path_length(h, "src", cutoff=cutoff, weight="length")
    return np.array([min(dist.get(u, np.inf) + du, dist.get(v, np.inf) + dv)
                     for u, v, du, dv in edge_join(g, targets)])


# ----------------------------------------------------------------------------- determinism


def frame_signature(gdf: gpd.GeoDataFrame) -> tuple:
    return (pd.DataFrame(gdf.drop(columns="geometry")).to_json(),
            shapely.get_coordinates(gdf.geometry.values).tobytes())


def network_signature(g: nx.MultiDiGraph) -> tuple:
    nodes = np.array([(n, g.nodes[n]["x"], g.nodes[n]["y"]) for n in g.nodes])
    edges = [(u, v, k, tuple(sorted((a, str(b)) for a, b in data.items())))
             for u, v, k, data in g.edges(keys=True, data=True)]
    return nodes.tobytes(), edges


def test_two_builds_are_identical() -> None:
    a = demo.build_demo.__wrapped__(2026)
    b = demo.build_demo.__wrapped__(2026)
    assert network_signature(a.network) == network_signature(b.network)
    for layer in ("facilities", "demand", "residential_zones", "streets", "communities",
                  "candidates", "lots", "residences", "parks"):
        assert frame_signature(getattr(a, layer)) == frame_signature(getattr(b, layer)), layer
    assert a.gates == b.gates and a.cluster_nodes == b.cluster_nodes
    c = demo.build_demo.__wrapped__(7)
    assert network_signature(c.network) != network_signature(a.network)


def test_build_is_cached() -> None:
    assert demo.build_demo() is demo.build_demo()


def test_committed_boundaries_match_a_fresh_write(tmp_path: Path) -> None:
    out = demo.write_boundaries(tmp_path)
    for key, name in (("streets", "demo_streets.geojson"),
                      ("communities", "demo_communities.geojson")):
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
    for layer in ("facilities", "demand", "residential_zones", "streets", "communities",
                  "candidates", "lots", "residences", "parks"):
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
    assert set(counts.index) == {"party_center", "micro_station", "park", "clinic"}
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
    main_gates = gpd.GeoSeries([Point(d.network.nodes[d.gates[c][0]]["x"],
                                      d.network.nodes[d.gates[c][0]]["y"]) for c in res.id],
                               crs=4326).to_crs(METRIC)
    assert (main_gates.distance(res.to_crs(METRIC).geometry.reset_index(drop=True)) < 1).all()


def test_about_half_the_parking_gap_closes_within_500_m(d: demo.DemoDistrict) -> None:
    """Like Dongxiao street: hour-by-hour matching within 500 m closes about half the gap."""
    from geo import network, parking

    net = network.from_graph(d.network)
    share = parking.match_parking(net, d.lots, d.residences, max_walk_m=500).summary()["share_of_demand"]
    assert 0.4 <= share <= 0.6


# ----------------------------------------------------------------------------- network


def test_network_is_osmnx_style(d: demo.DemoDistrict) -> None:
    g = d.network
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
    assert {"primary", "secondary", "tertiary", "residential", "living_street", "footway",
            "service", "motorway", "motorway_link"} <= highways


def test_walk_network_is_connected(d: demo.DemoDistrict, w: nx.Graph) -> None:
    assert nx.is_connected(w)
    assert nx.is_weakly_connected(d.network)
    dead_ends = sum(1 for n in w if w.degree(n) == 1)
    assert dead_ends >= 50


def test_carriageways_and_motorway_are_not_walkable(d: demo.DemoDistrict, w: nx.Graph) -> None:
    g = d.network
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
    for u, v, data in d.network.edges(data=True):
        if (data.get("footway") == "crossing" or data.get("bridge") == "yes") \
                and cut.has_edge(u, v):
            cut.remove_edge(u, v)
    big = [c for c in nx.connected_components(cut) if len(c) > 20]
    assert len(big) >= 9  # at least one piece per super-block


def test_compounds_are_reached_only_through_gates(d: demo.DemoDistrict, w: nx.Graph) -> None:
    assert 20 <= len(d.gates) <= 30
    for cid, gates in d.gates.items():
        inner = set(d.compound_nodes[cid])
        assert 1 <= len(gates) <= 2 and inner and not inner & set(gates)
        assert nx.has_path(w, next(iter(inner)), next(n for n in w if n not in inner
                                                       and n not in gates))
        cut = w.subgraph(n for n in w if n not in gates)
        for comp in nx.connected_components(cut):
            if comp & inner:
                assert comp <= inner, cid
    private = [(u, v) for u, v, data in d.network.edges(data=True)
               if data.get("access") == "private"]
    inner_all = set().union(*map(set, d.compound_nodes.values()))
    assert private and any(u in inner_all or v in inner_all for u, v in private)


def test_cluster_beyond_expressway_hangs_on_the_footbridge(d: demo.DemoDistrict,
                                                          w: nx.Graph) -> None:
    u, v = d.footbridge
    data = d.network.get_edge_data(u, v)[0]
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
    assert any(data["highway"] == "motorway_link" and (a in cluster or b in cluster)
               for a, b, data in d.network.edges(data=True))


def test_motorway_spot_is_off_the_walk_network(d: demo.DemoDistrict,
                                               walk_lines: gpd.GeoSeries) -> None:
    spot = gpd.GeoSeries([d.motorway_spot], crs=4326).to_crs(METRIC).iloc[0]
    assert walk_lines.distance(spot).min() > 300.0  # beyond the default snapping limit
    g = d.network
    lon, lat = d.motorway_spot.coords[0]
    node = next(n for n in g.nodes if (g.nodes[n]["x"], g.nodes[n]["y"]) == (lon, lat))
    assert {data["highway"] for *_, data in g.in_edges(node, data=True)} == {"motorway_link"}


def test_points_lie_near_walkable_edges(d: demo.DemoDistrict,
                                        walk_lines: gpd.GeoSeries) -> None:
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
    far = walk_distances(w, d.network, f.geometry, d.demand.geometry) > 1000
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
    assert set(out) == {"facilities", "demand", "candidates", "lots", "residences", "network"}
    cols = {
        "facilities": ["id", "name", "kind", "level", "lon", "lat"],
        "demand": ["id", "name", "population", "lon", "lat"],
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
    assert g.number_of_nodes() == d.network.number_of_nodes()
    assert g.number_of_edges() == d.network.number_of_edges()
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
