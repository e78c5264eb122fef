"""Edges gathered from any source, as flat arrays, made into a :class:`~geo.network.WalkNetwork`.

Every builder of :mod:`.builders` fills an :class:`_EdgeTable` (node indices,
lengths, ``highway`` codes, lon/lat polylines in one array with offsets) and
hands it to :func:`_assemble`, which makes the edge set simple
(:func:`_simple_edges`: one edge per node pair, longer parallel streets and
loops cut by new nodes) and projects it.  All of it is array operations; only
the few streets that are cut are handled one by one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyproj

from ..crs import local_metric_crs
from ..errors import NetworkError
from .core import WalkNetwork

__all__: list[str] = []  # internal to the builders


@dataclass
class _EdgeTable:
    """Edges gathered from a source before deduplication, as flat arrays (WGS84 lon/lat geometry).

    Edge ``i`` runs from node ``u[i]`` to ``v[i]`` (indices into the build's
    :class:`_Nodes`); its polyline is ``lonlat[offsets[i]:offsets[i+1]]`` and
    its ``highway`` value ``names[highway[i]]`` (``names`` sorted).  When
    ``point`` is given, ``point[j]`` is the node at vertex ``j`` (-1: a vertex
    that is no node), so a node's metric position is computed once.
    """

    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    highway: np.ndarray
    names: np.ndarray
    offsets: np.ndarray
    lonlat: np.ndarray
    point: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Number of edges."""
        return int(self.u.shape[0])


@dataclass
class _Nodes:
    """Node ids, sorted (until :func:`_simple_edges` appends its new nodes), and their lon/lat."""

    ids: np.ndarray
    lonlat: np.ndarray

    def index(self, ids: np.ndarray) -> np.ndarray:
        """The index of each id in the (sorted) table; every id must be present."""
        at = np.searchsorted(self.ids, ids)
        if at.size and (at.max() >= self.ids.size or not np.array_equal(self.ids[at], ids)):
            raise NetworkError("an edge names a node without a location")
        return at


def _nodes_from(ids: np.ndarray, lonlat: np.ndarray) -> _Nodes:
    order = np.argsort(ids, kind="stable")
    return _Nodes(np.asarray(ids, dtype=np.int64)[order], np.asarray(lonlat, dtype=float).reshape(-1, 2)[order])


def _codes(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct strings and each value's index among them."""
    if not values:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    names, index = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return index.reshape(-1).astype(np.int64), names


def _table_from_lists(
    u: np.ndarray, v: np.ndarray, length: list[float], highway: list[str], coords: list[np.ndarray]
) -> _EdgeTable:
    """An :class:`_EdgeTable` from node indices and per-edge Python lists."""
    codes, names = _codes(highway)
    counts = np.fromiter((len(c) for c in coords), dtype=np.int64, count=len(coords))
    return _EdgeTable(
        u=np.asarray(u, dtype=np.int64),
        v=np.asarray(v, dtype=np.int64),
        length=np.asarray(length, dtype=float),
        highway=codes,
        names=names,
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        lonlat=np.concatenate(coords) if coords else np.empty((0, 2)),
    )


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, s + c)`` for each start and count."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    before = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - before, counts) + np.arange(total, dtype=np.int64)


def _haversine_m(lonlat: np.ndarray) -> float:
    """Great-circle length in metres of a lon/lat polyline (osmnx's formula)."""
    lon = np.radians(lonlat[:, 0])
    lat = np.radians(lonlat[:, 1])
    dlat = np.diff(lat)
    dlon = np.diff(lon)
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlon / 2) ** 2
    return float(np.sum(2 * 6_371_009 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))))


def _segment_lengths(coords: np.ndarray) -> np.ndarray:
    """Great-circle length of each segment of a lon/lat polyline."""
    lon = np.radians(coords[:, 0])
    lat = np.radians(coords[:, 1])
    a = np.sin(np.diff(lat) / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    return 2 * 6_371_009 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _split_polyline(coords: np.ndarray, length: float, fractions: Iterable[float]) -> list[tuple[np.ndarray, float]]:
    """Cut a lon/lat polyline at fractions of its length; return (coords, length) pieces."""
    seg = _segment_lengths(coords)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1] if cum[-1] > 0 else 1.0
    cuts = []
    for f in fractions:
        target = f * total
        k = int(np.clip(np.searchsorted(cum, target) - 1, 0, len(seg) - 1))
        t = (target - cum[k]) / seg[k] if seg[k] > 0 else 0.0
        cuts.append((k, coords[k] + (coords[k + 1] - coords[k]) * t, target))
    pieces, start_k, start_pt, start_d = [], 0, coords[0], 0.0
    for k, pt, d in cuts:
        piece = np.vstack([start_pt, coords[start_k + 1 : k + 1], pt])
        pieces.append((piece, (d - start_d) / total * length))
        start_k, start_pt, start_d = k, pt, d
    pieces.append((np.vstack([start_pt, coords[start_k + 1 :]]), (total - start_d) / total * length))
    return pieces


def _kept_in_pairs(slen: np.ndarray, pos: np.ndarray, group: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Which edges (sorted by node pair, then length) are not a copy of a shorter one of their pair.

    An edge is a copy when it is within 5 cm of an edge of its pair already
    kept; sorted by length, the nearest kept one is the last kept, so each
    rank within the pairs is decided in one step for all pairs at once.
    """
    kept = pos == 0
    last = slen[first].copy()  # per pair, the length of the last edge kept
    later = np.flatnonzero(pos > 0)
    later = later[np.argsort(pos[later], kind="stable")]
    ranks, starts = np.unique(pos[later], return_index=True)
    for lo, hi in zip(starts, np.r_[starts[1:], later.size]):
        idx = later[lo:hi]
        g = group[idx]
        keep = slen[idx] - last[g] >= 0.05
        kept[idx[keep]] = True
        last[g[keep]] = slen[idx[keep]]
    return kept


def _pair_order(pair: np.ndarray, length: np.ndarray) -> np.ndarray:
    """``np.lexsort((length, pair))``: a stable sort by pair, then only the pairs of several edges by length.

    Most pairs hold one edge and the edges come nearly sorted, so this is
    ~30x faster than a two-key lexsort of every edge.
    """
    order = np.argsort(pair, kind="stable")
    spair = pair[order]
    same = spair[1:] == spair[:-1]
    if same.any():
        at = np.flatnonzero(np.r_[same, False] | np.r_[False, same])  # positions in pairs of several edges
        idx = order[at]
        order[at] = idx[np.lexsort((idx, length[idx], pair[idx]))]
    return order


def _simple_edges(table: _EdgeTable, nodes: _Nodes) -> tuple[_EdgeTable, _Nodes]:
    """Make the edge set simple without losing any street.

    The reverse copy of a two-way street is dropped.  Of parallel streets
    between the same two nodes the shortest stays as it is and each longer one
    is cut at its middle by a new node, so the CSR matrix holds one edge per
    node pair, shortest paths are unchanged, and every street can still be
    walked on, drawn and snapped to.  Closed loops are cut in three.  New
    nodes get ids -1, -2, ... in the order of the sorted edges and are
    appended to the node table.
    """
    u, v, length = table.u, table.v, table.length
    n_nodes = nodes.ids.shape[0]
    pair = np.minimum(u, v) * n_nodes + np.maximum(u, v)  # the node table is sorted by id: same order as the ids
    order = _pair_order(pair, length)
    spair, slen = pair[order], length[order]
    new_pair = np.r_[True, spair[1:] != spair[:-1]]
    group = np.cumsum(new_pair) - 1
    first = np.flatnonzero(new_pair)
    pos = np.arange(order.size) - first[group]
    kept = _kept_in_pairs(slen, pos, group, first)
    loop = u[order] == v[order]
    plain = kept & (pos == 0) & ~loop
    split = kept & ~plain & (slen >= 1.0)  # a kept loop or parallel street under 1 m is degenerate: dropped
    n_pieces = np.where(plain, 1, 0) + np.where(split, np.where(loop, 3, 2), 0)

    # the split streets, one by one (a few per thousand edges)
    extra_xy: list[np.ndarray] = []
    extra_len: list[float] = []
    new_xy: list[np.ndarray] = []
    for i in order[split].tolist():
        coords = table.lonlat[table.offsets[i] : table.offsets[i + 1]]
        pieces = _split_polyline(coords, float(length[i]), (1 / 3, 2 / 3) if u[i] == v[i] else (0.5,))
        for piece, piece_len in pieces:
            extra_xy.append(piece)
            extra_len.append(piece_len)
        new_xy.extend(piece[-1] for piece, _ in pieces[:-1])

    src = np.repeat(order, n_pieces)  # the input edge of each output edge, in output order
    out_u, out_v, out_len = u[src], v[src], length[src]
    counts = np.diff(table.offsets)[src]
    starts = table.offsets[src]
    n_new = len(new_xy)
    if n_new:
        at = np.flatnonzero(np.repeat(split, n_pieces))
        piece_counts = np.fromiter((len(c) for c in extra_xy), dtype=np.int64, count=len(extra_xy))
        out_len[at] = extra_len
        counts[at] = piece_counts
        starts[at] = table.lonlat.shape[0] + np.cumsum(piece_counts) - piece_counts
        # each split street: its pieces' inner ends are the new nodes, numbered in order
        last_piece = np.r_[src[at][1:] != src[at][:-1], True]
        new_index = n_nodes + np.arange(n_new, dtype=np.int64)
        out_v[at[~last_piece]] = new_index
        out_u[at[1:][~last_piece[:-1]]] = new_index
        nodes = _Nodes(
            np.concatenate([nodes.ids, -np.arange(1, n_new + 1, dtype=np.int64)]),
            np.concatenate([nodes.lonlat, np.asarray(new_xy, dtype=float)]),
        )
    gather = _ranges(starts, counts)
    source_xy = np.concatenate([table.lonlat, *extra_xy]) if extra_xy else table.lonlat
    point = None
    if table.point is not None:
        extra = sum(len(c) for c in extra_xy)
        point = np.concatenate([table.point, np.full(extra, -1, dtype=np.int64)])[gather]
    out = _EdgeTable(
        u=out_u,
        v=out_v,
        length=out_len,
        highway=table.highway[src],
        names=table.names,
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        lonlat=source_xy[gather],
        point=point,
    )
    return out, nodes


def _assemble(
    table: _EdgeTable,
    nodes: _Nodes,
    *,
    name: str,
    source: str,
    crs: str | None = None,
    meta: dict | None = None,
) -> WalkNetwork:
    """Turn gathered edges (lon/lat) into a network with one edge per node pair."""
    if not table.size:
        raise NetworkError(f"{name or source}: no walkable street in this network")
    spent = table
    table, nodes = _simple_edges(spent, nodes)
    for name in ("u", "v", "length", "highway", "offsets", "lonlat", "point"):
        setattr(spent, name, None)  # the gathered edges are copied: free them now, not when the caller returns
    n_all = nodes.ids.shape[0]
    used = np.flatnonzero(np.bincount(np.concatenate([table.u, table.v]), minlength=n_all))
    used = used[np.argsort(nodes.ids[used], kind="stable")]  # by id, as np.unique of the ids
    osmids = nodes.ids[used]
    rank = np.full(n_all, -1, dtype=np.int64)
    rank[used] = np.arange(used.shape[0])
    lonlat = nodes.lonlat[used]
    crs = crs or local_metric_crs(lonlat[:, 0], lonlat[:, 1])
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    if table.point is None:
        x, y = to_metric.transform(lonlat[:, 0], lonlat[:, 1])
        gx, gy = to_metric.transform(table.lonlat[:, 0], table.lonlat[:, 1])
    else:  # every node once, then the vertices that are no node
        ax, ay = to_metric.transform(nodes.lonlat[:, 0], nodes.lonlat[:, 1])
        x, y = ax[used], ay[used]
        free = table.point < 0
        gx, gy = ax[table.point], ay[table.point]
        if free.any():
            fx, fy = to_metric.transform(table.lonlat[free, 0], table.lonlat[free, 1])
            gx[free], gy[free] = fx, fy
    names = np.array([str(n) for n in table.names], dtype=object)
    return WalkNetwork(
        crs=crs,
        node_osmid=osmids,
        node_xy=np.column_stack([x, y]),
        node_lonlat=lonlat,
        edge_u=rank[table.u].astype(np.int32),
        edge_v=rank[table.v].astype(np.int32),
        edge_length=table.length,
        edge_highway=names[table.highway] if names.size else np.empty(0, dtype=object),
        geom_offsets=table.offsets,
        geom_xy=np.column_stack([gx, gy]),
        name=name,
        source=source,
        meta={"built": time.strftime("%Y-%m-%d %H:%M:%S"), **(meta or {})},
    )


def _polyline_lengths(polylines: list[np.ndarray]) -> np.ndarray:
    """Great-circle length in metres of each lon/lat polyline (osmnx's formula, :func:`_haversine_m`), vectorised."""
    if not polylines:
        return np.empty(0)
    counts = np.fromiter((len(c) for c in polylines), dtype=np.int64, count=len(polylines))
    return _flat_polyline_lengths(np.concatenate(polylines), np.concatenate([[0], np.cumsum(counts)]))


def _flat_polyline_lengths(lonlat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Great-circle length of each polyline ``lonlat[offsets[i]:offsets[i+1]]``, in one pass over all points."""
    counts = np.diff(offsets)
    if counts.size == 0:
        return np.empty(0)
    pts = np.radians(lonlat)
    lon, lat = pts[:, 0], pts[:, 1]
    a = np.sin(np.diff(lat) / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    seg = 2 * 6_371_009 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    ends = offsets[1:]
    seg = np.append(seg, 0.0)
    seg[ends - 1] = 0.0  # the step from one polyline's last point to the next one's first
    out = np.add.reduceat(seg, offsets[:-1])
    out[counts < 2] = 0.0
    return out
