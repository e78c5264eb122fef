"""lifecircle's error hierarchy.

Every error lifecircle raises on purpose derives from :class:`LifecircleError`, so the command
line (and a notebook) can catch them in one place and show one clear message.  Each also derives
from :class:`ValueError`, as it did before the hierarchy existed, so existing ``except
ValueError`` code keeps working.

=================  ==========================================================
class              raised when
=================  ==========================================================
InputError         a planner's file or frame is wrong: names file, row, column
NetworkError       a network source cannot be read or holds no walkable street
SitingError        a siting problem cannot be posed (K, radius, candidates)
WindowError        a time window or open-hours text cannot be read (parking)
StandardError      a rule pack (TOML) is wrong: names the file and the key
OptionError        a command-line option or a keyword argument is out of range
ScenarioError      a saved scenario (方案) cannot be read, found or applied
ScenarioConflict   a save made on an older version: names who saved it since
OutputError        an output cannot be written: names the file and the reason
=================  ==========================================================
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "LifecircleError",
    "InputError",
    "NetworkError",
    "SitingError",
    "WindowError",
    "StandardError",
    "OptionError",
    "ScenarioError",
    "ScenarioConflict",
    "OutputError",
]


class LifecircleError(ValueError):
    """Base of every error lifecircle raises on purpose (a clear message, exit 2 at the CLI)."""


class NetworkError(LifecircleError):
    """A network source that cannot be read or holds no walkable street."""


class SitingError(LifecircleError):
    """A siting problem that cannot be posed: bad K or radius, no demand, no usable candidate."""


class WindowError(LifecircleError):
    """A time window or open-hours text that cannot be read."""


class OptionError(LifecircleError):
    """An option (command line) or keyword argument (Python) out of range.

    Parameters
    ----------
    option
        The option as the user wrote it, e.g. ``"--speed"`` or ``"speed_m_per_min"``.
    reason
        What is wrong and what is accepted.
    """

    def __init__(self, option: str, reason: str) -> None:
        self.option = option
        self.reason = reason
        super().__init__(f"{option}: {reason}")


class InputError(LifecircleError):
    """Bad input, with the file, row and column a planner can find.

    Parameters
    ----------
    file
        The file's path (the message uses its name only).
    reason
        What is wrong and, where possible, how to fix it.
    row
        Spreadsheet row (header = row 1) or 1-based feature number; None
        when the problem is not in one row.
    column
        The column as spelled in the file, or None.
    row_label
        ``"row"`` for tables, ``"feature"`` for vector files.

    Examples
    --------
    >>> str(InputError("data/facilities.csv", "value 'abc' is not a number", row=7, column="lat"))
    "facilities.csv, row 7, column 'lat': value 'abc' is not a number"
    """

    def __init__(
        self,
        file: str | os.PathLike,
        reason: str,
        *,
        row: int | None = None,
        column: str | None = None,
        row_label: str = "row",
    ) -> None:
        self.path = Path(file)
        self.file = self.path.name
        self.reason = reason
        self.row = None if row is None else int(row)
        self.column = None if column is None else str(column)
        self.row_label = row_label
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"{self.row_label} {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts) + ": " + self.reason


class StandardError(LifecircleError):
    """A rule pack (TOML) that cannot be used: names the file, the key and what is wrong.

    Parameters
    ----------
    file
        The pack's path or name.
    key
        The dotted key, e.g. ``"tiers[1].kinds"``; None when the whole file is at fault.
    reason
        What is wrong and what is accepted.
    """

    def __init__(self, file: str | os.PathLike, reason: str, *, key: str | None = None) -> None:
        self.path = Path(file)
        self.file = self.path.name
        self.key = key
        self.reason = reason
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"{self.file}, key '{self.key}'" if self.key else self.file
        return f"{where}: {self.reason}"


class ScenarioError(LifecircleError):
    """A scenario (方案) that cannot be read, found, named or applied; names the store or scenario."""


class ScenarioConflict(ScenarioError):
    """A save (rename, delete) made on an older version of a scenario than the stored one.

    Parameters
    ----------
    name
        The scenario's name.
    expected
        The version the refused change was made on (0: a new scenario).
    current
        The stored version (0: no longer stored).
    saved_by, saved_at
        Who saved the stored version, and when (ISO 8601, UTC); None when it is gone.
    """

    def __init__(self, name: str, expected: int, current: int, saved_by: str | None, saved_at: str | None) -> None:
        self.name = name
        self.expected = int(expected)
        self.current = int(current)
        self.saved_by = saved_by
        self.saved_at = saved_at
        if current == 0:
            text = (
                f"scenario '{name}' is no longer in the store (renamed or deleted since you opened version "
                f"{expected}); save your changes under a new name"
            )
        elif expected == 0:
            text = (
                f"a scenario named '{name}' already exists, saved by {saved_by or 'someone'} at "
                f"{_when(saved_at)} (version {current}); open it, or save under another name"
            )
        else:
            text = (
                f"scenario '{name}' was saved by {saved_by or 'someone'} at {_when(saved_at)} (version {current}) "
                f"since you opened version {expected}; reopen it to see their changes, or save yours under another name"
            )
        super().__init__(text)


def _when(iso: str | None) -> str:
    """``2026-12-01T22:30:05Z`` -> ``2026-12-01 22:30:05 UTC``."""
    if not iso:
        return "an unknown time"
    return iso.replace("T", " ").removesuffix("Z") + " UTC"


class OutputError(LifecircleError):
    """An output file that cannot be written: names the file and the reason.

    Parameters
    ----------
    file
        The final file's path.
    reason
        What went wrong, in words a planner can act on.
    """

    def __init__(self, file: str | os.PathLike, reason: str) -> None:
        self.path = Path(file)
        self.reason = reason
        super().__init__(f"cannot write {self.path}: {reason}")
