"""Micro-station siting (MCLP): lifecircle's exact and greedy+swap beside PySAL spopt with CBC.

The instance lives on a synthetic street network (:func:`bench.synthetic.street_grid`,
40,000 nodes, about 16 km x 16 km, the size of a large Shenzhen district):
demand points clustered around a few population centres over a thinner
floor, candidate sites at random network nodes, 20 existing stations fixed
open, K = 50 new sites, radius 1000 m of walk.  Fifty 1 km circles nearly
saturate the populated part, the hard regime of the MCLP (many near-equal
choices): CBC needs about a minute on the larger case.  Two sizes: 2,000 demand x 300
candidates and 10,000 x 1,000 (``--quick``: 1,000 x 150 and 2,000 x 300).

All tools get the same covering information: lifecircle's covering pairs come
from its bounded per-candidate searches (timed separately as ``cover_s``);
spopt gets the dense (demand x facilities) cost matrix made from the same
pairs (a pair's network distance, every other entry beyond the radius) with
the existing stations as predefined facilities.  The run checks that
lifecircle's exact objective equals spopt's before it reports any time, and
reports greedy+swap's shortfall from that optimum.

Run ``python -m bench.bench_siting [--quick]``; ``run(quick)`` returns rows.
"""

from __future__ import annotations

import time

import numpy as np

from geo import siting
from geo.network import WalkNetwork, snap_xy

FULL = ((2000, 300), (10_000, 1000))
QUICK = ((1000, 150), (2000, 300))
K = 50
RADIUS_M = 1000.0
N_EXISTING = 20
NETWORK_NODES = 40_000  # about 16 km x 16 km of 80 m blocks


def synthetic_network(seed: int = 0) -> WalkNetwork:
    """The benchmark's street network (about 40,000 nodes)."""
    from geo.synthetic import street_grid

    return street_grid(NETWORK_NODES, seed=seed)


def _clustered_nodes(net: WalkNetwork, count: int, rng: np.random.Generator) -> np.ndarray:
    """Nodes drawn with a density of a few Gaussian population centres over a uniform floor."""
    xy = net.node_xy
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    centres = rng.uniform(lo, hi, (8, 2))
    spread = rng.uniform(600.0, 1500.0, 8)
    d2 = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    density = 0.15 + np.exp(-d2 / (2 * spread**2)).sum(axis=1)
    return rng.choice(net.n_nodes, size=count, replace=True, p=density / density.sum())


def synthetic_cover(net: WalkNetwork, n_demand: int, n_candidates: int, *, seed: int = 7) -> siting.CoverSets:
    """Covering pairs of a random instance on ``net`` (existing stations fixed open)."""
    rng = np.random.default_rng(seed)
    dem_xy = net.node_xy[_clustered_nodes(net, n_demand, rng)] + rng.uniform(-30, 30, (n_demand, 2))
    weight = np.round(rng.lognormal(5.5, 0.8, n_demand))
    cand_xy = net.node_xy[rng.choice(net.n_nodes, n_candidates, replace=False)]
    st_xy = net.node_xy[_clustered_nodes(net, N_EXISTING, rng)]
    targets = snap_xy(net, dem_xy)
    return siting.cover_sets(net, targets, weight, snap_xy(net, cand_xy), RADIUS_M, existing=snap_xy(net, st_xy))


def _dense_cost(cover: siting.CoverSets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """spopt's inputs: (demand x [candidates, existing]) costs, weights, predefined flags.

    Existing stations become extra columns whose cost is 0 to the demand they
    cover (covered before) and beyond the radius elsewhere.
    """
    n_c, n_d = cover.n_candidates, cover.n_demand
    cost = np.full((n_d, n_c + 1), 10.0 * RADIUS_M)
    rows = np.repeat(np.arange(n_c), np.diff(cover.indptr))
    cost[cover.indices, rows] = cover.dist
    cost[cover.covered_before, n_c] = 0.0
    predefined = np.zeros(n_c + 1, dtype=int)
    predefined[n_c] = 1
    return cost, cover.weight, predefined


def _time_lifecircle(cover: siting.CoverSets, method: str) -> tuple[float, siting.MCLP]:
    started = time.perf_counter()
    model = siting.MCLP(cover, K).solve(method, time_limit=600.0)
    return time.perf_counter() - started, model


def _time_spopt(cover: siting.CoverSets) -> tuple[float, float, float]:
    import pulp
    from spopt.locate import MCLP as SpoptMCLP

    cost, weight, predefined = _dense_cost(cover)
    started = time.perf_counter()
    model = SpoptMCLP.from_cost_matrix(cost, weight, RADIUS_M, K + 1, predefined_facilities_arr=predefined)
    built = time.perf_counter()
    model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    solved = time.perf_counter()
    return built - started, solved - built, float(pulp.value(model.problem.objective))


def _case(net: WalkNetwork, n_demand: int, n_candidates: int) -> list[dict]:
    started = time.perf_counter()
    cover = synthetic_cover(net, n_demand, n_candidates)
    cover_s = time.perf_counter() - started
    exact_s, exact = _time_lifecircle(cover, "exact")
    greedy_s, greedy = _time_lifecircle(cover, "greedy")
    sp_build, sp_solve, sp_obj = _time_spopt(cover)
    optimum = exact.covered_after
    if not exact.optimal or abs(sp_obj - optimum) > 1e-6 * max(1.0, optimum):
        raise RuntimeError(
            f"objectives disagree: lifecircle exact {optimum} (optimal={exact.optimal}), spopt+CBC {sp_obj}"
        )
    base = {
        "case": f"{n_demand:,} demand x {n_candidates:,} candidates",
        "demand": n_demand,
        "candidates": n_candidates,
        "k": K,
        "radius_m": RADIUS_M,
        "pairs": cover.n_pairs,
        "cover_s": round(cover_s, 3),
        "optimum": optimum,
        "same_optimum": True,
    }

    def row(tool: str, build: float, solve: float, objective: float, optimal: bool) -> dict:
        return {
            **base,
            "tool": tool,
            "build_s": round(build, 3),
            "solve_s": round(solve, 3),
            "seconds": round(build + solve, 3),
            "objective": objective,
            "optimal": optimal,
            "gap_to_optimum_pct": round(100.0 * (optimum - objective) / optimum, 4),
        }

    return [
        row("lifecircle exact (HiGHS MIP)", 0.0, exact_s, exact.covered_after, exact.optimal),
        row("lifecircle greedy+swap", 0.0, greedy_s, greedy.covered_after, greedy.optimal),
        row("spopt MCLP + CBC", sp_build, sp_solve, sp_obj, True),
    ]


def run(quick: bool = False, *, network_nodes: int = NETWORK_NODES) -> list[dict]:
    """Time lifecircle's exact and greedy+swap MCLP beside spopt+CBC.

    Parameters
    ----------
    quick
        1,000 x 150 and 2,000 x 300 instead of 2,000 x 300 and 10,000 x 1,000.
    network_nodes
        Size of the synthetic network: the same demand spread over a larger
        area (e.g. 200,000 nodes, 36 km square) makes the covering sets
        sparse and the MCLP easy for every solver.

    Returns
    -------
    list of dict
        One row per case and tool: ``case``, ``demand``, ``candidates``,
        ``k``, ``radius_m``, ``pairs``, ``cover_s`` (lifecircle's network
        searches for the covering pairs, shared by all tools), ``tool``,
        ``build_s`` (model building: spopt's PuLP model; lifecircle's is
        inside ``solve_s``), ``solve_s``, ``seconds``, ``objective`` (weight
        covered, existing stations included), ``optimal``, ``optimum``,
        ``gap_to_optimum_pct``, ``same_optimum`` (checked before reporting).
    """
    from geo.synthetic import street_grid

    net = street_grid(network_nodes, seed=0)
    rows: list[dict] = []
    for n_demand, n_candidates in QUICK if quick else FULL:
        rows += _case(net, n_demand, n_candidates)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the rows as JSON lines."""
    from bench.common import rows_cli

    return rows_cli(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
