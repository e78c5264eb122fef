"""Greedy + swap for the MCLP: a deterministic work budget, checked by brute force.

The improvement phase of the greedy method (:func:`geo.siting.heuristics._mclp_heuristic`)
stops on a count of work, not on the clock.  These tests check that two runs,
and runs with a clock that jumps, give the same sites; that whatever the
budget the answer is a 1-swap local optimum (every single swap enumerated) at
least as good as plain greedy, with an upper bound no lower than the optimum
found by enumeration; and that the incremental swap search makes the same
swaps as a naive best-improvement search written here.
"""

from __future__ import annotations

import itertools
import time
import warnings

import numpy as np
import pytest

from geo import settings, siting
from geo.siting import heuristics
from tests.utils import random_cover


def _value(rows_dense: np.ndarray, w: np.ndarray, chosen) -> float:
    return float(w[rows_dense[list(chosen)].any(axis=0)].sum())


def _is_swap_optimal(inst, chosen: list[int]) -> bool:
    """No single swap (every chosen x every other row, enumerated) covers strictly more."""
    dense = inst.A.toarray() > 0
    base = _value(dense, inst.w, chosen)
    others = [j for j in range(inst.n) if j not in chosen]
    for pos, new in itertools.product(range(len(chosen)), others):
        trial = list(chosen)
        trial[pos] = new
        if _value(dense, inst.w, trial) > base + 1e-9:
            return False
    return True


def _naive_swap(inst, rows: list[int]) -> list[int]:
    """Best-improvement 1-swap by recomputing coverage for every pair (first position, lowest row on ties)."""
    dense = inst.A.toarray() > 0
    chosen = list(rows)
    while True:
        base = _value(dense, inst.w, chosen)
        best, best_gain = None, 1e-9 * max(1.0, float(inst.w.sum()))
        for pos in range(len(chosen)):
            for new in range(inst.n):
                if new in chosen:
                    continue
                trial = list(chosen)
                trial[pos] = new
                gain = _value(dense, inst.w, trial) - base
                if gain > best_gain:
                    best, best_gain = (pos, new), gain
        if best is None:
            return chosen
        chosen[best[0]] = best[1]


@pytest.mark.parametrize("seed", range(5))
def test_swap_search_makes_the_naive_searchs_swaps(seed):
    inst = siting.MCLP(random_cover(seed, 40, 400, 0.15), 5).instance
    rng = np.random.default_rng(seed)
    start = rng.choice(inst.n, 5, replace=False).tolist()
    assert heuristics._swap_improve(inst, start) == _naive_swap(inst, start)


def test_swap_search_without_the_table_is_the_same(monkeypatch):
    """Rounds evaluated from scratch in slices (large instances) make the same swaps."""
    inst = siting.MCLP(random_cover(11, 60, 600, 0.12), 8).instance
    start = list(range(8))
    with_table = heuristics._swap_improve(inst, start)
    monkeypatch.setattr(heuristics, "SWAP_TABLE_CELLS", 3 * inst.n)  # slices of three positions
    assert heuristics._swap_improve(inst, start) == with_table


@pytest.mark.parametrize(("seed", "k"), [(0, 3), (1, 4), (2, 3), (3, 5)])
@pytest.mark.parametrize("work", [0.0, 2e4, 3e5, None])
def test_any_budget_gives_a_swap_local_optimum_and_a_valid_bound(seed, k, work):
    inst = siting.MCLP(random_cover(seed, 13, 160, 0.2), k).instance
    rows, bound, _ = heuristics._mclp_heuristic(inst, k, work=work)
    assert len(rows) == k and len(set(rows)) == k
    assert _is_swap_optimal(inst, rows)
    dense = inst.A.toarray() > 0
    optimum = max(_value(dense, inst.w, c) for c in itertools.combinations(range(inst.n), k))
    value = _value(dense, inst.w, rows)
    greedy = _value(dense, inst.w, heuristics._swap_improve(inst, heuristics._greedy_cover(inst, k)))
    assert greedy <= value <= optimum
    assert bound >= optimum - 1e-6


@pytest.mark.parametrize("seed", range(12))  # 0 and 4-11 restrict (checked when written)
def test_restricting_to_the_kept_candidates_keeps_the_answer_local_and_the_bound_valid(monkeypatch, seed):
    """Restrict as soon as reduced-cost fixing leaves anything out (the city case restricts late)."""
    monkeypatch.setattr(heuristics, "RESTRICT_SHARE", 1.0)
    monkeypatch.setattr(heuristics, "LAGRANGIAN_CHUNK", 5)
    monkeypatch.setattr(heuristics, "GREEDY_GAP", 0.0)
    k = 3
    inst = siting.MCLP(random_cover(seed + 20, 14, 200, 0.2), k).instance
    rows, bound, lag = heuristics._mclp_heuristic(inst, k, work=1e7)
    dense = inst.A.toarray() > 0
    optimum = max(_value(dense, inst.w, c) for c in itertools.combinations(range(inst.n), k))
    assert _is_swap_optimal(inst, rows)
    assert bound >= optimum - 1e-6
    assert lag is not None and lag.bound >= optimum - 1e-6  # the bound handed to the exact method
    assert set(lag.top.tolist()) <= set(range(inst.n))


def test_same_sites_twice_and_whatever_the_clock(monkeypatch):
    """The answer depends on the work done, never on how long it took."""
    cover = random_cover(5, 300, 3000, 0.07)
    first = siting.MCLP(cover, 12).solve("greedy")
    again = siting.MCLP(cover, 12).solve("greedy")
    ticks = iter(np.cumsum(np.random.default_rng(0).exponential(5.0, 10**6)))
    monkeypatch.setattr(time, "process_time", lambda: float(next(ticks)))  # a very slow, jumpy machine
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))
    slow = siting.MCLP(cover, 12).solve("greedy")
    assert first.chosen.tolist() == again.chosen.tolist() == slow.chosen.tolist()
    assert first.objective == again.objective == slow.objective
    assert first.gap == slow.gap


def test_more_work_never_gives_less():
    inst = siting.MCLP(random_cover(8, 200, 2500, 0.08), 10).instance
    values = []
    for work in (0.0, 1e6, 1e7, 1e9):
        rows, _, _ = heuristics._mclp_heuristic(inst, 10, work=work)
        values.append(float(inst.w[inst.covered(rows)].sum()))
    assert values == sorted(values)


def test_the_old_time_budget_name_is_deprecated(monkeypatch):
    with pytest.warns(DeprecationWarning, match="GREEDY_WORK"):
        assert settings.GREEDY_BUDGET_S == 1.0
    with pytest.warns(DeprecationWarning, match="GREEDY_WORK"):
        assert siting.GREEDY_BUDGET_S == 1.0
    monkeypatch.setattr(settings, "GREEDY_BUDGET_S", 5.0, raising=False)  # old code assigning it
    cover = random_cover(2, 30, 300, 0.15)
    with pytest.warns(DeprecationWarning, match="no longer read"):
        siting.MCLP(cover, 3).solve("greedy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert settings.GREEDY_WORK > 0
