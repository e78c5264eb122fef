"""Candidate sites and existing stations: which facilities are stations, the study area, a grid of candidates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from .. import reach
from ..errors import SitingError
from ..network import Snapped, WalkNetwork
from ..settings import DEFAULT_CANDIDATE_MIN_DISTANCE_M

__all__ = ["STATION_KINDS", "grid_candidates", "station_frame", "study_area"]

#: Facility kinds that count as existing stations by default.
STATION_KINDS: tuple[str, ...] = ("party_center", "micro_station")


def station_frame(facilities, kinds: Sequence[str] | None = STATION_KINDS):
    """The facilities that count as existing stations: those of ``kinds`` when there is a kind column."""
    if kinds is None or "kind" not in facilities.columns or len(facilities) == 0:
        return facilities
    return facilities[facilities["kind"].astype(str).isin(list(kinds))]


def study_area(net: WalkNetwork, area) -> shapely.Geometry:
    """The study area in the network's CRS.

    Parameters
    ----------
    net
        The network.
    area
        A WGS84 GeoDataFrame / GeoSeries (points: their convex hull;
        polygons: their union) or a shapely geometry in WGS84.
    """
    if isinstance(area, shapely.Geometry):
        import geopandas as gpd

        area = gpd.GeoSeries([area], crs="EPSG:4326")
    geoms = np.asarray((area.geometry if hasattr(area, "geometry") else area).to_crs(net.crs).values)
    geoms = geoms[~shapely.is_empty(geoms)]
    if geoms.size == 0:
        raise SitingError("the study area is empty")
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    if polygonal.any():
        return shapely.union_all(geoms[polygonal])
    return shapely.convex_hull(shapely.multipoints(shapely.get_coordinates(geoms)))


def grid_candidates(
    net: WalkNetwork,
    area,
    spacing_m: float,
    *,
    stations: Snapped | None = None,
    min_distance_m: float = DEFAULT_CANDIDATE_MIN_DISTANCE_M,
    prefix: str = "G",
):
    """Candidate sites: network nodes nearest to a square grid inside the study area.

    Parameters
    ----------
    net
        The walking network.
    area
        The study area (see :func:`study_area`): e.g. the demand (its convex
        hull) or boundary polygons.
    spacing_m
        Grid spacing in metres.
    stations
        Snapped existing stations: nodes within ``min_distance_m`` of network
        walk from one are left out.
    min_distance_m
        See ``stations``.
    prefix
        Id prefix (ids are ``G0001``...).

    Returns
    -------
    geopandas.GeoDataFrame
        WGS84 points with ``id``, ``name``, ``node``.
    """
    import geopandas as gpd

    if not spacing_m > 0:
        raise SitingError(f"the candidate spacing must be a positive number of metres, got {spacing_m}")
    poly = study_area(net, area)
    if shapely.get_type_id(poly) not in (3, 6):
        poly = shapely.buffer(poly, spacing_m / 2.0)
    minx, miny, maxx, maxy = shapely.bounds(poly)
    gx, gy = np.meshgrid(
        np.arange(minx + spacing_m / 2, maxx, spacing_m), np.arange(miny + spacing_m / 2, maxy, spacing_m)
    )
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    pts = pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]
    dist, nodes = net.node_tree.query(pts) if pts.size else (np.empty(0), np.empty(0, np.int64))
    nodes = np.asarray(nodes)[np.asarray(dist) <= spacing_m]
    _, first = np.unique(nodes, return_index=True)
    nodes = nodes[np.sort(first)]
    if stations is not None and stations.reachable.any() and min_distance_m > 0:
        near = reach.node_distances(net, stations, min_distance_m) <= min_distance_m
        nodes = nodes[~near[nodes]]
    ids = [f"{prefix}{i + 1:04d}" for i in range(nodes.size)]
    lonlat = net.node_lonlat[nodes]
    return gpd.GeoDataFrame(
        {"id": ids, "name": [f"网格候选点{i + 1:04d}" for i in range(nodes.size)], "node": nodes.astype(np.int64)},
        geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]) if nodes.size else [],
        crs="EPSG:4326",
    )


def _metric_xy(net: WalkNetwork, gdf) -> np.ndarray:
    if len(gdf) == 0:
        return np.empty((0, 2))
    return shapely.get_coordinates(gdf.geometry.to_crs(net.crs).values)


def _same_sites(stations, candidates, st_xy: np.ndarray, cand_xy: np.ndarray, within: float) -> np.ndarray:
    """Candidates that are existing stations: the same id, or within ``within`` metres of one."""
    from scipy.spatial import cKDTree

    same = np.zeros(len(candidates), bool)
    if "id" in stations.columns and "id" in candidates.columns and len(stations):
        same |= candidates["id"].astype(str).isin(set(stations["id"].astype(str))).to_numpy()
    if len(st_xy) and len(cand_xy):
        dist, _ = cKDTree(st_xy).query(cand_xy, distance_upper_bound=within * 1.000001)
        same |= dist <= within
    return same


def _weights_column(demand, weight_column: str | None) -> str:
    """The demand's weight column by geo.coverage's one rule (:func:`~..coverage.resolve_weights`).

    ``"weight"`` (the old default) or None picks weight/权重, population/人口,
    households/户数 in that order; ``"rows"`` counts rows; any other name must exist.
    """
    from ..coverage import resolve_weights

    return resolve_weights(demand, None if weight_column in (None, "weight") else weight_column)[1]
