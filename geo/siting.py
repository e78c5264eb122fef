"""Micro-station siting: where to put new stations, with the existing ones kept.

Planners site new micro-stations (党群服务站) so that more residents live within
the walking radius of one.  Three layers build on each other:

* :func:`cover_sets` - a sparse covering structure from the walking network:
  for each candidate site, the demand samples within the radius (one bounded
  search per candidate, samples joined at their edges exactly as in
  :mod:`geo.coverage`), as CSR pairs.  Samples already within the radius of
  an existing station are *covered before* and leave the objective.  No dense
  candidates x demand matrix is ever built.
* :class:`MCLP` and :class:`LSCP` - location models in the style of PySAL
  spopt: built (from a :class:`CoverSets`, from sparse pairs or from a cost
  matrix), then ``.solve(method)``, with the results as attributes.  Methods:
  ``"greedy"`` (lazy greedy plus best-improvement 1-swaps, then more swap
  searches started from the solutions of a Lagrangian relaxation, whose bound
  also tells how far from the optimum the answer can be; capacity-aware
  greedy with a capacity) and ``"exact"`` (a MIP built sparsely from the
  covering pairs and solved by HiGHS through highspy, warm-started by the
  greedy, with a time limit).
* :func:`plan_sites` - the whole computation from GeoDataFrames, as the
  ``lifecircle site`` command runs it; and :class:`WhatIf`, the app's
  add / remove / move / undo of one station on the nearest-station distances.

Typical use::

    from lifecircle.geo import siting
    plan = siting.plan_sites(net, facilities, demand, candidates=cands, radius=1000, k=5)
    plan.sites()            # GeoDataFrame: id, name, rank, gain, lon, lat
    plan.summary()          # the summary JSON of the CLI

    model = siting.MCLP.from_pairs(cand_idx, demand_idx, weights, k=3).solve("exact")
    model.chosen, model.gains, model.optimal, model.gap
"""

from __future__ import annotations

import heapq
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp
import shapely

from . import reach
from .coverage import DEFAULT_SAMPLE_SPACING_M, DemandSamples, demand_samples, tier_key
from .network import DEFAULT_SNAP_LIMIT_M, Snapped, WalkNetwork, snap_xy
from .standards import DEFAULT_TIERS
from .errors import SitingError
from .settings import DEFAULT_RADIUS_M, DEFAULT_TIME_LIMIT_S, DEFAULT_MIP_GAP, SAME_SITE_M, DEFAULT_CANDIDATE_MIN_DISTANCE_M, GREEDY_BUDGET_S  # noqa: F401 (re-exported)

#: Facility kinds that count as existing stations by default.
STATION_KINDS: tuple[str, ...] = ("party_center", "micro_station")
#: Solution methods.
METHODS: tuple[str, ...] = ("greedy", "exact")

ProgressFn = Callable[[int, int], None]


def check_radius(radius: float) -> float:
    """Return ``radius`` as a float, or raise :class:`SitingError` unless it is positive and finite."""
    value = float(radius)
    if not np.isfinite(value) or value <= 0:
        raise SitingError(f"the service radius must be a positive number of metres, got {radius:g}")
    return value


# ------------------------------------------------------------- sparse helpers
def _gather(indptr: np.ndarray, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenate ``values[indptr[r]:indptr[r + 1]]`` over ``rows`` (vectorised)."""
    rows = np.asarray(rows, dtype=np.int64)
    indptr = np.asarray(indptr, dtype=np.int64)
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=values.dtype)
    pos = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
    return values[pos]


def _row(mat: sp.csr_matrix, j: int) -> np.ndarray:
    """Column indices of row ``j`` of a CSR matrix."""
    return mat.indices[mat.indptr[j] : mat.indptr[j + 1]]


@dataclass
class TargetIndex:
    """Snapped target points (demand samples) indexed by the edge they join.

    Attributes
    ----------
    targets
        The snapped points.
    indptr, order
        Points on edge ``e`` are ``order[indptr[e]:indptr[e + 1]]``.
    """

    targets: Snapped
    indptr: np.ndarray
    order: np.ndarray

    @classmethod
    def build(cls, net: WalkNetwork, targets: Snapped) -> "TargetIndex":
        """Index the reachable ``targets`` by edge."""
        ok = np.flatnonzero(targets.reachable)
        order = ok[np.argsort(targets.edge[ok], kind="stable")]
        counts = np.bincount(targets.edge[order], minlength=net.n_edges)
        return cls(targets, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), order)

    def reached(
        self, net: WalkNetwork, node_dist: np.ndarray, source: Snapped, limit: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Targets within ``limit`` of one source, given its node distances.

        Only targets on edges touching a reached node, or on the source's own
        edge, can be within reach; their distances are those of
        :func:`geo.reach.point_distances` (the same join as coverage).

        Parameters
        ----------
        net
            The network.
        node_dist
            Node distances from the source (``inf`` beyond ``limit``).
        source
            The single snapped source.
        limit
            Radius in metres.

        Returns
        -------
        idx, dist
            Target indices and their network distances (``<= limit``).
        """
        edges = reach.incident_edges(net, np.flatnonzero(node_dist <= limit))
        edges = np.union1d(edges, source.edge[source.reachable])
        idx = _gather(self.indptr, self.order, edges)
        if idx.size == 0:
            return idx, np.empty(0)
        dist = reach.point_distances(net, node_dist, self.targets.subset(idx), sources=source, limit=limit)
        keep = np.isfinite(dist)
        return idx[keep], dist[keep]


def candidate_pairs(
    net: WalkNetwork,
    candidates: Snapped,
    targets: Snapped,
    radius: float,
    *,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (candidate, target) pair within ``radius`` of network walk.

    One bounded search per candidate on a local subgraph
    (:func:`geo.reach.iter_source_node_distances`, about 1 ms each).

    Parameters
    ----------
    net
        The network.
    candidates
        Snapped candidate sites; unreachable ones get no pair.
    targets
        Snapped demand samples.
    radius
        Service radius in metres.
    progress
        Called with (done, total) now and then.

    Returns
    -------
    candidate, target, dist
        Three arrays of equal length, sorted by candidate.
    """
    index = TargetIndex.build(net, targets)
    parts_c, parts_t, parts_d = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0)]
    total = int(candidates.reachable.sum())
    for done, (i, node_dist) in enumerate(reach.iter_source_node_distances(net, candidates, radius), start=1):
        idx, dist = index.reached(net, node_dist, candidates.subset(np.array([i])), radius)
        parts_c.append(np.full(idx.size, i, dtype=np.int64))
        parts_t.append(idx.astype(np.int64))
        parts_d.append(dist)
        if progress and (done % 100 == 0 or done == total):
            progress(done, total)
    return np.concatenate(parts_c), np.concatenate(parts_t), np.concatenate(parts_d)


# -------------------------------------------------------------- cover sets
@dataclass
class CoverSets:
    """Which demand each candidate site covers, as sparse CSR pairs.

    Row ``j`` (a candidate) holds the demand indices within the radius:
    ``indices[indptr[j]:indptr[j + 1]]``.

    Attributes
    ----------
    indptr
        Shape (n_candidates + 1,).
    indices
        Demand index of each pair, sorted within a row.
    weight
        Weight (population) of each demand element, shape (n_demand,).
    covered_before
        Demand already within the radius of an existing station (fixed open).
    blocked
        Candidates that may not be chosen: unreachable, or an existing station.
    radius
        Service radius in metres (NaN when built from pairs without one).
    dist
        Network distance of each pair, or None.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weight: np.ndarray
    covered_before: np.ndarray
    blocked: np.ndarray
    radius: float = float("nan")
    dist: np.ndarray | None = None
    _matrix: sp.csr_matrix | None = field(default=None, repr=False)

    # ----------------------------------------------------------- building
    @classmethod
    def from_pairs(
        cls,
        candidate: Sequence[int],
        demand: Sequence[int],
        weight: Sequence[float],
        *,
        n_candidates: int | None = None,
        covered_before: Sequence[bool] | None = None,
        blocked: Sequence[bool] | None = None,
        radius: float = float("nan"),
        dist: Sequence[float] | None = None,
    ) -> "CoverSets":
        """Build from (candidate, demand) covering pairs.

        Parameters
        ----------
        candidate, demand
            Index pairs: candidate ``candidate[p]`` covers demand ``demand[p]``.
            Duplicates are merged (keeping the shortest distance).
        weight
            Weight of each demand element; its length is the number of demand elements.
        n_candidates
            Number of candidates (default: the largest index + 1).
        covered_before
            Demand already covered by existing stations.
        blocked
            Candidates that may not be chosen.
        radius
            The service radius the pairs were made with, for reporting.
        dist
            Distance of each pair.
        """
        cand = np.asarray(candidate, dtype=np.int64).ravel()
        dem = np.asarray(demand, dtype=np.int64).ravel()
        w = np.asarray(weight, dtype=float).ravel()
        if cand.shape != dem.shape:
            raise SitingError("candidate and demand index arrays differ in length")
        n = int(n_candidates if n_candidates is not None else (cand.max() + 1 if cand.size else 0))
        _check_pairs(cand, dem, n, w.size)
        d = np.zeros(cand.size) if dist is None else np.asarray(dist, dtype=float).ravel()
        order = np.lexsort((d, dem, cand))
        cand, dem, d = cand[order], dem[order], d[order]
        first = np.ones(cand.size, dtype=bool)
        first[1:] = (cand[1:] != cand[:-1]) | (dem[1:] != dem[:-1])
        cand, dem, d = cand[first], dem[first], d[first]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(cand, minlength=n))]).astype(np.int64)
        before = np.zeros(w.size, bool) if covered_before is None else np.asarray(covered_before, bool).ravel()
        block = np.zeros(n, bool) if blocked is None else np.asarray(blocked, bool).ravel()
        if before.size != w.size or block.size != n:
            raise SitingError("covered_before must have one value per demand element and blocked one per candidate")
        return cls(indptr, dem, w, before, block, float(radius), None if dist is None else d)

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: np.ndarray | sp.spmatrix,
        weights: Sequence[float] | None,
        service_radius: float,
        predefined_facilities_arr: Sequence[int] | None = None,
    ) -> "CoverSets":
        """Build from a (demand x facilities) cost matrix, as spopt's ``from_cost_matrix``.

        Parameters
        ----------
        cost_matrix
            Distances, rows = demand, columns = candidate facilities.  A
            scipy sparse matrix holds only the finite distances.
        weights
            Demand weights (default all 1).
        service_radius
            A pair covers when its cost is at most this.
        predefined_facilities_arr
            Binary array over the columns: facilities that already exist.
            Their demand counts as covered before and they are never chosen.
        """
        radius = check_radius(service_radius)
        if sp.issparse(cost_matrix):
            coo = sp.coo_matrix(cost_matrix)
            keep = coo.data <= radius
            dem, cand, d = coo.row[keep], coo.col[keep], coo.data[keep]
        else:
            mat = np.asarray(cost_matrix, dtype=float)
            dem, cand = np.nonzero(mat <= radius)
            d = mat[dem, cand]
        n_dem, n_fac = cost_matrix.shape
        w = np.ones(n_dem) if weights is None else np.asarray(weights, dtype=float).ravel()
        pre = np.zeros(n_fac, bool) if predefined_facilities_arr is None else np.asarray(predefined_facilities_arr).ravel() > 0
        before = np.zeros(n_dem, bool)
        before[dem[pre[cand]]] = True
        return cls.from_pairs(cand, dem, w, n_candidates=n_fac, covered_before=before, blocked=pre,
                              radius=radius, dist=d)

    # --------------------------------------------------------- properties
    @property
    def n_candidates(self) -> int:
        """Number of candidate sites."""
        return int(self.indptr.size - 1)

    @property
    def n_demand(self) -> int:
        """Number of demand elements (samples)."""
        return int(self.weight.size)

    @property
    def n_pairs(self) -> int:
        """Number of covering pairs."""
        return int(self.indices.size)

    @property
    def total_weight(self) -> float:
        """Total demand weight."""
        return float(self.weight.sum())

    @property
    def before_weight(self) -> float:
        """Weight already covered by existing stations."""
        return float(self.weight[self.covered_before].sum())

    @property
    def open_demand(self) -> np.ndarray:
        """Demand with weight that existing stations do not cover (the objective's)."""
        return ~self.covered_before & (self.weight > 0)

    @property
    def choosable(self) -> np.ndarray:
        """Candidates that may be chosen."""
        return ~self.blocked

    @property
    def coverable(self) -> np.ndarray:
        """Open demand that at least one choosable candidate covers."""
        hit = np.zeros(self.n_demand, bool)
        hit[_gather(self.indptr, self.indices, np.flatnonzero(self.choosable))] = True
        return hit & self.open_demand

    def row(self, j: int) -> np.ndarray:
        """Demand indices candidate ``j`` covers."""
        return self.indices[self.indptr[j] : self.indptr[j + 1]]

    def matrix(self) -> sp.csr_matrix:
        """The pairs as a binary CSR matrix, shape (n_candidates, n_demand)."""
        if self._matrix is None:
            data = np.ones(self.indices.size, dtype=np.float64)
            self._matrix = sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n_candidates, self.n_demand))
        return self._matrix

    def covered_by(self, chosen: Sequence[int]) -> np.ndarray:
        """Demand covered by the existing stations plus the ``chosen`` candidates."""
        out = self.covered_before.copy()
        out[_gather(self.indptr, self.indices, np.asarray(chosen, dtype=np.int64))] = True
        return out


def _check_pairs(cand: np.ndarray, dem: np.ndarray, n_cand: int, n_dem: int) -> None:
    if cand.size and (cand.min() < 0 or cand.max() >= n_cand):
        raise SitingError(f"candidate indices must lie in 0..{n_cand - 1}")
    if dem.size and (dem.min() < 0 or dem.max() >= n_dem):
        raise SitingError(f"demand indices must lie in 0..{n_dem - 1} (one weight per demand element)")


def cover_sets(
    net: WalkNetwork,
    targets: Snapped,
    weight: np.ndarray,
    candidates: Snapped,
    radius: float,
    *,
    existing: Snapped | None = None,
    blocked: np.ndarray | None = None,
    progress: ProgressFn | None = None,
) -> CoverSets:
    """Build the covering structure of candidates over demand samples on a network.

    Parameters
    ----------
    net
        The walking network.
    targets
        Snapped demand samples (e.g. ``DemandSamples.snapped``).
    weight
        Weight of each sample.
    candidates
        Snapped candidate sites; unreachable ones are blocked.
    radius
        Service radius in metres of network walk.
    existing
        Snapped existing stations: samples within ``radius`` of one are covered before.
    blocked
        Further candidates that may not be chosen (e.g. existing stations).
    progress
        Called with (done, total) during the per-candidate searches.

    Returns
    -------
    CoverSets
    """
    radius = check_radius(radius)
    cand, dem, dist = candidate_pairs(net, candidates, targets, radius, progress=progress)
    before = np.zeros(len(targets), bool)
    if existing is not None and existing.reachable.any():
        before = reach.nearest_distances(net, existing, targets, limit=radius) <= radius
    block = ~candidates.reachable
    if blocked is not None:
        block = block | np.asarray(blocked, bool)
    return CoverSets.from_pairs(cand, dem, weight, n_candidates=len(candidates), covered_before=before,
                                blocked=block, radius=radius, dist=dist)


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

    def covered(self, rows: Sequence[int]) -> np.ndarray:
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
    _, rep, groups = np.unique(np.column_stack(keys), axis=0, return_index=True, return_inverse=True)
    order = np.argsort(rep, kind="stable")  # number groups by first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[groups.ravel()], rep[order]


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
    """Lazy greedy for maximal coverage."""
    covered = np.zeros(inst.m, bool)
    A, w = inst.A, inst.w

    def gain(j: int) -> float:
        idx = _row(A, j)
        return float(w[idx][~covered[idx]].sum())

    def accept(j: int) -> None:
        covered[_row(A, j)] = True

    return _celf(A @ w, gain, accept, k)


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
    """Outcome of the subgradient phase: starting sets for local search, and an upper bound."""

    starts: list[np.ndarray]
    bound: float


def _lagrangian(inst: _Instance, k: int, lower: float, *, iters: int, budget_s: float) -> _Lagrangian:
    """Subgradient optimisation of the Lagrangian relaxation of the covering rows.

    Relaxing ``y_i <= sum_j x_j`` with multipliers ``lam`` gives
    ``L(lam) = sum_i max(0, w_i - lam_i) + (sum of the k largest positive (A lam)_j)``,
    an upper bound on the optimum for any ``lam >= 0`` (Galvao & ReVelle 1996).
    Polyak steps towards ``lower`` (the best known value); the k sites
    with the largest Lagrangian values at a few iterations seed local searches.
    """
    A, w = inst.A, inst.w
    lam = 0.5 * w
    bound, theta, stall = np.inf, 2.0, 0
    every = max(1, iters // LAGRANGIAN_STARTS)
    starts: list[np.ndarray] = []
    started = time.perf_counter()
    for it in range(1, iters + 1):
        c = A @ lam
        top = np.argpartition(-c, k - 1)[:k]
        value = float(np.maximum(w - lam, 0.0).sum() + np.maximum(c[top], 0.0).sum())
        if value < bound - 1e-9:
            bound, stall = value, 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2.0, 0
        if it % every == 0:
            starts.append(top[c[top] > 0])
        grad = np.bincount(_gather(A.indptr, A.indices, top), minlength=inst.m) - (w > lam)
        norm = float(grad @ grad)
        if norm == 0 or bound - lower <= _integral_tolerance(w) or time.perf_counter() - started > budget_s:
            break
        lam = np.clip(lam - theta * (bound - lower) / norm * grad, 0.0, w)
    return _Lagrangian(starts, bound)


def _integral_tolerance(w: np.ndarray) -> float:
    """How far an upper bound may lie above a solution that it still proves optimal."""
    return 1.0 - 1e-6 if np.all(w == np.round(w)) else 1e-9 * max(1.0, float(w.sum()))


def _mclp_heuristic(inst: _Instance, k: int, *, budget_s: float = GREEDY_BUDGET_S) -> tuple[list[int], float]:
    """Lazy greedy + swaps, then swaps from the Lagrangian relaxation's solutions.

    Returns the best rows found and an upper bound on the optimum (Lagrangian).
    """
    best = _swap_improve(inst, _greedy_cover(inst, k))
    value = float(inst.w[inst.covered(best)].sum())
    if k == 0 or k >= inst.n:
        return best, value
    lag = _lagrangian(inst, k, value, iters=LAGRANGIAN_ITERATIONS, budget_s=budget_s)
    seen = {tuple(sorted(best))}
    for start in lag.starts:
        key = tuple(sorted(start.tolist()))
        if key in seen:
            continue
        seen.add(key)
        rows = _swap_improve(inst, _fill(inst, start.tolist(), k))
        v = float(inst.w[inst.covered(rows)].sum())
        if v > value:
            best, value = rows, v
    return best, max(lag.bound, value)


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


def _sequence(inst: _Instance, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Order rows by marginal gain when added one after another; return (rows, gains)."""
    covered = np.zeros(inst.m, bool)
    left = sorted(int(r) for r in rows)
    order, gains = [], []
    while left:
        g = [float(inst.w[idx][~covered[idx]].sum()) for idx in (_row(inst.A, j) for j in left)]
        b = int(np.argmax(g))
        j = left.pop(b)
        order.append(j)
        gains.append(g[b])
        covered[_row(inst.A, j)] = True
    return np.array(order, dtype=np.int64), np.array(gains, dtype=float)


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


# ------------------------------------------------------------------- HiGHS
@dataclass
class _Mip:
    """A (mixed-integer) linear programme in column-wise sparse form."""

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    maximize: bool


@dataclass
class _MipResult:
    x: np.ndarray | None
    optimal: bool
    gap: float | None
    objective: float | None
    bound: float | None
    status: str


def _new_highs():
    """A silent ``highspy.Highs`` (its one-off banner, printed by the C library, is discarded)."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    return h


#: HiGHS options for the MCLP: with a near-optimal start, restarts and the sub-MIP
#: heuristics RINS/RENS cost more than they bring (measured on the bench instances).
MCLP_HIGHS_OPTIONS: dict[str, Any] = {
    "mip_allow_restart": False,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
}


def _run_highs(
    mip: _Mip, *, time_limit: float, mip_gap: float, start: np.ndarray | None = None, options: dict | None = None
) -> _MipResult:
    """Pass the model to HiGHS in one call, optionally with a starting solution, and solve it."""
    import highspy

    h = _new_highs()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    mat = mip.matrix.tocsc()
    mat.sort_indices()
    n_col, n_row = mat.shape[1], mat.shape[0]
    inf = highspy.kHighsInf
    sense = highspy.ObjSense.kMaximize if mip.maximize else highspy.ObjSense.kMinimize
    h.passModel(
        n_col, n_row, int(mat.nnz), int(highspy.MatrixFormat.kColwise), int(sense), 0.0,
        mip.cost.astype(float), mip.lower.astype(float), mip.upper.astype(float),
        np.where(np.isfinite(mip.row_lower), mip.row_lower, -inf).astype(float),
        np.where(np.isfinite(mip.row_upper), mip.row_upper, inf).astype(float),
        mat.indptr[:-1].astype(np.int32), mat.indices.astype(np.int32), mat.data.astype(float),
        mip.integer.astype(np.int32),
    )
    if start is not None:
        h.setSolution(n_col, np.arange(n_col, dtype=np.int32), start.astype(float))
    h.run()
    return _read_result(h, mip)


def _read_result(h, mip: _Mip) -> _MipResult:
    import highspy

    status = h.getModelStatus()
    info = h.getInfo()
    has_x = int(info.primal_solution_status) == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value) if has_x else None
    is_mip = bool(mip.integer.any())
    optimal = status == highspy.HighsModelStatus.kOptimal
    gap = float(info.mip_gap) if is_mip and has_x else (0.0 if optimal else None)
    if gap is not None and not np.isfinite(gap):
        gap = None
    elif gap is not None and abs(gap) < 1e-12:
        gap = 0.0
    bound = float(info.mip_dual_bound) if is_mip else None
    objective = float(info.objective_function_value) if has_x else None
    return _MipResult(x, bool(optimal), gap, objective, bound, h.modelStatusToString(status))


def _mclp_mip(inst: _Instance, k: int) -> _Mip:
    """max sum w_i y_i  s.t.  y_i <= sum_{j covers i} x_j,  sum x_j <= k;  x binary, 0 <= y <= 1."""
    n, m = inst.n, inst.m
    top = sp.hstack([-inst.csc.T, sp.identity(m, format="csc")], format="csc")
    card = sp.hstack([sp.csr_matrix(np.ones((1, n))), sp.csr_matrix((1, m))], format="csc")
    matrix = sp.vstack([top, card], format="csc")
    return _Mip(
        cost=np.concatenate([np.zeros(n), inst.w]), lower=np.zeros(n + m), upper=np.ones(n + m),
        integer=np.concatenate([np.ones(n, bool), np.zeros(m, bool)]), matrix=matrix,
        row_lower=np.full(m + 1, -np.inf), row_upper=np.concatenate([np.zeros(m), [k]]), maximize=True,
    )


def _lscp_mip(inst: _Instance) -> _Mip:
    """min sum x_j  s.t.  sum_{j covers i} x_j >= 1 for every element;  x binary."""
    n, m = inst.n, inst.m
    return _Mip(
        cost=np.ones(n), lower=np.zeros(n), upper=np.ones(n), integer=np.ones(n, bool),
        matrix=inst.csc.T.tocsc(), row_lower=np.ones(m), row_upper=np.full(m, np.inf), maximize=False,
    )


#: Above this many covering pairs the capacitated MIP leaves out the z_ij <= x_j rows.
MAX_LINKING_ROWS = 200_000


def _capacitated_rows(inst: _Instance, capacity: float, *, fixed_open: bool = False) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray, np.ndarray]:
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
    upper = np.concatenate([np.ones(m), np.full(n, 0.0 if not fixed_open else capacity)] + ([np.zeros(p)] if link else []))
    lower = np.full(n_rows, -np.inf)
    if fixed_open:
        return z, lower, upper, np.column_stack([r, e])
    x_rows = [m + np.arange(n)] + ([m + n + pair] if link else [])
    x_cols = [np.arange(n)] + ([r] if link else [])
    x_vals = [np.full(n, -float(capacity))] + ([-np.ones(p)] if link else [])
    x = sp.csc_matrix((np.concatenate(x_vals), (np.concatenate(x_rows), np.concatenate(x_cols))), shape=(n_rows, n))
    return sp.hstack([x, z], format="csc"), lower, upper, np.column_stack([r, e])


def _cmclp_mip(inst: _Instance, k: int, capacity: float) -> tuple[_Mip, np.ndarray]:
    """Capacitated MCLP: max sum w_i z_ij over covering pairs, at most ``k`` stations of ``capacity``."""
    matrix, lower, upper, pairs = _capacitated_rows(inst, capacity)
    n, p = inst.n, pairs.shape[0]
    card = sp.hstack([sp.csr_matrix(np.ones((1, n))), sp.csr_matrix((1, p))], format="csc")
    return _Mip(
        cost=np.concatenate([np.zeros(n), inst.w[pairs[:, 1]]]), lower=np.zeros(n + p), upper=np.ones(n + p),
        integer=np.concatenate([np.ones(n, bool), np.zeros(p, bool)]),
        matrix=sp.vstack([matrix, card], format="csc"),
        row_lower=np.concatenate([lower, [-np.inf]]), row_upper=np.concatenate([upper, [k]]), maximize=True,
    ), pairs


def _servable_weight(inst: _Instance, capacity: float, time_limit: float) -> float:
    """Most weight all candidates together could serve under the capacity (an LP)."""
    matrix, lower, upper, pairs = _capacitated_rows(inst, capacity, fixed_open=True)
    p = pairs.shape[0]
    lp = _Mip(cost=inst.w[pairs[:, 1]], lower=np.zeros(p), upper=np.ones(p), integer=np.zeros(p, bool),
              matrix=matrix, row_lower=lower, row_upper=upper, maximize=True)
    res = _run_highs(lp, time_limit=time_limit, mip_gap=0.0)
    return float(res.objective or 0.0)


def _clscp_mip(inst: _Instance, capacity: float, target: float) -> tuple[_Mip, np.ndarray]:
    """Capacitated LSCP: fewest stations that together serve ``target`` weight."""
    matrix, lower, upper, pairs = _capacitated_rows(inst, capacity)
    n, p = inst.n, pairs.shape[0]
    served = sp.hstack([sp.csr_matrix((1, n)), sp.csr_matrix(inst.w[pairs[:, 1]][None, :])], format="csc")
    need = target - 1e-7 * max(1.0, target)
    return _Mip(
        cost=np.concatenate([np.ones(n), np.zeros(p)]), lower=np.zeros(n + p), upper=np.ones(n + p),
        integer=np.concatenate([np.ones(n, bool), np.zeros(p, bool)]),
        matrix=sp.vstack([matrix, served], format="csc"),
        row_lower=np.concatenate([lower, [need]]), row_upper=np.concatenate([upper, [np.inf]]), maximize=False,
    ), pairs


# ----------------------------------------------------------------- models
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


def _uncapacitated(inst: _Instance, rows: Sequence[int], **kw: Any) -> _Solution:
    rows = np.array(sorted(int(r) for r in rows), dtype=np.int64)
    return _Solution(rows, inst.covered(rows).astype(float), **kw)


def _bounded(inst: _Instance, rows: Sequence[int], bound: float) -> _Solution:
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


def _best_assignment(inst: _Instance, rows: np.ndarray, capacity: float, fallback: _Assignment | None = None,
                     *, time_limit: float = DEFAULT_TIME_LIMIT_S) -> _Assignment:
    """The assignment serving the most weight from the open ``rows`` (a transportation LP)."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return _Assignment(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    sub = _Instance(inst.A[rows], inst.w, inst.cand[rows], inst.elem)
    matrix, lower, upper, pairs = _capacitated_rows(sub, capacity, fixed_open=True)
    p = pairs.shape[0]
    lp = _Mip(cost=inst.w[pairs[:, 1]], lower=np.zeros(p), upper=np.ones(p), integer=np.zeros(p, bool),
              matrix=matrix, row_lower=lower, row_upper=upper, maximize=True)
    res = _run_highs(lp, time_limit=time_limit, mip_gap=0.0)
    if res.x is None or not res.optimal:
        if fallback is None:
            raise SitingError(f"HiGHS could not assign the demand to the chosen stations ({res.status})")
        return fallback
    amount = np.clip(res.x, 0.0, 1.0) * inst.w[pairs[:, 1]]
    keep = amount > 1e-9
    return _Assignment(rows[pairs[keep, 0]], pairs[keep, 1], amount[keep])


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
            sol = _Solution(np.empty(0, np.int64), np.zeros(0), np.zeros(0), optimal=True, gap=0.0, status="nothing to cover")
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

    @classmethod
    def from_pairs(
        cls,
        candidate: Sequence[int],
        demand: Sequence[int],
        weights: Sequence[float],
        k: int,
        *,
        n_candidates: int | None = None,
        covered_before: Sequence[bool] | None = None,
        blocked: Sequence[bool] | None = None,
        capacity: float | None = None,
        name: str = "mclp",
    ) -> "MCLP":
        """Build from sparse (candidate, demand) covering pairs (see :meth:`CoverSets.from_pairs`)."""
        cover = CoverSets.from_pairs(candidate, demand, weights, n_candidates=n_candidates,
                                     covered_before=covered_before, blocked=blocked)
        return cls(cover, k, capacity=capacity, name=name)

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: np.ndarray | sp.spmatrix,
        weights: Sequence[float],
        service_radius: float,
        p_facilities: int,
        predefined_facilities_arr: Sequence[int] | None = None,
        *,
        capacity: float | None = None,
        name: str = "mclp",
    ) -> "MCLP":
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
        rows, bound = _mclp_heuristic(inst, self.k)
        return _bounded(inst, rows, bound)

    def _exact(self, time_limit: float, mip_gap: float, warm_start: bool) -> _Solution:
        inst = self.instance
        if self.capacity is None and self.k >= inst.n:
            return _uncapacitated(inst, range(inst.n), optimal=True, gap=0.0, status="all useful candidates chosen")
        start = self._greedy() if warm_start else None
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
        res = _run_highs(_mclp_mip(inst, self.k), time_limit=time_limit, mip_gap=mip_gap, start=x0,
                         options=MCLP_HIGHS_OPTIONS)
        if res.x is None:
            return _fallback(start, res)
        rows = np.flatnonzero(res.x[: inst.n] > 0.5)
        return _uncapacitated(inst, rows, optimal=res.optimal, gap=res.gap, status=res.status, bound=res.bound)

    def _exact_capacitated(self, start: _Solution | None, time_limit: float, mip_gap: float) -> _Solution:
        inst = self.instance
        mip, pairs = _cmclp_mip(inst, self.k, self.capacity)
        x0 = None if start is None else _capacitated_start(inst, start, pairs)
        res = _run_highs(mip, time_limit=time_limit, mip_gap=mip_gap, start=x0)
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
        candidate: Sequence[int],
        demand: Sequence[int],
        weights: Sequence[float],
        *,
        n_candidates: int | None = None,
        covered_before: Sequence[bool] | None = None,
        blocked: Sequence[bool] | None = None,
        capacity: float | None = None,
        name: str = "lscp",
    ) -> "LSCP":
        """Build from sparse (candidate, demand) covering pairs."""
        cover = CoverSets.from_pairs(candidate, demand, weights, n_candidates=n_candidates,
                                     covered_before=covered_before, blocked=blocked)
        return cls(cover, capacity=capacity, name=name)

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: np.ndarray | sp.spmatrix,
        service_radius: float,
        predefined_facilities_arr: Sequence[int] | None = None,
        weights: Sequence[float] | None = None,
        *,
        capacity: float | None = None,
        name: str = "lscp",
    ) -> "LSCP":
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
            res = _run_highs(_lscp_mip(inst), time_limit=time_limit, mip_gap=mip_gap, start=x0)
            if res.x is None:
                return _fallback(start, res)
            rows = np.flatnonzero(res.x > 0.5)
            return _uncapacitated(inst, rows, optimal=res.optimal, gap=res.gap, status=res.status, bound=res.bound)
        target = _servable_weight(inst, self.capacity, time_limit)
        mip, pairs = _clscp_mip(inst, self.capacity, target)
        x0 = None if start is None else _capacitated_start(inst, start, pairs)
        res = _run_highs(mip, time_limit=time_limit, mip_gap=mip_gap, start=x0)
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


def _fallback(start: _Solution | None, res: _MipResult) -> _Solution:
    """No MIP solution within the time limit: keep the greedy one (or report the failure)."""
    if start is None:
        raise SitingError(f"HiGHS found no solution ({res.status}); allow more time or use the greedy method")
    start.status = f"{res.status}; greedy solution kept"
    start.optimal = False
    start.gap = None
    return start


# ------------------------------------------------------------- candidates
def station_frame(facilities, kinds: Sequence[str] | None = STATION_KINDS):
    """The facilities that count as existing stations: those of ``kinds`` when there is a kind column."""
    if kinds is None or "kind" not in facilities.columns or len(facilities) == 0:
        return facilities
    return facilities[facilities["kind"].astype(str).isin(list(kinds))]


def study_area(net: WalkNetwork, area) -> shapely.Geometry:
    """The study area in the network's CRS.

    Parameters
    ----------
    net
        The network.
    area
        A WGS84 GeoDataFrame / GeoSeries (points: their convex hull;
        polygons: their union) or a shapely geometry in WGS84.
    """
    if isinstance(area, shapely.Geometry):
        import geopandas as gpd

        area = gpd.GeoSeries([area], crs="EPSG:4326")
    geoms = np.asarray((area.geometry if hasattr(area, "geometry") else area).to_crs(net.crs).values)
    geoms = geoms[~shapely.is_empty(geoms)]
    if geoms.size == 0:
        raise SitingError("the study area is empty")
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    if polygonal.any():
        return shapely.union_all(geoms[polygonal])
    return shapely.convex_hull(shapely.multipoints(shapely.get_coordinates(geoms)))


def grid_candidates(
    net: WalkNetwork,
    area,
    spacing_m: float,
    *,
    stations: Snapped | None = None,
    min_distance_m: float = DEFAULT_CANDIDATE_MIN_DISTANCE_M,
    prefix: str = "G",
):
    """Candidate sites: network nodes nearest to a square grid inside the study area.

    Parameters
    ----------
    net
        The walking network.
    area
        The study area (see :func:`study_area`): e.g. the demand (its convex
        hull) or boundary polygons.
    spacing_m
        Grid spacing in metres.
    stations
        Snapped existing stations: nodes within ``min_distance_m`` of network
        walk from one are left out.
    min_distance_m
        See ``stations``.
    prefix
        Id prefix (ids are ``G0001``...).

    Returns
    -------
    geopandas.GeoDataFrame
        WGS84 points with ``id``, ``name``, ``node``.
    """
    import geopandas as gpd

    if not spacing_m > 0:
        raise SitingError(f"the candidate spacing must be a positive number of metres, got {spacing_m}")
    poly = study_area(net, area)
    if shapely.get_type_id(poly) not in (3, 6):
        poly = shapely.buffer(poly, spacing_m / 2.0)
    minx, miny, maxx, maxy = shapely.bounds(poly)
    gx, gy = np.meshgrid(np.arange(minx + spacing_m / 2, maxx, spacing_m), np.arange(miny + spacing_m / 2, maxy, spacing_m))
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    pts = pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]
    dist, nodes = net.node_tree.query(pts) if pts.size else (np.empty(0), np.empty(0, np.int64))
    nodes = np.asarray(nodes)[np.asarray(dist) <= spacing_m]
    _, first = np.unique(nodes, return_index=True)
    nodes = nodes[np.sort(first)]
    if stations is not None and stations.reachable.any() and min_distance_m > 0:
        near = reach.node_distances(net, stations, min_distance_m) <= min_distance_m
        nodes = nodes[~near[nodes]]
    ids = [f"{prefix}{i + 1:04d}" for i in range(nodes.size)]
    lonlat = net.node_lonlat[nodes]
    return gpd.GeoDataFrame(
        {"id": ids, "name": [f"网格候选点{i + 1:04d}" for i in range(nodes.size)], "node": nodes.astype(np.int64)},
        geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]) if nodes.size else [],
        crs="EPSG:4326",
    )


# ------------------------------------------------------------------- plan
def _metric_xy(net: WalkNetwork, gdf) -> np.ndarray:
    if len(gdf) == 0:
        return np.empty((0, 2))
    return shapely.get_coordinates(gdf.geometry.to_crs(net.crs).values)


def _same_sites(stations, candidates, st_xy: np.ndarray, cand_xy: np.ndarray, within: float) -> np.ndarray:
    """Candidates that are existing stations: the same id, or within ``within`` metres of one."""
    from scipy.spatial import cKDTree

    same = np.zeros(len(candidates), bool)
    if "id" in stations.columns and "id" in candidates.columns and len(stations):
        same |= candidates["id"].astype(str).isin(set(stations["id"].astype(str))).to_numpy()
    if len(st_xy) and len(cand_xy):
        dist, _ = cKDTree(st_xy).query(cand_xy, distance_upper_bound=within * 1.000001)
        same |= dist <= within
    return same


def _weights_column(demand, weight_column: str) -> str:
    for col in (weight_column, "weight", "population"):
        if col in demand.columns:
            return col
    return weight_column


@dataclass
class SitingPlan:
    """The result of :func:`plan_sites`: the solved model with its inputs.

    Attributes
    ----------
    net
        The walking network.
    model
        The solved :class:`MCLP` or :class:`LSCP`.
    samples
        The demand spread over network-joined samples (the model's demand elements).
    demand, candidates, stations
        The WGS84 inputs (stations: the facilities counted as existing stations).
    radius
        Service radius in metres.
    excluded
        Candidate ids left out, by reason (``"unreachable"``, ``"existing_station"``).
    """

    net: WalkNetwork
    model: _SitingModel
    samples: DemandSamples
    demand: Any
    candidates: Any
    stations: Any
    radius: float
    excluded: dict[str, list[str]] = field(default_factory=dict)

    def unit_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Per demand unit: (total weight, weight covered or served after siting)."""
        n = self.samples.n_units
        w = self.samples.weight
        total = np.bincount(self.samples.unit, weights=w, minlength=n)
        served = np.bincount(self.samples.unit, weights=w * self.model.served, minlength=n)
        return total, served

    def unserved_units(self) -> list[str]:
        """Ids of demand units with weight of which none is covered after siting."""
        total, served = self.unit_weights()
        ids = self.demand["id"].astype(str).to_numpy()
        return ids[(total > 0) & (served <= 1e-9 * np.maximum(total, 1.0))].tolist()

    def partly_served_units(self) -> list[str]:
        """Ids of demand units (polygons, or under a capacity) only partly covered."""
        total, served = self.unit_weights()
        ids = self.demand["id"].astype(str).to_numpy()
        part = (served > 1e-9 * np.maximum(total, 1.0)) & (served < total * (1 - 1e-9))
        return ids[part].tolist()

    def _units_of(self, sample_mask: np.ndarray) -> list[str]:
        units = np.unique(self.samples.unit[sample_mask & (self.samples.weight > 0)])
        return self.demand["id"].astype(str).to_numpy()[units].tolist()

    def unreachable_units(self) -> list[str]:
        """Ids of demand units with samples beyond the snapping limit of the network."""
        return self._units_of(~self.samples.reachable)

    def uncoverable_units(self) -> list[str]:
        """Ids of reachable demand units that no candidate and no existing station can cover."""
        mask = np.zeros(self.samples.weight.size, bool)
        mask[self.model.uncoverable] = True
        return self._units_of(mask & self.samples.reachable)

    def sites(self):
        """The chosen sites as a WGS84 GeoDataFrame.

        Fields: ``id`` (the candidate id), ``name``, ``rank``, ``gain`` (weight
        newly covered, or served with a capacity), ``within_radius`` (all the
        weight within the radius of the site), ``lon``, ``lat``.
        """
        import geopandas as gpd

        idx = self.model.chosen
        cands = self.candidates.iloc[idx]
        cover = self.model.cover
        within = [float(cover.weight[cover.row(int(j))].sum()) for j in idx]
        coords = shapely.get_coordinates(cands.geometry.values) if len(cands) else np.empty((0, 2))
        names = cands["name"].astype(str).to_numpy() if "name" in cands.columns else np.full(len(cands), "")
        return gpd.GeoDataFrame(
            {
                "id": cands["id"].astype(str).to_numpy(),
                "name": names,
                "rank": self.model.rank.astype(int),
                "gain": np.round(self.model.gains, 3),
                "within_radius": np.round(within, 3),
                "lon": np.round(coords[:, 0], 7),
                "lat": np.round(coords[:, 1], 7),
            },
            geometry=cands.geometry.values,
            crs="EPSG:4326",
        )

    def summary(self) -> dict:
        """The summary JSON of ``lifecircle site``.

        Returns
        -------
        dict
            ``method``, ``optimal``, ``gap``, ``covered_before``,
            ``covered_after``, ``chosen`` (ids in rank order), ``gains``,
            ``total_weight``, ``radius_m``, shares, ``unserved_units`` and
            the counts of candidates and stations.
        """
        m = self.model
        total = float(self.samples.weight.sum())
        ids = self.candidates["id"].astype(str).to_numpy()
        out = {
            "model": m.problem,
            "method": m.method,
            "optimal": bool(m.optimal),
            "gap": None if m.gap is None else float(m.gap),
            "status": m.status,
            "runtime_s": round(m.runtime_s, 3),
            "radius_m": float(self.radius),
            "capacity": m.capacity,
            "total_weight": round(total, 3),
            "unreachable_weight": round(float(self.samples.weight[~self.samples.reachable].sum()), 3),
            "covered_before": round(m.covered_before, 3),
            "covered_after": round(m.covered_after, 3),
            "share_before": round(m.covered_before / total, 6) if total else 0.0,
            "share_after": round(m.covered_after / total, 6) if total else 0.0,
            "chosen": ids[m.chosen].tolist(),
            "gains": [round(float(g), 3) for g in m.gains],
            "unserved_units": self.unserved_units(),
            "partly_served_units": self.partly_served_units(),
            "uncoverable_units": self.uncoverable_units(),
            "unreachable_units": self.unreachable_units(),
            "existing_stations": int(len(self.stations)),
            "candidates": {"given": int(len(self.candidates)), "usable": int(m.cover.choosable.sum()),
                           **{k: len(v) for k, v in self.excluded.items()}},
        }
        if isinstance(m, MCLP):
            out["k"] = m.k
            if m.chosen.size < m.k:
                out["note"] = (f"only {m.chosen.size} of the {m.k} requested sites add coverage; "
                               "more sites would cover nobody new")
        return out


def plan_sites(
    net: WalkNetwork,
    facilities,
    demand,
    *,
    candidates=None,
    radius: float = DEFAULT_RADIUS_M,
    k: int | None = None,
    lscp: bool = False,
    method: str = "greedy",
    time_limit: float = DEFAULT_TIME_LIMIT_S,
    capacity: float | None = None,
    station_kinds: Sequence[str] | None = STATION_KINDS,
    candidate_spacing: float | None = None,
    candidate_area=None,
    candidate_min_distance: float = DEFAULT_CANDIDATE_MIN_DISTANCE_M,
    weight_column: str = "weight",
    snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
    spacing_m: float = DEFAULT_SAMPLE_SPACING_M,
    samples: DemandSamples | None = None,
    progress: ProgressFn | None = None,
) -> SitingPlan:
    """Site new stations on a walking network, existing stations kept.

    Parameters
    ----------
    net
        The walking network.
    facilities
        WGS84 points (``id``, optionally ``kind``); those of ``station_kinds``
        are the existing stations.
    demand
        WGS84 points or polygons with ``id`` and a weight (``weight`` or ``population``).
    candidates
        WGS84 candidate points (``id``, ``name``); None to generate them on a
        grid of ``candidate_spacing`` metres.
    radius
        Service radius in metres of network walk.
    k
        Number of new sites (MCLP); not used with ``lscp``.
    lscp
        Solve the set-covering problem instead: the fewest sites covering all coverable demand.
    method
        ``"greedy"`` or ``"exact"``.
    time_limit
        Seconds for the exact method.
    capacity
        People one new station serves at most (None: no limit).
    station_kinds
        Facility kinds that count as existing stations (None: all facilities).
    candidate_spacing, candidate_area, candidate_min_distance
        Grid generation: spacing, study area (default the demand's convex
        hull) and the least network distance from existing stations.
    weight_column
        Demand weight column (falls back to ``population``).
    snap_limit_m
        Points farther than this from the network are unreachable.
    spacing_m
        Sample spacing of polygon demand.
    samples
        Reuse demand samples from coverage.
    progress
        Called with (done, total) during the candidate searches.

    Returns
    -------
    SitingPlan

    Raises
    ------
    SitingError
        Bad radius or K, no demand, no usable candidate.
    """
    radius = check_radius(radius)
    if not lscp and k is None:
        raise SitingError("give the number of new sites k, or ask for the set-covering problem (lscp=True)")
    stations = station_frame(facilities, station_kinds)
    if samples is None:
        samples = _samples(net, demand, weight_column, spacing_m, snap_limit_m)
    st_xy = _metric_xy(net, stations)
    st = snap_xy(net, st_xy, limit_m=snap_limit_m)
    if candidates is None:
        if candidate_spacing is None:
            raise SitingError("give candidate sites, or a candidate spacing to generate them on a grid")
        area = demand if candidate_area is None else candidate_area
        candidates = grid_candidates(net, area, candidate_spacing, stations=st, min_distance_m=candidate_min_distance)
    cand_xy = _metric_xy(net, candidates)
    cand = snap_xy(net, cand_xy, limit_m=snap_limit_m)
    same = _same_sites(stations, candidates, st_xy, cand_xy, SAME_SITE_M)
    excluded = _excluded(candidates, cand, same)
    _check_candidates(candidates, cand, same, k if not lscp else None, snap_limit_m)
    cover = cover_sets(net, samples.snapped, samples.weight, cand, radius, existing=st, blocked=same, progress=progress)
    model = LSCP(cover, capacity=capacity) if lscp else MCLP(cover, k, capacity=capacity)
    model.solve(method, time_limit=time_limit)
    return SitingPlan(net, model, samples, demand.reset_index(drop=True), candidates.reset_index(drop=True),
                      stations.reset_index(drop=True), radius, excluded)


def _samples(net: WalkNetwork, demand, weight_column: str, spacing_m: float, snap_limit_m: float) -> DemandSamples:
    if len(demand) == 0:
        raise SitingError("no demand: the demand layer has no rows")
    col = _weights_column(demand, weight_column)
    samples = demand_samples(net, demand, weight_column=col, spacing_m=spacing_m, snap_limit_m=snap_limit_m)
    if not samples.weight.sum() > 0:
        raise SitingError(f"no demand: the weights ({col}) of all {len(demand)} demand units are zero")
    if not samples.weight[samples.reachable].sum() > 0:
        raise SitingError(
            f"no demand on the network: none of the {len(demand)} demand units lies within "
            f"{snap_limit_m:g} m of a walkable street; check the coordinate system and that the network covers them"
        )
    return samples


def _excluded(candidates, cand: Snapped, same: np.ndarray) -> dict[str, list[str]]:
    ids = candidates["id"].astype(str).to_numpy() if len(candidates) else np.empty(0, str)
    return {"unreachable": ids[~cand.reachable].tolist(), "existing_station": ids[same & cand.reachable].tolist()}


def _check_candidates(candidates, cand: Snapped, same: np.ndarray, k: int | None, snap_limit_m: float) -> None:
    n = len(candidates)
    if n == 0:
        raise SitingError("no candidate sites: the candidate layer is empty (or the grid found no network node)")
    if not cand.reachable.any():
        raise SitingError(
            f"all {n} candidate sites are unreachable: none lies within {snap_limit_m:g} m of a walkable "
            "street; check the coordinate system (--crs) and that the network covers them"
        )
    usable = int((cand.reachable & ~same).sum())
    if usable == 0:
        raise SitingError(f"none of the {n} candidate sites can be chosen: every reachable one is an existing station")
    if k is not None and k > usable:
        raise SitingError(
            f"cannot add {k} sites: only {usable} of the {n} candidate sites can be chosen "
            f"({int((~cand.reachable).sum())} unreachable, {int((same & cand.reachable).sum())} existing stations); "
            "ask for fewer sites or give more candidates"
        )


# ----------------------------------------------------------------- what-if
@dataclass
class WhatIfResult:
    """The effect of one what-if step.

    Attributes
    ----------
    action
        ``"add"``, ``"remove"``, ``"move"`` or ``"undo"`` (of which action).
    station_id
        The station added, removed or moved.
    covered
        ``{tier: weight}`` within each tier of a station after the step.
    delta
        ``{tier: weight}`` change against before the step.
    changed
        Indices of samples whose nearest-station distance changed.
    elapsed_ms
        Time the step took.
    """

    action: str
    station_id: str
    covered: dict[float, float]
    delta: dict[float, float]
    changed: np.ndarray
    elapsed_ms: float

    def to_dict(self) -> dict:
        """JSON-friendly form (tiers as ``"300"`` keys)."""
        return {
            "action": self.action,
            "station_id": self.station_id,
            "covered": {tier_key(t): round(w, 3) for t, w in self.covered.items()},
            "delta": {tier_key(t): round(w, 3) for t, w in self.delta.items()},
            "changed": int(self.changed.size),
            "elapsed_ms": round(self.elapsed_ms, 2),
        }


@dataclass
class _Step:
    """One undoable step: the station list before it and the distances it overwrote."""

    action: str
    station_id: str
    stations: tuple[list[str], np.ndarray, Snapped]
    changes: list[tuple[np.ndarray, np.ndarray]]

    @property
    def changed(self) -> np.ndarray:
        parts = [idx for idx, _ in self.changes]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)


class WhatIf:
    """Nearest-station distances of the demand, updated one station at a time.

    Holds, per demand sample, the network distance to the nearest station
    (up to the largest tier).  Adding a station runs one bounded search from
    it and merges by minimum.  Removing one runs one bounded search from it
    (to find the samples it was nearest to) and one multi-source search over
    the remaining stations on the local subgraph that can still reach those
    samples.  Moving is both; every step can be undone.  Each step costs a few
    milliseconds whatever the size of the network.

    Parameters
    ----------
    net
        The walking network.
    samples
        The demand samples (:func:`geo.coverage.demand_samples`).
    station_xy
        Existing stations in the network's CRS, shape (S, 2).
    station_ids
        Their ids.
    tiers
        Walking distances in metres whose covered weight is reported.
    snap_limit_m
        A station farther than this from the network covers nothing.
    """

    def __init__(
        self,
        net: WalkNetwork,
        samples: DemandSamples,
        station_xy: np.ndarray,
        station_ids: Sequence[str],
        *,
        tiers: Sequence[float] = DEFAULT_TIERS,
        snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
    ) -> None:
        self.net = net
        self.samples = samples
        self.tiers = tuple(sorted(float(t) for t in tiers))
        self.limit = self.tiers[-1]
        self.snap_limit_m = snap_limit_m
        xy = np.asarray(station_xy, dtype=float).reshape(-1, 2)
        self._ids = [str(i) for i in station_ids]
        if len(self._ids) != xy.shape[0] or len(set(self._ids)) != len(self._ids):
            raise SitingError("give one distinct id per station")
        self._xy = xy
        self._snapped = snap_xy(net, xy, limit_m=snap_limit_m)
        self._index = TargetIndex.build(net, samples.snapped)
        self._history: list[_Step] = []
        self._added = 0
        _ = (net.node_tree, net.csr)  # build the cached indexes now, not on the first click
        self.dist = self._full(self._snapped)

    @classmethod
    def from_frames(
        cls,
        net: WalkNetwork,
        facilities,
        demand,
        *,
        kinds: Sequence[str] | None = STATION_KINDS,
        tiers: Sequence[float] = DEFAULT_TIERS,
        weight_column: str = "weight",
        samples: DemandSamples | None = None,
        snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
    ) -> "WhatIf":
        """Build from WGS84 facilities (those of ``kinds`` are the stations) and demand."""
        stations = station_frame(facilities, kinds)
        if samples is None:
            col = _weights_column(demand, weight_column)
            samples = demand_samples(net, demand, weight_column=col, snap_limit_m=snap_limit_m)
        ids = stations["id"].astype(str).tolist() if "id" in stations.columns else [str(i) for i in range(len(stations))]
        return cls(net, samples, _metric_xy(net, stations), ids, tiers=tiers, snap_limit_m=snap_limit_m)

    # ------------------------------------------------------------ state
    @property
    def station_ids(self) -> list[str]:
        """Ids of the current stations."""
        return list(self._ids)

    @property
    def station_xy(self) -> np.ndarray:
        """Current stations in the network's CRS."""
        return self._xy.copy()

    @property
    def can_undo(self) -> bool:
        """Whether there is a step to undo."""
        return bool(self._history)

    def covered(self) -> dict[float, float]:
        """``{tier: weight}`` within each tier of a station."""
        w = self.samples.weight
        return {t: float(w[self.dist <= t].sum()) for t in self.tiers}

    def _full(self, snapped: Snapped) -> np.ndarray:
        if not snapped.reachable.any():
            return np.full(len(self.samples.weight), np.inf)
        return reach.nearest_distances(self.net, snapped, self.samples.snapped, limit=self.limit)

    def _result(self, action: str, sid: str, before: dict, changed: np.ndarray, started: float) -> WhatIfResult:
        after = self.covered()
        delta = {t: after[t] - before[t] for t in self.tiers}
        return WhatIfResult(action, sid, after, delta, changed, (time.perf_counter() - started) * 1000.0)

    def _snapshot(self) -> tuple[list[str], np.ndarray, Snapped]:
        return list(self._ids), self._xy.copy(), self._snapped

    def _set(self, idx: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Write distances; return what they overwrote, for undo."""
        old = (idx, self.dist[idx].copy())
        self.dist[idx] = values
        return old

    # ---------------------------------------------------------- actions
    def add(self, lon: float, lat: float, station_id: str | None = None) -> WhatIfResult:
        """Add a station at a WGS84 point: one bounded search, merged by minimum.

        Raises
        ------
        SitingError
            When the point is farther than the snapping limit from the network,
            or ``station_id`` is taken.
        """
        started = time.perf_counter()
        before = self.covered()
        step = _Step("add", "", self._snapshot(), [])
        step.station_id = self._add(lon, lat, station_id, step)
        self._history.append(step)
        return self._result("add", step.station_id, before, step.changed, started)

    def _add(self, lon: float, lat: float, station_id: str | None, step: _Step) -> str:
        xy = self.net.to_metric(np.atleast_1d(lon), np.atleast_1d(lat))
        snapped = snap_xy(self.net, xy, limit_m=self.snap_limit_m)
        if not snapped.reachable[0]:
            raise SitingError(f"({lon:.6f}, {lat:.6f}) is farther than {self.snap_limit_m:g} m from any walkable street")
        sid = str(station_id) if station_id is not None else self._new_id()
        if sid in self._ids:
            raise SitingError(f"a station with id {sid!r} exists already")
        idx, d = self._reached(snapped)
        better = d < self.dist[idx]
        step.changes.append(self._set(idx[better], d[better]))
        self._ids.append(sid)
        self._xy = np.vstack([self._xy, xy])
        self._snapped = Snapped.concat([self._snapped, snapped])
        return sid

    def _new_id(self) -> str:
        while True:
            self._added += 1
            sid = f"new-{self._added}"
            if sid not in self._ids:
                return sid

    def _reached(self, snapped: Snapped) -> tuple[np.ndarray, np.ndarray]:
        """Samples within the largest tier of one station, and their distances."""
        if not snapped.reachable.any():
            return np.empty(0, np.int64), np.empty(0)
        _, node_dist = next(reach.iter_source_node_distances(self.net, snapped, self.limit))
        return self._index.reached(self.net, node_dist, snapped, self.limit)

    def remove(self, station_id: str) -> WhatIfResult:
        """Remove a station: the samples it was nearest to get their next-nearest station."""
        started = time.perf_counter()
        before = self.covered()
        step = _Step("remove", str(station_id), self._snapshot(), [])
        self._remove(str(station_id), step)
        self._history.append(step)
        return self._result("remove", step.station_id, before, step.changed, started)

    def _remove(self, sid: str, step: _Step) -> None:
        if sid not in self._ids:
            raise SitingError(f"no station with id {sid!r}")
        keep = np.array([i != sid for i in self._ids])
        gone = self._snapped.subset(~keep)
        self._ids = [i for i in self._ids if i != sid]
        self._xy = self._xy[keep]
        self._snapped = self._snapped.subset(keep)
        idx, d = self._reached(gone)
        hit = idx[d <= self.dist[idx] + 1e-6]  # samples this station was nearest to
        if hit.size:
            step.changes.append(self._set(hit, self._nearest_local(gone, hit)))

    def _nearest_local(self, gone: Snapped, hit: np.ndarray) -> np.ndarray:
        """Distances from ``hit`` samples to the remaining stations, on the local subgraph.

        A walk of at most the limit from a station to a sample the removed
        station reached stays within twice the limit (as the crow flies) of
        the removed station, so the search runs on the nodes of that disc.
        """
        net = self.net
        radius = 2.0 * self.limit * reach.STRAIGHT_LINE_SLACK + 10.0
        centre = gone.xy[gone.reachable][0]
        local = np.unique(np.asarray(net.node_tree.query_ball_point(centre, radius), dtype=np.int64))
        near = self._snapped.reachable & (np.hypot(*(self._snapped.xy - centre).T) <= radius)
        sources = self._snapped.subset(near)
        nodes, costs = reach.seed_costs(net, sources)
        inside = np.isin(nodes, local)
        node_dist = np.full(net.n_nodes, np.inf)
        if inside.any():
            node_dist[local] = _local_dijkstra(net, local, np.searchsorted(local, nodes[inside]), costs[inside], self.limit)
        targets = self.samples.snapped.subset(hit)
        return reach.point_distances(net, node_dist, targets, sources=sources, limit=self.limit)

    def move(self, station_id: str, lon: float, lat: float) -> WhatIfResult:
        """Move a station to a WGS84 point (remove + add, undone as one step)."""
        started = time.perf_counter()
        before = self.covered()
        sid = str(station_id)
        step = _Step("move", sid, self._snapshot(), [])
        self._remove(sid, step)
        try:
            self._add(lon, lat, sid, step)
        except SitingError:
            self._restore(step)
            raise
        self._history.append(step)
        return self._result("move", sid, before, step.changed, started)

    def undo(self) -> WhatIfResult:
        """Undo the last add, remove or move.

        Raises
        ------
        SitingError
            When there is nothing to undo.
        """
        if not self._history:
            raise SitingError("nothing to undo")
        started = time.perf_counter()
        before = self.covered()
        step = self._history.pop()
        self._restore(step)
        return self._result(f"undo {step.action}", step.station_id, before, step.changed, started)

    def _restore(self, step: _Step) -> None:
        ids, xy, snapped = step.stations
        self._ids, self._xy, self._snapped = list(ids), xy, snapped
        for idx, old in reversed(step.changes):
            self.dist[idx] = old


def _local_dijkstra(net: WalkNetwork, local: np.ndarray, seeds: np.ndarray, costs: np.ndarray, limit: float) -> np.ndarray:
    """Bounded multi-source Dijkstra on the subgraph of ``local`` nodes, from seeds at given costs."""
    from scipy.sparse.csgraph import dijkstra

    sub = net.csr[local][:, local].tocsr()
    n = local.size
    order = np.lexsort((costs, seeds))
    seeds, costs = seeds[order], costs[order]
    first = np.ones(seeds.size, bool)
    first[1:] = seeds[1:] != seeds[:-1]
    seeds, costs = seeds[first], np.maximum(costs[first], 1e-9)
    indptr = np.concatenate([sub.indptr, [sub.indptr[-1] + seeds.size]])
    graph = sp.csr_matrix((np.concatenate([sub.data, costs]), np.concatenate([sub.indices, seeds]), indptr),
                          shape=(n + 1, n + 1))
    return dijkstra(graph, directed=True, indices=n, limit=limit)[:n]
