"""Reading planners' tables and files with validation; atomic writing.

Readers take CSV (UTF-8, UTF-8 with BOM or GB18030/GBK), XLSX (first sheet),
GeoJSON, GeoPackage and shapefiles, match column names in English and Chinese
(:data:`COLUMN_ALIASES`), convert GCJ-02 / BD-09 / EPSG inputs to WGS84 with
:mod:`geo.crs`, and return GeoDataFrames in EPSG:4326 with canonical columns.

Bad input raises :class:`InputError`, one message naming the file, the row as
the planner sees it (spreadsheet row: the header is row 1; or "feature N" in
vector files) and the column as it is spelled in the file.  A frame read from
a file keeps where each row came from (:func:`source_rows`, :mod:`.provenance`),
so later steps (snapping, parking tables) can name the row too.

Writers go through :func:`atomic_path` (:mod:`geo.atomic`): the file appears
complete or not at all.

Modules
-------
columns
    Column names and their aliases (:func:`find_columns`).
tables
    Files into plain tables (:func:`read_table`) with the file-level checks.
checks
    Cell-level checks: numbers, ids, kinds, coordinates, geometries.
readers
    :func:`read_points`, :func:`read_demand`, :func:`read_boundaries`.
provenance
    :class:`SourceRows`, :func:`source_rows`, :func:`source_row`.
writers
    :func:`write_json`, :func:`write_geojson`, :func:`geojson_text`, :func:`write_table`.
"""

from __future__ import annotations

from ..atomic import OutputError, all_or_none, atomic_path
from ..errors import InputError
from .columns import (
    BOUNDARY_NAME_ALIASES,
    COLUMN_ALIASES,
    COORD_FALLBACK,
    NUMERIC_FIELDS,
    REQUIRED_FIELDS,
    ROLES,
    TEXT_FIELDS,
    WHOLE_FIELDS,
    find_columns,
)
from .provenance import SourceRows, source_row, source_rows
from .readers import read_boundaries, read_demand, read_points
from .tables import read_table
from .writers import geojson_text, output_path, write_geojson, write_json, write_table

_gcj_name = output_path  # the old private name (apps/cli/checks.py); use output_path

__all__ = [
    "COLUMN_ALIASES",
    "COORD_FALLBACK",
    "BOUNDARY_NAME_ALIASES",
    "NUMERIC_FIELDS",
    "WHOLE_FIELDS",
    "TEXT_FIELDS",
    "REQUIRED_FIELDS",
    "InputError",
    "OutputError",
    "ROLES",
    "SourceRows",
    "all_or_none",
    "atomic_path",
    "find_columns",
    "output_path",
    "geojson_text",
    "read_boundaries",
    "read_demand",
    "read_points",
    "read_table",
    "source_row",
    "source_rows",
    "write_geojson",
    "write_json",
    "write_table",
]
