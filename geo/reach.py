"""Bounded shortest paths on a :class:`~geo.network.WalkNetwork`.

Points (facilities, demand, lots) sit on edges, not only on nodes: a point
joined at ``offset`` metres along edge (u, v) of length L, ``gap`` metres off
the street, reaches u after ``gap + offset`` and v after ``gap + L - offset``,
and reaches another point on the same edge directly.

* :func:`nearest_distances` - network distance from every target to the
  nearest of many sources: one bounded multi-source Dijkstra (a virtual super
  source joined to the sources' edge ends), whatever the number of sources.
* :func:`node_distances`, :func:`point_distances` - the two halves of it
  (distances at the nodes, then at points on edges).
* :func:`iter_local_node_distances` - per-source distances of the nodes each source
  reaches, one bounded search on a local subgraph each (it costs what it reaches);
  :func:`iter_source_node_distances` - the same as arrays of the network's size.

The polygons drawn from these searches (service areas) live in
:mod:`geo.service_areas`; :func:`facility_service_areas` and the other
service-area names stay reachable from here (``reach.facility_service_areas``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .network import Snapped, WalkNetwork

__all__ = [
    "STRAIGHT_LINE_SLACK",
    "seed_costs",
    "node_distances",
    "local_node_distances",
    "point_distances",
    "nearest_distances",
    "iter_source_node_distances",
    "iter_local_node_distances",
    "BALL_BATCH",
    "incident_edges",
    "same_edge_pairs",
    "facility_service_areas",  # noqa: F822 - answered by __getattr__ (geo.service_areas)
]

#: Planar distance in the metric CRS over walking length never exceeds this
#: (UTM scale error is under 0.1 %; the rest is margin for rounded lengths).
STRAIGHT_LINE_SLACK = 1.01

ProgressFn = Callable[[int, int], None]


# ------------------------------------------------------------------ seeds
def seed_costs(net: WalkNetwork, sources: Snapped) -> tuple[np.ndarray, np.ndarray]:
    """Return the edge-end nodes reached first from each source and their costs.

    Parameters
    ----------
    net
        The network.
    sources
        Snapped sources; unreachable ones are skipped.

    Returns
    -------
    nodes, costs
        Two arrays of length 2 x (reachable sources): ``u`` then ``v`` ends.
    """
    ok = sources.reachable
    e = sources.edge[ok]
    length = net.edge_length[e]
    gap = sources.gap[ok]
    off = sources.offset[ok]
    nodes = np.concatenate([net.edge_u[e], net.edge_v[e]]).astype(np.int64)
    costs = np.concatenate([gap + off, gap + (length - off)])
    return nodes, costs


def _with_super_source(
    net: WalkNetwork, nodes: np.ndarray, costs: np.ndarray, csr: sp.csr_matrix | _CsrArrays | None = None
) -> sp.csr_matrix:
    """Return the CSR matrix (the network's, or ``csr``'s arrays) plus one extra row: a super source joined to ``nodes``."""
    csr = net.csr if csr is None else csr
    order = np.lexsort((costs, nodes))
    nodes, costs = nodes[order], costs[order]
    first = np.ones(nodes.shape[0], dtype=bool)
    first[1:] = nodes[1:] != nodes[:-1]
    nodes, costs = nodes[first], np.maximum(costs[first], 1e-9)
    n = csr.shape[0]
    indptr = np.concatenate([csr.indptr, [csr.indptr[-1] + nodes.shape[0]]]).astype(np.int32)
    indices = np.concatenate([csr.indices, nodes.astype(np.int32)])
    data = np.concatenate([csr.data, costs])
    return sp.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))


def node_distances(net: WalkNetwork, sources: Snapped, limit: float) -> np.ndarray:
    """Network distance from every node to its nearest source, up to ``limit``.

    One Dijkstra from a virtual super source, so the cost does not grow with
    the number of sources.

    Parameters
    ----------
    net
        The network.
    sources
        Snapped sources (unreachable ones are ignored).
    limit
        Search radius in metres; nodes farther away get ``inf``.

    Returns
    -------
    numpy.ndarray
        Shape (N,), float64.
    """
    nodes, costs = seed_costs(net, sources)
    if nodes.size == 0:
        return np.full(net.n_nodes, np.inf)
    graph = _with_super_source(net, nodes, costs)
    dist = dijkstra(graph, directed=True, indices=net.n_nodes, limit=limit)
    return dist[: net.n_nodes]


def local_node_distances(
    net: WalkNetwork, sources: Snapped, limit: float, *, nodes: np.ndarray | None = None
) -> np.ndarray:
    """Like :func:`node_distances`, searching only a local subgraph: its cost is what it reaches.

    One bounded Dijkstra from a super source over the subgraph of ``nodes``
    (by default the nodes within straight-line reach of the sources, which
    hold every walk of at most ``limit``, so the distances are exact).  Unlike
    scipy's search on the whole network, nothing the size of the network is
    built but the returned array.

    Parameters
    ----------
    net
        The network.
    sources
        Snapped sources (unreachable ones are ignored).
    limit
        Search radius in metres; nodes farther away get ``inf``.
    nodes
        Search only these nodes (sorted, unique).  Distances are then those
        of walks that stay among them.

    Returns
    -------
    numpy.ndarray
        Shape (N,), float64; ``inf`` outside the subgraph and beyond ``limit``.
    """
    out = np.full(net.n_nodes, np.inf)
    ok = sources.reachable
    if not ok.any():
        return out
    if nodes is None:
        radius = limit * STRAIGHT_LINE_SLACK + 1.0
        xy = sources.xy[ok]
        if xy.shape[0] == 1:  # one ball: its nodes are unique already
            nodes = np.sort(np.asarray(net.node_tree.query_ball_point(xy[0], radius), dtype=np.int64))
        else:
            hits = net.node_tree.query_ball_point(xy, radius)
            nodes = np.unique(np.concatenate([np.asarray(h, dtype=np.int64) for h in hits]))
    seeds, costs = seed_costs(net, sources)
    pos = np.searchsorted(nodes, seeds)
    inside = (pos < nodes.size) & (nodes[np.minimum(pos, nodes.size - 1)] == seeds) & (costs <= limit)
    if not inside.any():
        return out
    graph = _with_super_source(net, pos[inside], costs[inside], csr=_subgraph(net.csr, nodes))
    out[nodes] = dijkstra(graph, directed=True, indices=nodes.size, limit=limit)[: nodes.size]
    return out


@dataclass
class _CsrArrays:
    """The three arrays of an (n x n) CSR matrix, not yet checked into a scipy matrix."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        n = int(self.indptr.size - 1)
        return n, n


def _subgraph(csr: sp.csr_matrix, nodes: np.ndarray) -> _CsrArrays:
    """``csr[nodes][:, nodes]`` for sorted unique ``nodes``, in time that follows their edges only."""
    n = nodes.size
    starts = csr.indptr[nodes].astype(np.int64)
    counts = csr.indptr[nodes + 1] - starts
    ends = np.cumsum(counts)
    pos = np.repeat(starts - ends + counts, counts) + np.arange(int(ends[-1]) if n else 0)
    cols = csr.indices[pos]
    j = np.minimum(np.searchsorted(nodes, cols), n - 1)
    keep = nodes[j] == cols
    kept = np.concatenate([[0], np.cumsum(keep)])
    indptr = kept[np.concatenate([[0], ends])].astype(np.int32)
    return _CsrArrays(indptr, j[keep].astype(np.int32), csr.data[pos][keep])


def point_distances(
    net: WalkNetwork,
    node_dist: np.ndarray,
    targets: Snapped,
    *,
    sources: Snapped | None = None,
    limit: float = np.inf,
) -> np.ndarray:
    """Network distance to each target point, given node distances from sources.

    Parameters
    ----------
    net
        The network.
    node_dist
        Distances of the nodes (from :func:`node_distances`).
    targets
        Snapped target points.
    sources
        The same sources, to catch a target reached directly along a shared edge.
    limit
        Distances above it become ``inf``.

    Returns
    -------
    numpy.ndarray
        Shape (K,); ``inf`` for unreachable or farther than ``limit``.
    """
    out = np.full(len(targets), np.inf)
    ok = targets.reachable
    e = targets.edge[ok]
    length = net.edge_length[e]
    off = targets.offset[ok]
    via_u = node_dist[net.edge_u[e]] + off
    via_v = node_dist[net.edge_v[e]] + (length - off)
    out[ok] = targets.gap[ok] + np.minimum(via_u, via_v)
    if sources is not None:
        _same_edge_min(out, targets, sources)
    out[out > limit] = np.inf
    return out


def same_edge_pairs(sorted_edges: np.ndarray, targets: Snapped) -> tuple[np.ndarray, np.ndarray]:
    """Every (target, item) pair whose item lies on the target's edge.

    Parameters
    ----------
    sorted_edges
        The edge of each item (sources, or touched pieces), sorted ascending.
    targets
        Snapped targets; unreachable ones are skipped.

    Returns
    -------
    rep_t, rep_i
        Target indices and positions into ``sorted_edges``, one entry per pair.
    """
    t_idx = np.flatnonzero(targets.reachable)
    t_edge = targets.edge[t_idx]
    lo = np.searchsorted(sorted_edges, t_edge, side="left")
    counts = np.searchsorted(sorted_edges, t_edge, side="right") - lo
    has = counts > 0
    t_idx, lo, counts = t_idx[has], lo[has], counts[has]
    rep_t = np.repeat(t_idx, counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return rep_t, np.repeat(lo, counts) + within


def _same_edge_min(out: np.ndarray, targets: Snapped, sources: Snapped) -> None:
    """Lower ``out`` where a target shares an edge with a source (walk along it directly)."""
    s_ok = np.flatnonzero(sources.reachable)
    t_ok = np.flatnonzero(targets.reachable)
    if s_ok.size == 0 or t_ok.size == 0:
        return
    s_edge = sources.edge[s_ok]
    # only the targets on a source's edge can walk along it: one look-up each in a mask of those edges
    # picks them before the pairs are searched (a city's million residents, three kinds: 0.43 -> 0.13 s)
    t_edge = targets.edge[t_ok]
    on = np.zeros(int(max(s_edge.max(), t_edge.max())) + 1, dtype=bool)
    on[s_edge] = True
    near = t_ok[on[t_edge]]
    order = s_ok[np.argsort(s_edge, kind="stable")]
    rep_t, rep_i = same_edge_pairs(sources.edge[order], targets.subset(near))
    if rep_t.size == 0:
        return
    rep_t, rep_s = near[rep_t], order[rep_i]
    direct = targets.gap[rep_t] + sources.gap[rep_s] + np.abs(targets.offset[rep_t] - sources.offset[rep_s])
    np.minimum.at(out, rep_t, direct)


def nearest_distances(net: WalkNetwork, sources: Snapped, targets: Snapped, *, limit: float) -> np.ndarray:
    """Network distance from each target to the nearest source, up to ``limit``.

    Parameters
    ----------
    net
        The network.
    sources, targets
        Snapped points.
    limit
        Search radius in metres; farther targets get ``inf``.

    Returns
    -------
    numpy.ndarray
        Shape (len(targets),).
    """
    node_dist = node_distances(net, sources, limit)
    return point_distances(net, node_dist, targets, sources=sources, limit=limit)


# --------------------------------------------------------- per-source search
#: Sources whose straight-line balls are looked up in one KD-tree call (bounds the lists held at once).
BALL_BATCH = 256


def iter_local_node_distances(
    net: WalkNetwork, sources: Snapped, limit: float
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(source index, nodes, distances)`` of the nodes each reachable source reaches.

    One bounded Dijkstra per source on the local subgraph of the nodes within
    straight-line reach of its join point (which holds every walk of at most
    ``limit``, so the distances are exact), from a super source joined to both
    ends of its edge.  Nothing the size of the network is built or scanned:
    a search costs what it reaches (scipy's ``dijkstra(indices=[s],
    limit=...)`` on the whole network allocates and fills arrays of the
    network's size for every source).

    Parameters
    ----------
    net
        The network.
    sources
        Snapped sources; unreachable ones are skipped.
    limit
        Search radius in metres.

    Yields
    ------
    i, nodes, dist
        The source's index, the sorted ids of the nodes within ``limit`` and
        their distances (float64).
    """
    ok = np.flatnonzero(sources.reachable)
    csr = net.csr
    radius = limit * STRAIGHT_LINE_SLACK + 1.0
    for start in range(0, ok.size, BALL_BATCH):
        batch = ok[start : start + BALL_BATCH]
        balls = net.node_tree.query_ball_point(sources.xy[batch], radius, return_sorted=True)
        for i, ball in zip(batch.tolist(), balls):
            nodes, dist = _local_search(net, csr, sources, i, np.asarray(ball, dtype=np.int64), limit)
            yield i, nodes, dist


def _local_search(
    net: WalkNetwork, csr: sp.csr_matrix, sources: Snapped, i: int, nodes: np.ndarray, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes within ``limit`` of source ``i`` and their distances, searching the subgraph of ``nodes``."""
    if nodes.size == 0:
        return nodes, np.empty(0)
    e = int(sources.edge[i])
    gap, off = float(sources.gap[i]), float(sources.offset[i])
    seeds = np.array([net.edge_u[e], net.edge_v[e]], dtype=np.int64)
    costs = np.array([gap + off, gap + float(net.edge_length[e]) - off])
    pos = np.searchsorted(nodes, seeds)
    inside = (pos < nodes.size) & (nodes[np.minimum(pos, nodes.size - 1)] == seeds) & (costs <= limit)
    if not inside.any():
        return np.empty(0, dtype=np.int64), np.empty(0)
    graph = _with_super_source(net, pos[inside], costs[inside], csr=_subgraph(csr, nodes))
    dist = dijkstra(graph, directed=True, indices=nodes.size, limit=limit)[: nodes.size]
    keep = dist <= limit
    return nodes[keep], dist[keep]


def iter_source_node_distances(net: WalkNetwork, sources: Snapped, limit: float) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(source index, node distances)`` for each reachable source.

    The searches are those of :func:`iter_local_node_distances` (each costs
    what it reaches); only the returned array, shape (N,), has the network's
    size.  :func:`iter_local_node_distances` gives the same without it.

    Parameters
    ----------
    net
        The network.
    sources
        Snapped sources; unreachable ones are skipped.
    limit
        Search radius in metres; farther nodes get ``inf``.
    """
    for i, nodes, d in iter_local_node_distances(net, sources, limit):
        dist = np.full(net.n_nodes, np.inf)  # its own array: callers may keep it
        dist[nodes] = d
        yield i, dist


def incident_edges(net: WalkNetwork, nodes: np.ndarray) -> np.ndarray:
    """Return the sorted unique edges touching any of ``nodes``."""
    indptr, edge_ids = net.incidence
    starts, ends = indptr[nodes], indptr[nodes + 1]
    counts = ends - starts
    if counts.sum() == 0:
        return np.empty(0, dtype=np.int64)
    pos = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    return np.unique(edge_ids[pos])


# ------------------------------------------------------------ service areas
def __getattr__(name: str) -> Any:
    """Answer ``reach.facility_service_areas`` and the other service-area names (see
    :mod:`geo.service_areas`; imported on first use, which keeps the import one-way)."""
    if not name.startswith("__"):
        from . import service_areas

        if name in service_areas.__all__:  # the one list of the names that moved
            return getattr(service_areas, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
