"""The demo's streets: arterials with sidewalks and crossings, block streets, the graph.

Arterials are a carriageway (``foot=no``) between two sidewalks that meet only at
signalised crossings; super-blocks between them are cut into cells by local streets
with dead ends and missing links.  The builder's nodes and edges become an
osmnx-style WGS84 ``MultiDiGraph`` here, and points are snapped to public streets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import LineString

from ._base import (
    _ARTERIALS_H,
    _ARTERIALS_V,
    _EXPWY_NAME,
    _EXT,
    _FRONTAGE_NAME,
    _GRID_NM,
    _ID0,
    _INSET,
    _N_COMPOUNDS,
    _SPECIAL,
    _SPOT,
    _STREET_ENDS,
    _STREET_WORDS,
    _SW,
    _VILLAGE_GRID,
    _XS,
    _Y_EXPWY,
    _Y_FRONT,
    _Y_RAMP,
    _YS,
    NAME_EN,
    NAME_ZH,
    SOURCE,
    _local_to_wgs,
    _Net,
)

__all__: list[str] = []  # internal to geo.demo: the public API is geo.demo itself

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
    return dict(highway=highway, name=name, foot="no", sidewalk="separate", lanes=lanes, maxspeed="60", oneway=False)


def _build_arterials(net: _Net) -> _Arterials:
    """Lay the carriageways, sidewalks, junction crossings and the expressway."""
    v_stations = [-_EXT, *_YS, _Y_FRONT]
    h_stations = [-_EXT, *_XS, _XS[-1] + _EXT]
    cv = [net.line((x, -_EXT), (x, _Y_RAMP), **_carriage_tags(*_ARTERIALS_V[i])) for i, x in enumerate(_XS)]
    ch = [net.line((-_EXT, y), (_XS[-1] + _EXT, y), **_carriage_tags(*_ARTERIALS_H[j])) for j, y in enumerate(_YS)]
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
    mw = net.line(
        (-2 * _EXT, _Y_EXPWY),
        (_XS[-1] + 2 * _EXT, _Y_EXPWY),
        highway="motorway",
        name=_EXPWY_NAME,
        foot="no",
        lanes="8",
        maxspeed="100",
        oneway=False,
    )
    for i, x in enumerate(_XS):
        for dx in (-170.0, 170.0):
            end = net.attach(mw, x + dx, _Y_EXPWY)
            net.edge(
                net.node(x, _Y_RAMP),
                end,
                highway="motorway_link",
                foot="no",
                name=f"{_ARTERIALS_V[i][0]}匝道",
                oneway=False,
            )
    return _Arterials(cv, ch, mw, sidewalks)


def _sidewalk_pieces(
    net: _Net, axis: str, c: float, side: int, stations: list[float], junctions: Sequence[float]
) -> list[tuple[float, float, int]]:
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


def _crossing(net: _Net, p0: tuple[float, float], p1: tuple[float, float], carriage: int, signals: bool = True) -> None:
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
    spots = [
        ("h", 1, 500.0),
        ("h", 1, 1500.0),
        ("h", 1, 2500.0),
        ("v", 1, 450.0),
        ("v", 1, 1350.0),
        ("v", 2, 2250.0),
        ("h", 2, 1520.0),
        ("h", 0, 2480.0),
    ]
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

    def open_line(self, a: int, b: int, side: str) -> int:
        """Return the line along a side that has a street (one of :func:`_open_sides`)."""
        line = self.side_line(a, b, side)
        if line is None:
            raise ValueError(f"cell ({a}, {b}) has no street on its {side} side")
        return line

    def is_boundary(self, a: int, b: int, side: str) -> bool:
        """Whether a cell side is the block's boundary (a sidewalk or frontage)."""
        return (
            (side == "S" and b == 0)
            or (side == "N" and b + 1 == self.m)
            or (side == "W" and a == 0)
            or (side == "E" and a + 1 == self.n)
        )


def _grid_positions(lo: float, hi: float, k: int, rng: np.random.Generator) -> list[float]:
    """Return k+1 jittered street positions from lo to hi (ends fixed)."""
    base = np.linspace(lo, hi, k + 1)
    inner = base[1:-1] + rng.uniform(-25.0, 25.0, k - 1)
    return [float(lo), *map(float, inner), float(hi)]


def _make_block(
    key: tuple[int, int], art: _Arterials, net: _Net, frontage: dict[int, int], rng: np.random.Generator
) -> _Block:
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
    edges = {"W": art.sidewalk("v", i, 1, ym), "E": art.sidewalk("v", i + 1, -1, ym), "S": art.sidewalk("h", j, 1, xm)}
    edges["N"] = art.sidewalk("h", j + 1, -1, xm) if j + 1 < len(_YS) else frontage[i]
    carriage = {
        "W": (art.carriage_v[i], _XS[i]),
        "E": (art.carriage_v[i + 1], _XS[i + 1]),
        "S": (art.carriage_h[j], _YS[j]),
        "N": (art.carriage_h[j + 1], _YS[j + 1]) if j + 1 < len(_YS) else None,
    }
    block = _Block(key, X, Y, edges, carriage)
    block.types = dict(_SPECIAL.get(key, {}))
    return block


def _assign_compounds(block: _Block, rng: np.random.Generator) -> None:
    """Mark random free cells as compounds and the rest as mixed use."""
    free = [(a, b) for a in range(block.n) for b in range(block.m) if (a, b) not in block.types]
    big = [c for c in free if min(np.subtract(block.cell_box(*c)[2:], block.cell_box(*c)[:2])) >= 2 * _INSET + 150.0]
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
        sides = [
            ("h", a, b) in segs or b == 0,
            ("h", a, b + 1) in segs or b + 1 == m,
            ("v", a, b) in segs or a == 0,
            ("v", a + 1, b) in segs or a + 1 == n,
        ]
        if sum(sides) < 2:
            return False
    return True


def _street_highway(k: int, count: int, rng: np.random.Generator) -> str:
    """Highway class of a block's k-th interior street line."""
    if k == count // 2:
        return "tertiary"
    return "living_street" if rng.random() < 0.12 else "residential"


def _build_block_streets(
    block: _Block, net: _Net, names: list[str], stubs: dict[int, list[float]], rng: np.random.Generator
) -> None:
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


def _attach_street_ends(block: _Block, net: _Net, stubs: dict[int, list[float]], rng: np.random.Generator) -> None:
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


def _lot_sides(block: _Block, a: int, b: int) -> list[str]:
    """Sides of a cell facing an arterial sidewalk."""
    return [s for s in "SNWE" if block.is_boundary(a, b, s) and block.carriage[s] is not None]


# --------------------------------------------------------------------------- layout


def _frontage(net: _Net) -> dict[int, int]:
    """The frontage street along the expressway, one line per block column."""
    out = {}
    for i in range(len(_XS) - 1):
        out[i] = net.line(
            (_XS[i] + _SW, _Y_FRONT), (_XS[i + 1] - _SW, _Y_FRONT), highway="tertiary", name=_FRONTAGE_NAME
        )
    return out


def _street_names(rng: np.random.Generator) -> list[str]:
    """A shuffled pool of made-up local street names."""
    pool = [w + e for w in _STREET_WORDS for e in _STREET_ENDS[:2]]
    return [pool[int(k)] for k in rng.permutation(len(pool))]


def _motorway_spot(net: _Net, art: _Arterials) -> int:
    """A depot reachable only along a motorway_link spur off the expressway."""
    start = net.attach(art.motorway, _SPOT[0], _Y_EXPWY)
    spot = net.node(*_SPOT, amenity="depot")
    net.edge(start, spot, highway="motorway_link", foot="no", name="快速路养护站匝道", oneway=False)
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
    g = nx.MultiDiGraph(
        crs="epsg:4326", name=NAME_ZH, name_en=NAME_EN, source=SOURCE, created_with="lifecircle.geo.demo"
    )
    for k, (lon, lat) in enumerate(lonlat):
        g.add_node(_ID0 + k, x=float(lon), y=float(lat), **net.attrs[k])
    uv = np.array(list(net.edges), dtype=int).reshape(-1, 2)
    _, _, length = Geod(ellps="WGS84").inv(
        lonlat[uv[:, 0], 0], lonlat[uv[:, 0], 1], lonlat[uv[:, 1], 0], lonlat[uv[:, 1], 1]
    )
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
