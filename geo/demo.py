"""The embedded demo district: a generated, deterministic Shenzhen-like street.

Nothing here is real data.  :func:`build_demo` lays out a dense street (街道) of
about 3 x 2.7 km north of Futian, named "示范街道（生成的演示数据）" /
"Demo street (generated)", with everything a life-circle study needs:

* an osmnx-style walking and driving network (``networkx.MultiDiGraph`` in
  WGS84): arterials modelled as a carriageway (``foot=no``) between two
  sidewalks that meet only at signalised crossings, an expressway with ramps
  and one footbridge, local streets with dead ends and missing links, an urban
  village (城中村) of narrow alleys, gated compounds (小区) reachable only
  through their gates, and parks with loop paths;
* facilities (党群服务中心, 党群服务站, 公园, 社康中心) with realistic gaps;
* residential buildings with population, the compounds and the village as
  polygons, the street and community (社区) boundaries, candidate sites for new
  micro-stations, and the parking lots and short compounds of a shared-parking
  (错时共享停车) study.

The layout is built in local metres, placed in EPSG:32650 (UTM 50N) so that its
centre lies at about lon 114.06, lat 22.56, and converted to WGS84.  Every
GeoDataFrame carries ``attrs["source"] = SOURCE`` so the data can never be
mistaken for a survey.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.polygon import orient
from shapely.ops import unary_union
from .settings import DEFAULT_SEED  # noqa: F401 (re-exported)

__all__ = [
    "SOURCE",
    "NAME_ZH",
    "NAME_EN",
    "METRIC_CRS",
    "DemoDistrict",
    "build_demo",
    "write_boundaries",
    "write_demo_files",
]

#: Provenance stamped on every layer of the demo.
SOURCE = "lifecircle generated demo (not real data)"
#: The demo street's names.
NAME_ZH = "示范街道（生成的演示数据）"
NAME_EN = "Demo street (generated)"
#: Metric CRS the layout is built in (UTM zone 50N, Shenzhen).
METRIC_CRS = "EPSG:32650"

_CENTRE_LONLAT = (114.06, 22.56)
_CENTRE_LOCAL = (1500.0, 1350.0)
_ID0 = 100_001  # node ids start here (not 0: ids are labels, not indices)

# Layout in local metres: x east, y north, district = [0, 3000] x [0, 2700] + bulge.
_XS = (0.0, 1000.0, 2000.0, 3000.0)  # north-south arterials
_YS = (0.0, 900.0, 1800.0)  # east-west arterials
_Y_FRONT = 2630.0  # frontage street along the expressway; top of the arterials' sidewalks
_Y_RAMP = 2650.0  # where the arterials' carriageways turn into ramps
_Y_EXPWY = 2700.0  # expressway centreline, the district's north edge
_SW = 18.0  # sidewalk offset from an arterial's centreline
_EXT = 150.0  # arterials run on this far beyond the district (a clipped extract)
_BULGE = (1150.0, 2700.0, 1750.0, 3000.0)  # the part of the street beyond the expressway
_CLUSTER_X = (1200.0, 1460.0, 1700.0)
_CLUSTER_Y = (2770.0, 2940.0)
_FOOTBRIDGE_X = 1400.0
_SPOT = (2450.0, 3060.0)  # expressway maintenance depot, reachable only by motorway_link
_INSET = 15.0  # compound / park wall inset from the street centreline

_ARTERIALS_V = (("松涛路", "secondary"), ("鹏程大道", "primary"), ("梧桐路", "secondary"),
                ("荔香路", "secondary"))
_ARTERIALS_H = (("锦绣路", "secondary"), ("深云大道", "primary"), ("翠微路", "secondary"))
_EXPWY_NAME = "鹏城快速路"
_FRONTAGE_NAME = "鹏城快速路辅路"
_VILLAGE = ("V01", "榕岗村（城中村）", "榕岗村")

_COMMUNITIES = (
    ("SQ01", "玉兰社区", ((0, 0, 1000, 1800),)),
    ("SQ02", "青榕社区", ((1000, 0, 2000, 900),)),
    ("SQ03", "云杉社区", ((2000, 0, 3000, 1800),)),
    ("SQ04", "丹枫社区", ((1000, 900, 2000, 1800),)),
    ("SQ05", "翠湖社区", ((0, 1800, 1000, 2700),)),
    ("SQ06", "月桂社区", ((1000, 1800, 3000, 2700), _BULGE)),
)

# Block (i, j) = column i, row j of the arterial grid; cells (a, b) inside it.
_GRID_NM = {(0, 0): (4, 4), (1, 0): (5, 4), (2, 0): (4, 4), (1, 1): (5, 4), (2, 1): (4, 5),
            (0, 2): (5, 4), (1, 2): (4, 4), (2, 2): (5, 4)}
_VILLAGE_GRID = ((18.0, 420.0, 630.0, 810.0, 982.0), (918.0, 1100.0, 1350.0, 1600.0, 1782.0))
_SPECIAL = {
    (0, 1): {(0, 1): "village", (0, 2): "village"},
    (1, 2): {(1, 1): "park:P1", (2, 1): "park:P1", (1, 2): "park:P1", (2, 2): "park:P1"},
    (2, 0): {(1, 1): "park:P2"},
    (0, 2): {(1, 2): "park:P3"},
    (2, 2): {(2, 1): "industrial", (3, 1): "industrial", (3, 2): "industrial",
             (2, 2): "industrial"},
    (2, 1): {(0, 0): "hospital"},
    (1, 1): {(0, 0): "retail"},
}
_N_COMPOUNDS = {(0, 0): 3, (1, 0): 3, (2, 0): 3, (0, 1): 2, (1, 1): 3, (2, 1): 3,
                (0, 2): 3, (1, 2): 2, (2, 2): 2}
_PARKS = {"P1": ("翠峰公园", 4), "P2": ("荔枝湾公园", 3), "P3": ("榕树头公园", 2)}

_STREET_WORDS = ("景秀", "华茂", "安康", "文华", "新风", "桂园", "榕荫", "竹林", "兰亭", "枫林",
                 "丽水", "怡景", "福荣", "康乐", "华信", "益民", "长青", "明珠", "书香", "乐群",
                 "友谊", "振兴", "东兴", "西园", "南苑", "北苑", "嘉禾", "金桂", "银杏", "青云",
                 "朝阳", "百合", "紫薇", "海棠", "丁香", "芙蓉", "石榴", "杜鹃", "木棉", "凤凰")
_STREET_ENDS = ("路", "街", "一路", "二路", "北街", "南街")
_COMPOUND_WORDS = ("翠林", "金色", "碧海", "东方", "阳光", "锦华", "御景", "怡和", "丽晶", "荔景",
                   "康欣", "天悦", "雅颂", "紫云", "鹏苑", "莲峰", "景湖", "松岭", "泰和", "瑞祥",
                   "宏图", "万福", "嘉信", "富源", "彩云", "春晖", "秋实", "晴川", "观澜", "聚贤")
_COMPOUND_ENDS = ("花园", "苑", "家园", "名苑", "雅居", "华庭", "新村", "嘉园", "公寓", "山庄")

# Hand-placed facilities, local metres (snapped to the nearest public street).
_FACILITY_PLAN = (
    ("PC-01", "示范街道党群服务中心", "party_center", "street", (1330, 1060)),
    ("PC-02", "玉兰社区党群服务中心", "party_center", "community", (720, 560)),
    ("PC-03", "青榕社区党群服务中心", "party_center", "community", (1520, 380)),
    ("PC-04", "云杉社区党群服务中心", "party_center", "community", (2450, 1350)),
    ("PC-05", "丹枫社区党群服务中心", "party_center", "community", (1700, 1480)),
    ("PC-06", "翠湖社区党群服务中心", "party_center", "community", (520, 2250)),
    ("PC-07", "月桂社区党群服务中心", "party_center", "community", (2480, 2260)),
    ("MS-01", "锦绣党群服务站", "micro_station", None, (330, 260)),
    ("MS-02", "鹏程党群服务站", "micro_station", None, (1230, 640)),
    ("MS-03", "梧桐党群服务站", "micro_station", None, (1850, 760)),
    ("MS-04", "荔香党群服务站", "micro_station", None, (2600, 860)),
    ("MS-05", "榕岗党群服务站", "micro_station", None, (900, 1450)),
    ("MS-06", "翠微党群服务站", "micro_station", None, (1250, 1950)),
    ("MS-07", "松涛党群服务站", "micro_station", None, (300, 2550)),
    ("MS-08", "北岭党群服务站", "micro_station", None, (1550, 2560)),
    ("MS-09", "云杉党群服务站", "micro_station", None, (2300, 2000)),
    ("MS-10", "荔园党群服务站", "micro_station", None, (2850, 2500)),
    ("CL-01", "玉兰社区社康中心", "clinic", None, (560, 780)),
    ("CL-02", "丹枫社区社康中心", "clinic", None, (1450, 1250)),
    ("CL-03", "云杉社区社康中心", "clinic", None, (2350, 600)),
    ("CL-04", "月桂社区社康中心", "clinic", None, (2150, 2350)),
)

_LOT_KINDS = {  # land_use: (name suffix, capacity range, reserved range, price choices)
    "office": ("大厦停车场", (30, 150), (0, 12), (5, 8, 10, 10, 12)),
    "retail": ("广场停车场", (60, 300), (5, 25), (8, 10, 15, 20)),
    "hotel": ("酒店停车场", (20, 50), (0, 6), (10, 15, 20)),
    "industrial": ("产业园停车场", (30, 120), (0, 12), (0, 5, 5, 8)),
    "hospital": ("医院停车场", (20, 60), (5, 15), (10, 15)),
}
_LOT_WORDS = ("鹏程", "卓越", "华润", "中信", "招商", "星河", "海岸", "金融", "科技", "创新",
              "天安", "新世界", "国际", "时代", "荣超", "江苏", "大中华", "皇岗", "福田", "新洲",
              "锦峰", "云端", "益田", "凤凰", "信和", "金地", "博今", "东海", "南光", "泰然",
              "中航", "嘉里", "深业", "彩田", "华强", "莲花", "景田", "香蜜", "梅林", "园岭")
_PARKING_WALK = 500.0  # metres a resident walks from a lot to the compound's gate
_OPEN_HOURS = ("19:00-08:00", "19:00-08:00", "19:00-08:00", "19:30-07:30", "18:30-08:30")
_WINDOWS = ("19:30-07:30", "19:30-07:30", "20:00-07:30", "19:00-07:30", "20:00-07:00")
#: Hours every resident's window covers: the demo's supply is calibrated on them.
_NIGHT_HOURS = (20, 21, 22, 23, 0, 1, 2, 3, 4, 5, 6)


# --------------------------------------------------------------------------- result


@dataclass
class DemoDistrict:
    """The generated demo district (treat as read-only: it is cached).

    Attributes
    ----------
    name, name_en, description
        The street's names and a short description saying the data is generated.
    network
        osmnx-style ``MultiDiGraph`` in WGS84 (graph attribute ``crs="epsg:4326"``).
    facilities
        ``id, name, kind, level, geometry`` points.
    demand
        Residential buildings: ``id, name, population, housing, compound_id, zone_id``.
    residential_zones
        Compounds and the village as polygons: ``id, name, housing, population``.
    streets, communities
        The 街道 boundary (``id, name``) and the 社区 that tile it (``id, name, street``).
    parks
        Park polygons (``id, name``).
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
    network: nx.MultiDiGraph
    facilities: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    residential_zones: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    parks: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    lots: gpd.GeoDataFrame
    residences: gpd.GeoDataFrame
    gates: dict[str, tuple[int, ...]]
    compound_nodes: dict[str, tuple[int, ...]]
    cluster_nodes: tuple[int, ...]
    footbridge: tuple[int, int]
    motorway_spot: Point
    seed: int = DEFAULT_SEED


# --------------------------------------------------------------------------- geometry


@functools.cache
def _transformers() -> tuple[Transformer, Transformer, tuple[float, float]]:
    """Return (to_wgs84, to_metric, local origin in EPSG:32650)."""
    to_wgs = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
    to_utm = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    e, n = to_utm.transform(*_CENTRE_LONLAT)
    return to_wgs, to_utm, (e - _CENTRE_LOCAL[0], n - _CENTRE_LOCAL[1])


def _local_to_utm(xy: np.ndarray) -> np.ndarray:
    """Shift local metres to EPSG:32650 coordinates."""
    ox, oy = _transformers()[2]
    return np.asarray(xy, dtype=float) + np.array([ox, oy])


def _local_to_wgs(xy: np.ndarray) -> np.ndarray:
    """Convert an (n, 2) array of local metres to lon/lat."""
    utm = _local_to_utm(xy)
    lon, lat = _transformers()[0].transform(utm[:, 0], utm[:, 1])
    return np.column_stack([lon, lat])


def _geoms_to_wgs(geoms: Iterable[Any]) -> list[Any]:
    """Convert shapely geometries in local metres to WGS84."""
    return list(shapely.transform(np.asarray(list(geoms), dtype=object), _local_to_wgs))


def _gdf(records: list[dict], geoms: list[Any], columns: Sequence[str]) -> gpd.GeoDataFrame:
    """Build a WGS84 GeoDataFrame from local-metre geometries, stamped with SOURCE."""
    frame = pd.DataFrame.from_records(records, columns=list(columns))
    gdf = gpd.GeoDataFrame(frame, geometry=_geoms_to_wgs(geoms), crs="EPSG:4326")
    gdf.attrs["source"] = SOURCE
    return gdf


# --------------------------------------------------------------------------- network builder


@dataclass
class _Line:
    """A straight street piece that is split into edges at the nodes attached to it."""

    p0: tuple[float, float]
    p1: tuple[float, float]
    tags: dict[str, Any]
    nodes: list[int]


class _Net:
    """Collects nodes (merged on 1 cm), edges and splittable lines in local metres."""

    def __init__(self) -> None:
        self.xy: list[tuple[float, float]] = []
        self.attrs: list[dict[str, Any]] = []
        self.edges: dict[tuple[int, int], dict[str, Any]] = {}
        self.lines: list[_Line] = []
        self._key: dict[tuple[int, int], int] = {}
        self._way = 0

    def node(self, x: float, y: float, **attrs: Any) -> int:
        """Return the node at (x, y), creating it if needed."""
        key = (int(round(x * 100)), int(round(y * 100)))
        nid = self._key.get(key)
        if nid is None:
            nid = len(self.xy)
            self._key[key] = nid
            self.xy.append((float(x), float(y)))
            self.attrs.append({})
        self.attrs[nid].update(attrs)
        return nid

    def way(self) -> int:
        """Return a new way id (osmid of the edges of one street piece)."""
        self._way += 1
        return self._way

    def edge(self, u: int, v: int, **tags: Any) -> None:
        """Add the edge u-v unless it exists in either direction."""
        if u == v or (u, v) in self.edges or (v, u) in self.edges:
            return
        tags.setdefault("osmid", self.way())
        self.edges[(u, v)] = tags

    def path(self, pts: Sequence[tuple[float, float]], **tags: Any) -> list[int]:
        """Add a chain of edges through ``pts`` (one way id) and return its nodes."""
        ids = [self.node(*p) for p in pts]
        tags.setdefault("osmid", self.way())
        for a, b in zip(ids, ids[1:]):
            self.edge(a, b, **tags)
        return ids

    def line(self, p0: tuple[float, float], p1: tuple[float, float], **tags: Any) -> int:
        """Add a splittable straight line and return its index."""
        tags.setdefault("osmid", self.way())
        self.lines.append(_Line(p0, p1, tags, [self.node(*p0), self.node(*p1)]))
        return len(self.lines) - 1

    def attach(self, li: int, x: float, y: float, **attrs: Any) -> int:
        """Put a node on line ``li`` at the projection of (x, y) and return it."""
        ln = self.lines[li]
        p0, p1 = np.array(ln.p0), np.array(ln.p1)
        d = p1 - p0
        t = float(np.clip(np.dot(np.array([x, y]) - p0, d) / np.dot(d, d), 0.0, 1.0))
        px, py = p0 + t * d
        nid = self.node(px, py, **attrs)
        ln.nodes.append(nid)
        return nid

    def finalize(self) -> None:
        """Split every line at its attached nodes into edges."""
        for ln in self.lines:
            p0, d = np.array(ln.p0), np.array(ln.p1) - np.array(ln.p0)
            ts = {n: float(np.dot(np.array(self.xy[n]) - p0, d)) for n in ln.nodes}
            order = sorted(ts, key=ts.get)
            for a, b in zip(order, order[1:]):
                self.edge(a, b, **dict(ln.tags))
        self.lines = []


# --------------------------------------------------------------------------- arterials


@dataclass
class _Arterials:
    """Line indices of the arterials: carriageways and sidewalk pieces."""

    carriage_v: list[int]
    carriage_h: list[int]
    motorway: int
    # (axis, index, side) -> list of (lo, hi, line index) along the arterial
    sidewalks: dict[tuple[str, int, int], list[tuple[float, float, int]]]

    def sidewalk(self, axis: str, index: int, side: int, along: float) -> int:
        """Return the sidewalk piece of an arterial covering coordinate ``along``."""
        for lo, hi, li in self.sidewalks[(axis, index, side)]:
            if lo - 1e-6 <= along <= hi + 1e-6:
                return li
        raise ValueError(f"no sidewalk at {axis}{index}/{side} {along}")


def _carriage_tags(name: str, highway: str) -> dict[str, Any]:
    """Tags of an arterial carriageway: pedestrians use the separate sidewalks."""
    lanes = "8" if highway == "primary" else "6"
    return dict(highway=highway, name=name, foot="no", sidewalk="separate", lanes=lanes,
                maxspeed="60", oneway=False)


def _build_arterials(net: _Net) -> _Arterials:
    """Lay the carriageways, sidewalks, junction crossings and the expressway."""
    v_stations = [-_EXT, *_YS, _Y_FRONT]
    h_stations = [-_EXT, *_XS, _XS[-1] + _EXT]
    cv = [net.line((x, -_EXT), (x, _Y_RAMP), **_carriage_tags(*_ARTERIALS_V[i]))
          for i, x in enumerate(_XS)]
    ch = [net.line((-_EXT, y), (_XS[-1] + _EXT, y), **_carriage_tags(*_ARTERIALS_H[j]))
          for j, y in enumerate(_YS)]
    sidewalks: dict[tuple[str, int, int], list[tuple[float, float, int]]] = {}
    for i, x in enumerate(_XS):
        for side in (-1, 1):
            sidewalks[("v", i, side)] = _sidewalk_pieces(net, "v", x, side, v_stations, _YS)
    for j, y in enumerate(_YS):
        for side in (-1, 1):
            sidewalks[("h", j, side)] = _sidewalk_pieces(net, "h", y, side, h_stations, _XS)
    for i, x in enumerate(_XS):
        for j, y in enumerate(_YS):
            _junction_crossings(net, x, y, cv[i], ch[j])
        _crossing(net, (x - _SW, _Y_FRONT), (x + _SW, _Y_FRONT), cv[i])
    mw = net.line((-2 * _EXT, _Y_EXPWY), (_XS[-1] + 2 * _EXT, _Y_EXPWY), highway="motorway",
                  name=_EXPWY_NAME, foot="no", lanes="8", maxspeed="100", oneway=False)
    for i, x in enumerate(_XS):
        for dx in (-170.0, 170.0):
            end = net.attach(mw, x + dx, _Y_EXPWY)
            net.edge(net.node(x, _Y_RAMP), end, highway="motorway_link", foot="no",
                     name=f"{_ARTERIALS_V[i][0]}匝道", oneway=False)
    return _Arterials(cv, ch, mw, sidewalks)


def _sidewalk_pieces(net: _Net, axis: str, c: float, side: int, stations: list[float],
                     junctions: Sequence[float]) -> list[tuple[float, float, int]]:
    """Add the sidewalk of one side of an arterial, broken at every junction."""
    pieces = []
    for lo, hi in zip(stations, stations[1:]):
        a = lo + (_SW if lo in junctions else 0.0)
        b = hi - (_SW if hi in junctions else 0.0)
        off = c + side * _SW
        p0, p1 = ((off, a), (off, b)) if axis == "v" else ((a, off), (b, off))
        li = net.line(p0, p1, highway="footway", footway="sidewalk")
        pieces.append((a, b, li))
    return pieces


def _crossing(net: _Net, p0: tuple[float, float], p1: tuple[float, float], carriage: int,
              signals: bool = True) -> None:
    """Add a zebra crossing from sidewalk to sidewalk over a carriageway."""
    tags = dict(highway="footway", footway="crossing")
    tags["crossing"] = "traffic_signals" if signals else "uncontrolled"
    li = net.line(p0, p1, **tags)
    mid = ((p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2)
    node = net.attach(carriage, *mid, highway="crossing")
    net.lines[li].nodes.append(node)


def _junction_crossings(net: _Net, x: float, y: float, cv: int, ch: int) -> None:
    """Add the four crossings around the junction of two arterials."""
    net.attach(cv, x, y, highway="traffic_signals")
    net.attach(ch, x, y)
    d = _SW
    _crossing(net, (x - d, y + d), (x + d, y + d), cv)
    _crossing(net, (x - d, y - d), (x + d, y - d), cv)
    _crossing(net, (x + d, y - d), (x + d, y + d), ch)
    _crossing(net, (x - d, y - d), (x - d, y + d), ch)


def _midblock_crossings(net: _Net, art: _Arterials, rng: np.random.Generator) -> None:
    """Add a few signalised mid-block crossings on the arterials."""
    spots = [("h", 1, 500.0), ("h", 1, 1500.0), ("h", 1, 2500.0), ("v", 1, 450.0),
             ("v", 1, 1350.0), ("v", 2, 2250.0), ("h", 2, 1520.0), ("h", 0, 2480.0)]
    for axis, k, along in spots:
        along += float(rng.uniform(-40, 40))
        c = (_XS if axis == "v" else _YS)[k]
        lines = [art.sidewalk(axis, k, s, along) for s in (-1, 1)]
        carriage = (art.carriage_v if axis == "v" else art.carriage_h)[k]
        pts = [(c + s * _SW, along) if axis == "v" else (along, c + s * _SW) for s in (-1, 1)]
        for li, p in zip(lines, pts):
            net.attach(li, *p)
        _crossing(net, pts[0], pts[1], carriage)


# --------------------------------------------------------------------------- blocks


@dataclass
class _Block:
    """A super-block between arterials, cut into cells by local streets."""

    key: tuple[int, int]
    X: list[float]
    Y: list[float]
    edges: dict[str, int]  # 'W','E','S','N' -> boundary line index
    carriage: dict[str, tuple[int, float] | None]  # side -> (carriageway line, coordinate)
    types: dict[tuple[int, int], str] = field(default_factory=dict)
    hseg: dict[tuple[int, int], int] = field(default_factory=dict)  # (a, b) -> line
    vseg: dict[tuple[int, int], int] = field(default_factory=dict)
    names: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.X) - 1

    @property
    def m(self) -> int:
        return len(self.Y) - 1

    def cell_box(self, a: int, b: int) -> tuple[float, float, float, float]:
        """Return (x0, y0, x1, y1) of cell (a, b) measured between street centrelines."""
        return self.X[a], self.Y[b], self.X[a + 1], self.Y[b + 1]

    def side_line(self, a: int, b: int, side: str) -> int | None:
        """Return the line along one side of a cell, or None if that link is missing."""
        if side == "S":
            return self.edges["S"] if b == 0 else self.hseg.get((a, b))
        if side == "N":
            return self.edges["N"] if b + 1 == self.m else self.hseg.get((a, b + 1))
        if side == "W":
            return self.edges["W"] if a == 0 else self.vseg.get((a, b))
        return self.edges["E"] if a + 1 == self.n else self.vseg.get((a + 1, b))

    def is_boundary(self, a: int, b: int, side: str) -> bool:
        """Whether a cell side is the block's boundary (a sidewalk or frontage)."""
        return ((side == "S" and b == 0) or (side == "N" and b + 1 == self.m)
                or (side == "W" and a == 0) or (side == "E" and a + 1 == self.n))


def _grid_positions(lo: float, hi: float, k: int, rng: np.random.Generator) -> list[float]:
    """Return k+1 jittered street positions from lo to hi (ends fixed)."""
    base = np.linspace(lo, hi, k + 1)
    inner = base[1:-1] + rng.uniform(-25.0, 25.0, k - 1)
    return [float(lo), *map(float, inner), float(hi)]


def _make_block(key: tuple[int, int], art: _Arterials, net: _Net, frontage: dict[int, int],
                rng: np.random.Generator) -> _Block:
    """Create the cell grid of super-block ``key`` (no streets yet)."""
    i, j = key
    x0, x1 = _XS[i] + _SW, _XS[i + 1] - _SW
    y0 = _YS[j] + _SW
    y1 = _YS[j + 1] - _SW if j + 1 < len(_YS) else _Y_FRONT
    if key == (0, 1):
        X, Y = list(_VILLAGE_GRID[0]), list(_VILLAGE_GRID[1])
    else:
        n, m = _GRID_NM.get(key, (4, 4))
        X, Y = _grid_positions(x0, x1, n, rng), _grid_positions(y0, y1, m, rng)
    ym = (y0 + y1) / 2
    xm = (x0 + x1) / 2
    edges = {"W": art.sidewalk("v", i, 1, ym), "E": art.sidewalk("v", i + 1, -1, ym),
             "S": art.sidewalk("h", j, 1, xm)}
    edges["N"] = art.sidewalk("h", j + 1, -1, xm) if j + 1 < len(_YS) else frontage[i]
    carriage = {"W": (art.carriage_v[i], _XS[i]), "E": (art.carriage_v[i + 1], _XS[i + 1]),
                "S": (art.carriage_h[j], _YS[j]),
                "N": (art.carriage_h[j + 1], _YS[j + 1]) if j + 1 < len(_YS) else None}
    block = _Block(key, X, Y, edges, carriage)
    block.types = dict(_SPECIAL.get(key, {}))
    return block


def _assign_compounds(block: _Block, rng: np.random.Generator) -> None:
    """Mark random free cells as compounds and the rest as mixed use."""
    free = [(a, b) for a in range(block.n) for b in range(block.m) if (a, b) not in block.types]
    big = [c for c in free if min(np.subtract(block.cell_box(*c)[2:], block.cell_box(*c)[:2]))
           >= 2 * _INSET + 150.0]
    pool = big if len(big) >= _N_COMPOUNDS.get(block.key, 0) else free
    picks = rng.choice(len(pool), size=_N_COMPOUNDS.get(block.key, 0), replace=False)
    for p in sorted(int(p) for p in picks):
        block.types[pool[p]] = "compound"
    for c in free:
        block.types.setdefault(c, "mixed")


def _segment_cells(block: _Block, kind: str, a: int, b: int) -> list[tuple[int, int]]:
    """Cells on either side of an interior segment."""
    if kind == "h":  # from (a, b) to (a+1, b): cells (a, b-1) and (a, b)
        return [(a, b - 1), (a, b)]
    return [(a - 1, b), (a, b)]


def _plan_segments(block: _Block, rng: np.random.Generator) -> set[tuple[str, int, int]]:
    """Choose the interior street segments that exist (parks merge cells; links go missing)."""
    segs = {("h", a, b) for a in range(block.n) for b in range(1, block.m)}
    segs |= {("v", a, b) for a in range(1, block.n) for b in range(block.m)}
    for seg in sorted(segs):
        t = [block.types[c] for c in _segment_cells(block, *seg)]
        if t[0] == t[1] and (t[0].startswith("park") or t[0] == "village"):
            segs.discard(seg)
    for seg in sorted(segs):
        types = {block.types[c] for c in _segment_cells(block, *seg)}
        if types & {"village"} or any(t.startswith("park") for t in types):
            continue
        if rng.random() < 0.07 and _still_ok(block, segs - {seg}):
            segs.discard(seg)
    return segs


def _still_ok(block: _Block, segs: set[tuple[str, int, int]]) -> bool:
    """Whether the block's streets stay connected and each compound keeps two sides."""
    g = nx.Graph()
    n, m = block.n, block.m
    for a in range(n):
        g.add_edge((a, 0), (a + 1, 0))
        g.add_edge((a, m), (a + 1, m))
    for b in range(m):
        g.add_edge((0, b), (0, b + 1))
        g.add_edge((n, b), (n, b + 1))
    for kind, a, b in segs:
        g.add_edge((a, b), (a + 1, b) if kind == "h" else (a, b + 1))
    if not nx.is_connected(g):
        return False
    for (a, b), t in block.types.items():
        if t != "compound":
            continue
        sides = [("h", a, b) in segs or b == 0, ("h", a, b + 1) in segs or b + 1 == m,
                 ("v", a, b) in segs or a == 0, ("v", a + 1, b) in segs or a + 1 == n]
        if sum(sides) < 2:
            return False
    return True


def _street_highway(k: int, count: int, rng: np.random.Generator) -> str:
    """Highway class of a block's k-th interior street line."""
    if k == count // 2:
        return "tertiary"
    return "living_street" if rng.random() < 0.12 else "residential"


def _build_block_streets(block: _Block, net: _Net, names: list[str],
                         stubs: dict[int, list[float]], rng: np.random.Generator) -> None:
    """Lay the block's local streets, attach them to the sidewalks, add carriageway stubs."""
    segs = _plan_segments(block, rng)
    for a in range(1, block.n):
        hw, nm = _street_highway(a, block.n, rng), names.pop()
        block.names[("v", a)] = nm
        for b in range(block.m):
            if ("v", a, b) in segs:
                p0, p1 = (block.X[a], block.Y[b]), (block.X[a], block.Y[b + 1])
                block.vseg[(a, b)] = net.line(p0, p1, highway=hw, name=nm)
    for b in range(1, block.m):
        hw, nm = _street_highway(b, block.m, rng), names.pop()
        block.names[("h", b)] = nm
        for a in range(block.n):
            if ("h", a, b) in segs:
                p0, p1 = (block.X[a], block.Y[b]), (block.X[a + 1], block.Y[b])
                block.hseg[(a, b)] = net.line(p0, p1, highway=hw, name=nm)
    _attach_street_ends(block, net, stubs, rng)


def _attach_street_ends(block: _Block, net: _Net, stubs: dict[int, list[float]],
                        rng: np.random.Generator) -> None:
    """Join local streets to the block boundary and, mostly, to the carriageway beyond."""
    ends = []
    for a in range(1, block.n):
        if (a, 0) in block.vseg:
            ends.append(("S", block.X[a], block.Y[0], block.vseg[(a, 0)]))
        if (a, block.m - 1) in block.vseg:
            ends.append(("N", block.X[a], block.Y[-1], block.vseg[(a, block.m - 1)]))
    for b in range(1, block.m):
        if (0, b) in block.hseg:
            ends.append(("W", block.X[0], block.Y[b], block.hseg[(0, b)]))
        if (block.n - 1, b) in block.hseg:
            ends.append(("E", block.X[-1], block.Y[b], block.hseg[(block.n - 1, b)]))
    for side, x, y, li in ends:
        net.attach(block.edges[side], x, y)
        car = block.carriage[side]
        if car is None or rng.random() > 0.75:
            continue
        cl, c = car
        along = x if side in "SN" else y
        if any(abs(along - s) < 12.0 for s in stubs.setdefault(cl, [])):
            continue
        stubs[cl].append(along)
        end = (x, c) if side in "SN" else (c, y)
        net.attach(cl, *end)
        tags = {k: v for k, v in net.lines[li].tags.items() if k != "osmid"}
        net.edge(net.node(x, y), net.node(*end), **tags)


# --------------------------------------------------------------------------- cells


def _side_point(block: _Block, a: int, b: int, side: str, t: float) -> tuple[float, float]:
    """Point on a cell side at fraction t (west to east, south to north)."""
    x0, y0, x1, y1 = block.cell_box(a, b)
    if side in "SN":
        return x0 + t * (x1 - x0), (y0 if side == "S" else y1)
    return (x0 if side == "W" else x1), y0 + t * (y1 - y0)


def _inward(side: str) -> tuple[float, float]:
    """Unit vector from a cell side into the cell."""
    return {"S": (0.0, 1.0), "N": (0.0, -1.0), "W": (1.0, 0.0), "E": (-1.0, 0.0)}[side]


def _open_sides(block: _Block, a: int, b: int) -> list[str]:
    """Sides of a cell that have a street."""
    return [s for s in "SNWE" if block.side_line(a, b, s) is not None]


def _region_line(block: _Block, x: float, y: float, side: str) -> int:
    """The line under point (x, y) lying on a side of a (possibly merged) region."""
    if side in "SN":
        a = int(np.searchsorted(block.X, x) - 1)
        b = block.Y.index(min(block.Y, key=lambda v: abs(v - y)))
        li = block.side_line(a, b, "S") if b < block.m else block.side_line(a, b - 1, "N")
    else:
        b = int(np.searchsorted(block.Y, y) - 1)
        a = block.X.index(min(block.X, key=lambda v: abs(v - x)))
        li = block.side_line(a, b, "W") if a < block.n else block.side_line(a - 1, b, "E")
    if li is None:
        raise ValueError("region side without a street")
    return li


@dataclass
class _Zones:
    """What the cells hold, collected while building (all in local metres)."""

    compounds: list[dict] = field(default_factory=list)
    buildings: list[dict] = field(default_factory=list)
    parks: list[dict] = field(default_factory=list)
    lot_spots: list[dict] = field(default_factory=list)
    village: dict | None = None
    cluster_nodes: list[int] = field(default_factory=list)
    footbridge: tuple[int, int] | None = None


def _compound(net: _Net, rect: tuple[float, float, float, float],
              gate_options: list[tuple[str, int, float]], cid: str, name: str,
              rng: np.random.Generator) -> dict:
    """Build a gated compound: internal paths, 1-2 gates, maybe a private car entrance.

    ``gate_options`` lists (side, street line, street coordinate) of the sides
    facing a street.
    """
    x0, y0, x1, y1 = rect
    gx = _inner_positions(x0, x1, rng)
    gy = _inner_positions(y0, y1, rng)
    nodes = {(p, q): net.node(gx[p] + rng.uniform(-3, 3), gy[q] + rng.uniform(-3, 3))
             for p in range(len(gx)) for q in range(len(gy))}
    _compound_paths(net, nodes, len(gx), len(gy), cid, rng)
    order = rng.permutation(len(gate_options))
    n_gates = 1 if len(gate_options) == 1 or rng.random() < 0.4 else 2
    gates, used = [], set()
    for k in order[:n_gates]:
        gates.append(_gate(net, nodes, gx, gy, gate_options[int(k)], rect, used, rng, cid))
    if rng.random() < 0.45:
        side = gate_options[int(order[-1])]
        _gate(net, nodes, gx, gy, side, rect, used, rng, cid, private=True)
    return dict(id=cid, name=name, rect=rect, gates=gates, nodes=list(nodes.values()),
                gx=gx, gy=gy)


def _inner_positions(lo: float, hi: float, rng: np.random.Generator) -> list[float]:
    """Positions of a compound's internal paths across one dimension (about 40 m apart)."""
    k = max(2, int(round((hi - lo - 40.0) / 32.0)) + 1)
    pos = np.linspace(lo + 20.0, hi - 20.0, k)
    pos[1:-1] += rng.uniform(-4, 4, k - 2)
    return [float(p) for p in pos]


def _compound_paths(net: _Net, nodes: dict[tuple[int, int], int], nx_: int, ny: int,
                    cid: str, rng: np.random.Generator) -> None:
    """Connect a compound's internal grid, dropping a few links but staying connected."""
    pairs = [((p, q), (p + 1, q)) for p in range(nx_ - 1) for q in range(ny)]
    pairs += [((p, q), (p, q + 1)) for p in range(nx_) for q in range(ny - 1)]
    g = nx.Graph(pairs)
    for k in rng.permutation(len(pairs)):
        e = pairs[int(k)]
        if rng.random() < 0.15:
            g.remove_edge(*e)
            if not nx.is_connected(g):
                g.add_edge(*e)
    for e in pairs:
        if not g.has_edge(*e):
            continue
        (p0, q0), (p1, q1) = e
        ring = (p0 == p1 and p0 in (0, nx_ - 1)) or (q0 == q1 and q0 in (0, ny - 1))
        tags = dict(highway="service", service="driveway") if ring else dict(highway="footway")
        net.edge(nodes[e[0]], nodes[e[1]], _zone=cid, **tags)


def _gate(net: _Net, nodes: dict[tuple[int, int], int], gx: list[float], gy: list[float],
          option: tuple[str, int, float], rect: tuple[float, float, float, float],
          used: set, rng: np.random.Generator, cid: str, private: bool = False) -> int:
    """Add a gate (or a private car entrance) on one side of a compound; return its node."""
    side, line, street = option
    x0, y0, x1, y1 = rect
    along = gx if side in "SN" else gy
    choices = [k for k in range(len(along)) if (side, k) not in used]
    inner = [k for k in choices if 0 < k < len(along) - 1] or choices
    k = int(inner[int(rng.integers(len(inner)))])
    used.add((side, k))
    edge_index = {"S": 0, "N": len(gy) - 1, "W": 0, "E": len(gx) - 1}[side]
    inside = nodes[(k, edge_index)] if side in "SN" else nodes[(edge_index, k)]
    ix, iy = net.xy[inside]
    wall = {"S": (ix, y0), "N": (ix, y1), "W": (x0, iy), "E": (x1, iy)}[side]
    outside = (wall[0], street) if side in "SN" else (street, wall[1])
    if private:
        tags = dict(highway="service", access="private", service="driveway")
        gate = net.node(*wall, barrier="lift_gate")
    else:
        tags = dict(highway="footway")
        gate = net.node(*wall, barrier="gate")
    street_node = net.attach(line, *outside)
    net.edge(inside, gate, _zone=cid, **tags)
    net.edge(gate, street_node, **tags)
    return gate


def _gate_options(block: _Block, a: int, b: int) -> list[tuple[str, int, float]]:
    """(side, line, street coordinate) for every side of a cell that has a street."""
    x0, y0, x1, y1 = block.cell_box(a, b)
    coord = {"S": y0, "N": y1, "W": x0, "E": x1}
    return [(s, block.side_line(a, b, s), coord[s]) for s in _open_sides(block, a, b)]


def _compound_buildings(comp: dict, population: int, rng: np.random.Generator) -> list[dict]:
    """Place a compound's residential towers and share its population among them."""
    gx, gy = comp["gx"], comp["gy"]
    x0, y0, x1, y1 = comp["rect"]
    pts, weights = [], []
    for p in range(len(gx) - 1):
        for q in range(len(gy) - 1):
            pts.append(((gx[p] + gx[p + 1]) / 2, (gy[q] + gy[q + 1]) / 2))
            weights.append(1.6)
    for p in range(len(gx) - 1):
        xm = (gx[p] + gx[p + 1]) / 2
        pts += [(xm, y0 + 9.0), (xm, y1 - 9.0)]
        weights += [1.0, 1.0]
    for q in range(len(gy) - 1):
        ym = (gy[q] + gy[q + 1]) / 2
        pts += [(x0 + 9.0, ym), (x1 - 9.0, ym)]
        weights += [1.0, 1.0]
    jitter = rng.uniform(-4, 4, (len(pts), 2))
    w = np.array(weights) * rng.uniform(0.7, 1.3, len(weights))
    pops = _split_integer(population, w)
    return [dict(xy=(x + dx, y + dy), population=int(pop), housing="compound",
                 compound_id=comp["id"], zone_id=comp["id"],
                 name=f"{comp['name']}{k + 1}栋")
            for k, ((x, y), (dx, dy), pop) in enumerate(zip(pts, jitter, pops))]


def _split_integer(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to weights (largest remainder)."""
    raw = total * np.asarray(weights, dtype=float) / float(np.sum(weights))
    out = np.floor(raw).astype(int)
    rest = total - int(out.sum())
    order = np.argsort(-(raw - out), kind="stable")
    out[order[:rest]] += 1
    return out


# --------------------------------------------------------------------------- parks, village


def _park(net: _Net, block: _Block, cells: list[tuple[int, int]], pid: str,
          rng: np.random.Generator) -> dict:
    """Build a park over ``cells``: an inner loop, a cross path and its entrances."""
    name, n_entrances = _PARKS[pid]
    a0, a1 = min(c[0] for c in cells), max(c[0] for c in cells) + 1
    b0, b1 = min(c[1] for c in cells), max(c[1] for c in cells) + 1
    x0, y0, x1, y1 = block.X[a0], block.Y[b0], block.X[a1], block.Y[b1]
    rect = (x0 + _INSET, y0 + _INSET, x1 - _INSET, y1 - _INSET)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rx, ry = 0.34 * (x1 - x0), 0.34 * (y1 - y0)
    k = 20
    ang = np.linspace(0, 2 * np.pi, k, endpoint=False)
    rad = rng.uniform(0.9, 1.1, k)
    loop = [(cx + rx * r * np.cos(t), cy + ry * r * np.sin(t)) for t, r in zip(ang, rad)]
    ids = net.path([*loop, loop[0]], highway="footway", name=f"{name}环园步道", _zone=pid)
    net.path([loop[0], (cx, cy), loop[k // 2]], highway="path", _zone=pid)
    net.path([loop[k // 4], (cx + 2.0, cy + 1.0), loop[3 * k // 4]], highway="path", _zone=pid)
    entrances = []
    sides = ["S", "N", "W", "E"]
    for side in [sides[int(s)] for s in rng.permutation(4)[:n_entrances]]:
        entrances.append(_park_entrance(net, block, (x0, y0, x1, y1), rect, side, loop, ids, rng))
    return dict(id=pid, name=name, rect=rect, entrances=entrances)


def _park_entrance(net: _Net, block: _Block, outer: tuple[float, float, float, float],
                   rect: tuple[float, float, float, float], side: str,
                   loop: list[tuple[float, float]], ids: list[int],
                   rng: np.random.Generator) -> tuple[float, float]:
    """Join the park loop to the street on one side; return the entrance point."""
    x0, y0, x1, y1 = outer
    t = float(rng.uniform(0.35, 0.65))
    if side in "SN":
        x = x0 + t * (x1 - x0)
        street, wall = (x, y0 if side == "S" else y1), (x, rect[1] if side == "S" else rect[3])
    else:
        y = y0 + t * (y1 - y0)
        street, wall = (x0 if side == "W" else x1, y), (rect[0] if side == "W" else rect[2], y)
    line = _region_line(block, street[0], street[1], side)
    s_node = net.attach(line, *street)
    near = int(np.argmin([np.hypot(px - wall[0], py - wall[1]) for px, py in loop]))
    w_node = net.node(*wall, entrance="yes")
    net.edge(s_node, w_node, highway="footway")
    net.edge(w_node, ids[near], highway="footway")
    return wall


def _village(net: _Net, block: _Block, cells: list[tuple[int, int]],
             rng: np.random.Generator) -> dict:
    """Build the urban village over ``cells``: a jittered mesh of alleys about 24 m apart."""
    x0, x1 = block.X[min(a for a, _ in cells)], block.X[max(a for a, _ in cells) + 1]
    y0, y1 = block.Y[min(b for _, b in cells)], block.Y[max(b for _, b in cells) + 1]
    gx = np.linspace(x0, x1, int(round((x1 - x0) / 24.0)) + 1)[1:-1]
    gy = np.linspace(y0, y1, int(round((y1 - y0) / 24.0)) + 1)[1:-1]
    main_p, main_q = len(gx) // 2, len(gy) // 2
    nodes = {(p, q): net.node(gx[p] + rng.uniform(-5, 5), gy[q] + rng.uniform(-5, 5))
             for p in range(len(gx)) for q in range(len(gy))}
    g = _village_links(len(gx), len(gy), main_p, main_q, rng)
    for u, v in g.edges():
        if "out" in (u, v):
            continue
        main = (u[0] == v[0] == main_p) or (u[1] == v[1] == main_q)
        tags = _alley_tags(u, v, main, main_p, main_q)
        net.edge(nodes[u], nodes[v], **tags)
    _village_exits(net, block, nodes, g, (x0, y0, x1, y1), main_p, main_q)
    return dict(id=_VILLAGE[0], name=_VILLAGE[1], rect=(x0, y0, x1, y1), gx=gx, gy=gy)


def _alley_tags(u: tuple, v: tuple, main: bool, main_p: int, main_q: int) -> dict[str, Any]:
    """Tags of a village alley."""
    short = _VILLAGE[2]
    if main:
        return dict(highway="living_street",
                    name=f"{short}大街" if u[1] == v[1] == main_q else f"{short}中心路")
    if u[1] == v[1]:
        return dict(highway="footway", name=f"{short}{u[1] + 1}巷")
    return dict(highway="footway")


def _village_links(nx_: int, ny: int, main_p: int, main_q: int,
                   rng: np.random.Generator) -> nx.Graph:
    """Mesh links of the village (with missing ones) plus its exits to 'out'."""
    g = nx.Graph()
    pairs = [((p, q), (p + 1, q)) for p in range(nx_ - 1) for q in range(ny)]
    pairs += [((p, q), (p, q + 1)) for p in range(nx_) for q in range(ny - 1)]
    g.add_edges_from(pairs)
    exits = [(p, 0) for p in range(nx_)] + [(p, ny - 1) for p in range(nx_)]
    exits += [(0, q) for q in range(ny)] + [(nx_ - 1, q) for q in range(ny)]
    for e in exits:
        main = e[0] == main_p or e[1] == main_q
        if main or rng.random() < 0.55:
            g.add_edge(e, "out")
    for k in rng.permutation(len(pairs)):
        u, v = pairs[int(k)]
        if (u[0] == v[0] == main_p) or (u[1] == v[1] == main_q) or rng.random() > 0.13:
            continue
        g.remove_edge(u, v)
        if not nx.is_connected(g):
            g.add_edge(u, v)
    return g


def _village_exits(net: _Net, block: _Block, nodes: dict, g: nx.Graph,
                   rect: tuple[float, float, float, float], main_p: int, main_q: int) -> None:
    """Join the village's edge alleys to the streets around it."""
    x0, y0, x1, y1 = rect
    ny = max(q for _, q in nodes) + 1
    for node in g.neighbors("out"):
        p, q = node
        x, y = net.xy[nodes[node]]
        if q == 0:
            side, pt = "S", (x, y0)
        elif q == ny - 1:
            side, pt = "N", (x, y1)
        elif p == 0:
            side, pt = "W", (x0, y)
        else:
            side, pt = "E", (x1, y)
        street = net.attach(_region_line(block, pt[0], pt[1], side), *pt)
        main = p == main_p or q == main_q
        tags = _alley_tags(node, node, True, main_p, main_q) if main else dict(highway="footway")
        net.edge(nodes[node], street, **tags)


def _village_buildings(village: dict, population: int, rng: np.random.Generator) -> list[dict]:
    """Handshake buildings (握手楼) of the village, one per alley cell."""
    gx, gy = village["gx"], village["gy"]
    pts = [((gx[p] + gx[p + 1]) / 2 + rng.uniform(-4, 4), (gy[q] + gy[q + 1]) / 2
            + rng.uniform(-4, 4)) for p in range(len(gx) - 1) for q in range(len(gy) - 1)]
    pops = _split_integer(population, rng.uniform(0.6, 1.4, len(pts)))
    short = _VILLAGE[2]
    return [dict(xy=pt, population=int(pop), housing="village", compound_id=None,
                 zone_id=village["id"], name=f"{short}{k + 1}号楼")
            for k, (pt, pop) in enumerate(zip(pts, pops))]


# --------------------------------------------------------------------------- mixed cells


def _mixed_cell(net: _Net, block: _Block, a: int, b: int, zones: _Zones,
                rng: np.random.Generator) -> None:
    """Fill a mixed-use cell: maybe a dead-end lane, a passage, a few other homes."""
    sides = _open_sides(block, a, b)
    r = rng.random()
    if r < 0.5:
        side = sides[int(rng.integers(len(sides)))]
        opposite = {"S": "N", "N": "S", "W": "E", "E": "W"}[side]
        two = opposite in sides and rng.random() < 0.5
        _dead_end(net, block, a, b, side, (0.25, 0.4) if two else (0.4, 0.65), rng)
        if two:
            _dead_end(net, block, a, b, opposite, (0.25, 0.4), rng)
    elif r < 0.75:
        _passage(net, block, a, b, rng)
    for _ in range(int(rng.integers(1, 3))):
        side = sides[int(rng.integers(len(sides)))]
        t = float(rng.uniform(0.15, 0.3) if rng.random() < 0.5 else rng.uniform(0.7, 0.85))
        x, y = _side_point(block, a, b, side, t)
        ix, iy = _inward(side)
        off = float(rng.uniform(16, 26))
        zones.buildings.append(dict(xy=(x + ix * off, y + iy * off), housing="other",
                                    compound_id=None, zone_id=None,
                                    weight=float(rng.uniform(0.5, 1.5))))


def _passage(net: _Net, block: _Block, a: int, b: int, rng: np.random.Generator) -> None:
    """Add a pedestrian passage across the cell with a branch to a building entrance."""
    sides = _open_sides(block, a, b)
    pairs = [p for p in (("W", "E"), ("S", "N")) if set(p) <= set(sides)]
    if not pairs:
        return
    s0, s1 = pairs[int(rng.integers(len(pairs)))]
    t = float(rng.uniform(0.35, 0.65))
    p0, p1 = _side_point(block, a, b, s0, t), _side_point(block, a, b, s1, t)
    u = net.attach(block.side_line(a, b, s0), *p0)
    v = net.attach(block.side_line(a, b, s1), *p1)
    f = float(rng.uniform(0.3, 0.7))
    mid = net.node(p0[0] + f * (p1[0] - p0[0]), p0[1] + f * (p1[1] - p0[1]))
    tags: dict[str, Any] = dict(highway="footway", osmid=net.way())
    name = net.lines[block.side_line(a, b, s0)].tags.get("name")
    if name and rng.random() < 0.5:
        tags["name"] = f"{name}步行街"
    net.edge(u, mid, **tags)
    net.edge(mid, v, **tags)
    side = 1.0 if rng.random() < 0.5 else -1.0
    dx, dy = (0.0, 30.0 * side) if s0 == "W" else (30.0 * side, 0.0)
    net.edge(mid, net.node(net.xy[mid][0] + dx, net.xy[mid][1] + dy), highway="footway")


def _dead_end(net: _Net, block: _Block, a: int, b: int, side: str,
              depth_range: tuple[float, float], rng: np.random.Generator) -> None:
    """Add a cul-de-sac or service lane from one side into the cell."""
    x, y = _side_point(block, a, b, side, float(rng.uniform(0.4, 0.6)))
    x0, y0, x1, y1 = block.cell_box(a, b)
    depth = float(rng.uniform(*depth_range)) * ((y1 - y0) if side in "SN" else (x1 - x0))
    ix, iy = _inward(side)
    start = net.attach(block.side_line(a, b, side), x, y)
    mid = net.node(x + ix * depth * 0.5, y + iy * depth * 0.5)
    end = net.node(x + ix * depth, y + iy * depth)
    tags: dict[str, Any] = dict(highway="service")
    street = net.lines[block.side_line(a, b, side)].tags.get("name")
    if rng.random() < 0.5 and street:
        tags = dict(highway="residential", name=f"{street}支巷")
    osm = net.way()
    net.edge(start, mid, osmid=osm, **tags)
    net.edge(mid, end, osmid=osm, **tags)


def _lot_sides(block: _Block, a: int, b: int) -> list[str]:
    """Sides of a cell facing an arterial sidewalk."""
    return [s for s in "SNWE" if block.is_boundary(a, b, s) and block.carriage[s] is not None]


# --------------------------------------------------------------------------- layout


def _frontage(net: _Net) -> dict[int, int]:
    """The frontage street along the expressway, one line per block column."""
    out = {}
    for i in range(len(_XS) - 1):
        out[i] = net.line((_XS[i] + _SW, _Y_FRONT), (_XS[i + 1] - _SW, _Y_FRONT),
                          highway="tertiary", name=_FRONTAGE_NAME)
    return out


def _street_names(rng: np.random.Generator) -> list[str]:
    """A shuffled pool of made-up local street names."""
    pool = [w + e for w in _STREET_WORDS for e in _STREET_ENDS[:2]]
    return [pool[int(k)] for k in rng.permutation(len(pool))]


def _compound_names(rng: np.random.Generator) -> list[str]:
    """A shuffled pool of made-up compound names."""
    pool = [w + e for w in _COMPOUND_WORDS for e in _COMPOUND_ENDS]
    return [pool[int(k)] for k in rng.permutation(len(pool))]


def _fill_block(net: _Net, block: _Block, zones: _Zones, cnames: list[str],
                rng: np.random.Generator) -> None:
    """Build everything inside one super-block's cells."""
    parks: dict[str, list[tuple[int, int]]] = {}
    village: list[tuple[int, int]] = []
    for (a, b), t in sorted(block.types.items()):
        if t == "compound":
            x0, y0, x1, y1 = block.cell_box(a, b)
            rect = (x0 + _INSET, y0 + _INSET, x1 - _INSET, y1 - _INSET)
            cid = f"C{len(zones.compounds) + 1:02d}"
            zones.compounds.append(_compound(net, rect, _gate_options(block, a, b), cid,
                                             cnames.pop(), rng))
        elif t.startswith("park:"):
            parks.setdefault(t[5:], []).append((a, b))
        elif t == "village":
            village.append((a, b))
        else:
            if t == "mixed":
                _mixed_cell(net, block, a, b, zones, rng)
            sides = _open_sides(block, a, b) if t == "industrial" else _lot_sides(block, a, b)
            for side in sides:
                zones.lot_spots.append(dict(block=block, cell=(a, b), side=side, use=t))
    for pid, cells in parks.items():
        zones.parks.append(_park(net, block, cells, pid, rng))
    if village:
        zones.village = _village(net, block, village, rng)


def _cluster(net: _Net, zones: _Zones, cnames: list[str], art: _Arterials, frontage: int,
             rng: np.random.Generator) -> None:
    """The small residential cluster beyond the expressway, reached on foot by a footbridge."""
    first = len(net.xy)
    X, Y = list(_CLUSTER_X), list(_CLUSTER_Y)
    nm_s, nm_n = "北岭路", "北岭一街"
    edges = {"S": net.line((X[0], Y[0]), (X[-1], Y[0]), highway="residential", name=nm_s),
             "N": net.line((X[0], Y[1]), (X[-1], Y[1]), highway="residential", name=nm_n),
             "W": net.line((X[0], Y[0]), (X[0], Y[1]), highway="residential", name="北岭西街"),
             "E": net.line((X[-1], Y[0]), (X[-1], Y[1]), highway="residential", name="北岭东街")}
    block = _Block((1, 3), X, Y, edges, {s: None for s in "SNWE"})
    block.vseg[(1, 0)] = net.line((X[1], Y[0]), (X[1], Y[1]), highway="living_street",
                                  name="北岭中街")
    for s in "SN":
        net.attach(edges[s], X[1], Y[0] if s == "S" else Y[1])
    block.types = {(0, 0): "compound", (1, 0): "mixed"}
    _fill_block(net, block, zones, cnames, rng)
    north = net.attach(edges["S"], _FOOTBRIDGE_X, Y[0])
    zones.cluster_nodes = list(range(first, len(net.xy)))
    south = net.attach(frontage, _FOOTBRIDGE_X, _Y_FRONT)
    zones.footbridge = (south, north)
    net.edge(south, north, highway="footway", bridge="yes", layer="1",
             name=f"{_EXPWY_NAME}人行天桥")
    ramp_end = net.attach(art.motorway, X[-1] + 80.0, _Y_EXPWY)
    net.edge(ramp_end, net.node(X[-1], Y[0]), highway="motorway_link", foot="no",
             name="北岭路匝道", oneway=False)


def _motorway_spot(net: _Net, art: _Arterials) -> int:
    """A depot reachable only along a motorway_link spur off the expressway."""
    start = net.attach(art.motorway, _SPOT[0], _Y_EXPWY)
    spot = net.node(*_SPOT, amenity="depot")
    net.edge(start, spot, highway="motorway_link", foot="no", name="快速路养护站匝道",
             oneway=False)
    return spot


# --------------------------------------------------------------------------- graph


def _is_walkable(tags: dict[str, Any]) -> bool:
    """The osmnx 'walk' filter on one edge's tags."""
    if tags.get("highway") in ("motorway", "motorway_link", "trunk", "trunk_link"):
        return False
    if tags.get("foot") == "no" or tags.get("access") in ("no", "private"):
        return False
    return tags.get("service") != "private"


def _to_graph(net: _Net) -> nx.MultiDiGraph:
    """Convert the builder's nodes and edges into an osmnx-style WGS84 MultiDiGraph."""
    lonlat = _local_to_wgs(np.array(net.xy))
    g = nx.MultiDiGraph(crs="epsg:4326", name=NAME_ZH, name_en=NAME_EN, source=SOURCE,
                        created_with="lifecircle.geo.demo")
    for k, (lon, lat) in enumerate(lonlat):
        g.add_node(_ID0 + k, x=float(lon), y=float(lat), **net.attrs[k])
    uv = np.array(list(net.edges), dtype=int).reshape(-1, 2)
    _, _, length = Geod(ellps="WGS84").inv(lonlat[uv[:, 0], 0], lonlat[uv[:, 0], 1],
                                           lonlat[uv[:, 1], 0], lonlat[uv[:, 1], 1])
    for (u, v), tags, ln in zip(net.edges, net.edges.values(), length):
        data = {k: val for k, val in tags.items() if not k.startswith("_")}
        data.setdefault("oneway", False)
        data["reversed"] = False
        data["length"] = float(ln)
        data["geometry"] = LineString([lonlat[u], lonlat[v]])
        g.add_edge(_ID0 + u, _ID0 + v, key=0, **data)
    return g


def _walk_lines(net: _Net, public_only: bool) -> list[LineString]:
    """Local-metre lines of the walkable (optionally: public) edges."""
    out = []
    for (u, v), tags in net.edges.items():
        if _is_walkable(tags) and not (public_only and "_zone" in tags):
            out.append(LineString([net.xy[u], net.xy[v]]))
    return out


class _Snapper:
    """Snap local points to the nearest walkable line, keeping a small offset."""

    def __init__(self, lines: list[LineString]) -> None:
        self.lines = np.asarray(lines, dtype=object)
        self.tree = shapely.STRtree(self.lines)

    def snap(self, pts: np.ndarray, offset: float) -> np.ndarray:
        """Move each point to within ``offset`` metres of its nearest line."""
        geoms = shapely.points(pts)
        idx = self.tree.nearest(geoms)
        lines = self.lines[idx]
        on = shapely.line_interpolate_point(lines, shapely.line_locate_point(lines, geoms))
        on_xy = shapely.get_coordinates(on)
        vec = pts - on_xy
        dist = np.hypot(vec[:, 0], vec[:, 1])
        scale = np.where(dist > offset, offset / np.maximum(dist, 1e-9), 1.0)
        return on_xy + vec * scale[:, None]


# --------------------------------------------------------------------------- layers


def _boundaries() -> tuple[Polygon, list[tuple[str, str, Polygon]]]:
    """The street polygon and its communities in local metres (vertices every 50 m)."""
    comms = []
    for cid, name, boxes in _COMMUNITIES:
        poly = unary_union([box(*b) for b in boxes])
        comms.append((cid, name, shapely.segmentize(shapely.normalize(poly), 50.0)))
    street = unary_union([box(*b) for _, _, bs in _COMMUNITIES for b in bs])
    return shapely.segmentize(shapely.normalize(street), 50.0), comms


def _facilities(snap: _Snapper, zones: _Zones) -> tuple[list[dict], list[Any]]:
    """Hand-placed centres, stations and clinics plus one point per park entrance."""
    pts = snap.snap(np.array([p for *_, p in _FACILITY_PLAN], dtype=float), 10.0)
    recs = [dict(id=fid, name=name, kind=kind, level=level)
            for fid, name, kind, level, _ in _FACILITY_PLAN]
    geoms = [Point(p) for p in pts]
    gates = {"S": "南门", "N": "北门", "W": "西门", "E": "东门"}
    for park in zones.parks:
        x0, y0, x1, y1 = park["rect"]
        for k, (x, y) in enumerate(park["entrances"]):
            side = min((abs(y - y0), "S"), (abs(y - y1), "N"), (abs(x - x0), "W"),
                       (abs(x - x1), "E"))[1]
            recs.append(dict(id=f"PK-{park['id'][1:]}{chr(97 + k)}",
                             name=f"{park['name']}（{gates[side]}）", kind="park", level=None))
            geoms.append(Point(x, y))
    return recs, geoms


def _demand(zones: _Zones, rng: np.random.Generator) -> tuple[list[dict], list[Any]]:
    """Residential buildings: compounds, the village and others, about 150,000 people."""
    comp_pop = rng.uniform(2400, 7600, len(zones.compounds))
    village_pop = 42_000.0
    other_w = np.array([b["weight"] for b in zones.buildings])
    other_pop = 70.0 * other_w
    total = comp_pop.sum() + village_pop + other_pop.sum()
    scale = 150_000.0 / total
    parts = _split_integer(150_000, np.concatenate([comp_pop * scale, [village_pop * scale],
                                                    other_pop * scale]))
    nc = len(zones.compounds)
    rows: list[dict] = []
    for comp, pop in zip(zones.compounds, parts[:nc]):
        comp["population"] = int(pop)
        rows += _compound_buildings(comp, int(pop), rng)
    zones.village["population"] = int(parts[nc])
    rows += _village_buildings(zones.village, int(parts[nc]), rng)
    for k, (b, pop) in enumerate(zip(zones.buildings, parts[nc + 1:])):
        rows.append(dict(b, population=int(pop), name=f"沿街住宅{k + 1}号"))
    recs = [dict(id=f"B{k + 1:04d}", name=r["name"], population=r["population"],
                 housing=r["housing"], compound_id=r["compound_id"], zone_id=r["zone_id"])
            for k, r in enumerate(rows)]
    return recs, [Point(r["xy"]) for r in rows]


def _zones_layer(zones: _Zones) -> tuple[list[dict], list[Any]]:
    """Compounds and the village as polygons with their population."""
    recs, geoms = [], []
    for c in zones.compounds:
        recs.append(dict(id=c["id"], name=c["name"], housing="compound",
                         population=c["population"]))
        geoms.append(box(*c["rect"]))
    v = zones.village
    recs.append(dict(id=v["id"], name=v["name"], housing="village", population=v["population"]))
    geoms.append(box(*v["rect"]))
    return recs, geoms


def _candidates(snap: _Snapper, street: Polygon, parks: list[Polygon],
                rng: np.random.Generator) -> tuple[list[dict], list[Any]]:
    """Candidate micro-station sites: a jittered 200 m grid snapped near public streets."""
    gx, gy = np.meshgrid(np.arange(100.0, 3000.0, 200.0), np.arange(100.0, 3000.0, 200.0))
    pts = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-50, 50, (gx.size, 2))
    pts = snap.snap(pts, 6.0)
    park_union = unary_union(parks)
    keep: list[np.ndarray] = []
    for p in pts:
        pt = Point(p)
        if not street.contains(pt) or park_union.buffer(5.0).contains(pt):
            continue
        if all(np.hypot(*(p - q)) > 60.0 for q in keep):
            keep.append(p)
    recs = [dict(id=f"K{k + 1:03d}", name=f"候选站点{k + 1:03d}") for k in range(len(keep))]
    return recs, [Point(p) for p in keep]


def _lots(snap: _Snapper, zones: _Zones, rng: np.random.Generator) -> tuple[list[dict], list]:
    """Commercial parking lots along the arterials that share spaces at night."""
    spots = zones.lot_spots
    special = [k for k, s in enumerate(spots) if s["use"] in ("hospital", "industrial")]
    plain = [k for k in range(len(spots)) if k not in special]
    chosen = sorted(set(special[::2]) | {plain[int(k)] for k in
                                          rng.choice(len(plain), size=min(26, len(plain)),
                                                     replace=False)})
    words = [_LOT_WORDS[int(k)] for k in rng.permutation(len(_LOT_WORDS))]
    recs, pts = [], []
    for k in chosen:
        spot = spots[k]
        use = _lot_use(spot["use"], rng)
        suffix, cap, res, prices = _LOT_KINDS[use]
        capacity = int(rng.integers(cap[0] // 5, cap[1] // 5 + 1)) * 5
        x, y = _side_point(spot["block"], *spot["cell"], spot["side"],
                           float(rng.uniform(0.25, 0.75)))
        ix, iy = _inward(spot["side"])
        pts.append((x + ix * 10.0, y + iy * 10.0))
        recs.append(dict(id=f"L{len(recs) + 1:02d}", name=f"{words.pop()}{suffix}",
                         land_use=use, capacity=capacity,
                         open=_OPEN_HOURS[int(rng.integers(len(_OPEN_HOURS)))],
                         reserved=int(rng.integers(res[0], min(res[1], capacity // 4) + 1)),
                         price=int(prices[int(rng.integers(len(prices)))])))
    return recs, [Point(p) for p in snap.snap(np.array(pts), 12.0)]


def _lot_use(cell_use: str, rng: np.random.Generator) -> str:
    """Land use of a lot from the use of its cell."""
    if cell_use in ("hospital", "industrial"):
        return cell_use
    if cell_use == "retail":
        return "retail"
    return ("office", "office", "office", "retail", "hotel")[int(rng.integers(5))]


def _residences(zones: _Zones, walk: np.ndarray, supply: np.ndarray,
                rng: np.random.Generator) -> tuple[list[dict], list[Any]]:
    """Compounds short of night parking, at their main gate.

    Most are picked near lots, a few far from any; their shortfalls are scaled so
    that about half of the total can be met by lots within a 500 m walk.
    """
    near = np.flatnonzero(walk.min(axis=1) <= _PARKING_WALK)
    far = np.flatnonzero(walk.min(axis=1) > _PARKING_WALK)
    picks = list(rng.choice(near, size=min(15, len(near)), replace=False))
    picks += list(rng.choice(far, size=min(3, len(far)), replace=False))
    picks = sorted(int(k) for k in picks)
    raw = rng.uniform(0.15, 1.0, len(picks))
    demand = _calibrate_demand(raw, supply, walk[picks] <= _PARKING_WALK)
    recs, pts = [], []
    for k, dem in zip(picks, demand):
        comp = zones.compounds[k]
        recs.append(dict(id=comp["id"], name=comp["name"], demand=int(dem),
                         window=_WINDOWS[int(rng.integers(len(_WINDOWS)))]))
        pts.append(Point(comp["gate_xy"][0]))
    return recs, pts


def _matched(demand: np.ndarray, supply: np.ndarray, ok: np.ndarray) -> float:
    """Cars placed by a maximum flow from residences to the lots they may walk to."""
    g = nx.DiGraph()
    for i, dem in enumerate(demand):
        g.add_edge("s", ("r", i), capacity=int(dem))
        for j in np.flatnonzero(ok[i]):
            g.add_edge(("r", i), ("l", int(j)))
    for j, sup in enumerate(supply):
        g.add_edge(("l", j), "t", capacity=int(sup))
    return float(nx.maximum_flow_value(g, "s", "t"))


def _calibrate_demand(raw: np.ndarray, supply: np.ndarray, ok: np.ndarray,
                      share: float = 0.62) -> np.ndarray:
    """Scale shortfalls (multiples of 5, 20-300) until about ``share`` can be matched.

    The proxy here (whole-night supply, one maximum flow) ignores the windows'
    and opening hours' mismatches; 62 % on it gives about half of the gap
    closed by geo.parking's hour-by-hour matching within 500 m, as in Dongxiao.
    """
    def shaped(k: float) -> np.ndarray:
        return np.clip(np.round(raw * k / 5.0) * 5.0, 20, 300).astype(int)

    lo, hi = 10.0, 2000.0
    for _ in range(30):
        k = float(np.sqrt(lo * hi))
        dem = shaped(k)
        if _matched(dem, supply, ok) / dem.sum() > share:
            lo = k
        else:
            hi = k
    return shaped(float(np.sqrt(lo * hi)))


def _walk_graph(net: _Net) -> nx.Graph:
    """The walkable edges as an undirected graph in local metres."""
    g = nx.Graph()
    for (u, v), tags in net.edges.items():
        if _is_walkable(tags):
            g.add_edge(u, v, length=float(np.hypot(*np.subtract(net.xy[u], net.xy[v]))))
    return g


def _walk_to_points(net: _Net, sources: list[int], pts: np.ndarray,
                    cutoff: float) -> np.ndarray:
    """Walking metres from source nodes to points joined at their nearest walkable edge.

    Entries beyond ``cutoff`` are infinite.
    """
    g = _walk_graph(net)
    uv = list(g.edges())
    lines = np.asarray([LineString([net.xy[u], net.xy[v]]) for u, v in uv], dtype=object)
    geoms = shapely.points(pts)
    idx = shapely.STRtree(lines).nearest(geoms)
    along = shapely.line_locate_point(lines[idx], geoms)
    perp = shapely.distance(lines[idx], geoms)
    out = np.full((len(sources), len(pts)), np.inf)
    for i, src in enumerate(sources):
        dist = nx.single_source_dijkstra_path_length(g, src, cutoff=cutoff, weight="length")
        for j, (k, a, p) in enumerate(zip(idx, along, perp)):
            u, v = uv[int(k)]
            d = min(dist.get(u, np.inf) + a, dist.get(v, np.inf) + lines[k].length - a) + p
            out[i, j] = d if d <= cutoff else np.inf
    return out


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


def _parking(net: _Net, snap: _Snapper, zones: _Zones, rng: np.random.Generator
             ) -> tuple[tuple[list[dict], list[Any]], tuple[list[dict], list[Any]]]:
    """The lots and the short compounds, calibrated on walks of up to 500 m."""
    lots = _lots(snap, zones, rng)
    lot_xy = shapely.get_coordinates(np.asarray(lots[1], dtype=object))
    gates = [c["gates"][0] for c in zones.compounds]
    walk = _walk_to_points(net, gates, lot_xy, _PARKING_WALK)
    return lots, _residences(zones, walk, _night_supply(lots[0]), rng)


def _night_supply(lots: list[dict]) -> np.ndarray:
    """Spaces each lot can offer through the whole night, after its typical occupancy."""
    from .parking import LAND_USE_PROFILES

    out = []
    for lot in lots:
        busiest = max(LAND_USE_PROFILES[lot["land_use"]][h] for h in _NIGHT_HOURS)
        out.append(max(0, int(np.floor(lot["capacity"] * (1.0 - busiest))) - lot["reserved"]))
    return np.array(out)


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

    def ids(nodes: Iterable[int]) -> tuple[int, ...]:
        return tuple(_ID0 + n for n in nodes)

    return DemoDistrict(
        name=NAME_ZH,
        name_en=NAME_EN,
        description=_DESCRIPTION,
        network=graph,
        facilities=_gdf(*fac, ["id", "name", "kind", "level"]),
        demand=_gdf(*dem, ["id", "name", "population", "housing", "compound_id", "zone_id"]),
        residential_zones=_gdf(*zon, ["id", "name", "housing", "population"]),
        streets=_gdf([dict(id="demo", name=NAME_ZH)], [street_poly], ["id", "name"]),
        communities=_gdf([dict(id=c, name=n, street=NAME_ZH) for c, n, _ in comm_polys],
                         [p for *_, p in comm_polys], ["id", "name", "street"]),
        parks=_gdf([dict(id=p["id"], name=p["name"]) for p in zones.parks], park_polys,
                   ["id", "name"]),
        candidates=_gdf(*cand, ["id", "name"]),
        lots=_gdf(*lots, ["id", "name", "land_use", "capacity", "open", "reserved", "price"]),
        residences=_gdf(*res, ["id", "name", "demand", "window"]),
        gates={c["id"]: ids(c["gates"]) for c in zones.compounds},
        compound_nodes={c["id"]: ids(c["nodes"]) for c in zones.compounds},
        cluster_nodes=ids(zones.cluster_nodes),
        footbridge=ids(zones.footbridge),
        motorway_spot=Point(_local_to_wgs(np.array([net.xy[spot]]))[0]),
        seed=seed,
    )


_DESCRIPTION = (
    "Generated demo district (not real data): a dense Shenzhen-like street of about "
    "3 x 2.7 km north of Futian with arterials and sidewalks, an expressway with one "
    "footbridge, gated compounds, an urban village, parks, party-mass service centres, "
    "micro-stations, clinics, candidate sites and shared-parking lots."
)


@functools.lru_cache(maxsize=4)
def build_demo(seed: int = DEFAULT_SEED) -> DemoDistrict:
    """Return the generated demo district (cached; treat the result as read-only).

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


# --------------------------------------------------------------------------- files


def _atomic_write(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rounded_rings(poly: Polygon) -> list[list[list[float]]]:
    """RFC 7946 rings (exterior counter-clockwise) with 7-decimal coordinates."""
    poly = orient(poly, 1.0)
    rings = [poly.exterior, *poly.interiors]
    return [[[round(x, 7), round(y, 7)] for x, y in r.coords] for r in rings]


def _geojson_bytes(gdf: gpd.GeoDataFrame, props: Sequence[str]) -> bytes:
    """Serialise polygons as deterministic RFC 7946 GeoJSON, one feature a line."""
    feats = []
    for row in gdf.itertuples(index=False):
        properties = {p: getattr(row, p) for p in props}
        properties["source"] = SOURCE
        geom = {"type": "Polygon", "coordinates": _rounded_rings(row.geometry)}
        feats.append(json.dumps({"type": "Feature", "properties": properties, "geometry": geom},
                                ensure_ascii=False, separators=(",", ":")))
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(feats) + "\n]}\n"
    return text.encode("utf-8")


def write_boundaries(folder: Path | str, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write the demo street and its communities as GeoJSON files.

    Parameters
    ----------
    folder
        Target folder (created if missing).
    seed
        Seed of the demo district.

    Returns
    -------
    dict of str to Path
        ``{"streets": .../demo_streets.geojson, "communities": .../demo_communities.geojson}``;
        the files are RFC 7946, UTF-8, coordinates rounded to 7 decimals, and the
        same bytes on every run.
    """
    folder = Path(folder)
    demo = build_demo(seed)
    out = {"streets": folder / "demo_streets.geojson",
           "communities": folder / "demo_communities.geojson"}
    _atomic_write(out["streets"], _geojson_bytes(demo.streets, ["id", "name"]))
    _atomic_write(out["communities"], _geojson_bytes(demo.communities, ["id", "name", "street"]))
    return out


def _with_lonlat(gdf: gpd.GeoDataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Plain table of ``columns`` plus lon/lat (7 decimals) from point geometries."""
    frame = pd.DataFrame(gdf[list(columns)]).copy()
    frame["lon"] = gdf.geometry.x.round(7).to_numpy()
    frame["lat"] = gdf.geometry.y.round(7).to_numpy()
    return frame


def write_demo_files(folder: Path | str, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write the demo's editable input tables and its network into ``folder``.

    Parameters
    ----------
    folder
        Target folder (created if missing).
    seed
        Seed of the demo district.

    Returns
    -------
    dict of str to Path
        Keys ``facilities, demand, candidates, lots, residences, network`` to the
        written CSV files (UTF-8) and the GraphML network (``osmnx.save_graphml``).
    """
    import osmnx as ox

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    demo = build_demo(seed)
    tables = {
        "facilities": _with_lonlat(demo.facilities, ["id", "name", "kind", "level"]),
        "demand": _with_lonlat(demo.demand, ["id", "name", "population"]),
        "candidates": _with_lonlat(demo.candidates, ["id", "name"]),
        "lots": _with_lonlat(demo.lots, ["id", "name", "land_use", "capacity", "open",
                                         "reserved", "price"]),
        "residences": _with_lonlat(demo.residences, ["id", "name", "demand", "window"]),
    }
    out: dict[str, Path] = {}
    for key, frame in tables.items():
        out[key] = folder / f"{key}.csv"
        _atomic_write(out[key], frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    out["network"] = folder / "network.graphml"
    fd, tmp = tempfile.mkstemp(prefix=".network.", suffix=".graphml", dir=folder)
    os.close(fd)
    try:
        ox.save_graphml(demo.network, filepath=tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out["network"])
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
