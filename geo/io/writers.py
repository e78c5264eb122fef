"""Writers: JSON, GeoJSON (WGS84, or GCJ-02 / BD-09 copies for Chinese web maps) and tables
(CSV / XLSX), each through the one atomic writer (:func:`geo.atomic.atomic_path`)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import crs as _crs
from ..atomic import atomic_path
from . import streaming as _streaming
from .checks import _has_geometry

__all__ = ["output_path", "write_json", "geojson_text", "write_geojson", "write_table"]


# --------------------------------------------------------------------------
# writing


def _jsonable(obj: Any) -> Any:
    """Convert numpy/pandas values, NaN and paths into plain JSON values."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, (datetime, date, pd.Timestamp)):
        return obj.isoformat()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def _dumps(obj: Any, indent: int | None = 2) -> str:
    return json.dumps(_jsonable(obj), ensure_ascii=False, indent=indent, allow_nan=False)


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` as UTF-8 JSON atomically (NaN -> null, numpy -> JSON).

    Parameters
    ----------
    obj
        Dicts, lists, numbers (numpy included), strings.
    path
        Destination.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    text = _dumps(obj) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def output_path(path: str | os.PathLike, system: str) -> Path:
    """The file :func:`write_geojson` writes for ``path`` in coordinate system ``system``:
    ``"gcj02"`` is inserted into a name that does not mention it (``areas.gcj02.geojson``),
    so a converted copy is never taken for WGS84 data."""
    path = Path(path)
    if system.lower() in path.name.lower():
        return path
    suffix = path.suffix if path.suffix.lower() in (".geojson", ".json") else ""
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return path.with_name(f"{stem}.{system}{suffix}")


def _geometry_json(arr: np.ndarray) -> np.ndarray:
    """RFC 7946 geometry strings: coordinates rounded to 7 decimals, CCW outer rings."""
    fast = _streaming.polygon_json(arr)  # service areas, gaps: the same texts without shapely's writer
    if fast is not None:
        return np.array(fast, dtype=object)
    arr = shapely.transform(arr, lambda xy: np.round(xy, 7))
    arr = shapely.orient_polygons(arr, exterior_cw=False)
    arr[shapely.is_empty(arr)] = None
    out = shapely.to_geojson(arr)
    return np.where(pd.isna(out), "null", out)


def _properties_json(df: pd.DataFrame) -> list[str]:
    """One JSON object string per row (NaN -> null, numpy types -> JSON)."""
    if len(df) == 0:
        return []
    if len(df.columns) == 0:
        return ["{}"] * len(df)
    text = df.to_json(
        orient="records", lines=True, force_ascii=False, date_format="iso", double_precision=10, default_handler=str
    )
    return text.rstrip("\n").split("\n")


def _layer(gdf: gpd.GeoDataFrame, system: str) -> gpd.GeoDataFrame:
    if system not in ("wgs84", "gcj02"):
        raise ValueError(f"unknown --out-crs value {system!r}: use wgs84 or gcj02")
    if gdf.crs is None:
        layer = gdf.set_crs("EPSG:4326")
    elif gdf.crs.to_epsg() == 4326:
        layer = gdf  # already WGS84: no copy of a million geometries
    else:
        layer = gdf.to_crs("EPSG:4326")
    if system == "gcj02":
        layer = _crs.geometry_from_wgs84(layer, "gcj02")
    return layer


def _write_collection(fh, layer: gpd.GeoDataFrame, system: str, metadata: Mapping | None) -> None:
    """The FeatureCollection text, its features streamed in chunks (:mod:`.streaming`)."""
    meta = _dumps({"crs": _crs.LABELS[system], **(metadata or {})}, indent=None)
    fh.write(f'{{"type":"FeatureCollection","lifecircle":{meta},"features":[\n')
    geom = layer.geometry.name
    props = [c for c in layer.columns if c != geom]  # the columns themselves, chunk by chunk: no copy of the frame
    _streaming.write_features(fh, layer, np.asarray(layer.geometry.values), _geometry_json, _jsonable, columns=props)
    fh.write("\n]}\n")


def geojson_text(gdf: gpd.GeoDataFrame, *, out_crs: str = "wgs84", metadata: Mapping | None = None) -> str:
    """Serialise a layer as an RFC 7946 FeatureCollection (see :func:`write_geojson`)."""
    import io as _io

    system = _crs.parse_crs(out_crs)
    buf = _io.StringIO()
    _write_collection(buf, _layer(gdf, system), system, metadata)
    return buf.getvalue()


def write_geojson(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike,
    *,
    out_crs: str = "wgs84",
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write an RFC 7946 GeoJSON FeatureCollection atomically.

    Parameters
    ----------
    gdf
        The layer; reprojected to WGS84 if in another CRS (no CRS = WGS84).
    path
        Destination. With ``out_crs="gcj02"`` a name without "gcj02" gets
        ".gcj02" inserted before ".geojson".
    out_crs
        ``"wgs84"`` (the standard) or ``"gcj02"`` (to overlay on Amap tiles).
    metadata
        Extra members of the collection's ``"lifecircle"`` foreign member,
        which always holds ``"crs"``: ``"WGS84"`` or ``"GCJ-02"``.

    Returns
    -------
    pathlib.Path
        The path actually written.

    Notes
    -----
    Coordinates are rounded to 7 decimals (about 1 cm), polygons' outer rings
    are counter-clockwise, NaN properties are null.  Features are written in
    chunks straight from the columns, laid out by Arrow's compiled kernels
    (:mod:`geo.io.streaming`): a million 20-field points take about 2 s of
    CPU and no more memory than a chunk.  A path
    ending in ``.parquet``/``.geoparquet`` (GeoParquet, needs pyarrow) or
    ``.gpkg`` (GeoPackage) writes that format instead, ``metadata`` going to
    the GeoPackage layer's description.
    """
    system = _crs.parse_crs(out_crs)
    target = Path(path) if system != "gcj02" else output_path(Path(path), "gcj02")
    layer = _layer(gdf, system)
    suffix = "".join(target.suffixes[-1:]).lower()
    with atomic_path(target) as tmp:
        if _streaming.is_columnar(target):
            _streaming.write_columnar(
                layer,
                tmp,
                suffix,
                layer_name=target.name[: -len(suffix)] or "layer",
                metadata={"crs": _crs.LABELS[system], **(metadata or {})},
            )
        else:
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                _write_collection(fh, layer, system, metadata)
    return target


def _flat_table(df: pd.DataFrame) -> pd.DataFrame:
    """Replace a geometry column by lon/lat (points) or WKT (other shapes), in WGS84."""
    if not _has_geometry(df):
        return pd.DataFrame(df)
    layer = df.set_crs("EPSG:4326") if df.crs is None else df.to_crs("EPSG:4326")
    name = layer.geometry.name
    arr = np.asarray(layer.geometry.values)
    out = pd.DataFrame(layer.drop(columns=name))
    if len(arr) and (shapely.get_type_id(arr) == 0).all():
        out["lon"] = np.round(shapely.get_x(arr), 7)
        out["lat"] = np.round(shapely.get_y(arr), 7)
    else:
        out[name] = shapely.to_wkt(arr, rounding_precision=7)
    return out


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table atomically as .csv (UTF-8 with BOM, for Excel) or .xlsx.

    Parameters
    ----------
    df
        The table; a GeoDataFrame's geometry becomes WGS84 lon/lat columns
        (points) or WKT text.
    path
        Destination ending in .csv or .xlsx.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    target = Path(path)
    ext = target.suffix.lower()
    if ext not in (".csv", ".xlsx"):
        raise ValueError(f"cannot write a table as '{target.suffix}': use .csv or .xlsx")
    table = _flat_table(df)
    with atomic_path(target) as tmp:
        if ext == ".csv":
            table.to_csv(tmp, index=False, encoding="utf-8-sig")
        else:
            table.to_excel(tmp, index=False, engine="openpyxl")
    return target
