"""Shared pieces of the demo generator: the layout's constants, coordinates, the graph builder.

Everything is laid out in local metres (x east, y north) and placed in EPSG:32650
(UTM 50N) so that the centre lies at about lon 114.06, lat 22.56.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

__all__ = ["SOURCE", "NAME_ZH", "NAME_EN", "METRIC_CRS"]

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

_ARTERIALS_V = (("松涛路", "secondary"), ("鹏程大道", "primary"), ("梧桐路", "secondary"), ("荔香路", "secondary"))
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
_GRID_NM = {
    (0, 0): (4, 4),
    (1, 0): (5, 4),
    (2, 0): (4, 4),
    (1, 1): (5, 4),
    (2, 1): (4, 5),
    (0, 2): (5, 4),
    (1, 2): (4, 4),
    (2, 2): (5, 4),
}
_VILLAGE_GRID = ((18.0, 420.0, 630.0, 810.0, 982.0), (918.0, 1100.0, 1350.0, 1600.0, 1782.0))
_SPECIAL = {
    (0, 1): {(0, 1): "village", (0, 2): "village"},
    (1, 2): {(1, 1): "park:P1", (2, 1): "park:P1", (1, 2): "park:P1", (2, 2): "park:P1"},
    (2, 0): {(1, 1): "park:P2"},
    (0, 2): {(1, 2): "park:P3"},
    (2, 2): {(2, 1): "industrial", (3, 1): "industrial", (3, 2): "industrial", (2, 2): "industrial"},
    (2, 1): {(0, 0): "hospital"},
    (1, 1): {(0, 0): "retail"},
}
_N_COMPOUNDS = {(0, 0): 3, (1, 0): 3, (2, 0): 3, (0, 1): 2, (1, 1): 3, (2, 1): 3, (0, 2): 3, (1, 2): 2, (2, 2): 2}
_PARKS = {"P1": ("翠峰公园", 4), "P2": ("荔枝湾公园", 3), "P3": ("榕树头公园", 2)}

_STREET_WORDS = (
    "景秀",
    "华茂",
    "安康",
    "文华",
    "新风",
    "桂园",
    "榕荫",
    "竹林",
    "兰亭",
    "枫林",
    "丽水",
    "怡景",
    "福荣",
    "康乐",
    "华信",
    "益民",
    "长青",
    "明珠",
    "书香",
    "乐群",
    "友谊",
    "振兴",
    "东兴",
    "西园",
    "南苑",
    "北苑",
    "嘉禾",
    "金桂",
    "银杏",
    "青云",
    "朝阳",
    "百合",
    "紫薇",
    "海棠",
    "丁香",
    "芙蓉",
    "石榴",
    "杜鹃",
    "木棉",
    "凤凰",
)
_STREET_ENDS = ("路", "街", "一路", "二路", "北街", "南街")
_COMPOUND_WORDS = (
    "翠林",
    "金色",
    "碧海",
    "东方",
    "阳光",
    "锦华",
    "御景",
    "怡和",
    "丽晶",
    "荔景",
    "康欣",
    "天悦",
    "雅颂",
    "紫云",
    "鹏苑",
    "莲峰",
    "景湖",
    "松岭",
    "泰和",
    "瑞祥",
    "宏图",
    "万福",
    "嘉信",
    "富源",
    "彩云",
    "春晖",
    "秋实",
    "晴川",
    "观澜",
    "聚贤",
)
_COMPOUND_ENDS = ("花园", "苑", "家园", "名苑", "雅居", "华庭", "新村", "嘉园", "公寓", "山庄")


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
            order = sorted(ts, key=ts.__getitem__)
            for a, b in zip(order, order[1:]):
                self.edge(a, b, **dict(ln.tags))
        self.lines = []


def _split_integer(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to weights (largest remainder)."""
    raw = total * np.asarray(weights, dtype=float) / float(np.sum(weights))
    out = np.floor(raw).astype(int)
    rest = total - int(out.sum())
    order = np.argsort(-(raw - out), kind="stable")
    out[order[:rest]] += 1
    return out
