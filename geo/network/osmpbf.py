"""Read the ways and node locations of an OpenStreetMap file into flat NumPy arrays.

A city's ``.osm.pbf`` holds millions of ways; pyosmium hands each one to Python
as an object (about 11 us per way before any work is done), which made reading
the file most of ``lifecircle network --osm``.  :func:`read_pbf` decodes the
PBF format itself with NumPy instead: each compressed block is inflated with
:mod:`zlib`, and the protobuf varints of a whole block (way ids, node refs,
tag keys and values, dense node ids and coordinates) are decoded at once.
Only the blob headers, the fields of a block and its string table are walked
in Python, so the cost per way is a few array elements.

Coordinates are the fixed-point values libosmium computes (1e-7 degrees,
``(offset + granularity * value) / 100`` truncated toward zero), so the result
is exactly what pyosmium's ``with_locations()`` reports.  A file this reader
does not decode (lz4 or zstd blobs, plain non-dense nodes, history files,
locations stored on ways) raises :class:`PbfUnsupported`; :func:`read_osm`
then reads it with pyosmium into the same arrays, as it does ``.osm`` XML.

The PBF layout: https://wiki.openstreetmap.org/wiki/PBF_Format
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["WayArrays", "PbfUnsupported", "read_osm", "read_pbf", "read_with_pyosmium"]

#: Features of a PBF file this reader decodes (anything else goes to pyosmium).
_KNOWN_REQUIRED = frozenset({"OsmSchema-V0.6", "DenseNodes"})


class PbfUnsupported(Exception):
    """The file uses a PBF feature :func:`read_pbf` does not decode."""


@dataclass
class WayArrays:
    """The ways of an OSM file that have the first key asked for, and the locations of the file's nodes.

    Attributes
    ----------
    refs
        Node ids of every way, one way after another, shape (R,).
    offsets
        Way ``w``'s nodes are ``refs[offsets[w]:offsets[w+1]]``, shape (W+1,).
    tags
        ``tags[w, k]`` indexes ``strings`` with way ``w``'s value of key ``k``
        (the keys asked for), -1 when the way has no such tag; shape (W, K).
    strings
        The distinct tag values.
    node_id
        Ids of the nodes with a location, sorted, shape (N,).
    node_x, node_y
        Their longitude and latitude in 1e-7 degrees (libosmium's fixed point), shape (N,).
    """

    refs: np.ndarray
    offsets: np.ndarray
    tags: np.ndarray
    strings: list[str]
    node_id: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray


# ------------------------------------------------------------- varints
def _varint_at(buf: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode the varint starting at each position: (value as uint64, its length in bytes, 0 if none ends there)."""
    last = buf.shape[0] - 1
    value = np.zeros(pos.shape[0], dtype=np.uint64)
    size = np.zeros(pos.shape[0], dtype=np.int64)
    open_ = np.ones(pos.shape[0], dtype=bool)
    for k in range(10):
        byte = buf[np.minimum(pos + k, last)].astype(np.uint64)
        value |= np.where(open_, (byte & np.uint64(0x7F)) << np.uint64(7 * k), np.uint64(0))
        ends = open_ & (byte < 0x80)
        size[ends] = k + 1
        open_ &= ~ends
        if not open_.any():
            break
    size[pos + np.maximum(size, 1) - 1 > last] = 0  # ran past the end of the buffer
    return value, size


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, s + c)`` for each start and count."""
    counts = counts.astype(np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    before = np.cumsum(counts) - counts
    return np.repeat(starts.astype(np.int64) - before, counts) + np.arange(total, dtype=np.int64)


def _packed(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode packed varint fields (one byte range per message): (all values as uint64, values per message)."""
    data = buf[_ranges(starts, lengths)]
    if data.size == 0:
        return np.empty(0, dtype=np.uint64), np.zeros(starts.shape[0], dtype=np.int64)
    region_end = np.cumsum(lengths)[lengths > 0] - 1
    if (data[region_end] >= 0x80).any():
        raise PbfUnsupported("a packed field ends inside a varint")
    ends = np.flatnonzero(data < 0x80)
    first = np.concatenate([[0], ends[:-1] + 1])
    if ends.shape[0] == data.shape[0]:
        values = data.astype(np.uint64)
    else:
        shift = (np.arange(data.shape[0]) - np.repeat(first, ends - first + 1)) * 7
        if shift.max() > 63:
            raise PbfUnsupported("a varint longer than ten bytes")
        parts = (data & 0x7F).astype(np.uint64) << shift.astype(np.uint64)
        values = np.add.reduceat(parts, first)  # the 7-bit groups never overlap: a sum is an or
    bounds = np.searchsorted(ends, np.cumsum(lengths) - 1, side="right")
    return values, np.diff(np.concatenate([[0], bounds]))


def _zigzag(values: np.ndarray) -> np.ndarray:
    """Protobuf ``sint64`` values from their zigzag encoding."""
    return (values >> np.uint64(1)).astype(np.int64) ^ -(values & np.uint64(1)).astype(np.int64)


def _delta(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Undo the delta coding of each message's run of values."""
    total = np.cumsum(values)
    before = np.concatenate([[0], total])[np.cumsum(counts) - counts]
    return total - np.repeat(before, counts)


# -------------------------------------------------------------- messages
def _fields(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """Walk one small message: (field, wire type, value or payload start, payload length) per field."""
    out = []
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((field, 0, value, 0))
        elif wire == 2:
            size, pos = _varint(buf, pos)
            out.append((field, 2, pos, size))
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise PbfUnsupported(f"wire type {wire}")
    if pos != end:
        raise PbfUnsupported("a message runs past its end")
    return out


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """One varint at ``pos``: (value, position after it)."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise PbfUnsupported("a varint longer than ten bytes")


def _repeated(buf: np.ndarray, start: int, end: int, tag: int) -> tuple[np.ndarray, np.ndarray]:
    """Payload starts and lengths of a run of length-delimited fields with one tag byte.

    Every byte equal to the tag is a candidate start, and each candidate's
    length names the next one.  The run is the chain of candidates from
    ``start`` to exactly ``end``, found by pointer doubling (every candidate
    reachable in 1, 2, 4, ... steps) rather than one step at a time.
    """
    cand = start + np.flatnonzero(buf[start:end] == tag)
    if cand.size == 0 or cand[0] != start:
        raise PbfUnsupported("a group of mixed elements")
    n = cand.size
    size, width = _varint_at(buf, cand + 1)
    payload = cand + 1 + width
    after = payload + size.astype(np.int64)
    nxt = np.searchsorted(cand, after)
    ok = (width > 0) & (nxt < n) & (cand[np.minimum(nxt, n - 1)] == after)
    jump = np.where(ok, nxt, n + 1)  # n: the end of the run, n + 1: a dead end
    jump[(width > 0) & (after == end)] = n
    jump = np.r_[jump, n, n + 1]
    reached = np.zeros(n + 2, dtype=bool)
    reached[0] = True
    frontier = np.array([0])
    while True:
        step = jump[frontier]
        if reached[step].all():
            break
        reached[step] = True
        frontier = np.flatnonzero(reached)
        jump = jump[jump]
    if not reached[n] or reached[n + 1]:
        raise PbfUnsupported("a group of mixed elements")
    picked = np.flatnonzero(reached[:n])
    return payload[picked], size[picked].astype(np.int64)


def _message_fields(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, wanted: Sequence[int]
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Walk many messages at once, field by field.

    Returns, for each wanted field number, (message index, value or payload
    start, payload length) of every occurrence, in message order.
    """
    found: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {f: [] for f in wanted}
    msg = np.arange(starts.shape[0])
    pos = starts.astype(np.int64)
    while msg.size:
        live = pos < ends[msg]
        if not live.all():
            if (pos[~live] != ends[msg[~live]]).any():
                raise PbfUnsupported("a message runs past its end")
            msg, pos = msg[live], pos[live]
            if not msg.size:
                break
        key, width = _varint_at(buf, pos)
        if (width == 0).any():
            raise PbfUnsupported("a field key runs past its block")
        pos = pos + width
        field, wire = (key >> np.uint64(3)).astype(np.int64), (key & np.uint64(7)).astype(np.int64)
        value, width = _varint_at(buf, pos)
        if (width[(wire == 0) | (wire == 2)] == 0).any():
            raise PbfUnsupported("a field value runs past its block")
        value = value.astype(np.int64)
        step = np.select([wire == 0, wire == 2, wire == 1, wire == 5], [width, width + value, 8, 4], -1)
        if (step < 0).any():
            raise PbfUnsupported("an unknown wire type")
        for f in wanted:
            hit = field == f
            if hit.any():
                payload = np.where(wire[hit] == 2, pos[hit] + width[hit], value[hit])
                found[f].append((msg[hit], payload, np.where(wire[hit] == 2, value[hit], 0)))
        pos = pos + step
    out = {}
    for f, parts in found.items():
        if not parts:
            out[f] = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
            continue
        m, p, n = (np.concatenate(x) for x in zip(*parts))
        order = np.argsort(m, kind="stable")
        out[f] = (m[order], p[order], n[order])
    return out


# ---------------------------------------------------------------- blocks
class _Block:
    """One decoded ``PrimitiveBlock``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.buf = np.frombuffer(data, dtype=np.uint8)
        self.granularity, self.lat_offset, self.lon_offset = 100, 0, 0
        self.groups: list[tuple[int, int]] = []
        self.table: tuple[int, int] = (0, 0)
        for field, _, value, size in _fields(data, 0, len(data)):
            if field == 1:
                self.table = (value, size)
            elif field == 2:
                self.groups.append((value, size))
            elif field == 17:
                self.granularity = value
            elif field == 19:
                self.lat_offset = value - (1 << 64) if value >= 1 << 63 else value
            elif field == 20:
                self.lon_offset = value - (1 << 64) if value >= 1 << 63 else value
        self._strings: tuple[np.ndarray, np.ndarray] | None = None

    def strings(self) -> tuple[np.ndarray, np.ndarray]:
        """Starts and lengths of the string table's entries."""
        if self._strings is None:
            start, size = self.table
            if size == 0:
                self._strings = (np.empty(0, np.int64), np.empty(0, np.int64))
            else:
                self._strings = _repeated(self.buf, start, start + size, 0x0A)
        return self._strings

    def string(self, index: int) -> str:
        starts, sizes = self.strings()
        s = int(starts[index])
        return self.data[s : s + int(sizes[index])].decode("utf-8", "replace")

    def fixed(self, values: np.ndarray, offset: int) -> np.ndarray:
        """libosmium's fixed-point coordinate (1e-7 degrees) of PBF coordinate values."""
        nano = values * self.granularity + offset
        return (np.sign(nano) * (np.abs(nano) // 100)).astype(np.int32)  # C++ division truncates toward zero


def _blobs(path: Path):
    """Yield (type, decompressed payload) of each blob of a PBF file."""
    with open(path, "rb") as fh:
        while True:
            head = fh.read(4)
            if not head:
                return
            if len(head) < 4:
                raise PbfUnsupported("truncated")
            (size,) = struct.unpack(">I", head)
            header = fh.read(size)
            kind, datasize = "", 0
            for field, _, value, length in _fields(header, 0, len(header)):
                if field == 1:
                    kind = header[value : value + length].decode("ascii", "replace")
                elif field == 3:
                    datasize = value
            blob = fh.read(datasize)
            if len(blob) < datasize or len(header) < size:
                raise PbfUnsupported("truncated")
            yield kind, _inflate(blob)


def _inflate(blob: bytes) -> bytes:
    for field, wire, value, length in _fields(blob, 0, len(blob)):
        if wire != 2:
            continue
        payload = blob[value : value + length]
        if field == 1:
            return payload
        if field == 3:
            return zlib.decompress(payload)
        if field == 4:
            return lzma.decompress(payload)
        raise PbfUnsupported(f"blob compression field {field} (lz4, zstd or bzip2)")
    raise PbfUnsupported("an empty blob")


def _check_header(data: bytes) -> None:
    for field, wire, value, length in _fields(data, 0, len(data)):
        text = data[value : value + length].decode("utf-8", "replace") if wire == 2 else ""
        if field == 4 and text not in _KNOWN_REQUIRED:
            raise PbfUnsupported(f"required feature {text}")
        if field == 5 and text == "LocationsOnWays":
            raise PbfUnsupported("locations on ways")


class _Collector:
    """Gathers the arrays of every block."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = [k.encode() for k in keys]
        self.strings: dict[str, int] = {}
        self.nodes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.refs: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.tags: list[np.ndarray] = []

    def dense(self, block: _Block, start: int, size: int) -> None:
        f = _message_fields(block.buf, np.array([start]), np.array([start + size]), (1, 8, 9))
        (_, ids_at, ids_len), (_, lat_at, lat_len), (_, lon_at, lon_len) = f[1], f[8], f[9]
        ids, n = _packed(block.buf, ids_at, ids_len)
        lat, n_lat = _packed(block.buf, lat_at, lat_len)
        lon, n_lon = _packed(block.buf, lon_at, lon_len)
        if not (n.sum() == n_lat.sum() == n_lon.sum()):
            raise PbfUnsupported("dense nodes of different lengths")
        self.nodes.append(
            (
                np.cumsum(_zigzag(ids)),
                block.fixed(np.cumsum(_zigzag(lon)), block.lon_offset),
                block.fixed(np.cumsum(_zigzag(lat)), block.lat_offset),
            )
        )

    def ways(self, block: _Block, start: int, size: int) -> None:
        """Keep the block's ways that have the first key: their refs and tag codes."""
        at, length = _repeated(block.buf, start, start + size, 0x1A)
        f = _message_fields(block.buf, at, at + length, (2, 3, 8))
        n_ways = at.shape[0]
        keys, n_keys = self._per_way(block, f[2], n_ways)
        vals, n_vals = self._per_way(block, f[3], n_ways)
        if not np.array_equal(n_keys, n_vals):
            raise PbfUnsupported("ways with different numbers of keys and values")
        codes = self._tag_codes(block, keys.astype(np.int64), vals.astype(np.int64), n_keys)
        keep = codes[:, 0] >= 0  # buildings, land use, ...: their refs are never decoded
        msg, ref_at, ref_len = f[8]
        chosen = keep[msg]
        renumber = np.cumsum(keep) - 1
        refs, counts = self._per_way(block, (renumber[msg[chosen]], ref_at[chosen], ref_len[chosen]), int(keep.sum()))
        self.refs.append(_delta(_zigzag(refs), counts))
        self.counts.append(counts)
        self.tags.append(codes[keep])

    @staticmethod
    def _per_way(block: _Block, field: tuple[np.ndarray, np.ndarray, np.ndarray], n_ways: int):
        msg, at, length = field
        values, per_field = _packed(block.buf, at, length)
        counts = np.bincount(msg, weights=per_field, minlength=n_ways).astype(np.int64)
        return values, counts

    def _tag_codes(self, block: _Block, keys: np.ndarray, vals: np.ndarray, n_keys: np.ndarray) -> np.ndarray:
        """Per way, the global code of its value of each wanted key (-1: no such tag)."""
        codes = np.full((n_keys.shape[0], len(self.keys)), -1, dtype=np.int32)
        if keys.size == 0:
            return codes
        starts, sizes = block.strings()
        if keys.max() >= starts.shape[0] or vals.max() >= starts.shape[0]:
            raise PbfUnsupported("a tag outside the string table")
        way = np.repeat(np.arange(n_keys.shape[0]), n_keys)
        used = np.flatnonzero(np.bincount(keys))  # string indices are small: no sort needed
        names = {block.data[int(starts[i]) : int(starts[i] + sizes[i])]: int(i) for i in used}
        for k, key in enumerate(self.keys):
            if key not in names:
                continue
            hit = np.flatnonzero(keys == names[key])
            last = np.r_[way[hit][1:] != way[hit][:-1], True]  # a repeated key: the last value wins
            hit = hit[last]
            distinct = np.flatnonzero(np.bincount(vals[hit]))
            table = np.full(distinct[-1] + 1, -1, dtype=np.int32)
            table[distinct] = [self._code(block.string(int(i))) for i in distinct]
            codes[way[hit], k] = table[vals[hit]]
        return codes

    def _code(self, text: str) -> int:
        return self.strings.setdefault(text, len(self.strings))

    def result(self) -> WayArrays:
        counts = np.concatenate(self.counts) if self.counts else np.empty(0, np.int64)
        if self.nodes:
            ids, x, y = (np.concatenate(p) for p in zip(*self.nodes))
        else:
            ids, x, y = np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.int32)
        return _finish(
            np.concatenate(self.refs) if self.refs else np.empty(0, np.int64),
            counts,
            np.concatenate(self.tags) if self.tags else np.empty((0, len(self.keys)), np.int32),
            list(self.strings),
            ids,
            x,
            y,
        )


def _finish(refs, counts, tags, strings, ids, x, y) -> WayArrays:
    """Sort the node table by id (the last location of a repeated id wins, as in libosmium's index)."""
    order = np.argsort(ids, kind="stable")
    ids, x, y = ids[order], x[order], y[order]
    if ids.size > 1 and (ids[1:] == ids[:-1]).any():
        last = np.r_[ids[1:] != ids[:-1], True]
        ids, x, y = ids[last], x[last], y[last]
    return WayArrays(
        refs=np.asarray(refs, dtype=np.int64),
        offsets=np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]),
        tags=np.asarray(tags, dtype=np.int32),
        strings=strings,
        node_id=ids.astype(np.int64),
        node_x=x.astype(np.int32),
        node_y=y.astype(np.int32),
    )


def read_pbf(path: str | Path, keys: Sequence[str]) -> WayArrays:
    """Read an ``.osm.pbf`` file's ways and dense nodes with NumPy.

    Parameters
    ----------
    path
        The file.
    keys
        Tag keys whose values to report per way (``tags`` columns in this order).

    Raises
    ------
    PbfUnsupported
        When the file uses a feature this reader does not decode.
    zlib.error, lzma.LZMAError, OSError
        When the file is not readable.
    """
    collect = _Collector(keys)
    for kind, data in _blobs(Path(path)):
        if kind == "OSMHeader":
            _check_header(data)
            continue
        if kind != "OSMData":
            continue
        block = _Block(data)
        for start, size in block.groups:
            if size == 0:
                continue
            first = data[start]
            if first == 0x12:
                for field, _, value, length in _fields(data, start, start + size):
                    if field != 2:
                        raise PbfUnsupported("a group of mixed elements")
                    collect.dense(block, value, length)
            elif first == 0x1A:
                collect.ways(block, start, size)
            elif first == 0x0A:
                raise PbfUnsupported("plain (non-dense) nodes")
            # relations and changesets are not needed
    return collect.result()


def read_with_pyosmium(path: str | Path, keys: Sequence[str]) -> WayArrays:
    """Read any OSM file pyosmium reads (``.osm`` XML, any ``.osm.pbf``) into the same arrays.

    Only ways with the first key are kept; a node's location is what
    pyosmium's ``with_locations()`` gives it, and a node without one is left
    out of the node table.
    """
    import osmium

    strings: dict[str, int] = {}
    refs: list[int] = []
    counts: list[int] = []
    tags: list[int] = []
    located: dict[int, tuple[int, int]] = {}
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter(keys[0]))
    )
    for way in processor:
        if not isinstance(way, osmium.osm.Way):
            continue
        n = 0
        for nd in way.nodes:
            refs.append(nd.ref)
            n += 1
            if nd.location.valid():
                located[nd.ref] = (nd.location.x, nd.location.y)
        counts.append(n)
        for key in keys:
            value = way.tags.get(key)
            tags.append(-1 if value is None else strings.setdefault(value, len(strings)))
    ids = np.fromiter(located, dtype=np.int64, count=len(located))
    xy = np.array(list(located.values()), dtype=np.int64).reshape(-1, 2)
    return _finish(
        np.asarray(refs, dtype=np.int64),
        np.asarray(counts, dtype=np.int64),
        np.asarray(tags, dtype=np.int32).reshape(-1, len(keys)),
        list(strings),
        ids,
        xy[:, 0],
        xy[:, 1],
    )


def read_osm(path: str | Path, keys: Sequence[str]) -> WayArrays:
    """Read an OSM file: :func:`read_pbf` for the ``.pbf`` files it decodes, pyosmium for the rest."""
    path = Path(path)
    if path.name.lower().endswith(".pbf"):
        try:
            return read_pbf(path, keys)
        except (PbfUnsupported, zlib.error, lzma.LZMAError, UnicodeDecodeError, IndexError, ValueError, OverflowError):
            pass  # a damaged or unusual file: pyosmium reads it, or says what is wrong with it
    return read_with_pyosmium(path, keys)
