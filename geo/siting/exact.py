"""The exact MCLP: tighten the Lagrangian bound, fix candidates by reduced cost, then HiGHS on the rest.

The MIP of :func:`geo.siting.mip._mclp_mip` over every candidate is slow to
solve at city scale (100,000 demand x 10,000 candidates: HiGHS does not finish
its root LP in a minute), although its LP relaxation is usually tight.  The
Lagrangian relaxation of the covering rows gives the same bound much more
cheaply, and with it a proof that most candidates cannot be in any better
solution:

For multipliers ``lam >= 0`` and ``mu >= 0`` let ``c = A lam``; then every
solution is worth at most ``L = k mu + sum_i max(0, w_i - lam_i) + sum_j max(0, c_j - mu)``,
and every solution that opens candidate ``j`` at most ``L - max(0, mu - c_j)``.
So when ``L - (mu - c_j)`` does not exceed the best known value (within the
tolerance of "optimal"), no strictly better solution opens ``j`` and ``j`` is
left out (Lagrangian reduced-cost fixing, as in Galvao & ReVelle 1996).  The
MIP over the candidates that are left is the original problem for every
solution better than the incumbent, so its optimum is the optimum.

:func:`solve_mclp` runs the steps: more subgradient iterations from
the greedy method's multipliers (with local searches from the relaxation's
choices, which often reach the bound and end the search there), a small MIP
over a kernel of the candidates of highest Lagrangian value for a better
incumbent (a better start prunes more: on the 10,000 x 1,000 bench case an
optimal start halves HiGHS' time), the fixing, leaving out candidates whose
cover set lies inside another kept candidate's (:func:`dominated`), and HiGHS
on the reduced MIP warm-started by the incumbent (on one thread, see
:data:`geo.siting.mip.MCLP_THREADS`: the bench case's proof took 10 CPU s so,
15-16 on HiGHS' two default threads, for no shorter wall time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .heuristics import (
    _identical_columns,
    _Instance,
    _integral_tolerance,
    _Lagrangian,
    _lagrangian,
    _reduced_cost_keep,
    _search_from,
)
from .mip import _mclp_mip, _solve_mclp_mip

__all__ = [
    "EXACT_LAGRANGIAN_ITERATIONS",
    "EXACT_LAGRANGIAN_S",
    "EXACT_STALL",
    "FULL_MIP_MAX_PAIRS",
    "FULL_MIP_SHARE",
    "SMALL_MIP_SHARE",
    "ExactResult",
    "dominated",
    "reduced_cost_keep",
    "solve_mclp",
]

#: Most subgradient iterations the exact method adds to the greedy method's.
EXACT_LAGRANGIAN_ITERATIONS = 6000
#: Most seconds of those (and at most a quarter of the time limit).
EXACT_LAGRANGIAN_S = 10.0
#: Subgradient iterations without a better bound before the step halves, here and in the greedy
#: warm start the exact method continues (the greedy method alone halves sooner).
EXACT_STALL = 20
#: Iterations between local searches from the relaxation's choice.
_CHUNK = 200
#: The subgradient stops once reduced-cost fixing leaves at most this share of the candidates.
SMALL_MIP_SHARE = 0.1
#: When fixing leaves more than this share of a model with at most FULL_MIP_MAX_PAIRS
#: covering pairs, HiGHS gets the whole model: the cut brings nothing then (measured on the
#: 10,000 x 1,000 bench instance, where the LP gap is 0.4 %).  Larger models always get the
#: reduced one: HiGHS does not finish the root LP of the whole city model (1.2M pairs) in a minute.
FULL_MIP_SHARE = 0.5
FULL_MIP_MAX_PAIRS = 200_000
#: The kernel MIP that looks for a better incumbent takes the KERNEL_FACTOR * k candidates
#: of highest Lagrangian value (with the incumbent and the relaxation's choices) ...
KERNEL_FACTOR = 2
#: ... unless that is this share of all candidates or more (then the exact MIP is small anyway) ...
KERNEL_SHARE = 0.5
#: ... and runs at most this share of the time limit.
KERNEL_TIME_SHARE = 0.1


@dataclass
class ExactResult:
    """The exact method's answer in instance rows.

    Attributes
    ----------
    rows
        Chosen instance rows.
    optimal, gap, status, bound
        As in :class:`geo.solver.SolveResult`; ``bound`` is an upper bound on the optimum.
    kept
        Candidates (instance rows) left after reduced-cost fixing (all of them
        when the bound alone proved the incumbent optimal).
    """

    rows: np.ndarray
    optimal: bool
    gap: float | None
    status: str
    bound: float | None
    kept: int


def _value(inst: _Instance, rows) -> float:
    return float(inst.w[inst.covered(rows)].sum())


def _tolerance(inst: _Instance, mip_gap: float, bound: float) -> float:
    """How far the bound may lie above a value that still counts as optimal."""
    return max(_integral_tolerance(inst.w), float(mip_gap) * abs(bound))


def _tighten(
    inst: _Instance, k: int, rows: list[int], value: float, lag: _Lagrangian, budget_s: float, mip_gap: float
) -> tuple[list[int], float, _Lagrangian]:
    """More subgradient steps, searching from the relaxation's choices, until the bound stalls or is reached."""
    seen = {tuple(sorted(rows))}
    started = time.process_time()  # CPU seconds: the same iterations on a busy machine
    done = 0
    while lag.bound - value > _tolerance(inst, mip_gap, lag.bound) and done < EXACT_LAGRANGIAN_ITERATIONS:
        left = budget_s - (time.process_time() - started)
        if left <= 0:
            break
        before = lag.bound
        lag = _lagrangian(inst, k, value, iters=_CHUNK, budget_s=left, resume=lag, stall_after=EXACT_STALL)
        rows, value = _search_from(inst, k, [lag.top, *lag.starts], rows, value, seen)
        done += _CHUNK
        if lag.step < 1e-6 or before - lag.bound < 1e-7 * abs(before):
            break  # the subgradient has converged as far as it will
        keep, _ = reduced_cost_keep(inst, k, lag.lam, value, _tolerance(inst, mip_gap, lag.bound))
        if keep.sum() <= max(SMALL_MIP_SHARE * inst.n, 2 * k):
            break  # few enough candidates left for HiGHS
    return rows, value, lag


def _kernel_search(
    inst: _Instance, k: int, rows: list[int], value: float, lag: _Lagrangian, time_limit: float, mip_gap: float
) -> tuple[list[int], float]:
    """A better incumbent from the MIP restricted to a kernel of promising candidates.

    The kernel: the incumbent, the relaxation's choices and the ``KERNEL_FACTOR * k``
    candidates of highest Lagrangian value ``A lam``.  Its optimum is only a
    start for the exact MIP (a better incumbent prunes more and fixes more
    candidates); it proves nothing itself.
    """
    c = inst.A @ lag.lam
    size = min(inst.n, KERNEL_FACTOR * k)
    picks = [np.asarray(rows, np.int64), np.asarray(lag.top, np.int64), np.argsort(-c, kind="stable")[:size]]
    picks += [np.asarray(s, np.int64) for s in lag.starts]
    kernel = np.unique(np.concatenate(picks))
    if kernel.size >= KERNEL_SHARE * inst.n:
        return rows, value
    sub = _sub_instance(inst, kernel)
    local = np.searchsorted(kernel, rows)
    x0 = np.zeros(sub.n)
    x0[local] = 1.0
    start = np.concatenate([x0, sub.covered(local).astype(float)])
    res = _solve_mclp_mip(_mclp_mip(sub, k), time_limit=time_limit, mip_gap=mip_gap, start=start)
    if res.x is None:
        return rows, value
    found = kernel[np.flatnonzero(res.x[: sub.n] > 0.5)].tolist()
    v = _value(inst, found)
    return (found, v) if v > value else (rows, value)


def reduced_cost_keep(inst: _Instance, k: int, lam: np.ndarray, value: float, tol: float) -> tuple[np.ndarray, float]:
    """Candidates that may be in a solution worth more than ``value + tol``, and the bound ``L``.

    Parameters
    ----------
    inst
        The instance.
    k
        Number of sites.
    lam
        Lagrangian multipliers of the covering rows (any ``lam >= 0``).
    value
        The best known value.
    tol
        The margin above ``value`` a solution must reach to count as better.

    Returns
    -------
    keep, bound
        Boolean mask over the instance rows, and the Lagrangian bound at ``lam``.
    """
    return _reduced_cost_keep(inst, k, lam, value, tol)


def dominated(inst: _Instance, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows``, a row among them whose cover set contains its own, or -1 when none.

    A candidate whose cover set is a subset of another's (identical sets: all but
    the lowest row) is never needed in the plain MCLP: in any solution it can be
    replaced by that other candidate (or left out when both are open) without
    losing weight.  The dominator returned has the largest cover set (then the
    lowest row) among those containing the candidate's, so it is itself
    undominated; undominated rows get -1.
    """
    rows = np.asarray(rows, np.int64)
    pattern = inst.A[rows].astype(bool).astype(np.int32)
    size = np.diff(pattern.indptr)
    inter = (pattern @ pattern.T).tocoo()
    j, jj, shared = inter.row, inter.col, inter.data
    sub = (j != jj) & (shared == size[j]) & ((size[jj] > size[j]) | ((size[jj] == size[j]) & (jj < j)))
    j, jj = j[sub], jj[sub]
    out = np.full(rows.size, -1, np.int64)
    if j.size:
        order = np.lexsort((jj, -size[jj], j))  # per row: largest dominator first, then lowest
        j, jj = j[order], jj[order]
        first = np.ones(j.size, bool)
        first[1:] = j[1:] != j[:-1]
        out[j[first]] = jj[first]
    return out


def _sub_instance(inst: _Instance, keep_rows: np.ndarray) -> _Instance:
    """The instance restricted to ``keep_rows``, its elements merged again where their cover sets now agree."""
    sub = inst.A[keep_rows].tocsc()
    cols = np.flatnonzero(np.diff(sub.indptr) > 0)
    sub = sub[:, cols]
    sub.sort_indices()
    groups, rep = _identical_columns(sub)
    w = np.bincount(groups, weights=inst.w[cols], minlength=rep.size)
    A = sub[:, rep].tocsr()
    A.sort_indices()
    return _Instance(A, w, keep_rows, groups)


def solve_mclp(
    inst: _Instance,
    k: int,
    rows: list[int],
    lag: _Lagrangian,
    *,
    time_limit: float,
    mip_gap: float,
) -> ExactResult:
    """The exact MCLP from the greedy method's rows and Lagrangian state (see the module docstring).

    Parameters
    ----------
    inst
        The instance (``k < inst.n``).
    k
        Number of sites.
    rows
        The greedy method's rows (the incumbent).
    lag
        The greedy method's Lagrangian state, continued here.
    time_limit
        Seconds for the whole (subgradient and HiGHS).
    mip_gap
        Relative gap at which a solution counts as optimal.
    """
    started = time.perf_counter()
    value = _value(inst, rows)
    rows, value, lag = _tighten(inst, k, rows, value, lag, min(EXACT_LAGRANGIAN_S, 0.25 * time_limit), mip_gap)
    tol = _tolerance(inst, mip_gap, lag.bound)
    if lag.bound - value <= tol:
        return ExactResult(
            np.sort(np.asarray(rows, np.int64)), True, 0.0, "optimal (Lagrangian bound reached)", lag.bound, inst.n
        )
    rows, value = _kernel_search(inst, k, rows, value, lag, KERNEL_TIME_SHARE * time_limit, mip_gap)
    if lag.bound - value <= tol:
        return ExactResult(
            np.sort(np.asarray(rows, np.int64)), True, 0.0, "optimal (Lagrangian bound reached)", lag.bound, inst.n
        )
    keep, bound = reduced_cost_keep(inst, k, lag.lam, value, tol)
    keep[np.asarray(rows, np.int64)] = True  # the incumbent stays, as HiGHS' start
    if keep.sum() > FULL_MIP_SHARE * inst.n and inst.A.nnz <= FULL_MIP_MAX_PAIRS:
        keep[:] = True
    kept = np.flatnonzero(keep)
    dom = dominated(inst, kept)
    start_rows = set(int(r) for r in rows)
    for r in list(start_rows):  # the start swaps a dominated site for its dominator
        d = dom[np.searchsorted(kept, r)]
        if d >= 0:
            start_rows.discard(r)
            start_rows.add(int(kept[d]))
    kept = kept[dom < 0]
    sub = _sub_instance(inst, kept)
    x0 = np.zeros(sub.n)
    local = np.searchsorted(kept, sorted(start_rows))
    x0[local] = 1.0
    start = np.concatenate([x0, sub.covered(local).astype(float)])
    left = max(1.0, time_limit - (time.perf_counter() - started))
    res = _solve_mclp_mip(_mclp_mip(sub, k), time_limit=left, mip_gap=mip_gap, start=start)
    upper = min(bound, lag.bound)
    if res.x is None or (res.objective or 0.0) < value:
        gap = (upper - value) / max(abs(upper), 1e-12)
        return ExactResult(
            np.sort(np.asarray(rows, np.int64)), False, gap, f"{res.status}; greedy solution kept", upper, kept.size
        )
    chosen = kept[np.flatnonzero(res.x[: sub.n] > 0.5)]
    if res.bound is not None:
        upper = min(upper, max(float(res.bound), value + tol))
    return ExactResult(chosen, res.optimal, res.gap, res.status, upper, kept.size)
