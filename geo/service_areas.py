"""Service areas: polygons that follow the streets a facility reaches within each tier.

Reading order (one pipeline, kept in one module: every step feeds the next):

1. :func:`reached_pieces` - the parts of edges a bounded search
   (:func:`geo.reach.iter_local_node_distances`) reaches, cut at the remaining
   distance; :func:`merged_pieces`, :func:`concat_pieces` combine them.
2. :func:`chained_lines`, :func:`cut_pieces` - the pieces as lines, chained along
   strokes (:mod:`geo.network.strokes`) so that buffering makes few round caps.
3. :func:`service_area_lines`, :func:`service_area_polygon` - one source's lines and
   polygon.  :func:`faces_band` draws it from the network's blocks the area encloses
   (:mod:`geo.street_faces`, found once per run; each block's hole, :class:`FaceHoles`,
   drawn once): the buffer of their union and of the loose lines, less the holes.
   Where no block is enclosed, or the blocks do not tile (bridges), :func:`street_band`
   buffers the lines, or draws the same union from the blocks the lines enclose
   (``polygonize``; :func:`inset_convex`, block holes).
4. :func:`service_areas` - every source (in spatial order) and tier;
   :func:`facility_service_areas` - the GeoDataFrame of a facilities layer (in worker
   processes when there are many).

The module is longer than ~600 lines for that reason: splitting the pipeline would
scatter its steps over files a newcomer must read together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.errors import GEOSException

from .network import Snapped, WalkNetwork
from .reach import incident_edges, iter_local_node_distances
from .settings import DEFAULT_BUFFER_M, MAX_BUFFER_M
from .standards import parse_tiers
from .street_faces import StreetFaces

__all__ = [
    "DEFAULT_BUFFER_M",
    "MAX_BUFFER_M",
    "MIN_BLOCKS",
    "BLOCKS_PER_LOOSE_END",
    "HOLE_QUAD_SEGS",
    "blocks_pay",
    "street_blocks",
    "Pieces",
    "reached_pieces",
    "cut_pieces",
    "chained_lines",
    "concat_pieces",
    "merged_pieces",
    "service_area_lines",
    "service_area_polygon",
    "source_join",
    "service_areas",
    "street_band",
    "inset_convex",
    "FaceHoles",
    "faces_band",
    "facility_service_areas",
]

ProgressFn = Callable[[int, int], None]


# -------------------------------------------------------------- geometry
@dataclass
class Pieces:
    """Reached parts of edges: edge ``edge[i]`` from ``start[i]`` to ``end[i]`` metres
    (walking metres from the edge's u end)."""

    edge: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return int(self.edge.shape[0])


def reached_pieces(
    net: WalkNetwork,
    node_dist: np.ndarray,
    radius: float,
    *,
    nodes: np.ndarray | None = None,
    source_edge: int = -1,
    source_offset: float = 0.0,
    source_gap: float = 0.0,
) -> tuple[Pieces, Pieces]:
    """Everything reached within ``radius``: pieces of edges through the nodes, and the
    source's own piece.

    Parameters
    ----------
    net
        The network.
    node_dist
        Node distances from the source: shape (N,), or with ``nodes`` the
        distances of those nodes only (as :func:`geo.reach.iter_local_node_distances`
        gives them; the others are farther than any tier).
    radius
        The tier in metres.
    nodes
        Sorted node ids that ``node_dist`` belongs to; then nothing of the
        network's size is scanned.
    source_edge, source_offset, source_gap
        Where the source joins the network: its own edge is reached directly
        in both directions from the join point.

    Returns
    -------
    through_nodes, own
        Whole or cut edges reached through their end nodes (a whole edge is the
        piece ``[0, length]``), and the piece of the source's edge reached
        straight from the join point.
    """
    edges, du, dv = _reached_edges(net, node_dist, radius, nodes)
    return _pieces_of(net, edges, du, dv, radius, source_edge, source_offset, source_gap)


def _reached_edges(
    net: WalkNetwork, node_dist: np.ndarray, radius: float, nodes: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges touching a node within ``radius`` (sorted) and their ends' distances."""
    if nodes is None:
        reached = np.flatnonzero(node_dist <= radius)
        edges = incident_edges(net, reached)
        return edges, node_dist[net.edge_u[edges]], node_dist[net.edge_v[edges]]
    edges = incident_edges(net, nodes[node_dist <= radius])
    return edges, _lookup(nodes, node_dist, net.edge_u[edges]), _lookup(nodes, node_dist, net.edge_v[edges])


def _pieces_of(
    net: WalkNetwork,
    edges: np.ndarray,
    du: np.ndarray,
    dv: np.ndarray,
    radius: float,
    source_edge: int,
    source_offset: float,
    source_gap: float,
) -> tuple[Pieces, Pieces]:
    """:func:`reached_pieces` of the edges :func:`_reached_edges` found for ``radius`` (or a larger one)."""
    length = net.edge_length[edges]
    from_u = np.where(np.isfinite(du), np.clip(radius - du, 0.0, length), 0.0)
    from_v = np.where(np.isfinite(dv), np.clip(radius - dv, 0.0, length), 0.0)
    full = from_u + from_v >= length
    part = ~full
    edge = np.concatenate([edges[full], edges[part], edges[part]])
    start = np.concatenate([np.zeros(full.sum()), np.zeros(part.sum()), (length - from_v)[part]])
    end = np.concatenate([length[full], from_u[part], length[part]])
    keep = end - start > 0.01
    through = Pieces(edge[keep], start[keep], end[keep])
    own = Pieces(np.empty(0, dtype=np.int64), np.empty(0), np.empty(0))
    if source_edge >= 0 and radius > source_gap:
        left = radius - source_gap
        a = max(0.0, source_offset - left)
        b = min(float(net.edge_length[source_edge]), source_offset + left)
        if b - a > 0.01:
            own = Pieces(np.array([source_edge]), np.array([a]), np.array([b]))
    return through, own


def _lookup(nodes: np.ndarray, dist: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Distances of ``query`` nodes given those of sorted ``nodes`` (``inf`` for the others)."""
    if not nodes.size:
        return np.full(query.shape, np.inf)
    pos = np.minimum(np.searchsorted(nodes, query), nodes.size - 1)
    return np.where(nodes[pos] == query, dist[pos], np.inf)


def _piece_vertices(net: WalkNetwork, pieces: Pieces) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of edge pieces from start to end (u to v direction), with their piece index."""
    n = len(pieces)
    geom_len = net.edge_geom_length[pieces.edge]
    edge_len = net.edge_length[pieces.edge]
    scale = np.divide(geom_len, edge_len, out=np.ones(n), where=edge_len > 0)
    g0 = pieces.start * scale
    g1 = pieces.end * scale
    s = net.geom_offsets[pieces.edge]
    counts = net.geom_offsets[pieces.edge + 1] - s
    rep = np.repeat(np.arange(n), counts)
    vert = np.repeat(s - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    cum = net.geom_cum[vert]
    # vertices within 1 cm of a cut would leave micro-segments that slow GEOS buffers ten times
    interior = (cum > g0[rep] + 0.01) & (cum < g1[rep] - 0.01)
    start_xy = _interpolate(net, s, counts, rep, cum, g0)
    end_xy = _interpolate(net, s, counts, rep, cum, g1)
    ids = np.concatenate([np.arange(n), rep[interior], np.arange(n)])
    keys = np.concatenate([np.full(n, -np.inf), cum[interior], np.full(n, np.inf)])
    xy = np.concatenate([start_xy, net.geom_xy[vert[interior]], end_xy])
    order = np.lexsort((keys, ids))
    return xy[order], ids[order]


def cut_pieces(net: WalkNetwork, pieces: Pieces, *, cm: bool = False) -> np.ndarray:
    """Return one LineString (metric CRS) per edge piece, vectorised over all pieces; with ``cm``,
    coordinates rounded to the centimetre (as :func:`_as_lines` gives them)."""
    if len(pieces) == 0:
        return np.empty(0, dtype=object)
    xy, ids = _piece_vertices(net, pieces)
    return shapely.linestrings(_round_cm(xy) if cm else xy, indices=ids)


def chained_lines(net: WalkNetwork, pieces: Pieces, *, cm: bool = False) -> np.ndarray:
    """Join edge pieces into polylines along the network's strokes.

    Pieces that follow each other on a stroke (the first reaching the end of
    its edge, the next starting at the start of the following edge) become one
    polyline.  The union of the lines equals the union of the pieces, with far
    fewer lines (and overlapping round caps) for a buffer to resolve.

    Parameters
    ----------
    net
        The network.
    pieces
        Edge pieces.
    cm
        Round the coordinates to the centimetre (as :func:`_as_lines` does).

    Returns
    -------
    numpy.ndarray
        Shapely LineStrings in the metric CRS.
    """
    n = len(pieces)
    if n == 0:
        return np.empty(0, dtype=object)
    strokes = net.strokes
    e = pieces.edge
    length = net.edge_length[e]
    flip = strokes.flipped[e]
    at_start = pieces.start <= 0.01
    at_end = pieces.end >= length - 0.01
    entry = np.where(flip, at_end, at_start)
    leave = np.where(flip, at_start, at_end)
    along = np.where(flip, length - pieces.end, pieces.start)
    order = np.lexsort((along, strokes.position[e], strokes.stroke[e]))
    sid, pos = strokes.stroke[e][order], strokes.position[e][order]
    join = np.zeros(n, dtype=bool)
    join[1:] = (sid[1:] == sid[:-1]) & (pos[1:] == pos[:-1] + 1) & leave[order][:-1] & entry[order][1:]
    run = np.cumsum(~join) - 1
    rank_of = np.empty(n, dtype=np.int64)
    rank_of[order] = np.arange(n)
    xy, ids = _piece_vertices(net, pieces)
    counts = np.bincount(ids, minlength=n)
    within = np.arange(ids.size) - np.repeat(np.cumsum(counts) - counts, counts)
    k = np.where(flip[ids], counts[ids] - 1 - within, within)
    rank = rank_of[ids]
    keep = ~(join[rank] & (k == 0))  # a joined piece repeats the shared node
    final = np.lexsort((k[keep], rank[keep]))
    xy = xy[keep][final]
    return shapely.linestrings(_round_cm(xy) if cm else xy, indices=run[rank[keep]][final])


def _interpolate(net, s, counts, rep, cum, g) -> np.ndarray:
    """Point at planar distance ``g`` along each piece's edge polyline."""
    before = np.bincount(rep, weights=(cum <= g[rep]), minlength=s.shape[0]).astype(np.int64)
    k = s + np.clip(before - 1, 0, counts - 2)
    a = net.geom_xy[k]
    b = net.geom_xy[k + 1]
    seg = np.hypot(*(b - a).T)
    frac = np.divide(g - net.geom_cum[k], seg, out=np.zeros_like(g), where=seg > 0)
    frac = np.clip(frac, 0.0, 1.0)
    return a + (b - a) * frac[:, None]


# ---------------------------------------------------------------- polygons
def service_area_lines(
    net: WalkNetwork,
    node_dist: np.ndarray,
    radius: float,
    *,
    source_xy: np.ndarray,
    source_edge: int,
    source_offset: float,
    source_gap: float,
    nodes: np.ndarray | None = None,
) -> shapely.Geometry:
    """Return the streets reached within ``radius`` as one MultiLineString (metric CRS).

    One line per reached edge piece (pieces of one edge that overlap are
    merged), plus the walk from the source to its join point.  Whole edges end
    at their junctions, so ``street_band(lines, blocks=True)`` can find the
    blocks they enclose.

    Parameters
    ----------
    net, node_dist, radius, nodes, source_edge, source_offset, source_gap
        As for :func:`reached_pieces`.
    source_xy
        Shape (2, 2): the source's own point and its join point on the street.
    """
    through, own = reached_pieces(
        net,
        node_dist,
        radius,
        nodes=nodes,
        source_edge=source_edge,
        source_offset=source_offset,
        source_gap=source_gap,
    )
    return _edge_piece_lines(net, through, own, _connector(source_xy, source_gap, radius))


def service_area_polygon(
    net: WalkNetwork,
    node_dist: np.ndarray,
    radius: float,
    *,
    source_xy: np.ndarray,
    source_edge: int,
    source_offset: float,
    source_gap: float,
    buffer_m: float = DEFAULT_BUFFER_M,
    quad_segs: int = 3,
    nodes: np.ndarray | None = None,
    holes: FaceHoles | None = None,
    faces: StreetFaces | None = None,
) -> shapely.Geometry:
    """Return one service-area polygon (metric CRS): the band of ``buffer_m``
    metres around the streets reached within ``radius``.

    The band is built the faster of two ways for the shape of what is reached
    (see :func:`street_band`): from the blocks the reached streets enclose when
    there are many of them (a dense grid at 1000 m), else by buffering the
    reached streets joined along their strokes and unioning the bands.  Both
    give the same polygon.

    With ``faces`` (:func:`geo.street_faces.street_faces` of ``net``), the
    band is built from the network's faces whose edges are all reached whenever
    there is one (:func:`faces_band`: no polygonizing of the reached streets, and
    each block's hole drawn once per run), else as above.

    Parameters are those of :func:`service_area_lines`, plus ``buffer_m``,
    ``quad_segs`` and ``holes`` of :func:`street_band`, and ``faces``.
    """
    through, own = reached_pieces(
        net,
        node_dist,
        radius,
        nodes=nodes,
        source_edge=source_edge,
        source_offset=source_offset,
        source_gap=source_gap,
    )
    return _band(net, through, own, _connector(source_xy, source_gap, radius), buffer_m, quad_segs, holes, faces)


def _band(
    net: WalkNetwork,
    through: Pieces,
    own: Pieces,
    connector: np.ndarray,
    buffer_m: float,
    quad_segs: int,
    holes: FaceHoles | None,
    faces: StreetFaces | None,
) -> shapely.Geometry:
    """The polygon of :func:`service_area_polygon` from the reached pieces and the connector."""
    if faces is not None:  # any block it encloses saves buffering and overlaying its streets
        band = faces_band(net, faces, through, own, connector, buffer_m, quad_segs, holes)
        if band is not None:
            return band
    if blocks_pay(net, through):
        lines = _edge_piece_lines(net, through, own, connector)
        return street_band(lines, buffer_m, quad_segs, blocks=True, holes=holes)
    runs = _as_lines([chained_lines(net, through), cut_pieces(net, own), connector])
    return street_band(runs, buffer_m, quad_segs)


#: Build bands from blocks when the whole reached edges close at least this many
#: cycles (blocks), and at least this many per loose end (dead ends and cut pieces).
#: Measured on the synthetic grid, south-west Futian and the demo at 300-1000 m.
MIN_BLOCKS = 30
BLOCKS_PER_LOOSE_END = 1.2


def blocks_pay(net: WalkNetwork, through: Pieces) -> bool:
    """Whether the reached streets enclose enough blocks, against their loose ends, for
    the blocks to build the band faster than a union of buffered runs."""
    whole = (through.start <= 0.01) & (through.end >= net.edge_length[through.edge] - 0.01)
    edges = np.unique(through.edge[whole])
    if edges.size < MIN_BLOCKS:
        return False
    nodes, degree = np.unique(np.concatenate([net.edge_u[edges], net.edge_v[edges]]), return_counts=True)
    cycles = edges.size - nodes.size + 1  # of a connected graph: its independent cycles
    loose_ends = int((degree == 1).sum() + (~whole).sum())
    return cycles >= MIN_BLOCKS and cycles >= BLOCKS_PER_LOOSE_END * loose_ends


def source_join(sources: Snapped, i: int, own_xy: np.ndarray) -> dict:
    """Where source ``i`` (at ``own_xy``, metric) joins the network, as the keyword arguments
    of :func:`service_area_lines` and :func:`service_area_polygon`."""
    return dict(
        source_xy=np.vstack([own_xy, sources.xy[i]]),
        source_edge=int(sources.edge[i]),
        source_offset=float(sources.offset[i]),
        source_gap=float(sources.gap[i]),
    )


def _edge_piece_lines(net: WalkNetwork, through: Pieces, own: Pieces, connector: np.ndarray) -> shapely.Geometry:
    """One line per reached edge piece (overlapping pieces of an edge merged), and the connector."""
    return _as_lines([cut_pieces(net, merged_pieces(concat_pieces(through, own))), connector])


def _connector(source_xy: np.ndarray, source_gap: float, radius: float) -> np.ndarray:
    """The walk from the source to its join point, as a one-line array (empty when on the street)."""
    if source_gap > 0 and radius > 0:
        join_xy = np.asarray(source_xy, float)
        return np.array([shapely.linestrings([join_xy[0], join_xy[1]])], dtype=object)
    return np.empty(0, dtype=object)


def _as_lines(parts: list[np.ndarray]) -> shapely.Geometry:
    """One MultiLineString of the lines in ``parts``, at centimetre precision: pieces meet
    exactly at junctions, and GEOS buffers nearly-coincident floating vertices 2-3x slower."""
    lines = np.concatenate(parts)
    if not lines.size:
        return shapely.MultiLineString()
    return shapely.multilinestrings(shapely.transform(lines, _round_cm))


def concat_pieces(*groups: Pieces) -> Pieces:
    """Return the pieces of all ``groups`` as one :class:`Pieces`."""
    return Pieces(
        np.concatenate([g.edge for g in groups]).astype(np.int64),
        np.concatenate([g.start for g in groups]).astype(float),
        np.concatenate([g.end for g in groups]).astype(float),
    )


def merged_pieces(pieces: Pieces) -> Pieces:
    """Merge pieces of the same edge that overlap or touch (within 1 cm) into one.

    Examples
    --------
    >>> merged = merged_pieces(Pieces(np.array([3, 3, 1]), np.array([0.0, 5.0, 2.0]), np.array([6.0, 9.0, 4.0])))
    >>> merged.edge.tolist(), merged.start.tolist(), merged.end.tolist()
    ([1, 3], [2.0, 0.0], [4.0, 9.0])
    """
    n = len(pieces)
    if n < 2:
        return pieces
    order = np.lexsort((pieces.start, pieces.edge))
    edge, start, end = pieces.edge[order], pieces.start[order], pieces.end[order]
    # running maximum of the ends within each edge: offset every edge past the previous one
    span = float(end.max() - min(start.min(), 0.0)) + 1.0
    reach_so_far = np.maximum.accumulate(end + edge * span) - edge * span
    new = np.ones(n, dtype=bool)
    new[1:] = (edge[1:] != edge[:-1]) | (start[1:] > reach_so_far[:-1] + 0.01)
    first = np.flatnonzero(new)
    return Pieces(edge[first], start[first], np.maximum.reduceat(end, first))


def _round_cm(coords: np.ndarray) -> np.ndarray:
    return np.round(coords, 2)


def service_areas(
    net: WalkNetwork,
    sources: Snapped,
    source_xy: np.ndarray,
    tiers: float | str | Sequence[float | str],
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    quad_segs: int = 3,
    progress: ProgressFn | None = None,
    faces: StreetFaces | None = None,
    holes: FaceHoles | None = None,
) -> list[tuple[int, float, shapely.Geometry]]:
    """Per-source service-area polygons (metric CRS) for every tier.

    Parameters
    ----------
    net
        The network.
    sources
        Snapped sources (facilities); unreachable ones get no polygon.
    source_xy
        The sources' own coordinates in ``net.crs``, shape (K, 2): the walk from
        each to its join point belongs to its area.
    tiers
        Walking distances: metres, a single number, or anything
        :func:`geo.standards.parse_tiers` reads (``"5min,15min"``).
    buffer_m
        Half-width of the band around reached streets (at most 50 m).
    quad_segs
        Segments per quarter circle in the buffer's round ends and joins.
    progress
        Called with (done, total) now and then.
    faces
        The network's faces (default :attr:`WalkNetwork.faces`, read with the network or found once).
    holes
        Blocks' holes drawn by earlier calls (for the same ``buffer_m``), to reuse and add to.

    Returns
    -------
    list of (source index, tier, polygon)
    """
    if not 0 < buffer_m <= MAX_BUFFER_M:
        raise ValueError(f"buffer_m must be in (0, {MAX_BUFFER_M}] metres, got {buffer_m}")
    metres = parse_tiers(tiers)
    total = int(sources.reachable.sum())
    rows: list[tuple[int, float, shapely.Geometry]] = []
    order = _spatial_order(sources)
    if holes is None or holes.buffer_m != buffer_m:
        holes = FaceHoles(buffer_m)
    if faces is None:
        faces = net.faces
    searches = iter_local_node_distances(net, sources.subset(order), metres[-1])
    for done, (k, nodes, dist) in enumerate(searches, start=1):
        i = int(order[k])
        where = source_join(sources, i, source_xy[i])
        # the largest tier's edges hold every smaller one's (those with an end within it)
        edges, du, dv = _reached_edges(net, dist, metres[-1], nodes)
        near = np.minimum(du, dv)
        for tier in metres[::-1]:  # the largest first: the smaller areas' blocks are among its own
            sel = near <= tier
            through, own = _pieces_of(
                net,
                edges[sel],
                du[sel],
                dv[sel],
                tier,
                where["source_edge"],
                where["source_offset"],
                where["source_gap"],
            )
            connector = _connector(where["source_xy"], where["source_gap"], tier)
            rows.append((i, tier, _band(net, through, own, connector, buffer_m, quad_segs, holes, faces)))
        if progress and (done % 50 == 0 or done == total):
            progress(done, total)
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def faces_band(
    net: WalkNetwork,
    faces: StreetFaces,
    through: Pieces,
    own: Pieces,
    connector: np.ndarray,
    buffer_m: float,
    quad_segs: int,
    holes: FaceHoles | None = None,
) -> shapely.Geometry | None:
    """The band around reached pieces, built from the network faces they enclose; None
    when they enclose none or the faces do not tile (streets crossing without a junction).

    The band is the buffer of the blocks' union and of the loose lines (pieces on no
    enclosed block's boundary, and the connector), less each block shrunk by
    ``buffer_m`` (its hole) where no loose line inside it comes within ``buffer_m``:
    a point of a block is within ``buffer_m`` of a reached street exactly when it is
    within it of the block's boundary or of a line inside the block.
    """
    pieces = merged_pieces(concat_pieces(through, own))
    whole = (pieces.start <= 0.01) & (pieces.end >= net.edge_length[pieces.edge] - 0.01)
    w = pieces.edge[whole]
    side = np.concatenate([faces.face_of[2 * w], faces.face_of[2 * w + 1]])
    cand, hits = np.unique(side[side >= 0], return_counts=True)
    enclosed = cand[hits == faces.indptr[cand + 1] - faces.indptr[cand]]
    enclosed, polys = faces.blocks(net, enclosed)
    if not enclosed.size:
        return None
    union = _coverage_union(polys)
    if union is None:
        return None
    # a piece lies on an enclosed block when the face on either side of its edge is one
    is_enclosed = np.zeros(faces.n_faces + 1, dtype=bool)  # the last one stands for "no face" (-1)
    is_enclosed[enclosed] = True
    e = pieces.edge
    on_blocks = is_enclosed[faces.face_of[2 * e]] | is_enclosed[faces.face_of[2 * e + 1]]
    rest = Pieces(e[~on_blocks], pieces.start[~on_blocks], pieces.end[~on_blocks])
    # chained along strokes, then merged where only two meet: a junction inside a line is a round
    # join, where separate lines would each end in a round cap (coinciding caps buffer slowly)
    lines = np.concatenate([chained_lines(net, rest, cm=True), shapely.transform(connector, _round_cm)])
    loose = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(lines))) if lines.size else lines
    shapely.prepare(union)
    outside = ~shapely.covered_by(loose, union) if loose.size else np.zeros(0, dtype=bool)
    band = shapely.buffer(
        shapely.geometrycollections(np.concatenate([[union], loose[outside]])), buffer_m, quad_segs=quad_segs
    )
    if holes is not None and holes.buffer_m == buffer_m:
        per_face, bounds = holes.of_faces(enclosed, polys, faces.n_faces)
    else:
        per_face = _face_holes(polys, buffer_m)
        bounds = shapely.bounds(per_face)
    # a hole is buffer_m or more from anything outside its block, so only lines inside the blocks
    # (dead ends, the connector, bridges crossing them) come nearer to one
    return _with_holes(band, _holes_clear_of(per_face, bounds, loose, buffer_m, quad_segs))


def _holes_clear_of(
    per_face: np.ndarray, bounds: np.ndarray, loose: np.ndarray, buffer_m: float, quad_segs: int
) -> np.ndarray:
    """The blocks' holes (one geometry per block, ``bounds`` theirs) less the bands of the loose
    lines nearer than ``buffer_m`` to them; the pairs to test are found by their boxes first."""
    hole_i = np.empty(0, dtype=np.int64)
    if loose.size and per_face.size:
        lb = shapely.bounds(loose)
        near = (
            (lb[:, None, 0] - buffer_m <= bounds[None, :, 2])
            & (lb[:, None, 2] + buffer_m >= bounds[None, :, 0])
            & (lb[:, None, 1] - buffer_m <= bounds[None, :, 3])
            & (lb[:, None, 3] + buffer_m >= bounds[None, :, 1])
        )  # NaN boxes (no hole) are near nothing
        line_i, hole_i = np.nonzero(near)
        if hole_i.size:
            # strictly nearer: a line touching a block's boundary is exactly buffer_m from a hole's corner
            close = shapely.dwithin(loose[line_i], per_face[hole_i], buffer_m * (1 - 1e-9))
            line_i, hole_i = line_i[close], hole_i[close]
    if hole_i.size:
        per_face = per_face.copy()
        near_lines = np.unique(line_i)
        band_of = dict(zip(near_lines.tolist(), shapely.buffer(loose[near_lines], buffer_m, quad_segs=quad_segs)))
        for h in np.unique(hole_i).tolist():
            near_bands = [band_of[i] for i in line_i[hole_i == h].tolist()]
            per_face[h] = shapely.difference(
                per_face[h], near_bands[0] if len(near_bands) == 1 else shapely.union_all(near_bands)
            )
    out = shapely.get_parts(per_face)
    return out[~shapely.is_empty(out)]


def _spatial_order(sources: Snapped, cell_m: float = 2000.0) -> np.ndarray:
    """The reachable sources in strips of ``cell_m``, west to east within each: neighbours
    follow each other, so the blocks they share are still in :class:`FaceHoles`."""
    ok = np.flatnonzero(sources.reachable)
    xy = sources.xy[ok]
    return ok[np.lexsort((xy[:, 0], np.floor(xy[:, 1] / cell_m)))]


def street_band(
    lines: shapely.Geometry,
    buffer_m: float = DEFAULT_BUFFER_M,
    quad_segs: int = 3,
    *,
    blocks: bool = False,
    holes: FaceHoles | None = None,
) -> shapely.Geometry:
    """The band of ``buffer_m`` metres around reached streets: a service-area polygon.

    The same polygon as ``shapely.buffer(lines, buffer_m)``, built faster in
    one of two ways:

    * by default, each run of lines (merged where they meet end to end) is
      buffered on its own and the bands are unioned (3x faster on the real
      Futian network than one buffer of the whole MultiLineString);
    * with ``blocks=True``, from the blocks the lines enclose, which avoids
      overlaying hundreds of overlapping bands (2x faster for a 1000 m area of
      a dense grid).  The blocks (``shapely.polygonize``: the lines must meet
      end to end at junctions, as :func:`service_area_lines` gives them) are
      joined as a coverage, and their union is buffered together with the
      loose lines outside them (dead ends, pieces cut at the area's edge).
      Inside a block, a point is in the band exactly when it is within
      ``buffer_m`` of the block's boundary or of a loose line in the block;
      what is not (the block shrunk by ``buffer_m``, less the bands of those
      loose lines) becomes a hole.  If the lines enclose no block, or cross
      without meeting (a bridge over a street) so that the blocks do not tile,
      the first way is used.

    Parameters
    ----------
    lines
        A (Multi)LineString of reached street pieces (metric CRS).
    buffer_m
        Half-width of the band in metres.
    quad_segs
        Segments per quarter circle of the round joins and ends (the holes'
        rounded corners use more, so that they never cut into the band).
    blocks
        Build the band from the enclosed blocks.
    holes
        Blocks' holes already drawn (by other areas of the same run), reused
        for the same blocks.
    """
    if lines.is_empty:
        return shapely.Polygon()
    found = street_blocks(shapely.get_parts(lines)) if blocks else None
    if found is None:
        return _union_of_runs(lines, buffer_m, quad_segs)
    faces, union, loose = found
    outside = ~shapely.covered_by(loose, union) if loose.size else np.zeros(0, dtype=bool)
    band = shapely.buffer(
        shapely.geometrycollections(np.concatenate([[union], loose[outside]])), buffer_m, quad_segs=quad_segs
    )
    return _with_holes(band, _block_holes(faces, loose, buffer_m, quad_segs, holes))


#: The holes' rounded corners (at a block's reflex corners) are drawn this finely.
HOLE_QUAD_SEGS = 16


def street_blocks(parts: np.ndarray) -> tuple[np.ndarray, shapely.Geometry, np.ndarray] | None:
    """The blocks enclosed by ``parts``, their union and the loose lines (merged runs), or None.

    ``polygonize`` trusts its lines to meet only at their ends.  Streets that
    cross without a junction (a bridge) or touch mid-line break that: the
    blocks overlap, or some lines end up in no output at all.  Both are checked
    (the union, and the lengths), and the lines are then split where they meet
    (``shapely.node``) and polygonized again.
    """
    for _ in range(2):
        faces, loose = _polygonize(parts)
        if not faces.size:
            return None
        union = _coverage_union(faces)
        if union is not None and _accounts_for(parts, faces, union, loose):
            return faces, union, loose
        parts = shapely.get_parts(shapely.node(shapely.multilinestrings(parts)))
    return None


def _accounts_for(parts: np.ndarray, faces: np.ndarray, union: shapely.Geometry, loose: np.ndarray) -> bool:
    """Whether the blocks' boundaries and the loose lines add up to all the lines' length."""
    total = float(shapely.length(parts).sum())
    on_blocks = (float(shapely.length(faces).sum()) + union.length) / 2  # inner boundaries count twice
    return abs(total - on_blocks - float(shapely.length(loose).sum())) <= 1e-6 * total + 0.01


def _polygonize(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces enclosed by the lines, and the lines on no face's boundary merged into runs."""
    faces, cuts, dangles, invalid = shapely.polygonize_full(parts)
    faces = shapely.get_parts(faces)
    loose = shapely.get_parts(np.array([cuts, dangles, invalid], dtype=object))
    if loose.size:
        loose = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(loose)))
    return faces, loose


def _coverage_union(faces: np.ndarray) -> shapely.Geometry | None:
    """The union of faces that do not overlap, else None.

    ``coverage_union_all`` assumes they do not: overlapping faces give an
    error, an invalid union, or one whose area is not the faces' total.
    """
    try:
        union = shapely.coverage_union_all(faces)
    except GEOSException:
        return None
    if not shapely.is_valid(union) or abs(shapely.area(faces).sum() - union.area) > 1e-9 * union.area:
        return None
    return union


def _union_of_runs(lines: shapely.Geometry, buffer_m: float, quad_segs: int) -> shapely.Geometry:
    """Buffer each run of lines (merged where they meet end to end) and union the bands."""
    runs = shapely.get_parts(shapely.line_merge(lines))
    return shapely.union_all(shapely.buffer(runs, buffer_m, quad_segs=quad_segs))


class FaceHoles:
    """The holes of blocks (each block shrunk by the band's width), kept for reuse.

    Neighbouring facilities, and the tiers of one facility, enclose many of the
    same blocks; each block's hole is drawn once.  A block is known by its
    centroid (to the centimetre), area and number of vertices, or by its face id
    (:meth:`of_faces`, the way of :func:`faces_band`: arrays indexed by face, with
    each hole's bounds).  At most ``limit`` blocks are kept (beyond it the oldest
    half of the centroid-keyed ones is dropped, and the face-indexed ones start
    afresh), so the sources are best visited in spatial order.
    """

    def __init__(self, buffer_m: float, limit: int = 60_000) -> None:
        self.buffer_m = buffer_m
        self.limit = limit
        self._holes: dict = {}
        self._by_id = np.empty(0, dtype=object)
        self._bounds = np.empty((0, 4))
        self._have = np.empty(0, dtype=bool)
        self._n_by_id = 0

    def __call__(self, faces: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        """The hole of each face (an empty polygon for a face too narrow for one); ``ids``
        (those of :class:`geo.street_faces.StreetFaces`) name the faces when given."""
        keys: list = ids.tolist() if ids is not None else self._keys(faces)
        found = [self._holes.get(k) for k in keys]
        got = np.array(found, dtype=object)
        new = np.array([i for i, g in enumerate(found) if g is None], dtype=np.int64)
        if new.size:
            got[new] = _face_holes(faces[new], self.buffer_m)
            if len(self._holes) + new.size > self.limit:
                for k in list(self._holes)[: len(self._holes) // 2]:
                    del self._holes[k]
            self._holes.update(zip((keys[i] for i in new.tolist()), got[new].tolist()))
        return got

    def of_faces(self, ids: np.ndarray, polys: np.ndarray, n_faces: int) -> tuple[np.ndarray, np.ndarray]:
        """The holes of faces ``ids`` (of :class:`geo.street_faces.StreetFaces`, with ``n_faces``
        faces; ``polys`` their polygons) and the holes' bounds (NaN for none), kept by face id:
        a look-up in arrays, the holes not drawn before drawn together."""
        if self._by_id.size != n_faces or self._n_by_id > self.limit:  # beyond the limit: start afresh
            self._by_id = np.full(n_faces, None, dtype=object)
            self._bounds = np.full((n_faces, 4), np.nan)
            self._have = np.zeros(n_faces, dtype=bool)
            self._n_by_id = 0
        new = ~self._have[ids]
        if new.any():
            made = _face_holes(polys[new], self.buffer_m)
            self._by_id[ids[new]] = made
            self._bounds[ids[new]] = shapely.bounds(made)
            self._have[ids[new]] = True
            self._n_by_id += int(new.sum())
        return self._by_id[ids], self._bounds[ids]

    @staticmethod
    def _keys(faces: np.ndarray) -> list:
        xy = np.round(shapely.get_coordinates(shapely.centroid(faces)), 2)
        area = np.round(shapely.area(faces), 1).tolist()
        return list(zip(xy[:, 0].tolist(), xy[:, 1].tolist(), area, shapely.get_num_coordinates(faces).tolist()))


def _face_holes(faces: np.ndarray, buffer_m: float) -> np.ndarray:
    """Each face shrunk by ``buffer_m`` (convex ones without a GEOS buffer), one geometry per face."""
    out, convex = inset_convex(faces, buffer_m)
    holes = np.empty(faces.size, dtype=object)
    holes[convex] = out
    holes[~convex] = shapely.buffer(faces[~convex], -buffer_m, quad_segs=HOLE_QUAD_SEGS)
    return holes


def _block_holes(
    faces: np.ndarray, loose: np.ndarray, buffer_m: float, quad_segs: int, cache: FaceHoles | None = None
) -> np.ndarray:
    """The parts of the blocks farther than ``buffer_m`` from every line: negative buffers
    of the blocks, less the bands of loose lines within reach of them."""
    per_face = cache(faces) if cache is not None and cache.buffer_m == buffer_m else _face_holes(faces, buffer_m)
    return _holes_clear_of(per_face, shapely.bounds(per_face), loose, buffer_m, quad_segs)


def inset_convex(polygons: np.ndarray, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """Shrink convex polygons by ``distance``: the same as ``shapely.buffer(p, -distance)``.

    A convex polygon shrinks to the polygon of its edges each moved inwards by
    ``distance``, corner by corner (the moved edges' intersections), while every
    edge keeps a positive length.  This computes that for all polygons at once.

    Parameters
    ----------
    polygons
        Polygons without holes.
    distance
        Inset in the polygons' units, > 0.

    Returns
    -------
    shrunk, done
        The shrunk polygons of those it could shrink this way (``done``); the
        others (not convex, with holes, or losing an edge) are left to a
        negative buffer.

    Examples
    --------
    >>> shrunk, done = inset_convex(np.array([shapely.box(0, 0, 10, 4), shapely.box(0, 0, 1.5, 1.5)]), 1.0)
    >>> done.tolist(), shrunk[0].equals(shapely.box(1, 1, 9, 3))
    ([True, False], True)
    """
    n = len(polygons)
    if n == 0:
        return np.empty(0, dtype=object), np.zeros(0, dtype=bool)
    xy, ring = shapely.get_coordinates(shapely.get_exterior_ring(polygons), return_index=True)
    size = np.bincount(ring, minlength=n)
    last = np.cumsum(size) - 1
    keep = np.ones(xy.shape[0], dtype=bool)
    keep[last[size > 0]] = False  # rings repeat their first vertex at the end
    p, g = xy[keep], ring[keep]
    kept = np.maximum(size - 1, 0)
    m = np.maximum(kept, 1)
    first = np.repeat(np.cumsum(kept) - kept, kept)
    at = np.arange(p.shape[0]) - first
    nxt = first + (at + 1) % m[g]
    prv = first + (at - 1) % m[g]
    edge = p[nxt] - p
    length = np.hypot(edge[:, 0], edge[:, 1])
    twice_area = np.bincount(g, weights=p[:, 0] * p[nxt, 1] - p[nxt, 0] * p[:, 1], minlength=n)
    turn = np.sign(twice_area)[g]  # +1 anticlockwise: the inside is on the left
    with np.errstate(invalid="ignore", divide="ignore"):
        normal = turn[:, None] * np.column_stack([-edge[:, 1], edge[:, 0]]) / length[:, None]
        before, n_before = edge[prv], normal[prv]
        cross = turn * (before[:, 0] * edge[:, 1] - before[:, 1] * edge[:, 0])
        corner = p + distance * (n_before + normal) / (1.0 + (n_before * normal).sum(axis=1))[:, None]
        moved = corner[nxt] - corner
        ok = (length > 1e-9) & (cross >= -1e-9 * length * length[prv]) & ((moved * edge).sum(axis=1) > 1e-9)
        ok &= np.isfinite(corner).all(axis=1)
    done = np.bincount(g, weights=~ok, minlength=n) == 0
    done &= (size >= 4) & (shapely.get_num_interior_rings(polygons) == 0)
    take = done[g]
    rings = shapely.linearrings(corner[take], indices=(np.cumsum(done) - 1)[g[take]])
    return shapely.polygons(rings), done


def _with_holes(band: shapely.Geometry, holes: np.ndarray) -> shapely.Geometry:
    """``band`` with ``holes`` cut out.  The holes lie strictly inside it and apart from
    each other, so one polygon takes them as extra interior rings with no overlay."""
    if not holes.size:
        return band
    if band.geom_type == "Polygon" and not shapely.get_num_interior_rings(holes).any():
        rings = shapely.get_rings(band)
        return shapely.polygons(rings[0], np.concatenate([rings[1:], shapely.get_exterior_ring(holes)]))
    return shapely.difference(band, shapely.multipolygons(holes))


# ------------------------------------------------------ GeoDataFrame wrapper
_WORKER_STATE: dict = {}


def _areas_chunk(chunk: np.ndarray) -> list[tuple[int, float, float, bytes]]:
    """Worker: service areas of some sources, in WGS84 as WKB (runs in a forked process)."""
    st = _WORKER_STATE
    rows = _lonlat_rows(
        st["net"],
        service_areas(
            st["net"],
            st["sources"].subset(chunk),
            st["xy"][chunk],
            st["tiers"],
            buffer_m=st["buffer_m"],
            quad_segs=st["quad_segs"],
            faces=st["faces"],
            holes=st.setdefault("holes", FaceHoles(st["buffer_m"])),  # kept by this process across its chunks
        ),
    )
    return [(int(chunk[i]), t, a, shapely.to_wkb(g)) for i, t, a, g in rows]


def _lonlat_rows(
    net: WalkNetwork, rows: list[tuple[int, float, shapely.Geometry]]
) -> list[tuple[int, float, float, shapely.Geometry]]:
    """(source, tier, metric polygon) rows as (source, tier, area in m2, WGS84 polygon): one
    projection call for all of them, done where the polygons are made."""
    if not rows:
        return []
    metric = np.array([g for _, _, g in rows], dtype=object)
    areas = np.round(shapely.area(metric), 1)
    lonlat = shapely.transform(metric, net.to_lonlat)
    return [(i, t, float(a), g) for (i, t, _), a, g in zip(rows, areas, lonlat)]


def _parallel_areas(net, sources, xy, tiers, buffer_m, quad_segs, workers, progress):
    """Split the sources over forked worker processes (the network is shared copy-on-write)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ok = _spatial_order(sources)  # neighbours in one chunk share their blocks' holes
    # small chunks keep both processes busy to the end
    chunks = [c for c in np.array_split(ok, max(workers * 4, ok.size // 20, 1)) if c.size]
    _ = (
        net.csr,
        net.node_tree,
        net.strokes,
        net.incidence,
        net.edge_geom_length,
        net.geom_cum,
        net.faces,
    )  # build once (or read from the network file), share by fork
    _WORKER_STATE.update(
        net=net, sources=sources, xy=xy, tiers=tiers, buffer_m=buffer_m, quad_segs=quad_segs, faces=net.faces
    )
    out: list[tuple[int, float, float, shapely.Geometry]] = []
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            done = 0
            for rows in pool.map(_areas_chunk, chunks):
                out.extend((i, t, a, shapely.from_wkb(g)) for i, t, a, g in rows)
                done += len(rows) // max(len(tiers), 1)
                if progress:
                    progress(done, ok.size)
    finally:
        _WORKER_STATE.clear()
    return out


def facility_service_areas(
    net: WalkNetwork,
    facilities,
    tiers: float | str | Sequence[float | str],
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    quad_segs: int = 3,
    snap_limit_m: float | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
):
    """Service-area polygons of every facility and tier, as a WGS84 GeoDataFrame.

    Parameters
    ----------
    net
        The walking network.
    facilities
        WGS84 GeoDataFrame of points with ``id`` (and optionally ``kind``, ``name``).
    tiers
        Walking distances: metres, a single number, or anything
        :func:`geo.standards.parse_tiers` reads (``"5min,15min"``).
    buffer_m
        Half-width of the band around reached streets (25 m by default, at most 50 m).
    quad_segs
        Segments per quarter circle of the buffer's rounded ends.
    snap_limit_m
        Facilities farther than this from the network get no polygon.
    workers
        Processes to use (default: all cores when there are many facilities).
    progress
        Called with (done, total).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per reachable facility and tier: ``facility_id``, ``kind``,
        ``name``, ``tier_m``, ``area_m2``, geometry.  Its ``attrs["unreachable"]``
        lists the ids of facilities too far from the network.
    """
    import os

    import geopandas as gpd

    from .network import DEFAULT_SNAP_LIMIT_M, snap_xy

    xy = shapely.get_coordinates(facilities.geometry.to_crs(net.crs).values)
    sources = snap_xy(net, xy, limit_m=snap_limit_m or DEFAULT_SNAP_LIMIT_M)
    metres = list(parse_tiers(tiers))
    n_ok = int(sources.reachable.sum())
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if n_ok >= 200 else 1
    if workers > 1:
        rows = _parallel_areas(net, sources, xy, metres, buffer_m, quad_segs, workers, progress)
    else:
        rows = _lonlat_rows(
            net, service_areas(net, sources, xy, metres, buffer_m=buffer_m, quad_segs=quad_segs, progress=progress)
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    idx = np.array([r[0] for r in rows], dtype=np.int64)
    ids = facilities["id"].astype(str).to_numpy()
    kinds = facilities["kind"].astype(str).to_numpy() if "kind" in facilities else np.full(len(facilities), "")
    names = facilities["name"].astype(str).to_numpy() if "name" in facilities else np.full(len(facilities), "")
    frame = gpd.GeoDataFrame(
        {
            "facility_id": ids[idx] if idx.size else [],
            "kind": kinds[idx] if idx.size else [],
            "name": names[idx] if idx.size else [],
            "tier_m": [r[1] for r in rows],
            "area_m2": [r[2] for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs="EPSG:4326",
    )
    frame.attrs["unreachable"] = ids[~sources.reachable].tolist()
    return frame
