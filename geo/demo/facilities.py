"""The demo's facilities, boundaries and candidate sites (generated data, not real).

Two sets of facilities: the hand-placed party-mass centres, micro-stations and
clinics plus the park entrances (drawn with the district's main random stream),
and the amenities an evaluation by GB 50180-2018 needs (schools, kindergartens,
childcare, elderly care, nursing homes, culture, sports, markets, police,
libraries, 驿站, pocket parks, community health stations), drawn with a separate
stream so that adding them changed nothing else.  The amenities are planned by
hand around anchor points (kindergartens at compound gates, 10-minute facilities
in neighbourhood centres, 15-minute ones beside the clinics, rooms of the
party-mass centres and stations), and then, after all of those, the 5-minute
services (社康站 health stations, 长者服务站, 托育点, 文化室, small sports grounds) at
the gates of chosen compounds with three street parks of 0.47-1.1 ha, so that a
GB 50180-2018 ledger differs from 社区 to 社区.  The intent, by plain networkx
(tests/test_demo.py): 翠湖 (SQ05) is the model 完整社区 pilot, about 35 % of its
residents in a complete 5-minute circle; 月桂 is partial (about 25 %, the compounds
beside 翠峰公园); 丹枫 and 云杉 have the services at a few compounds but few homes
within 300 m of a park >= 0.4 ha (about 6 %), 青榕 about 1 %; 玉兰 with the urban
village, and the cluster beyond the expressway, get none.  The 10-minute circle
(park >= 1 ha within 500 m holds it back) is complete for about 45 % of 翠湖, 39 %
of 月桂, 16 % of 云杉 and nearly none of the others; the 15-minute one (park >= 5 ha:
only 翠峰公园) for about 20 % of 丹枫, 10 % of 月桂 and none of the others.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, box
from shapely.ops import unary_union

from ._base import _COMMUNITIES, _Net
from .blocks import _Zones
from .streets import _inward, _open_sides, _side_point, _Snapper

__all__ = ["AMENITY_KINDS", "MAP_KINDS"]

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
    recs = [dict(id=fid, name=name, kind=kind, level=level) for fid, name, kind, level, _ in _FACILITY_PLAN]
    geoms = [Point(p) for p in pts]
    gates = {"S": "南门", "N": "北门", "W": "西门", "E": "东门"}
    for park in zones.parks:
        x0, y0, x1, y1 = park["rect"]
        for k, (x, y) in enumerate(park["entrances"]):
            side = min((abs(y - y0), "S"), (abs(y - y1), "N"), (abs(x - x0), "W"), (abs(x - x1), "E"))[1]
            recs.append(
                dict(
                    id=f"PK-{park['id'][1:]}{chr(97 + k)}",
                    name=f"{park['name']}（{gates[side]}）",
                    kind="park",
                    level=None,
                )
            )
            geoms.append(Point(x, y))
    return recs, geoms


def _candidates(
    snap: _Snapper, street: Polygon, parks: list[Polygon], rng: np.random.Generator
) -> tuple[list[dict], list[Any]]:
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


# --------------------------------------------------------------------------- amenities

#: The demo's first four kinds (the planner's map and the siting examples use these).
MAP_KINDS = ("party_center", "micro_station", "park", "clinic")
#: The kinds added for the evaluation, in the order of the facilities table.
AMENITY_KINDS = (
    "kindergarten",
    "primary_school",
    "middle_school",
    "childcare",
    "elderly_care",
    "nursing_home",
    "culture",
    "sports",
    "market",
    "police",
    "library",
    "post_station",
    "health_station",
)

# kind -> (id prefix, name suffix, placement, anchors).  Placement:
# "gate": at the main gate of the compound nearest the anchor (小区配套, one per compound);
# "school": on the street side of the nearest large mixed cell (>= 4.4 ha);
# "cell": on the street side of the nearest mixed cell;
# "at:<facility ids>": beside those facilities (a room of the centre or station).
# Anchors (local metres) are set by hand beside the compounds and the village, where
# the people are.  Like Shenzhen's 邻里中心, the 10-minute facilities (primary school,
# market, sports ground) cluster in neighbourhood centres, several beside the parks,
# and the 15-minute ones (middle school, nursing home, police) beside the clinics.
# Gaps are deliberate, so that the 社区 differ: no middle school in 翠湖 (SQ05), no
# childcare in 青榕 (SQ02), no kindergarten at the eastern compounds of 月桂 (SQ06),
# no neighbourhood centre for the urban village (城中村).
_P = tuple[tuple[float, float], ...]
_CENTRES_10: _P = (
    (1500, 2000),
    (1560, 2440),
    (2380, 200),
    (2380, 520),
    (300, 2150),
    (450, 2450),
    (700, 400),
    (1700, 600),
    (1880, 1650),
    (2650, 1180),
    (1300, 1150),
)
_CENTRES_15: _P = ((600, 850), (1450, 1330), (2250, 2300), (2400, 700), (1760, 2180))
_AMENITY_PLAN: tuple[tuple[str, str, str, str, _P], ...] = (
    (
        "kindergarten",
        "KG",
        "幼儿园",
        "gate",
        (
            (150, 565),
            (150, 785),
            (392, 565),
            (1685, 766),
            (1888, 114),
            (1888, 338),
            (2134, 131),
            (2134, 354),
            (2378, 770),
            (525, 1691),
            (720, 1225),
            (1313, 1024),
            (1313, 1463),
            (1878, 1679),
            (2146, 1690),
            (2630, 1174),
            (2860, 1690),
            (302, 1931),
            (498, 2326),
            (704, 1931),
            (1394, 1928),
            (1619, 2539),
            (1330, 2855),
            (250, 1250),
            (300, 1500),
        ),
    ),
    ("primary_school", "PS", "小学", "school", _CENTRES_10),
    ("middle_school", "ZX", "中学", "school", _CENTRES_15[1:] + ((1150, 700),)),
    (
        "childcare",
        "TY",
        "托育中心",
        "cell",
        ((400, 600), (1400, 1250), (2200, 500), (1300, 2100), (2700, 1200), (600, 2000), (2850, 2000)),
    ),
    (
        "elderly_care",
        "EC",
        "长者日间照料中心",
        "at:PC-02:PC-03:PC-04:PC-05:PC-06:PC-07:MS-01:MS-02:MS-05:MS-07:MS-09",
        (),
    ),
    ("nursing_home", "NH", "颐养院", "cell", _CENTRES_15 + ((700, 2300),)),
    (
        "culture",
        "CU",
        "文化活动站",
        "at:PC-01:PC-02:PC-03:PC-04:PC-05:PC-06:PC-07:MS-01:MS-02:MS-03:MS-04:MS-05:MS-06:MS-07:MS-08:MS-09:MS-10",
        (),
    ),
    ("sports", "SP", "社区运动场", "cell", _CENTRES_10 + ((2850, 2250), (1580, 2860))),
    ("market", "MK", "农贸市场", "cell", _CENTRES_10 + ((250, 1050), (2700, 2450))),
    ("police", "JW", "警务室", "cell", _CENTRES_15 + ((330, 1660), (700, 2420), (2800, 1500))),
    ("library", "LB", "图书馆", "at:PC-01:PC-02:PC-03:PC-04:PC-05:PC-06:PC-07", ()),
    ("post_station", "YZ", "党群驿站", "cell", ((1060, 1760), (1960, 960), (60, 880), (2000, 2600), (1000, 300))),
)


_PLACE_WORDS = (
    "玉兰",
    "青榕",
    "云杉",
    "丹枫",
    "翠湖",
    "月桂",
    "锦绣",
    "鹏程",
    "梧桐",
    "荔香",
    "翠微",
    "松涛",
    "深云",
    "榕岗",
    "北岭",
    "荔园",
    "景秀",
    "华茂",
    "安康",
    "文华",
)
#: Pocket parks: target area (m2) and anchor; the areas span the 城市体检 size classes.
_POCKET_PARKS = (
    (850.0, (880, 330)),
    (1450.0, (1130, 1420)),
    (1850.0, (2900, 2300)),
    (2500.0, (2150, 650)),
    (3300.0, (420, 2520)),
    (4400.0, (1900, 2500)),
)
_POCKET_NAMES = ("木棉", "凤凰", "紫荆", "簕杜鹃", "桂花", "香樟")


def _near_cells(zones: _Zones, anchor: tuple[float, float], min_area: float = 0.0) -> list[dict]:
    """Mixed cells sorted by the distance of their centre to ``anchor``."""
    cells = [
        c
        for c in zones.cells
        if c["use"] == "mixed" and (c["box"][2] - c["box"][0]) * (c["box"][3] - c["box"][1]) >= min_area
    ]

    def dist(c: dict) -> float:
        x0, y0, x1, y1 = c["box"]
        return float(np.hypot((x0 + x1) / 2 - anchor[0], (y0 + y1) / 2 - anchor[1]))

    return sorted(cells, key=dist)


def _nearest_compound(
    zones: _Zones, anchor: tuple[float, float], taken: set[str], within: float = 300.0
) -> dict | None:
    """The compound nearest ``anchor`` (centre within ``within`` m) not yet taken, or None."""
    best, best_d = None, within
    for comp in zones.compounds:
        x0, y0, x1, y1 = comp["rect"]
        dist = float(np.hypot((x0 + x1) / 2 - anchor[0], (y0 + y1) / 2 - anchor[1]))
        if comp["id"] not in taken and dist <= best_d:
            best, best_d = comp, dist
    return best


def _frontage_point(cell: dict, anchor: tuple[float, float], rng: np.random.Generator) -> tuple[float, float]:
    """A point 14 m inside the cell on its street side nearest ``anchor``."""
    block, (a, b) = cell["block"], cell["cell"]
    x0, y0, x1, y1 = cell["box"]
    edge = {"S": abs(anchor[1] - y0), "N": abs(anchor[1] - y1), "W": abs(anchor[0] - x0), "E": abs(anchor[0] - x1)}
    side = min(_open_sides(block, a, b), key=lambda s: edge[s])
    x, y = _side_point(block, a, b, side, float(rng.uniform(0.3, 0.7)))
    ix, iy = _inward(side)
    return x + 14.0 * ix, y + 14.0 * iy


def _amenities(
    snap: _Snapper, zones: _Zones, pocket: list[dict], rng: np.random.Generator
) -> tuple[list[dict], list[Any]]:
    """The evaluation's amenities (see the module docstring) and the pocket parks' entrances."""
    plan_xy = {fid: xy for fid, *_, xy in _FACILITY_PLAN}
    comm_name = {fid: name.removesuffix("党群服务中心").removesuffix("党群服务站") for fid, name, *_ in _FACILITY_PLAN}
    used: dict[int, int] = {}
    recs: list[dict] = []
    pts: list[tuple[float, float]] = []
    words = [_PLACE_WORDS[int(k)] for k in rng.permutation(len(_PLACE_WORDS))]
    taken: set[str] = set()
    for kind, prefix, suffix, where, anchors in _AMENITY_PLAN:
        if where.startswith("at:"):
            sites = where[3:].split(":")
            for k, fid in enumerate(sites):
                x, y = plan_xy[fid]
                pts.append((x + float(rng.uniform(-25, 25)), y + float(rng.uniform(-25, 25))))
                level = "street" if fid == "PC-01" else "community"
                name = f"{comm_name[fid]}{suffix}"
                if fid == "PC-01":
                    name = "示范街道" + ("文化活动中心" if kind == "culture" else suffix)
                recs.append(dict(id=f"{prefix}-{k + 1:02d}", name=name, kind=kind, level=level))
            continue
        for k, anchor in enumerate(anchors):
            comp = _nearest_compound(zones, anchor, taken) if where == "gate" else None
            if comp is not None:
                taken.add(comp["id"])
                pts.append(tuple(comp["gate_xy"][0]))
                name = f"{comp['name']}{suffix}"
            else:
                cells = _near_cells(zones, anchor, 4.4e4 if where == "school" else 0.0)
                cell = next(c for c in cells if used.get(id(c), 0) < 3)
                used[id(cell)] = used.get(id(cell), 0) + 1
                pts.append(_frontage_point(cell, anchor, rng))
                name = f"{words[k % len(words)]}{suffix}"
            recs.append(dict(id=f"{prefix}-{k + 1:02d}", name=name, kind=kind, level=None))
    geoms = [Point(p) for p in snap.snap(np.array(pts, dtype=float), 10.0)]
    for park in pocket:
        recs.append(dict(id=f"PK-{park['id'][1:]}a", name=park["name"], kind="park", level=None))
        geoms.append(Point(snap.snap(np.array([park["entrance"]]), 6.0)[0]))
    return recs, geoms


# --------------------------------------------------------------------------- 5-minute services

_HUB = ("health_station", "elderly_care", "childcare", "culture", "sports")
_HS = ("health_station",)
#: 5-minute services at compound gates (社区嵌入式服务设施 and the compound's 社康站): the
#: 翠湖 pilot 完整社区 (every compound), the compounds beside 翠峰公园 (月桂) and 荔枝湾公园
#: (云杉), one compound of 丹枫 and 青榕 beside their new street parks, and health stations
#: alone at a few more compounds.  None in the urban village or beyond the expressway.
_HUBS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("C18", _HUB),
    ("C19", _HUB),
    ("C20", _HUB),
    ("C21", _HUB),
    ("C22", _HUB),
    ("C07", _HUB),
    ("C08", _HUB),
    ("C13", _HUB),
    ("C04", _HUB),
    ("C03", _HS),
    ("C10", _HS),
    ("C14", _HS),
    ("C16", _HS),
    ("C23", _HS),
    ("C05", _HS),
)
_HUB_NAMES = {
    "health_station": ("HS", "社康站"),
    "elderly_care": ("EC", "长者服务站"),
    "childcare": ("TY", "托育点"),
    "culture": ("CU", "文化室"),
    "sports": ("SP", "小型多功能运动场"),
}
#: 10-minute services added on the street side of the mixed cell nearest an anchor: the
#: pilot's fresh market and sports ground, 丹枫's market and 月桂's second primary school.
_EXTRA_10: tuple[tuple[str, str, tuple[float, float]], ...] = (
    ("market", "翠湖生鲜超市", (600, 2150)),
    ("sports", "翠湖社区运动场", (650, 2100)),
    ("market", "丹枫生鲜超市", (1300, 1300)),
    ("primary_school", "阳光小学", (1480, 2530)),
)
_EXTRA_PREFIX = {"market": "MK", "sports": "SP", "primary_school": "PS"}
#: Gates added to the big parks on the side of the compounds that face them (park id, gate,
#: local metres).
_EXTRA_GATES = (("P1", "西南门", (1330.0, 2054.0)), ("P2", "西南门", (2265.0, 275.0)))
#: Street parks of a 5-minute circle (>= 0.4 ha) and the pilot's 1.1 ha 社区公园 (翠湖).
_STREET_PARKS = ((11000.0, (700, 2150)), (5200.0, (1320, 1240)), (4800.0, (1680, 560)))
_STREET_PARK_NAMES = ("翠湖社区公园", "丹枫街心公园", "青榕街心公园")


def _service_hubs(
    snap: _Snapper, zones: _Zones, first: dict[str, int], rng: np.random.Generator
) -> tuple[list[dict], list[Any]]:
    """The 5-minute services of :data:`_HUBS` at the compounds' main gates.

    ``first`` maps an id prefix to the number of facilities it already has, so
    ids continue (``EC-12`` after ``EC-11``).
    """
    comps = {c["id"]: c for c in zones.compounds}
    count = dict(first)
    recs: list[dict] = []
    pts: list[tuple[float, float]] = []
    for cid, kinds in _HUBS:
        comp = comps[cid]
        gx, gy = comp["gate_xy"][0]
        for kind in kinds:
            prefix, suffix = _HUB_NAMES[kind]
            count[prefix] = count.get(prefix, 0) + 1
            pts.append((gx + float(rng.uniform(-20, 20)), gy + float(rng.uniform(-20, 20))))
            recs.append(dict(id=f"{prefix}-{count[prefix]:02d}", name=f"{comp['name']}{suffix}", kind=kind, level=None))
    for kind, name, anchor in _EXTRA_10:
        prefix = _EXTRA_PREFIX[kind]
        count[prefix] = count.get(prefix, 0) + 1
        cell = _near_cells(zones, anchor)[0]
        pts.append(_frontage_point(cell, anchor, rng))
        recs.append(dict(id=f"{prefix}-{count[prefix]:02d}", name=name, kind=kind, level=None))
    return recs, [Point(p) for p in snap.snap(np.array(pts, dtype=float), 10.0)]


def _park_gates(snap: _Snapper, zones: _Zones, parks: list[dict]) -> tuple[list[dict], list[Any]]:
    """The gates of :data:`_EXTRA_GATES` and one entrance per small park (kind ``park``).

    Ids follow the parks' own: ``PK-<n><letter>`` opens into park ``P<n>``.
    """
    big = {p["id"]: p for p in zones.parks}
    recs: list[dict] = []
    pts: list[tuple[float, float]] = []
    for pid, gate, xy in _EXTRA_GATES:
        letter = chr(97 + len(big[pid]["entrances"]))
        recs.append(dict(id=f"PK-{pid[1:]}{letter}", name=f"{big[pid]['name']}（{gate}）", kind="park", level=None))
        pts.append(xy)
    for park in parks:
        recs.append(dict(id=f"PK-{park['id'][1:]}a", name=park["name"], kind="park", level=None))
        pts.append(park["entrance"])
    return recs, [Point(p) for p in snap.snap(np.array(pts, dtype=float), 6.0)]


def _pocket_parks(
    net: _Net,
    zones: _Zones,
    avoid: list[Any],
    rng: np.random.Generator,
    plan: tuple[tuple[float, tuple[float, float]], ...] = _POCKET_PARKS,
    names: tuple[str, ...] | None = None,
    taken: tuple[Polygon, ...] = (),
) -> list[dict]:
    """Small parks on the street side of mixed cells, clear of streets, points and ``taken``.

    ``plan`` gives each park's target area (m2) and anchor.  Returns dicts with
    ``id`` (numbered after the parks and ``taken``), ``name``, ``polygon`` (local
    metres) and ``entrance`` (the middle of the side facing the street).
    """
    lines = [shapely.LineString([net.xy[u], net.xy[v]]) for u, v in net.edges]
    edges = shapely.STRtree(lines)
    points = shapely.STRtree(np.asarray(avoid, dtype=object))
    out: list[dict] = []
    if names is None:
        names = tuple(f"{name}口袋公园" for name in _POCKET_NAMES)
    first = len(zones.parks) + len(taken) + 1
    taken_list: list[Polygon] = list(taken)
    for k, (area, anchor) in enumerate(plan):
        area *= float(rng.uniform(0.97, 1.03))
        for cell in _near_cells(zones, anchor):
            poly, entrance = _try_pocket(cell, area, edges, points, taken_list, rng)
            if poly is not None:
                break
        else:  # pragma: no cover - the layout always has room
            raise RuntimeError("no room for a pocket park")
        taken_list.append(poly)
        out.append(dict(id=f"P{first + k}", name=names[k], polygon=poly, entrance=entrance))
    return out


def _try_pocket(
    cell: dict,
    area: float,
    edges: shapely.STRtree,
    points: shapely.STRtree,
    taken: list[Polygon],
    rng: np.random.Generator,
) -> tuple[Polygon | None, tuple[float, float]]:
    """Try a few rectangles of ``area`` along the cell's street sides."""
    block, (a, b) = cell["block"], cell["cell"]
    x0, y0, x1, y1 = cell["box"]
    for _ in range(12):
        sides = _open_sides(block, a, b)
        side = sides[int(rng.integers(len(sides)))]
        ratio = float(rng.uniform(1.0, 1.8))
        w, h = np.sqrt(area * ratio), np.sqrt(area / ratio)  # w along the street
        span = (x1 - x0) if side in "SN" else (y1 - y0)
        if w + 40.0 > span:
            continue
        t = float(rng.uniform(20.0, span - w - 20.0))
        if side == "S":
            rect = (x0 + t, y0 + 8.0, x0 + t + w, y0 + 8.0 + h)
        elif side == "N":
            rect = (x0 + t, y1 - 8.0 - h, x0 + t + w, y1 - 8.0)
        elif side == "W":
            rect = (x0 + 8.0, y0 + t, x0 + 8.0 + h, y0 + t + w)
        else:
            rect = (x1 - 8.0 - h, y0 + t, x1 - 8.0, y0 + t + w)
        poly = box(*rect)
        if (
            len(edges.query(poly.buffer(3.0), predicate="intersects"))
            or len(points.query(poly.buffer(5.0), predicate="intersects"))
            or any(poly.buffer(10.0).intersects(p) for p in taken)
        ):
            continue
        cx, cy = poly.centroid.coords[0]
        entrance = {"S": (cx, rect[1]), "N": (cx, rect[3]), "W": (rect[0], cy), "E": (rect[2], cy)}[side]
        return poly, entrance
    return None, (0.0, 0.0)
