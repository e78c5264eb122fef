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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ..pairs import gather as _gather
from ..settings import GREEDY_BUDGET_S
from .cover import CoverSets

__all__ = ["LAGRANGIAN_ITERATIONS", "LAGRANGIAN_STARTS"]


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


def _swap_improve(inst: _Instance, rows: list[int], *, max_rounds: int | None = None) -> list[int]:
    """1-swap local search: replace a chosen row by another while coverage strictly grows.

    Each round finds the best swap over all (chosen, other) pairs with one
    sparse product and one small gather per chosen row.
    """
    A, csc, w = inst.A, inst.csc, inst.w
    if not rows or len(rows) >= inst.n:
        return list(rows)
    chosen = np.array(rows, dtype=np.int64)
    count = np.bincount(_gather(A.indptr, A.indices, chosen), minlength=inst.m)
    tol = 1e-9 * max(1.0, float(w.sum()))
    for _ in range(max_rounds or 20 * len(rows) + 100):
        best = _best_swap(A, csc, w, chosen, count, tol)
        if best is None:
            break
        pos, new = best
        count[_row(A, chosen[pos])] -= 1
        count[_row(A, new)] += 1
        chosen[pos] = new
    return chosen.tolist()


def _best_swap(A, csc, w, chosen, count, tol) -> tuple[int, int] | None:
    """The (position in chosen, new row) of the best improving swap, or None."""
    base = A @ (w * (count == 0))
    blocked = np.zeros(A.shape[0], bool)
    blocked[chosen] = True
    best, best_delta = None, tol
    for pos, j in enumerate(chosen):
        idx = _row(A, j)
        sole = idx[count[idx] == 1]
        loss = float(w[sole].sum())
        by = _gather(csc.indptr, csc.indices, sole)
        reps = np.diff(csc.indptr)[sole]
        gain = base + np.bincount(by, weights=np.repeat(w[sole], reps), minlength=A.shape[0])
        gain[blocked] = -np.inf
        new = int(np.argmax(gain))
        delta = gain[new] - loss
        if delta > best_delta:
            best, best_delta = (pos, new), delta
    return best


#: Subgradient iterations of the Lagrangian phase of the greedy method.
LAGRANGIAN_ITERATIONS = 1000
#: Local searches started from the Lagrangian solutions.
LAGRANGIAN_STARTS = 4


@dataclass
class _Lagrangian:
    """Outcome of the subgradient phase: starting sets for local search, an upper bound, and the state.

    ``lam`` are the multipliers of the best (lowest) bound, ``top`` the k
    sites the relaxation picks at them; ``step`` and ``cursor`` let a later
    call continue from where this one stopped (the exact method does).
    """

    starts: list[np.ndarray]
    bound: float
    lam: np.ndarray
    top: np.ndarray
    step: float = 2.0
    cursor: np.ndarray | None = None


def _lagrangian(
    inst: _Instance, k: int, lower: float, *, iters: int, budget_s: float, resume: _Lagrangian | None = None
) -> _Lagrangian:
    """Subgradient optimisation of the Lagrangian relaxation of the covering rows.

    Relaxing ``y_i <= sum_j x_j`` with multipliers ``lam`` gives
    ``L(lam) = sum_i max(0, w_i - lam_i) + (sum of the k largest positive (A lam)_j)``,
    an upper bound on the optimum for any ``lam >= 0`` (Galvao & ReVelle 1996);
    its minimum is the LP relaxation's optimum.  Polyak steps towards
    ``lower`` (the best known value); the k sites with the largest Lagrangian
    values at a few iterations seed local searches.  ``resume`` continues
    from an earlier call's multipliers and step size.
    """
    A, w = inst.A, inst.w
    lam = 0.5 * w if resume is None else (resume.cursor if resume.cursor is not None else resume.lam).copy()
    bound, theta, stall = (np.inf, 2.0, 0) if resume is None else (resume.bound, resume.step, 0)
    best_lam = lam if resume is None else resume.lam
    best_top = np.empty(0, np.int64) if resume is None else resume.top
    every = max(1, iters // LAGRANGIAN_STARTS)
    starts: list[np.ndarray] = []
    started = time.process_time()  # CPU seconds: the same iterations on a busy machine
    tol = _integral_tolerance(w)
    for it in range(1, iters + 1):
        c = A @ lam
        top = np.argpartition(-c, k - 1)[:k]
        value = float(np.maximum(w - lam, 0.0).sum() + np.maximum(c[top], 0.0).sum())
        if value < bound - 1e-9:
            bound, stall, best_lam, best_top = value, 0, lam, top
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2.0, 0
        if it % every == 0:
            starts.append(top[c[top] > 0])
        grad = np.bincount(_gather(A.indptr, A.indices, top), minlength=inst.m) - (w > lam)
        norm = float(grad @ grad)
        if norm == 0 or bound - lower <= tol or theta < 1e-6 or time.process_time() - started > budget_s:
            break
        lam = np.clip(lam - theta * (bound - lower) / norm * grad, 0.0, w)
    return _Lagrangian(starts, bound, best_lam, best_top, theta, lam)


def _integral_tolerance(w: np.ndarray) -> float:
    """How far an upper bound may lie above a solution that it still proves optimal."""
    return 1.0 - 1e-6 if np.all(w == np.round(w)) else 1e-9 * max(1.0, float(w.sum()))


def _mclp_heuristic(
    inst: _Instance, k: int, *, budget_s: float = GREEDY_BUDGET_S
) -> tuple[list[int], float, _Lagrangian | None]:
    """Lazy greedy + swaps, then swaps from the Lagrangian relaxation's solutions.

    Returns the best rows found, an upper bound on the optimum (Lagrangian)
    and the Lagrangian's state (None when there was nothing to relax).
    """
    best = _swap_improve(inst, _greedy_cover(inst, k))
    value = float(inst.w[inst.covered(best)].sum())
    if k == 0 or k >= inst.n:
        return best, value, None
    started = time.process_time()
    lag = _lagrangian(inst, k, value, iters=LAGRANGIAN_ITERATIONS, budget_s=LAGRANGIAN_SHARE * budget_s)
    seen = {tuple(sorted(best))}
    best, value = _search_from(inst, k, lag.starts, best, value, seen, deadline=started + budget_s)
    return best, max(lag.bound, value), lag


#: Share of the greedy method's budget for the subgradient; local searches get the rest.
LAGRANGIAN_SHARE = 0.6


def _search_from(
    inst: _Instance,
    k: int,
    starts: list[np.ndarray],
    best: list[int],
    value: float,
    seen: set[tuple[int, ...]],
    *,
    deadline: float = np.inf,
) -> tuple[list[int], float]:
    """Fill + swap from each start not ``seen`` before; the best rows and value, ``best`` included.

    Starts after the first are skipped once ``deadline`` (a ``time.process_time``) has passed.
    """
    for n, start in enumerate(starts):
        if n > 0 and time.process_time() > deadline:
            break
        key = tuple(sorted(start.tolist()))
        if key in seen:
            continue
        seen.add(key)
        rows = _swap_improve(inst, _fill(inst, start.tolist(), k))
        v = float(inst.w[inst.covered(rows)].sum())
        if v > value:
            best, value = rows, v
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
