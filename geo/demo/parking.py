"""The demo's shared-parking study (错时共享停车): lots and compounds short of night parking.

The shortfalls are calibrated so that about half the gap can be closed by lots
within a 500 m walk, as in Dongxiao street.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import shapely
from shapely.geometry import LineString, Point

from ._base import _Net
from .blocks import _Zones
from .streets import _inward, _is_walkable, _side_point, _Snapper

__all__: list[str] = []  # internal to geo.demo: the public API is geo.demo itself

_LOT_KINDS = {  # land_use: (name suffix, capacity range, reserved range, price choices)
    "office": ("大厦停车场", (30, 150), (0, 12), (5, 8, 10, 10, 12)),
    "retail": ("广场停车场", (60, 300), (5, 25), (8, 10, 15, 20)),
    "hotel": ("酒店停车场", (20, 50), (0, 6), (10, 15, 20)),
    "industrial": ("产业园停车场", (30, 120), (0, 12), (0, 5, 5, 8)),
    "hospital": ("医院停车场", (20, 60), (5, 15), (10, 15)),
}
_LOT_WORDS = (
    "鹏程",
    "卓越",
    "华润",
    "中信",
    "招商",
    "星河",
    "海岸",
    "金融",
    "科技",
    "创新",
    "天安",
    "新世界",
    "国际",
    "时代",
    "荣超",
    "江苏",
    "大中华",
    "皇岗",
    "福田",
    "新洲",
    "锦峰",
    "云端",
    "益田",
    "凤凰",
    "信和",
    "金地",
    "博今",
    "东海",
    "南光",
    "泰然",
    "中航",
    "嘉里",
    "深业",
    "彩田",
    "华强",
    "莲花",
    "景田",
    "香蜜",
    "梅林",
    "园岭",
)
_PARKING_WALK = 500.0  # metres a resident walks from a lot to the compound's gate
_OPEN_HOURS = ("19:00-08:00", "19:00-08:00", "19:00-08:00", "19:30-07:30", "18:30-08:30")
_WINDOWS = ("19:30-07:30", "19:30-07:30", "20:00-07:30", "19:00-07:30", "20:00-07:00")
#: Hours every resident's window covers: the demo's supply is calibrated on them.
_NIGHT_HOURS = (20, 21, 22, 23, 0, 1, 2, 3, 4, 5, 6)


def _lots(snap: _Snapper, zones: _Zones, rng: np.random.Generator) -> tuple[list[dict], list]:
    """Commercial parking lots along the arterials that share spaces at night."""
    spots = zones.lot_spots
    special = [k for k, s in enumerate(spots) if s["use"] in ("hospital", "industrial")]
    plain = [k for k in range(len(spots)) if k not in special]
    chosen = sorted(
        set(special[::2]) | {plain[int(k)] for k in rng.choice(len(plain), size=min(26, len(plain)), replace=False)}
    )
    words = [_LOT_WORDS[int(k)] for k in rng.permutation(len(_LOT_WORDS))]
    recs: list[dict] = []
    pts: list[tuple[float, float]] = []
    for k in chosen:
        spot = spots[k]
        use = _lot_use(spot["use"], rng)
        suffix, cap, res, prices = _LOT_KINDS[use]
        capacity = int(rng.integers(cap[0] // 5, cap[1] // 5 + 1)) * 5
        a, b = spot["cell"]
        x, y = _side_point(spot["block"], a, b, spot["side"], float(rng.uniform(0.25, 0.75)))
        ix, iy = _inward(spot["side"])
        pts.append((x + ix * 10.0, y + iy * 10.0))
        recs.append(
            dict(
                id=f"L{len(recs) + 1:02d}",
                name=f"{words.pop()}{suffix}",
                land_use=use,
                capacity=capacity,
                open=_OPEN_HOURS[int(rng.integers(len(_OPEN_HOURS)))],
                reserved=int(rng.integers(res[0], min(res[1], capacity // 4) + 1)),
                price=int(prices[int(rng.integers(len(prices)))]),
            )
        )
    return recs, [Point(p) for p in snap.snap(np.array(pts), 12.0)]


def _lot_use(cell_use: str, rng: np.random.Generator) -> str:
    """Land use of a lot from the use of its cell."""
    if cell_use in ("hospital", "industrial"):
        return cell_use
    if cell_use == "retail":
        return "retail"
    return ("office", "office", "office", "retail", "hotel")[int(rng.integers(5))]


def _residences(
    zones: _Zones, walk: np.ndarray, supply: np.ndarray, rng: np.random.Generator
) -> tuple[list[dict], list[Any]]:
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
        recs.append(
            dict(id=comp["id"], name=comp["name"], demand=int(dem), window=_WINDOWS[int(rng.integers(len(_WINDOWS)))])
        )
        pts.append(Point(comp["gate_xy"][0]))
    return recs, pts


def _matched(demand: np.ndarray, supply: np.ndarray, ok: np.ndarray) -> float:
    """Cars placed by a maximum flow from residences to the lots they may walk to."""
    g = nx.DiGraph()
    for i, dem in enumerate(demand):
        g.add_edge("s", ("r", i), capacity=int(dem))
        for j in np.flatnonzero(ok[i]).tolist():
            g.add_edge(("r", i), ("l", j))
    for j, sup in enumerate(supply):
        g.add_edge(("l", j), "t", capacity=int(sup))
    return float(nx.maximum_flow_value(g, "s", "t"))


def _calibrate_demand(raw: np.ndarray, supply: np.ndarray, ok: np.ndarray, share: float = 0.62) -> np.ndarray:
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


def _walk_to_points(net: _Net, sources: list[int], pts: np.ndarray, cutoff: float) -> np.ndarray:
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


def _parking(
    net: _Net, snap: _Snapper, zones: _Zones, rng: np.random.Generator
) -> tuple[tuple[list[dict], list[Any]], tuple[list[dict], list[Any]]]:
    """The lots and the short compounds, calibrated on walks of up to 500 m."""
    lots = _lots(snap, zones, rng)
    lot_xy = shapely.get_coordinates(np.asarray(lots[1], dtype=object))
    gates = [c["gates"][0] for c in zones.compounds]
    walk = _walk_to_points(net, gates, lot_xy, _PARKING_WALK)
    return lots, _residences(zones, walk, _night_supply(lots[0]), rng)


def _night_supply(lots: list[dict]) -> np.ndarray:
    """Spaces each lot can offer through the whole night, after its typical occupancy."""
    from ..parking import LAND_USE_PROFILES

    out = []
    for lot in lots:
        busiest = max(LAND_USE_PROFILES[lot["land_use"]][h] for h in _NIGHT_HOURS)
        out.append(max(0, int(np.floor(lot["capacity"] * (1.0 - busiest))) - lot["reserved"]))
    return np.array(out)
