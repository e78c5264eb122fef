"""Time windows of shared parking: daily, recurring, on a 24-hour circular grid of slots.

``"19:00-08:00"`` crosses midnight, ``"19:00-07:30"`` has half hours; several
pieces may be joined with commas.  Windows live on a grid of 30-minute slots,
or 15-minute slots when a time needs them (:func:`choose_slot_minutes`).  A car
occupies every slot its window overlaps; a lot is open in a slot only when the
slot lies wholly inside its open hours.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import WindowError

__all__ = [
    "DAY_MINUTES",
    "SLOT_CHOICES",
    "TimeWindow",
    "choose_slot_minutes",
    "format_window",
    "parse_window",
    "slot_labels",
]

DAY_MINUTES = 1440
#: Slot lengths the grid may use.
SLOT_CHOICES = (60, 30, 15)


_CLOSED_WORDS = {"closed", "none", "no", "never", "不开放", "关闭", "无", "不共享", "-"}
_ALL_DAY_WORDS = {"all day", "allday", "24h", "24 h", "24/7", "always", "全天", "全天开放", "24小时"}
_TIME = r"(\d{1,2})(?:\s*[:：.]\s*(\d{2}))?"
_RANGE_RE = re.compile(rf"^\s*{_TIME}\s*(?:-|–|—|~|～|至|到|to)\s*{_TIME}\s*$", re.IGNORECASE)
_PIECE_SPLIT = re.compile(r"[,;，；、]")


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
            return np.asarray(per_slot.any(axis=1), dtype=bool)
        if mode == "within":
            return np.asarray(per_slot.all(axis=1), dtype=bool)
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
        raise WindowError(f"{what} '{raw}' starts and ends at the same time; write 00:00-24:00 for the whole day")
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
