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
``python -m bench.bench_siting --city [--quick]`` runs :func:`city_run` instead: 200k nodes,
100,000 demand x 10,000 candidates (issue 15), with the 2,000 x 300 case as the spopt anchor.
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


def _cpu() -> float:
    """CPU seconds of this process (all its threads) and of its finished children (CBC)."""
    import resource

    return time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime


def _time_lifecircle(cover: siting.CoverSets, method: str, k: int = K) -> tuple[float, siting.MCLP, float]:
    cpu, started = _cpu(), time.perf_counter()
    model = siting.MCLP(cover, k).solve(method, time_limit=600.0)
    return time.perf_counter() - started, model, _cpu() - cpu


def _time_spopt(cover: siting.CoverSets) -> tuple[float, float, float, float]:
    import pulp
    from spopt.locate import MCLP as SpoptMCLP

    cost, weight, predefined = _dense_cost(cover)
    cpu, started = _cpu(), time.perf_counter()
    model = SpoptMCLP.from_cost_matrix(cost, weight, RADIUS_M, K + 1, predefined_facilities_arr=predefined)
    built = time.perf_counter()
    model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    solved = time.perf_counter()
    return built - started, solved - built, float(pulp.value(model.problem.objective)), _cpu() - cpu


def _case(net: WalkNetwork, n_demand: int, n_candidates: int) -> list[dict]:
    started = time.perf_counter()
    cover = synthetic_cover(net, n_demand, n_candidates)
    cover_s = time.perf_counter() - started
    exact_s, exact, exact_cpu = _time_lifecircle(cover, "exact")
    greedy_s, greedy, greedy_cpu = _time_lifecircle(cover, "greedy")
    sp_build, sp_solve, sp_obj, sp_cpu = _time_spopt(cover)
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

    def row(tool: str, build: float, solve: float, objective: float, optimal: bool, cpu: float) -> dict:
        return {
            **base,
            "tool": tool,
            "build_s": round(build, 3),
            "solve_s": round(solve, 3),
            "seconds": round(build + solve, 3),
            "cpu_s": round(cpu, 3),
            "objective": objective,
            "optimal": optimal,
            "gap_to_optimum_pct": round(100.0 * (optimum - objective) / optimum, 4),
        }

    return [
        row("lifecircle exact (HiGHS MIP)", 0.0, exact_s, exact.covered_after, exact.optimal, exact_cpu),
        row("lifecircle greedy+swap", 0.0, greedy_s, greedy.covered_after, greedy.optimal, greedy_cpu),
        row("spopt MCLP + CBC", sp_build, sp_solve, sp_obj, True, sp_cpu),
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


# --------------------------------------------------------------- city scale
CITY = {"full": (200_000, 100_000, 10_000), "quick": (50_000, 25_000, 2_500)}
#: K per mode: the quick city is a quarter of the area, so a quarter of the sites (K=200 there saturates it).
CITY_K = {"full": (50, 200), "quick": (12, 50)}


def _city_instance(n_nodes: int, n_demand: int, n_candidates: int):
    """Network, snapped demand with weights, candidates and 20 existing stations (as issue 15 measured)."""
    from geo.synthetic import random_points_near, street_grid

    net = street_grid(n_nodes, seed=0)
    rng = np.random.default_rng(7)
    dem = snap_xy(net, random_points_near(net, n_demand, seed=2))
    weight = np.round(rng.lognormal(5.5, 0.8, n_demand))
    cand = snap_xy(net, net.node_xy[rng.choice(net.n_nodes, n_candidates, replace=False)])
    existing = snap_xy(net, net.node_xy[rng.choice(net.n_nodes, N_EXISTING, replace=False)])
    net.csr, net.node_tree, net.incidence  # noqa: B018 - built once, as a loaded network has them
    return net, dem, weight, cand, existing


def _check_city_pairs(net, cover: siting.CoverSets, dem, cand, sample: int = 20) -> None:
    """A sample of candidates' covered demand against scipy's Dijkstra on the whole network + the edge join."""
    from scipy.sparse.csgraph import dijkstra

    rng = np.random.default_rng(3)
    for j in rng.choice(np.flatnonzero(cand.reachable), sample, replace=False):
        e = cand.edge[j]
        seeds = [net.edge_u[e], net.edge_v[e]]
        costs = [cand.gap[j] + cand.offset[j], cand.gap[j] + net.edge_length[e] - cand.offset[j]]
        node_d = np.min([c + dijkstra(net.csr, indices=int(s), limit=RADIUS_M) for s, c in zip(seeds, costs)], axis=0)
        te = dem.edge
        d = dem.gap + np.minimum(
            node_d[net.edge_u[te]] + dem.offset, node_d[net.edge_v[te]] + (net.edge_length[te] - dem.offset)
        )
        same = (te == e) & dem.reachable
        d[same] = np.minimum(d[same], dem.gap[same] + cand.gap[j] + np.abs(dem.offset[same] - cand.offset[j]))
        want = np.flatnonzero((d <= RADIUS_M - 1e-6) & dem.reachable)
        edge = np.flatnonzero((np.abs(d - RADIUS_M) <= 1e-6) & dem.reachable)  # on the radius: either way
        got = cover.row(int(j))
        if not (np.isin(want, got).all() and np.isin(got, np.union1d(want, edge)).all()):
            raise RuntimeError(f"cover set of candidate {j} differs from scipy's Dijkstra")


def city_run(quick: bool = False) -> list[dict]:
    """Siting at city scale: cover sets, greedy+swap K=50 and K=200, exact K=200, and an spopt anchor.

    The cover sets of a sample of candidates are checked against scipy's
    Dijkstra over the whole network, the exact answer must be proven optimal
    and at least greedy's, before any time is reported; the anchor is the
    2,000 x 300 bench case solved by lifecircle exact and spopt + CBC in the same run.
    """
    import resource

    mode = "quick" if quick else "full"
    n_nodes, n_demand, n_candidates = CITY[mode]
    ks = CITY_K[mode]
    net, dem, weight, cand, existing = _city_instance(n_nodes, n_demand, n_candidates)
    cpu, started = _cpu(), time.perf_counter()
    cover = siting.cover_sets(net, dem, weight, cand, RADIUS_M, existing=existing)
    cover_s, cover_cpu = time.perf_counter() - started, _cpu() - cpu
    _check_city_pairs(net, cover, dem, cand)
    base = {"bench": "siting city", "nodes": net.n_nodes, "demand": n_demand, "candidates": n_candidates}
    base |= {"radius_m": RADIUS_M, "pairs": cover.n_pairs}
    rows = [{**base, "case": "cover sets", "seconds": round(cover_s, 2), "cpu_s": round(cover_cpu, 2)}]
    results = {}
    for method, k in [("greedy", k) for k in ks] + [("exact", ks[-1])]:
        secs, model, cpu_s = _time_lifecircle(cover, method, k)
        results[method, k] = model
        rows.append(
            {
                **base,
                "case": f"{method} K={k}",
                "seconds": round(secs, 2),
                "cpu_s": round(cpu_s, 2),
                "with_cover_s": round(secs + cover_s, 2),
                "with_cover_cpu_s": round(cpu_s + cover_cpu, 2),
                "covered_after": model.covered_after,
                "optimal": model.optimal,
                "gap": model.gap,
                "status": model.status,
            }
        )
    exact, greedy = results["exact", ks[-1]], results["greedy", ks[-1]]
    if not exact.optimal or exact.covered_after < greedy.covered_after - 1e-6:
        raise RuntimeError(f"exact K={ks[-1]} not proven optimal or below greedy: {exact.status}")
    rows[-1]["greedy_gap_to_optimum_pct"] = round(100 * (1 - greedy.covered_after / exact.covered_after), 4)
    anchor = _case(synthetic_network(), *FULL[0])
    mine, spopt = anchor[0], anchor[2]
    rows.append(
        {
            "bench": "siting city",
            "case": f"anchor: {anchor[0]['case']}, K={K}",
            "lifecircle_exact_s": mine["seconds"],
            "spopt_cbc_s": spopt["seconds"],
            "ratio_wall": round(spopt["seconds"] / mine["seconds"], 1),
            "ratio_cpu": round(spopt["cpu_s"] / max(mine["cpu_s"], 1e-9), 1),
            "same_optimum": True,
        }
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    for r in rows:
        r["peak_rss_mib_process"] = round(peak)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the rows as JSON lines (``--city``: the city-scale rows instead)."""
    import json
    import sys

    from bench.common import rows_cli

    args = list(sys.argv[1:] if argv is None else argv)
    if "--city" in args:
        for row in city_run("--quick" in args):
            print(json.dumps(row, ensure_ascii=False), flush=True)
        return 0
    return rows_cli(run, __doc__.splitlines()[0], args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
