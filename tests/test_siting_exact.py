"""The exact MCLP's reduced-cost fixing and reduced MIP, against brute force and PuLP + CBC.

:mod:`geo.siting.exact` leaves out candidates that the Lagrangian bound proves
cannot be in a better solution, then solves the MIP over the rest.  These
tests check the proof itself (no candidate left out is in a solution better
than the incumbent, by enumeration), and the answers of the whole method
against enumeration and against an MCLP written here in PuLP and solved by CBC.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from geo import siting
from geo.siting import exact, heuristics
from tests.utils import random_cover


def _all_values(inst, k: int) -> dict[tuple[int, ...], float]:
    rows = inst.A.toarray() > 0
    return {
        combo: float(inst.w[rows[list(combo)].any(axis=0)].sum()) for combo in itertools.combinations(range(inst.n), k)
    }


def _pulp_mclp(inst, k: int) -> float:
    """max sum w y, y_i <= sum of the x covering i, sum x <= k: PuLP + CBC, written independently."""
    import pulp

    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{j}", cat="Binary") for j in range(inst.n)]
    y = [pulp.LpVariable(f"y{i}", lowBound=0, upBound=1) for i in range(inst.m)]
    prob += pulp.lpSum(float(inst.w[i]) * y[i] for i in range(inst.m))
    csc = inst.A.tocsc()
    for i in range(inst.m):
        prob += y[i] <= pulp.lpSum(x[j] for j in csc.indices[csc.indptr[i] : csc.indptr[i + 1]])
    prob += pulp.lpSum(x) <= k
    prob.solve(pulp.PULP_CBC_CMD(msg=False))
    assert pulp.LpStatus[prob.status] == "Optimal"
    return float(pulp.value(prob.objective))


@pytest.mark.parametrize("seed", range(6))
def test_fixing_never_drops_a_candidate_of_a_better_solution(seed):
    inst = siting.MCLP(random_cover(seed, 11, 120, 0.22), 3).instance
    k = 3
    values = _all_values(inst, k)
    best = max(values.values())
    rng = np.random.default_rng(100 + seed)
    greedy = heuristics._greedy_cover(inst, k)
    incumbent = float(inst.w[inst.covered(greedy)].sum())
    lag = heuristics._lagrangian(inst, k, incumbent, iters=int(rng.integers(1, 300)), budget_s=10.0)
    for lam in (lag.lam, rng.uniform(0, 1, inst.m) * inst.w):  # a good and an arbitrary multiplier
        tol = exact._tolerance(inst, 1e-9, lag.bound)
        keep, bound = exact.reduced_cost_keep(inst, k, lam, incumbent, tol)
        assert bound >= best - 1e-6  # an upper bound for every lam
        for combo, v in values.items():
            if v > incumbent + 0.5:  # a strictly better solution keeps all its candidates
                assert keep[list(combo)].all(), (combo, v, incumbent)


@pytest.mark.parametrize("seed", range(5))
def test_reduced_mip_equals_brute_force(seed, monkeypatch):
    """The reduced MIP from a weak incumbent and a weak bound, every time (no shortcut by the bound)."""
    monkeypatch.setattr(exact, "EXACT_LAGRANGIAN_ITERATIONS", 0)
    monkeypatch.setattr(exact, "FULL_MIP_SHARE", 1.0)
    monkeypatch.setattr(exact, "KERNEL_SHARE", 1.01)  # the kernel MIP's incumbent always runs too
    inst = siting.MCLP(random_cover(seed, 12, 150, 0.2), 3).instance
    k = 3
    best = max(_all_values(inst, k).values())
    rows = heuristics._greedy_cover(inst, k)
    value = float(inst.w[inst.covered(rows)].sum())
    lag = heuristics._lagrangian(inst, k, value, iters=30, budget_s=10.0)
    res = exact.solve_mclp(inst, k, rows, lag, time_limit=60.0, mip_gap=1e-9)
    assert res.optimal
    assert float(inst.w[inst.covered(res.rows)].sum()) == pytest.approx(best)
    assert res.bound >= best - 1e-6


@pytest.mark.parametrize(("seed", "k"), [(0, 8), (1, 12), (2, 20)])
def test_exact_equals_pulp_cbc(seed, k):
    """The whole exact method (greedy, subgradient, fixing, HiGHS) against an independent PuLP model."""
    model = siting.MCLP(random_cover(seed, 150, 1200, 0.08), k).solve("exact", time_limit=120.0)
    assert model.optimal
    assert model.objective == pytest.approx(_pulp_mclp(model.instance, k))
    plain = siting.MCLP(model.cover, k).solve("exact", warm_start=False, time_limit=120.0)
    assert plain.objective == pytest.approx(model.objective)  # the whole MIP, cold: same optimum


def _reducible_pairs(seed: int, n_base: int = 9, n_dem: int = 60):
    """Random pairs with duplicated candidates, candidates covering a subset of another's, and duplicated demand."""
    rng = np.random.default_rng(seed)
    sets = [set(np.flatnonzero(rng.random(n_dem) < 0.15).tolist()) for _ in range(n_base)]
    for _ in range(3):
        sets.append(set(sets[int(rng.integers(n_base))]))  # an identical candidate
        base = sorted(sets[int(rng.integers(n_base))])
        sets.append(set(rng.choice(base, size=len(base) // 2, replace=False).tolist()) if base else set())  # a subset
    order = rng.permutation(len(sets))
    sets = [sets[i] for i in order]
    dup = rng.integers(0, n_dem, 15)  # demand points with the same cover set as another point
    c = [j for j, s in enumerate(sets) for i in sorted(s)] + [
        j for j, s in enumerate(sets) for d, i in enumerate(dup) if i in s
    ]
    t = [i for s in sets for i in sorted(s)] + [n_dem + d for s in sets for d, i in enumerate(dup) if i in s]
    weight = np.round(rng.lognormal(3.0, 0.8, n_dem + dup.size))
    weight[rng.random(weight.size) < 0.05] = 0.0
    return np.array(c), np.array(t), weight, len(sets)


def _brute_force(c, t, weight, n_cand, k, before, blocked) -> float:
    cover = np.zeros((n_cand, weight.size), bool)
    cover[c, t] = True
    open_w = np.where(before, 0.0, weight)
    free = [j for j in range(n_cand) if not blocked[j]]
    return max(
        float(open_w[cover[list(combo)].any(axis=0)].sum()) if combo else 0.0
        for combo in itertools.combinations(free, min(k, len(free)))
    )


def test_dominated_against_set_inclusion():
    for seed in range(8):
        c, t, weight, n = _reducible_pairs(seed)
        inst = siting.MCLP(siting.CoverSets.from_pairs(c, t, weight, n_candidates=n), 2).instance
        sets = [set(heuristics._row(inst.A, j).tolist()) for j in range(inst.n)]
        rows = np.arange(inst.n)
        dom = exact.dominated(inst, rows)
        for j in range(inst.n):
            by = [i for i in range(inst.n) if i != j and sets[j] <= sets[i] and (sets[j] < sets[i] or i < j)]
            if not by:
                assert dom[j] == -1
            else:
                assert dom[j] in by and dom[dom[j]] == -1  # a dominator that stays
        assert (dom >= 0).any()  # the instances have dominated candidates


@pytest.mark.parametrize("seed", range(8))
def test_reductions_keep_the_optimum(seed, monkeypatch):
    """Identical and subset candidates, duplicate demand, zero weights, existing stations and blocked sites."""
    monkeypatch.setattr(exact, "EXACT_LAGRANGIAN_ITERATIONS", 0)  # always through the reduced MIP
    monkeypatch.setattr(exact, "FULL_MIP_SHARE", 1.0)
    monkeypatch.setattr(exact, "KERNEL_SHARE", 1.01)  # the kernel MIP's incumbent always runs too
    c, t, weight, n = _reducible_pairs(seed)
    rng = np.random.default_rng(50 + seed)
    before = rng.random(weight.size) < 0.1
    blocked = rng.random(n) < 0.1
    k = int(rng.integers(2, 5))
    cover = siting.CoverSets.from_pairs(c, t, weight, n_candidates=n, covered_before=before, blocked=blocked)
    want = _brute_force(c, t, weight, n, k, before, blocked)
    model = siting.MCLP(cover, k)
    inst = model.instance
    rows = heuristics._greedy_cover(inst, k)[: max(1, k - 1)]  # a weak start, so HiGHS has work to do
    value = float(inst.w[inst.covered(rows)].sum())
    lag = heuristics._lagrangian(inst, k, value, iters=5, budget_s=10.0)
    res = exact.solve_mclp(inst, k, rows, lag, time_limit=60.0, mip_gap=1e-9)
    assert res.optimal
    assert float(inst.w[inst.covered(res.rows)].sum()) + float(weight[before].sum()) == pytest.approx(
        want + float(weight[before].sum())
    )
    assert len(res.rows) <= k and not blocked[inst.cand[res.rows]].any()
    whole = siting.MCLP(cover, k).solve("exact", time_limit=60.0)
    assert whole.optimal and whole.objective == pytest.approx(want)


def test_exact_on_a_thread_whose_highs_runs_two_threads():
    """HiGHS keeps its thread count per OS thread: the MCLP's one-thread MIPs still solve after a two-thread solve."""
    import threading

    from geo import solver

    inst = siting.MCLP(random_cover(3, 12, 150, 0.2), 3).instance
    want = max(_all_values(inst, 3).values())
    out: list = []

    def body() -> None:  # a fresh OS thread, so the first HiGHS solve here sets its scheduler
        first = solver.solve(exact._mclp_mip(inst, 3), time_limit=60.0, mip_gap=1e-9, options={"threads": 2})
        rows = heuristics._greedy_cover(inst, 2)  # a weak start, so both MIPs run
        lag = heuristics._lagrangian(inst, 3, float(inst.w[inst.covered(rows)].sum()), iters=5, budget_s=10.0)
        out.append((first, exact.solve_mclp(inst, 3, rows, lag, time_limit=60.0, mip_gap=1e-9)))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(exact, "EXACT_LAGRANGIAN_ITERATIONS", 0)
        mp.setattr(exact, "FULL_MIP_SHARE", 1.0)
        mp.setattr(exact, "KERNEL_SHARE", 1.01)
        worker = threading.Thread(target=body)
        worker.start()
        worker.join()
    first, res = out[0]
    assert first.optimal and first.objective == pytest.approx(want)
    assert res.optimal and "Lagrangian" not in res.status  # proven by HiGHS, not by the bound
    assert float(inst.w[inst.covered(res.rows)].sum()) == pytest.approx(want)
