"""Cell-level checks of a read table: numbers, identifiers, kinds, coordinates and geometries.

Each raises :class:`~geo.errors.InputError` naming the file, the row as the planner sees it and
the column as it is spelled in the file."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .. import crs as _crs
from ..standards import KindRegistry
from .columns import WHAT, WHOLE_FIELDS, _names
from .tables import _empty, _more, _show, _Source

__all__: list[str] = []


# --------------------------------------------------------------------------
# cell validation


def _clean_number_text(s: pd.Series) -> pd.Series:
    """Strip spaces and thousands separators ("12,345") from text numbers."""
    text = s.astype(str).str.strip()
    grouped = text.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
    return text.where(~grouped, text.str.replace(",", "", regex=False))


def _numbers(src: _Source, df: pd.DataFrame, col: Any, what: str, *, required: bool) -> pd.Series:
    """Return a float column, raising on text that is not a number (or blanks if required)."""
    raw = df[col]
    if pd.api.types.is_bool_dtype(raw):
        raise src.error(f"holds true/false values, not numbers ({what})", row=raw.index[0], column=col)
    if pd.api.types.is_numeric_dtype(raw):
        values = raw.astype(np.float64)
    else:
        values = pd.to_numeric(_clean_number_text(raw), errors="coerce").astype(np.float64)
    empty = _empty(raw)
    bad = ~empty & ~np.isfinite(values)
    if bad.any():
        rows = raw.index[bad]
        raise src.error(
            f"value '{_show(raw[rows[0]])}' is not a number{_more(len(rows) - 1, src.row_label)}",
            row=rows[0],
            column=col,
        )
    if required and empty.any():
        rows = raw.index[empty]
        raise src.error(
            f"is empty: every {src.row_label} needs a {what}{_more(len(rows) - 1, src.row_label)}",
            row=rows[0],
            column=col,
        )
    return values.where(~empty)


def _check_values(src: _Source, values: pd.Series, raw: pd.Series, field: str, col: Any) -> None:
    """Reject negative values, and fractions where whole numbers are needed."""
    neg = values < 0
    if neg.any():
        row = values.index[neg][0]
        raise src.error(f"value '{_show(raw[row])}' is negative: {field} cannot be below 0", row=row, column=col)
    if field in WHOLE_FIELDS:
        frac = values.notna() & (values != np.floor(values.fillna(0.0)))
        if frac.any():
            row = values.index[frac][0]
            raise src.error(
                f"value '{_show(raw[row])}' is not a whole number ({field} counts {WHAT[field]})",
                row=row,
                column=col,
            )


def _numeric_field(src: _Source, df: pd.DataFrame, col: Any, field: str, required: bool) -> pd.Series:
    """Validate one numeric field; whole-number fields come back as int64 when complete."""
    values = _numbers(src, df, col, field, required=required)
    _check_values(src, values, df[col], field, col)
    if field in WHOLE_FIELDS and values.notna().all():
        return values.astype(np.int64)
    return values


# --------------------------------------------------------------------------
# identifiers, names and kinds


def _id_text(value: Any) -> str | None:
    """Return an id as text: floats from Excel such as 123.0 become "123"."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    text = str(value).strip()
    return text or None


def _text_values(series: pd.Series) -> pd.Series:
    """Cells as stripped text, None for blanks; floats from Excel such as 123.0 become "123"."""
    if series.dtype != object and pd.api.types.is_string_dtype(series.dtype):
        text = series.str.strip()
        return text.astype(object).where(text.notna() & (text != ""), None)
    if pd.api.types.is_integer_dtype(series.dtype) and not series.hasnans:
        return series.astype(np.int64).astype(str).astype(object)
    return series.map(_id_text).astype(object)


def _ids(src: _Source, df: pd.DataFrame, cols: dict, prefix: str) -> pd.Series:
    """Return validated ids (text), or generated ``prefix + row`` when there is no id column."""
    if "id" not in cols:
        return pd.Series([f"{prefix}{r}" for r in df.index], index=df.index, dtype=object)
    col = cols["id"]
    ids = _text_values(df[col])
    empty = ids.isna()
    if empty.any():
        rows = ids.index[empty]
        raise src.error(
            f"id is empty: every {src.row_label} needs an id "
            f"(or remove the column to number them){_more(len(rows) - 1, src.row_label)}",
            row=rows[0],
            column=col,
        )
    excel_float = r"-?\d+\.0"  # a whole column of Excel floats saved as text (the first row tells)
    if ids.iloc[:1].str.fullmatch(excel_float).all() and ids.str.fullmatch(excel_float).all():
        ids = ids.str[:-2]
    if ids.is_unique:  # one hash pass (half a keep=False mask's cost); the mask only to name the rows
        return ids
    dup = ids.duplicated(keep=False)
    if dup.any():
        value = ids[dup].iloc[0]
        rows = [str(r) for r in ids.index[ids == value]]
        times = "twice" if len(rows) == 2 else f"{len(rows)} times"
        listed = ", ".join(rows[:-1][:5]) + (", ..." if len(rows) > 6 else "") + f" and {rows[-1]}"
        raise src.error(f"id '{value}' is used {times}: {src.row_label}s {listed}", row=int(rows[1]), column=col)
    return ids


def _text(series: pd.Series) -> pd.Series:
    """Return strings, blanks for missing cells."""
    return _text_values(series).fillna("").astype(object)


def _known_kinds(registry: KindRegistry) -> str:
    return ", ".join(f"{k.key} ({k.label_zh})" if k.label_zh != k.key else k.key for k in registry)


def _kinds(src: _Source, df: pd.DataFrame, cols: dict, registry: KindRegistry, default: str | None) -> pd.Series:
    """Resolve the facility kind of each row to a registry key."""
    if default is not None and registry.resolve(default) is None:
        raise ValueError(f"unknown default kind {default!r}: known kinds are {_known_kinds(registry)}")
    default_key = None if default is None else registry.resolve(default)
    if "kind" not in cols:
        if default_key is None:
            raise src.error(
                f"has no kind column (kind or 类型); found {_names(df.columns)}. "
                f"Add one naming each facility's kind: {_known_kinds(registry)}"
            )
        return pd.Series(default_key, index=df.index, dtype=object)
    col = cols["kind"]
    text = _text(df[col])
    lookup = {v: registry.resolve(v) for v in text.unique() if v}
    keys = text.map(lambda v: lookup.get(v) if v else default_key)
    bad = keys.isna()
    if bad.any():
        row = keys.index[bad][0]
        value = text[row]
        if not value:
            raise src.error(f"kind is empty: known kinds are {_known_kinds(registry)}", row=row, column=col)
        raise src.error(
            f"unknown kind '{value}': known kinds are {_known_kinds(registry)}; "
            "to add a kind, pass its key with --kinds (e.g. --kinds library)",
            row=row,
            column=col,
        )
    return keys.astype(object)


# --------------------------------------------------------------------------
# coordinates


def _in_box(lon: pd.Series, lat: pd.Series) -> pd.Series:
    return pd.Series(_crs.in_china(lon.to_numpy(), lat.to_numpy()), index=lon.index)


def _check_swapped(src: _Source, lon: pd.Series, lat: pd.Series, lon_col: Any, lat_col: Any) -> None:
    """Raise when the longitude and latitude columns look exchanged."""
    row_swapped = (lat.abs() > 90) & (lat.abs() <= 180) & (lon.abs() <= 90)
    china_swapped = _in_box(lat, lon) & ~_in_box(lon, lat)
    if row_swapped.any():
        row = lat.index[row_swapped][0]
    elif china_swapped.all() and not _in_box(lon, lat).any():
        row = lat.index[0]
    else:
        return
    raise src.error(
        f"latitude {_show(lat[row])} with longitude {_show(lon[row])} (column '{lon_col}') looks swapped: "
        "exchange the longitude and latitude columns (in Shenzhen longitude is about 114, latitude about 22.5)",
        row=row,
        column=lat_col,
    )


def _check_range(src: _Source, lon: pd.Series, lat: pd.Series, lon_col: Any, lat_col: Any) -> None:
    """Raise for coordinates outside -180..180 / -90..90, and (0, 0) placeholders."""
    hint = " (projected metres? give their CRS with --crs EPSG:<code>)"
    for values, col, limit, what in ((lon, lon_col, 180, "longitude"), (lat, lat_col, 90, "latitude")):
        bad = values.abs() > limit
        if bad.any():
            row = values.index[bad][0]
            extra = hint if abs(values[row]) > 1000 else ""
            raise src.error(
                f"value {_show(values[row])} is out of range for a {what} (-{limit} to {limit}){extra}",
                row=row,
                column=col,
            )
    zero = (lon == 0) & (lat == 0)
    if zero.any():
        row = lon.index[zero][0]
        raise src.error("coordinates (0, 0) look like a placeholder for a missing location", row=row, column=lon_col)


def _check_coord_columns(src: _Source, df: pd.DataFrame, cols: dict) -> None:
    """Raise when a table has no longitude or latitude column, listing what it has."""
    if "lon" not in cols or "lat" not in cols:
        missing = [w for w in ("lon", "lat") if w not in cols]
        raise src.error(
            f"has no {' or '.join('longitude' if m == 'lon' else 'latitude' for m in missing)} column; "
            f"found {_names(df.columns)}. Longitude may be named lon, lng, longitude, 经度 (or x), "
            "latitude lat, latitude, 纬度 (or y)"
        )


def _table_points(src: _Source, df: pd.DataFrame, cols: dict, crs: str) -> gpd.GeoSeries:
    """Build WGS84 points from lon/lat (or x/y) columns."""
    _check_coord_columns(src, df, cols)
    lon = _numbers(src, df, cols["lon"], "longitude", required=True)
    lat = _numbers(src, df, cols["lat"], "latitude", required=True)
    if _crs.is_lonlat(crs):
        _check_swapped(src, lon, lat, cols["lon"], cols["lat"])
        _check_range(src, lon, lat, cols["lon"], cols["lat"])
    x, y = _crs.to_wgs84_lonlat(lon.to_numpy(), lat.to_numpy(), crs)
    _check_converted(src, pd.Series(x, index=df.index), pd.Series(y, index=df.index), crs, cols["lon"])
    with gc_paused():  # a million new points would set off the collector a thousand times (0.45 -> 0.2 s)
        points = shapely.points(x, y)
    return gpd.GeoSeries(points, index=df.index, crs="EPSG:4326")


@contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection inside the block (it is turned back on after, if it was on before).

    Each shapely geometry is a tracked object: creating a million of them triggers young
    collections every 700 and full ones each time the heap grows by a quarter, every one of
    which walks all the points made so far.  Points hold no references, so the pause lets
    no cycle grow.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _check_converted(src: _Source, x: pd.Series, y: pd.Series, crs: str, col: Any) -> None:
    """Raise for points whose WGS84 coordinates are not finite lon/lat."""
    bad = ~np.isfinite(x) | ~np.isfinite(y) | (x.abs() > 180) | (y.abs() > 90)
    if bad.any():
        row = x.index[bad][0]
        raise src.error(
            f"coordinates could not be converted from {crs} to WGS84 longitude/latitude (is --crs right?)",
            row=row,
            column=col,
        )


def _vector_to_wgs84(src: _Source, geoms: gpd.GeoSeries, crs: str) -> gpd.GeoSeries:
    """Convert a vector file's geometries to WGS84, honouring the file's own CRS."""
    file_crs = geoms.crs
    if crs in _crs.SHIFTED:
        return _crs.geometry_to_wgs84(geoms, crs)
    if crs == "wgs84":
        if file_crs is None:
            _require_lonlat(src, geoms, "has no coordinate reference system (no .prj?)")
            return _crs.geometry_to_wgs84(geoms, "wgs84")
        return _crs.geometry_to_wgs84(geoms, None)
    label_only = src.fmt == "geojson" and file_crs is not None and file_crs.to_epsg() == 4326
    if file_crs is None or label_only or _same_crs(file_crs, crs):
        return _crs.geometry_to_wgs84(geoms, crs)
    raise src.error(
        f"says its coordinates are in {file_crs.to_string()} but --crs says {crs}: "
        "leave out --crs to use the file's own CRS"
    )


def _same_crs(file_crs: Any, crs: str) -> bool:
    """True when a file's CRS is the EPSG code given."""
    wanted = pyproj.CRS(crs)
    return file_crs == wanted or file_crs.to_epsg(min_confidence=70) == wanted.to_epsg()


def _require_lonlat(src: _Source, geoms: gpd.GeoSeries, why: str) -> None:
    """Raise when geometries without a CRS are not longitude/latitude."""
    b = shapely.bounds(np.asarray(geoms.values))
    bad = (np.abs(b[:, [0, 2]]) > 180).any(axis=1) | (np.abs(b[:, [1, 3]]) > 90).any(axis=1)
    if bad.any():
        row = geoms.index[bad][0]
        raise src.error(
            f"{why} and its coordinates are not longitude/latitude: give their CRS with --crs EPSG:<code>",
            row=row,
            column="geometry",
        )


def _check_geometries(src: _Source, geoms: gpd.GeoSeries, allowed: tuple[str, ...], role: str) -> gpd.GeoSeries:
    """Reject missing geometries and types outside ``allowed``; unwrap one-point MultiPoints."""
    arr = np.asarray(geoms.values)
    missing = shapely.is_missing(arr) | shapely.is_empty(arr)
    if missing.any():
        raise src.error("has no geometry", row=geoms.index[missing][0], column="geometry")
    single = (shapely.get_type_id(arr) == 4) & (shapely.get_num_geometries(arr) == 1)
    if single.any():
        arr = arr.copy()
        arr[single] = shapely.get_geometry(arr[single], 0)
    types = shapely.get_type_id(arr)
    ok = np.isin(types, [_TYPE_IDS[t] for t in allowed])
    if not ok.all():
        row = geoms.index[~ok][0]
        kind = shapely.get_type_id(arr[~ok][0])
        what = " or ".join(t.lower() + "s" for t in allowed if not t.startswith("Multi"))
        raise src.error(f"is a {_TYPE_NAMES[kind]}: {role} must be {what}", row=row, column="geometry")
    return gpd.GeoSeries(arr, index=geoms.index, crs=geoms.crs)


_TYPE_IDS = {
    "Point": 0,
    "LineString": 1,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
    "GeometryCollection": 7,
}
_TYPE_NAMES = {v: k for k, v in _TYPE_IDS.items()} | {2: "LinearRing"}


def _polygonal(src: _Source, geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Repair invalid polygons with make_valid, keeping their polygonal parts."""
    arr = np.asarray(geoms.values).copy()
    invalid = ~shapely.is_valid(arr) & ~shapely.is_missing(arr)
    for i in np.flatnonzero(invalid):
        fixed = shapely.make_valid(arr[i])
        parts = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type in ("Polygon", "MultiPolygon")]
        fixed = shapely.union_all(parts) if parts else None
        if fixed is None or fixed.is_empty:
            raise src.error("has an invalid polygon that could not be repaired", row=geoms.index[i], column="geometry")
        arr[i] = fixed
    return gpd.GeoSeries(arr, index=geoms.index, crs=geoms.crs)


def _check_wgs84(src: _Source, geoms: gpd.GeoSeries, crs: str) -> None:
    """Raise for converted geometries outside the lon/lat range."""
    b = shapely.bounds(np.asarray(geoms.values))
    bad = (
        ~np.isfinite(b).all(axis=1) | (np.abs(b[:, [0, 2]]) > 180).any(axis=1) | (np.abs(b[:, [1, 3]]) > 90).any(axis=1)
    )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = f"x={_show(b[i, 0])}, y={_show(b[i, 1])}"
        source = "" if crs == "wgs84" else f" after conversion from {crs}"
        raise src.error(
            f"coordinates ({where}) are not longitude/latitude{source}: if they are projected, "
            "give their CRS with --crs EPSG:<code>",
            row=geoms.index[i],
            column="geometry",
        )


def _vector_geometry(
    src: _Source, df: gpd.GeoDataFrame, crs: str, allowed: tuple[str, ...], role: str
) -> gpd.GeoSeries:
    geoms = _check_geometries(src, df.geometry, allowed, role)
    geoms = _vector_to_wgs84(src, geoms, crs)
    _check_wgs84(src, geoms, crs)
    if "Polygon" in allowed:
        geoms = _polygonal(src, geoms)
    return geoms


def _has_geometry(df: pd.DataFrame) -> bool:
    return isinstance(df, gpd.GeoDataFrame) and df._geometry_column_name in df.columns
