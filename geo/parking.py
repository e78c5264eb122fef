"""Shared night parking (错时共享停车): spare spaces in commercial lots for short compounds.

A street office pools the night-time spaces of office buildings, malls,
hotels, industrial parks and hospitals and gives them to residential
compounds (小区) short of spaces at night.  This module holds the whole
computation, on the walking network:

* **Time windows** (:func:`parse_window`): ``"19:00-08:00"`` crosses midnight,
  ``"19:00-07:30"`` has half hours; several pieces may be joined with commas.
  Windows are daily and recurring, so they live on a 24-hour circular grid of
  30-minute slots, or 15-minute slots when a time needs them
  (:func:`choose_slot_minutes`).  A car occupies every slot its window
  overlaps; a lot is open in a slot only when the slot lies wholly inside its
  open hours.
* **Supply** per lot (:func:`lot_supply`): usable spaces in slot ``s`` are
  ``floor(capacity x (1 - occupancy(s))) - reserved``, and 0 outside the open
  hours.  Occupancy comes from ``occ_00``..``occ_23`` (shares occupied by the
  lot's own users each hour) or from a typical weekday profile of its
  ``land_use`` (:data:`LAND_USE_PROFILES`); a lot with neither offers its
  whole capacity (less ``reserved``) in every open hour.  A blank ``open``
  means open all day; ``open = "closed"`` (or 不开放) means no open hours: such
  a lot simply offers nothing, and the result notes it.
* **Demand** per compound (:func:`residence_demand`): the night shortfall in
  cars and the window they need (``window``; default :data:`DEFAULT_WINDOW`).
* **Walking distances** (:func:`walk_pairs`): one bounded search per point of
  the smaller side, exact point-to-point network distances (same-edge case
  included) with :func:`geo.reach.point_distances`; only pairs within the
  walking limit are kept (sparse).
* **Matching** (:class:`ParkingProblem`): optimal and lexicographic - first the
  most cars placed, then the least total walking.  Every slot's capacity is
  checked lot by lot.  When the slot rows of every lot reduce to one (all
  windows alike, or a lot's usable spaces constant over them) the problem is a
  transportation problem, a min-cost flow solved as an LP by HiGHS' simplex
  (its vertices are integral); otherwise a MIP with HiGHS, integer cars per
  pair.  No metaheuristics.
* **Options**: a fairness floor, per-lot caps and a price limit.

The output (:class:`ParkingResult`) gives the pairs (compound, lot, cars,
walking metres, window and hours), how much of each compound's gap is closed,
the spaces each lot uses slot by slot, and the share of the total night gap
that is closed (:meth:`ParkingResult.summary`).

Everything here is computation: no Panel or folium imports.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .io import InputError
from .errors import WindowError
from .settings import DEFAULT_MAX_WALK_M, DEFAULT_WINDOW  # noqa: F401 (re-exported)

__all__ = [
    "DEFAULT_MAX_WALK_M",
    "DEFAULT_WINDOW",
    "LAND_USE_PROFILES",
    "PROFILE_SOURCE",
    "Assignment",
    "LotSupply",
    "ParkingProblem",
    "ParkingResult",
    "ResidenceDemand",
    "TimeWindow",
    "WalkPairs",
    "WindowError",
    "choose_slot_minutes",
    "lot_supply",
    "match_parking",
    "parse_window",
    "residence_demand",
    "slot_labels",
    "walk_pairs",
]

#: Minutes in a day.
DAY_MINUTES = 1440
#: Slot lengths the grid may use.
SLOT_CHOICES = (60, 30, 15)

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
    "office": (0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.05, 0.25, 0.65, 0.88, 0.95, 0.95,
               0.88, 0.88, 0.95, 0.95, 0.88, 0.65, 0.35, 0.15, 0.10, 0.08, 0.05, 0.03),
    "retail": (0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.02, 0.05, 0.15, 0.35, 0.58, 0.74,
               0.82, 0.85, 0.82, 0.80, 0.74, 0.68, 0.72, 0.76, 0.74, 0.52, 0.27, 0.10),
    "hotel": (0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.72, 0.68, 0.60, 0.53, 0.50, 0.50,
              0.48, 0.48, 0.50, 0.55, 0.58, 0.62, 0.66, 0.70, 0.74, 0.75, 0.75, 0.75),
    "industrial": (0.15, 0.15, 0.15, 0.15, 0.15, 0.15, 0.20, 0.50, 0.85, 0.90, 0.90, 0.90,
                   0.85, 0.85, 0.90, 0.90, 0.85, 0.60, 0.35, 0.25, 0.20, 0.18, 0.16, 0.15),
    "hospital": (0.30, 0.28, 0.28, 0.28, 0.28, 0.30, 0.40, 0.60, 0.78, 0.88, 0.90, 0.90,
                 0.85, 0.85, 0.88, 0.85, 0.78, 0.65, 0.55, 0.48, 0.44, 0.40, 0.36, 0.32),
}

#: Spellings of land uses (English and Chinese) -> profile key.
LAND_USE_ALIASES: dict[str, str] = {
    **{k: k for k in LAND_USE_PROFILES},
    "offices": "office", "办公": "office", "写字楼": "office", "商务": "office", "办公楼": "office",
    "commercial": "retail", "mall": "retail", "shop": "retail", "shopping": "retail",
    "商业": "retail", "商场": "retail", "购物中心": "retail", "零售": "retail",
    "hotels": "hotel", "酒店": "hotel", "宾馆": "hotel", "旅馆": "hotel",
    "industry": "industrial", "工业": "industrial", "产业园": "industrial", "厂房": "industrial",
    "园区": "industrial", "hospitals": "hospital", "医院": "hospital", "医疗": "hospital",
}

_CLOSED_WORDS = {"closed", "none", "no", "never", "不开放", "关闭", "无", "不共享", "-"}
_ALL_DAY_WORDS = {"all day", "allday", "24h", "24 h", "24/7", "always", "全天", "全天开放", "24小时"}
_TIME = r"(\d{1,2})(?:\s*[:：.]\s*(\d{2}))?"
_RANGE_RE = re.compile(rf"^\s*{_TIME}\s*(?:-|–|—|~|～|至|到|to)\s*{_TIME}\s*$", re.IGNORECASE)
_PIECE_SPLIT = re.compile(r"[,;，；、]")
_OCC_RE = re.compile(r"^occ[_\s-]?(\d{1,2})$", re.IGNORECASE)


# =========================================================================
# time windows
# =========================================================================
@dataclass(frozen=True)
class TimeWindow:
    """Daily recurring hours on a 24-hour clock.

    Attributes
    ----------
    pieces
        ``(start, end)`` minutes after midnight, ``0 <= start, end <= 1440``;
        ``end <= start`` means the piece crosses midnight (``(1140, 480)`` is
        19:00-08:00).  Empty: never open.
    text
        The text it was read from (or a canonical spelling).
    """

    pieces: tuple[tuple[int, int], ...]
    text: str = ""

    @property
    def minutes(self) -> int:
        """Total minutes per day covered (overlapping pieces count once)."""
        return int(self.minute_mask().sum())

    @property
    def hours(self) -> float:
        """Total hours per day covered, e.g. 12.5 for 19:00-07:30."""
        return self.minutes / 60.0

    @property
    def is_empty(self) -> bool:
        """True for a window with no hours (a lot closed to residents)."""
        return self.minutes == 0

    def minute_mask(self) -> np.ndarray:
        """Boolean mask of the 1,440 minutes of a day covered by the window."""
        mask = np.zeros(DAY_MINUTES, dtype=bool)
        for start, end in self.pieces:
            if end > start:
                mask[start:end] = True
            else:
                mask[start:] = True
                mask[:end] = True
        return mask

    def slot_mask(self, slot_minutes: int, *, mode: str = "overlap") -> np.ndarray:
        """Boolean mask of the day's slots.

        Parameters
        ----------
        slot_minutes
            Slot length (60, 30 or 15 minutes).
        mode
            ``"overlap"``: slots the window touches (a car needing the window
            occupies each of them); ``"within"``: slots wholly inside it (a lot
            counts as open only in these).

        Returns
        -------
        numpy.ndarray
            Shape (1440 // slot_minutes,), bool.
        """
        per_slot = self.minute_mask().reshape(-1, slot_minutes)
        if mode == "overlap":
            return per_slot.any(axis=1)
        if mode == "within":
            return per_slot.all(axis=1)
        raise ValueError(f"mode must be 'overlap' or 'within', got {mode!r}")

    def boundaries(self) -> list[int]:
        """Start and end minutes of the pieces."""
        return [m for piece in self.pieces for m in piece]

    def __str__(self) -> str:
        return self.text or format_window(self.pieces)


def _clock(hour: str, minute: str | None, text: str) -> int:
    """Minutes after midnight of one ``HH[:MM]``; raise WindowError naming ``text``."""
    h, m = int(hour), int(minute) if minute else 0
    if h > 24 or m > 59 or (h == 24 and m):
        raise WindowError(f"'{text}' has a time {hour}:{minute or '00'} that is not on a 24-hour clock")
    return h * 60 + m


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_window(pieces: Iterable[tuple[int, int]]) -> str:
    """Canonical text of window pieces, e.g. ``"19:00-08:00"``; ``"closed"`` when empty."""
    parts = [f"{_hhmm(a)}-{_hhmm(b)}" for a, b in pieces]
    return ",".join(parts) if parts else "closed"


def parse_window(text: Any, *, what: str = "time window") -> TimeWindow | None:
    """Read a time window such as ``"19:00-08:00"`` or ``"19:00-07:30"``.

    Parameters
    ----------
    text
        ``"HH:MM-HH:MM"`` (an end at or before the start crosses midnight; a
        full-width colon, ``～``, ``至`` and ``to`` work too), several pieces
        joined by commas (``"07:00-09:00, 19:00-23:00"``), ``"00:00-24:00"`` or
        ``"all day"``/``"全天"`` for the whole day, ``"closed"``/``"不开放"`` for
        no hours at all.  Blank (None, NaN, "") returns None: the caller
        applies its default.
    what
        What the text is, for the message (``"window"``, ``"open hours"``).

    Returns
    -------
    TimeWindow or None

    Raises
    ------
    WindowError
        Naming the value, for anything else (e.g. ``"19:00-19:00"``,
        ``"25:00-08:00"``, ``"evening"``).

    Examples
    --------
    >>> parse_window("19:00-07:30").hours
    12.5
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    raw = str(text).strip()
    if not raw or raw.lower() in ("nan", "<na>"):
        return None
    low = raw.lower()
    if low in _CLOSED_WORDS:
        return TimeWindow((), "closed")
    if low in _ALL_DAY_WORDS:
        return TimeWindow(((0, DAY_MINUTES),), "00:00-24:00")
    pieces = [_parse_piece(p.strip(), raw, what) for p in _PIECE_SPLIT.split(raw) if p.strip()]
    if not pieces:
        raise WindowError(f"{what} '{raw}' is empty; write it like 19:00-08:00")
    return TimeWindow(tuple(pieces), raw)


def _parse_piece(piece: str, raw: str, what: str) -> tuple[int, int]:
    """One ``HH:MM-HH:MM`` piece in minutes."""
    match = _RANGE_RE.match(piece)
    if not match:
        raise WindowError(
            f"{what} '{raw}' is not a time window like 19:00-08:00 (start-end on a 24-hour clock; "
            "an end before the start crosses midnight)"
        )
    start = _clock(match.group(1), match.group(2), raw)
    end = _clock(match.group(3), match.group(4), raw)
    start %= DAY_MINUTES
    if start == 0 and end == DAY_MINUTES:
        return 0, DAY_MINUTES
    if start == end % DAY_MINUTES:
        raise WindowError(
            f"{what} '{raw}' starts and ends at the same time; write 00:00-24:00 for the whole day"
        )
    return start, end % DAY_MINUTES


def choose_slot_minutes(windows: Iterable[TimeWindow | None]) -> int:
    """Return the slot length that fits the windows: 30 minutes, or 15 when a time needs it.

    Times off the 15-minute grid are still handled (a car occupies each slot it
    overlaps; a lot is open in a slot wholly inside its hours), on 15-minute slots.
    """
    times = [m for w in windows if w is not None for m in w.boundaries()]
    if all(m % 30 == 0 for m in times):
        return 30
    return 15


def slot_labels(slot_minutes: int) -> list[str]:
    """Start times of the day's slots, ``["00:00", "00:30", ...]``."""
    return [_hhmm(m) for m in range(0, DAY_MINUTES, slot_minutes)]


def _check_slot_minutes(slot_minutes: int) -> int:
    if slot_minutes not in SLOT_CHOICES:
        raise ValueError(f"slot_minutes must be one of {SLOT_CHOICES}, got {slot_minutes}")
    return int(slot_minutes)


# =========================================================================
# table helpers: messages that name the file, row and column
# =========================================================================
def _where(frame: pd.DataFrame, default: str) -> tuple[str, str]:
    return str(frame.attrs.get("source_path") or frame.attrs.get("source_file") or default), frame.attrs.get(
        "row_label", "row"
    )


def _row_of(frame: pd.DataFrame, i: int) -> int:
    """The row as the planner sees it (io keeps them in attrs, by the frame's index)."""
    rows = frame.attrs.get("rows")
    label = frame.index[i]
    if rows is not None and isinstance(label, (int, np.integer)) and 0 <= label < len(rows):
        return int(rows[label])
    return i + 2


def _column_of(frame: pd.DataFrame, field_name: str) -> str:
    return str(frame.attrs.get("columns", {}).get(field_name, field_name))


def _error(frame: pd.DataFrame, default: str, reason: str, i: int | None, field_name: str | None) -> InputError:
    file, label = _where(frame, default)
    row = None if i is None else _row_of(frame, i)
    col = None if field_name is None else _column_of(frame, field_name)
    return InputError(file, reason, row=row, column=col, row_label=label)


def _whole_column(frame: pd.DataFrame, name: str, default: str, *, required: bool, what: str) -> np.ndarray:
    """A whole, non-negative number per row (blank = 0 unless required)."""
    if name not in frame.columns:
        if required:
            raise _error(frame, default, f"has no {name} column", None, None)
        return np.zeros(len(frame), dtype=np.int64)
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    for i, v in enumerate(values):
        raw = frame[name].iloc[i]
        if np.isnan(v):
            if required or not (raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == ""):
                raise _error(frame, default, f"value '{raw}' is not a number of {what}", i, name)
            values[i] = 0
        elif v < 0 or not float(v).is_integer():
            raise _error(frame, default, f"value {raw} is not a whole, non-negative number of {what}", i, name)
    return values.astype(np.int64)


def _ids(frame: pd.DataFrame) -> np.ndarray:
    return frame["id"].astype(str).to_numpy() if "id" in frame.columns else np.array(
        [str(i + 1) for i in range(len(frame))]
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
        raise _error(frame, default, f"has occupancy columns but lacks {missing}: give all 24 occ_00..occ_23", None, None)
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


def _occupancy_row(frame: pd.DataFrame, default: str, i: int, occ_cols: dict[int, str]) -> np.ndarray | None:
    """Hourly occupancy of row ``i`` from occ columns; None when they are all blank."""
    values = np.full(24, np.nan)
    for h, col in occ_cols.items():
        raw = frame[col].iloc[i]
        try:
            values[h] = _share(raw)
        except ValueError:
            raise _error(frame, default, f"value '{raw}' is not a share occupied (0-1, or a percentage like 35%)", i, col) from None
        if not np.isnan(values[h]) and not 0.0 <= values[h] <= 1.0:
            raise _error(frame, default, f"value {raw} is not a share between 0 and 1 (write 0.35 or 35% for 35 %)", i, col)
    if np.isnan(values).all():
        return None
    if np.isnan(values).any():
        h = int(np.flatnonzero(np.isnan(values))[0])
        raise _error(frame, default, "is blank while other hours of this lot are given; fill all 24 hours or none", i, occ_cols[h])
    return values


def _land_use_profile(frame: pd.DataFrame, default: str, i: int, value: Any) -> tuple[np.ndarray, str]:
    if value is None or (isinstance(value, float) and math.isnan(value)) or not str(value).strip():
        return np.zeros(24), "none"
    key = LAND_USE_ALIASES.get(str(value).strip().lower())
    if key is None:
        known = ", ".join(LAND_USE_PROFILES)
        raise _error(frame, default, f"unknown land use '{value}': use one of {known} "
                     "(or 办公/商业/酒店/工业/医院), or give occ_00..occ_23", i, "land_use")
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
    for i in range(len(lots)):
        row = _occupancy_row(lots, default, i, occ_cols) if occ_cols else None
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
            raise _error(residences, "residences", f"window '{w.text}' has no hours; write it like {DEFAULT_WINDOW}", i, "window")
        out.append(w or default)
    return out


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


# =========================================================================
# walking distances
# =========================================================================
@dataclass
class WalkPairs:
    """Compound-lot pairs within a walking limit, and their network distances.

    Attributes
    ----------
    res, lot
        Row positions of the compound and the lot of each pair, int64.
    walk_m
        Walking metres between the compound's gate and the lot's entrance
        (the walks to and from the street included).
    limit
        The walking limit the pairs were searched with.
    res_reachable, lot_reachable
        Whether each compound / lot joined the network (within the snapping limit).
    """

    res: np.ndarray
    lot: np.ndarray
    walk_m: np.ndarray
    limit: float
    res_reachable: np.ndarray
    lot_reachable: np.ndarray

    def within(self, limit: float) -> "WalkPairs":
        """The pairs no farther than ``limit`` (which must not exceed :attr:`limit`)."""
        if limit > self.limit + 1e-9:
            raise ValueError(f"pairs were searched up to {self.limit:g} m; search again for {limit:g} m")
        keep = self.walk_m <= limit
        return WalkPairs(self.res[keep], self.lot[keep], self.walk_m[keep], float(limit),
                         self.res_reachable, self.lot_reachable)


def walk_pairs(
    net,
    residences,
    lots,
    *,
    max_walk_m: float = DEFAULT_MAX_WALK_M,
    snap_limit_m: float | None = None,
) -> WalkPairs:
    """Walking distances between compounds' gates and lots' entrances, up to a limit.

    One bounded search per point of the smaller side
    (:func:`geo.reach.iter_source_node_distances`), then exact point-to-point
    distances (:func:`geo.reach.point_distances`, the same-edge case included)
    to the points of the other side within straight-line reach.

    Parameters
    ----------
    net
        The :class:`~geo.network.WalkNetwork`.
    residences, lots
        WGS84 point GeoDataFrames.
    max_walk_m
        Walking limit in metres.
    snap_limit_m
        Points farther than this from every walkable edge are unreachable
        (default :data:`geo.network.DEFAULT_SNAP_LIMIT_M`).

    Returns
    -------
    WalkPairs
        Sparse: only pairs within the limit.
    """
    from scipy.spatial import cKDTree

    from . import reach
    from .network import DEFAULT_SNAP_LIMIT_M, snap_points

    limit = float(max_walk_m)
    snap = snap_limit_m or DEFAULT_SNAP_LIMIT_M
    res_s = snap_points(net, residences, limit_m=snap)
    lot_s = snap_points(net, lots, limit_m=snap)
    flip = len(lot_s) < len(res_s)
    src, dst = (lot_s, res_s) if flip else (res_s, lot_s)
    dst_ok = np.flatnonzero(dst.reachable)
    a_parts, b_parts, d_parts = [], [], []
    if dst_ok.size and src.reachable.any():
        tree = cKDTree(dst.xy[dst_ok])
        for i, node_dist in reach.iter_source_node_distances(net, src, limit):
            radius = max(limit - src.gap[i], 0.0) * reach.STRAIGHT_LINE_SLACK + 1.0
            near = dst_ok[np.asarray(tree.query_ball_point(src.xy[i], radius), dtype=np.int64)]
            if near.size == 0:
                continue
            d = reach.point_distances(net, node_dist, dst.subset(near), sources=src.subset(np.array([i])), limit=limit)
            ok = np.isfinite(d)
            a_parts.append(np.full(int(ok.sum()), i, dtype=np.int64))
            b_parts.append(near[ok])
            d_parts.append(d[ok])
    a = np.concatenate(a_parts) if a_parts else np.empty(0, dtype=np.int64)
    b = np.concatenate(b_parts) if b_parts else np.empty(0, dtype=np.int64)
    d = np.concatenate(d_parts) if d_parts else np.empty(0)
    res, lot = (b, a) if flip else (a, b)
    order = np.lexsort((lot, res))
    return WalkPairs(res[order], lot[order], d[order], limit, res_s.reachable, lot_s.reachable)


# =========================================================================
# the optimisation model
# =========================================================================
@dataclass
class Assignment:
    """The solved matching of a :class:`ParkingProblem`.

    Attributes
    ----------
    cars
        Cars placed on each pair of the problem, int64.
    placed
        Cars placed per compound.
    used
        Spaces used per lot and slot, shape (L, S).
    floor
        The fairness floor of each compound (0 without fairness).
    method
        ``"min-cost flow (HiGHS LP)"``, ``"MIP (HiGHS)"`` or ``"none"``.
    optimal
        Whether every stage was proven optimal.
    stages
        The lexicographic stages, in order, with their objective values and times.
    total_walk_m
        Sum over pairs of cars x walking metres.
    seconds
        Solver time (model building included).
    """

    cars: np.ndarray
    placed: np.ndarray
    used: np.ndarray
    floor: np.ndarray
    method: str
    optimal: bool
    stages: list[dict]
    total_walk_m: float
    seconds: float

    @property
    def matched(self) -> int:
        """Cars placed in all."""
        return int(self.cars.sum())


@dataclass
class ParkingProblem:
    """The matching problem as arrays (built from tables by :func:`match_parking`).

    Variables are integer cars per pair (compound, lot within the walking
    limit).  Constraints: a compound gets at most its shortfall; in every
    slot, the cars of a lot whose windows cover the slot fit its usable spaces;
    a lot gives at most ``lot_cap`` cars in all.  Objectives, lexicographic:
    (with a fairness floor) the most cars within the floors, then the most cars,
    then the least walking.

    Attributes
    ----------
    demand
        Shortfall per compound, shape (R,), int.
    need
        Slots each compound's cars occupy, shape (R, S), bool.
    usable
        Usable spaces per lot and slot, shape (L, S), int.
    pair_res, pair_lot, pair_walk
        The pairs within the walking limit.
    lot_cap
        Most cars per lot over the day, shape (L,) (None: uncapped).
    walk_resolution_m
        The walking objective uses metres rounded to this (1 m: integer
        metres, which makes it exact and comparable with integer network flows).
    """

    demand: np.ndarray
    need: np.ndarray
    usable: np.ndarray
    pair_res: np.ndarray
    pair_lot: np.ndarray
    pair_walk: np.ndarray
    lot_cap: np.ndarray | None = None
    walk_resolution_m: float = 1.0

    @classmethod
    def from_arrays(
        cls,
        demand: Sequence[int],
        usable: np.ndarray,
        pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
        *,
        need: np.ndarray | None = None,
        lot_cap: Sequence[int] | None = None,
    ) -> "ParkingProblem":
        """Build a problem from plain arrays (spopt's ``from_cost_matrix`` in spirit).

        Parameters
        ----------
        demand
            Shortfall per compound.
        usable
            Usable spaces per lot: shape (L,) for one common window, or (L, S)
            per slot.
        pairs
            ``(res, lot, walk_m)`` arrays of the pairs within the walking limit.
        need
            Slots each compound occupies, shape (R, S); by default every slot.
        lot_cap
            Most cars per lot over the day.
        """
        demand = np.asarray(demand, dtype=np.int64)
        usable = np.asarray(usable, dtype=np.int64)
        if usable.ndim == 1:
            usable = usable[:, None]
        if need is None:
            need = np.ones((demand.shape[0], usable.shape[1]), dtype=bool)
        res, lot, walk = (np.asarray(a) for a in pairs)
        cap = None if lot_cap is None else np.asarray(lot_cap, dtype=np.int64)
        return cls(demand, np.asarray(need, dtype=bool), usable, res.astype(np.int64),
                   lot.astype(np.int64), walk.astype(float), cap)

    @property
    def n_res(self) -> int:
        """Number of compounds."""
        return int(self.demand.shape[0])

    @property
    def n_lots(self) -> int:
        """Number of lots."""
        return int(self.usable.shape[0])

    def check(self) -> None:
        """Raise ValueError when the arrays do not fit together."""
        n_res, n_lots, n_slots = self.n_res, self.n_lots, self.usable.shape[1]
        if self.need.shape != (n_res, n_slots):
            raise ValueError(f"need has shape {self.need.shape}, expected ({n_res}, {n_slots})")
        if not (self.pair_res.shape == self.pair_lot.shape == self.pair_walk.shape):
            raise ValueError("pair_res, pair_lot and pair_walk must have the same length")
        if self.pair_res.size and not (0 <= self.pair_res.min() and self.pair_res.max() < n_res
                                       and 0 <= self.pair_lot.min() and self.pair_lot.max() < n_lots):
            raise ValueError("a pair refers to a compound or lot that does not exist")
        if (self.demand < 0).any() or (self.usable < 0).any():
            raise ValueError("demand and usable spaces must be non-negative")
        if self.lot_cap is not None and self.lot_cap.shape != (n_lots,):
            raise ValueError(f"lot_cap has shape {self.lot_cap.shape}, expected ({n_lots},)")

    def solve(
        self,
        *,
        fairness: float = 0.0,
        time_limit: float | None = None,
        force_mip: bool = False,
    ) -> Assignment:
        """Solve optimally: most cars (within the fairness floors first), then least walking.

        Parameters
        ----------
        fairness
            Share ``f`` in [0, 1]: every compound's first ``floor(f x demand)``
            cars are placed before any compound gets more.  Implemented as a
            first lexicographic stage that maximises the cars placed within the
            floors: when the floors can all be met this is the constraint
            ``placed >= floor(f x demand)``; when they cannot, as many floor
            cars as possible are placed (see :attr:`Assignment.floor`).
        time_limit
            Seconds per MIP stage (None: no limit).  A stage stopped by the
            limit keeps its best solution and sets ``optimal`` False.
        force_mip
            Solve as a MIP even when the constraints have the flow structure.

        Returns
        -------
        Assignment
        """
        return _solve(self, fairness=fairness, time_limit=time_limit, force_mip=force_mip)


# ---------------------------------------------------------------- model rows
@dataclass
class _Model:
    """A HiGHS model: pair columns, then per-compound floor/rest columns."""

    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_upper: np.ndarray
    n_pairs: int
    n_res: int
    flow: bool
    pair_comp: np.ndarray  # compound row of each pair column
    pair_row: np.ndarray  # the lot row of each pair (flow structure only)
    row_rhs: np.ndarray  # spaces of each lot row


def _useful_pairs(p: ParkingProblem) -> tuple[np.ndarray, np.ndarray]:
    """Indices of pairs that can carry a car, and each one's upper bound."""
    res, lot = p.pair_res, p.pair_lot
    if res.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    big = np.iinfo(np.int64).max // 4
    # min usable spaces over the slots each pair's compound occupies
    masked = np.where(p.need[res], p.usable[lot], big)
    bound = np.minimum(masked.min(axis=1), p.demand[res])
    if p.lot_cap is not None:
        bound = np.minimum(bound, p.lot_cap[lot])
    keep = np.flatnonzero(bound > 0)
    return keep, bound[keep]


def _window_classes(need: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Distinct windows, and the day's slots grouped by which of them cover each slot.

    Returns
    -------
    cls_of, cover, slots
        The class (distinct window) of each row of ``need``; ``cover[g, c]``:
        class ``c`` covers the slots of group ``g``; each group's slot indices.
        Slots no class covers are left out.
    """
    classes, cls_of = np.unique(need, axis=0, return_inverse=True)
    cover, grp_of = np.unique(classes.T, axis=0, return_inverse=True)
    grp_of = grp_of.ravel()
    keep = np.flatnonzero(cover.any(axis=1))
    return cls_of.ravel(), cover[keep], [np.flatnonzero(grp_of == g) for g in keep]


def _blocks(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each key's block in ``keys`` sorted ascending (keys in 0..n-1)."""
    count = np.bincount(keys, minlength=n)
    return np.cumsum(count) - count, count


def _within_blocks(keys: np.ndarray, start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with item i of key ``keys[i]`` and j running over that key's block."""
    reps = count[keys]
    i = np.repeat(np.arange(keys.size), reps)
    j = np.repeat(start[keys], reps) + (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps))
    return i, j


def _lot_rows(p: ParkingProblem, comp: np.ndarray, comp_of: np.ndarray, lot: np.ndarray):
    """Slot-capacity rows of the lots, as few as keep the problem the same.

    A lot's row for a group of slots counts the pairs whose window covers
    them, up to its fewest usable spaces there.  At each lot only the windows
    of its own pairs matter: groups with the same windows there merge (the
    smaller bound wins), and a row implied by another (a superset of windows,
    no more spaces) is dropped.  A lot left with one row is a plain capacity:
    when every lot is, the problem is a transportation problem (a min-cost flow).

    Returns
    -------
    pair, row, rhs, row_lot
        Entries (pair index, row id), each row's bound and lot.
    """
    cls_of, cover, slots = _window_classes(p.need[comp])
    pair_cls = cls_of[comp_of]
    lots, lot_of = np.unique(lot, return_inverse=True)
    present = np.zeros((lots.size, cover.shape[1]), dtype=bool)
    present[lot_of, pair_cls] = True
    rhs_lg = np.stack([p.usable[lots][:, s].min(axis=1) for s in slots], axis=1)
    if p.lot_cap is not None:
        rhs_lg = np.minimum(rhs_lg, p.lot_cap[lots, None])
    li, gi = np.nonzero((present[:, None, :] & cover[None, :, :]).any(axis=2))
    keys, key_of = np.unique(np.column_stack([li, present[li] & cover[gi]]), axis=0, return_inverse=True)
    rhs = np.full(keys.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(rhs, key_of.ravel(), rhs_lg[li, gi])
    row_lot, eff = keys[:, 0], keys[:, 1:].astype(bool)
    keep = ~_implied(row_lot, eff, rhs, lots.size)
    row_lot, eff, rhs = row_lot[keep], eff[keep], rhs[keep]
    order = np.argsort(lot_of, kind="stable")
    start, count = _blocks(lot_of[order], lots.size)
    r, k = _within_blocks(row_lot, start, count)
    pair = order[k]
    member = eff[r, pair_cls[pair]]
    return pair[member], r[member], rhs.astype(float), lots[row_lot]


def _implied(row_lot: np.ndarray, eff: np.ndarray, rhs: np.ndarray, n_lots: int) -> np.ndarray:
    """Rows implied by another row of the same lot: a strict superset of windows with no more spaces."""
    start, count = _blocks(row_lot, n_lots)  # rows come sorted by lot from np.unique
    i, j = _within_blocks(row_lot, start, count)
    inside = ~(eff[i] & ~eff[j]).any(axis=1) & (eff[j].sum(axis=1) > eff[i].sum(axis=1))
    out = np.zeros(row_lot.size, dtype=bool)
    out[i[inside & (rhs[j] <= rhs[i])]] = True
    return out


def _build_model(p: ParkingProblem, idx: np.ndarray, bound: np.ndarray) -> tuple[_Model, np.ndarray]:
    """Columns: x (useful pairs), a_r (floor cars), b_r (other cars) of compounds in pairs."""
    res, lot = p.pair_res[idx], p.pair_lot[idx]
    comp, comp_of = np.unique(res, return_inverse=True)
    comp_of = comp_of.ravel()
    n_pairs, n_res = idx.size, comp.size
    ent_c, ent_r, ent_v = [], [], []
    # compound rows: sum_l x - a - b = 0
    ent_c += [np.arange(n_pairs), n_pairs + np.arange(n_res), n_pairs + n_res + np.arange(n_res)]
    ent_r += [comp_of, np.arange(n_res), np.arange(n_res)]
    ent_v += [np.ones(n_pairs), -np.ones(n_res), -np.ones(n_res)]
    pp, rows, rhs, row_lot = _lot_rows(p, comp, comp_of, lot)
    ent_c.append(pp)
    ent_r.append(n_res + rows)
    ent_v.append(np.ones(pp.size))
    upper = [np.zeros(n_res), rhs]
    n_rows = n_res + rhs.size
    capped = _cap_lots(p, row_lot)
    if capped.size:  # a lot with several slot rows needs its cap as a row of its own
        row_of = np.full(p.n_lots, -1, dtype=np.int64)
        row_of[capped] = n_rows + np.arange(capped.size)
        sel = np.flatnonzero(row_of[lot] >= 0)
        ent_c.append(sel)
        ent_r.append(row_of[lot[sel]])
        ent_v.append(np.ones(sel.size))
        upper.append(p.lot_cap[capped].astype(float))
        n_rows += capped.size
    n_cols = n_pairs + 2 * n_res
    mat = sp.csc_matrix((np.concatenate(ent_v), (np.concatenate(ent_r), np.concatenate(ent_c))),
                        shape=(n_rows, n_cols))
    row_upper = np.concatenate(upper)
    row_lower = np.concatenate([np.zeros(n_res), np.full(n_rows - n_res, -np.inf)])
    col_upper = np.concatenate([bound.astype(float), np.zeros(2 * n_res)])
    flow = bool(np.bincount(row_lot).max(initial=0) <= 1)
    pair_row = np.full(n_pairs, -1, dtype=np.int64)
    pair_row[pp] = rows
    model = _Model(mat, row_lower, row_upper, col_upper, n_pairs, n_res, flow, comp_of, pair_row, rhs)
    return model, comp


def _cap_lots(p: ParkingProblem, row_lot: np.ndarray) -> np.ndarray:
    """Capped lots with several slot rows (with one, the cap is already in its bound)."""
    if p.lot_cap is None or row_lot.size == 0:
        return np.empty(0, dtype=np.int64)
    multi = np.flatnonzero(np.bincount(row_lot) > 1)
    return multi[p.lot_cap[multi] < np.iinfo(np.int64).max // 8]


# ------------------------------------------------------------------ solving
def _new_highs():
    """A HiGHS instance; the banner HiGHS prints once per process is kept off stdout."""
    import ctypes
    import os
    import sys

    import highspy

    global _BANNER_DONE
    if _BANNER_DONE:
        return highspy.Highs()
    try:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):
        _BANNER_DONE = True
        return highspy.Highs()
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
        ctypes.CDLL(None).fflush(None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _BANNER_DONE = True
    return h


_BANNER_DONE = False


def _highs(model: _Model, integer: bool, time_limit: float | None):
    """A silent HiGHS instance holding ``model``."""
    import highspy

    h = _new_highs()
    h.setOptionValue("output_flag", False)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    if integer:
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 0.99)  # objectives are integers: a gap under 1 proves optimality
    else:
        h.setOptionValue("solver", "simplex")  # a vertex: integral on the flow structure
    lp = highspy.HighsLp()
    n_rows, n_cols = model.matrix.shape
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = np.zeros(n_cols)
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = model.col_upper
    lp.row_lower_ = np.where(np.isfinite(model.row_lower), model.row_lower, -highspy.kHighsInf)
    lp.row_upper_ = model.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = model.matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = model.matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = model.matrix.data.astype(float)
    if integer:  # every column: cars per pair, and the floor / other cars of each compound
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n_cols
    h.passModel(lp)
    return h


def _run(h, cost: np.ndarray, name: str) -> dict:
    """Solve one stage (minimise ``cost``); return its record with the solution."""
    import highspy

    n = cost.shape[0]
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost.astype(float))
    started = time.perf_counter()
    h.run()
    status = h.getModelStatus()
    ok = status == highspy.HighsModelStatus.kOptimal
    x = np.asarray(h.getSolution().col_value, dtype=float)
    if x.size != n or h.getInfo().primal_solution_status != highspy.kSolutionStatusFeasible:
        raise RuntimeError(f"HiGHS found no solution in stage '{name}' ({h.modelStatusToString(status)})")
    return {"stage": name, "objective": float(cost @ x), "optimal": bool(ok),
            "status": h.modelStatusToString(status), "seconds": time.perf_counter() - started, "x": x}


def _fix(h, cols: np.ndarray, lower: float) -> None:
    """Add the row ``sum x[cols] >= lower`` (keeps a finished stage's optimum)."""
    import highspy

    h.addRow(float(lower), highspy.kHighsInf, cols.size, cols.astype(np.int32), np.ones(cols.size))


def _max_flow(model: _Model, demand: np.ndarray) -> dict:
    """The most cars on the flow structure, by a maximum flow (scipy's Dinic).

    Nodes: source, compounds, lot rows, sink; arcs source -> compound (its
    shortfall), compound -> lot row (the pair's bound), lot row -> sink (its spaces).
    """
    from scipy.sparse.csgraph import maximum_flow

    started = time.perf_counter()
    n_r, n_rows = model.n_res, model.row_rhs.size
    sink = n_r + n_rows + 1
    tail = np.concatenate([np.zeros(n_r, np.int64), 1 + model.pair_comp, 1 + n_r + np.arange(n_rows)])
    head = np.concatenate([1 + np.arange(n_r), 1 + n_r + model.pair_row, np.full(n_rows, sink)])
    cap = np.concatenate([demand, model.col_upper[: model.n_pairs], model.row_rhs])
    cap = np.minimum(cap, np.iinfo(np.int32).max).astype(np.int32)
    graph = sp.csr_matrix((cap, (tail, head)), shape=(sink + 1, sink + 1))
    value = int(maximum_flow(graph, 0, sink).flow_value)
    return {"stage": "most cars", "objective": -float(value), "optimal": True,
            "status": "Optimal (maximum flow)", "seconds": time.perf_counter() - started}


def _stages(h, model: _Model, walk_cost: np.ndarray, floor: np.ndarray, demand: np.ndarray) -> list[dict]:
    """Lexicographic stages: floor cars, cars, walking."""
    n_p, n_r = model.n_pairs, model.n_res
    n = n_p + 2 * n_r
    a_cols = n_p + np.arange(n_r)
    ab_cols = n_p + np.arange(2 * n_r)
    out = []
    if floor.any():
        cost = np.zeros(n)
        cost[a_cols] = -1.0
        out.append(_run(h, cost, "most cars within the fairness floors"))
        _fix(h, a_cols, round(-out[-1]["objective"]))
    if model.flow and not floor.any():  # the flow structure: a maximum flow is the fastest way
        out.append(_max_flow(model, demand))
    else:
        cost = np.zeros(n)
        cost[ab_cols] = -1.0
        out.append(_run(h, cost, "most cars"))
    _fix(h, ab_cols, round(-out[-1]["objective"]))
    if "x" in out[-1] and not model.flow:
        _warm_start(h, out[-1]["x"])
    cost = np.zeros(n)
    cost[:n_p] = walk_cost
    out.append(_run(h, cost, "least walking"))
    return out


def _warm_start(h, x: np.ndarray) -> None:
    """Give the MIP the previous stage's solution: it stays feasible after the new row."""
    import highspy

    sol = highspy.HighsSolution()
    sol.col_value = np.rint(x)
    sol.value_valid = True
    h.setSolution(sol)


def _integral(x: np.ndarray) -> bool:
    return bool(np.all(np.abs(x - np.rint(x)) < 1e-6))


def _solve(p: ParkingProblem, *, fairness: float, time_limit: float | None, force_mip: bool) -> Assignment:
    started = time.perf_counter()
    if not 0.0 <= fairness <= 1.0:
        raise ValueError(f"fairness must be a share between 0 and 1, got {fairness}")
    p.check()
    idx, bound = _useful_pairs(p)
    floor_all = np.floor(fairness * p.demand + 1e-9).astype(np.int64)
    if idx.size == 0:
        return _assemble(p, idx, np.empty(0), floor_all, "none", True, [], started)
    model, comp = _build_model(p, idx, bound)
    floor = floor_all[comp]
    model.col_upper[model.n_pairs: model.n_pairs + model.n_res] = floor
    model.col_upper[model.n_pairs + model.n_res:] = p.demand[comp] - floor
    walk_cost = np.rint(p.pair_walk[idx] / p.walk_resolution_m)
    model.flow = model.flow and not force_mip
    demand = p.demand[comp]
    stages = _stages(_highs(model, not model.flow, time_limit), model, walk_cost, floor, demand)
    x = stages[-1]["x"][: model.n_pairs]
    method = "min-cost flow (HiGHS LP)" if model.flow else "MIP (HiGHS)"
    if model.flow and not _integral(x):  # never seen; kept as a guard
        model.flow = False
        stages = _stages(_highs(model, True, time_limit), model, walk_cost, floor, demand)
        x, method = stages[-1]["x"][: model.n_pairs], "MIP (HiGHS)"
    optimal = all(s["optimal"] for s in stages)
    for s in stages:
        s.pop("x", None)
    return _assemble(p, idx, np.rint(x), floor_all, method, optimal, stages, started)


def _assemble(p: ParkingProblem, idx: np.ndarray, x: np.ndarray, floor: np.ndarray, method: str,
              optimal: bool, stages: list[dict], started: float) -> Assignment:
    cars = np.zeros(p.pair_res.shape[0], dtype=np.int64)
    cars[idx] = x.astype(np.int64)
    placed = np.bincount(p.pair_res, weights=cars, minlength=p.n_res).astype(np.int64)
    used = np.zeros_like(p.usable)
    nz = np.flatnonzero(cars)
    np.add.at(used, p.pair_lot[nz], p.need[p.pair_res[nz]] * cars[nz, None])
    total = float(cars @ p.pair_walk) if cars.size else 0.0
    return Assignment(cars, placed, used, floor, method, optimal, stages, total, time.perf_counter() - started)


# =========================================================================
# tables -> problem -> result
# =========================================================================
@dataclass
class ParkingResult:
    """A solved shared-parking match, with its tables.

    Attributes
    ----------
    pairs
        One row per compound-lot pair given cars: ``residence_id``, ``lot_id``,
        ``cars``, ``walk_m``, ``window``, ``hours``, names and price.
    residences
        Per compound: ``id``, ``name``, ``demand``, ``window``, ``placed``,
        ``unplaced``, ``share_closed``, ``floor``, ``lots_in_reach``,
        ``nearest_lot_m``, ``mean_walk_m``, ``status`` (served, partly served,
        not served, out of reach, off network, no shortfall), ``on_network``
        (WGS84 points).
    lots
        Per lot: ``id``, ``name``, ``land_use``, ``capacity``, ``reserved``,
        ``price``, ``open``, ``profile`` (where its occupancy came from),
        ``offered`` (its part of ``supply_total``: fewest usable spaces in the
        hours every compound's window covers), ``usable_min``/``usable_max``
        (over the slots any compound needs), ``cars`` (placed there),
        ``used_peak``, ``spare_at_peak``,
        ``status`` (used, unused, no usable spaces, off network, above price
        limit, closed), ``on_network`` (WGS84 points).
    usable, used
        Spaces usable and used per lot (rows, lot ids) and slot (columns,
        ``"19:00"``..., from noon on so a night reads in order), over the
        slots any compound needs.
    assignment
        The solver's :class:`Assignment`.
    options
        The walking limit, windows, fairness, price limit, cap, slot length.
    notes
        Plain-language remarks (closed lots, compounds out of reach, ...).
    """

    pairs: pd.DataFrame
    residences: Any
    lots: Any
    usable: pd.DataFrame
    used: pd.DataFrame
    assignment: Assignment
    options: dict
    notes: list[str] = field(default_factory=list)
    supply_total: int = 0
    supply_basis: str = ""
    _lines: Any = None

    # ------------------------------------------------------------ headline
    @property
    def demand_total(self) -> int:
        """Night shortfall of all compounds, in cars."""
        return int(self.residences["demand"].sum())

    @property
    def matched(self) -> int:
        """Cars placed."""
        return int(self.pairs["cars"].sum()) if len(self.pairs) else 0

    @property
    def share_of_demand(self) -> float:
        """Share of the total night gap closed (0 when there is no gap)."""
        return self.matched / self.demand_total if self.demand_total else 0.0

    def to_geodataframe(self):
        """One WGS84 LineString per pair, from the compound's gate to the lot's entrance.

        Returns
        -------
        geopandas.GeoDataFrame
            ``residence_id``, ``lot_id``, ``cars``, ``walk_m``, ``window``,
            ``hours``, ``residence_name``, ``lot_name``, ``price``, geometry.
        """
        import geopandas as gpd

        return gpd.GeoDataFrame(self.pairs.copy(), geometry=self._lines, crs="EPSG:4326")

    def summary(self) -> dict:
        """The headline figures (DESIGN.md's parking summary, plus context).

        Returns
        -------
        dict
            ``demand_total``, ``supply_total``, ``matched``, ``share_of_demand``,
            ``total_walk_m``, ``mean_walk_m``, ``method``, ``optimal``,
            ``max_walk_m``, ``slot_minutes``, ``supply_basis``, ``windows``,
            ``fairness``, ``price_limit``, ``lot_cap``, ``residences``,
            ``residences_fully_served``, ``unmatched_residences`` (ids placed
            nothing though short), ``out_of_reach_residences``,
            ``off_network_residences``, ``closed_lots``, ``price_excluded_lots``,
            ``off_network_lots``, ``lots_used``, ``below_floor_residences``,
            ``profile_source``, ``stages``, ``notes``.
        """
        r, l = self.residences, self.lots
        short = r["demand"] > 0
        total_walk = round(self.assignment.total_walk_m, 1)
        return {
            "demand_total": self.demand_total,
            "supply_total": int(self.supply_total),
            "matched": self.matched,
            "share_of_demand": round(self.share_of_demand, 6),
            "total_walk_m": total_walk,
            "mean_walk_m": round(total_walk / self.matched, 1) if self.matched else None,
            "method": self.assignment.method,
            "optimal": self.assignment.optimal,
            **self.options,
            "supply_basis": self.supply_basis,
            "residences": int(len(r)),
            "residences_fully_served": int((short & (r["unplaced"] == 0)).sum()),
            "unmatched_residences": r.loc[short & (r["placed"] == 0), "id"].tolist(),
            "out_of_reach_residences": r.loc[r["status"] == "out of reach", "id"].tolist(),
            "off_network_residences": r.loc[r["status"] == "off network", "id"].tolist(),
            "below_floor_residences": r.loc[r["placed"] < r["floor"], "id"].tolist(),
            "lots": int(len(l)),
            "lots_used": int((l["cars"] > 0).sum()),
            "closed_lots": l.loc[l["status"] == "closed", "id"].tolist(),
            "price_excluded_lots": l.loc[l["status"] == "above price limit", "id"].tolist(),
            "off_network_lots": l.loc[l["status"] == "off network", "id"].tolist(),
            "profile_source": PROFILE_SOURCE,
            "solve_seconds": round(self.assignment.seconds, 3),
            "stages": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items()}
                       for s in self.assignment.stages],
            "notes": list(self.notes),
        }

    def residence_table(self) -> pd.DataFrame:
        """Per-compound table with lon/lat instead of geometry (for CSV/XLSX)."""
        return _flat(self.residences)

    def lot_table(self) -> pd.DataFrame:
        """Per-lot table with lon/lat and the spaces used in each slot (``used_19:00``...)."""
        table = _flat(self.lots)
        used = self.used.add_prefix("used_").reset_index(drop=True)
        return pd.concat([table.reset_index(drop=True), used], axis=1)


def _flat(gdf) -> pd.DataFrame:
    out = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    out["lon"] = np.round(gdf.geometry.x.to_numpy(), 7)
    out["lat"] = np.round(gdf.geometry.y.to_numpy(), 7)
    return out


def match_parking(
    net,
    lots,
    residences,
    *,
    max_walk_m: float = DEFAULT_MAX_WALK_M,
    window: str | TimeWindow | None = None,
    fairness: float = 0.0,
    price_limit: float | None = None,
    lot_cap: int | Mapping[str, int] | None = None,
    slot_minutes: int | None = None,
    snap_limit_m: float | None = None,
    pairs: WalkPairs | None = None,
    time_limit: float | None = None,
) -> ParkingResult:
    """Match spare night spaces in lots to compounds short of them, optimally.

    Parameters
    ----------
    net
        The walking network (:class:`~geo.network.WalkNetwork`).
    lots
        WGS84 points: ``id``, ``capacity`` and optionally ``name``, ``open``,
        ``reserved``, ``price``, ``land_use``, ``occ_00``..``occ_23``.
    residences
        WGS84 points (the gates): ``id``, ``demand`` and optionally ``name``,
        ``window``.
    max_walk_m
        Walking limit between a gate and a lot's entrance (default 500 m).
    window
        A window for every compound, overriding their own (e.g. "19:00-08:00").
    fairness
        Share of each compound's shortfall placed before any compound gets
        more (0: off); see :meth:`ParkingProblem.solve`.
    price_limit
        Lots above this price (yuan/night) are left out.
    lot_cap
        Most cars given to residents per lot (one number, or per lot id).
    slot_minutes
        Slot length (60, 30, 15); by default 30, or 15 when a time needs it.
    snap_limit_m
        Points farther than this from the network are unreachable.
    pairs
        Walking pairs from :func:`walk_pairs` searched up to at least
        ``max_walk_m`` (to try several limits without searching again).
    time_limit
        Seconds per MIP stage.

    Returns
    -------
    ParkingResult

    Raises
    ------
    InputError
        For bad values in the tables (naming file, row and column).
    WindowError
        For a bad ``window``.
    """
    if max_walk_m <= 0:
        raise ValueError(f"the walking limit must be positive, got {max_walk_m}")
    if fairness is None:
        fairness = 0.0
    if not 0.0 <= float(fairness) <= 1.0:
        raise ValueError(f"fairness must be a share between 0 and 1, got {fairness}")
    override = parse_window(window, what="window") if isinstance(window, str) else window
    res_windows = demand_windows(residences, override)
    lot_windows = _windows(lots, "open", "lots", "open hours")
    slot = _check_slot_minutes(slot_minutes) if slot_minutes else choose_slot_minutes(res_windows + lot_windows)
    supply = lot_supply(lots, slot, price_limit=price_limit, lot_cap=lot_cap)
    demand = residence_demand(residences, slot, window=override)
    if pairs is None:
        pairs = walk_pairs(net, residences, lots, max_walk_m=max_walk_m, snap_limit_m=snap_limit_m)
    else:
        pairs = pairs.within(max_walk_m)
    problem = ParkingProblem(demand.demand, demand.need, supply.usable, pairs.res, pairs.lot, pairs.walk_m,
                             supply.cap if lot_cap is not None else None)
    assignment = problem.solve(fairness=float(fairness), time_limit=time_limit)
    options = {"max_walk_m": float(max_walk_m), "slot_minutes": slot,
               "windows": sorted({str(w) for w in demand.windows}),
               "window_override": None if override is None else str(override),
               "fairness": float(fairness), "price_limit": price_limit,
               "lot_cap": lot_cap if not isinstance(lot_cap, Mapping) else dict(lot_cap)}
    return _result(lots, residences, supply, demand, pairs, problem, assignment, options)


def _supply_total(supply: LotSupply, demand: ResidenceDemand) -> tuple[np.ndarray, int, str]:
    """Spaces each lot offers: its fewest usable in the hours every compound's window covers.

    When the windows share no hour, its most usable in any needed slot.  The
    total bounds the cars that can be placed (every car holds a space in the
    common hours).

    Returns
    -------
    offered, total, basis
        Per lot, their sum, and the rule in words.
    """
    active = demand.demand > 0
    n = supply.usable.shape[0]
    if not active.any():
        return np.zeros(n, dtype=np.int64), 0, "no compound is short of spaces"
    core = demand.need[active].all(axis=0)
    labels = slot_labels(supply.slot_minutes)
    if core.any():
        offered = supply.usable[:, core].min(axis=1)
        basis = ("sum over lots of their fewest usable spaces in the hours every window covers "
                 f"({_span(core, labels, supply.slot_minutes)})")
    else:
        offered = supply.usable[:, demand.need[active].any(axis=0)].max(axis=1)
        basis = "sum over lots of their most usable spaces in any needed slot (the windows share no common hour)"
    return offered, int(offered.sum()), basis


def _span(mask: np.ndarray, labels: list[str], slot_minutes: int) -> str:
    """Text of the slots in ``mask`` as a window, e.g. '20:00-07:00'."""
    pieces = []
    n = mask.size
    for s in range(n):
        if mask[s] and not mask[s - 1]:
            e = s
            while mask[e % n] and e - s < n:
                e += 1
            pieces.append((s * slot_minutes, (e % n) * slot_minutes))
    return format_window(pieces) if pieces else "00:00-24:00"


def _names(frame: pd.DataFrame) -> np.ndarray:
    return frame["name"].astype(str).to_numpy() if "name" in frame.columns else np.full(len(frame), "")


def _result(lots, residences, supply: LotSupply, demand: ResidenceDemand, pairs: WalkPairs,
            problem: ParkingProblem, a: Assignment, options: dict) -> ParkingResult:
    labels = np.array(slot_labels(supply.slot_minutes))
    needed = demand.need[demand.demand > 0].any(axis=0) if (demand.demand > 0).any() else np.zeros(labels.size, bool)
    noon_first = np.roll(np.arange(labels.size), -(labels.size // 2))  # nights read in order
    cols = noon_first[needed[noon_first]]
    usable = pd.DataFrame(supply.usable[:, cols], index=supply.ids, columns=labels[cols])
    used = pd.DataFrame(a.used[:, cols], index=supply.ids, columns=labels[cols])
    pair_table, lines = _pair_table(lots, residences, demand, pairs, a)
    res_table = _residence_table(residences, demand, pairs, a)
    offered, total, basis = _supply_total(supply, demand)
    lot_table = _lot_table(lots, supply, pairs, a, needed, offered)
    result = ParkingResult(pair_table, res_table, lot_table, usable, used, a, options,
                           supply_total=total, supply_basis=basis, _lines=lines)
    result.notes = _notes(result)
    return result


def _pair_table(lots, residences, demand: ResidenceDemand, pairs: WalkPairs, a: Assignment):
    import shapely

    k = np.flatnonzero(a.cars > 0)
    r, l = pairs.res[k], pairs.lot[k]
    lot_price = pd.to_numeric(lots["price"], errors="coerce").to_numpy(float) if "price" in lots.columns else np.full(len(lots), np.nan)
    table = pd.DataFrame({
        "residence_id": demand.ids[r],
        "lot_id": _ids(lots)[l],
        "cars": a.cars[k],
        "walk_m": np.round(pairs.walk_m[k], 1),
        "window": [str(demand.windows[i]) for i in r],
        "hours": [demand.windows[i].hours for i in r],
        "residence_name": _names(residences)[r],
        "lot_name": _names(lots)[l],
        "price": lot_price[l],
    })
    gate = shapely.get_coordinates(np.asarray(residences.geometry.values))[r]
    entrance = shapely.get_coordinates(np.asarray(lots.geometry.values))[l]
    coords = np.stack([gate, entrance], axis=1).reshape(-1, 2)
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(k.size), 2)) if k.size else np.empty(0, object)
    return table, lines


def _residence_table(residences, demand: ResidenceDemand, pairs: WalkPairs, a: Assignment):
    import geopandas as gpd

    n = len(residences)
    in_reach = np.bincount(pairs.res, minlength=n)
    nearest = np.full(n, np.inf)
    np.minimum.at(nearest, pairs.res, pairs.walk_m)
    walk = np.bincount(pairs.res, weights=a.cars * pairs.walk_m, minlength=n)
    placed = a.placed
    status = np.where(placed >= demand.demand, "served", np.where(placed > 0, "partly served", "not served"))
    status = np.where(in_reach == 0, "out of reach", status)
    status = np.where(~pairs.res_reachable, "off network", status)
    status = np.where(demand.demand == 0, "no shortfall", status)
    table = gpd.GeoDataFrame({
        "id": demand.ids,
        "name": _names(residences),
        "demand": demand.demand,
        "window": [str(w) for w in demand.windows],
        "placed": placed,
        "unplaced": demand.demand - placed,
        "share_closed": np.round(np.divide(placed, demand.demand, out=np.zeros(n), where=demand.demand > 0), 4),
        "floor": a.floor,
        "lots_in_reach": in_reach,
        "nearest_lot_m": np.where(np.isfinite(nearest), np.round(nearest, 1), np.nan),
        "mean_walk_m": np.where(placed > 0, np.round(np.divide(walk, np.maximum(placed, 1)), 1), np.nan),
        "status": status,
        "on_network": pairs.res_reachable,
    }, geometry=np.asarray(residences.geometry.values), crs="EPSG:4326")
    return table


def _lot_table(lots, supply: LotSupply, pairs: WalkPairs, a: Assignment, needed: np.ndarray, offered: np.ndarray):
    import geopandas as gpd

    n = len(lots)
    cars = np.bincount(pairs.lot, weights=a.cars, minlength=n).astype(np.int64)
    usable = supply.usable[:, needed] if needed.any() else np.zeros((n, 1), np.int64)
    used = a.used[:, needed] if needed.any() else np.zeros((n, 1), np.int64)
    peak = used.max(axis=1)
    peak_slot = np.argmax(used, axis=1)
    spare = usable[np.arange(n), peak_slot] - peak
    status = np.where(usable.max(axis=1) == 0, "no usable spaces", np.where(cars > 0, "used", "unused"))
    status = np.where(~pairs.lot_reachable, "off network", status)
    status = np.where(supply.excluded_price, "above price limit", status)
    status = np.where(supply.closed, "closed", status)
    extra = {c: lots[c].to_numpy() for c in ("land_use", "reserved", "price", "open") if c in lots.columns}
    table = gpd.GeoDataFrame({
        "id": supply.ids,
        "name": _names(lots),
        "capacity": pd.to_numeric(lots["capacity"]).to_numpy(),
        **extra,
        "profile": supply.occupancy_source,
        "offered": offered,
        "usable_min": usable.min(axis=1),
        "usable_max": usable.max(axis=1),
        "cars": cars,
        "used_peak": peak,
        "spare_at_peak": spare,
        "status": status,
        "on_network": pairs.lot_reachable,
    }, geometry=np.asarray(lots.geometry.values), crs="EPSG:4326")
    return table


def _ids_text(ids: Sequence[str], limit: int = 8) -> str:
    ids = list(ids)
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def _notes(result: ParkingResult) -> list[str]:
    """Plain-language remarks for the planner."""
    notes = []
    r, l = result.residences, result.lots
    if result.demand_total == 0:
        notes.append("no compound is short of spaces (total demand 0): nothing to match, share of demand 0")
    if result.supply_total == 0 and len(l):
        notes.append("the lots offer no usable space in the hours asked (zero supply): nothing can be matched")
    if len(l) == 0:
        notes.append("no lot given (zero supply): nothing can be matched")
    walk = result.options["max_walk_m"]
    groups = [
        (l, l["status"] == "closed", "lot(s) {} have no open hours to residents and offer nothing"),
        (l, l["status"] == "above price limit", "lot(s) {} are above the price limit and are left out"),
        (l, l["status"] == "off network", "lot(s) {} are beyond the snapping limit of the walking network and offer nothing"),
        (l, l["status"] == "no usable spaces", "lot(s) {} have no usable space in the hours compounds need "
         "(occupancy, reserved spaces or open hours)"),
        (r, r["status"] == "out of reach", f"compound(s) {{}} have no lot within {walk:g} m walk and stay unmatched"),
        (r, r["status"] == "off network", "compound(s) {} are beyond the snapping limit of the walking network and stay unmatched"),
        (r, r["placed"] < r["floor"], "compound(s) {} stay below the fairness floor: not enough spaces within reach"),
    ]
    for frame, mask, text in groups:
        if mask.any():
            notes.append(text.format(_ids_text(frame.loc[mask, "id"].tolist())))
    if result.assignment.optimal is False:
        notes.append("the solver stopped at its time limit: the matching is feasible but not proven optimal")
    return notes
