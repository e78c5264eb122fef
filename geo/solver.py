"""One wrapper around HiGHS (through highspy) for the siting and parking models.

A model is a :class:`LinearModel` (column-wise sparse constraints with row and
column bounds, integrality per column).  :func:`build` passes it to a silent
HiGHS instance with a time limit, a relative gap and further options;
:func:`run` solves it, optionally from a starting solution, and reads the
answer as a :class:`SolveResult` (solution, optimality, gap, bound, status
text).  :func:`solve` is the three in one call; staged models (parking's
lexicographic objectives) keep the instance and call :func:`set_costs`,
:func:`add_row`, :func:`run` and :func:`warm_start` on it.

Example
-------
>>> import numpy as np, scipy.sparse as sp
>>> m = LinearModel(cost=np.ones(2), lower=np.zeros(2), upper=np.ones(2), integer=np.ones(2, bool),
...                 matrix=sp.csc_matrix(np.ones((1, 2))), row_lower=np.ones(1), row_upper=np.full(1, np.inf))
>>> solve(m, time_limit=10).objective
1.0
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "LinearModel",
    "SolveResult",
    "add_row",
    "build",
    "new_highs",
    "read",
    "run",
    "set_costs",
    "solve",
    "status_text",
    "warm_start",
]


@dataclass
class LinearModel:
    """A (mixed-integer) linear programme in column-wise sparse form.

    Attributes
    ----------
    cost, lower, upper
        Objective coefficient and bounds of each column.
    integer
        True for integer columns.
    matrix
        Constraint matrix, shape (rows, columns).
    row_lower, row_upper
        Row bounds (``-inf`` / ``inf`` for none).
    maximize
        Maximise instead of minimise.
    """

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    matrix: sp.spmatrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    maximize: bool = False


@dataclass
class SolveResult:
    """What HiGHS returned.

    Attributes
    ----------
    x
        Column values, or None without a feasible solution.
    optimal
        HiGHS proved the solution optimal (within the gap).
    gap
        Relative MIP gap (0 for a solved LP; None when unknown).
    objective, bound
        Objective value, and the MIP's dual bound (None for an LP).
    status
        HiGHS' model status as text.
    """

    x: np.ndarray | None
    optimal: bool
    gap: float | None
    objective: float | None
    bound: float | None
    status: str


_BANNER_DONE = False


def new_highs():
    """A silent ``highspy.Highs``; the banner HiGHS prints once per process is kept off stdout."""
    import highspy

    global _BANNER_DONE
    if _BANNER_DONE:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        return h
    try:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):  # no real stdout (e.g. a notebook kernel's)
        _BANNER_DONE = True
        return new_highs()
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
        _flush_c_stdout()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _BANNER_DONE = True
    h.setOptionValue("output_flag", False)
    return h


def _flush_c_stdout() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # pragma: no cover - no C library to flush
        pass


def build(
    model: LinearModel,
    *,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    options: dict[str, Any] | None = None,
):
    """A silent HiGHS instance holding ``model``.

    Parameters
    ----------
    model
        The programme.
    time_limit
        Seconds HiGHS may run (None: no limit).
    mip_gap
        Relative gap at which a MIP counts as solved (None: HiGHS' default).
    options
        Further HiGHS options by name.
    """
    import highspy

    h = new_highs()
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    if mip_gap is not None:
        h.setOptionValue("mip_rel_gap", float(mip_gap))
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    mat = sp.csc_matrix(model.matrix)
    mat.sort_indices()
    n_row, n_col = mat.shape
    inf = highspy.kHighsInf
    sense = highspy.ObjSense.kMaximize if model.maximize else highspy.ObjSense.kMinimize
    h.passModel(
        n_col,
        n_row,
        int(mat.nnz),
        int(highspy.MatrixFormat.kColwise),
        int(sense),
        0.0,
        np.asarray(model.cost, float),
        np.asarray(model.lower, float),
        np.asarray(model.upper, float),
        np.where(np.isfinite(model.row_lower), model.row_lower, -inf).astype(float),
        np.where(np.isfinite(model.row_upper), model.row_upper, inf).astype(float),
        mat.indptr[:-1].astype(np.int32),
        mat.indices.astype(np.int32),
        mat.data.astype(float),
        np.asarray(model.integer).astype(np.int32),
    )
    return h


def set_costs(h, cost: np.ndarray) -> None:
    """Replace the objective coefficients of the first ``len(cost)`` columns."""
    n = int(cost.shape[0])
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(cost, float))


def add_row(h, lower: float, upper: float, cols: np.ndarray, values: np.ndarray | None = None) -> None:
    """Add the row ``lower <= sum values * x[cols] <= upper`` (values default to 1)."""
    import highspy

    vals = np.ones(cols.size) if values is None else np.asarray(values, float)
    lo = lower if np.isfinite(lower) else -highspy.kHighsInf
    hi = upper if np.isfinite(upper) else highspy.kHighsInf
    h.addRow(float(lo), float(hi), int(cols.size), cols.astype(np.int32), vals)


def warm_start(h, x: np.ndarray, *, partial: bool = False) -> None:
    """Give HiGHS a starting solution.

    Parameters
    ----------
    h
        The instance.
    x
        One value per column.
    partial
        Pass the values as a sparse (index, value) start, which HiGHS may
        complete or repair; else as a full primal solution.
    """
    import highspy

    x = np.asarray(x, float)
    if partial:
        h.setSolution(int(x.size), np.arange(x.size, dtype=np.int32), x)
        return
    sol = highspy.HighsSolution()
    sol.col_value = x
    sol.value_valid = True
    h.setSolution(sol)


def status_text(h) -> str:
    """HiGHS' model status as text."""
    return h.modelStatusToString(h.getModelStatus())


def read(h, *, is_mip: bool) -> SolveResult:
    """The answer of a solved instance."""
    import highspy

    status = h.getModelStatus()
    info = h.getInfo()
    has_x = int(info.primal_solution_status) == int(highspy.kSolutionStatusFeasible)
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_x else None
    optimal = status == highspy.HighsModelStatus.kOptimal
    gap = float(info.mip_gap) if is_mip and has_x else (0.0 if optimal else None)
    if gap is not None and not np.isfinite(gap):
        gap = None
    elif gap is not None and abs(gap) < 1e-12:
        gap = 0.0
    bound = float(info.mip_dual_bound) if is_mip else None
    objective = float(info.objective_function_value) if has_x else None
    return SolveResult(x, bool(optimal), gap, objective, bound, h.modelStatusToString(status))


def run(h, *, is_mip: bool, start: np.ndarray | None = None, partial_start: bool = True) -> SolveResult:
    """Solve the model held by ``h`` (from ``start`` when given) and read the answer."""
    if start is not None:
        warm_start(h, start, partial=partial_start)
    h.run()
    return read(h, is_mip=is_mip)


def solve(
    model: LinearModel,
    *,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    start: np.ndarray | None = None,
    options: dict[str, Any] | None = None,
) -> SolveResult:
    """Build, solve and read ``model`` in one call (see :func:`build` and :func:`run`)."""
    h = build(model, time_limit=time_limit, mip_gap=mip_gap, options=options)
    return run(h, is_mip=bool(np.asarray(model.integer).any()), start=start)
