"""Column names a planner may use, in English and Chinese, matched to canonical fields."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "COLUMN_ALIASES",
    "COORD_FALLBACK",
    "BOUNDARY_NAME_ALIASES",
    "ROLES",
    "NUMERIC_FIELDS",
    "WHOLE_FIELDS",
    "TEXT_FIELDS",
    "REQUIRED_FIELDS",
    "find_columns",
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
    "qh",
    "区划",
    "区划名称",
    "区名",
    "街道",
    "街道名称",
    "社区",
    "社区名称",
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


_TEXT_KEYS = {_norm(a) for f in TEXT_FIELDS for a in COLUMN_ALIASES[f]}
