"""The siting models as MIPs over the covering pairs, built sparsely and solved by HiGHS.

* :func:`_mclp_mip` - max sum w_i y_i, y_i <= sum of the x_j covering i, sum x_j <= k.
* :func:`_lscp_mip` - min sum x_j with every element covered.
* :func:`_cmclp_mip`, :func:`_clscp_mip` - the capacitated forms, with an
  assignment column per covering pair; :func:`_best_assignment` is the
  transportation LP that serves the most weight from a set of open stations.

All go through the one HiGHS wrapper, :mod:`geo.solver`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import solver
from ..errors import SitingError
from ..settings import DEFAULT_TIME_LIMIT_S
from ..solver import LinearModel
from .heuristics import _Assignment, _Instance

__all__ = ["MAX_LINKING_ROWS", "MCLP_HIGHS_OPTIONS", "MCLP_THREADS"]

#: HiGHS options for the MCLP: with a near-optimal start (the kernel MIP's, itself a MIP
#: over the candidates the reduced costs favour), restarts, the sub-MIP heuristics RINS/RENS
#: and the root reduced-cost heuristic cost more than they bring (measured on the bench
#: instances; the last: 9.9-10.0 -> 9.0-9.3 CPU s on the 10,000 x 1,000 case, city K=200 the same).
MCLP_HIGHS_OPTIONS: dict[str, Any] = {
    "mip_allow_restart": False,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
}
#: HiGHS threads for the MCLP's MIPs.  One: on the 10,000 x 1,000 bench case two threads
#: (HiGHS' default on two cores) spent 15-16 CPU s for the same ~38,000 LP iterations one
#: thread does in 10, and no less wall time; one thread also makes the search, and so the
#: optimum chosen among equal ones, the same on every machine whatever its cores.
MCLP_THREADS = 1


def _solve_mclp_mip(
    model: LinearModel, *, time_limit: float, mip_gap: float, start: np.ndarray | None = None
) -> solver.SolveResult:
    """HiGHS on an MCLP MIP with :data:`MCLP_THREADS` threads, run on a thread of its own.

    HiGHS keeps one task scheduler per OS thread, sized by the first solve on
    that thread: a later solve asking for another thread count fails there
    ("Not Set").  A fresh thread gets a fresh scheduler, so the caller's (and
    any later default solve on it, as parking's) keeps its own thread count.
    """
    import threading

    out: list[solver.SolveResult] = []
    failed: list[BaseException] = []
    options = {**MCLP_HIGHS_OPTIONS, "threads": MCLP_THREADS}

    def run() -> None:
        try:
            out.append(solver.solve(model, time_limit=time_limit, mip_gap=mip_gap, start=start, options=options))
        except BaseException as exc:  # handed to the caller below
            failed.append(exc)

    worker = threading.Thread(target=run, name="lifecircle-mclp-highs", daemon=True)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return out[0]


def _mclp_mip(inst: _Instance, k: int) -> LinearModel:
    """max sum w_i y_i  s.t.  y_i <= sum_{j covers i} x_j,  sum x_j <= k;  x binary, 0 <= y <= 1."""
    n, m = inst.n, inst.m
    top = sp.hstack([-inst.csc.T, sp.identity(m, format="csc")], format="csc")
    card = sp.hstack([sp.csr_matrix(np.ones((1, n))), sp.csr_matrix((1, m))], format="csc")
    matrix = sp.vstack([top, card], format="csc")
    return LinearModel(
        cost=np.concatenate([np.zeros(n), inst.w]),
        lower=np.zeros(n + m),
        upper=np.ones(n + m),
        integer=np.concatenate([np.ones(n, bool), np.zeros(m, bool)]),
        matrix=matrix,
        row_lower=np.full(m + 1, -np.inf),
        row_upper=np.concatenate([np.zeros(m), [k]]),
        maximize=True,
    )


def _lscp_mip(inst: _Instance) -> LinearModel:
    """min sum x_j  s.t.  sum_{j covers i} x_j >= 1 for every element;  x binary."""
    n, m = inst.n, inst.m
    return LinearModel(
        cost=np.ones(n),
        lower=np.zeros(n),
        upper=np.ones(n),
        integer=np.ones(n, bool),
        matrix=inst.csc.T.tocsc(),
        row_lower=np.ones(m),
        row_upper=np.full(m, np.inf),
        maximize=False,
    )


#: Above this many covering pairs the capacitated MIP leaves out the z_ij <= x_j rows.
MAX_LINKING_ROWS = 200_000


def _capacitated_rows(
    inst: _Instance, capacity: float, *, fixed_open: bool = False
) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """Constraint rows over columns [x (n), z (pairs)] of a capacitated model.

    Rows: each element served at most once; each station serves at most
    ``capacity`` (and only when open); z_ij <= x_j when the pairs are few
    enough.  With ``fixed_open`` the x columns are left out (all stations open).

    Returns the matrix, its row bounds and the pairs' (row, element) arrays.
    """
    coo = inst.A.tocoo()
    r, e = coo.row.astype(np.int64), coo.col.astype(np.int64)
    n, m, p = inst.n, inst.m, r.size
    pair = np.arange(p)
    link = not fixed_open and p <= MAX_LINKING_ROWS
    rows_z = [e, m + r] + ([m + n + pair] if link else [])
    vals_z = [np.ones(p), inst.w[e]] + ([np.ones(p)] if link else [])
    n_rows = m + n + (p if link else 0)
    z = sp.csc_matrix((np.concatenate(vals_z), (np.concatenate(rows_z), np.tile(pair, len(rows_z)))), shape=(n_rows, p))
    upper = np.concatenate(
        [np.ones(m), np.full(n, 0.0 if not fixed_open else capacity)] + ([np.zeros(p)] if link else [])
    )
    lower = np.full(n_rows, -np.inf)
    if fixed_open:
        return z, lower, upper, np.column_stack([r, e])
    x_rows = [m + np.arange(n)] + ([m + n + pair] if link else [])
    x_cols = [np.arange(n)] + ([r] if link else [])
    x_vals = [np.full(n, -float(capacity))] + ([-np.ones(p)] if link else [])
    x = sp.csc_matrix((np.concatenate(x_vals), (np.concatenate(x_rows), np.concatenate(x_cols))), shape=(n_rows, n))
    return sp.hstack([x, z], format="csc"), lower, upper, np.column_stack([r, e])


def _cmclp_mip(inst: _Instance, k: int, capacity: float) -> tuple[LinearModel, np.ndarray]:
    """Capacitated MCLP: max sum w_i z_ij over covering pairs, at most ``k`` stations of ``capacity``."""
    matrix, lower, upper, pairs = _capacitated_rows(inst, capacity)
    n, p = inst.n, pairs.shape[0]
    card = sp.hstack([sp.csr_matrix(np.ones((1, n))), sp.csr_matrix((1, p))], format="csc")
    return LinearModel(
        cost=np.concatenate([np.zeros(n), inst.w[pairs[:, 1]]]),
        lower=np.zeros(n + p),
        upper=np.ones(n + p),
        integer=np.concatenate([np.ones(n, bool), np.zeros(p, bool)]),
        matrix=sp.vstack([matrix, card], format="csc"),
        row_lower=np.concatenate([lower, [-np.inf]]),
        row_upper=np.concatenate([upper, [k]]),
        maximize=True,
    ), pairs


def _transport_lp(inst: _Instance, capacity: float) -> tuple[LinearModel, np.ndarray]:
    """The LP serving the most weight from every candidate of ``inst``, all open, under the capacity."""
    matrix, lower, upper, pairs = _capacitated_rows(inst, capacity, fixed_open=True)
    p = pairs.shape[0]
    return LinearModel(
        cost=inst.w[pairs[:, 1]],
        lower=np.zeros(p),
        upper=np.ones(p),
        integer=np.zeros(p, bool),
        matrix=matrix,
        row_lower=lower,
        row_upper=upper,
        maximize=True,
    ), pairs


def _servable_weight(inst: _Instance, capacity: float, time_limit: float) -> float:
    """Most weight all candidates together could serve under the capacity (an LP)."""
    lp, _pairs = _transport_lp(inst, capacity)
    res = solver.solve(lp, time_limit=time_limit, mip_gap=0.0)
    return float(res.objective or 0.0)


def _clscp_mip(inst: _Instance, capacity: float, target: float) -> tuple[LinearModel, np.ndarray]:
    """Capacitated LSCP: fewest stations that together serve ``target`` weight."""
    matrix, lower, upper, pairs = _capacitated_rows(inst, capacity)
    n, p = inst.n, pairs.shape[0]
    served = sp.hstack([sp.csr_matrix((1, n)), sp.csr_matrix(inst.w[pairs[:, 1]][None, :])], format="csc")
    need = target - 1e-7 * max(1.0, target)
    return LinearModel(
        cost=np.concatenate([np.ones(n), np.zeros(p)]),
        lower=np.zeros(n + p),
        upper=np.ones(n + p),
        integer=np.concatenate([np.ones(n, bool), np.zeros(p, bool)]),
        matrix=sp.vstack([matrix, served], format="csc"),
        row_lower=np.concatenate([lower, [need]]),
        row_upper=np.concatenate([upper, [np.inf]]),
        maximize=False,
    ), pairs


def _best_assignment(
    inst: _Instance,
    rows: np.ndarray,
    capacity: float,
    fallback: _Assignment | None = None,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT_S,
) -> _Assignment:
    """The assignment serving the most weight from the open ``rows`` (a transportation LP)."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return _Assignment(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    sub = _Instance(inst.A[rows], inst.w, inst.cand[rows], inst.elem)
    lp, pairs = _transport_lp(sub, capacity)
    res = solver.solve(lp, time_limit=time_limit, mip_gap=0.0)
    if res.x is None or not res.optimal:
        if fallback is None:
            raise SitingError(f"HiGHS could not assign the demand to the chosen stations ({res.status})")
        return fallback
    amount = np.clip(res.x, 0.0, 1.0) * inst.w[pairs[:, 1]]
    keep = amount > 1e-9
    return _Assignment(rows[pairs[keep, 0]], pairs[keep, 1], amount[keep])
