"""Capacity (千人指标): supply per 1,000 residents in reach, by the enhanced two-step floating
catchment (E2SFCA, Luo & Qi 2009) with the pack's step weights.

Step 1, per facility j: ``R_j = S_j / sum_i P_i W(d_ij)`` over demand samples i within the
catchment. Step 2, per sample i: ``A_i = sum_j R_j W(d_ij)``. ``W`` is the pack's step function
(``steps = [[300, 1.0], [600, 0.68]]``: weight 1 up to 300 m, 0.68 up to 600 m, 0 beyond).
Reported per 1,000 residents (``1000 * A_i``), per demand unit and per 社区 (weighted means),
and flagged where below the pack's ``target_per_1000``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InputError
from .packs import CapacityRule
from .sources import selection_distances

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Evaluation

__all__ = ["step_weight", "e2sfca", "capacity_report"]

#: A distance of zero stored in a sparse matrix (whose absent entries mean out of reach).
_ZERO = 1e-9


def step_weight(d: np.ndarray, steps: tuple[tuple[float, float], ...]) -> np.ndarray:
    """The step weight of each distance (0 beyond the last step)."""
    d = np.asarray(d, float)
    out = np.zeros(d.shape)
    for upper, w in reversed(steps):
        out = np.where(d <= upper + 1e-9, w, out)
    return out


def e2sfca(dist, supply: np.ndarray, demand: np.ndarray, steps) -> np.ndarray:
    """E2SFCA accessibility per demand element from a (facilities x demand) distance matrix.

    Parameters
    ----------
    dist
        Shape (J, I): a dense array with ``inf`` where out of reach, or a scipy
        sparse matrix holding only the pairs in reach (absent pairs are out of reach;
        store a zero distance as a tiny positive one).
    supply
        Shape (J,): supply of each facility.
    demand
        Shape (I,): people at each demand element.
    steps
        ``((upper_metres, weight), ...)``.

    Returns
    -------
    numpy.ndarray
        Shape (I,): supply per person (multiply by 1000 for per 1,000 residents).
    """
    supply = np.asarray(supply, float)
    if sp.issparse(dist):
        coo = sp.coo_matrix(dist)
        wgt = sp.csr_matrix((step_weight(coo.data, steps), (coo.row, coo.col)), shape=coo.shape)
    else:
        wgt = step_weight(dist, steps)
    pop = np.asarray(wgt @ np.asarray(demand, float)).ravel()
    ratio = np.divide(supply, pop, out=np.zeros_like(supply, dtype=float), where=pop > 0)
    return np.asarray(wgt.T @ ratio).ravel()


def _rule_matrix(ev: Evaluation, rule: CapacityRule) -> tuple[sp.csr_matrix, np.ndarray]:
    """The (facilities x samples) distances in reach of the rule's facilities, sparse, and their supply.

    One local search per facility (its cost is what it reaches), so neither time nor
    memory grows with facilities x residents.
    """
    frame = ev.facilities.frame
    if rule.column not in frame:
        raise InputError(
            "facilities",
            f"standard {ev.standard.name} needs column {rule.column!r} on the "
            f"{rule.kind} facilities for its capacity rule",
            column=rule.column,
        )
    idx = np.flatnonzero((frame["kind"].astype(str) == rule.kind).to_numpy())
    supply = pd.to_numeric(frame[rule.column].iloc[idx], errors="coerce").fillna(0.0).to_numpy(float)
    rows, cols, vals = [], [], []
    for row, j in enumerate(idx):
        mask = np.zeros(len(frame), bool)
        mask[j] = True
        d = selection_distances(ev.net, ev.facilities, mask, ev.samples.snapped, rule.metres, local=True)
        hit = np.flatnonzero(np.isfinite(d))
        rows.append(np.full(hit.size, row))
        cols.append(hit)
        vals.append(np.maximum(d[hit], _ZERO))
    shape = (idx.size, len(ev.samples.weight))
    if not rows:
        return sp.csr_matrix(shape), supply
    data = (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols)))
    return sp.csr_matrix(data, shape=shape), supply


def capacity_report(ev: Evaluation) -> dict:
    """Per capacity rule: per-sample supply per 1,000 and a summary."""
    out = {}
    w = ev.samples.weight
    for rule in ev.standard.capacity:
        dist, supply = _rule_matrix(ev, rule)
        per_1000 = 1000.0 * e2sfca(dist, supply, w, rule.steps)
        below = per_1000 < rule.target_per_1000 if rule.target_per_1000 is not None else np.zeros(w.size, bool)
        tot = float(w.sum())
        out[rule.kind] = {
            "sample_per_1000": per_1000,
            "below": below,
            "summary": {
                "column": rule.column,
                "metres": rule.metres,
                "steps": [list(s) for s in rule.steps],
                "target_per_1000": rule.target_per_1000,
                "verified": rule.verified,
                "mean_per_1000": round(float((per_1000 * w).sum() / tot), 6) if tot > 0 else 0.0,
                "below_target": {
                    "weight": round(float(w[below].sum()), 3),
                    "share": round(float(w[below].sum() / tot), 6) if tot > 0 else 0.0,
                },
            },
        }
    return out
