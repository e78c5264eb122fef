"""Reading files into plain tables: CSV (UTF-8, UTF-8 with BOM, GB18030/GBK), XLSX, GeoJSON,
GeoPackage and shapefiles, with the file-level checks (empty, binary, wrong extension,
broken encoding) that name the file."""

from __future__ import annotations

import io
import json
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError
from .columns import _TEXT_KEYS, _norm

__all__ = ["read_table"]


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
    "FeatureCollection",
    "Feature",
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
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
# reading files


def _check_path(path: Path) -> str:
    """Return the format of ``path`` or raise for missing, empty or unsupported files."""
    if not path.exists():
        if path.is_symlink():
            raise InputError(path, f"is a symbolic link to {os.readlink(path)}, which does not exist or loops back")
        raise InputError(path, f"file not found (looked for {path.absolute()})")
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
    bad = raw[start : start + 2].hex(" ").upper()
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
    sep = max(counts, key=lambda k: counts[k])
    return sep if counts[sep] else ","


def _csv_error(src: _Source, exc: Exception) -> InputError:
    """Turn a pandas parser error into a row-level message."""
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if m:
        want, line, saw = m.groups()
        return src.error(
            f"has {saw} values but the header has {want} columns (a value containing a comma must be in double quotes)",
            row=int(line),
        )
    m = re.search(r"EOF inside string starting at row (\d+)", str(exc))
    if m:
        return src.error(
            'a double quote (") opens a value that is never closed: close the quote or remove it',
            row=int(m.group(1)) + 1,
        )
    reason = re.sub(r"\bC error: ", "", str(exc))
    return src.error(f"could not be read as a CSV file: {reason}")


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
    body = text.encode("utf-8")  # the parser reads UTF-8 bytes several times faster than a StringIO of the text
    try:
        header = pd.read_csv(io.BytesIO(body), sep=sep, nrows=0, encoding="utf-8").columns
        dtype = {c: str for c in header if _norm(c) in _TEXT_KEYS}
        df = pd.read_csv(io.BytesIO(body), sep=sep, dtype=dtype, skip_blank_lines=False, encoding="utf-8")
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
        raise src.error(f"is not valid JSON: {exc.msg} at line {exc.lineno}, character {exc.colno}") from None
    except RecursionError:
        raise src.error("is not GeoJSON: its brackets are nested thousands of levels deep") from None
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


def _is_text(s: pd.Series) -> bool:
    """True for object or string columns."""
    return s.dtype == object or pd.api.types.is_string_dtype(s.dtype)


def _empty(raw: pd.Series) -> pd.Series:
    """True for missing or blank cells."""
    missing = raw.isna()
    if _is_text(raw):
        missing |= raw.astype(str).str.strip().eq("")
    return missing
