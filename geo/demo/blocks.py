"""What fills the demo's blocks: gated compounds with their gates, parks, mixed-use cells.

A compound (小区) is reached on foot only through its gates; a park gets a loop path,
a cross path and two to four entrances; mixed cells get dead-end lanes, passages
and a few homes along the street.  The residential cluster beyond the expressway
hangs on one footbridge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from ._base import (
    _CLUSTER_X,
    _CLUSTER_Y,
    _COMPOUND_ENDS,
    _COMPOUND_WORDS,
    _EXPWY_NAME,
    _FOOTBRIDGE_X,
    _INSET,
    _PARKS,
    _Y_EXPWY,
    _Y_FRONT,
    _Net,
    _split_integer,
)
from .streets import (
    _Arterials,
    _Block,
    _inward,
    _lot_sides,
    _open_sides,
    _region_line,
    _side_point,
)
from .villages import _village

__all__: list[str] = []  # internal to geo.demo: the public API is geo.demo itself


@dataclass
class _Zones:
    """What the cells hold, collected while building (all in local metres)."""

    compounds: list[dict] = field(default_factory=list)
    buildings: list[dict] = field(default_factory=list)
    parks: list[dict] = field(default_factory=list)
    lot_spots: list[dict] = field(default_factory=list)
    #: Every cell that is neither a compound, a park nor the village (no random draws).
    cells: list[dict] = field(default_factory=list)
    village: dict | None = None
    cluster_nodes: list[int] = field(default_factory=list)
    footbridge: tuple[int, int] | None = None


def _compound(
    net: _Net,
    rect: tuple[float, float, float, float],
    gate_options: list[tuple[str, int, float]],
    cid: str,
    name: str,
    rng: np.random.Generator,
) -> dict:
    """Build a gated compound: internal paths, 1-2 gates, maybe a private car entrance.

    ``gate_options`` lists (side, street line, street coordinate) of the sides
    facing a street.
    """
    x0, y0, x1, y1 = rect
    gx = _inner_positions(x0, x1, rng)
    gy = _inner_positions(y0, y1, rng)
    nodes = {
        (p, q): net.node(gx[p] + rng.uniform(-3, 3), gy[q] + rng.uniform(-3, 3))
        for p in range(len(gx))
        for q in range(len(gy))
    }
    _compound_paths(net, nodes, len(gx), len(gy), cid, rng)
    order = rng.permutation(len(gate_options))
    n_gates = 1 if len(gate_options) == 1 or rng.random() < 0.4 else 2
    gates: list[int] = []
    used: set[tuple[str, int]] = set()
    for k in order[:n_gates]:
        gates.append(_gate(net, nodes, gx, gy, gate_options[int(k)], rect, used, rng, cid))
    if rng.random() < 0.45:
        side = gate_options[int(order[-1])]
        _gate(net, nodes, gx, gy, side, rect, used, rng, cid, private=True)
    return dict(id=cid, name=name, rect=rect, gates=gates, nodes=list(nodes.values()), gx=gx, gy=gy)


def _inner_positions(lo: float, hi: float, rng: np.random.Generator) -> list[float]:
    """Positions of a compound's internal paths across one dimension (about 40 m apart)."""
    k = max(2, int(round((hi - lo - 40.0) / 32.0)) + 1)
    pos = np.linspace(lo + 20.0, hi - 20.0, k)
    pos[1:-1] += rng.uniform(-4, 4, k - 2)
    return [float(p) for p in pos]


def _compound_paths(
    net: _Net, nodes: dict[tuple[int, int], int], nx_: int, ny: int, cid: str, rng: np.random.Generator
) -> None:
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


def _gate(
    net: _Net,
    nodes: dict[tuple[int, int], int],
    gx: list[float],
    gy: list[float],
    option: tuple[str, int, float],
    rect: tuple[float, float, float, float],
    used: set[tuple[str, int]],
    rng: np.random.Generator,
    cid: str,
    private: bool = False,
) -> int:
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
    return [(s, block.open_line(a, b, s), coord[s]) for s in _open_sides(block, a, b)]


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
    return [
        dict(
            xy=(x + dx, y + dy),
            population=int(pop),
            housing="compound",
            compound_id=comp["id"],
            zone_id=comp["id"],
            name=f"{comp['name']}{k + 1}栋",
        )
        for k, ((x, y), (dx, dy), pop) in enumerate(zip(pts, jitter, pops))
    ]


# --------------------------------------------------------------------------- parks, village


def _park(net: _Net, block: _Block, cells: list[tuple[int, int]], pid: str, rng: np.random.Generator) -> dict:
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


def _park_entrance(
    net: _Net,
    block: _Block,
    outer: tuple[float, float, float, float],
    rect: tuple[float, float, float, float],
    side: str,
    loop: list[tuple[float, float]],
    ids: list[int],
    rng: np.random.Generator,
) -> tuple[float, float]:
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


# --------------------------------------------------------------------------- mixed cells


def _mixed_cell(net: _Net, block: _Block, a: int, b: int, zones: _Zones, rng: np.random.Generator) -> None:
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
        zones.buildings.append(
            dict(
                xy=(x + ix * off, y + iy * off),
                housing="other",
                compound_id=None,
                zone_id=None,
                weight=float(rng.uniform(0.5, 1.5)),
            )
        )


def _passage(net: _Net, block: _Block, a: int, b: int, rng: np.random.Generator) -> None:
    """Add a pedestrian passage across the cell with a branch to a building entrance."""
    sides = _open_sides(block, a, b)
    pairs = [p for p in (("W", "E"), ("S", "N")) if set(p) <= set(sides)]
    if not pairs:
        return
    s0, s1 = pairs[int(rng.integers(len(pairs)))]
    t = float(rng.uniform(0.35, 0.65))
    p0, p1 = _side_point(block, a, b, s0, t), _side_point(block, a, b, s1, t)
    u = net.attach(block.open_line(a, b, s0), *p0)
    v = net.attach(block.open_line(a, b, s1), *p1)
    f = float(rng.uniform(0.3, 0.7))
    mid = net.node(p0[0] + f * (p1[0] - p0[0]), p0[1] + f * (p1[1] - p0[1]))
    tags: dict[str, Any] = dict(highway="footway", osmid=net.way())
    name = net.lines[block.open_line(a, b, s0)].tags.get("name")
    if name and rng.random() < 0.5:
        tags["name"] = f"{name}步行街"
    net.edge(u, mid, **tags)
    net.edge(mid, v, **tags)
    side = 1.0 if rng.random() < 0.5 else -1.0
    dx, dy = (0.0, 30.0 * side) if s0 == "W" else (30.0 * side, 0.0)
    net.edge(mid, net.node(net.xy[mid][0] + dx, net.xy[mid][1] + dy), highway="footway")


def _dead_end(
    net: _Net, block: _Block, a: int, b: int, side: str, depth_range: tuple[float, float], rng: np.random.Generator
) -> None:
    """Add a cul-de-sac or service lane from one side into the cell."""
    x, y = _side_point(block, a, b, side, float(rng.uniform(0.4, 0.6)))
    x0, y0, x1, y1 = block.cell_box(a, b)
    depth = float(rng.uniform(*depth_range)) * ((y1 - y0) if side in "SN" else (x1 - x0))
    ix, iy = _inward(side)
    start = net.attach(block.open_line(a, b, side), x, y)
    mid = net.node(x + ix * depth * 0.5, y + iy * depth * 0.5)
    end = net.node(x + ix * depth, y + iy * depth)
    tags: dict[str, Any] = dict(highway="service")
    street = net.lines[block.open_line(a, b, side)].tags.get("name")
    if rng.random() < 0.5 and street:
        tags = dict(highway="residential", name=f"{street}支巷")
    osm = net.way()
    net.edge(start, mid, osmid=osm, **tags)
    net.edge(mid, end, osmid=osm, **tags)


def _compound_names(rng: np.random.Generator) -> list[str]:
    """A shuffled pool of made-up compound names."""
    pool = [w + e for w in _COMPOUND_WORDS for e in _COMPOUND_ENDS]
    return [pool[int(k)] for k in rng.permutation(len(pool))]


def _fill_block(net: _Net, block: _Block, zones: _Zones, cnames: list[str], rng: np.random.Generator) -> None:
    """Build everything inside one super-block's cells."""
    parks: dict[str, list[tuple[int, int]]] = {}
    village: list[tuple[int, int]] = []
    for (a, b), t in sorted(block.types.items()):
        if t == "compound":
            x0, y0, x1, y1 = block.cell_box(a, b)
            rect = (x0 + _INSET, y0 + _INSET, x1 - _INSET, y1 - _INSET)
            cid = f"C{len(zones.compounds) + 1:02d}"
            zones.compounds.append(_compound(net, rect, _gate_options(block, a, b), cid, cnames.pop(), rng))
        elif t.startswith("park:"):
            parks.setdefault(t[5:], []).append((a, b))
        elif t == "village":
            village.append((a, b))
        else:
            zones.cells.append(dict(block=block, cell=(a, b), use=t, box=block.cell_box(a, b), node0=len(net.xy)))
            if t == "mixed":
                _mixed_cell(net, block, a, b, zones, rng)
            sides = _open_sides(block, a, b) if t == "industrial" else _lot_sides(block, a, b)
            for side in sides:
                zones.lot_spots.append(dict(block=block, cell=(a, b), side=side, use=t))
    for pid, cells in parks.items():
        zones.parks.append(_park(net, block, cells, pid, rng))
    if village:
        zones.village = _village(net, block, village, rng)


def _cluster(
    net: _Net, zones: _Zones, cnames: list[str], art: _Arterials, frontage: int, rng: np.random.Generator
) -> None:
    """The small residential cluster beyond the expressway, reached on foot by a footbridge."""
    first = len(net.xy)
    X, Y = list(_CLUSTER_X), list(_CLUSTER_Y)
    nm_s, nm_n = "北岭路", "北岭一街"
    edges = {
        "S": net.line((X[0], Y[0]), (X[-1], Y[0]), highway="residential", name=nm_s),
        "N": net.line((X[0], Y[1]), (X[-1], Y[1]), highway="residential", name=nm_n),
        "W": net.line((X[0], Y[0]), (X[0], Y[1]), highway="residential", name="北岭西街"),
        "E": net.line((X[-1], Y[0]), (X[-1], Y[1]), highway="residential", name="北岭东街"),
    }
    block = _Block((1, 3), X, Y, edges, {s: None for s in "SNWE"})
    block.vseg[(1, 0)] = net.line((X[1], Y[0]), (X[1], Y[1]), highway="living_street", name="北岭中街")
    for s in "SN":
        net.attach(edges[s], X[1], Y[0] if s == "S" else Y[1])
    block.types = {(0, 0): "compound", (1, 0): "mixed"}
    _fill_block(net, block, zones, cnames, rng)
    north = net.attach(edges["S"], _FOOTBRIDGE_X, Y[0])
    zones.cluster_nodes = list(range(first, len(net.xy)))
    south = net.attach(frontage, _FOOTBRIDGE_X, _Y_FRONT)
    zones.footbridge = (south, north)
    net.edge(south, north, highway="footway", bridge="yes", layer="1", name=f"{_EXPWY_NAME}人行天桥")
    ramp_end = net.attach(art.motorway, X[-1] + 80.0, _Y_EXPWY)
    net.edge(ramp_end, net.node(X[-1], Y[0]), highway="motorway_link", foot="no", name="北岭路匝道", oneway=False)
