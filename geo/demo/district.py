"""The demo district as one object, and :func:`build_demo` that lays it out (cached).

The district is built once per seed and cached; what it hands out cannot corrupt
the cache: every layer is a fresh copy on each access, the networkx graph is
frozen, and the :class:`~lifecircle.geo.network.WalkNetwork` holds read-only
arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import geopandas as gpd
import networkx as nx
import numpy as np
from shapely.geometry import Point, box

from ..network import WalkNetwork, from_graph
from ..settings import DEFAULT_SEED
from ._base import _ID0, _N_COMPOUNDS, METRIC_CRS, NAME_EN, NAME_ZH, _gdf, _local_to_wgs, _Net
from .blocks import _cluster, _compound_names, _fill_block, _Zones
from .facilities import (
    _STREET_PARK_NAMES,
    _STREET_PARKS,
    _amenities,
    _boundaries,
    _candidates,
    _facilities,
    _park_gates,
    _pocket_parks,
    _service_hubs,
)
from .parking import _parking
from .population import _cohorts, _demand, _zones_layer
from .streets import (
    _assign_compounds,
    _build_arterials,
    _build_block_streets,
    _frontage,
    _make_block,
    _midblock_crossings,
    _motorway_spot,
    _Snapper,
    _street_names,
    _to_graph,
    _walk_lines,
)

__all__ = ["DemoDistrict", "build_demo", "LAYERS", "COHORT_COLUMNS"]

#: The GeoDataFrame layers of a district, in the order they are built.
LAYERS = (
    "facilities",
    "demand",
    "residential_zones",
    "streets",
    "communities",
    "parks",
    "candidates",
    "lots",
    "residences",
)
#: Age-cohort columns of the demand (generated shares, see geo.demo.population).
COHORT_COLUMNS = ("pop_60plus", "pop_0_3", "pop_3_6", "pop_6_12")
#: Name and source of the demo's WalkNetwork.
NETWORK_NAME, NETWORK_SOURCE = "demo", "lifecircle demo"


@dataclass(frozen=True, eq=False, repr=False)
class DemoDistrict:
    """The generated demo district (cached; what it hands out is safe to edit).

    Every layer attribute returns a fresh copy of the cached frame, so a
    notebook may edit ``d.facilities`` freely: the next access and the next
    :func:`build_demo` call are unchanged.

    Attributes
    ----------
    name, name_en, description
        The street's names and a short description saying the data is generated.
    network
        The walking network as a :class:`~lifecircle.geo.network.WalkNetwork`
        (built once, read-only arrays), which every function of ``geo`` accepts.
    graph
        The osmnx-style ``MultiDiGraph`` in WGS84 (graph attribute
        ``crs="epsg:4326"``) with the driving network too; frozen.
    facilities
        ``id, name, kind, level, geometry`` points of 17 kinds (the 4 first ones:
        party_center, micro_station, park, clinic; then kindergarten,
        primary_school, middle_school, childcare, elderly_care, nursing_home,
        culture, sports, market, police, library, post_station,
        health_station). A park's points are its entrances.
    demand
        Residential buildings: ``id, name, population, housing, compound_id, zone_id``
        and the generated age cohorts ``pop_60plus, pop_0_3, pop_3_6, pop_6_12``.
    residential_zones
        Compounds and the village as polygons: ``id, name, housing, population``.
    streets, communities
        The 街道 boundary (``id, name``) and the 社区 that tile it (``id, name, street``).
    parks
        Park polygons: ``id, name, kind`` (``"park"``), ``area_m2`` (metric area).
    candidates
        Candidate micro-station sites (``id, name``).
    lots
        Shared-parking lots: ``id, name, land_use, capacity, open, reserved, price``.
    residences
        Compounds short of night parking: ``id, name, demand, window`` at the main gate.
    gates
        Compound id to its gate node ids (walkable entrances).
    compound_nodes
        Compound id to the node ids of its internal paths.
    cluster_nodes
        Node ids of the residential cluster beyond the expressway.
    footbridge
        ``(u, v)`` of the footbridge edge over the expressway.
    motorway_spot
        A WGS84 point (a maintenance depot) reachable only along the expressway.
    seed
        The seed the district was built with.
    """

    name: str
    name_en: str
    description: str
    graph: nx.MultiDiGraph
    frames: Mapping[str, gpd.GeoDataFrame]
    gates: Mapping[str, tuple[int, ...]]
    compound_nodes: Mapping[str, tuple[int, ...]]
    cluster_nodes: tuple[int, ...]
    footbridge: tuple[int, int]
    motorway_spot: Point
    seed: int = DEFAULT_SEED

    def __repr__(self) -> str:
        return f"DemoDistrict({self.name_en!r}, seed={self.seed})"

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """Return a copy of layer ``name`` (one of :data:`LAYERS`)."""
        frame = self.frames[name].copy()
        frame.attrs = dict(self.frames[name].attrs)
        return frame

    @functools.cached_property
    def network(self) -> WalkNetwork:
        """The walking network (built on first use, then cached; arrays are read-only)."""
        net = from_graph(self.graph, name=NETWORK_NAME, source=NETWORK_SOURCE)
        for value in vars(net).values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
        return net

    facilities = property(lambda self: self.layer("facilities"), doc="Facility points (a copy).")
    demand = property(lambda self: self.layer("demand"), doc="Residential buildings (a copy).")
    residential_zones = property(
        lambda self: self.layer("residential_zones"), doc="Compounds and the village (a copy)."
    )
    streets = property(lambda self: self.layer("streets"), doc="The 街道 boundary (a copy).")
    communities = property(lambda self: self.layer("communities"), doc="The 社区 (a copy).")
    parks = property(lambda self: self.layer("parks"), doc="Park polygons (a copy).")
    candidates = property(lambda self: self.layer("candidates"), doc="Candidate sites (a copy).")
    lots = property(lambda self: self.layer("lots"), doc="Shared-parking lots (a copy).")
    residences = property(lambda self: self.layer("residences"), doc="Compounds short of night parking (a copy).")


# --------------------------------------------------------------------------- build


def _build_network(rng: np.random.Generator) -> tuple[_Net, _Zones, int]:
    """Lay out the whole network; return the builder, the zones and the depot node."""
    net = _Net()
    art = _build_arterials(net)
    _midblock_crossings(net, art, rng)
    frontage = _frontage(net)
    zones = _Zones()
    names, cnames = _street_names(rng), _compound_names(rng)
    stubs: dict[int, list[float]] = {}
    for key in sorted(_N_COMPOUNDS, key=lambda k: (k[1], k[0])):
        block = _make_block(key, art, net, frontage, rng)
        _assign_compounds(block, rng)
        _build_block_streets(block, net, names, stubs, rng)
        _fill_block(net, block, zones, cnames, rng)
    _cluster(net, zones, cnames, art, frontage[1], rng)
    spot = _motorway_spot(net, art)
    net.finalize()
    zones.parks.sort(key=lambda p: p["id"])
    for comp in zones.compounds:
        comp["gate_xy"] = [net.xy[g] for g in comp["gates"]]
    return net, zones, spot


def _amenity_rng(seed: int) -> np.random.Generator:
    """The separate random stream of the amenities added for the evaluation.

    The schools, care homes, markets, pocket parks and age cohorts draw from
    their own stream, so that every layer drawn from the main stream (streets,
    compounds, population, the first four kinds, parks, candidates, lots) is
    bit-for-bit what it was before they existed.
    """
    return np.random.default_rng([seed, 0x11E7A1])


def _build(seed: int) -> DemoDistrict:
    """Build the demo district from scratch (uncached)."""
    rng = np.random.default_rng(seed)
    net, zones, spot = _build_network(rng)
    graph = _to_graph(net)
    snap = _Snapper(_walk_lines(net, public_only=True))
    street_poly, comm_polys = _boundaries()
    park_polys = [box(*p["rect"]) for p in zones.parks]
    fac = _facilities(snap, zones)
    dem = _demand(zones, rng)
    zon = _zones_layer(zones)
    cand = _candidates(snap, street_poly, park_polys, rng)
    lots, res = _parking(net, snap, zones, rng)
    # --- the amenities of the evaluation (own random stream; nothing above changes)
    extra = _amenity_rng(seed)
    cohorts = _cohorts(dem[0], extra)
    pocket = _pocket_parks(net, zones, [*cand[1], *dem[1], *lots[1]], extra)
    amen = _amenities(snap, zones, pocket, extra)
    # --- the 5-minute services and street parks (drawn after all of the above)
    first: dict[str, int] = {}
    for rec in amen[0]:
        prefix = rec["id"].split("-")[0]
        first[prefix] = first.get(prefix, 0) + 1
    street_parks = _pocket_parks(
        net,
        zones,
        [*cand[1], *dem[1], *lots[1], *amen[1]],
        extra,
        _STREET_PARKS,
        _STREET_PARK_NAMES,
        tuple(p["polygon"] for p in pocket),
    )
    hubs = _service_hubs(snap, zones, first, extra)  # on the streets, so never in a park
    gates = _park_gates(snap, zones, street_parks)
    small = pocket + street_parks
    parks = [dict(id=p["id"], name=p["name"], kind="park") for p in zones.parks]
    parks += [dict(id=p["id"], name=p["name"], kind="park") for p in small]
    park_layer = _gdf(parks, park_polys + [p["polygon"] for p in small], ["id", "name", "kind"])
    park_layer["area_m2"] = park_layer.to_crs(METRIC_CRS).area.round(1).to_numpy()
    demand = _gdf(*dem, ["id", "name", "population", "housing", "compound_id", "zone_id"])
    for col, values in cohorts.items():
        demand[col] = values

    def ids(nodes: Iterable[int]) -> tuple[int, ...]:
        return tuple(_ID0 + n for n in nodes)

    assert zones.footbridge is not None, "the cluster beyond the expressway always gets its footbridge"
    frames = {
        "facilities": _gdf(
            fac[0] + amen[0] + hubs[0] + gates[0],
            fac[1] + amen[1] + hubs[1] + gates[1],
            ["id", "name", "kind", "level"],
        ),
        "demand": demand,
        "residential_zones": _gdf(*zon, ["id", "name", "housing", "population"]),
        "streets": _gdf([dict(id="demo", name=NAME_ZH)], [street_poly], ["id", "name"]),
        "communities": _gdf(
            [dict(id=c, name=n, street=NAME_ZH) for c, n, _ in comm_polys],
            [p for *_, p in comm_polys],
            ["id", "name", "street"],
        ),
        "parks": park_layer,
        "candidates": _gdf(*cand, ["id", "name"]),
        "lots": _gdf(*lots, ["id", "name", "land_use", "capacity", "open", "reserved", "price"]),
        "residences": _gdf(*res, ["id", "name", "demand", "window"]),
    }
    return DemoDistrict(
        name=NAME_ZH,
        name_en=NAME_EN,
        description=_DESCRIPTION,
        graph=nx.freeze(graph),
        frames=MappingProxyType(frames),
        gates=MappingProxyType({c["id"]: ids(c["gates"]) for c in zones.compounds}),
        compound_nodes=MappingProxyType({c["id"]: ids(c["nodes"]) for c in zones.compounds}),
        cluster_nodes=ids(zones.cluster_nodes),
        footbridge=(_ID0 + zones.footbridge[0], _ID0 + zones.footbridge[1]),
        motorway_spot=Point(_local_to_wgs(np.array([net.xy[spot]]))[0]),
        seed=seed,
    )


_DESCRIPTION = (
    "Generated demo district (not real data): a dense Shenzhen-like street of about "
    "3 x 2.7 km north of Futian with arterials and sidewalks, an expressway with one "
    "footbridge, gated compounds, an urban village, parks and pocket parks, party-mass "
    "service centres, micro-stations, clinics and health stations, schools, kindergartens, "
    "elderly care, markets, sports grounds, candidate sites and shared-parking lots."
)


@functools.lru_cache(maxsize=4)
def build_demo(seed: int = DEFAULT_SEED) -> DemoDistrict:
    """Return the generated demo district (cached; its layers are handed out as copies).

    Parameters
    ----------
    seed
        Seed of the numpy random generator; the same seed gives the same district.

    Returns
    -------
    DemoDistrict
        Network, facilities, demand, zones, boundaries, candidates and parking layers,
        all in WGS84.
    """
    return _build(seed)
