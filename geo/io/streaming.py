"""Streaming writers of large layers: GeoJSON features in chunks, GeoParquet and GeoPackage.

:func:`write_features` writes the features of a WGS84 layer to an open text
file ``chunk`` rows at a time, from whole columns (each column turned into
JSON text at once; points' coordinates straight from their arrays), so a
million residents never become a million dicts nor one giant string.
:func:`write_columnar` writes ``.parquet`` / ``.geoparquet`` (geopandas with
pyarrow) and ``.gpkg`` (pyogrio) files: the format follows the extension.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import shapely

from ..errors import OptionError

__all__ = ["CHUNK_ROWS", "COLUMNAR_SUFFIXES", "column_json", "write_features", "write_columnar", "is_columnar"]

#: Rows per chunk of :func:`write_features`.
CHUNK_ROWS = 65_536
#: File endings :func:`write_columnar` writes, and the format of each.
COLUMNAR_SUFFIXES = {".parquet": "parquet", ".geoparquet": "parquet", ".gpkg": "gpkg"}


def _numbers_json(values: np.ndarray) -> list[str]:
    """JSON numbers of a numeric column (NaN -> null), through pandas' compiled encoder.

    Floats keep 10 significant decimals, as :meth:`pandas.DataFrame.to_json` writes them.
    """
    if values.size == 0:
        return []
    if values.dtype.kind == "f" and np.isinf(values).any():
        values = np.where(np.isinf(values), np.nan, values)
    return pd.Series(values).to_json(orient="values", double_precision=10)[1:-1].split(",")


def _strings_json(values: list) -> list[str] | None:
    """Quoted strings when no value needs escaping (every one a str), else None."""
    if not all(type(v) is str for v in values):
        return None
    dumped = json.dumps(values, ensure_ascii=False)
    if len(dumped) != 2 + sum(map(len, values)) + 4 * len(values) - 2:
        return None  # some value was escaped
    return ['"' + v + '"' for v in values] if values else []


def _value_json(value: Any, jsonable: Callable[[Any], Any]) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(jsonable(value), ensure_ascii=False, allow_nan=False)


def column_json(values: pd.Series, jsonable: Callable[[Any], Any]) -> list[str]:
    """The JSON text of every value of a column (NaN and missing values -> ``null``).

    Parameters
    ----------
    values
        One column.
    jsonable
        Turns any other value into plain JSON values (numpy scalars, dates, paths).

    Returns
    -------
    list of str
        One JSON text per row.
    """
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "b":
            return np.where(values.to_numpy(), "true", "false").tolist()
        if dtype.kind in "iuf":
            return _numbers_json(values.to_numpy())
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        iso = [None if pd.isna(v) else pd.Timestamp(v).isoformat() for v in values]
        return [_value_json(v, jsonable) for v in iso]
    cells = values.astype(object).tolist()
    quoted = _strings_json(cells)
    return quoted if quoted is not None else [_value_json(v, jsonable) for v in cells]


def _point_coords(geoms: np.ndarray) -> tuple[list[str], list[str]] | None:
    """x and y text (7 decimals) when every geometry is a non-empty point, else None."""
    if geoms.size == 0 or not (shapely.get_type_id(geoms) == 0).all() or shapely.is_empty(geoms).any():
        return None
    xy = np.round(shapely.get_coordinates(geoms), 7)
    if xy.shape[0] != geoms.size:
        return None
    return list(map(repr, xy[:, 0].tolist())), list(map(repr, xy[:, 1].tolist()))  # shortest text of 7-decimal values


def write_features(
    fh: IO[str],
    frame: pd.DataFrame,
    geoms: np.ndarray,
    geometry_json: Callable[[np.ndarray], np.ndarray],
    jsonable: Callable[[Any], Any],
    *,
    chunk: int | None = None,
    columns: list | None = None,
) -> int:
    """Write ``{"type":"Feature",...}`` texts joined by ``",\\n"`` to ``fh``, chunk by chunk.

    Parameters
    ----------
    fh
        An open text file.
    frame
        The properties, one row per feature.
    geoms
        The geometries (WGS84), one per row.
    geometry_json
        Turns an array of geometries into their GeoJSON texts (``"null"`` for none).
    jsonable
        See :func:`column_json`.
    chunk
        Rows per chunk (default :data:`CHUNK_ROWS`).
    columns
        The columns of ``frame`` to write, in order (default all).

    Returns
    -------
    int
        The number of features written.
    """
    n = len(frame)
    chunk = int(chunk or CHUNK_ROWS)
    columns = list(frame.columns) if columns is None else list(columns)
    where = [frame.columns.get_loc(c) for c in columns]
    keys = [json.dumps(str(c), ensure_ascii=False).replace("%", "%%") for c in columns]
    props = ",".join(f"{k}:%s" for k in keys)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        cols = [column_json(frame.iloc[lo:hi, j], jsonable) for j in where]
        g = geoms[lo:hi]
        xy = _point_coords(g)
        if xy is not None:
            tmpl = '{"type":"Feature","properties":{' + props + '},"geometry":{"type":"Point","coordinates":[%s,%s]}}'
            cols += list(xy)
        else:
            tmpl = '{"type":"Feature","properties":{' + props + '},"geometry":%s}'
            cols.append(geometry_json(g).tolist())
        if lo:
            fh.write(",\n")
        fh.write(",\n".join(map(tmpl.__mod__, zip(*cols))))
    return n


def is_columnar(path: str | Path) -> bool:
    """Whether ``path`` ends in one of :data:`COLUMNAR_SUFFIXES`."""
    return Path(path).suffix.lower() in COLUMNAR_SUFFIXES


def write_columnar(layer, tmp: Path, suffix: str, *, layer_name: str = "layer", metadata: dict | None = None) -> None:
    """Write a WGS84 GeoDataFrame as GeoParquet or GeoPackage (by ``suffix``) to ``tmp``.

    Parameters
    ----------
    layer
        The layer, already in WGS84.
    tmp
        The file to write (a temporary name: the format is given by ``suffix``).
    suffix
        ``.parquet``, ``.geoparquet`` or ``.gpkg``.
    layer_name
        The GeoPackage layer's name (the final file's stem).
    metadata
        Kept as the GeoPackage layer's description (JSON text).

    Raises
    ------
    OptionError
        GeoParquet is asked for and pyarrow is not installed.
    """
    kind = COLUMNAR_SUFFIXES[suffix.lower()]
    if kind == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise OptionError(
                "out", f"writing {suffix} needs pyarrow (pip install pyarrow); or write .gpkg or .geojson"
            ) from exc
        layer.to_parquet(tmp, index=False, compression="zstd")
        return
    import pyogrio

    meta = json.dumps(metadata or {}, ensure_ascii=False, default=str)
    pyogrio.write_dataframe(
        layer, tmp, driver="GPKG", layer=layer_name, layer_options={"DESCRIPTION": meta}, promote_to_multi=False
    )
