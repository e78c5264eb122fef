"""Join points to a walking network at the nearest point of the nearest walkable edge.

:func:`snap_xy` is exact: candidate segments come from a KD-tree over short
sub-segments (:class:`SegmentIndex`), and a point whose candidates could hide a
nearer segment is checked against every sub-segment in range.  A point farther
than the snapping limit from every edge is unreachable (``edge == -1``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from ..settings import DEFAULT_SNAP_LIMIT_M

if TYPE_CHECKING:
    from .core import WalkNetwork

__all__ = ["DEFAULT_SNAP_LIMIT_M", "Snapped", "SegmentIndex", "snap_xy", "snap_lonlat", "snap_points"]


@dataclass
class Snapped:
    """Points joined to a network at the nearest point of the nearest walkable edge.

    Attributes
    ----------
    edge
        Index of the edge each point joins, or -1 when it is farther than the
        snapping limit from every edge (unreachable).
    offset
        Walking distance in metres along the edge from ``edge_u`` to the join point.
    gap
        Straight distance in metres from the point to the join point; it
        counts as walking.
    xy
        The join point in the network's CRS, shape (K, 2) (NaN when unreachable).
    """

    edge: np.ndarray
    offset: np.ndarray
    gap: np.ndarray
    xy: np.ndarray

    def __len__(self) -> int:
        return int(self.edge.shape[0])

    @property
    def reachable(self) -> np.ndarray:
        """Boolean mask of points that joined the network."""
        return self.edge >= 0

    def subset(self, mask: np.ndarray) -> Snapped:
        """Return the points selected by a boolean mask or index array."""
        return Snapped(self.edge[mask], self.offset[mask], self.gap[mask], self.xy[mask])

    @staticmethod
    def concat(parts: Iterable[Snapped]) -> Snapped:
        """Join several snapped sets, in order."""
        parts = list(parts)
        return Snapped(
            np.concatenate([p.edge for p in parts]),
            np.concatenate([p.offset for p in parts]),
            np.concatenate([p.gap for p in parts]),
            np.concatenate([p.xy for p in parts]).reshape(-1, 2),
        )


def snap_xy(net: WalkNetwork, xy: np.ndarray, *, limit_m: float = DEFAULT_SNAP_LIMIT_M) -> Snapped:
    """Join metric points to the nearest point of the nearest edge.

    Exact: candidate segments come from a KD-tree over short sub-segments;
    a point whose candidates could hide a nearer segment is checked against
    every sub-segment in the bounding radius.

    Parameters
    ----------
    net
        The network.
    xy
        Points in ``net.crs``, shape (K, 2).
    limit_m
        Snapping limit: points farther from every edge get ``edge == -1``.

    Returns
    -------
    Snapped
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    k = xy.shape[0]
    edge = np.full(k, -1, dtype=np.int64)
    offset = np.full(k, np.nan)
    gap = np.full(k, np.nan)
    joined = np.full((k, 2), np.nan)
    idx = np.flatnonzero(np.isfinite(xy).all(axis=1))
    if idx.size == 0 or net.n_edges == 0:
        return Snapped(edge, offset, gap, joined)
    index = net.segment_index
    seg, dist, t = index.nearest(xy[idx], limit_m)
    ok = seg >= 0
    idx, seg, dist, t = idx[ok], seg[ok], dist[ok], t[ok]
    e = index.seg_edge[seg]
    along = index.seg_cum0[seg] + t * index.seg_len[seg]
    geom_len = net.edge_geom_length[e]
    scale = np.divide(net.edge_length[e], geom_len, out=np.ones_like(geom_len), where=geom_len > 0)
    edge[idx] = e
    offset[idx] = np.clip(along * scale, 0.0, net.edge_length[e])
    gap[idx] = dist
    joined[idx, 0] = index._ax[seg] + t * index._dx[seg]
    joined[idx, 1] = index._ay[seg] + t * index._dy[seg]
    return Snapped(edge, offset, gap, joined)


class SegmentIndex:
    """Nearest-segment search over a network's polylines (exact, vectorised).

    Every straight segment is cut into sub-segments of at most ``step`` metres
    whose midpoints go into a :class:`scipy.spatial.cKDTree`.
    """

    def __init__(self, net: WalkNetwork, step: float = 45.0, k: int = 8) -> None:
        from scipy.spatial import cKDTree

        starts = np.zeros(net.geom_xy.shape[0] - 1, dtype=bool)
        starts[net.geom_offsets[1:-1] - 1] = True  # pairs that would join two edges
        keep = np.flatnonzero(~starts)
        del starts
        # one flat array per term of the exact distance (no (S, 2) copies of the ends: a city's
        # index is a few hundred MB, and every array here is one of its 1.5M segments or 2.2M pieces)
        a = net.geom_xy[keep]
        d = net.geom_xy[keep + 1] - a
        self._ax, self._ay = a[:, 0].copy(), a[:, 1].copy()
        self._dx, self._dy = d[:, 0].copy(), d[:, 1].copy()
        del a, d
        idx_type = np.int32 if max(net.n_edges, keep.size) < 2**31 - 1 else np.int64
        edge_of_vertex = np.searchsorted(net.geom_offsets, keep, side="right") - 1  # vertex keep[i]'s edge
        self.seg_edge = edge_of_vertex.astype(idx_type)
        del edge_of_vertex
        self.seg_cum0 = net.geom_cum[keep]
        self.seg_len = np.hypot(self._dx, self._dy)
        n_sub = np.maximum(1, np.ceil(self.seg_len / step).astype(np.int64))
        self.sub_seg = np.repeat(np.arange(keep.size, dtype=idx_type), n_sub)
        del keep
        first = np.cumsum(n_sub) - n_sub
        frac = (np.arange(self.sub_seg.size) - first[self.sub_seg] + 0.5) / n_sub[self.sub_seg]
        del first
        mid = np.empty((self.sub_seg.size, 2))
        mid[:, 0] = self._ax[self.sub_seg] + frac * self._dx[self.sub_seg]
        mid[:, 1] = self._ay[self.sub_seg] + frac * self._dy[self.sub_seg]
        del frac
        self.half = float(np.max(self.seg_len / n_sub) / 2.0) + 1e-6
        self.k = int(min(k, mid.shape[0]))
        # sliding-midpoint build without node compaction: about a third of the default build's time, queries as
        # fast (500k-node city: 3.1M midpoints at 30 m took 1.3 s, 2.2M at 45 m take 0.6 s, the same 2.6 s to snap 1M)
        self.tree = cKDTree(mid, balanced_tree=False, compact_nodes=False, copy_data=False)
        len2 = self.seg_len**2
        self._inv_len2 = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0)

    @property
    def seg_a(self) -> np.ndarray:
        """Start of each straight segment, shape (S, 2)."""
        return np.column_stack([self._ax, self._ay])

    @property
    def seg_b(self) -> np.ndarray:
        """End of each straight segment, shape (S, 2)."""
        return np.column_stack([self._ax + self._dx, self._ay + self._dy])

    def _exact(self, pts: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distance and parameter of each point to each candidate segment, shape (K, C)."""
        px = pts[:, 0, None] - self._ax[cand]
        py = pts[:, 1, None] - self._ay[cand]
        dx, dy = self._dx[cand], self._dy[cand]
        t = (px * dx + py * dy) * self._inv_len2[cand]
        np.clip(t, 0.0, 1.0, out=t)
        px -= t * dx
        py -= t * dy
        return np.hypot(px, py), t, cand

    def nearest(self, pts: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (segment, distance, parameter t) of the nearest segment; -1 beyond ``limit``.

        Points go through in chunks of :data:`_CHUNK` (the candidate arrays stay
        a few dozen MB whatever the number of points), or quarter chunks spread
        over :func:`_threads` threads when there is more than one chunk (each
        point's answer is the same either way).  A point whose ``k``
        nearest midpoints could hide a nearer segment is asked again, in bulk,
        with 8 times as many midpoints; only the few still unsure after that are
        checked one by one against every sub-segment in range.
        """
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        n = pts.shape[0]
        seg = np.empty(n, dtype=np.int64)
        bd = np.empty(n)
        bt = np.empty(n)
        # neighbours asked one after another walk the same branches of the tree: in
        # 250 m strips the queries run 3-4 times faster than in the input's order
        order = _spatial_order(pts) if n > _CHUNK // 8 else np.arange(n)
        threads = min(-(-n // _CHUNK), _threads())
        # threads take quarter chunks: each thread's allocator keeps what its chunk's arrays took
        size = _CHUNK // 4 if threads > 1 else _CHUNK
        chunks = [order[lo : lo + size] for lo in range(0, n, size)]
        if threads > 1:
            # each chunk's tree query and exact step on its own thread (both release the GIL): the
            # exact step of one chunk runs beside the query of the next, not after it on one core
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="snap") as pool:
                found = pool.map(lambda rows: self._nearest_chunk(pts[rows], limit, workers=1), chunks)
                for rows, (s, d, t) in zip(chunks, found):
                    seg[rows], bd[rows], bt[rows] = s, d, t
        else:
            for rows in chunks:
                seg[rows], bd[rows], bt[rows] = self._nearest_chunk(pts[rows], limit)
        far = ~np.isfinite(bd) | (bd > limit)
        seg = np.where(far, -1, seg)
        return seg, bd, bt

    def _candidates(
        self, pts: np.ndarray, k: int, limit: float, workers: int = -1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Nearest of ``k`` candidate segments: (segment, distance, t, unsure mask)."""
        n_sub = self.sub_seg.shape[0]
        k = int(min(k, n_sub))
        mid_d, mid_i = self.tree.query(pts, k=k, distance_upper_bound=limit + self.half, workers=workers)
        mid_d = mid_d.reshape(len(pts), -1)
        mid_i = mid_i.reshape(len(pts), -1)
        valid = mid_i < n_sub
        cand = self.sub_seg[np.where(valid, mid_i, 0)]
        dist, t, _ = self._exact(pts, cand)
        dist[~valid] = np.inf
        best = np.argmin(dist, axis=1)
        rows = np.arange(len(pts))
        bd = dist[rows, best]
        # a farther midpoint may still hide a nearer segment
        unsure = (
            valid[:, -1] & (mid_d[:, -1] < np.minimum(bd, limit) + self.half) if k < n_sub else np.zeros(len(pts), bool)
        )
        return cand[rows, best], bd, t[rows, best], unsure

    def _nearest_chunk(
        self, pts: np.ndarray, limit: float, workers: int = -1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        seg, bd, bt, unsure = self._candidates(pts, self.k, limit, workers)
        again = np.flatnonzero(unsure)
        if again.size:
            s2, d2, t2, u2 = self._candidates(pts[again], self.k * 8, limit, workers)
            seg[again], bd[again], bt[again] = s2, d2, t2
            again = again[u2]
        for i in again:  # rare: a point among very many short segments
            near = self.tree.query_ball_point(pts[i], min(bd[i], limit) + self.half)
            cands = np.unique(self.sub_seg[near])
            d1, t1, _ = self._exact(pts[i : i + 1], cands[None, :])
            j = int(np.argmin(d1[0]))
            seg[i], bd[i], bt[i] = cands[j], d1[0, j], t1[0, j]
        return seg, bd, bt


#: Points per chunk in :meth:`SegmentIndex.nearest`.
_CHUNK = 1 << 17


def _threads() -> int:
    """Threads :meth:`SegmentIndex.nearest` spreads its chunks over: the CPUs this process may use, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def _spatial_order(pts: np.ndarray, cell: float = 250.0) -> np.ndarray:
    """Indices of ``pts`` strip by strip (``cell``-wide in x), then by ``cell`` in y; NaN rows last.

    One integer key per point and one sort (ten times a lexsort's speed): the order within
    a cell does not matter to the queries.  When the cells fit 16 bits (a city of up to
    64 km x 64 km), the keys are 16-bit and NumPy's stable sort of them is a radix sort
    (1M points: 0.1 -> 0.015 s).
    """
    ok = np.isfinite(pts).all(axis=1)
    if not ok.any():
        return np.arange(pts.shape[0])
    inside = pts if ok.all() else pts[ok]
    g = np.floor((inside - inside.min(axis=0)) / cell).astype(np.int64)
    rows = int(g[:, 1].max()) + 1
    cells = g[:, 0] * rows + g[:, 1]
    small = (int(g[:, 0].max()) + 1) * rows < np.iinfo(np.uint16).max  # the largest key is left for NaN rows
    key = np.full(pts.shape[0], np.iinfo(np.uint16 if small else np.int64).max, dtype=np.uint16 if small else np.int64)
    key[ok] = cells
    return np.argsort(key, kind="stable") if small else np.argsort(key)


def snap_lonlat(
    net: WalkNetwork, lon: np.ndarray, lat: np.ndarray, *, limit_m: float = DEFAULT_SNAP_LIMIT_M
) -> Snapped:
    """Join WGS84 points to the network (see :func:`snap_xy`)."""
    return snap_xy(net, net.to_metric(lon, lat), limit_m=limit_m)


def snap_points(net: WalkNetwork, points, *, limit_m: float = DEFAULT_SNAP_LIMIT_M) -> Snapped:
    """Join the points of a WGS84 GeoDataFrame or GeoSeries to the network.

    Non-point geometries join at their representative point.
    """
    geoms = points.geometry if hasattr(points, "geometry") else points
    geoms = np.asarray(geoms.values if hasattr(geoms, "values") else geoms)
    if geoms.size == 0:
        return snap_xy(net, np.empty((0, 2)), limit_m=limit_m)
    is_point = shapely.get_type_id(geoms) == 0
    reps = np.where(is_point, geoms, shapely.point_on_surface(geoms))
    coords = shapely.get_coordinates(reps)
    if coords.shape[0] != geoms.size:  # empty geometries
        coords = np.array([[g.x, g.y] if g is not None and not g.is_empty else [np.nan, np.nan] for g in reps])
    return snap_lonlat(net, coords[:, 0], coords[:, 1], limit_m=limit_m)
