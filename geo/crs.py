"""Coordinate systems: WGS84, GCJ-02, BD-09 and the local metric CRS.

Chinese web maps publish coordinates on two obfuscated datums:

* GCJ-02 ("Mars coordinates", 国测局坐标), used by Amap (高德) and Tencent;
* BD-09 (百度坐标), Baidu's further shift of GCJ-02.

Both are fixed formulas applied to WGS84 longitude/latitude.  The forward
direction (WGS84 -> GCJ-02 -> BD-09) is the published formula; the inverse
here is *exact*: it iterates the forward formula until it reproduces the input
to better than :data:`TOLERANCE_DEG` (1e-10 degrees, about 0.01 mm), instead of
the usual one-step approximation that is off by up to a few metres.

Points outside the rough box around China are passed through unchanged, as
the published formula does.  Coordinate names follow GIS order: ``lon`` first.

The vocabulary of coordinate systems accepted by :func:`parse_crs` is
``"wgs84"``, ``"gcj02"``, ``"bd09"`` and ``"EPSG:<code>"`` (any horizontal
CRS pyproj knows).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Union

import numpy as np
import pyproj
import shapely

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "Coords",
    "Pair",
    "Layer",
    "TOLERANCE_DEG",
    "MAX_ITERATIONS",
    "CHINA_BOX",
    "SHIFTED",
    "LABELS",
    "in_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "parse_crs",
    "is_lonlat",
    "to_wgs84_lonlat",
    "from_wgs84_lonlat",
    "geometry_to_wgs84",
    "geometry_from_wgs84",
    "local_metric_crs",
]

#: Scalars or array-likes of coordinates.
Coords = float | np.ndarray | Sequence[float]

#: A converted (lon, lat) pair: floats for scalar input, float64 arrays otherwise.
Pair = tuple[float | np.ndarray, float | np.ndarray]

#: A layer: GeoDataFrame or GeoSeries.
Layer = Union["gpd.GeoDataFrame", "gpd.GeoSeries"]

#: Iterative inverses stop when the forward transform matches to this (degrees).
TOLERANCE_DEG: float = 1e-10

#: Upper bound on inverse iterations (convergence takes 3-6 in practice).
MAX_ITERATIONS: int = 50

#: The rough box (W, S, E, N) outside which GCJ-02 / BD-09 leave points alone.
CHINA_BOX: tuple[float, float, float, float] = (72.004, 0.8293, 137.8347, 55.8271)

#: Names of the lon/lat systems that have no EPSG code.
SHIFTED = ("gcj02", "bd09")

#: Labels used in file metadata.
LABELS = {"wgs84": "WGS84", "gcj02": "GCJ-02", "bd09": "BD-09"}

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0

_CRS_ERROR = "unknown --crs value '{}': use wgs84, gcj02, bd09 or EPSG:<code>"
_ALIASES = {
    "wgs84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gcj02": "gcj02",
    "gcj": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",
}


# --------------------------------------------------------------------------
# array plumbing


def _arrays(lon: Coords, lat: Coords) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return writable float64 copies of ``lon``, ``lat`` and whether both were scalars."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64), scalar


def _result(x: np.ndarray, y: np.ndarray, scalar: bool) -> Pair:
    """Return floats for scalar input, arrays otherwise."""
    if scalar:
        return float(x), float(y)
    return x, y


def in_china(lon: Coords, lat: Coords) -> np.ndarray:
    """Return True where a point lies in the rough box the Chinese datums shift.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees (scalars or arrays).

    Returns
    -------
    numpy.ndarray of bool
        False for points outside :data:`CHINA_BOX` and for NaN.
    """
    x, y, _ = _arrays(lon, lat)
    w, s, e, n = CHINA_BOX
    return (x >= w) & (x <= e) & (y >= s) & (y <= n)


def _masked(raw: Callable, lon: Coords, lat: Coords) -> Pair:
    """Apply ``raw`` to points inside China, pass the others through."""
    x, y, scalar = _arrays(lon, lat)
    inside = in_china(x, y)
    if inside.any():
        x[inside], y[inside] = raw(x[inside], y[inside])
    return _result(x, y, scalar)


def _invert(forward: Callable, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x, y) == (lon, lat)`` by fixed-point iteration.

    The shifts are small and smooth (their Jacobian is within a few per cent
    of the identity), so ``p <- p - (forward(p) - target)`` contracts quickly.
    """
    x, y = lon.copy(), lat.copy()
    for _ in range(MAX_ITERATIONS):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x -= ex
        y -= ey
        if max(np.max(np.abs(ex), initial=0.0), np.max(np.abs(ey), initial=0.0)) < TOLERANCE_DEG:
            break
    return x, y


# --------------------------------------------------------------------------
# the published formulas


def _shift_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _shift_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _wgs_to_gcj_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 forward formula without the China box test."""
    dlat = _shift_lat(lon - 105.0, lat - 35.0)
    dlon = _shift_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return lon + dlon, lat + dlat


def _gcj_to_bd_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 forward formula (from GCJ-02) without the China box test."""
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


# --------------------------------------------------------------------------
# public conversions


def wgs84_to_gcj02(lon: Coords, lat: Coords) -> Pair:
    """Convert WGS84 longitude/latitude to GCJ-02 (Amap, Tencent).

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of the same (broadcastable) shape.

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, float64 arrays otherwise.
        Points outside China are returned unchanged.
    """
    return _masked(_wgs_to_gcj_raw, lon, lat)


def gcj02_to_wgs84(lon: Coords, lat: Coords) -> Pair:
    """Convert GCJ-02 longitude/latitude to WGS84 with an exact inverse.

    The forward formula is iterated until it reproduces the input to better
    than :data:`TOLERANCE_DEG` degrees.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; scalars or arrays.

    Returns
    -------
    tuple
        WGS84 ``(lon, lat)``, floats for scalar input, float64 arrays otherwise.
    """
    return _masked(lambda x, y: _invert(_wgs_to_gcj_raw, x, y), lon, lat)


def gcj02_to_bd09(lon: Coords, lat: Coords) -> Pair:
    """Convert GCJ-02 longitude/latitude to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; scalars or arrays.

    Returns
    -------
    tuple
        BD-09 ``(lon, lat)``; points outside China unchanged.
    """
    return _masked(_gcj_to_bd_raw, lon, lat)


def bd09_to_gcj02(lon: Coords, lat: Coords) -> Pair:
    """Convert BD-09 longitude/latitude to GCJ-02 with an exact inverse.

    Parameters
    ----------
    lon, lat
        BD-09 degrees; scalars or arrays.

    Returns
    -------
    tuple
        GCJ-02 ``(lon, lat)``; points outside China unchanged.
    """
    return _masked(lambda x, y: _invert(_gcj_to_bd_raw, x, y), lon, lat)


def wgs84_to_bd09(lon: Coords, lat: Coords) -> Pair:
    """Convert WGS84 longitude/latitude to BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS84 degrees; scalars or arrays.

    Returns
    -------
    tuple
        BD-09 ``(lon, lat)``.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Coords, lat: Coords) -> Pair:
    """Convert BD-09 longitude/latitude to WGS84 with exact inverses.

    Parameters
    ----------
    lon, lat
        BD-09 degrees; scalars or arrays.

    Returns
    -------
    tuple
        WGS84 ``(lon, lat)``.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# --------------------------------------------------------------------------
# the --crs vocabulary


@functools.lru_cache(maxsize=256)
def _horizontal_epsg(code: int) -> bool:
    """Return True if pyproj knows ``EPSG:code`` as a 2-D horizontal CRS."""
    try:
        crs = pyproj.CRS.from_epsg(code)
    except pyproj.exceptions.CRSError:
        return False
    return bool(crs.is_geographic or crs.is_projected)


def parse_crs(text: object) -> str:
    """Normalise a coordinate-system name from the command line or a project file.

    Parameters
    ----------
    text
        ``"wgs84"``, ``"WGS84"``, ``"EPSG:4326"``, ``"4326"`` -> ``"wgs84"``;
        ``"gcj02"``, ``"gcj-02"``, ``"GCJ02"`` -> ``"gcj02"``;
        ``"bd09"``, ``"bd-09"`` -> ``"bd09"``; ``"EPSG:<n>"`` for a horizontal
        CRS pyproj knows -> ``"EPSG:<n>"``.

    Returns
    -------
    str
        The canonical name.

    Raises
    ------
    ValueError
        For anything else, with a message listing the accepted values.
    """
    if not isinstance(text, (str, int)) or isinstance(text, bool):
        raise ValueError(_CRS_ERROR.format(text))
    key = re.sub(r"[\s_\-]", "", str(text)).lower()
    if key in _ALIASES:
        return _ALIASES[key]
    match = re.fullmatch(r"epsg:(\d{1,6})", key)
    if match:
        code = int(match.group(1))
        if code == 4326:
            return "wgs84"
        if _horizontal_epsg(code):
            return f"EPSG:{code}"
    raise ValueError(_CRS_ERROR.format(text))


def is_lonlat(crs: str) -> bool:
    """Return True if ``crs`` (parse_crs vocabulary) holds longitude/latitude degrees."""
    c = parse_crs(crs)
    return c in ("wgs84", *SHIFTED) or pyproj.CRS(c).is_geographic


@functools.lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def to_wgs84_lonlat(lon: Coords, lat: Coords, crs: str) -> Pair:
    """Convert coordinates in ``crs`` to WGS84 longitude/latitude.

    Parameters
    ----------
    lon, lat
        Coordinates in ``crs`` (x/easting first for projected systems).
    crs
        Any value :func:`parse_crs` accepts.

    Returns
    -------
    tuple
        WGS84 ``(lon, lat)``, floats for scalar input, float64 arrays otherwise.
    """
    c = parse_crs(crs)
    if c == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if c == "bd09":
        return bd09_to_wgs84(lon, lat)
    x, y, scalar = _arrays(lon, lat)
    if c != "wgs84":
        x, y = _transformer(c, "EPSG:4326").transform(x, y)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return _result(x, y, scalar)


def from_wgs84_lonlat(lon: Coords, lat: Coords, crs: str) -> Pair:
    """Convert WGS84 longitude/latitude to ``crs``.

    Parameters
    ----------
    lon, lat
        WGS84 degrees.
    crs
        Any value :func:`parse_crs` accepts.

    Returns
    -------
    tuple
        ``(x, y)`` in ``crs``, floats for scalar input, float64 arrays otherwise.
    """
    c = parse_crs(crs)
    if c == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if c == "bd09":
        return wgs84_to_bd09(lon, lat)
    x, y, scalar = _arrays(lon, lat)
    if c != "wgs84":
        x, y = _transformer("EPSG:4326", c).transform(x, y)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return _result(x, y, scalar)


# --------------------------------------------------------------------------
# geometries


def _coords_func(convert: Callable, crs: str) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a lon/lat converter as a ``shapely.transform`` function on (N, 2) arrays."""

    def func(xy: np.ndarray) -> np.ndarray:
        x, y = convert(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([x, y])

    return func


def _with_geometry(data: Layer, geoms: np.ndarray, crs: str, system: str) -> Layer:
    """Return a copy of ``data`` with its geometry replaced, labelled ``crs``."""
    import geopandas as gpd  # deferred: keeps the numeric functions light

    if isinstance(data, gpd.GeoSeries):
        out = gpd.GeoSeries(geoms, index=data.index, crs=crs, name=data.name)
    else:
        out = data.copy()
        out[data.geometry.name] = gpd.GeoSeries(geoms, index=data.index, crs=crs)
        out = out.set_crs(crs, allow_override=True)
    out.attrs["coordinate_system"] = system
    return out


def _as_lonlat(data: Layer) -> Layer:
    """Return ``data`` in longitude/latitude: reprojected if its CRS is projected."""
    if data.crs is not None and not data.crs.is_geographic:
        return data.to_crs("EPSG:4326")
    return data


def geometry_to_wgs84(data: Layer, crs: str | None = None) -> Layer:
    """Convert a layer's geometries to WGS84 (EPSG:4326).

    Parameters
    ----------
    data
        A GeoDataFrame or GeoSeries.
    crs
        The system its coordinates are in (:func:`parse_crs` vocabulary). For
        ``"gcj02"``/``"bd09"`` the coordinates are longitude/latitude on that
        datum; a layer whose own CRS is projected (e.g. Amap data in Web
        Mercator) is first unprojected to lon/lat. ``"wgs84"`` labels a layer
        without a CRS and reprojects one with a CRS. An ``EPSG`` code replaces
        the layer's own label. None uses ``data.attrs["coordinate_system"]``
        when present, otherwise the layer's own CRS.

    Returns
    -------
    GeoDataFrame or GeoSeries
        A copy in EPSG:4326 with ``attrs["coordinate_system"] = "WGS84"``.
    """
    if crs is None:
        crs = {"GCJ-02": "gcj02", "BD-09": "bd09"}.get(data.attrs.get("coordinate_system"))
    c = parse_crs(crs) if crs is not None else None
    if c in SHIFTED:
        src = _as_lonlat(data)
        geoms = shapely.transform(np.asarray(src.geometry.values), _coords_func(to_wgs84_lonlat, c))
        return _with_geometry(src, geoms, "EPSG:4326", "WGS84")
    if c is None:
        if data.crs is None:
            raise ValueError("the layer has no CRS: say which one its coordinates are in")
        out = data.to_crs("EPSG:4326")
    elif c == "wgs84":
        out = data.to_crs("EPSG:4326") if data.crs is not None else data.set_crs("EPSG:4326")
    else:
        out = data.set_crs(c, allow_override=True).to_crs("EPSG:4326")
    out = out.copy()
    out.attrs["coordinate_system"] = "WGS84"
    return out


def geometry_from_wgs84(data: Layer, crs: str) -> Layer:
    """Convert a WGS84 layer's geometries to ``crs``.

    Parameters
    ----------
    data
        A GeoDataFrame or GeoSeries in EPSG:4326 (one without a CRS is taken
        as WGS84; one in another CRS is reprojected to it first).
    crs
        The target (:func:`parse_crs` vocabulary).

    Returns
    -------
    GeoDataFrame or GeoSeries
        For ``"gcj02"``/``"bd09"``: shifted lon/lat, *labelled* EPSG:4326
        because these datums have no EPSG code, with
        ``attrs["coordinate_system"]`` set to ``"GCJ-02"``/``"BD-09"`` as the
        note. Otherwise reprojected with pyproj.
    """
    c = parse_crs(crs)
    src = data.set_crs("EPSG:4326") if data.crs is None else data.to_crs("EPSG:4326")
    if c in SHIFTED:
        geoms = shapely.transform(np.asarray(src.geometry.values), _coords_func(from_wgs84_lonlat, c))
        return _with_geometry(src, geoms, "EPSG:4326", LABELS[c])
    out = src.copy() if c == "wgs84" else src.to_crs(c)
    out.attrs["coordinate_system"] = "WGS84" if c == "wgs84" else c
    return out


# --------------------------------------------------------------------------
# metric CRS


def local_metric_crs(lon: Coords, lat: Coords) -> str:
    """Return the UTM zone of the points' centroid as an EPSG code.

    Parameters
    ----------
    lon, lat
        WGS84 degrees; NaN values are ignored.

    Returns
    -------
    str
        ``"EPSG:326nn"`` north of the equator, ``"EPSG:327nn"`` south of it
        (Shenzhen: ``"EPSG:32650"``).

    Raises
    ------
    ValueError
        When no finite coordinate pair is given.
    """
    x, y, _ = _arrays(lon, lat)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise ValueError("no finite coordinates to choose a metric CRS from")
    cx, cy = float(np.mean(x[ok])), float(np.mean(y[ok]))
    zone = int(np.clip(math.floor((cx + 180.0) / 6.0) + 1, 1, 60))
    return f"EPSG:{32600 + zone if cy >= 0 else 32700 + zone}"
