"""Where each row of a reader's frame came from: the file's row numbers, cheaply.

Every reader (:func:`~geo.io.read_points`, :func:`~geo.io.read_demand`,
:func:`~geo.io.read_boundaries`) returns a frame indexed ``0..n-1`` whose
``attrs["rows"]`` is a :class:`SourceRows`: index label ``i`` came from row
``rows[i]`` of the file as the planner sees it (spreadsheet row, the header is
row 1; or feature number in vector files), and ``attrs["row_label"]`` says
which ("row" or "feature").  Ask for them with :func:`source_rows` and
:func:`source_row`, which follow the frame's index, so a subset or a reordered
copy still names the right rows.

Why an object and not a list: pandas deep-copies ``attrs`` into every frame
derived from another (each column access, each filter).  A list of a million
row numbers made that copy the slowest step of a city-scale run; a
:class:`SourceRows` holds one read-only NumPy array and its copy is itself, so
provenance costs nothing per operation whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SourceRows", "source_rows", "source_row"]


class SourceRows:
    """Read-only file row numbers of a reader's frame, by index label (see the module).

    Parameters
    ----------
    rows
        The file row (or feature) number of index labels ``0..n-1``.
    """

    __slots__ = ("_rows",)

    def __init__(self, rows: Any) -> None:
        arr = np.array(rows, dtype=np.int64).reshape(-1)
        arr.setflags(write=False)
        self._rows = arr

    @property
    def rows(self) -> np.ndarray:
        """The row numbers, shape (n,), int64, read-only."""
        return self._rows

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    def __getitem__(self, label: Any) -> Any:
        out = self._rows[label]
        return int(out) if np.ndim(out) == 0 else out

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows.tolist())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._rows if dtype is None else self._rows.astype(dtype)

    # immutable: a copy (pandas copies attrs into every derived frame) is the object itself
    def __copy__(self) -> SourceRows:
        return self

    def __deepcopy__(self, memo: dict) -> SourceRows:
        return self

    def __reduce__(self) -> tuple:
        return (SourceRows, (self._rows,))

    def __repr__(self) -> str:
        return f"SourceRows({len(self)} rows)"


def source_rows(frame: pd.DataFrame) -> np.ndarray | None:
    """The file row of each row of ``frame``, in the frame's order, or None when unknown.

    Parameters
    ----------
    frame
        A frame returned by a reader of :mod:`geo.io`, or one derived from it
        (a subset, a copy, a reordering: the index labels are followed).

    Returns
    -------
    numpy.ndarray or None
        int64, shape (len(frame),); None for frames built in Python (no
        file), or when the index is no longer the reader's.
    """
    rows = frame.attrs.get("rows")
    if rows is None:
        return None
    table = np.asarray(rows, dtype=np.int64)
    labels = frame.index.to_numpy()
    if labels.dtype.kind not in "iu" or (labels.size and (labels.min() < 0 or labels.max() >= table.size)):
        return None
    return table[labels]


def source_row(frame: pd.DataFrame, position: int) -> int | None:
    """The file row of ``frame.iloc[position]``, or None when unknown (see :func:`source_rows`)."""
    rows = frame.attrs.get("rows")
    if rows is None:
        return None
    label = frame.index[position]
    if isinstance(label, (int, np.integer)) and 0 <= label < len(rows):
        return int(rows[label])
    return None
