"""The shared-parking matching as an optimisation model, solved optimally by HiGHS.

Lexicographic: first the most cars placed (within the fairness floors first),
then the least total walking.  Every slot's capacity is checked lot by lot.
When the slot rows of every lot reduce to one (all windows alike, or a lot's
usable spaces constant over them) the problem is a transportation problem, a
min-cost flow solved as an LP by HiGHS' simplex (its vertices are integral).
Otherwise each stage is first solved as an LP too: when the windows are
nested (the night windows of a city usually are: 18:30-08:00 holds 19:00-07:30
holds 20:00-07:00) a lot's slot rows form a laminar family, and with the
compound rows (a partition) the matrix stays totally unimodular, so the
simplex vertex is integral and therefore optimal for the integer problem as
well.  Only when a stage's vertex is not integral (crossing windows) is the
problem solved again as a MIP with HiGHS, integer cars per pair.  HiGHS is
driven through the one wrapper, :mod:`geo.solver`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .. import solver

__all__ = ["LP_METHOD", "Assignment", "ParkingProblem"]

#: The method of a problem with several slot rows per lot solved by its LP relaxation, every
#: stage's simplex vertex integral (so optimal for the integer problem too).
LP_METHOD = "LP with integral optimum (HiGHS)"


@dataclass
class Assignment:
    """The solved matching of a :class:`ParkingProblem`.

    Attributes
    ----------
    cars
        Cars placed on each pair of the problem, int64.
    placed
        Cars placed per compound.
    used
        Spaces used per lot and slot, shape (L, S).
    floor
        The fairness floor of each compound (0 without fairness).
    method
        ``"min-cost flow (HiGHS LP)"``, :data:`LP_METHOD`, ``"MIP (HiGHS)"`` or ``"none"``.
    optimal
        Whether every stage was proven optimal.
    stages
        The lexicographic stages, in order, with their objective values and times.
    total_walk_m
        Sum over pairs of cars x walking metres.
    seconds
        Solver time (model building included).
    """

    cars: np.ndarray
    placed: np.ndarray
    used: np.ndarray
    floor: np.ndarray
    method: str
    optimal: bool
    stages: list[dict]
    total_walk_m: float
    seconds: float

    @property
    def matched(self) -> int:
        """Cars placed in all."""
        return int(self.cars.sum())


@dataclass
class ParkingProblem:
    """The matching problem as arrays (built from tables by :func:`match_parking`).

    Variables are integer cars per pair (compound, lot within the walking
    limit).  Constraints: a compound gets at most its shortfall; in every
    slot, the cars of a lot whose windows cover the slot fit its usable spaces;
    a lot gives at most ``lot_cap`` cars in all.  Objectives, lexicographic:
    (with a fairness floor) the most cars within the floors, then the most cars,
    then the least walking.

    Attributes
    ----------
    demand
        Shortfall per compound, shape (R,), int.
    need
        Slots each compound's cars occupy, shape (R, S), bool.
    usable
        Usable spaces per lot and slot, shape (L, S), int.
    pair_res, pair_lot, pair_walk
        The pairs within the walking limit.
    lot_cap
        Most cars per lot over the day, shape (L,) (None: uncapped).
    walk_resolution_m
        The walking objective uses metres rounded to this (1 m: integer
        metres, which makes it exact and comparable with integer network flows).
    """

    demand: np.ndarray
    need: np.ndarray
    usable: np.ndarray
    pair_res: np.ndarray
    pair_lot: np.ndarray
    pair_walk: np.ndarray
    lot_cap: np.ndarray | None = None
    walk_resolution_m: float = 1.0

    @classmethod
    def from_arrays(
        cls,
        demand: ArrayLike,
        usable: np.ndarray,
        pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
        *,
        need: np.ndarray | None = None,
        lot_cap: ArrayLike | None = None,
    ) -> ParkingProblem:
        """Build a problem from plain arrays (spopt's ``from_cost_matrix`` in spirit).

        Parameters
        ----------
        demand
            Shortfall per compound.
        usable
            Usable spaces per lot: shape (L,) for one common window, or (L, S)
            per slot.
        pairs
            ``(res, lot, walk_m)`` arrays of the pairs within the walking limit.
        need
            Slots each compound occupies, shape (R, S); by default every slot.
        lot_cap
            Most cars per lot over the day.
        """
        demand = np.asarray(demand, dtype=np.int64)
        usable = np.asarray(usable, dtype=np.int64)
        if usable.ndim == 1:
            usable = usable[:, None]
        if need is None:
            need = np.ones((demand.shape[0], usable.shape[1]), dtype=bool)
        res, lot, walk = (np.asarray(a) for a in pairs)
        cap = None if lot_cap is None else np.asarray(lot_cap, dtype=np.int64)
        return cls(
            demand,
            np.asarray(need, dtype=bool),
            usable,
            res.astype(np.int64),
            lot.astype(np.int64),
            walk.astype(float),
            cap,
        )

    @property
    def n_res(self) -> int:
        """Number of compounds."""
        return int(self.demand.shape[0])

    @property
    def n_lots(self) -> int:
        """Number of lots."""
        return int(self.usable.shape[0])

    def check(self) -> None:
        """Raise ValueError when the arrays do not fit together."""
        n_res, n_lots, n_slots = self.n_res, self.n_lots, self.usable.shape[1]
        if self.need.shape != (n_res, n_slots):
            raise ValueError(f"need has shape {self.need.shape}, expected ({n_res}, {n_slots})")
        if not (self.pair_res.shape == self.pair_lot.shape == self.pair_walk.shape):
            raise ValueError("pair_res, pair_lot and pair_walk must have the same length")
        if self.pair_res.size and not (
            0 <= self.pair_res.min()
            and self.pair_res.max() < n_res
            and 0 <= self.pair_lot.min()
            and self.pair_lot.max() < n_lots
        ):
            raise ValueError("a pair refers to a compound or lot that does not exist")
        if (self.demand < 0).any() or (self.usable < 0).any():
            raise ValueError("demand and usable spaces must be non-negative")
        if self.lot_cap is not None and self.lot_cap.shape != (n_lots,):
            raise ValueError(f"lot_cap has shape {self.lot_cap.shape}, expected ({n_lots},)")

    def solve(
        self,
        *,
        fairness: float = 0.0,
        time_limit: float | None = None,
        force_mip: bool = False,
    ) -> Assignment:
        """Solve optimally: most cars (within the fairness floors first), then least walking.

        Parameters
        ----------
        fairness
            Share ``f`` in [0, 1]: every compound's first ``floor(f x demand)``
            cars are placed before any compound gets more.  Implemented as a
            first lexicographic stage that maximises the cars placed within the
            floors: when the floors can all be met this is the constraint
            ``placed >= floor(f x demand)``; when they cannot, as many floor
            cars as possible are placed (see :attr:`Assignment.floor`).
        time_limit
            Seconds per MIP stage (None: no limit).  A stage stopped by the
            limit keeps its best solution and sets ``optimal`` False.
        force_mip
            Solve as a MIP even when the constraints have the flow structure.

        Returns
        -------
        Assignment
        """
        return _solve(self, fairness=fairness, time_limit=time_limit, force_mip=force_mip)


# ---------------------------------------------------------------- model rows
@dataclass
class _Model:
    """A HiGHS model: pair columns, then per-compound floor/rest columns."""

    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_upper: np.ndarray
    n_pairs: int
    n_res: int
    flow: bool
    pair_comp: np.ndarray  # compound row of each pair column
    pair_row: np.ndarray  # the lot row of each pair (flow structure only)
    row_rhs: np.ndarray  # spaces of each lot row


def _useful_pairs(p: ParkingProblem) -> tuple[np.ndarray, np.ndarray]:
    """Indices of pairs that can carry a car, and each one's upper bound."""
    res, lot = p.pair_res, p.pair_lot
    if res.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    big = np.iinfo(np.int64).max // 4
    # min usable spaces over the slots each pair's compound occupies
    masked = np.where(p.need[res], p.usable[lot], big)
    bound = np.minimum(masked.min(axis=1), p.demand[res])
    if p.lot_cap is not None:
        bound = np.minimum(bound, p.lot_cap[lot])
    keep = np.flatnonzero(bound > 0)
    return keep, bound[keep]


def _window_classes(need: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Distinct windows, and the day's slots grouped by which of them cover each slot.

    Returns
    -------
    cls_of, cover, slots
        The class (distinct window) of each row of ``need``; ``cover[g, c]``:
        class ``c`` covers the slots of group ``g``; each group's slot indices.
        Slots no class covers are left out.
    """
    classes, cls_of = np.unique(need, axis=0, return_inverse=True)
    cover, grp_of = np.unique(classes.T, axis=0, return_inverse=True)
    grp_of = grp_of.ravel()
    keep = np.flatnonzero(cover.any(axis=1))
    return cls_of.ravel(), cover[keep], [np.flatnonzero(grp_of == g) for g in keep]


def _blocks(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each key's block in ``keys`` sorted ascending (keys in 0..n-1)."""
    count = np.bincount(keys, minlength=n)
    return np.cumsum(count) - count, count


def _within_blocks(keys: np.ndarray, start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with item i of key ``keys[i]`` and j running over that key's block."""
    reps = count[keys]
    i = np.repeat(np.arange(keys.size), reps)
    j = np.repeat(start[keys], reps) + (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps))
    return i, j


def _lot_rows(p: ParkingProblem, comp: np.ndarray, comp_of: np.ndarray, lot: np.ndarray):
    """Slot-capacity rows of the lots, as few as keep the problem the same.

    A lot's row for a group of slots counts the pairs whose window covers
    them, up to its fewest usable spaces there.  At each lot only the windows
    of its own pairs matter: groups with the same windows there merge (the
    smaller bound wins), and a row implied by another (a superset of windows,
    no more spaces) is dropped.  A lot left with one row is a plain capacity:
    when every lot is, the problem is a transportation problem (a min-cost flow).

    Returns
    -------
    pair, row, rhs, row_lot
        Entries (pair index, row id), each row's bound and lot.
    """
    cls_of, cover, slots = _window_classes(p.need[comp])
    pair_cls = cls_of[comp_of]
    lots, lot_of = np.unique(lot, return_inverse=True)
    present = np.zeros((lots.size, cover.shape[1]), dtype=bool)
    present[lot_of, pair_cls] = True
    rhs_lg = np.stack([p.usable[lots][:, s].min(axis=1) for s in slots], axis=1)
    if p.lot_cap is not None:
        rhs_lg = np.minimum(rhs_lg, p.lot_cap[lots, None])
    li, gi = np.nonzero((present[:, None, :] & cover[None, :, :]).any(axis=2))
    keys, key_of = np.unique(np.column_stack([li, present[li] & cover[gi]]), axis=0, return_inverse=True)
    rhs = np.full(keys.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(rhs, key_of.ravel(), rhs_lg[li, gi])
    row_lot, eff = keys[:, 0], keys[:, 1:].astype(bool)
    keep = ~_implied(row_lot, eff, rhs, lots.size)
    row_lot, eff, rhs = row_lot[keep], eff[keep], rhs[keep]
    order = np.argsort(lot_of, kind="stable")
    start, count = _blocks(lot_of[order], lots.size)
    r, k = _within_blocks(row_lot, start, count)
    pair = order[k]
    member = eff[r, pair_cls[pair]]
    return pair[member], r[member], rhs.astype(float), lots[row_lot]


def _implied(row_lot: np.ndarray, eff: np.ndarray, rhs: np.ndarray, n_lots: int) -> np.ndarray:
    """Rows implied by another row of the same lot: a strict superset of windows with no more spaces."""
    start, count = _blocks(row_lot, n_lots)  # rows come sorted by lot from np.unique
    i, j = _within_blocks(row_lot, start, count)
    inside = ~(eff[i] & ~eff[j]).any(axis=1) & (eff[j].sum(axis=1) > eff[i].sum(axis=1))
    out = np.zeros(row_lot.size, dtype=bool)
    out[i[inside & (rhs[j] <= rhs[i])]] = True
    return out


def _build_model(p: ParkingProblem, idx: np.ndarray, bound: np.ndarray) -> tuple[_Model, np.ndarray]:
    """Columns: x (useful pairs), a_r (floor cars), b_r (other cars) of compounds in pairs."""
    res, lot = p.pair_res[idx], p.pair_lot[idx]
    comp, comp_of = np.unique(res, return_inverse=True)
    comp_of = comp_of.ravel()
    n_pairs, n_res = idx.size, comp.size
    ent_c, ent_r, ent_v = [], [], []
    # compound rows: sum_l x - a - b = 0
    ent_c += [np.arange(n_pairs), n_pairs + np.arange(n_res), n_pairs + n_res + np.arange(n_res)]
    ent_r += [comp_of, np.arange(n_res), np.arange(n_res)]
    ent_v += [np.ones(n_pairs), -np.ones(n_res), -np.ones(n_res)]
    pp, rows, rhs, row_lot = _lot_rows(p, comp, comp_of, lot)
    ent_c.append(pp)
    ent_r.append(n_res + rows)
    ent_v.append(np.ones(pp.size))
    upper = [np.zeros(n_res), rhs]
    n_rows = n_res + rhs.size
    capped = _cap_lots(p, row_lot)
    if capped.size:  # a lot with several slot rows needs its cap as a row of its own
        row_of = np.full(p.n_lots, -1, dtype=np.int64)
        row_of[capped] = n_rows + np.arange(capped.size)
        sel = np.flatnonzero(row_of[lot] >= 0)
        ent_c.append(sel)
        ent_r.append(row_of[lot[sel]])
        ent_v.append(np.ones(sel.size))
        assert p.lot_cap is not None  # only capped lots get a row of their own
        upper.append(p.lot_cap[capped].astype(float))
        n_rows += capped.size
    n_cols = n_pairs + 2 * n_res
    mat = sp.csc_matrix((np.concatenate(ent_v), (np.concatenate(ent_r), np.concatenate(ent_c))), shape=(n_rows, n_cols))
    row_upper = np.concatenate(upper)
    row_lower = np.concatenate([np.zeros(n_res), np.full(n_rows - n_res, -np.inf)])
    col_upper = np.concatenate([bound.astype(float), np.zeros(2 * n_res)])
    flow = bool(np.bincount(row_lot).max(initial=0) <= 1)
    pair_row = np.full(n_pairs, -1, dtype=np.int64)
    pair_row[pp] = rows
    model = _Model(mat, row_lower, row_upper, col_upper, n_pairs, n_res, flow, comp_of, pair_row, rhs)
    return model, comp


def _cap_lots(p: ParkingProblem, row_lot: np.ndarray) -> np.ndarray:
    """Capped lots with several slot rows (with one, the cap is already in its bound)."""
    if p.lot_cap is None or row_lot.size == 0:
        return np.empty(0, dtype=np.int64)
    multi = np.flatnonzero(np.bincount(row_lot) > 1)
    return multi[p.lot_cap[multi] < np.iinfo(np.int64).max // 8]


# ------------------------------------------------------------------ solving
def _highs(model: _Model, integer: bool, time_limit: float | None):
    """A silent HiGHS instance holding ``model`` (through :func:`geo.solver.build`)."""
    n_rows, n_cols = model.matrix.shape
    options = (
        {"mip_rel_gap": 0.0, "mip_abs_gap": 0.99}  # objectives are integers: a gap under 1 proves optimality
        if integer
        else {"solver": "simplex"}
    )  # a vertex: integral on the flow structure
    lp = solver.LinearModel(
        cost=np.zeros(n_cols),
        lower=np.zeros(n_cols),
        upper=model.col_upper,
        integer=np.full(n_cols, integer),
        matrix=model.matrix,
        row_lower=model.row_lower,
        row_upper=model.row_upper,
    )  # integer: every column (cars per pair, and the floor / other cars of each compound)
    return solver.build(lp, time_limit=time_limit, options=options)


def _run(h, cost: np.ndarray, name: str, integer: bool) -> dict:
    """Solve one stage (minimise ``cost``); return its record with the solution."""
    solver.set_costs(h, cost)
    started = time.perf_counter()
    res = solver.run(h, is_mip=integer)
    if res.x is None or res.x.size != cost.shape[0]:
        raise RuntimeError(f"HiGHS found no solution in stage '{name}' ({res.status})")
    return {
        "stage": name,
        "objective": float(cost @ res.x),
        "optimal": res.optimal,
        "status": res.status,
        "seconds": time.perf_counter() - started,
        "x": res.x,
    }


def _fix(h, cols: np.ndarray, lower: float) -> None:
    """Add the row ``sum x[cols] >= lower`` (keeps a finished stage's optimum)."""
    solver.add_row(h, float(lower), np.inf, cols)


def _max_flow(model: _Model, demand: np.ndarray) -> dict:
    """The most cars on the flow structure, by a maximum flow (scipy's Dinic).

    Nodes: source, compounds, lot rows, sink; arcs source -> compound (its
    shortfall), compound -> lot row (the pair's bound), lot row -> sink (its spaces).
    """
    from scipy.sparse.csgraph import maximum_flow

    started = time.perf_counter()
    n_r, n_rows = model.n_res, model.row_rhs.size
    sink = n_r + n_rows + 1
    tail = np.concatenate([np.zeros(n_r, np.int64), 1 + model.pair_comp, 1 + n_r + np.arange(n_rows)])
    head = np.concatenate([1 + np.arange(n_r), 1 + n_r + model.pair_row, np.full(n_rows, sink)])
    cap = np.concatenate([demand, model.col_upper[: model.n_pairs], model.row_rhs])
    cap = np.minimum(cap, np.iinfo(np.int32).max).astype(np.int32)
    graph = sp.csr_matrix((cap, (tail, head)), shape=(sink + 1, sink + 1))
    value = int(maximum_flow(graph, 0, sink).flow_value)
    return {
        "stage": "most cars",
        "objective": -float(value),
        "optimal": True,
        "status": "Optimal (maximum flow)",
        "seconds": time.perf_counter() - started,
    }


def _stages(
    h, model: _Model, walk_cost: np.ndarray, floor: np.ndarray, demand: np.ndarray, *, integer: bool
) -> list[dict] | None:
    """Lexicographic stages: floor cars, cars, walking.

    With ``integer`` False every stage is an LP; on a model without the flow
    structure an LP stage whose vertex is not integral ends the run (None):
    only an integral LP optimum is also the MIP's.
    """
    n_p, n_r = model.n_pairs, model.n_res
    n = n_p + 2 * n_r
    a_cols = n_p + np.arange(n_r)
    ab_cols = n_p + np.arange(2 * n_r)
    must_check = not integer and not model.flow
    out = []

    def stage(cost: np.ndarray, name: str) -> bool:
        out.append(_run(h, cost, name, integer))
        return not must_check or _integral(out[-1]["x"])

    if floor.any():
        cost = np.zeros(n)
        cost[a_cols] = -1.0
        if not stage(cost, "most cars within the fairness floors"):
            return None
        _fix(h, a_cols, round(-out[-1]["objective"]))
    if model.flow and not floor.any():  # the flow structure: a maximum flow is the fastest way
        out.append(_max_flow(model, demand))
    else:
        cost = np.zeros(n)
        cost[ab_cols] = -1.0
        if not stage(cost, "most cars"):
            return None
    _fix(h, ab_cols, round(-out[-1]["objective"]))
    if "x" in out[-1] and integer:
        _warm_start(h, out[-1]["x"])
    cost = np.zeros(n)
    cost[:n_p] = walk_cost
    if not stage(cost, "least walking"):
        return None
    return out


def _warm_start(h, x: np.ndarray) -> None:
    """Give the MIP the previous stage's solution: it stays feasible after the new row."""
    solver.warm_start(h, np.rint(x))


def _integral(x: np.ndarray) -> bool:
    return bool(np.all(np.abs(x - np.rint(x)) < 1e-6))


def _solve(p: ParkingProblem, *, fairness: float, time_limit: float | None, force_mip: bool) -> Assignment:
    started = time.perf_counter()
    if not 0.0 <= fairness <= 1.0:
        raise ValueError(f"fairness must be a share between 0 and 1, got {fairness}")
    p.check()
    idx, bound = _useful_pairs(p)
    floor_all = np.floor(fairness * p.demand + 1e-9).astype(np.int64)
    if idx.size == 0:
        return _assemble(p, idx, np.empty(0), floor_all, "none", True, [], started)
    model, comp = _build_model(p, idx, bound)
    floor = floor_all[comp]
    model.col_upper[model.n_pairs : model.n_pairs + model.n_res] = floor
    model.col_upper[model.n_pairs + model.n_res :] = p.demand[comp] - floor
    walk_cost = np.rint(p.pair_walk[idx] / p.walk_resolution_m)
    model.flow = model.flow and not force_mip
    demand = p.demand[comp]
    stages = None
    if model.flow:
        stages = _stages(_highs(model, False, time_limit), model, walk_cost, floor, demand, integer=False)
        method = "min-cost flow (HiGHS LP)"
        if stages is None or not _integral(stages[-1]["x"][: model.n_pairs]):  # never seen; kept as a guard
            model.flow, stages = False, None
    elif not force_mip:  # nested windows keep the matrix totally unimodular: the LP is usually integral
        stages = _stages(_highs(model, False, time_limit), model, walk_cost, floor, demand, integer=False)
        method = LP_METHOD
    if stages is None:
        stages = _stages(_highs(model, True, time_limit), model, walk_cost, floor, demand, integer=True)
        method = "MIP (HiGHS)"
    assert stages is not None  # the MIP always gives its stages
    x = stages[-1]["x"][: model.n_pairs]
    optimal = all(s["optimal"] for s in stages)
    for s in stages:
        s.pop("x", None)
    return _assemble(p, idx, np.rint(x), floor_all, method, optimal, stages, started)


def _assemble(
    p: ParkingProblem,
    idx: np.ndarray,
    x: np.ndarray,
    floor: np.ndarray,
    method: str,
    optimal: bool,
    stages: list[dict],
    started: float,
) -> Assignment:
    cars = np.zeros(p.pair_res.shape[0], dtype=np.int64)
    cars[idx] = x.astype(np.int64)
    placed = np.bincount(p.pair_res, weights=cars, minlength=p.n_res).astype(np.int64)
    used = np.zeros_like(p.usable)
    nz = np.flatnonzero(cars)
    np.add.at(used, p.pair_lot[nz], p.need[p.pair_res[nz]] * cars[nz, None])
    total = float(cars @ p.pair_walk) if cars.size else 0.0
    return Assignment(cars, placed, used, floor, method, optimal, stages, total, time.perf_counter() - started)
