"""Streaming writers of large layers: GeoJSON features in chunks, GeoParquet and GeoPackage.

:func:`write_features` writes the features of a WGS84 layer to an open text
file ``chunk`` rows at a time, from whole columns: each column's distinct
values become JSON text once (pandas' compiled encoder), plain strings are
quoted in Arrow, and Arrow's kernels gather and join each row's texts between
the constant pieces of the feature, so a million residents never become a
million dicts nor a million formatted strings in Python (about 2 s of CPU
for 1M residents with 20 fields; without pyarrow the rows are joined in
Python, to the same bytes).
:func:`write_columnar` writes ``.parquet`` / ``.geoparquet`` (geopandas with
pyarrow) and ``.gpkg`` (pyogrio) files: the format follows the extension.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import shapely

from ..errors import OptionError

__all__ = [
    "CHUNK_ROWS",
    "COLUMNAR_SUFFIXES",
    "column_json",
    "polygon_json",
    "write_features",
    "write_columnar",
    "is_columnar",
]

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


def _point_coords(geoms: np.ndarray) -> np.ndarray | None:
    """Coordinates rounded to 7 decimals, shape (n, 2), when every geometry is a non-empty point, else None."""
    if geoms.size == 0 or not (shapely.get_type_id(geoms) == 0).all():
        return None
    xy = shapely.get_coordinates(geoms)
    if xy.shape[0] != geoms.size:  # an empty point has no coordinate: then some point is empty
        return None
    np.round(xy, 7, out=xy)
    return xy


def coordinate_json(values: np.ndarray) -> list[str]:
    """The shortest text of each 7-decimal coordinate (``repr``), through the compiled encoder.

    pandas' encoder writes the same digits as ``repr`` for every value of 1e-4 or
    more in size; the few smaller ones (and -0.0) are written by ``repr`` itself.
    """
    out = _numbers_json(values)
    for i in np.flatnonzero(np.abs(values) < 1e-4).tolist():
        out[i] = repr(float(values[i]))
    return out


def _arrow_coordinates(values: np.ndarray, pa: Any, pc: Any) -> Any:
    """:func:`coordinate_json` of ``values`` as an Arrow array of texts, cast by Arrow.

    Arrow's float-to-text cast writes the shortest round-trip digits, as ``repr`` does, for every
    value of 1e-4 to 1e4 in size (longitudes and latitudes) that is not a whole number (``118`` where ``repr`` writes
    ``118.0``); the whole, the smaller, the larger and the missing ones (few or none) are written
    by :func:`coordinate_json` itself.
    """
    arr = pc.cast(pa.array(values), pa.large_string())
    size = np.abs(values)
    odd = ~((size >= 1e-4) & (size < 1e4)) | (values == np.floor(values))
    if odd.any():
        fixed = pa.array(coordinate_json(values[odd]), type=pa.large_string())
        arr = pc.replace_with_mask(arr, pa.array(odd), fixed)
    return arr


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

    Each column of a chunk becomes JSON text once per distinct value
    (:func:`column_json` of the values :func:`pandas.factorize` finds), and the
    features are laid out as bytes by NumPy (:func:`_assemble`), not formatted
    one by one in Python.

    Parameters
    ----------
    fh
        An open text file (its bytes go straight to the binary buffer when it has one).
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
    keys = [json.dumps(str(c), ensure_ascii=False) + ":" for c in columns]
    head = ['{"type":"Feature","properties":{' + keys[0]] if keys else ['{"type":"Feature","properties":{']
    glue = head + ["," + k for k in keys[1:]]
    # a file's bytes go out on a second thread while the next chunk is laid out (the write itself is
    # the kernel copying some 500 MB for a million residents); at most one chunk waits
    writer = ThreadPoolExecutor(max_workers=1) if getattr(fh, "buffer", None) is not None and n > chunk else None
    pending = None
    try:
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            data = _chunk_bytes(frame, geoms, geometry_json, jsonable, where, glue, bool(columns), lo, hi, n)
            if pending is not None:
                pending.result()
            if writer is None:
                _write_bytes(fh, data)
            else:
                pending = writer.submit(_write_bytes, fh, data)
        if pending is not None:
            pending.result()
    finally:
        if writer is not None:
            writer.shutdown(wait=True)
    return n


def _chunk_bytes(
    frame: pd.DataFrame,
    geoms: np.ndarray,
    geometry_json: Callable[[np.ndarray], np.ndarray],
    jsonable: Callable[[Any], Any],
    where: list[int],
    glue: list[str],
    has_columns: bool,
    lo: int,
    hi: int,
    n: int,
) -> bytes | memoryview:
    """The bytes of features ``lo:hi`` (see :func:`write_features`)."""
    texts = [_column_texts(frame.iloc[lo:hi, j], jsonable) for j in where]
    g = geoms[lo:hi]
    xy = _point_coords(g)
    if xy is not None:
        pieces = [*glue, '},"geometry":{"type":"Point","coordinates":[', ",", "]}}"]
        arrow = _arrow()
        if arrow is not None:
            texts += [_arrow_coordinates(xy[:, 0], *arrow), _arrow_coordinates(xy[:, 1], *arrow)]
        else:
            texts += [_as_codes(coordinate_json(xy[:, 0])), _as_codes(coordinate_json(xy[:, 1]))]
    else:
        pieces = [*glue, '},"geometry":', "}"]
        texts.append(_as_codes(geometry_json(g).tolist()))
    if not has_columns:  # no properties: the first piece holds no key
        pieces[0] += pieces.pop(1)
    return _assemble(pieces, texts, hi - lo, last=hi == n)


def _as_codes(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """Texts as (distinct texts, index of each row's text) with every row its own text."""
    return texts, np.arange(len(texts))


#: A column's text for :func:`_assemble`: (distinct texts, each row's index), or a ready Arrow array of row texts.
_Texts = Any


def _column_texts(values: pd.Series, jsonable: Callable[[Any], Any]) -> _Texts:
    """A column's JSON texts: strings quoted in Arrow when none needs escaping, else :func:`_distinct_json`."""
    arrow = _arrow()
    if arrow is not None and (
        isinstance(values.dtype, pd.StringDtype)
        or (values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string")
    ):
        quoted = _arrow_quoted(values, *arrow)
        if quoted is not None:
            return quoted
    return _distinct_json(values, jsonable)


def _arrow_quoted(values: pd.Series, pa: Any, pc: Any) -> Any | None:
    """``"text"`` for every string (``null`` for a missing one) as an Arrow array; None when one needs escaping.

    ``json.dumps(..., ensure_ascii=False)`` escapes only ``"``, ``\\`` and the control characters
    below U+0020: a string without them is its own JSON text between quotes.
    """
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):  # a pandas column of Arrow strings joined from several frames
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    arr = arr.cast(pa.large_string())
    if pc.any(pc.match_substring_regex(arr, r'["\\\x00-\x1f]')).as_py():
        return None
    quote = pa.scalar('"', type=pa.large_string())
    return pc.fill_null(pc.binary_join_element_wise(quote, arr, quote, pa.scalar("", type=pa.large_string())), "null")


def _distinct_json(values: pd.Series, jsonable: Callable[[Any], Any]) -> tuple[list[str], np.ndarray]:
    """(JSON text of each distinct value, index of each row's text); a missing value is ``null``."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        # mixed objects: factorize would take 1, 1.0 and True for one value
        return _as_codes(column_json(values, jsonable))
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "b":  # no missing value in a numpy bool
        return ["false", "true", "null"], values.to_numpy().astype(np.int64)
    grid = _grid_codes(values)
    if grid is not None:
        return grid
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = column_json(pd.Series(uniques, dtype=values.dtype if len(uniques) else object), jsonable)
    texts.append("null")
    return texts, np.where(codes < 0, len(texts) - 1, codes)


#: Scales :func:`_grid_codes` tries: a float column rounded to 0 to 4 decimals.
_GRID_SCALES = (1.0, 10.0, 100.0, 1000.0, 10000.0)


def _grid_codes(values: pd.Series) -> tuple[list[str], np.ndarray] | None:
    """:func:`_distinct_json` of a float column whose values all lie on a decimal grid, without hashing.

    A distance rounded to 0.1 m is ``k / 10`` for a whole ``k`` (``np.round`` divides by the scale
    as this does), so its code is ``k`` less the smallest and the texts are those of each ``k / 10``
    in the span: the same floats, so the same text as :func:`pandas.factorize` and
    :func:`column_json` give (about 4x faster for a million distances).  None when a value is off
    every grid, a zero is negative, or the span is far wider than the column is long.
    """
    if not (isinstance(values.dtype, np.dtype) and values.dtype == np.float64) or len(values) == 0:
        return None
    v = values.to_numpy()
    if v[0] in (0.0, 1.0):  # a share of a point: 0.0 or 1.0 everywhere, in three passes
        ones = v == 1.0
        if (ones | (v == 0.0)).all() and not np.signbit(v).any():
            return ["0.0", "1.0", "null"], ones.astype(np.int64)
    finite = np.isfinite(v)
    every = bool(finite.all())
    w = v if every else v[finite]
    if w.size == 0:
        return None
    if np.signbit(w[w == 0]).any():
        return None
    lo, hi = float(w.min()), float(w.max())
    for scale in _GRID_SCALES:
        k = np.rint(w * scale)
        if not (k / scale == w).all():
            continue
        k_lo, k_hi = int(k.min()), int(k.max())
        span = k_hi - k_lo + 1
        if span > 4 * len(v) + 4096 or abs(lo) * scale > 2**52 or abs(hi) * scale > 2**52:
            return None
        texts = _grid_texts(scale, k_lo, k_hi)
        texts.append("null")
        if every:
            return texts, (k - k_lo).astype(np.int64)
        codes = np.full(len(v), span, dtype=np.int64)
        codes[finite] = (k - k_lo).astype(np.int64)
        return texts, codes
    return None


#: Texts of ``k / scale`` for ``k`` in ``0..len - 1``, by scale (:func:`_grid_texts`).
_GRID_TEXTS: dict[float, list[str]] = {}
#: The largest ``k`` whose text :func:`_grid_texts` keeps.
_GRID_KEEP = 1 << 20


def _grid_texts(scale: float, k_lo: int, k_hi: int) -> list[str]:
    """The JSON text of ``k / scale`` for each ``k`` in ``k_lo..k_hi`` (a new list).

    Every chunk of a million distances asks for the same ten thousand texts: those of
    ``0 <= k < 2**20`` are made once per scale and sliced.
    """
    if k_lo < 0 or k_hi >= _GRID_KEEP:
        return _numbers_json(np.arange(k_lo, k_hi + 1, dtype=np.float64) / scale)
    kept = _GRID_TEXTS.get(scale, [])
    if k_hi >= len(kept):  # a new, longer list replaces the old one whole (writers on other threads may be reading)
        size = min(_GRID_KEEP, max(1024, 1 << int(k_hi).bit_length()))
        kept = _numbers_json(np.arange(size, dtype=np.float64) / scale)
        _GRID_TEXTS[scale] = kept
    return kept[k_lo : k_hi + 1]


def _assemble(pieces: list[str], texts: list[_Texts], n: int, *, last: bool) -> bytes | memoryview:
    """The features' bytes: ``pieces[0] text[0] pieces[1] text[1] ... pieces[-1]`` per row, rows joined by ``,\\n``.

    With pyarrow, each column's texts are gathered by their codes and the row's
    pieces joined element-wise in Arrow's compiled kernels; the joined array's
    data buffer is the chunk's text.  Without it, rows are joined in Python.
    """
    pieces = [*pieces[:-1], pieces[-1] + ",\n"]
    cut = 2 if last else 0  # no separator after the layer's last feature
    pieces, texts = _merged(pieces, texts)
    arrow = _arrow()
    if arrow is None:
        whole = _joined(pieces, texts, n)
        return whole[: len(whole) - cut]
    pa, pc = arrow
    text_type = pa.large_string()
    args: list[Any] = []
    for i, piece in enumerate(pieces):
        args.append(pa.scalar(piece, type=text_type))
        if i < len(texts):
            if not isinstance(texts[i], tuple):  # already each row's text (:func:`_arrow_quoted`)
                args.append(texts[i])
                continue
            table, codes = texts[i]
            args.append(pc.take(pa.array(table, type=text_type), pa.array(codes, type=pa.int64())))
    joined = pc.binary_join_element_wise(*args, pa.scalar("", type=text_type))
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    _, offsets, data = joined.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[joined.offset : joined.offset + n + 1]
    return memoryview(data)[int(bounds[0]) : int(bounds[-1]) - cut]


#: Columns with at most this many distinct texts are merged with their neighbours (:func:`_merged`) ...
_FEW = 64
#: ... while the merged run has at most this many distinct texts.
_FEW_RUNS = 4096


def _merged(pieces: list[str], texts: list[_Texts]) -> tuple[list[str], list[_Texts]]:
    """Runs of neighbouring columns with few distinct texts as one column of their joined texts.

    Twelve ``covered_<kind>_<tier>`` columns of 0.0 and 1.0 take a few hundred
    distinct runs such as ``0.0,"covered_park_500":1.0,...``: one gather instead
    of twelve, and far fewer pieces for the row join.
    """
    out_pieces, out_texts = [pieces[0]], []
    i = 0
    while i < len(texts):
        if not (isinstance(texts[i], tuple) and len(texts[i][0]) <= _FEW):
            out_texts.append(texts[i])
            out_pieces.append(pieces[i + 1])
            i += 1
            continue
        table, codes = texts[i]
        j = i + 1
        while j < len(texts) and isinstance(texts[j], tuple) and len(texts[j][0]) <= _FEW:
            right, right_codes = texts[j]
            width = len(right)
            pair = codes * width + right_codes
            present = np.zeros(len(table) * width, dtype=bool)
            present[pair] = True
            runs = np.flatnonzero(present)
            if runs.size > _FEW_RUNS:
                break
            renumber = np.zeros(present.size, dtype=np.int64)
            renumber[runs] = np.arange(runs.size)
            sep = pieces[j]
            table = [table[a] + sep + right[b] for a, b in zip((runs // width).tolist(), (runs % width).tolist())]
            codes = renumber[pair]
            j += 1
        out_texts.append((table, codes))
        out_pieces.append(pieces[j])
        i = j
    return out_pieces, out_texts


#: Coordinates laid out per Arrow pass of :func:`polygon_json` (bounds its working memory).
POLYGON_BATCH_COORDS = 500_000


def polygon_json(geoms: np.ndarray) -> list[str] | None:
    """RFC 7946 texts of non-empty Polygons and MultiPolygons, without shapely's writer.

    The same geometries as ``shapely.to_geojson`` of the polygons rounded to 7
    decimals and oriented (exterior rings counter-clockwise, holes clockwise, by
    their signed areas in NumPy), each coordinate written with its shortest
    round-trip digits as the points are (:func:`coordinate_json`).  With pyarrow the
    texts are cast and joined by Arrow's kernels (about 0.7x the CPU of shapely's
    writer for service areas); without it, joined in Python, to the same texts.

    Parameters
    ----------
    geoms
        Shapely geometries.

    Returns
    -------
    list of str or None
        One text per geometry; None when some geometry is not a non-empty
        (Multi)Polygon (the caller then uses shapely's writer).
    """
    if geoms.size == 0:
        return None
    types = shapely.get_type_id(geoms)
    if not np.isin(types, (3, 6)).all() or shapely.is_empty(geoms).any():
        return None
    counts = np.cumsum(shapely.get_num_coordinates(geoms))
    cuts = np.searchsorted(counts, np.arange(POLYGON_BATCH_COORDS, int(counts[-1]), POLYGON_BATCH_COORDS))
    bounds = np.unique(np.concatenate([[0], cuts, [geoms.size]])).tolist()  # batches of about that many coordinates
    arrow = _arrow()
    out: list[str] = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        xy, offsets = _oriented_rings(geoms[lo:hi])
        single = types[lo:hi] == 3
        out += _polygon_texts_arrow(xy, offsets, single, *arrow) if arrow else _polygon_texts(xy, offsets, single)
    return out


_POLYGON_HEAD = '{"type":"Polygon","coordinates":'
_MULTI_HEAD = '{"type":"MultiPolygon","coordinates":['


def _oriented_rings(geoms: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Coordinates rounded to 7 decimals in oriented ring order, and the ring, part and geometry offsets."""
    kind, xy, offsets = shapely.to_ragged_array(geoms)
    if kind == shapely.GeometryType.POLYGON:
        ring_off, part_off = offsets
        geom_off = np.arange(geoms.size + 1)
    else:
        ring_off, part_off, geom_off = offsets
    ring_off, part_off = ring_off.astype(np.int64), part_off.astype(np.int64)
    xy = np.round(xy[:, :2], 7)
    return xy[_oriented_order(xy, ring_off, part_off)], (ring_off, part_off, np.asarray(geom_off, dtype=np.int64))


def _polygon_texts_arrow(xy: np.ndarray, offsets: tuple, single: np.ndarray, pa: Any, pc: Any) -> list[str]:
    """The texts of :func:`polygon_json`, cast and joined by Arrow."""
    ring_off, part_off, geom_off = offsets

    def text(t: str) -> Any:
        return pa.scalar(t, type=pa.large_string())

    def nest(offsets: np.ndarray, values: Any, head: str, tail: str, sep: str = ",") -> Any:
        lists = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), values)
        return pc.binary_join_element_wise(text(head), pc.binary_join(lists, text(sep)), text(tail), text(""))

    pairs = pc.binary_join_element_wise(
        _arrow_coordinates(xy[:, 0], pa, pc), _arrow_coordinates(xy[:, 1], pa, pc), text(",")
    )
    rings = nest(ring_off, pairs, "[[", "]]", "],[")
    parts = nest(part_off, rings, "[", "]")
    multi = nest(geom_off, parts, _MULTI_HEAD, "]}")
    first = pc.take(parts, pa.array(geom_off[:-1], type=pa.int64()))
    one = pc.binary_join_element_wise(text(_POLYGON_HEAD), first, text("}"), text(""))
    return pc.if_else(pa.array(single), one, multi).to_pylist()


def _polygon_texts(xy: np.ndarray, offsets: tuple, single: np.ndarray) -> list[str]:
    """The texts of :func:`polygon_json`, joined in Python (no pyarrow)."""
    ring_off, part_off, geom_off = offsets
    pairs = [f"[{x},{y}]" for x, y in zip(coordinate_json(xy[:, 0]), coordinate_json(xy[:, 1]))]
    rings = ["[" + ",".join(pairs[a:b]) + "]" for a, b in zip(ring_off[:-1].tolist(), ring_off[1:].tolist())]
    parts = ["[" + ",".join(rings[a:b]) + "]" for a, b in zip(part_off[:-1].tolist(), part_off[1:].tolist())]
    out = []
    for k, (a, b) in enumerate(zip(geom_off[:-1].tolist(), geom_off[1:].tolist())):
        out.append(_POLYGON_HEAD + parts[a] + "}" if single[k] else _MULTI_HEAD + ",".join(parts[a:b]) + "]}")
    return out


def _oriented_order(xy: np.ndarray, ring_off: np.ndarray, part_off: np.ndarray) -> np.ndarray:
    """Order of the coordinates with each exterior ring counter-clockwise and each hole
    clockwise (rings whose signed area has the wrong sign are reversed)."""
    n = xy.shape[0]
    ring = np.repeat(np.arange(ring_off.size - 1), np.diff(ring_off))
    nxt = np.minimum(np.arange(1, n + 1), n - 1)  # the closing vertex's "next" is masked below
    last = np.zeros(n, dtype=bool)
    last[ring_off[1:] - 1] = True  # a ring's closing coordinate starts no edge
    rel = xy - xy[ring_off[:-1]][ring]  # about each ring's first vertex: no cancellation in tiny rings
    term = np.where(last, 0.0, rel[:, 0] * rel[nxt, 1] - rel[nxt, 0] * rel[:, 1])
    area = np.bincount(ring, weights=term, minlength=ring_off.size - 1)
    exterior = np.zeros(ring_off.size - 1, dtype=bool)
    exterior[part_off[:-1]] = True
    flip = (exterior & (area < 0)) | (~exterior & (area > 0))
    order = np.arange(n)
    if flip.any():
        f = flip[ring]
        start, end = ring_off[:-1][ring[f]], ring_off[1:][ring[f]]
        order[f] = start + end - 1 - order[f]
    return order


def _arrow() -> tuple[Any, Any] | None:
    """pyarrow and pyarrow.compute, or None when pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        return None
    return pa, pc


def _joined(pieces: list[str], texts: list[tuple[list[str], np.ndarray]], n: int) -> bytes:
    """The same bytes as :func:`_assemble`, joined row by row in Python."""
    cols = [[text[c] for c in codes.tolist()] for text, codes in texts]
    tmpl = "%s".join(p.replace("%", "%%") for p in pieces)
    return "".join(map(tmpl.__mod__, zip(*cols))).encode("utf-8")


def _write_bytes(fh: IO[str], data: bytes | memoryview) -> None:
    """Write UTF-8 bytes to a text file: to its binary buffer when it has one (no decoding)."""
    buffer = getattr(fh, "buffer", None)
    if buffer is not None:
        fh.flush()
        buffer.write(data)
    else:
        fh.write(bytes(data).decode("utf-8"))


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
    import warnings

    import pyogrio

    meta = json.dumps(metadata or {}, ensure_ascii=False, default=str)
    with warnings.catch_warnings():  # GDAL would warn that the temporary name does not end in .gpkg
        warnings.filterwarnings("ignore", message="The filename extension should be", category=RuntimeWarning)
        pyogrio.write_dataframe(
            layer,
            tmp,
            driver="GPKG",
            layer=layer_name,
            layer_options={"DESCRIPTION": meta},
            promote_to_multi=False,
            use_arrow=_arrow() is not None,  # through Arrow: 1M points in 8 s of CPU instead of 13
        )
