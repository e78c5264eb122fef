"""The demo's urban village (城中村): a jittered mesh of alleys and handshake buildings."""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from ._base import _VILLAGE, _Net, _split_integer
from .streets import _Block, _region_line

__all__: list[str] = []  # internal to geo.demo: the public API is geo.demo itself


def _village(net: _Net, block: _Block, cells: list[tuple[int, int]], rng: np.random.Generator) -> dict:
    """Build the urban village over ``cells``: a jittered mesh of alleys about 24 m apart."""
    x0, x1 = block.X[min(a for a, _ in cells)], block.X[max(a for a, _ in cells) + 1]
    y0, y1 = block.Y[min(b for _, b in cells)], block.Y[max(b for _, b in cells) + 1]
    gx = np.linspace(x0, x1, int(round((x1 - x0) / 24.0)) + 1)[1:-1]
    gy = np.linspace(y0, y1, int(round((y1 - y0) / 24.0)) + 1)[1:-1]
    main_p, main_q = len(gx) // 2, len(gy) // 2
    nodes = {
        (p, q): net.node(gx[p] + rng.uniform(-5, 5), gy[q] + rng.uniform(-5, 5))
        for p in range(len(gx))
        for q in range(len(gy))
    }
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
        return dict(highway="living_street", name=f"{short}大街" if u[1] == v[1] == main_q else f"{short}中心路")
    if u[1] == v[1]:
        return dict(highway="footway", name=f"{short}{u[1] + 1}巷")
    return dict(highway="footway")


def _village_links(nx_: int, ny: int, main_p: int, main_q: int, rng: np.random.Generator) -> nx.Graph:
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


def _village_exits(
    net: _Net,
    block: _Block,
    nodes: dict,
    g: nx.Graph,
    rect: tuple[float, float, float, float],
    main_p: int,
    main_q: int,
) -> None:
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
    pts = [
        ((gx[p] + gx[p + 1]) / 2 + rng.uniform(-4, 4), (gy[q] + gy[q + 1]) / 2 + rng.uniform(-4, 4))
        for p in range(len(gx) - 1)
        for q in range(len(gy) - 1)
    ]
    pops = _split_integer(population, rng.uniform(0.6, 1.4, len(pts)))
    short = _VILLAGE[2]
    return [
        dict(
            xy=pt,
            population=int(pop),
            housing="village",
            compound_id=None,
            zone_id=village["id"],
            name=f"{short}{k + 1}号楼",
        )
        for k, (pt, pop) in enumerate(zip(pts, pops))
    ]
