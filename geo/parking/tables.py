"""The parking tables read into arrays: each lot's usable spaces slot by slot, each compound's shortfall.

* **Supply** per lot (:func:`lot_supply`): usable spaces in slot ``s`` are
  ``floor(capacity x (1 - occupancy(s))) - reserved``, and 0 outside the open
  hours.  Occupancy comes from ``occ_00``..``occ_23`` or from a typical weekday
  profile of the lot's ``land_use`` (:data:`LAND_USE_PROFILES`).
* **Demand** per compound (:func:`residence_demand`): the night shortfall in
  cars and the window they need.

A bad value raises :class:`~geo.errors.InputError` naming the file, row and column.
Columns are read whole (one access per column, never per row).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, WindowError
from ..settings import DEFAULT_WINDOW
from .windows import DAY_MINUTES, TimeWindow, _check_slot_minutes, parse_window

__all__ = [
    "LAND_USE_ALIASES",
    "LAND_USE_PROFILES",
    "PROFILE_SOURCE",
    "LotSupply",
    "ResidenceDemand",
    "demand_windows",
    "lot_supply",
    "occupancy_profiles",
    "residence_demand",
]

#: Where :data:`LAND_USE_PROFILES` come from.
PROFILE_SOURCE = "typical shapes after ULI Shared Parking, 3rd ed., not calibrated to Shenzhen"

#: Typical weekday share of a lot's capacity occupied by its own users, hour by
#: hour (00:00-00:59 first).  Typical shapes after ULI Shared Parking, 3rd ed.
#: (weekday time-of-day presence x a peak accumulation below 100 %), not
#: calibrated to Shenzhen: offices are about 10 % full in the evening, malls
#: stay busy until about 21:00, hotels fill at night, hospitals stay fairly
#: full around the clock, industrial parks keep a night shift.
LAND_USE_PROFILES: dict[str, tuple[float, ...]] = {
    #            0     1     2     3     4     5     6     7     8     9    10    11
    #           12    13    14    15    16    17    18    19    20    21    22    23
    "office": (
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.05,
        0.25,
        0.65,
        0.88,
        0.95,
        0.95,
        0.88,
        0.88,
        0.95,
        0.95,
        0.88,
        0.65,
        0.35,
        0.15,
        0.10,
        0.08,
        0.05,
        0.03,
    ),
    "retail": (
        0.00,
        0.00,
        0.00,
        0.00,
        0.00,
        0.00,
        0.02,
        0.05,
        0.15,
        0.35,
        0.58,
        0.74,
        0.82,
        0.85,
        0.82,
        0.80,
        0.74,
        0.68,
        0.72,
        0.76,
        0.74,
        0.52,
        0.27,
        0.10,
    ),
    "hotel": (
        0.75,
        0.75,
        0.75,
        0.75,
        0.75,
        0.75,
        0.72,
        0.68,
        0.60,
        0.53,
        0.50,
        0.50,
        0.48,
        0.48,
        0.50,
        0.55,
        0.58,
        0.62,
        0.66,
        0.70,
        0.74,
        0.75,
        0.75,
        0.75,
    ),
    "industrial": (
        0.15,
        0.15,
        0.15,
        0.15,
        0.15,
        0.15,
        0.20,
        0.50,
        0.85,
        0.90,
        0.90,
        0.90,
        0.85,
        0.85,
        0.90,
        0.90,
        0.85,
        0.60,
        0.35,
        0.25,
        0.20,
        0.18,
        0.16,
        0.15,
    ),
    "hospital": (
        0.30,
        0.28,
        0.28,
        0.28,
        0.28,
        0.30,
        0.40,
        0.60,
        0.78,
        0.88,
        0.90,
        0.90,
        0.85,
        0.85,
        0.88,
        0.85,
        0.78,
        0.65,
        0.55,
        0.48,
        0.44,
        0.40,
        0.36,
        0.32,
    ),
}

#: Spellings of land uses (English and Chinese) -> profile key.
LAND_USE_ALIASES: dict[str, str] = {
    **{k: k for k in LAND_USE_PROFILES},
    "offices": "office",
    "办公": "office",
    "写字楼": "office",
    "商务": "office",
    "办公楼": "office",
    "commercial": "retail",
    "mall": "retail",
    "shop": "retail",
    "shopping": "retail",
    "商业": "retail",
    "商场": "retail",
    "购物中心": "retail",
    "零售": "retail",
    "hotels": "hotel",
    "酒店": "hotel",
    "宾馆": "hotel",
    "旅馆": "hotel",
    "industry": "industrial",
    "工业": "industrial",
    "产业园": "industrial",
    "厂房": "industrial",
    "园区": "industrial",
    "hospitals": "hospital",
    "医院": "hospital",
    "医疗": "hospital",
}

_OCC_RE = re.compile(r"^occ[_\s-]?(\d{1,2})$", re.IGNORECASE)


# =========================================================================
# table helpers: messages that name the file, row and column
# =========================================================================
def _where(frame: pd.DataFrame, default: str) -> tuple[str, str]:
    return str(frame.attrs.get("source_path") or frame.attrs.get("source_file") or default), frame.attrs.get(
        "row_label", "row"
    )


def _row_of(frame: pd.DataFrame, i: int) -> int:
    """The row as the planner sees it: the reader's provenance (:func:`geo.io.source_row`)."""
    from ..io import source_row

    row = source_row(frame, i)
    return i + 2 if row is None else row


def _column_of(frame: pd.DataFrame, field_name: str) -> str:
    return str(frame.attrs.get("columns", {}).get(field_name, field_name))


def _error(frame: pd.DataFrame, default: str, reason: str, i: int | None, field_name: str | None) -> InputError:
    file, label = _where(frame, default)
    row = None if i is None else _row_of(frame, i)
    col = None if field_name is None else _column_of(frame, field_name)
    return InputError(file, reason, row=row, column=col, row_label=label)


def _is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == ""


def _whole_column(frame: pd.DataFrame, name: str, default: str, *, required: bool, what: str) -> np.ndarray:
    """A whole, non-negative number per row (blank = 0 unless required); the column is read once."""
    if name not in frame.columns:
        if required:
            raise _error(frame, default, f"has no {name} column", None, None)
        return np.zeros(len(frame), dtype=np.int64)
    column = frame[name]
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(values)
    finite = np.where(missing, 0.0, values)
    bad_value = ~missing & ((finite < 0) | ~np.isfinite(finite) | (np.floor(finite) != finite))
    if missing.any() or bad_value.any():
        raw = column.to_numpy(dtype=object)
        bad_missing = missing.copy()
        if not required:
            bad_missing[missing] = [not _is_blank(v) for v in raw[missing]]
        bad = np.flatnonzero(bad_missing | bad_value)
        if bad.size:
            i = int(bad[0])
            if missing[i]:
                raise _error(frame, default, f"value '{raw[i]}' is not a number of {what}", i, name)
            raise _error(frame, default, f"value {raw[i]} is not a whole, non-negative number of {what}", i, name)
    return np.where(missing, 0.0, values).astype(np.int64)


def _ids(frame: pd.DataFrame) -> np.ndarray:
    return (
        frame["id"].astype(str).to_numpy()
        if "id" in frame.columns
        else np.array([str(i + 1) for i in range(len(frame))])
    )


def _texts(frame: pd.DataFrame, name: str) -> list[Any]:
    return list(frame[name]) if name in frame.columns else [None] * len(frame)


# =========================================================================
# supply
# =========================================================================
@dataclass
class LotSupply:
    """Usable spaces of each lot, slot by slot.

    Attributes
    ----------
    ids
        Lot ids, shape (L,).
    usable
        Spaces residents may use in each slot, shape (L, S), int64: after the
        occupancy profile, the reserved spaces, the open hours, the price limit
        and the per-lot cap.
    cap
        Most cars given to residents per lot (``lot_cap``), int64; a big number
        when uncapped.
    open_windows
        Each lot's open hours (None: all day).
    occupancy
        Share occupied by the lot's own users each hour, shape (L, 24).
    occupancy_source
        Where each lot's occupancy came from: ``"occ_00..occ_23"``, a land use,
        or ``"none"``.
    excluded_price
        True where the lot is above the price limit (it offers nothing).
    slot_minutes
        The slot length.
    """

    ids: np.ndarray
    usable: np.ndarray
    cap: np.ndarray
    open_windows: list[TimeWindow | None]
    occupancy: np.ndarray
    occupancy_source: list[str]
    excluded_price: np.ndarray
    slot_minutes: int

    @property
    def closed(self) -> np.ndarray:
        """True for lots with no open hours at all."""
        return np.array([w is not None and w.is_empty for w in self.open_windows], dtype=bool)


def _occ_columns(frame: pd.DataFrame, default: str) -> dict[int, str]:
    """Map hour -> column for ``occ_00``..``occ_23`` (all 24 or none)."""
    found: dict[int, str] = {}
    for col in frame.columns:
        match = _OCC_RE.match(str(col).strip())
        if match and int(match.group(1)) < 24:
            found[int(match.group(1))] = col
    if found and len(found) < 24:
        missing = ", ".join(f"occ_{h:02d}" for h in range(24) if h not in found)
        raise _error(
            frame, default, f"has occupancy columns but lacks {missing}: give all 24 occ_00..occ_23", None, None
        )
    return found


def _share(value: Any) -> float:
    """A share 0-1 from a number or a ``"35%"`` text; NaN when blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return float("nan")
    text = str(value).strip()
    if not text:
        return float("nan")
    if text.endswith(("%", "％")):
        return float(text[:-1]) / 100.0
    return float(text)


def _occupancy_row(
    frame: pd.DataFrame, default: str, i: int, occ_cols: dict[int, str], occ_raw: dict[int, np.ndarray]
) -> np.ndarray | None:
    """Hourly occupancy of row ``i`` from occ columns (``occ_raw``: each read once); None when all blank."""
    values = np.full(24, np.nan)
    for h, col in occ_cols.items():
        raw = occ_raw[h][i]
        try:
            values[h] = _share(raw)
        except ValueError:
            raise _error(
                frame, default, f"value '{raw}' is not a share occupied (0-1, or a percentage like 35%)", i, col
            ) from None
        if not np.isnan(values[h]) and not 0.0 <= values[h] <= 1.0:
            raise _error(
                frame, default, f"value {raw} is not a share between 0 and 1 (write 0.35 or 35% for 35 %)", i, col
            )
    if np.isnan(values).all():
        return None
    if np.isnan(values).any():
        h = int(np.flatnonzero(np.isnan(values))[0])
        raise _error(
            frame,
            default,
            "is blank while other hours of this lot are given; fill all 24 hours or none",
            i,
            occ_cols[h],
        )
    return values


def _land_use_profile(frame: pd.DataFrame, default: str, i: int, value: Any) -> tuple[np.ndarray, str]:
    if value is None or (isinstance(value, float) and math.isnan(value)) or not str(value).strip():
        return np.zeros(24), "none"
    key = LAND_USE_ALIASES.get(str(value).strip().lower())
    if key is None:
        known = ", ".join(LAND_USE_PROFILES)
        raise _error(
            frame,
            default,
            f"unknown land use '{value}': use one of {known} (or 办公/商业/酒店/工业/医院), or give occ_00..occ_23",
            i,
            "land_use",
        )
    return np.asarray(LAND_USE_PROFILES[key], dtype=float), key


def occupancy_profiles(lots: pd.DataFrame, *, default: str = "lots") -> tuple[np.ndarray, list[str]]:
    """Hourly share of each lot occupied by its own users.

    Parameters
    ----------
    lots
        Lots with optional ``occ_00``..``occ_23`` and/or ``land_use``; a row's
        occ values win over its land use; a lot with neither is empty (0).
    default
        Name for messages when the frame does not say which file it came from.

    Returns
    -------
    occupancy, source
        Shape (L, 24) shares, and where each row's profile came from.

    Raises
    ------
    InputError
        For an unknown land use, an occ value outside 0-1 or a partly blank row.
    """
    occ_cols = _occ_columns(lots, default)
    land = _texts(lots, "land_use")
    out = np.zeros((len(lots), 24))
    source: list[str] = []
    occ_raw = {h: lots[col].to_numpy(dtype=object) for h, col in occ_cols.items()}
    for i in range(len(lots)):
        row = _occupancy_row(lots, default, i, occ_cols, occ_raw) if occ_cols else None
        if row is not None:
            out[i], name = row, "occ_00..occ_23"
        else:
            out[i], name = _land_use_profile(lots, default, i, land[i])
        source.append(name)
    return out, source


def _windows(frame: pd.DataFrame, name: str, default: str, what: str) -> list[TimeWindow | None]:
    out = []
    for i, value in enumerate(_texts(frame, name)):
        try:
            out.append(parse_window(value, what=what))
        except WindowError as exc:
            raise _error(frame, default, str(exc), i, name) from None
    return out


def _lot_caps(lots: pd.DataFrame, lot_cap: int | Mapping[str, int] | None) -> np.ndarray:
    big = np.iinfo(np.int64).max // 4
    ids = _ids(lots)
    if lot_cap is None:
        return np.full(len(lots), big, dtype=np.int64)
    if isinstance(lot_cap, Mapping):
        caps = np.array([lot_cap.get(i, big) for i in ids], dtype=np.int64)
    else:
        caps = np.full(len(lots), lot_cap, dtype=np.int64)
    if (caps < 0).any():
        raise ValueError("lot_cap must be a whole, non-negative number of cars")
    return caps


def lot_supply(
    lots: pd.DataFrame,
    slot_minutes: int,
    *,
    price_limit: float | None = None,
    lot_cap: int | Mapping[str, int] | None = None,
) -> LotSupply:
    """Usable spaces of each lot in each slot of the day.

    ``usable(s) = floor(capacity x (1 - occupancy(s))) - reserved`` (at least 0),
    0 outside the open hours and for lots above the price limit, and at most
    ``lot_cap``.

    Parameters
    ----------
    lots
        ``id``, ``capacity`` and optionally ``open``, ``reserved``, ``price``,
        ``land_use``, ``occ_00``..``occ_23`` (as :func:`geo.io.read_points`
        returns them for ``role="lots"``).
    slot_minutes
        Slot length: 60, 30 or 15.
    price_limit
        Lots whose ``price`` (yuan/night) is above it offer nothing; a blank
        price passes.
    lot_cap
        Most cars given to residents per lot: one number for all, or per lot id.

    Returns
    -------
    LotSupply

    Raises
    ------
    InputError
        Naming the file, row and column, for a bad capacity, reserved count,
        open-hours text, land use or occupancy value.
    """
    slot_minutes = _check_slot_minutes(slot_minutes)
    default = "lots"
    capacity = _whole_column(lots, "capacity", default, required=True, what="parking spaces")
    reserved = _whole_column(lots, "reserved", default, required=False, what="parking spaces")
    occupancy, source = occupancy_profiles(lots, default=default)
    windows = _windows(lots, "open", default, "open hours")
    n_slots = DAY_MINUTES // slot_minutes
    hour_of_slot = (np.arange(n_slots) * slot_minutes) // 60
    occ = occupancy[:, hour_of_slot]
    free = np.floor(capacity[:, None] * (1.0 - occ) + 1e-9).astype(np.int64)
    usable = np.maximum(free - reserved[:, None], 0)
    for i, w in enumerate(windows):
        if w is not None:
            usable[i, ~w.slot_mask(slot_minutes, mode="within")] = 0
    excluded = _price_excluded(lots, price_limit)
    usable[excluded] = 0
    caps = _lot_caps(lots, lot_cap)
    usable = np.minimum(usable, caps[:, None])
    return LotSupply(_ids(lots), usable, caps, windows, occupancy, source, excluded, slot_minutes)


def _price_excluded(lots: pd.DataFrame, price_limit: float | None) -> np.ndarray:
    if price_limit is None or "price" not in lots.columns:
        return np.zeros(len(lots), dtype=bool)
    price = pd.to_numeric(lots["price"], errors="coerce").to_numpy(dtype=float)
    return np.nan_to_num(price, nan=-np.inf) > float(price_limit)


# =========================================================================
# demand
# =========================================================================
@dataclass
class ResidenceDemand:
    """Night shortfall of each compound and the slots its cars occupy.

    Attributes
    ----------
    ids
        Compound ids, shape (R,).
    demand
        Shortfall in cars, int64.
    windows
        The window each compound needs.
    need
        Slots its cars occupy, shape (R, S), bool.
    slot_minutes
        The slot length.
    """

    ids: np.ndarray
    demand: np.ndarray
    windows: list[TimeWindow]
    need: np.ndarray
    slot_minutes: int


def demand_windows(residences: pd.DataFrame, window: str | TimeWindow | None = None) -> list[TimeWindow]:
    """Each compound's window: ``window`` for all when given, else its own, else :data:`DEFAULT_WINDOW`.

    Raises
    ------
    InputError
        For a window text that cannot be read, or one with no hours.
    WindowError
        For a bad ``window`` override.
    """
    if window is not None:
        w = window if isinstance(window, TimeWindow) else parse_window(window, what="window")
        if w is None or w.is_empty:
            raise WindowError(f"window '{window}' has no hours; write it like {DEFAULT_WINDOW}")
        return [w] * len(residences)
    default = parse_window(DEFAULT_WINDOW)
    out = []
    for i, w in enumerate(_windows(residences, "window", "residences", "window")):
        if w is not None and w.is_empty:
            raise _error(
                residences, "residences", f"window '{w.text}' has no hours; write it like {DEFAULT_WINDOW}", i, "window"
            )
        out.append(w or default)
    return [w for w in out if w is not None]  # every entry is a window (the default is one)


def residence_demand(
    residences: pd.DataFrame, slot_minutes: int, *, window: str | TimeWindow | None = None
) -> ResidenceDemand:
    """Shortfalls and occupied slots of the compounds.

    Parameters
    ----------
    residences
        ``id``, ``demand`` (cars short at night) and optionally ``window``.
    slot_minutes
        Slot length: 60, 30 or 15.
    window
        Overrides every compound's own window.

    Returns
    -------
    ResidenceDemand

    Raises
    ------
    InputError
        For a bad demand value or window text, naming file, row and column.
    """
    slot_minutes = _check_slot_minutes(slot_minutes)
    demand = _whole_column(residences, "demand", "residences", required=True, what="cars")
    windows = demand_windows(residences, window)
    n_slots = DAY_MINUTES // slot_minutes
    need = np.zeros((len(residences), n_slots), dtype=bool)
    for i, w in enumerate(windows):
        need[i] = w.slot_mask(slot_minutes, mode="overlap")
    return ResidenceDemand(_ids(residences), demand, windows, need, slot_minutes)
