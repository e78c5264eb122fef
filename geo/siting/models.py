"""The siting models: :class:`MCLP` (maximal covering) and :class:`LSCP` (set covering).

Built in the style of PySAL spopt (from a :class:`~geo.siting.CoverSets`, from
sparse pairs or from a cost matrix), then ``.solve(method)``, with the results
as attributes.  ``"greedy"`` runs the heuristics of
:mod:`geo.siting.heuristics`; ``"exact"`` the MIPs of :mod:`geo.siting.mip`,
warm-started by the greedy, with a time limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .. import solver
from ..errors import SitingError
from ..settings import DEFAULT_MIP_GAP, DEFAULT_TIME_LIMIT_S
from ..solver import SolveResult
from .cover import CoverSets
from .exact import EXACT_STALL, solve_mclp
from .heuristics import (
    LAGRANGIAN_STALL,
    _Assignment,
    _greedy_capacitated,
    _greedy_set_cover,
    _Instance,
    _integral_tolerance,
    _Lagrangian,
    _mclp_heuristic,
    _reduce,
    _sequence,
)
from .mip import (
    _best_assignment,
    _clscp_mip,
    _cmclp_mip,
    _lscp_mip,
    _mclp_mip,
    _servable_weight,
    _solve_mclp_mip,
)

__all__ = ["LSCP", "MCLP", "METHODS"]

#: Solution methods.
METHODS: tuple[str, ...] = ("greedy", "exact")


@dataclass
class _Solution:
    """Chosen instance rows and how much of each element they serve."""

    rows: np.ndarray
    served: np.ndarray
    loads: np.ndarray | None = None
    optimal: bool = False
    gap: float | None = None
    status: str = "heuristic"
    bound: float | None = None
    assignment: _Assignment | None = None


def _uncapacitated(inst: _Instance, rows: ArrayLike, **kw: Any) -> _Solution:
    chosen = np.sort(np.asarray(rows, dtype=np.int64))
    return _Solution(chosen, inst.covered(chosen).astype(float), **kw)


def _bounded(inst: _Instance, rows: ArrayLike, bound: float) -> _Solution:
    """A heuristic solution with the gap its upper bound proves."""
    value = float(inst.w[inst.covered(rows)].sum())
    optimal = bound - value <= _integral_tolerance(inst.w)
    gap = 0.0 if optimal else (bound - value) / max(abs(bound), 1e-12)
    status = "optimal (Lagrangian bound reached)" if optimal else "heuristic (gap from the Lagrangian bound)"
    return _uncapacitated(inst, rows, optimal=optimal, gap=gap, status=status, bound=bound)


def _capacitated(inst: _Instance, assign: _Assignment, **kw: Any) -> _Solution:
    served = np.bincount(assign.elems, weights=assign.amount, minlength=inst.m)
    served = np.divide(served, inst.w, out=np.zeros(inst.m), where=inst.w > 0)
    rows = np.unique(assign.rows)
    loads = np.bincount(assign.rows, weights=assign.amount, minlength=inst.n)[rows]
    return _Solution(rows, np.clip(served, 0.0, 1.0), loads, assignment=assign, **kw)


def _chosen_rows(inst: _Instance, x: np.ndarray) -> np.ndarray:
    return np.flatnonzero(x[: inst.n] > 0.5)


class _SitingModel:
    """Shared machinery of :class:`MCLP` and :class:`LSCP` (see those)."""

    problem = ""

    def __init__(self, cover: CoverSets, *, capacity: float | None = None, name: str = "") -> None:
        if capacity is not None and not (np.isfinite(capacity) and capacity > 0):
            raise SitingError(f"a station's capacity must be a positive number of people, got {capacity}")
        self.cover = cover
        self.capacity = None if capacity is None else float(capacity)
        self.name = name or self.problem
        self._instance: _Instance | None = None
        self.method: str | None = None
        self.chosen = np.empty(0, dtype=np.int64)
        self.gains = np.empty(0)
        self.rank = np.empty(0, dtype=np.int64)
        self.served = np.zeros(cover.n_demand)
        self.optimal = False
        self.gap: float | None = None
        self.status = "not solved"
        self.runtime_s = 0.0

    # ---------------------------------------------------------- building
    @property
    def instance(self) -> _Instance:
        """The reduced instance the solvers see (built on first use)."""
        if self._instance is None:
            self._instance = _reduce(self.cover)
        return self._instance

    # ----------------------------------------------------------- solving
    def solve(
        self,
        method: str = "greedy",
        *,
        time_limit: float = DEFAULT_TIME_LIMIT_S,
        mip_gap: float = DEFAULT_MIP_GAP,
        warm_start: bool = True,
    ):
        """Solve the model; the results become attributes.

        Parameters
        ----------
        method
            ``"greedy"`` (lazy greedy + swap improvement, seeded again from a
            Lagrangian relaxation; about a second; ``gap`` is the distance to
            that relaxation's bound, ``optimal`` True when the bound is
            reached) or ``"exact"`` (MIP solved by HiGHS).
        time_limit
            Seconds HiGHS may run (exact only); when it runs out the best
            solution found is kept, ``optimal`` is False and ``gap`` tells how
            far from the bound it may be.
        mip_gap
            Relative gap at which HiGHS calls the solution optimal.
        warm_start
            Feed the greedy solution to HiGHS as a starting point.

        Returns
        -------
        self
        """
        if method not in METHODS:
            raise SitingError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
        if time_limit is None or not time_limit > 0:
            raise SitingError(f"the time limit must be a positive number of seconds, got {time_limit}")
        started = time.perf_counter()
        inst = self.instance
        if inst.m == 0:
            sol = _Solution(
                np.empty(0, np.int64), np.zeros(0), np.zeros(0), optimal=True, gap=0.0, status="nothing to cover"
            )
        elif method == "greedy":
            sol = self._greedy()
        else:
            sol = self._exact(time_limit, mip_gap, warm_start)
        self._store(sol, method, time.perf_counter() - started)
        return self

    def _greedy(self) -> _Solution:  # pragma: no cover - abstract
        raise NotImplementedError

    def _exact(self, time_limit: float, mip_gap: float, warm_start: bool) -> _Solution:  # pragma: no cover
        raise NotImplementedError

    def _store(self, sol: _Solution, method: str, seconds: float) -> None:
        inst = self.instance
        if self.capacity is not None and sol.loads is not None:
            order = np.argsort(-sol.loads, kind="stable")
            rows, gains = sol.rows[order], sol.loads[order]
        else:
            rows, gains = _sequence(inst, sol.rows)
        keep = gains > 0
        self.chosen = inst.cand[rows[keep]]
        self.gains = gains[keep]
        self.rank = np.arange(1, self.chosen.size + 1)
        served = np.zeros(self.cover.n_demand)
        in_model = inst.elem >= 0
        served[in_model] = sol.served[inst.elem[in_model]] if sol.served.size else 0.0
        served[self.cover.covered_before] = 1.0
        self.served = served
        self.method = method
        self.optimal = bool(sol.optimal)
        self.gap = sol.gap
        self.status = sol.status
        self.runtime_s = float(seconds)

    # ----------------------------------------------------------- results
    @property
    def covered_before(self) -> float:
        """Weight covered by the existing stations."""
        return self.cover.before_weight

    @property
    def covered_after(self) -> float:
        """Weight covered (or, with a capacity, served) once the chosen sites open."""
        return self.cover.before_weight + float(self.gains.sum())

    @property
    def new_weight(self) -> float:
        """Weight newly covered by the chosen sites (the sum of their gains)."""
        return float(self.gains.sum())

    @property
    def uncovered(self) -> np.ndarray:
        """Indices of demand with weight still not covered (or served) after siting."""
        return np.flatnonzero((self.served < 1.0 - 1e-9) & (self.cover.weight > 0))

    @property
    def uncoverable(self) -> np.ndarray:
        """Indices of demand with weight that neither existing stations nor any candidate reach."""
        return np.flatnonzero(self.cover.open_demand & ~self.cover.coverable)

    @property
    def fac2cli(self) -> list[np.ndarray]:
        """Per candidate, the demand indices it serves (empty unless chosen), as in spopt."""
        out = [np.empty(0, dtype=np.int64) for _ in range(self.cover.n_candidates)]
        for j in self.chosen:
            out[int(j)] = self.cover.row(int(j))
        return out

    def __repr__(self) -> str:
        state = f"{self.method}, {self.chosen.size} sites" if self.method else "not solved"
        return f"{type(self).__name__}({self.cover.n_candidates} candidates, {self.cover.n_demand} demand, {state})"


class MCLP(_SitingModel):
    """Maximal covering location: K new sites that newly cover the most weight.

    Existing stations are fixed open (their demand is covered before); with a
    ``capacity`` each new station serves at most that many people, and the
    objective is the weight served (assignment only on covering pairs).

    Parameters
    ----------
    cover
        The covering structure (:func:`cover_sets`, :meth:`CoverSets.from_pairs`).
    k
        Number of new sites (0 <= k <= number of choosable candidates).
    capacity
        People one new station can serve, or None for no limit.
    name
        A label.

    Attributes
    ----------
    chosen
        Chosen candidate indices in rank order.
    gains
        Weight each chosen site newly covers (marginal, in rank order; with a
        capacity, the weight it serves).
    rank
        1..len(chosen).
    covered_before, covered_after
        Weight covered before and after.
    optimal, gap
        Whether optimality is proven, and the relative gap to the best upper
        bound: HiGHS' MIP gap for ``exact``; for ``greedy`` the Lagrangian
        bound's (an upper bound on the true gap; None with a capacity).
    served
        Per demand element, the share covered or served after siting (0..1).
    """

    problem = "mclp"

    def __init__(self, cover: CoverSets, k: int, *, capacity: float | None = None, name: str = "mclp") -> None:
        super().__init__(cover, capacity=capacity, name=name)
        self.k = _check_k(k, cover)
        self._lagrangian: _Lagrangian | None = None

    @classmethod
    def from_pairs(
        cls,
        candidate: ArrayLike,
        demand: ArrayLike,
        weights: ArrayLike,
        k: int,
        *,
        n_candidates: int | None = None,
        covered_before: ArrayLike | None = None,
        blocked: ArrayLike | None = None,
        capacity: float | None = None,
        name: str = "mclp",
    ) -> MCLP:
        """Build from sparse (candidate, demand) covering pairs (see :meth:`CoverSets.from_pairs`)."""
        cover = CoverSets.from_pairs(
            candidate, demand, weights, n_candidates=n_candidates, covered_before=covered_before, blocked=blocked
        )
        return cls(cover, k, capacity=capacity, name=name)

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: np.ndarray | sp.spmatrix,
        weights: ArrayLike,
        service_radius: float,
        p_facilities: int,
        predefined_facilities_arr: ArrayLike | None = None,
        *,
        capacity: float | None = None,
        name: str = "mclp",
    ) -> MCLP:
        """Build from a (demand x facilities) cost matrix, with spopt's argument names.

        Unlike spopt, ``p_facilities`` counts the *new* sites only: predefined
        facilities are fixed open on top of them.
        """
        cover = CoverSets.from_cost_matrix(cost_matrix, weights, service_radius, predefined_facilities_arr)
        return cls(cover, p_facilities, capacity=capacity, name=name)

    @property
    def objective(self) -> float:
        """Weight newly covered (or served) by the chosen sites."""
        return self.new_weight

    def _greedy(self) -> _Solution:
        inst = self.instance
        if self.capacity is not None:
            rows, assign = _greedy_capacitated(inst, self.k, self.capacity)
            sol = _capacitated(inst, _best_assignment(inst, np.array(rows), self.capacity, assign))
            sol.assignment = assign  # the greedy's own assignment: a consistent MIP start
            return sol
        return self._greedy_mclp(LAGRANGIAN_STALL)

    def _greedy_mclp(self, stall_after: int) -> _Solution:
        """Greedy + swap; ``stall_after`` is its subgradient's patience (20 when the exact method continues it)."""
        inst = self.instance
        rows, bound, self._lagrangian = _mclp_heuristic(inst, self.k, stall_after=stall_after)
        return _bounded(inst, rows, bound)

    def _exact(self, time_limit: float, mip_gap: float, warm_start: bool) -> _Solution:
        inst = self.instance
        if self.capacity is None and self.k >= inst.n:
            return _uncapacitated(inst, range(inst.n), optimal=True, gap=0.0, status="all useful candidates chosen")
        start = None
        if warm_start:
            start = self._greedy() if self.capacity is not None else self._greedy_mclp(EXACT_STALL)
        if self.capacity is None:
            return self._exact_plain(start, time_limit, mip_gap)
        return self._exact_capacitated(start, time_limit, mip_gap)

    def _exact_plain(self, start: _Solution | None, time_limit: float, mip_gap: float) -> _Solution:
        inst = self.instance
        x0 = None
        if start is not None:
            x = np.zeros(inst.n)
            x[start.rows] = 1.0
            x0 = np.concatenate([x, start.served])
        if start is not None and start.optimal:
            return start  # the Lagrangian bound already proves the heuristic's solution optimal
        if start is not None and self._lagrangian is not None:
            ex = solve_mclp(inst, self.k, start.rows.tolist(), self._lagrangian, time_limit=time_limit, mip_gap=mip_gap)
            return _uncapacitated(inst, ex.rows, optimal=ex.optimal, gap=ex.gap, status=ex.status, bound=ex.bound)
        res = _solve_mclp_mip(_mclp_mip(inst, self.k), time_limit=time_limit, mip_gap=mip_gap, start=x0)
        if res.x is None:
            return _fallback(start, res)
        rows = np.flatnonzero(res.x[: inst.n] > 0.5)
        return _uncapacitated(inst, rows, optimal=res.optimal, gap=res.gap, status=res.status, bound=res.bound)

    def _exact_capacitated(self, start: _Solution | None, time_limit: float, mip_gap: float) -> _Solution:
        inst = self.instance
        assert self.capacity is not None  # the capacitated path
        mip, pairs = _cmclp_mip(inst, self.k, self.capacity)
        x0 = None if start is None else _capacitated_start(inst, start, pairs)
        res = solver.solve(mip, time_limit=time_limit, mip_gap=mip_gap, start=x0)
        if res.x is None:
            return _fallback(start, res)
        assign = _best_assignment(inst, _chosen_rows(inst, res.x), self.capacity)
        return _capacitated(inst, assign, optimal=res.optimal, gap=res.gap, status=res.status, bound=res.bound)


class LSCP(_SitingModel):
    """Location set covering: the fewest new sites so that all coverable demand is covered.

    Demand that no candidate (and no existing station) reaches is reported in
    :attr:`uncoverable` instead of making the problem infeasible.  With a
    ``capacity``, the fewest stations that serve as much weight as all the
    candidates together could.

    Parameters
    ----------
    cover
        The covering structure.
    capacity
        People one new station can serve, or None.
    name
        A label.

    Attributes
    ----------
    chosen, gains, rank, covered_before, covered_after, optimal, gap, served
        As in :class:`MCLP`.
    """

    problem = "lscp"

    @classmethod
    def from_pairs(
        cls,
        candidate: ArrayLike,
        demand: ArrayLike,
        weights: ArrayLike,
        *,
        n_candidates: int | None = None,
        covered_before: ArrayLike | None = None,
        blocked: ArrayLike | None = None,
        capacity: float | None = None,
        name: str = "lscp",
    ) -> LSCP:
        """Build from sparse (candidate, demand) covering pairs."""
        cover = CoverSets.from_pairs(
            candidate, demand, weights, n_candidates=n_candidates, covered_before=covered_before, blocked=blocked
        )
        return cls(cover, capacity=capacity, name=name)

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: np.ndarray | sp.spmatrix,
        service_radius: float,
        predefined_facilities_arr: ArrayLike | None = None,
        weights: ArrayLike | None = None,
        *,
        capacity: float | None = None,
        name: str = "lscp",
    ) -> LSCP:
        """Build from a (demand x facilities) cost matrix, with spopt's argument names."""
        cover = CoverSets.from_cost_matrix(cost_matrix, weights, service_radius, predefined_facilities_arr)
        return cls(cover, capacity=capacity, name=name)

    @property
    def objective(self) -> int:
        """Number of new sites."""
        return int(self.chosen.size)

    def _greedy(self) -> _Solution:
        inst = self.instance
        if self.capacity is not None:
            rows, assign = _greedy_capacitated(inst, inst.n, self.capacity)
            sol = _capacitated(inst, _best_assignment(inst, np.array(rows), self.capacity, assign))
            sol.assignment = assign
            return sol
        return _uncapacitated(inst, _greedy_set_cover(inst))

    def _exact(self, time_limit: float, mip_gap: float, warm_start: bool) -> _Solution:
        inst = self.instance
        start = self._greedy() if warm_start else None
        if self.capacity is None:
            x0 = None
            if start is not None:
                x0 = np.zeros(inst.n)
                x0[start.rows] = 1.0
            res = solver.solve(_lscp_mip(inst), time_limit=time_limit, mip_gap=mip_gap, start=x0)
            if res.x is None:
                return _fallback(start, res)
            rows = np.flatnonzero(res.x > 0.5)
            return _uncapacitated(inst, rows, optimal=res.optimal, gap=res.gap, status=res.status, bound=res.bound)
        target = _servable_weight(inst, self.capacity, time_limit)
        mip, pairs = _clscp_mip(inst, self.capacity, target)
        x0 = None if start is None else _capacitated_start(inst, start, pairs)
        res = solver.solve(mip, time_limit=time_limit, mip_gap=mip_gap, start=x0)
        if res.x is None:
            return _fallback(start, res)
        assign = _best_assignment(inst, _chosen_rows(inst, res.x), self.capacity)
        return _capacitated(inst, assign, optimal=res.optimal, gap=res.gap, status=res.status, bound=res.bound)


def _check_k(k: int, cover: CoverSets) -> int:
    if isinstance(k, bool) or int(k) != k:
        raise SitingError(f"the number of new sites must be a whole number, got {k!r}")
    k = int(k)
    usable = int(cover.choosable.sum())
    if k < 0:
        raise SitingError(f"the number of new sites cannot be negative, got {k}")
    if k > usable:
        raise SitingError(
            f"cannot add {k} sites: only {usable} of the {cover.n_candidates} candidate sites can be chosen "
            "(the others are unreachable or are existing stations); give fewer sites or more candidates"
        )
    return k


def _capacitated_start(inst: _Instance, start: _Solution, pairs: np.ndarray) -> np.ndarray | None:
    """Full column vector [x, z] of a capacitated (greedy) solution, for HiGHS."""
    if start.assignment is None:
        return None
    a = start.assignment
    x = np.zeros(inst.n)
    x[start.rows] = 1.0
    key = pairs[:, 0] * inst.m + pairs[:, 1]
    pos = np.searchsorted(key, a.rows * inst.m + a.elems)
    z = np.zeros(pairs.shape[0])
    z[pos] = a.amount / inst.w[a.elems]
    return np.concatenate([x, np.clip(z, 0.0, 1.0)])


def _fallback(start: _Solution | None, res: SolveResult) -> _Solution:
    """No MIP solution within the time limit: keep the greedy one (or report the failure)."""
    if start is None:
        raise SitingError(f"HiGHS found no solution ({res.status}); allow more time or use the greedy method")
    start.status = f"{res.status}; greedy solution kept"
    start.optimal = False
    start.gap = None
    return start
