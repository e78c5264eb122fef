"""Shared-parking matching: lifecircle's solver beside a straightforward PuLP/CBC model.

The instance is synthetic and needs no network: compounds and lots are random
points in a 10 km square (smaller for --quick, at the same density), and a pair's walk is 1.3 x its straight distance,
kept when within 500 m (sparse, about ten lots per compound).  Two cases:

* **same window** - every compound needs 19:00-07:30; each lot's usable spaces
  are one number: lifecircle solves a min-cost flow (the transportation LP by
  HiGHS' simplex, integral at its vertices);
* **varied windows** - compounds need one of five night windows, lots open at
  different hours with land-use occupancy profiles (30-minute slots):
  lifecircle solves a MIP with HiGHS.

Both are lexicographic (most cars, then least walking in whole metres).  PuLP
with CBC solves the same two stages with one capacity row per lot and slot,
and the run checks that both give the same cars and total walk before it
reports any time.  The walking distances are known beforehand in both.

Run ``python -m bench.bench_parking [--quick]``; ``run(quick)`` returns rows.
"""

from __future__ import annotations

import time

import numpy as np

from geo import parking

FULL = (5000, 2000)
QUICK = (2000, 800)
SIDE_M = 10_000.0
LIMIT_M = parking.DEFAULT_MAX_WALK_M
DETOUR = 1.3
SLOT_MINUTES = 30
_LAND_USES = ("office", "office", "retail", "hotel", "industrial", "hospital")
_OPEN = ("19:00-08:00", "19:00-08:00", "20:00-07:30", "18:30-08:30", "00:00-24:00")
_WINDOWS = ("19:00-07:30", "19:00-07:30", "19:30-07:30", "18:30-08:00", "20:00-07:00")


def synthetic_problem(n_res: int, n_lots: int, *, varied: bool, seed: int = 5) -> parking.ParkingProblem:
    """A random matching problem shaped like a district's night parking.

    Parameters
    ----------
    n_res, n_lots
        Numbers of compounds and lots.
    varied
        Compounds need different windows and lots follow occupancy profiles
        (else one window and one usable count per lot).
    seed
        Random seed.

    Returns
    -------
    geo.parking.ParkingProblem
    """
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    side = SIDE_M * np.sqrt(n_res / FULL[0])  # the full size's density at every size
    res_xy = rng.uniform(0, side, (n_res, 2))
    lot_xy = rng.uniform(0, side, (n_lots, 2))
    pairs = cKDTree(res_xy).sparse_distance_matrix(cKDTree(lot_xy), LIMIT_M / DETOUR, output_type="ndarray")
    walk = np.round(pairs["v"] * DETOUR, 1)
    demand = rng.integers(15, 150, n_res)
    capacity = rng.integers(10, 90, n_lots) * 5
    if not varied:
        usable = np.floor(capacity * rng.uniform(0.4, 0.95, n_lots)).astype(np.int64)
        need = np.ones((n_res, 1), dtype=bool)
        return parking.ParkingProblem.from_arrays(demand, usable, (pairs["i"], pairs["j"], walk), need=need)
    need = np.stack(
        [parking.parse_window(_WINDOWS[k]).slot_mask(SLOT_MINUTES) for k in rng.integers(0, len(_WINDOWS), n_res)]
    )
    usable = _varied_usable(rng, capacity)
    return parking.ParkingProblem.from_arrays(demand, usable, (pairs["i"], pairs["j"], walk), need=need)


def _varied_usable(rng: np.random.Generator, capacity: np.ndarray) -> np.ndarray:
    """Usable spaces per lot and 30-minute slot, through :func:`geo.parking.lot_supply`."""
    import pandas as pd

    n = capacity.shape[0]
    lots = pd.DataFrame(
        {
            "id": [f"L{i}" for i in range(n)],
            "capacity": capacity,
            "reserved": rng.integers(0, 6, n),
            "land_use": [_LAND_USES[k] for k in rng.integers(0, len(_LAND_USES), n)],
            "open": [_OPEN[k] for k in rng.integers(0, len(_OPEN), n)],
        }
    )
    return parking.lot_supply(lots, SLOT_MINUTES).usable


# ------------------------------------------------------------------ PuLP / CBC
def pulp_solve(problem: parking.ParkingProblem, *, time_limit: float = 600.0) -> dict:
    """The same lexicographic problem written plainly in PuLP and solved by CBC.

    One integer variable per pair, one row per compound, one row per lot and
    slot a pair's window covers; stage 1 maximises cars, stage 2 fixes them and
    minimises whole walking metres.

    Returns
    -------
    dict
        ``matched``, ``walk_int`` (whole metres), ``optimal``, ``seconds`` and
        ``cars`` per pair.
    """
    import pulp

    started = time.perf_counter()
    p = problem
    n = p.pair_res.shape[0]
    x = [pulp.LpVariable(f"x{k}", lowBound=0, cat="Integer") for k in range(n)]
    model = pulp.LpProblem("parking", pulp.LpMaximize)
    for r, ks in _groups(p.pair_res).items():
        model += pulp.lpSum(x[k] for k in ks) <= int(p.demand[r])
    for (lot, s), ks in _slot_members(p).items():
        model += pulp.lpSum(x[k] for k in ks) <= int(p.usable[lot, s])
    cars = pulp.lpSum(x)
    model += cars
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit)
    model.solve(solver)
    first = pulp.LpStatus[model.status]
    matched = int(round(pulp.value(model.objective) or 0))
    model += cars >= matched
    walk_int = np.rint(p.pair_walk / p.walk_resolution_m)
    model.sense = pulp.LpMinimize
    model.setObjective(pulp.lpSum(float(w) * v for w, v in zip(walk_int, x)))
    model.solve(solver)
    values = np.array([v.varValue or 0.0 for v in x])
    chosen = np.rint(values).astype(np.int64)
    return {
        "matched": int(chosen.sum()),
        "walk_int": int(chosen @ walk_int),
        "cars": chosen,
        "optimal": first == "Optimal" and pulp.LpStatus[model.status] == "Optimal",
        "seconds": time.perf_counter() - started,
    }


def _groups(keys: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    uniq, start = np.unique(keys[order], return_index=True)
    return {int(k): ks for k, ks in zip(uniq, np.split(order, start[1:]))}


def _slot_members(p: parking.ParkingProblem) -> dict[tuple[int, int], list[int]]:
    """Pairs counted in each (lot, slot) capacity row, for every slot some pair covers."""
    out: dict[tuple[int, int], list[int]] = {}
    for k in range(p.pair_res.shape[0]):
        lot = int(p.pair_lot[k])
        for s in np.flatnonzero(p.need[p.pair_res[k]]):
            out.setdefault((lot, int(s)), []).append(k)
    return out


# ---------------------------------------------------------------------- run
def _case(name: str, n_res: int, n_lots: int, varied: bool, pulp_limit: float) -> list[dict]:
    problem = synthetic_problem(n_res, n_lots, varied=varied)
    ours = problem.solve()
    walk_int = np.rint(problem.pair_walk / problem.walk_resolution_m)
    ours_int = int(ours.cars @ walk_int)
    ref = pulp_solve(problem, time_limit=pulp_limit)
    if ref["optimal"] and ours.optimal and (ref["matched"], ref["walk_int"]) != (ours.matched, ours_int):
        raise AssertionError(
            f"parking {name}: lifecircle placed {ours.matched} cars walking {ours_int} m, "
            f"PuLP/CBC {ref['matched']} cars walking {ref['walk_int']} m"
        )
    base = {
        "bench": "parking",
        "case": name,
        "compounds": n_res,
        "lots": n_lots,
        "pairs": int(problem.pair_res.shape[0]),
        "demand": int(problem.demand.sum()),
    }
    agree = bool(ref["optimal"]) and (ref["matched"], ref["walk_int"]) == (ours.matched, ours_int)
    return [
        {
            **base,
            "tool": f"lifecircle ({ours.method})",
            "seconds": round(ours.seconds, 3),
            "matched": ours.matched,
            "total_walk_m": ours_int,
            "optimal": ours.optimal,
            "same_result": agree,
        },
        {
            **base,
            "tool": "PuLP + CBC",
            "seconds": round(ref["seconds"], 3),
            "matched": ref["matched"],
            "total_walk_m": ref["walk_int"],
            "optimal": ref["optimal"],
            "same_result": agree,
        },
    ]


def run(quick: bool = False) -> list[dict]:
    """Time the same-window and varied-window cases, lifecircle beside PuLP/CBC.

    Parameters
    ----------
    quick
        2,000 compounds x 800 lots (same density) instead of 5,000 x 2,000.

    Returns
    -------
    list of dict
        One row per case and tool: ``case``, ``compounds``, ``lots``,
        ``pairs``, ``tool``, ``seconds`` (after the walking distances are
        known), ``matched``, ``total_walk_m`` (whole metres), ``optimal``,
        ``same_result``.
    """
    n_res, n_lots = QUICK if quick else FULL
    limit = 120.0 if quick else 1800.0
    rows = _case("same window", n_res, n_lots, False, limit)
    rows += _case("varied windows", n_res, n_lots, True, limit)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the rows as JSON lines."""
    from bench.common import rows_cli

    return rows_cli(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
