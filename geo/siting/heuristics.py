"""Heuristics for the siting models: lazy greedy (CELF), 1-swap local search, a Lagrangian bound.

The solvers work on an :class:`_Instance`: the choosable, useful candidates
by the open demand, demand with identical cover sets merged (:func:`_reduce`).
:func:`_mclp_heuristic` is the ``"greedy"`` method of the MCLP: lazy greedy
plus best-improvement swaps, then more swap searches started from the
solutions of a Lagrangian relaxation whose bound also says how far from the
optimum the answer can be.  :func:`_greedy_set_cover` serves the LSCP and
:func:`_greedy_capacitated` the models with a station capacity.
"""

from __future__ import annotations

import heapq
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .. import settings
from ..pairs import gather as _gather
from .cover import CoverSets

__all__ = ["GREEDY_GAP", "LAGRANGIAN_CHUNK", "LAGRANGIAN_ITERATIONS", "LAGRANGIAN_STARTS", "SWAP_TABLE_CELLS"]


def _row(mat: sp.csr_matrix, j: int) -> np.ndarray:
    """Column indices of row ``j`` of a CSR matrix."""
    return mat.indices[mat.indptr[j] : mat.indptr[j + 1]]


# ----------------------------------------------------------- the instance
@dataclass
class _Instance:
    """The solvers' view: choosable useful candidates x merged open demand elements."""

    A: sp.csr_matrix
    w: np.ndarray
    cand: np.ndarray
    elem: np.ndarray

    @property
    def n(self) -> int:
        return int(self.A.shape[0])

    @property
    def m(self) -> int:
        return int(self.A.shape[1])

    @property
    def csc(self) -> sp.csc_matrix:
        cached = self.__dict__.get("_csc")
        if cached is None:
            cached = self.A.tocsc()
            cached.sort_indices()
            self.__dict__["_csc"] = cached
        return cached

    def covered(self, rows: ArrayLike) -> np.ndarray:
        """Elements covered by the given rows."""
        out = np.zeros(self.m, bool)
        out[_gather(self.A.indptr, self.A.indices, np.asarray(rows, dtype=np.int64))] = True
        return out


def _reduce(cover: CoverSets) -> _Instance:
    """Keep choosable candidates and open demand, merge demand with identical cover sets."""
    rows = np.flatnonzero(cover.choosable)
    cols = np.flatnonzero(cover.open_demand)
    sub = cover.matrix()[rows][:, cols].tocsc()
    keep_cols = np.flatnonzero(np.diff(sub.indptr) > 0)
    sub = sub[:, keep_cols]
    keep_rows = np.flatnonzero(np.diff(sub.tocsr().indptr) > 0)
    sub = sub[keep_rows].tocsc()
    sub.sort_indices()
    groups, rep = _identical_columns(sub)
    elem = np.full(cover.n_demand, -1, dtype=np.int64)
    elem[cols[keep_cols]] = groups
    w = np.bincount(groups, weights=cover.weight[cols[keep_cols]], minlength=rep.size)
    A = sub[:, rep].tocsr()
    A.sort_indices()
    return _Instance(A, w, rows[keep_rows], elem)


def _identical_columns(mat: sp.csc_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Group identical (non-empty) columns by two random 64-bit sum hashes and their counts.

    Returns the group of each column and one representative column per group.
    """
    if mat.shape[1] == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rng = np.random.default_rng(20260)
    keys = [np.diff(mat.indptr).astype(np.uint64)]
    for _ in range(2):
        r = rng.integers(0, np.iinfo(np.int64).max, mat.shape[0], dtype=np.int64).astype(np.uint64)
        keys.append(np.add.reduceat(r[mat.indices], mat.indptr[:-1]))
    by_key = np.lexsort(keys[::-1])  # one sort of the three keys (np.unique(axis=0) is much slower)
    sk = [key[by_key] for key in keys]
    new = np.ones(by_key.size, dtype=bool)
    new[1:] = np.logical_or.reduce([key[1:] != key[:-1] for key in sk])
    sorted_group = np.cumsum(new) - 1
    groups = np.empty(by_key.size, dtype=np.int64)
    groups[by_key] = sorted_group
    rep = np.full(int(sorted_group[-1]) + 1, by_key.size, dtype=np.int64)
    np.minimum.at(rep, groups, np.arange(by_key.size))  # first column of each group
    order = np.argsort(rep, kind="stable")  # number groups by first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[groups], rep[order]


# ----------------------------------------------------------------- greedy
def _celf(initial: np.ndarray, gain: Callable[[int], float], accept: Callable[[int], None], k: int) -> list[int]:
    """Lazy greedy (CELF): pick up to ``k`` rows by marginal gain, re-evaluating only the top."""
    heap = [(-float(g), j) for j, g in enumerate(initial) if g > 0]
    heapq.heapify(heap)
    fresh = np.zeros(len(initial), dtype=np.int64)
    picked: list[int] = []
    while heap and len(picked) < k:
        neg, j = heapq.heappop(heap)
        if fresh[j] == len(picked):
            picked.append(j)
            accept(j)
            continue
        g = gain(j)
        fresh[j] = len(picked)
        if g > 0:
            heapq.heappush(heap, (-g, j))
    return picked


def _greedy_cover(inst: _Instance, k: int) -> list[int]:
    """Lazy greedy for maximal coverage (:func:`_fill` from nothing)."""
    return _fill(inst, [], k)


def _swap_improve(
    inst: _Instance, rows: list[int], *, max_rounds: int | None = None, work: _Work | None = None
) -> list[int]:
    """1-swap local search: replace a chosen row by another while coverage strictly grows.

    Best improvement: each round makes the swap that gains most (the first
    position, then the lowest row, among equal gains), from the gains of every
    (chosen, other) pair kept up to date by :class:`_Swaps`.  ``max_rounds``
    caps the rounds (default ``20 k + 100``); ``work``, when given, is charged
    the search's work (a search once started runs to its local optimum).
    """
    if not rows or len(rows) >= inst.n:
        return list(rows)
    swaps = _Swaps(inst, np.array(rows, dtype=np.int64))
    tol = 1e-9 * max(1.0, float(inst.w.sum()))
    for _ in range(max_rounds or 20 * len(rows) + 100):
        best = swaps.best(tol)
        if best is None:
            break
        swaps.swap(*best)
    if work is not None:
        work.spent += swaps.work
    return swaps.chosen.tolist()


#: Most cells of the (chosen x candidates) gain table :class:`_Swaps` keeps; larger
#: instances evaluate each round from scratch in slices of this size.
SWAP_TABLE_CELLS = 1 << 23


class _Swaps:
    """The state of a 1-swap search: the gain of every (chosen position, other row) swap.

    For chosen position ``p`` and a row ``i`` not chosen, swapping gains
    ``base[i] + extra[p, i] - loss[p]``: ``base[i]`` is the open weight ``i``
    covers, ``extra[p, i]`` the weight only ``p`` covers that ``i`` covers too,
    and ``loss[p]`` all the weight only ``p`` covers.  A swap changes the
    counts of the two rows' elements only, so only their contributions are
    taken out and put back (with a table of ``k x n`` cells; beyond
    :data:`SWAP_TABLE_CELLS` the rounds are evaluated from scratch instead).
    ``work`` counts the cells and pairs touched (see :class:`_Work`).
    """

    def __init__(self, inst: _Instance, chosen: np.ndarray) -> None:
        A, w = inst.A, inst.w
        self.A, self.csc, self.w = A, inst.csc, w
        n, k = inst.n, chosen.size
        self.chosen = chosen.copy()
        self.pos = np.full(n, -1, np.int64)
        self.pos[self.chosen] = np.arange(k)
        self.count = np.bincount(_gather(A.indptr, A.indices, self.chosen), minlength=inst.m)
        self.base = A @ (w * (self.count == 0))
        self.loss = np.zeros(k)
        kept = k * n <= SWAP_TABLE_CELLS
        self.extra = np.zeros((k, n)) if kept else None
        self._table = np.empty((k, n)) if kept else None
        self.work = A.nnz
        self._sole(np.flatnonzero(self.count == 1), 1.0)

    def _columns(self, elems: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows covering each element, and which element each belongs to."""
        deg = np.diff(self.csc.indptr)[elems]
        self.work += int(deg.sum())
        return _gather(self.csc.indptr, self.csc.indices, elems), np.repeat(np.arange(elems.size), deg)

    def _owner(self, elems: np.ndarray) -> np.ndarray:
        """The position of the one chosen row covering each element (of count 1)."""
        rows, which = self._columns(elems)
        p = self.pos[rows]
        hit = p >= 0
        out = np.empty(elems.size, np.int64)
        out[which[hit]] = p[hit]
        return out

    def _sole(self, elems: np.ndarray, sign: float) -> None:
        """Add (``sign`` 1) or take out (-1) the elements covered once to ``loss`` and ``extra``."""
        if elems.size == 0:
            return
        owner = self._owner(elems)
        vals = sign * self.w[elems]
        self.loss += np.bincount(owner, weights=vals, minlength=self.loss.size)
        if self.extra is None:
            return
        rows, which = self._columns(elems)
        flat = owner[which] * self.base.size + rows
        cells = self.extra.reshape(-1)
        if flat.size > cells.size // 8:
            cells += np.bincount(flat, weights=vals[which], minlength=cells.size)
        else:
            np.add.at(cells, flat, vals[which])

    def _open(self, elems: np.ndarray, sign: float) -> None:
        """Add (1) or take out (-1) the uncovered elements' weight to ``base``."""
        if elems.size:
            rows, which = self._columns(elems)
            self.base += np.bincount(rows, weights=sign * self.w[elems][which], minlength=self.base.size)

    def best(self, tol: float) -> tuple[int, int] | None:
        """The (position, new row) of the best swap gaining more than ``tol``, or None."""
        k, n = self.chosen.size, self.base.size
        blocked = self.base.copy()
        blocked[self.chosen] = -np.inf
        new = np.empty(k, np.int64)
        gain = np.empty(k)
        step = k if self.extra is not None else max(1, SWAP_TABLE_CELLS // max(n, 1))
        for lo in range(0, k, step):
            hi = min(k, lo + step)
            if self.extra is not None:
                table = np.add(self.extra, blocked, out=self._table)
            else:
                table = self._slice(lo, hi) + blocked
            new[lo:hi] = np.argmax(table, axis=1)
            gain[lo:hi] = table[np.arange(hi - lo), new[lo:hi]]
        self.work += k * n
        delta = gain - self.loss
        p = int(np.argmax(delta))
        return (p, int(new[p])) if delta[p] > tol else None

    def _slice(self, lo: int, hi: int) -> np.ndarray:
        """``extra[lo:hi]`` built from scratch (when the whole table would be too large)."""
        A, n = self.A, self.base.size
        elems = _gather(A.indptr, A.indices, self.chosen[lo:hi])
        owner = np.repeat(np.arange(hi - lo), np.diff(A.indptr)[self.chosen[lo:hi]])
        sole = self.count[elems] == 1
        rows, which = self._columns(elems[sole])
        flat = owner[sole][which] * n + rows
        return np.bincount(flat, weights=self.w[elems[sole]][which], minlength=(hi - lo) * n).reshape(hi - lo, n)

    def swap(self, p: int, new: int) -> None:
        """Replace the row at position ``p`` by ``new``, updating the gains."""
        A = self.A
        out = int(self.chosen[p])
        touched = np.union1d(_row(A, out), _row(A, new))
        c = self.count[touched]
        self._sole(touched[c == 1], -1.0)
        self._open(touched[c == 0], -1.0)
        self.count[_row(A, out)] -= 1
        self.count[_row(A, new)] += 1
        self.pos[out], self.pos[new], self.chosen[p] = -1, p, new
        c = self.count[touched]
        self._sole(touched[c == 1], 1.0)
        self._open(touched[c == 0], 1.0)


@dataclass
class _Work:
    """A deterministic budget of work: covering pairs and table cells read, charged by the searches.

    A subgradient iteration costs the instance's pairs (its product ``A lam``),
    a swap round the cells of its gain table plus the pairs it updates.
    Counting work instead of seconds gives the same answer on every machine.
    """

    budget: float
    spent: float = 0.0

    @property
    def left(self) -> float:
        return self.budget - self.spent


#: Most subgradient iterations of the greedy method's Lagrangian phase.
LAGRANGIAN_ITERATIONS = 1000
#: Local searches the exact method starts from the relaxation's choices per call of the subgradient.
LAGRANGIAN_STARTS = 4
#: Subgradient iterations between the greedy method's local searches from the relaxation's choice.
LAGRANGIAN_CHUNK = 100
#: Subgradient iterations without a better bound after which the step size halves.
LAGRANGIAN_STALL = 10
#: The greedy method stops improving once its bound proves the answer within this relative gap.
GREEDY_GAP = 1e-4


@dataclass
class _Lagrangian:
    """Outcome of the subgradient phase: starting sets for local search, an upper bound, and the state.

    ``lam`` are the multipliers of the best (lowest) bound, ``top`` the k
    sites the relaxation picks at them; ``step`` and ``cursor`` let a later
    call continue from where this one stopped (the exact method does);
    ``iterations`` counts the iterations of this call and those it resumed.
    """

    starts: list[np.ndarray]
    bound: float
    lam: np.ndarray
    top: np.ndarray
    step: float = 2.0
    cursor: np.ndarray | None = None
    iterations: int = 0


def _lagrangian(
    inst: _Instance,
    k: int,
    lower: float,
    *,
    iters: int,
    budget_s: float = np.inf,
    resume: _Lagrangian | None = None,
    names: np.ndarray | None = None,
    lam0: np.ndarray | None = None,
    stall_after: int = 20,
) -> _Lagrangian:
    """Subgradient optimisation of the Lagrangian relaxation of the covering rows.

    Relaxing ``y_i <= sum_j x_j`` with multipliers ``lam`` gives
    ``L(lam) = sum_i max(0, w_i - lam_i) + (sum of the k largest positive (A lam)_j)``,
    an upper bound on the optimum for any ``lam >= 0`` (Galvao & ReVelle 1996);
    its minimum is the LP relaxation's optimum.  Polyak steps towards
    ``lower`` (the best known value); the k sites with the largest Lagrangian
    values at a few iterations seed local searches.  ``resume`` continues
    from an earlier call's multipliers and step size.  At most ``iters``
    iterations, fewer when the bound reaches ``lower`` or the step vanishes;
    ``budget_s`` (CPU seconds, default none) is a safety stop for the exact
    method's time limit.  ``names`` gives the rows' numbers in ``top`` and
    ``starts`` when ``inst`` is a restriction of the instance they refer to.
    ``lam0`` are the first multipliers (default ``w / 2``) unless resuming.
    The step size halves after ``stall_after`` iterations without a better
    bound (the greedy method's :data:`LAGRANGIAN_STALL`: sooner, for a good
    bound in few iterations; the exact method's 20: slower, to a tighter one).
    """
    A, w = inst.A, inst.w
    if resume is None:
        lam = 0.5 * w if lam0 is None else np.clip(lam0, 0.0, w)
    else:
        lam = (resume.cursor if resume.cursor is not None else resume.lam).copy()
    bound, theta, stall = (np.inf, 2.0, 0) if resume is None else (resume.bound, resume.step, 0)
    best_lam = lam if resume is None else resume.lam
    best_top = np.empty(0, np.int64) if resume is None else resume.top
    done = 0 if resume is None else resume.iterations
    every = max(1, iters // LAGRANGIAN_STARTS)
    starts: list[np.ndarray] = []
    started = time.process_time()
    tol = _integral_tolerance(w)
    for it in range(1, iters + 1):
        done += 1
        c = A @ lam
        top = np.argpartition(-c, k - 1)[:k]
        value = float(np.maximum(w - lam, 0.0).sum() + np.maximum(c[top], 0.0).sum())
        if value < bound - 1e-9:
            bound, stall, best_lam, best_top = value, 0, lam, (top if names is None else names[top])
        else:
            stall += 1
            if stall >= stall_after:
                theta, stall = theta / 2.0, 0
        if it % every == 0:
            start = top[c[top] > 0]
            starts.append(start if names is None else names[start])
        grad = np.bincount(_gather(A.indptr, A.indices, top), minlength=inst.m) - (w > lam)
        norm = float(grad @ grad)
        if norm == 0 or bound - lower <= tol or theta < 1e-6:
            break
        if budget_s < np.inf and time.process_time() - started > budget_s:
            break
        lam = np.clip(lam - theta * (bound - lower) / norm * grad, 0.0, w)
    return _Lagrangian(starts, bound, best_lam, best_top, theta, lam, done)


def _integral_tolerance(w: np.ndarray) -> float:
    """How far an upper bound may lie above a solution that it still proves optimal."""
    return 1.0 - 1e-6 if np.all(w == np.round(w)) else 1e-9 * max(1.0, float(w.sum()))


def _mclp_heuristic(
    inst: _Instance, k: int, *, work: float | None = None, stall_after: int = LAGRANGIAN_STALL
) -> tuple[list[int], float, _Lagrangian | None]:
    """Lazy greedy + swaps, then swaps from the Lagrangian relaxation's solutions, within a work budget.

    The subgradient runs in chunks of :data:`LAGRANGIAN_CHUNK` iterations;
    after each, a local search starts from the k sites the relaxation picks,
    and a better answer becomes the target of the next steps.  Between
    chunks, reduced-cost fixing (:func:`_reduced_cost_keep`) leaves out the
    candidates that cannot be in a better solution, so later iterations and
    searches cost what is left: every solution better than the answer uses
    only the rows kept, so the restricted bound still bounds the optimum,
    and a swap that would improve the answer never needs a row left out (the
    answer is a 1-swap local optimum of the whole instance).

    It stops when the bound proves the answer optimal or within
    :data:`GREEDY_GAP`, the subgradient has converged, after
    :data:`LAGRANGIAN_ITERATIONS`, or once ``work`` (covering pairs and table
    cells read, default ``geo.settings.GREEDY_WORK`` read at call time) is
    spent.  Nothing depends on the clock: the same instance gives the same
    sites on every machine.

    ``stall_after`` is the subgradient's patience (see :func:`_lagrangian`):
    the exact method's warm start passes 20, whose multipliers its own
    subgradient continues best (measured: 4 s against 14-30 s of CPU for
    the city instance, K=200); the greedy method's 10 reaches a good bound
    and answer in fewer iterations.

    Returns the best rows found, an upper bound on the optimum and the
    Lagrangian's state for the exact method (its bound that of the whole
    instance; None when there was nothing to relax).
    """
    if "GREEDY_BUDGET_S" in vars(settings):  # assigned by old code: say it does nothing now
        warnings.warn(settings._DEPRECATED["GREEDY_BUDGET_S"][1], DeprecationWarning, stacklevel=3)
    budget = _Work(float(settings.GREEDY_WORK if work is None else work))
    best = _swap_improve(inst, _greedy_cover(inst, k), work=budget)  # greedy + swap: always run
    value = float(inst.w[inst.covered(best)].sum())
    if k == 0 or k >= inst.n:
        return best, value, None
    seen = {tuple(sorted(best))}
    exact_tol = _integral_tolerance(inst.w)
    tol = max(exact_tol, GREEDY_GAP * value)
    sub, names = inst, np.arange(inst.n)
    lam0 = np.where(inst.covered(best), 0.5 * inst.w, inst.w)  # what greedy leaves open: its full weight
    lag: _Lagrangian | None = None
    while lag is None or (budget.left > 0 and lag.iterations < LAGRANGIAN_ITERATIONS):  # one chunk at least
        per_iteration = sub.A.nnz + sub.m
        iters = min(LAGRANGIAN_CHUNK, LAGRANGIAN_ITERATIONS - (lag.iterations if lag else 0))
        iters = max(1, min(iters, int(np.ceil(max(budget.left, 0.0) / per_iteration))))
        before, previous = (lag.iterations, lag.bound) if lag else (0, np.inf)
        lag = _lagrangian(sub, k, value, iters=iters, resume=lag, names=names, lam0=lam0, stall_after=stall_after)
        budget.spent += (lag.iterations - before) * per_iteration
        if lag.bound - value <= tol:
            break
        top = lag.top[np.isin(lag.top, names)]  # an older top may hold rows left out since
        start = np.searchsorted(names, top)
        best, value = _search_from(sub, k, [start], best, value, seen, work=budget, names=names)
        if lag.bound - value <= tol or lag.step < 1e-6 or previous - lag.bound < STALLED * (lag.bound - value):
            break  # proven good enough, or the bound gained too little to close the gap soon
        keep, _ = _reduced_cost_keep(inst, k, lag.lam, value, exact_tol)
        budget.spent += inst.A.nnz
        if keep.sum() <= RESTRICT_SHARE * sub.n and keep.sum() > k:
            names = np.flatnonzero(keep)
            sub = _Instance(inst.A[names], inst.w, inst.cand[names], inst.elem)
            budget.spent += inst.A.nnz
    assert lag is not None
    bound = max(lag.bound, value)
    if sub is not inst:  # the exact method continues on the whole instance: hand on its bound
        lag.bound = max(_reduced_cost_keep(inst, k, lag.lam, value, exact_tol)[1], bound)
    return best, bound, lag


#: The greedy method stops once a chunk of iterations lowers the bound by less than this share of its gap.
STALLED = 0.05
#: The greedy method restricts its instance to the candidates reduced-cost fixing keeps once
#: they are at most this share of the rows it has.
RESTRICT_SHARE = 0.7


def _reduced_cost_keep(inst: _Instance, k: int, lam: np.ndarray, value: float, tol: float) -> tuple[np.ndarray, float]:
    """Rows that may be in a solution worth more than ``value + tol``, and the bound ``L`` at ``lam``.

    See :func:`geo.siting.exact.reduced_cost_keep`.
    """
    c = inst.A @ lam
    mu = max(0.0, float(np.partition(c, c.size - k)[c.size - k])) if 0 < k <= c.size else 0.0
    bound = k * mu + float(np.maximum(inst.w - lam, 0.0).sum()) + float(np.maximum(c - mu, 0.0).sum())
    margin = 1e-9 * max(1.0, float(inst.w.sum()))  # rounding in the sums above
    return bound - np.maximum(mu - c, 0.0) + margin >= value + tol, bound


def _search_from(
    inst: _Instance,
    k: int,
    starts: list[np.ndarray],
    best: list[int],
    value: float,
    seen: set[tuple[int, ...]],
    *,
    work: _Work | None = None,
    names: np.ndarray | None = None,
) -> tuple[list[int], float]:
    """Fill + swap from each start not ``seen`` before; the best rows and value, ``best`` included.

    With ``work``, the searches are charged to it and no search starts once it
    is spent.  When ``inst`` is a restriction, ``names`` are its rows' numbers
    in the whole instance, those of ``best``, ``seen`` and the answer.
    """
    for start in starts:
        if work is not None and work.left <= 0:
            break
        key = tuple(sorted((start if names is None else names[start]).tolist()))
        if key in seen:
            continue
        seen.add(key)
        rows = _swap_improve(inst, _fill(inst, start.tolist(), k), work=work)
        v = float(inst.w[inst.covered(rows)].sum())
        if v > value:
            best, value = (rows if names is None else names[rows].tolist()), v
    return best, value


def _fill(inst: _Instance, rows: list[int], k: int) -> list[int]:
    """Complete a set of rows to k by lazy greedy (rows with no gain are not added)."""
    if len(rows) >= k:
        return rows
    covered = inst.covered(rows)
    A, w = inst.A, inst.w

    def gain(j: int) -> float:
        idx = _row(A, j)
        return float(w[idx][~covered[idx]].sum())

    def accept(j: int) -> None:
        covered[_row(A, j)] = True

    initial = A @ (w * ~covered)
    initial[rows] = 0.0
    return list(rows) + _celf(initial, gain, accept, k - len(rows))


def _sequence(inst: _Instance, rows: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Order rows by marginal gain when added one after another; return (rows, gains)."""
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    covered = np.zeros(inst.m, bool)
    A, w = inst.A, inst.w
    gains: list[float] = []

    def gain(i: int) -> float:
        idx = _row(A, int(rows[i]))
        return float(w[idx][~covered[idx]].sum())

    def accept(i: int) -> None:
        gains.append(gain(i))
        covered[_row(A, int(rows[i]))] = True

    initial = np.array([float(w[_row(A, int(j))].sum()) for j in rows])
    picked = _celf(initial, gain, accept, rows.size)  # lazy: gains only shrink as more is covered
    rest = np.setdiff1d(np.arange(rows.size), picked)  # rows that add nothing, last
    order = np.concatenate([np.asarray(picked, dtype=np.int64), rest])
    return rows[order], np.concatenate([gains, np.zeros(rest.size)])


def _greedy_set_cover(inst: _Instance) -> list[int]:
    """Greedy set cover (most newly covered elements, then weight), then drop redundant rows."""
    covered = np.zeros(inst.m, bool)
    A, w = inst.A, inst.w
    scale = 1.0 / (float(w.sum()) + 1.0)

    def gain(j: int) -> float:
        idx = _row(A, j)
        new = ~covered[idx]
        return float(new.sum() + scale * w[idx][new].sum())

    def accept(j: int) -> None:
        covered[_row(A, j)] = True

    initial = np.diff(A.indptr) + scale * (A @ w)
    rows = _celf(initial, gain, accept, inst.n)
    return _drop_redundant(inst, rows)


def _drop_redundant(inst: _Instance, rows: list[int]) -> list[int]:
    """Remove rows (latest first) whose elements all stay covered without them."""
    count = np.bincount(_gather(inst.A.indptr, inst.A.indices, np.array(rows, np.int64)), minlength=inst.m)
    keep = list(rows)
    for j in reversed(rows):
        idx = _row(inst.A, j)
        if (count[idx] >= 2).all():
            count[idx] -= 1
            keep.remove(j)
    return keep


@dataclass
class _Assignment:
    """Capacitated assignment: pair (row, element) serves ``amount`` weight."""

    rows: np.ndarray
    elems: np.ndarray
    amount: np.ndarray


def _greedy_capacitated(inst: _Instance, k: int, capacity: float) -> tuple[list[int], _Assignment]:
    """Capacity-aware lazy greedy: a new station's gain is min(capacity, unserved weight in reach).

    A chosen station serves the unserved demand in its reach that the fewest
    candidates can reach first, up to its capacity.
    """
    A, w = inst.A, inst.w
    rem = w.copy()
    difficulty = np.diff(inst.csc.indptr)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def gain(j: int) -> float:
        return min(capacity, float(rem[_row(A, j)].sum()))

    def accept(j: int) -> None:
        idx = _row(A, j)
        idx = idx[rem[idx] > 0]
        idx = idx[np.lexsort((idx, difficulty[idx]))]
        r = rem[idx]
        take = np.clip(capacity - (np.cumsum(r) - r), 0.0, r)
        rem[idx] -= take
        sel = take > 0
        parts.append((np.full(sel.sum(), j, np.int64), idx[sel], take[sel]))

    rows = _celf(np.minimum(capacity, A @ w), gain, accept, k)
    if not parts:
        return rows, _Assignment(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    r, e, a = (np.concatenate(x) for x in zip(*parts))
    return rows, _Assignment(r, e, a)
