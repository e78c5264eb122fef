"""The blocks (faces) of a street network, found once from its planar embedding.

Each edge ``e`` gives two half-edges, ``2e`` (u to v) and ``2e + 1`` (v to u).  Around
every node the half-edges leaving it are sorted by the direction of their first
segment; the half-edge after ``h`` on the boundary of the face to its left is the one
leaving ``h``'s end just clockwise of ``h``'s twin.  The cycles of that permutation
are the faces: bounded ones run anticlockwise (positive area), the outside of each
connected part clockwise.

A face is *simple* when it is bounded and no edge lies on it twice (a dead end or a
bridge into it would): its boundary is then a ring of whole edges, and it is a block
of a service area as soon as every one of them is reached.  Streets that cross
without a junction (bridges, tunnels) make faces overlap; users of the faces check
that the blocks they take tile (see :func:`geo.service_areas.street_band`).
Dead ends (trees hanging off the rest), self-loops and zero-length edges take no part:
they lie inside some face, as loose lines of the areas that reach them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from .network import WalkNetwork

__all__ = ["StreetFaces", "street_faces"]


@dataclass
class StreetFaces:
    """Faces of a network's planar embedding.

    Attributes
    ----------
    face_of
        Face of each half-edge, shape (2E,); -1 for edges left out (self-loops,
        zero length).
    indptr, order
        The half-edges of face ``f`` in boundary order are ``order[indptr[f]:indptr[f + 1]]``.
    simple
        Bounded faces whose boundary uses each edge once, with a positive area.
    """

    face_of: np.ndarray
    indptr: np.ndarray
    order: np.ndarray
    simple: np.ndarray
    _polygons: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object), repr=False)
    _built: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool), repr=False)
    _n_built: int = field(default=0, repr=False)

    @property
    def n_faces(self) -> int:
        return int(self.indptr.size - 1)

    def edges_of(self, faces: np.ndarray) -> np.ndarray:
        """The edges on the boundaries of ``faces`` (with repeats where faces share one)."""
        return self.order[_ranges(self.indptr, faces)] >> 1

    def blocks(self, net: WalkNetwork, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The simple faces among ``faces`` whose ring is a valid polygon, and their polygons."""
        faces = np.asarray(faces, dtype=np.int64)
        faces = faces[self.simple[faces]]
        polys = self.polygons(net, faces)
        valid = self.simple[faces]  # polygons() clears it for rings that touch themselves
        return faces[valid], polys[valid]

    #: At most this many polygons are kept; beyond it the kept ones are dropped (and rebuilt if
    #: asked for again): areas visited in spatial order reuse their neighbours' recent blocks.
    keep_polygons: int = 60_000

    def polygons(self, net: WalkNetwork, faces: np.ndarray) -> np.ndarray:
        """Polygons of ``faces`` (metric CRS, centimetre coordinates), built on first use."""
        if self._polygons.size != self.n_faces or self._n_built > self.keep_polygons:
            self._polygons = np.full(self.n_faces, None, dtype=object)
            self._built = np.zeros(self.n_faces, dtype=bool)
            self._n_built = 0
        faces = np.asarray(faces, dtype=np.int64)
        missing = faces[~self._built[faces]]
        if missing.size:
            missing = np.unique(missing)
            polys = _face_polygons(net, self, missing)
            self._polygons[missing] = polys
            self._built[missing] = True
            self._n_built += int(missing.size)
            self.simple[missing[~shapely.is_valid(polys)]] = False
        return self._polygons[faces]


def street_faces(net: WalkNetwork) -> StreetFaces:
    """The faces of ``net``'s streets (see the module docstring); linear in the edges but for one sort."""
    n_e = net.n_edges
    start = net.geom_offsets[:-1]
    last = net.geom_offsets[1:] - 1
    used = _without_dead_ends(net, (net.edge_u != net.edge_v) & (net.edge_length > 0) & (last > start))
    e = np.flatnonzero(used)
    h = np.concatenate([2 * e, 2 * e + 1])
    origin = np.concatenate([net.edge_u[e], net.edge_v[e]]).astype(np.int64)
    first = np.concatenate(
        [net.geom_xy[start[e] + 1] - net.geom_xy[start[e]], net.geom_xy[last[e] - 1] - net.geom_xy[last[e]]]
    )
    angle = np.arctan2(first[:, 1], first[:, 0])
    # half-edges around each node, anticlockwise: one sort of node + angle in [0, 1)
    rot = np.argsort(origin + (angle + np.pi) / (2 * np.pi + 1e-9), kind="stable")
    h_sorted, o_sorted = h[rot], origin[rot]
    group_start = np.flatnonzero(np.r_[True, o_sorted[1:] != o_sorted[:-1]])
    group_len = np.diff(np.r_[group_start, h_sorted.size])
    gs = np.repeat(group_start, group_len)
    k = np.arange(h_sorted.size) - gs
    prev_in_rot = np.empty(2 * n_e, dtype=np.int64)  # clockwise neighbour of each half-edge at its origin
    prev_in_rot[h_sorted] = h_sorted[gs + (k - 1) % np.repeat(group_len, group_len)]
    nxt = np.arange(2 * n_e, dtype=np.int64)  # edges left out stay cycles of one, dropped below
    nxt[h] = prev_in_rot[h ^ 1]
    head = _cycle_minimum(nxt)
    is_head = np.zeros(2 * n_e, dtype=bool)
    is_head[h] = head[h] == h
    face_id = np.cumsum(is_head) - 1  # faces numbered by their smallest half-edge
    face_of = np.full(2 * n_e, -1, dtype=np.int64)
    face_of[h] = face_id[head[h]]
    n_f = int(is_head.sum())
    indptr, order = _boundary_order(face_of, nxt, h, n_f)
    # shoelace by segments: the u-to-v half-edge adds its polyline's cross sum, its twin subtracts it
    p, q = net.geom_xy[:-1], net.geom_xy[1:]
    pair = p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]
    pair[net.geom_offsets[1:-1] - 1] = 0.0  # the pairs that join one edge's last point to the next's first
    cross = np.add.reduceat(pair, net.geom_offsets[:-1]) if n_e else np.zeros(0)
    area = np.bincount(face_of[h], weights=np.concatenate([cross[e], -cross[e]]), minlength=n_f) / 2
    twice = np.zeros(n_f, dtype=bool)
    twice[face_of[2 * e][face_of[2 * e] == face_of[2 * e + 1]]] = True
    return StreetFaces(face_of, indptr, order, (area > 1e-6) & ~twice)


def _cycle_minimum(nxt: np.ndarray) -> np.ndarray:
    """The smallest member of each element's cycle of the permutation ``nxt`` (pointer jumping:
    as many rounds as the longest cycle has binary digits)."""
    low = np.minimum(np.arange(nxt.size), nxt)
    jump = nxt[nxt]
    while True:
        step = np.minimum(low, low[jump])
        if np.array_equal(step, low) and np.array_equal(low, low[nxt]):
            return low
        low, jump = step, jump[jump]


def _without_dead_ends(net: WalkNetwork, used: np.ndarray) -> np.ndarray:
    """``used`` less the dead-end trees (edges that reach a node of degree 1, repeatedly)."""
    used = used.copy()
    u, v = net.edge_u, net.edge_v
    degree = np.bincount(u[used], minlength=net.n_nodes) + np.bincount(v[used], minlength=net.n_nodes)
    while True:
        leaf = degree == 1
        dead = used & (leaf[u] | leaf[v])
        if not dead.any():
            return used
        used &= ~dead
        degree -= np.bincount(u[dead], minlength=net.n_nodes) + np.bincount(v[dead], minlength=net.n_nodes)


def _boundary_order(face_of: np.ndarray, nxt: np.ndarray, h: np.ndarray, n_f: int) -> tuple[np.ndarray, np.ndarray]:
    """Each face's half-edges in boundary order, walked from its smallest half-edge (all faces at once)."""
    size = np.bincount(face_of[h], minlength=n_f)
    indptr = np.concatenate([[0], np.cumsum(size)])
    head = np.full(n_f, np.iinfo(np.int64).max)
    np.minimum.at(head, face_of[h], h)
    by_size = np.argsort(-size, kind="stable")
    order = np.empty(h.size, dtype=np.int64)
    cur = head[by_size]
    minus_sizes = -size[by_size]  # ascending
    for step in range(int(size.max()) if n_f else 0):
        active = int(np.searchsorted(minus_sizes, -step, side="left"))  # faces longer than step
        order[indptr[by_size[:active]] + step] = cur[:active]
        cur = nxt[cur[:active]]
    return indptr, order


def _ranges(indptr: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Positions ``indptr[f]:indptr[f + 1]`` of every face in ``faces``, concatenated."""
    starts = indptr[faces]
    counts = indptr[faces + 1] - starts
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))


def _face_polygons(net: WalkNetwork, faces: StreetFaces, which: np.ndarray) -> np.ndarray:
    """The rings of ``which`` faces as polygons: each half-edge's polyline but its last point."""
    pos = _ranges(faces.indptr, which)
    hs = faces.order[pos]
    ring = np.repeat(np.arange(which.size), faces.indptr[which + 1] - faces.indptr[which])
    e = hs >> 1
    s, t = net.geom_offsets[e], net.geom_offsets[e + 1]
    counts = t - s - 1  # points of each half-edge but its last
    back = (hs & 1).astype(bool)
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    # u to v: points s .. t-2; v to u: points t-1 down to s+1
    vert = np.where(np.repeat(back, counts), np.repeat(t - 1, counts) - within, np.repeat(s, counts) + within)
    xy = np.round(net.geom_xy[vert], 2)
    rings = shapely.linearrings(xy, indices=np.repeat(ring, counts))
    return shapely.polygons(rings)
