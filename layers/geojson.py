"""Compact GeoJSON text for the browser map.

The map receives its layers as GeoJSON strings: WGS84 by default, or shifted
to GCJ-02 (:mod:`geo.crs`) so that they sit on Amap's streets.  Coordinates are
rounded to 6 decimals (about 10 cm) and street lines are simplified, which
keeps a district's base layer small enough for every browser session.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle.geo import crs as gcrs
from lifecircle.geo.network import WalkNetwork

__all__ = [
    "PRECISION",
    "MAJOR_HIGHWAY",
    "MAP_CRS",
    "check_crs",
    "to_map_crs",
    "point_to_map",
    "point_from_map",
    "feature_collection",
    "frame_collection",
    "streets_layer",
    "metric_to_wgs84",
    "fill_small_holes",
]

#: Decimal places of map coordinates (1e-6 degree is about 0.1 m).
PRECISION = 6
#: Streets drawn thicker in the base layer.
MAJOR_HIGHWAY = frozenset(
    {"trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link", "tertiary", "tertiary_link"}
)
MAP_CRS = ("wgs84", "gcj02")


def check_crs(crs: str) -> str:
    """Return ``crs`` if the map can draw in it ("wgs84" or "gcj02"), else raise ValueError."""
    if crs not in MAP_CRS:
        raise ValueError(f"map coordinates must be one of {MAP_CRS}, not {crs!r}")
    return crs


def to_map_crs(geoms: np.ndarray, crs: str) -> np.ndarray:
    """Return WGS84 shapely geometries in the map's coordinates ("wgs84" or "gcj02")."""
    check_crs(crs)
    geoms = np.asarray(geoms, dtype=object)
    if crs == "wgs84" or geoms.size == 0:
        return geoms

    def shift(xy: np.ndarray) -> np.ndarray:
        lon, lat = gcrs.wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, shift)


def point_to_map(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Return a WGS84 point in the map's coordinates."""
    check_crs(crs)
    return (lon, lat) if crs == "wgs84" else gcrs.wgs84_to_gcj02(lon, lat)


def point_from_map(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Return a point clicked on the map (in its coordinates) in WGS84."""
    check_crs(crs)
    return (float(lon), float(lat)) if crs == "wgs84" else gcrs.gcj02_to_wgs84(float(lon), float(lat))


def _geometry_strings(geoms: np.ndarray, crs: str, precision: int) -> np.ndarray:
    geoms = to_map_crs(geoms, crs)
    if geoms.size == 0:
        return np.empty(0, dtype=object)
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, precision))
    out = shapely.to_geojson(rounded)
    return np.where(pd.isna(out), "null", out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def feature_collection(
    geoms: Iterable,
    properties: Sequence[dict] | None = None,
    *,
    crs: str = "wgs84",
    precision: int = PRECISION,
) -> str:
    """Return a GeoJSON FeatureCollection as text.

    Parameters
    ----------
    geoms
        WGS84 shapely geometries.
    properties
        One dict of plain values per geometry (NaN and inf become null).
    crs
        "wgs84", or "gcj02" to shift the coordinates for Amap tiles.
    precision
        Decimal places of coordinates.

    Returns
    -------
    str
        Compact JSON text.
    """
    arr = np.asarray(list(geoms) if not isinstance(geoms, np.ndarray) else geoms, dtype=object)
    props = properties if properties is not None else [{}] * arr.size
    if len(props) != arr.size:
        raise ValueError(f"{arr.size} geometries but {len(props)} property rows")
    gj = _geometry_strings(arr, crs, precision)
    feats = [
        '{"type":"Feature","properties":'
        + json.dumps({k: _jsonable(v) for k, v in p.items()}, ensure_ascii=False, separators=(",", ":"))
        + ',"geometry":'
        + g
        + "}"
        for p, g in zip(props, gj)
    ]
    return '{"type":"FeatureCollection","features":[' + ",".join(feats) + "]}"


def frame_collection(
    gdf: gpd.GeoDataFrame, columns: Sequence[str], *, crs: str = "wgs84", rename: dict | None = None
) -> str:
    """Return the rows of a WGS84 GeoDataFrame as a FeatureCollection with some columns.

    Parameters
    ----------
    gdf
        The layer (reprojected to WGS84 when in another CRS).
    columns
        Columns to keep as properties (missing ones are skipped).
    crs
        Map coordinates, "wgs84" or "gcj02".
    rename
        Property names to use instead of column names.
    """
    layer = gdf if gdf.crs is None or gdf.crs.to_epsg() == 4326 else gdf.to_crs("EPSG:4326")
    cols = [c for c in columns if c in layer.columns]
    rename = rename or {}
    records = pd.DataFrame(layer[cols]).to_dict("records") if len(layer) else []
    props = [{rename.get(k, k): v for k, v in r.items()} for r in records]
    return feature_collection(np.asarray(layer.geometry.values, dtype=object), props, crs=crs)


def streets_layer(net: WalkNetwork, *, crs: str = "wgs84", tolerance_m: float | None = None) -> str:
    """Return the network's streets as a light base layer (simplified lines).

    Parameters
    ----------
    net
        The walking network.
    crs
        Map coordinates, "wgs84" or "gcj02".
    tolerance_m
        Simplification tolerance in metres; by default 1 m, more on big networks.

    Returns
    -------
    str
        FeatureCollection of one MultiLineString per street class
        (property ``major``: 1 for arterials, 0 for the rest).
    """
    if tolerance_m is None:
        tolerance_m = 1.0 if net.n_edges < 20_000 else 4.0 if net.n_edges < 100_000 else 8.0
    lines = shapely.simplify(net.edge_lines, tolerance_m, preserve_topology=False)
    major = np.isin(net.edge_highway.astype(str), list(MAJOR_HIGHWAY))
    geoms, props = [], []
    for flag in (0, 1):
        sel = lines[major == bool(flag)]
        if sel.size == 0:
            continue
        merged = shapely.multilinestrings(sel)
        geoms.append(_to_lonlat(net, merged))
        props.append({"major": flag})
    return feature_collection(np.asarray(geoms, dtype=object), props, crs=crs, precision=6)


def _to_lonlat(net: WalkNetwork, geom):
    """Project a metric geometry of the network to WGS84."""
    return shapely.transform(geom, lambda xy: net.to_lonlat(xy))


def metric_to_wgs84(net: WalkNetwork, geoms: np.ndarray) -> np.ndarray:
    """Project metric geometries of the network's CRS to WGS84 (vectorised)."""
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size == 0:
        return geoms
    return shapely.transform(geoms, lambda xy: net.to_lonlat(xy))


def fill_small_holes(geoms: np.ndarray, max_hole_m2: float) -> np.ndarray:
    """Fill interior rings smaller than ``max_hole_m2`` (WGS84 polygons, areas taken locally).

    A walking service area is a band along the reached streets; the small
    blocks it surrounds are served from those streets, so the map draws them
    filled.  Exports keep the exact polygons.
    """
    geoms = np.asarray(geoms, dtype=object)
    return np.array([_fill_one(g, max_hole_m2) for g in geoms], dtype=object)


def _fill_one(geom, max_hole_m2: float):
    if geom is None or geom.is_empty or shapely.get_type_id(geom) not in (3, 6):
        return geom
    lat = float(shapely.get_coordinates(geom)[:, 1].mean())
    m2_per_deg2 = 111_320.0**2 * np.cos(np.radians(lat))
    parts = []
    for poly in shapely.get_parts(geom):
        keep = [r for r in poly.interiors if shapely.Polygon(r).area * m2_per_deg2 >= max_hole_m2]
        parts.append(shapely.Polygon(poly.exterior, keep))
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


#: The little-endian dtypes of the map script's packed arrays, by their text's prefix.
PACKED_DTYPES = {"u8": "<u1", "u16": "<u2", "u32": "<u4"}


def packed_array(values: np.ndarray, code: str) -> str:
    """``"b64<code>:"`` and ``values`` as little-endian unsigned integers in base64 (``code`` u8, u16 or u32).

    The one packing the map's script decodes (``leaflet_map.js``): a city's per-resident arrays go
    to the browser without a JSON number per resident.
    """
    data = np.asarray(values).astype(PACKED_DTYPES[code], copy=False).ravel().tobytes()
    return f"b64{code}:" + base64.b64encode(data).decode("ascii")
