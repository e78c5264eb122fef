"""Facilities as search sources: points join the network; polygons are reached where it touches them.

The touch rule (issue 11): a polygon facility (a park, a school ground) is reached wherever the
walking network touches it: every point of a walkable edge inside the polygon, or within
``touch_m`` metres of its boundary, is a source at distance 0.  Entrances given as points (a
point facility whose ``entrance_of`` names the polygon's id) replace that rule for their
polygon and carry its attributes (``area_m2`` ...).

Each selection of facilities (a kind, a kind meeting a condition) is one bounded multi-source
search (:func:`geo.reach.node_distances`), whatever the number of facilities or polygon pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import reach
from ..errors import InputError
from ..network import Snapped, WalkNetwork, snap_xy
from ..settings import DEFAULT_SNAP_LIMIT_M, DEFAULT_TOUCH_M

__all__ = ["FacilitySources", "prepare_facilities", "touch_pieces", "selection_distances", "ENTRANCE_COLUMN"]

#: Column of an entrance point naming the id of the polygon facility it opens into.
ENTRANCE_COLUMN = "entrance_of"


@dataclass
class FacilitySources:
    """Facilities ready for searches.

    Attributes
    ----------
    frame
        One row per facility (points and polygons; entrances folded into their polygon's row
        attributes): ``id``, ``kind``, ``area_m2`` and the input's other columns.
    point_fac, points
        Facility row of each point source (points and entrances) and the points joined to
        the network.
    piece_fac, piece_edge, piece_a, piece_b
        Facility row, edge and offsets (metres from the edge's u end) of each touched edge piece.
    unreachable
        Ids of facilities with no source on the network.
    """

    frame: pd.DataFrame
    point_fac: np.ndarray
    points: Snapped
    piece_fac: np.ndarray
    piece_edge: np.ndarray
    piece_a: np.ndarray
    piece_b: np.ndarray
    unreachable: list[str]

    @property
    def kinds(self) -> np.ndarray:
        """Kind key of each facility row."""
        return self.frame["kind"].astype(str).to_numpy()


def touch_pieces(net: WalkNetwork, polygons: np.ndarray, touch_m: float) -> tuple[np.ndarray, ...]:
    """Edge pieces inside each metric polygon or within ``touch_m`` of it.

    Returns
    -------
    poly, edge, a, b
        Polygon index, edge index and the piece's walking offsets from the edge's u end (a <= b).
    """
    if len(polygons) == 0 or net.n_edges == 0:
        e = np.empty(0, np.int64)
        return e, e, np.empty(0), np.empty(0)
    zones = shapely.buffer(np.asarray(polygons), touch_m) if touch_m > 0 else np.asarray(polygons)
    lines = net.edge_lines
    tree = shapely.STRtree(lines)
    poly_i, edge_i = tree.query(zones, predicate="intersects")
    if poly_i.size == 0:
        e = np.empty(0, np.int64)
        return e, e, np.empty(0), np.empty(0)
    inter = shapely.intersection(lines[edge_i], zones[poly_i])
    parts, which = shapely.get_parts(inter, return_index=True)
    keep = ~shapely.is_empty(parts)
    parts, which = parts[keep], which[keep]
    first = shapely.get_point(parts, 0)
    last = shapely.get_point(parts, -1)
    is_pt = shapely.get_type_id(parts) == 0
    first = np.where(is_pt, parts, first)
    last = np.where(is_pt, parts, last)
    e = edge_i[which]
    s0 = shapely.line_locate_point(lines[e], first)
    s1 = shapely.line_locate_point(lines[e], last)
    geom_len = net.edge_geom_length[e]
    scale = np.divide(net.edge_length[e], geom_len, out=np.ones_like(geom_len), where=geom_len > 0)
    a = np.clip(np.minimum(s0, s1) * scale, 0.0, net.edge_length[e])
    b = np.clip(np.maximum(s0, s1) * scale, 0.0, net.edge_length[e])
    return poly_i[which].astype(np.int64), e.astype(np.int64), a, b


def prepare_facilities(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame | list[gpd.GeoDataFrame],
    *,
    touch_m: float = DEFAULT_TOUCH_M,
    snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
) -> FacilitySources:
    """Join point facilities to the network and find where it touches polygon facilities.

    Parameters
    ----------
    net
        The network.
    facilities
        WGS84 GeoDataFrame (or a list of them) of Points and (Multi)Polygons with ``kind``
        (and ``id``; generated when absent). Polygons get ``area_m2`` (metric area) when they
        have none. A point with ``entrance_of`` = a polygon's id is that polygon's entrance.
    touch_m
        Touch distance of the rule above.
    snap_limit_m
        Points farther from every walkable edge are unreachable.
    """
    frames = facilities if isinstance(facilities, (list, tuple)) else [facilities]
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        empty = pd.DataFrame(
            {"id": pd.Series(dtype=str), "kind": pd.Series(dtype=str), "area_m2": pd.Series(dtype=float)}
        )
        e = np.empty(0, np.int64)
        return FacilitySources(empty, e, snap_xy(net, np.empty((0, 2))), e, e, np.empty(0), np.empty(0), [])
    parts = []
    for i, f in enumerate(frames):
        f = f.to_crs("EPSG:4326") if f.crs is not None else f.set_crs("EPSG:4326")
        f = f.reset_index(drop=True)
        if "id" not in f:
            f = f.assign(id=[f"F{i + 1}_{j + 1}" for j in range(len(f))])
        if "kind" not in f:
            raise InputError(f.attrs.get("source_file", "facilities"), "has no kind column (类型)")
        parts.append(f)
    gdf = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    gdf["id"] = gdf["id"].astype(str)
    geoms = np.asarray(gdf.geometry.to_crs(net.crs).values)
    types = shapely.get_type_id(geoms)
    is_poly = np.isin(types, (3, 6))
    is_point = types == 0
    bad = np.flatnonzero(~(is_poly | is_point))
    if bad.size:
        raise InputError(
            "facilities",
            f"facility {gdf['id'].iloc[bad[0]]}: geometry must be a point or a polygon",
            row=int(bad[0]) + 1,
            row_label="feature",
        )
    area = shapely.area(geoms)
    if "area_m2" in gdf:
        given = pd.to_numeric(gdf["area_m2"], errors="coerce").to_numpy(dtype=float)
        gdf["area_m2"] = np.where(np.isnan(given) & is_poly, area, given)
    else:
        gdf["area_m2"] = np.where(is_poly, area, np.nan)
    # entrances: points that open into a polygon take its kind and attributes, and replace its touch rule
    parent = np.full(len(gdf), -1, dtype=np.int64)
    if ENTRANCE_COLUMN in gdf:
        ref = gdf[ENTRANCE_COLUMN]
        poly_ids = {fid: j for j, fid in enumerate(gdf["id"]) if is_poly[j]}
        for j in np.flatnonzero(is_point & ref.notna().to_numpy()):
            key = str(ref.iloc[j]).strip()
            if not key or key.lower() == "nan":
                continue
            if key not in poly_ids:
                raise InputError(
                    "facilities",
                    f"entrance {gdf['id'].iloc[j]} names polygon {key!r}, which is not among the facilities",
                    row=int(j) + 1,
                    column=ENTRANCE_COLUMN,
                    row_label="feature",
                )
            parent[j] = poly_ids[key]
    has_entrance = np.zeros(len(gdf), bool)
    has_entrance[parent[parent >= 0]] = True
    # facility rows = every non-entrance feature; an entrance is a source of its parent's row
    row_of = np.where(parent >= 0, parent, np.arange(len(gdf)))
    keep = parent < 0
    new_index = -np.ones(len(gdf), np.int64)
    new_index[keep] = np.arange(keep.sum())
    frame = pd.DataFrame(gdf.drop(columns="geometry")[keep]).reset_index(drop=True)
    frame["geometry_type"] = np.where(is_poly[keep], "polygon", "point")
    pt_rows = np.flatnonzero(is_point)
    xy = shapely.get_coordinates(geoms[pt_rows]) if pt_rows.size else np.empty((0, 2))
    snapped = snap_xy(net, xy, limit_m=snap_limit_m)
    point_fac = new_index[row_of[pt_rows]]
    poly_rows = np.flatnonzero(is_poly & ~has_entrance)
    pi, pe, pa, pb = touch_pieces(net, geoms[poly_rows], touch_m)
    piece_fac = new_index[poly_rows[pi]] if pi.size else np.empty(0, np.int64)
    reached = np.zeros(len(frame), bool)
    reached[point_fac[snapped.reachable]] = True
    reached[piece_fac] = True
    unreachable = frame["id"].astype(str).to_numpy()[~reached].tolist()
    return FacilitySources(frame, point_fac, snapped, piece_fac, pe, pa, pb, unreachable)


def selection_distances(
    net: WalkNetwork,
    src: FacilitySources,
    mask: np.ndarray,
    targets: Snapped,
    limit: float,
    *,
    local: bool = False,
) -> np.ndarray:
    """Distance from each target to the nearest selected facility, up to ``limit`` (else inf).

    One bounded multi-source search: the selected points and both ends of every selected
    polygon piece are sources; a target on a piece is at its snapping gap.  With ``local``
    the search runs on the subgraph within straight-line reach of the sources
    (:func:`reach.local_node_distances`: the same distances, at the cost of what it
    reaches), for a selection of one or a few facilities.
    """
    mask = np.asarray(mask, bool)
    pts = src.points.subset(mask[src.point_fac]) if len(src.points) else src.points
    sel = mask[src.piece_fac] if src.piece_fac.size else np.zeros(0, bool)
    e, a, b = src.piece_edge[sel], src.piece_a[sel], src.piece_b[sel]
    end_edge, end_offset = np.concatenate([e, e]), np.concatenate([a, b])
    end_xy = _edge_points(net, end_edge, end_offset) if local else np.full((2 * e.size, 2), np.nan)
    ends = Snapped(end_edge, end_offset, np.zeros(2 * e.size), end_xy)
    sources = Snapped.concat([pts, ends])
    if not sources.reachable.any():
        return np.full(len(targets), np.inf)
    search = reach.local_node_distances if local else reach.node_distances
    node_dist = search(net, sources, limit)
    out = reach.point_distances(net, node_dist, targets, sources=sources, limit=limit)
    if e.size:
        _inside_pieces(out, targets, e, a, b)
    return out


def _edge_points(net: WalkNetwork, edge: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Coordinates of the points ``offset`` metres of walk along each ``edge`` (network CRS)."""
    if edge.size == 0:
        return np.zeros((0, 2))
    length = net.edge_length[edge]
    fraction = np.divide(offset, length, out=np.zeros(edge.size), where=length > 0)
    points = shapely.line_interpolate_point(net.edge_lines[edge], np.clip(fraction, 0.0, 1.0), normalized=True)
    return shapely.get_coordinates(points).reshape(-1, 2)


def _inside_pieces(out: np.ndarray, targets: Snapped, e: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Targets joined inside a touched piece are at their snapping gap."""
    order = np.argsort(e, kind="stable")
    e, a, b = e[order], a[order], b[order]
    rep_t, rep_p = reach.same_edge_pairs(e, targets)
    if rep_t.size == 0:
        return
    off = targets.offset[rep_t]
    inside = (off >= a[rep_p] - 1e-9) & (off <= b[rep_p] + 1e-9)
    np.minimum.at(out, rep_t[inside], targets.gap[rep_t[inside]])
