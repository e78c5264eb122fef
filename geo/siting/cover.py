"""Cover building: which demand samples each candidate site reaches within the radius.

:func:`cover_sets` runs one bounded search per candidate
(:func:`geo.pairs.pairs_within`), joins the samples at their edges exactly as
:mod:`geo.coverage` does, and keeps the pairs as CSR rows of a
:class:`CoverSets`.  Samples already within the radius of an existing
station are *covered before* and leave the objective.  No dense candidates x
demand matrix is ever built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .. import reach
from ..errors import SitingError
from ..network import Snapped, WalkNetwork
from ..pairs import TargetIndex, pairs_within
from ..pairs import gather as _gather

__all__ = ["CoverSets", "ProgressFn", "TargetIndex", "candidate_pairs", "check_radius", "cover_sets"]

ProgressFn = Callable[[int, int], None]


def check_radius(radius: float) -> float:
    """Return ``radius`` as a float, or raise :class:`SitingError` unless it is positive and finite."""
    value = float(radius)
    if not np.isfinite(value) or value <= 0:
        raise SitingError(f"the service radius must be a positive number of metres, got {radius:g}")
    return value


def candidate_pairs(
    net: WalkNetwork,
    candidates: Snapped,
    targets: Snapped,
    radius: float,
    *,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (candidate, target) pair within ``radius`` of network walk.

    One bounded search per candidate on a local subgraph (:func:`geo.pairs.pairs_within`).

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
    return pairs_within(net, candidates, targets, radius, progress=progress)


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
        candidate: ArrayLike,
        demand: ArrayLike,
        weight: ArrayLike,
        *,
        n_candidates: int | None = None,
        covered_before: ArrayLike | None = None,
        blocked: ArrayLike | None = None,
        radius: float = float("nan"),
        dist: ArrayLike | None = None,
    ) -> CoverSets:
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
        if not _sorted_unique(cand, dem):  # pairs_within's output already is: no sort needed
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
        weights: ArrayLike | None,
        service_radius: float,
        predefined_facilities_arr: ArrayLike | None = None,
    ) -> CoverSets:
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
        pre = (
            np.zeros(n_fac, bool)
            if predefined_facilities_arr is None
            else np.asarray(predefined_facilities_arr).ravel() > 0
        )
        before = np.zeros(n_dem, bool)
        before[dem[pre[cand]]] = True
        return cls.from_pairs(
            cand, dem, w, n_candidates=n_fac, covered_before=before, blocked=pre, radius=radius, dist=d
        )

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

    def covered_by(self, chosen: ArrayLike) -> np.ndarray:
        """Demand covered by the existing stations plus the ``chosen`` candidates."""
        out = self.covered_before.copy()
        out[_gather(self.indptr, self.indices, np.asarray(chosen, dtype=np.int64))] = True
        return out


def _sorted_unique(cand: np.ndarray, dem: np.ndarray) -> bool:
    """True when the pairs are sorted by candidate, then strictly by demand (no duplicates)."""
    dc, dd = np.diff(cand), np.diff(dem)
    return bool(((dc > 0) | ((dc == 0) & (dd > 0))).all())


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
    return CoverSets.from_pairs(
        cand, dem, weight, n_candidates=len(candidates), covered_before=before, blocked=block, radius=radius, dist=dist
    )
