"""Edges chained into strokes (natural streets): at each junction a street runs on into
the edge that continues it most straight.  Service areas buffer strokes instead of
single edges (fewer overlapping round caps, the same polygon)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .core import WalkNetwork

__all__ = ["STROKE_DEFLECTION_DEG", "Strokes", "stroke_continuations", "build_strokes"]

#: Largest deflection, in degrees, at which a street is taken to run on through a junction.
STROKE_DEFLECTION_DEG = 35.0


@dataclass
class Strokes:
    """Edges chained into strokes (natural streets).

    Attributes
    ----------
    stroke
        Stroke id of each edge.
    position
        Place of each edge along its stroke (0, 1, 2, ...).
    flipped
        True where the stroke runs through the edge from ``edge_v`` to ``edge_u``.
    """

    stroke: np.ndarray
    position: np.ndarray
    flipped: np.ndarray


def _end_angles(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Direction (radians) in which each edge leaves its u end and its v end."""
    start = net.geom_offsets[:-1]
    end = net.geom_offsets[1:] - 1
    du = net.geom_xy[start + 1] - net.geom_xy[start]
    dv = net.geom_xy[end - 1] - net.geom_xy[end]
    return np.arctan2(du[:, 1], du[:, 0]), np.arctan2(dv[:, 1], dv[:, 0])


def stroke_continuations(net: WalkNetwork) -> np.ndarray:
    """At every junction pair up the edge ends that run on most straight.

    Pairs of ends at a node are taken greedily by deflection (the straightest
    first, each end once, none above :data:`STROKE_DEFLECTION_DEG`), a round
    per pair so that all junctions are matched at once.

    Returns
    -------
    numpy.ndarray
        ``partner[2 * e + end]`` is ``2 * e2 + end2`` when end ``end`` (0 at u,
        1 at v) of edge ``e`` runs on into end ``end2`` of edge ``e2``, else -1.
    """
    angle_u, angle_v = _end_angles(net)
    ends = np.arange(2 * net.n_edges)  # 2 * e + end
    node = np.where(ends % 2 == 0, net.edge_u[ends // 2], net.edge_v[ends // 2])
    angle = np.where(ends % 2 == 0, angle_u[ends // 2], angle_v[ends // 2])
    order = np.argsort(node, kind="stable")
    ends, node, angle = ends[order], node[order], angle[order]
    # every pair (a, b) of ends at the same node, a before b
    first = np.searchsorted(node, node, side="left")
    last = np.searchsorted(node, node, side="right")
    later = last - np.arange(ends.size) - 1
    a = np.repeat(np.arange(ends.size), later)
    b = a + 1 + (np.arange(a.size) - np.repeat(np.cumsum(later) - later, later))
    deflection = np.abs((angle[a] - angle[b]) % (2 * np.pi) - np.pi)
    keep = (deflection <= np.radians(STROKE_DEFLECTION_DEG)) & (ends[a] // 2 != ends[b] // 2)
    a, b, deflection = a[keep], b[keep], deflection[keep]
    rank = np.lexsort((b - first[b], a - first[a], deflection, node[a]))
    a, b = a[rank], b[rank]
    partner = np.full(2 * net.n_edges, -1, dtype=np.int64)
    free = np.ones(ends.size, dtype=bool)
    while a.size:
        _, pick = np.unique(node[a], return_index=True)  # the straightest free pair at each node
        pa, pb = a[pick], b[pick]
        partner[ends[pa]], partner[ends[pb]] = ends[pb], ends[pa]
        free[pa] = free[pb] = False
        alive = free[a] & free[b]
        a, b = a[alive], b[alive]
    return partner


def build_strokes(net: WalkNetwork) -> Strokes:
    """Chain edges into strokes: at each junction a street runs on into the edge that
    continues it most straight (within 35 degrees).  Buffering strokes instead of single
    edges gives the same polygon with far fewer overlapping round caps.

    Walking an edge entered at end ``entry`` is the state ``2 * e + entry``; its
    successor is the partner of the end it leaves by.  Each stroke is a chain of
    states (and its reverse, the same edges the other way); chains are ranked by
    pointer jumping, loops cut at their smallest state, and each stroke keeps the
    direction whose first state is smaller.
    """
    n = 2 * net.n_edges
    succ = stroke_continuations(net)[np.arange(n) ^ 1]
    pred = np.full(n, -1, dtype=np.int64)
    has = succ >= 0
    pred[succ[has]] = np.flatnonzero(has)
    # loops: the smallest state of a loop has no first state before it; cut there
    low, hop = np.arange(n), pred.copy()
    for _ in range(int(np.ceil(np.log2(max(n, 2)))) + 1):
        ok = hop >= 0
        low[ok] = np.minimum(low[ok], low[hop[ok]])
        hop[ok] = hop[hop[ok]]
    on_loop = hop >= 0  # still a predecessor after n jumps: a cycle
    cut = on_loop & (low == np.arange(n))
    pred[cut] = -1
    head, dist = _chain_heads(pred)  # each state's first state, and how far along it is
    e = np.arange(net.n_edges)
    forward = head[2 * e] <= head[2 * e + 1]
    state = np.where(forward, 2 * e, 2 * e + 1)
    _, stroke = np.unique(head[state], return_inverse=True)
    return Strokes(stroke.astype(np.int64), dist[state], state % 2 == 1)


def _chain_heads(pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For chains given by each element's predecessor (-1 at a head, no cycles): every
    element's head and its distance from it, by pointer jumping."""
    n = pred.size
    head = np.where(pred >= 0, pred, np.arange(n))
    dist = (pred >= 0).astype(np.int64)
    done = pred < 0
    while not done.all():
        todo = ~done
        up = head[todo]
        dist[todo] += dist[up]
        done_up = done[up]
        head[todo] = head[up]
        done[todo] = done_up
    return head, dist
