"""The public readers: facilities, demand, candidates, lots, residences and boundaries.

Each returns a GeoDataFrame in EPSG:4326 with canonical columns, and its provenance: the
file (``attrs["source_file"]``, ``attrs["source_path"]``), the columns used
(``attrs["columns"]``: canonical -> the file's header), and the file row of every row
(``attrs["rows"]``, a :class:`~geo.io.provenance.SourceRows`; read it with
:func:`~geo.io.source_rows` / :func:`~geo.io.source_row`)."""

from __future__ import annotations

import os
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import crs as _crs
from ..errors import InputError
from ..standards import KindRegistry
from .checks import (
    _check_coord_columns,
    _has_geometry,
    _ids,
    _kinds,
    _numeric_field,
    _table_points,
    _text,
    _vector_geometry,
)
from .columns import (
    BOUNDARY_NAME_ALIASES,
    COLUMN_ALIASES,
    NUMERIC_FIELDS,
    REQUIRED_FIELDS,
    ROLES,
    _names,
    _norm,
    _pick,
    find_columns,
)
from .provenance import SourceRows
from .tables import _read, _Source

__all__ = ["read_points", "read_demand", "read_boundaries"]


# --------------------------------------------------------------------------
# public readers


def _assemble(df: pd.DataFrame, fields: dict[str, pd.Series], used: set, geoms: gpd.GeoSeries) -> gpd.GeoDataFrame:
    """Canonical fields first, then the file's other columns, then geometry."""
    data = dict(fields)
    for col in df.columns:
        if col in used or (_has_geometry(df) and col == df.geometry.name):
            continue
        name = str(col)
        data[name if name not in data and name != "geometry" else f"{name}_src"] = df[col]
    out = gpd.GeoDataFrame(data, geometry=geoms.rename("geometry"), crs="EPSG:4326")
    return out.reset_index(drop=True)


def read_points(
    path: str | os.PathLike,
    *,
    role: str,
    crs: str = "wgs84",
    kinds: KindRegistry | None = None,
    id_prefix: str | None = None,
    kinds_default: str | None = None,
) -> gpd.GeoDataFrame:
    """Read facilities, demand points, candidates, parking lots or residences.

    Parameters
    ----------
    path
        CSV/XLSX with longitude/latitude columns (经度/纬度, lon/lat, ... or
        x/y when there is neither), or GeoJSON/GPKG/SHP with Point geometries
        (polygons only for ``role="demand"``).
    role
        One of :data:`ROLES`: ``"facilities"``, ``"demand"``, ``"candidates"``,
        ``"lots"``, ``"residences"``.
    crs
        The coordinates' system (:func:`geo.crs.parse_crs` vocabulary).
        GCJ-02 and BD-09 are converted with exact inverses. For vector files
        ``"wgs84"`` means "the file's own CRS".
    kinds
        Facility kinds (facilities only); the built-in ones by default.
    id_prefix
        Prefix of generated ids (only when there is no id column at all);
        ``F``/``D``/``C``/``L``/``R`` by role. A generated id is the prefix
        plus the row number (``F2`` is the first data row of a table).
    kinds_default
        Kind for facilities when the file has no kind column, or a blank cell.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, columns ``id`` (text), then the canonical fields found
        (``name``, ``kind`` as a registry key, numbers such as ``capacity``,
        ``population``; whole-number fields as int64 when complete), then the
        file's other columns under their own names, then ``geometry``. The
        coordinate columns are consumed. Provenance travels in ``attrs``:
        ``source_file``, ``source_path``, ``role``, ``crs``, ``columns``
        (canonical -> the file's header), ``row_label`` ("row" or "feature")
        and ``rows``, a :class:`~geo.io.SourceRows` (read-only int64 array):
        the frame's index is ``0..n-1`` and label ``i`` came from file row
        ``rows[i]`` (spreadsheet numbering, the header is row 1).  It is shared,
        not copied, by every frame derived from this one; read it with
        :func:`~geo.io.source_rows` (one per row, following the index) or
        :func:`~geo.io.source_row`.

    Raises
    ------
    InputError
        Naming file, row and column, for: missing/empty/unreadable files,
        missing or non-numeric coordinates, swapped or out-of-range ones,
        empty or duplicate ids, a missing or unknown kind, negative or
        fractional counts, missing capacity (lots) or demand (residences).
    ValueError
        For an unknown ``role``, ``crs`` or ``kinds_default``.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    crs = _crs.parse_crs(crs)
    df, src = _read(path)
    allowed = ("Point", "Polygon", "MultiPolygon") if role == "demand" else ("Point",)
    return _points_from(
        df, src, role=role, crs=crs, kinds=kinds, id_prefix=id_prefix, kinds_default=kinds_default, allowed=allowed
    )


def _points_from(
    df: pd.DataFrame,
    src: _Source,
    *,
    role: str,
    crs: str,
    kinds: KindRegistry | None,
    id_prefix: str | None,
    kinds_default: str | None,
    allowed: tuple[str, ...],
) -> gpd.GeoDataFrame:
    """Validate a read frame into the canonical points layer (file-level checks first)."""
    vector = _has_geometry(df)
    attr_cols = [c for c in df.columns if not (vector and c == df.geometry.name)]
    cols = find_columns(attr_cols)
    if vector:
        cols = {k: v for k, v in cols.items() if k not in ("lon", "lat")}
    else:
        _check_coord_columns(src, df, cols)
    _add_required(src, df, cols, role)
    fields: dict[str, pd.Series] = {"id": _ids(src, df, cols, id_prefix or ROLES[role])}
    if "name" in cols:
        fields["name"] = _text(df[cols["name"]])
    if role == "facilities":
        fields["kind"] = _kinds(src, df, cols, kinds or KindRegistry(), kinds_default)
    elif "kind" in cols:
        fields["kind"] = _text(df[cols["kind"]])
    if vector:
        geoms = _vector_geometry(src, df, crs, allowed, role)
    else:
        geoms = _table_points(src, df, cols, crs)
    for field in NUMERIC_FIELDS:
        if field in cols:
            fields[field] = _numeric_field(src, df, cols[field], field, field in REQUIRED_FIELDS.get(role, ()))
    for field in ("open", "window", "land_use"):
        if field in cols:
            fields[field] = _text(df[cols[field]])
    out = _assemble(df, fields, set(cols.values()), geoms)
    out.attrs.update(
        source_file=src.path.name,
        source_path=str(src.path),
        role=role,
        crs=crs,
        columns={k: str(v) for k, v in cols.items()},
        rows=SourceRows(df.index.to_numpy()),
        row_label=src.row_label,
    )
    return out


def _add_required(src: _Source, df: pd.DataFrame, cols: dict, role: str) -> None:
    """Raise when a column the role needs is absent."""
    for field in REQUIRED_FIELDS.get(role, ()):
        if field not in cols:
            names = ", ".join(COLUMN_ALIASES[field])
            raise src.error(f"has no {field} column ({names}); found {_names(df.columns)}")


def read_demand(
    path: str | os.PathLike,
    *,
    crs: str = "wgs84",
    id_prefix: str | None = None,
    count_rows: bool = False,
    count_rows_hint: str = 'weight_column="rows"',
) -> gpd.GeoDataFrame:
    """Read demand: points or (Multi)Polygons (traffic zones, 社区) with a weight.

    Parameters
    ----------
    path
        Any format :func:`read_points` reads; vector files may hold polygons.
    crs
        The coordinates' system (:func:`geo.crs.parse_crs` vocabulary).
    id_prefix
        Prefix of generated ids ("D" by default).
    count_rows
        Count each row as one resident when the file has none of the weight columns; without it
        such a file is refused (the one demand-weight rule, as in
        :func:`geo.coverage.resolve_weights`).
    count_rows_hint
        How the caller asks to count rows, named in the refusal (``--count-rows`` at the command
        line, ``weight = "rows"`` in a project file).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 with ``id``, ``weight`` (float: from weight/权重, else
        population/人口, else households/户数, else 1.0 with ``count_rows``), the other fields
        and ``geometry``. ``attrs["weight_column"]`` is the canonical field
        used (``"population"``...) or None, ``attrs["weight_source"]`` the
        file's header for it. Blank weights count as 0 with a warning.
        Row provenance (``attrs["rows"]``) as in :func:`read_points`.
    """
    gdf = read_points(path, role="demand", crs=crs, id_prefix=id_prefix)
    field = next((f for f in ("weight", "population", "households") if f in gdf.attrs["columns"]), None)
    if field is None:
        if not count_rows:
            raise InputError(
                path,
                "has no population column (population/人口, weight/权重 or households/户数): add one, "
                f"or ask to count each row as one resident ({count_rows_hint})",
                column="population",
            )
        weight = pd.Series(1.0, index=gdf.index)
    else:
        weight = gdf[field].astype(np.float64)
        _warn_blank_weights(gdf, weight, field)
        weight = weight.fillna(0.0)
    gdf = gdf.drop(columns=["weight"], errors="ignore")
    gdf.insert(1, "weight", weight.to_numpy())
    gdf.attrs["weight_column"] = field
    gdf.attrs["weight_source"] = None if field is None else gdf.attrs["columns"][field]
    return gdf


def _warn_blank_weights(gdf: gpd.GeoDataFrame, weight: pd.Series, field: str) -> None:
    blank = weight.isna()
    if blank.any():
        ids = ", ".join(gdf["id"][blank].head(5))
        warnings.warn(
            f"{gdf.attrs['source_file']}: column '{gdf.attrs['columns'][field]}' is blank for "
            f"{int(blank.sum())} unit(s) (ids {ids}{'...' if blank.sum() > 5 else ''}); they count as 0",
            UserWarning,
            stacklevel=3,
        )


def read_boundaries(
    path: str | os.PathLike,
    *,
    crs: str = "wgs84",
    name_column: str | None = None,
    id_prefix: str = "B",
) -> gpd.GeoDataFrame:
    """Read boundary polygons (districts 区, streets 街道, communities 社区).

    Parameters
    ----------
    path
        GeoJSON, GeoPackage or shapefile of (Multi)Polygons.
    crs
        The coordinates' system (:func:`geo.crs.parse_crs` vocabulary).
    name_column
        Column holding the unit's name; by default name/名称/qh/区划/街道/
        社区/... and, failing those, the id.
    id_prefix
        Prefix of generated ids when there is no id column.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 with ``id``, ``name``, the file's other columns and valid
        (Multi)Polygon geometries (invalid ones repaired with make_valid).
        ``attrs`` carries the same provenance as :func:`read_points`
        (``source_file``, ``columns``, ``rows``, ``row_label``).

    Raises
    ------
    InputError
        For tables, missing or non-polygon geometries, unknown name_column,
        empty or duplicate ids.
    """
    crs = _crs.parse_crs(crs)
    df, src = _read(path)
    if not _has_geometry(df):
        raise src.error("boundaries must be polygons in a .geojson, .gpkg or .shp file")
    geoms = _vector_geometry(src, df, crs, ("Polygon", "MultiPolygon"), "boundaries")
    attr_cols = [c for c in df.columns if c != df.geometry.name]
    cols = {k: v for k, v in find_columns(attr_cols).items() if k == "id"}
    ids = _ids(src, df, cols, id_prefix)
    name_col = _boundary_name_column(src, attr_cols, name_column, cols)
    names = ids.copy() if name_col is None else _text(df[name_col]).where(lambda s: s != "", ids)
    used = set(cols.values()) | ({name_col} if name_col is not None else set())
    out = _assemble(df, {"id": ids, "name": names}, used, geoms)
    out.attrs.update(
        source_file=src.path.name,
        source_path=str(src.path),
        role="boundaries",
        crs=crs,
        columns={"id": str(cols.get("id")), "name": str(name_col)},
        rows=SourceRows(df.index.to_numpy()),
        row_label=src.row_label,
    )
    return out


def _boundary_name_column(src: _Source, columns: list, name_column: str | None, cols: dict) -> Any | None:
    if name_column is not None:
        for col in columns:
            if str(col) == name_column or _norm(col) == _norm(name_column):
                return col
        raise src.error(f"has no column '{name_column}'; found {_names(columns)}", column=name_column)
    taken = set(cols.values())
    return _pick(columns, BOUNDARY_NAME_ALIASES, "name", taken)
