"""Sparse (source, target) pairs within a walking distance, for siting and parking.

:func:`pairs_within` runs one bounded search per source on a local subgraph
(:func:`geo.reach.local_node_distances`, whose cost is what it reaches) and
joins the targets on the edges it reaches exactly as :mod:`geo.coverage`
does (:func:`geo.reach.point_distances`, the same-edge walk included).  Siting
pairs candidate sites with demand samples (:func:`geo.siting.candidate_pairs`),
parking pairs compounds with lots (:func:`geo.parking.walk_pairs`).  No dense
sources x targets matrix is ever built.
"""

from __future__ import annotations

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
    if index.order.size:
        for done, i in enumerate(ok, start=1):
            one = sources.subset(np.array([i]))
            idx, dist = index.reached(net, reach.local_node_distances(net, one, limit), one, limit)
            order = np.argsort(idx, kind="stable")
            parts_s.append(np.full(idx.size, i, dtype=np.int64))
            parts_t.append(idx[order].astype(np.int64))
            parts_d.append(dist[order])
            if progress and (done % 100 == 0 or done == ok.size):
                progress(done, ok.size)
    elif progress and ok.size:
        progress(ok.size, ok.size)
    return np.concatenate(parts_s), np.concatenate(parts_t), np.concatenate(parts_d)
