"""Reading planners' tables and files with validation; atomic writing.

Readers take CSV (UTF-8, UTF-8 with BOM or GB18030/GBK), XLSX (first sheet),
GeoJSON, GeoPackage and shapefiles, match column names in English and Chinese
(:data:`COLUMN_ALIASES`), convert GCJ-02 / BD-09 / EPSG inputs to WGS84 with
:mod:`geo.crs`, and return GeoDataFrames in EPSG:4326 with canonical columns.

Bad input raises :class:`InputError`, one message naming the file, the row as
the planner sees it (spreadsheet row: the header is row 1; or "feature N" in
vector files) and the column as it is spelled in the file.

Writers go through :func:`atomic_path`: the file appears complete or not at
all.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import warnings
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from . import crs as _crs
from .standards import KindRegistry
from .atomic import OutputError, all_or_none, atomic_path  # noqa: F401 (re-exported)
from .errors import InputError

__all__ = [
    "COLUMN_ALIASES",
    "InputError",
    "OutputError",
    "ROLES",
    "all_or_none",
    "atomic_path",
    "find_columns",
    "read_boundaries",
    "read_demand",
    "read_points",
    "read_table",
    "write_geojson",
    "write_json",
    "write_table",
]

#: Canonical column -> accepted spellings (matched case-insensitively, ignoring
#: surrounding spaces, '_'/'-' and a trailing unit in brackets such as "人口（人）").
#: When several columns match, the exact canonical name wins, then alias order.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "序号", "编码"),
    "name": ("name", "名称", "名字", "设施名称", "站点名称"),
    "kind": ("kind", "类型", "type", "类别", "设施类型"),
    "lon": ("lon", "lng", "long", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
    "population": ("population", "pop", "人口", "人口数", "常住人口"),
    "households": ("households", "户数", "住户数"),
    "capacity": ("capacity", "泊位数", "车位数", "共享车位数"),
    "demand": ("demand", "缺口", "车位缺口"),
    "weight": ("weight", "权重"),
    "open": ("open", "开放时段", "开放时间", "共享时段"),
    "window": ("window", "时段", "需求时段"),
    "land_use": ("land_use", "landuse", "用地类型", "用地性质"),
    "price": ("price", "价格", "收费"),
    "reserved": ("reserved", "保留车位", "保留"),
}

#: Coordinate names used only when no lon/lat column exists (projected tables).
COORD_FALLBACK: dict[str, tuple[str, ...]] = {"lon": ("x",), "lat": ("y",)}

#: Extra name spellings for boundary layers (districts, streets, communities).
BOUNDARY_NAME_ALIASES: tuple[str, ...] = COLUMN_ALIASES["name"] + (
    "qh", "区划", "区划名称", "区名", "街道", "街道名称", "社区", "社区名称",
)

#: What read_points reads, with the prefix of generated ids.
ROLES: dict[str, str] = {
    "facilities": "F",
    "demand": "D",
    "candidates": "C",
    "lots": "L",
    "residences": "R",
}

NUMERIC_FIELDS = ("population", "households", "capacity", "demand", "weight", "price", "reserved")
WHOLE_FIELDS = ("capacity", "demand", "reserved")
TEXT_FIELDS = ("id", "name", "kind", "open", "window", "land_use")
REQUIRED_FIELDS = {"lots": ("capacity",), "residences": ("demand",)}
WHAT = {"capacity": "parking spaces", "demand": "cars", "reserved": "parking spaces"}

_FORMATS = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".shp": "shp",
}
_FORMAT_NAMES = {
    "csv": "a CSV file",
    "xlsx": "an Excel workbook (.xlsx)",
    "geojson": "GeoJSON",
    "gpkg": "a GeoPackage",
    "shp": "a shapefile",
}
_VECTOR = ("geojson", "gpkg", "shp")
_SUPPORTED = ".csv, .xlsx, .geojson, .gpkg or .shp"
_GEOJSON_TYPES = {
    "FeatureCollection", "Feature", "Point", "MultiPoint", "LineString",
    "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection",
}
_MAX_JSON_CHECK = 200 * 1024 * 1024


@dataclass(frozen=True)
class _Source:
    """Where the data came from, for error messages."""

    path: Path
    fmt: str

    @property
    def row_label(self) -> str:
        return "feature" if self.fmt in _VECTOR else "row"

    def error(self, reason: str, row: Any = None, column: Any = None) -> InputError:
        return InputError(self.path, reason, row=row, column=column, row_label=self.row_label)


def _show(value: Any) -> str:
    """Format a cell value as the planner typed it."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else str(value)


def _more(n: int, label: str) -> str:
    """Return " (N more rows like this)" or ""."""
    if n <= 0:
        return ""
    return f" ({n} more {label}{'s' if n > 1 else ''} like this)"


# --------------------------------------------------------------------------
# column matching


def _norm(name: Any) -> str:
    """Normalise a column name for matching."""
    s = str(name).strip().casefold()
    s = re.sub(r"\s*[（(][^()（）]*[)）]\s*$", "", s)
    return re.sub(r"[\s_\-]+", "", s)


def _pick(columns: list, aliases: Iterable[str], canonical: str, taken: set) -> Any | None:
    """Return the best column for ``aliases``: exact name, then alias order, then position."""
    keys = [_norm(a) for a in aliases]
    best = None
    for pos, col in enumerate(columns):
        n = _norm(col)
        if col in taken or n not in keys:
            continue
        rank = (str(col).strip() != canonical, keys.index(n), pos)
        if best is None or rank < best[0]:
            best = (rank, col)
    return None if best is None else best[1]


def find_columns(
    columns: Iterable[Any],
    aliases: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, Any]:
    """Match a file's column names to canonical fields.

    Parameters
    ----------
    columns
        Column names as they appear in the file.
    aliases
        Canonical name -> accepted spellings; :data:`COLUMN_ALIASES` by default.

    Returns
    -------
    dict
        Canonical name -> the file's column, for the fields found. ``x``/``y``
        stand for ``lon``/``lat`` only when neither lon nor lat exists.
    """
    cols = list(columns)
    table = COLUMN_ALIASES if aliases is None else aliases
    found: dict[str, Any] = {}
    for canonical, names in table.items():
        col = _pick(cols, names, canonical, set(found.values()))
        if col is not None:
            found[canonical] = col
    if aliases is None and "lon" not in found and "lat" not in found:
        for canonical, names in COORD_FALLBACK.items():
            col = _pick(cols, names, canonical, set(found.values()))
            if col is not None:
                found[canonical] = col
    return found


def _names(columns: Iterable[Any]) -> str:
    return ", ".join(f"'{c}'" for c in columns) or "(none)"


# --------------------------------------------------------------------------
# reading files


def _check_path(path: Path) -> str:
    """Return the format of ``path`` or raise for missing, empty or unsupported files."""
    if not path.exists():
        raise InputError(path, f"file not found (looked for {path.resolve()})")
    if path.is_dir():
        raise InputError(path, "is a folder, not a file")
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        hint = " (save it as .xlsx in Excel)" if path.suffix.lower() == ".xls" else ""
        raise InputError(path, f"unsupported file type '{path.suffix}'{hint}: use {_SUPPORTED}")
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty (0 bytes)")
    return fmt


def _sniff(head: bytes) -> str | None:
    """Name the real type of a file from its first bytes, when recognisable."""
    signatures = {
        b"PK\x03\x04": "an Excel workbook or a zip archive",
        b"\xd0\xcf\x11\xe0": "an old Excel .xls file or a password-protected workbook",
        b"SQLite format 3\x00": "a GeoPackage / SQLite database",
        b"\x00\x00\x27\x0a": "a shapefile .shp",
        b"%PDF": "a PDF document",
    }
    for magic, what in signatures.items():
        if head.startswith(magic):
            return what
    return None


def _looks_binary(head: bytes) -> bool:
    return b"\x00" in head


def _decode(src: _Source, raw: bytes) -> str:
    """Decode CSV bytes as UTF-8, UTF-8 with BOM, then GB18030 (covers GBK)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            _bom_mismatch(src, raw, exc)
    for encoding in ("utf-8-sig", "gb18030"):  # utf-8-sig reads UTF-8 with or without BOM
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise src.error("is not a text CSV file in UTF-8 or GB18030/GBK: save it as CSV UTF-8 from Excel")


def _bom_mismatch(src: _Source, raw: bytes, exc: UnicodeDecodeError) -> None:
    """A UTF-8 byte-order mark followed by text in another encoding: say what the bytes are."""
    try:
        raw[3:].decode("utf-8")
        start = exc.start
    except UnicodeDecodeError as inner:
        start = inner.start + 3
    line = raw.count(b"\n", 0, start) + 1
    bad = raw[start:start + 2].hex(" ").upper()
    try:
        raw[3:].decode("gb18030")
        what = "GBK/GB18030 (the Chinese Windows encoding)"
    except UnicodeDecodeError:
        what = "neither UTF-8 nor GBK/GB18030"
    raise src.error(
        f"starts with a UTF-8 byte-order mark (EF BB BF) but the text after it is {what}, not UTF-8 "
        f"(bytes {bad} at byte {start}, line {line}): an editor added the mark to a GBK file; "
        "save it again as CSV UTF-8 (or as GBK without the mark)"
    )


def _separator(text: str) -> str:
    """Guess the field separator from the header line (',' unless clearly otherwise)."""
    header = text.split("\n", 1)[0]
    if "," in header:
        return ","
    counts = {sep: header.count(sep) for sep in ("\t", ";", "|")}
    sep = max(counts, key=counts.get)
    return sep if counts[sep] else ","


def _csv_error(src: _Source, exc: Exception) -> InputError:
    """Turn a pandas parser error into a row-level message."""
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if m:
        want, line, saw = m.groups()
        return src.error(
            f"has {saw} values but the header has {want} columns "
            "(a value containing a comma must be in double quotes)",
            row=int(line),
        )
    return src.error(f"could not be read as a CSV file: {exc}")


def _read_csv(src: _Source) -> pd.DataFrame:
    raw = src.path.read_bytes()
    head = raw[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise src.error("is UTF-16 text (Excel's 'Unicode Text'): save it as 'CSV UTF-8' instead")
    real = _sniff(head)
    if real or _looks_binary(head):
        raise src.error(f"is not a text CSV file: it looks like {real or 'binary data'}")
    text = _decode(src, raw).lstrip("\r\n")
    if not text.strip():
        raise src.error("the file is empty (no header, no rows)")
    sep = _separator(text)
    try:
        header = pd.read_csv(io.StringIO(text), sep=sep, nrows=0).columns
        dtype = {c: str for c in header if _norm(c) in _TEXT_KEYS}
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=dtype, skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        raise _csv_error(src, exc) from None
    except (ValueError, pd.errors.EmptyDataError) as exc:
        raise src.error(f"could not be read as a CSV file: {exc}") from None
    df.index = pd.RangeIndex(2, 2 + len(df))
    return df


def _read_xlsx(src: _Source) -> pd.DataFrame:
    with src.path.open("rb") as fh:
        head = fh.read(8192)
    if not head.startswith(b"PK\x03\x04"):
        real = _sniff(head)
        if real is None and not _looks_binary(head):
            real = "a text file (a CSV? then name it .csv)"
        raise src.error(f"is not an Excel workbook (.xlsx): it looks like {real or 'binary data'}")
    try:
        df = pd.read_excel(src.path, sheet_name=0, engine="openpyxl", dtype=object)
    except Exception as exc:  # openpyxl raises many kinds on corrupt workbooks
        raise src.error(f"could not be read as an Excel workbook (.xlsx): {exc}") from None
    if len(df.columns) == 0:
        raise src.error("the first sheet is empty")
    for col in df.columns:
        if _norm(col) not in _TEXT_KEYS:
            df[col] = df[col].infer_objects()
    df.index = pd.RangeIndex(2, 2 + len(df))
    return df


def _check_geojson(src: _Source) -> None:
    """Check that a .geojson/.json file is JSON describing GeoJSON."""
    if src.path.stat().st_size > _MAX_JSON_CHECK:
        return
    raw = src.path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        real = _sniff(raw[:64])
        raise src.error(f"is not GeoJSON: it is not UTF-8 text{f' (it looks like {real})' if real else ''}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise src.error(
            f"is not valid JSON: {exc.msg} at line {exc.lineno}, character {exc.colno}"
        ) from None
    if not isinstance(obj, dict) or obj.get("type") not in _GEOJSON_TYPES:
        raise src.error('is JSON but not GeoJSON: expected {"type": "FeatureCollection", "features": [...]}')
    if obj.get("type") == "FeatureCollection" and not obj.get("features"):
        raise src.error("has no features")


def _companion(path: Path, ext: str) -> Path | None:
    """Find a shapefile's companion file, whatever the case of its extension."""
    for p in path.parent.iterdir():
        if p.stem == path.stem and p.suffix.lower() == ext:
            return p
    return None


def _check_shapefile(src: _Source) -> None:
    with src.path.open("rb") as fh:
        head = fh.read(4)
    if head != b"\x00\x00\x27\x0a":
        raise src.error("is not a shapefile (.shp): its header is not a shapefile header")
    missing = [ext for ext in (".shx", ".dbf") if _companion(src.path, ext) is None]
    if missing:
        raise src.error(
            f"is missing its companion file(s) {', '.join(missing)}: a shapefile is several "
            f"files ({src.path.stem}.shp, .shx, .dbf, .prj), keep them in the same folder"
        )


def _dbf_encoding(src: _Source) -> str | None:
    """Return an encoding for a shapefile without a .cpg: UTF-8 if its text decodes, else GB18030."""
    if _companion(src.path, ".cpg") is not None:
        return None
    dbf = _companion(src.path, ".dbf")
    raw = dbf.read_bytes() if dbf is not None else b""
    if len(raw) > 29 and raw[29] != 0:  # the DBF language driver names the code page
        return None
    try:
        raw[32:].decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        return "GB18030"


def _check_geojson_head(src: _Source) -> None:
    """Cheap check of a GeoJSON file's start; the full check runs only when it fails."""
    with src.path.open("rb") as fh:
        head = fh.read(4096)
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if "\ufffd" in text[:-4] or not text.startswith("{"):
        _check_geojson(src)


def _check_vector(src: _Source) -> None:
    if src.fmt == "geojson":
        _check_geojson_head(src)
    elif src.fmt == "shp":
        _check_shapefile(src)
    else:
        with src.path.open("rb") as fh:
            if not fh.read(16).startswith(b"SQLite format 3\x00"):
                raise src.error("is not a GeoPackage (.gpkg): it is not an SQLite database")


def _first_layer(src: _Source) -> str | None:
    """Return the first layer of a GeoPackage (warn when there are several)."""
    import pyogrio

    try:
        layers = pyogrio.list_layers(src.path)
    except Exception as exc:
        raise src.error(f"could not be read as a GeoPackage: {exc}") from None
    if len(layers) == 0:
        raise src.error("has no layers")
    if len(layers) > 1:
        warnings.warn(f"{src.path.name}: {len(layers)} layers, reading the first, '{layers[0][0]}'", stacklevel=4)
    return str(layers[0][0])


def _read_vector(src: _Source) -> pd.DataFrame:
    _check_vector(src)
    kwargs: dict[str, Any] = {}
    if src.fmt == "shp":
        encoding = _dbf_encoding(src)
        if encoding:
            kwargs["encoding"] = encoding
    if src.fmt == "gpkg":
        kwargs["layer"] = _first_layer(src)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            df = gpd.read_file(src.path, engine="pyogrio", **kwargs)
    except Exception as exc:  # pyogrio/GDAL errors: report them in one line
        if src.fmt == "geojson":
            _check_geojson(src)  # a precise message for broken JSON
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise src.error(f"could not be read as {_FORMAT_NAMES[src.fmt]}: {reason}") from None
    if len(df) == 0 and src.fmt == "geojson":
        _check_geojson(src)
    df.index = pd.RangeIndex(1, 1 + len(df))
    return df


def _drop_blank_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Drop table rows where every cell is empty (keeping the row numbers), and
    unnamed columns that are entirely empty (trailing commas, stray Excel cells)."""
    if df.empty:
        return df
    empty = {col: _empty(df[col]).to_numpy() for col in df.columns}
    blank = np.logical_and.reduce(list(empty.values()))
    unnamed = [c for c in df.columns if str(c).startswith("Unnamed: ") and empty[c].all()]
    return df.loc[~blank].drop(columns=unnamed)


def _read(path: str | os.PathLike) -> tuple[pd.DataFrame, _Source]:
    """Read any supported file; index = row number the planner sees."""
    p = Path(path)
    src = _Source(p, _check_path(p))
    if src.fmt == "csv":
        df = _drop_blank_rows(_read_csv(src))  # keeps the row numbers in the index
    elif src.fmt == "xlsx":
        df = _drop_blank_rows(_read_xlsx(src))
    else:
        df = _read_vector(src)
    if len(df) == 0:
        raise src.error("has no features" if src.fmt in _VECTOR else "has a header but no data rows")
    df.attrs["source_file"] = p.name
    df.attrs["source_format"] = src.fmt
    return df, src


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV, XLSX, GeoJSON, GeoPackage or shapefile.

    Parameters
    ----------
    path
        The file. CSV is decoded as UTF-8, UTF-8 with BOM or GB18030 (GBK),
        in that order; XLSX reads the first sheet; vector formats the first
        layer, through pyogrio.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        The rows as read (identifier-like columns such as id/编号 stay text).
        The index is the row number a planner sees: the spreadsheet row for
        tables (the header is row 1, the first data row is 2; blank rows are
        dropped), the 1-based feature number for vector files.

    Raises
    ------
    InputError
        For a missing, empty or unsupported file, or one that is not what
        its extension says.
    """
    return _read(path)[0]


_TEXT_KEYS = {_norm(a) for f in TEXT_FIELDS for a in COLUMN_ALIASES[f]}


# --------------------------------------------------------------------------
# cell validation


def _clean_number_text(s: pd.Series) -> pd.Series:
    """Strip spaces and thousands separators ("12,345") from text numbers."""
    text = s.astype(str).str.strip()
    grouped = text.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
    return text.where(~grouped, text.str.replace(",", "", regex=False))


def _is_text(s: pd.Series) -> bool:
    """True for object or string columns."""
    return s.dtype == object or pd.api.types.is_string_dtype(s.dtype)


def _empty(raw: pd.Series) -> pd.Series:
    """True for missing or blank cells."""
    missing = raw.isna()
    if _is_text(raw):
        missing |= raw.astype(str).str.strip().eq("")
    return missing


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
            row=rows[0], column=col,
        )
    if required and empty.any():
        rows = raw.index[empty]
        raise src.error(f"is empty: every {src.row_label} needs a {what}{_more(len(rows) - 1, src.row_label)}",
                        row=rows[0], column=col)
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
                row=row, column=col,
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
        raise src.error(f"id is empty: every {src.row_label} needs an id "
                        f"(or remove the column to number them){_more(len(rows) - 1, src.row_label)}",
                        row=rows[0], column=col)
    if ids.str.fullmatch(r"-?\d+\.0").all():  # a whole column of Excel floats saved as text
        ids = ids.str[:-2]
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
            raise src.error(f"has no kind column (kind or 类型); found {_names(df.columns)}. "
                            f"Add one naming each facility's kind: {_known_kinds(registry)}")
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
            row=row, column=col,
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
        row=row, column=lat_col,
    )


def _check_range(src: _Source, lon: pd.Series, lat: pd.Series, lon_col: Any, lat_col: Any) -> None:
    """Raise for coordinates outside -180..180 / -90..90, and (0, 0) placeholders."""
    hint = " (projected metres? give their CRS with --crs EPSG:<code>)"
    for values, col, limit, what in ((lon, lon_col, 180, "longitude"), (lat, lat_col, 90, "latitude")):
        bad = values.abs() > limit
        if bad.any():
            row = values.index[bad][0]
            extra = hint if abs(values[row]) > 1000 else ""
            raise src.error(f"value {_show(values[row])} is out of range for a {what} "
                            f"(-{limit} to {limit}){extra}", row=row, column=col)
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
    return gpd.GeoSeries(shapely.points(x, y), index=df.index, crs="EPSG:4326")


def _check_converted(src: _Source, x: pd.Series, y: pd.Series, crs: str, col: Any) -> None:
    """Raise for points whose WGS84 coordinates are not finite lon/lat."""
    bad = ~np.isfinite(x) | ~np.isfinite(y) | (x.abs() > 180) | (y.abs() > 90)
    if bad.any():
        row = x.index[bad][0]
        raise src.error(f"coordinates could not be converted from {crs} to WGS84 longitude/latitude "
                        "(is --crs right?)", row=row, column=col)


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
    raise src.error(f"says its coordinates are in {file_crs.to_string()} but --crs says {crs}: "
                    "leave out --crs to use the file's own CRS")


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
        raise src.error(f"{why} and its coordinates are not longitude/latitude: "
                        "give their CRS with --crs EPSG:<code>", row=row, column="geometry")


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


_TYPE_IDS = {"Point": 0, "LineString": 1, "Polygon": 3, "MultiPoint": 4, "MultiLineString": 5,
             "MultiPolygon": 6, "GeometryCollection": 7}
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
    bad = ~np.isfinite(b).all(axis=1) | (np.abs(b[:, [0, 2]]) > 180).any(axis=1) | (np.abs(b[:, [1, 3]]) > 90).any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = f"x={_show(b[i, 0])}, y={_show(b[i, 1])}"
        source = "" if crs == "wgs84" else f" after conversion from {crs}"
        raise src.error(f"coordinates ({where}) are not longitude/latitude{source}: if they are projected, "
                        "give their CRS with --crs EPSG:<code>", row=geoms.index[i], column="geometry")


def _vector_geometry(src: _Source, df: gpd.GeoDataFrame, crs: str, allowed: tuple[str, ...], role: str) -> gpd.GeoSeries:
    geoms = _check_geometries(src, df.geometry, allowed, role)
    geoms = _vector_to_wgs84(src, geoms, crs)
    _check_wgs84(src, geoms, crs)
    if "Polygon" in allowed:
        geoms = _polygonal(src, geoms)
    return geoms


def _has_geometry(df: pd.DataFrame) -> bool:
    return isinstance(df, gpd.GeoDataFrame) and df._geometry_column_name in df.columns


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
        coordinate columns are consumed. ``attrs`` holds ``source_file``,
        ``role``, ``crs`` and ``columns`` (canonical -> the file's header).

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
    return _points_from(df, src, role=role, crs=crs, kinds=kinds, id_prefix=id_prefix,
                        kinds_default=kinds_default, allowed=allowed)


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
    out.attrs.update(source_file=src.path.name, source_path=str(src.path), role=role, crs=crs,
                     columns={k: str(v) for k, v in cols.items()},
                     rows=[int(r) for r in df.index], row_label=src.row_label)
    return out


def _add_required(src: _Source, df: pd.DataFrame, cols: dict, role: str) -> None:
    """Raise when a column the role needs is absent."""
    for field in REQUIRED_FIELDS.get(role, ()):
        if field not in cols:
            names = ", ".join(COLUMN_ALIASES[field])
            raise src.error(f"has no {field} column ({names}); found {_names(df.columns)}")


def read_demand(path: str | os.PathLike, *, crs: str = "wgs84", id_prefix: str | None = None) -> gpd.GeoDataFrame:
    """Read demand: points or (Multi)Polygons (traffic zones, 社区) with a weight.

    Parameters
    ----------
    path
        Any format :func:`read_points` reads; vector files may hold polygons.
    crs
        The coordinates' system (:func:`geo.crs.parse_crs` vocabulary).
    id_prefix
        Prefix of generated ids ("D" by default).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 with ``id``, ``weight`` (float: from weight/权重, else
        population/人口, else households/户数, else 1.0), the other fields
        and ``geometry``. ``attrs["weight_column"]`` is the canonical field
        used (``"population"``...) or None, ``attrs["weight_source"]`` the
        file's header for it. Blank weights count as 0 with a warning.
    """
    gdf = read_points(path, role="demand", crs=crs, id_prefix=id_prefix)
    field = next((f for f in ("weight", "population", "households") if f in gdf.attrs["columns"]), None)
    if field is None:
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
            UserWarning, stacklevel=3,
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
    out.attrs.update(source_file=src.path.name, role="boundaries", crs=crs,
                     columns={"id": str(cols.get("id")), "name": str(name_col)})
    return out


def _boundary_name_column(src: _Source, columns: list, name_column: str | None, cols: dict) -> Any | None:
    if name_column is not None:
        for col in columns:
            if str(col) == name_column or _norm(col) == _norm(name_column):
                return col
        raise src.error(f"has no column '{name_column}'; found {_names(columns)}", column=name_column)
    taken = set(cols.values())
    return _pick(columns, BOUNDARY_NAME_ALIASES, "name", taken)


# --------------------------------------------------------------------------
# writing


# atomic_path lives in geo.atomic (one atomic writer for every module); re-exported here.


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


def _gcj_name(path: Path, system: str) -> Path:
    """Insert the coordinate system into a file name that does not mention it."""
    if system.lower() in path.name.lower():
        return path
    suffix = path.suffix if path.suffix.lower() in (".geojson", ".json") else ""
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return path.with_name(f"{stem}.{system}{suffix}")


def _geometry_json(geoms: gpd.GeoSeries) -> np.ndarray:
    """RFC 7946 geometry strings: coordinates rounded to 7 decimals, CCW outer rings."""
    arr = np.asarray(geoms.values)
    arr = shapely.transform(arr, lambda xy: np.round(xy, 7))
    arr = shapely.orient_polygons(arr, exterior_cw=False)
    arr = np.where(shapely.is_empty(arr), None, arr)
    out = shapely.to_geojson(arr)
    return np.where(pd.isna(out), "null", out)


def _properties_json(df: pd.DataFrame) -> list[str]:
    """One JSON object string per row (NaN -> null, numpy types -> JSON)."""
    if len(df) == 0:
        return []
    if len(df.columns) == 0:
        return ["{}"] * len(df)
    text = df.to_json(orient="records", lines=True, force_ascii=False, date_format="iso",
                      double_precision=10, default_handler=str)
    return text.rstrip("\n").split("\n")


def geojson_text(gdf: gpd.GeoDataFrame, *, out_crs: str = "wgs84", metadata: Mapping | None = None) -> str:
    """Serialise a layer as an RFC 7946 FeatureCollection (see :func:`write_geojson`)."""
    system = _crs.parse_crs(out_crs)
    if system not in ("wgs84", "gcj02"):
        raise ValueError(f"unknown --out-crs value {out_crs!r}: use wgs84 or gcj02")
    layer = gdf.set_crs("EPSG:4326") if gdf.crs is None else gdf.to_crs("EPSG:4326")
    if system == "gcj02":
        layer = _crs.geometry_from_wgs84(layer, "gcj02")
    geometry = _geometry_json(layer.geometry)
    props = _properties_json(pd.DataFrame(layer.drop(columns=layer.geometry.name)))
    features = ",\n".join(
        f'{{"type":"Feature","properties":{p},"geometry":{g}}}' for p, g in zip(props, geometry)
    )
    meta = _dumps({"crs": _crs.LABELS[system], **(metadata or {})}, indent=None)
    return f'{{"type":"FeatureCollection","lifecircle":{meta},"features":[\n{features}\n]}}\n'


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
    are counter-clockwise, NaN properties are null. Vectorised: 100k points
    take a fraction of a second.
    """
    system = _crs.parse_crs(out_crs)
    target = Path(path) if system != "gcj02" else _gcj_name(Path(path), "gcj02")
    text = geojson_text(gdf, out_crs=system, metadata=metadata)
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
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
