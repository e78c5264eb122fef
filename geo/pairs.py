"""Sparse (source, target) pairs within a walking distance, for siting and parking.

:func:`pairs_within` runs one bounded search per batch of neighbouring
sources on the local subgraph of their balls (one scipy Dijkstra call, a row
per source, so its cost is what the batch reaches, without a Python round per
source) and joins the targets on the edges it reaches exactly as :mod:`geo.coverage`
does (:func:`geo.reach.point_distances`, the same-edge walk included).  Siting
pairs candidate sites with demand samples (:func:`geo.siting.candidate_pairs`),
parking pairs compounds with lots (:func:`geo.parking.walk_pairs`).  No dense
sources x targets matrix is ever built.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import reach
from .network import Snapped, WalkNetwork

__all__ = ["TargetIndex", "gather", "pairs_within"]

ProgressFn = Callable[[int, int], None]


def gather(indptr: np.ndarray, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenate ``values[indptr[r]:indptr[r + 1]]`` over ``rows`` (vectorised)."""
    rows = np.asarray(rows, dtype=np.int64)
    indptr = np.asarray(indptr, dtype=np.int64)
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=values.dtype)
    pos = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
    return values[pos]


@dataclass
class TargetIndex:
    """Snapped target points (demand samples, lots) indexed by the edge they join.

    Attributes
    ----------
    targets
        The snapped points.
    indptr, order
        Points on edge ``e`` are ``order[indptr[e]:indptr[e + 1]]``.
    """

    targets: Snapped
    indptr: np.ndarray
    order: np.ndarray

    @classmethod
    def build(cls, net: WalkNetwork, targets: Snapped) -> TargetIndex:
        """Index the reachable ``targets`` by edge."""
        ok = np.flatnonzero(targets.reachable)
        order = ok[np.argsort(targets.edge[ok], kind="stable")]
        counts = np.bincount(targets.edge[order], minlength=net.n_edges)
        return cls(targets, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), order)

    def reached(
        self, net: WalkNetwork, node_dist: np.ndarray, source: Snapped, limit: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Targets within ``limit`` of one source, given its node distances.

        Only targets on edges touching a reached node, or on the source's own
        edge, can be within reach; their distances are those of
        :func:`geo.reach.point_distances` (the same join as coverage).

        Parameters
        ----------
        net
            The network.
        node_dist
            Node distances from the source (``inf`` beyond ``limit``).
        source
            The single snapped source.
        limit
            Radius in metres.

        Returns
        -------
        idx, dist
            Target indices and their network distances (``<= limit``).
        """
        edges = reach.incident_edges(net, np.flatnonzero(node_dist <= limit))
        edges = np.union1d(edges, source.edge[source.reachable])
        idx = gather(self.indptr, self.order, edges)
        if idx.size == 0:
            return idx, np.empty(0)
        dist = reach.point_distances(net, node_dist, self.targets.subset(idx), sources=source, limit=limit)
        keep = np.isfinite(dist)
        return idx[keep], dist[keep]


def pairs_within(
    net: WalkNetwork,
    sources: Snapped,
    targets: Snapped,
    limit: float,
    *,
    index: TargetIndex | None = None,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (source, target) pair within ``limit`` metres of network walk.

    Parameters
    ----------
    net
        The network.
    sources
        Snapped sources (candidate sites, compounds...); unreachable ones get no pair.
    targets
        Snapped targets; unreachable ones get no pair.
    limit
        Walking distance in metres.
    index
        ``TargetIndex.build(net, targets)``, when the caller has it already.
    progress
        Called with (done, total) every 100 sources and at the end.

    Returns
    -------
    source, target, dist
        Three arrays of equal length, sorted by source (then by target).
    """
    index = index or TargetIndex.build(net, targets)
    parts_s, parts_t, parts_d = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0)]
    ok = np.flatnonzero(sources.reachable)
    if index.order.size and ok.size:
        # sources in batches of neighbours: one search per batch on the union of their balls
        ok = ok[_spatial_order(sources.xy[ok], limit)]
        done = 0
        marks = _Marks(net)
        for lo in range(0, ok.size, BATCH):
            rows = ok[lo : lo + BATCH]
            s, t, d = _batch_pairs(net, index, sources, rows, limit, marks)
            parts_s.append(s)
            parts_t.append(t)
            parts_d.append(d)
            done += rows.size
            if progress and (done // 100 > (done - rows.size) // 100 or done == ok.size):
                progress(done, ok.size)
    elif progress and ok.size:
        progress(ok.size, ok.size)
    src, tgt, dist = np.concatenate(parts_s), np.concatenate(parts_t), np.concatenate(parts_d)
    order = np.argsort(src, kind="stable")  # each source's pairs are one run, already sorted by target
    return src[order], tgt[order], dist[order]


#: Sources searched together by :func:`pairs_within`.
BATCH = 32


def _spatial_order(xy: np.ndarray, cell: float) -> np.ndarray:
    """Indices of ``xy`` in strips ``cell`` wide, boustrophedon, so a batch's balls overlap."""
    g = np.floor((xy - xy.min(axis=0)) / max(cell, 1.0)).astype(np.int64)
    y = np.where(g[:, 0] % 2 == 0, xy[:, 1], -xy[:, 1])
    return np.lexsort((y, g[:, 0]))


class _Marks:
    """Reusable flags over nodes and edges: the sorted unique members of a batch without a sort."""

    def __init__(self, net: WalkNetwork) -> None:
        self.node = np.zeros(net.n_nodes, dtype=bool)
        self.edge = np.zeros(net.n_edges, dtype=bool)

    @staticmethod
    def unique(flags: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Sorted unique ``values`` (indices into ``flags``), leaving ``flags`` all False again."""
        flags[values] = True
        out = np.flatnonzero(flags)
        flags[out] = False
        return out


def _batch_pairs(
    net: WalkNetwork, index: TargetIndex, sources: Snapped, rows: np.ndarray, limit: float, marks: _Marks
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source, target, dist) of one batch of sources: one Dijkstra call over their local subgraph.

    The subgraph holds every node within straight-line reach of a source in
    the batch, so each source's walks of at most ``limit`` stay inside it and
    its distances are exact; each source gets its own row (a super source
    joined to both ends of its edge), and targets are joined on their edges
    as :func:`geo.reach.point_distances` does, the same-edge walk included.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    b = rows.size
    hits = net.node_tree.query_ball_point(
        sources.xy[rows], limit * reach.STRAIGHT_LINE_SLACK + 1.0, return_sorted=False
    )
    nodes = marks.unique(marks.node, np.fromiter(itertools.chain.from_iterable(hits), dtype=np.int64))
    e = sources.edge[rows]
    gap, off, length = sources.gap[rows], sources.offset[rows], net.edge_length[e]
    seeds = np.column_stack([net.edge_u[e], net.edge_v[e]]).astype(np.int64)
    costs = np.maximum(np.column_stack([gap + off, gap + (length - off)]), 1e-9)
    pos = np.searchsorted(nodes, seeds) if nodes.size else np.zeros_like(seeds)
    inside = (pos < nodes.size) & (nodes[np.minimum(pos, max(nodes.size - 1, 0))] == seeds) & (costs <= limit)
    n = nodes.size
    sub = reach._subgraph(net.csr, nodes)
    per_row = inside.sum(axis=1)
    indptr = np.concatenate([sub.indptr, sub.indptr[-1] + np.cumsum(per_row)]).astype(np.int32)
    indices = np.concatenate([sub.indices, pos[inside].astype(np.int32)])
    data = np.concatenate([sub.data, costs[inside]])
    graph = csr_matrix((data, indices, indptr), shape=(n + b, n + b))
    node_d = dijkstra(graph, directed=True, indices=n + np.arange(b), limit=limit)[:, :n] if n else np.zeros((b, 0))
    reached = nodes[np.isfinite(node_d).any(axis=0)] if n else nodes
    inc_ptr, inc_edges = net.incidence
    edges = marks.unique(marks.edge, np.concatenate([gather(inc_ptr, inc_edges, reached), e]))
    tgt = np.sort(gather(index.indptr, index.order, edges))  # each target lies on one edge: no repeats
    if tgt.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    t = index.targets
    te = t.edge[tgt]
    t_len, t_off = net.edge_length[te], t.offset[tgt]

    def node_cols(end: np.ndarray) -> np.ndarray:
        p = np.searchsorted(nodes, end)
        ok = (p < n) & (nodes[np.minimum(p, max(n - 1, 0))] == end)
        col = np.full((b, end.size), np.inf)
        col[:, ok] = node_d[:, p[ok]]
        return col

    dist = t.gap[tgt] + np.minimum(node_cols(net.edge_u[te]) + t_off, node_cols(net.edge_v[te]) + (t_len - t_off))
    same = te[None, :] == e[:, None]  # a target on the source's own edge: walk along it directly
    if same.any():
        r, c = np.nonzero(same)
        direct = t.gap[tgt[c]] + gap[r] + np.abs(t_off[c] - off[r])
        dist[r, c] = np.minimum(dist[r, c], direct)
    r, c = np.nonzero(dist <= limit)
    return rows[r].astype(np.int64), tgt[c].astype(np.int64), dist[r, c]
