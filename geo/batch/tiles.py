"""Exact tiles for one large area: each tile computes its core, the stitch equals one run.

The demand units are assigned to a near-square grid of tiles by their
representative point.  A tile's task cuts the network to the edges meeting the
box of its units' geometries grown by the halo (largest tier plus snapping
limit, plus 1 m), keeps the facilities in that box, and runs
:func:`lifecircle.geo.coverage.compute_coverage` on them.  Why this is exact:
a unit is covered by a walk of at most the largest tier (the straight joins to
the street count as walking), so the walk, its end and every street nearer to
the facility than the street it joins lie within tier + snapping limit of the
unit's samples; the cut keeps those streets whole and in order, so the
samples, their joins and their distances are those of the whole network.

:func:`stitch_hook` gives the ``coverage`` command a compute function that
assembles the tiles' samples and distances into one
:class:`~lifecircle.geo.coverage.CoverageResult` on the whole network; the
command then writes its files exactly as for a one-process run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..standards import parse_tiers

__all__ = ["grid_shape", "assign_tiles", "compute_tile", "tile_task", "stitch", "stitch_hook"]


def grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns of a near-square grid of ``n`` tiles."""
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def assign_tiles(net, demand, n: int) -> np.ndarray:
    """Tile index (0..n-1) of each demand unit, by its representative point on a grid."""
    import shapely

    pts = shapely.get_coordinates(shapely.point_on_surface(demand.geometry.to_crs(net.crs).values))
    rows, cols = grid_shape(n)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    c = np.minimum((cols * (pts[:, 0] - lo[0]) / span[0]).astype(int), cols - 1)
    r = np.minimum((rows * (pts[:, 1] - lo[1]) / span[1]).astype(int), rows - 1)
    return np.minimum(r * cols + c, n - 1)


def compute_tile(net, facilities, demand, *, tiers, snap_limit_m: float, n_tiles: int, index: int) -> dict[str, Any]:
    """Coverage of the demand units of tile ``index`` on the tile's cut of the network.

    Returns
    -------
    dict
        ``units`` (indices into ``demand``), per sample ``unit``, ``weight``, ``xy``,
        ``edge`` (whole-network edge index, -1 unreachable), ``offset``, ``gap``,
        ``snap_xy``, and ``dist`` ``{kind or "any": distances}``.
    """
    import shapely

    from ..coverage import ANY, compute_coverage
    from .cut import cut_network

    tiers = parse_tiers(tiers)
    kinds = list(dict.fromkeys(facilities["kind"].astype(str))) if len(facilities) else []
    mine = np.flatnonzero(assign_tiles(net, demand, n_tiles) == index)
    empty = {
        "units": mine,
        "unit": np.empty(0, np.int64),
        "weight": np.empty(0),
        "xy": np.empty((0, 2)),
        "edge": np.empty(0, np.int64),
        "offset": np.empty(0),
        "gap": np.empty(0),
        "snap_xy": np.empty((0, 2)),
        "dist": {k: np.empty(0) for k in [*kinds, ANY]},
    }
    if mine.size == 0:
        return empty
    sub_demand = demand.iloc[mine]
    halo = tiers[-1] + float(snap_limit_m) + 1.0
    x0, y0, x1, y1 = sub_demand.geometry.to_crs(net.crs).total_bounds
    region = shapely.box(x0 - halo, y0 - halo, x1 + halo, y1 + halo)
    sub, edges = cut_network(net, region, return_edges=True)
    fxy = shapely.get_coordinates(facilities.geometry.to_crs(net.crs).values)
    inside = shapely.contains_xy(region, fxy[:, 0], fxy[:, 1]) if len(facilities) else np.zeros(0, bool)
    result = compute_coverage(sub, facilities[inside], sub_demand, tiers=tiers, kinds=kinds, snap_limit_m=snap_limit_m)
    s = result.samples
    edge = np.where(s.snapped.edge >= 0, edges[np.maximum(s.snapped.edge, 0)], -1)
    return {
        "units": mine,
        "unit": mine[s.unit],
        "weight": s.weight,
        "xy": s.xy,
        "edge": edge,
        "offset": s.snapped.offset,
        "gap": s.snapped.gap,
        "snap_xy": s.snapped.xy,
        "dist": {k: v for k, v in result.sample_dist.items()},
    }


def _cli_inputs(argv: list[str]):
    """Parse a ``coverage`` command line and read its inputs with the command's own readers."""
    from lifecircle.apps import cli

    try:
        from lifecircle.apps.cli import base
    except ImportError:  # the single-module CLI
        base = cli
    from ..crs import parse_crs

    parser = cli.build_parser()
    args = parser.parse_args(argv)
    args.crs = parse_crs(args.crs)
    rep = base.Reporter(True)
    try:  # the coverage command reads through scenario_inputs (plain Inputs without --scenario)
        from lifecircle.apps.cli.scenarios import scenario_inputs

        inputs = scenario_inputs(args, rep)
    except ImportError:
        inputs = base.Inputs(args, rep)
    facilities = inputs.points("facilities", "facilities", "facilities", kinds=base.kind_registry(args))
    demand = inputs.demand()
    net = inputs.network()
    return args, net, facilities, demand, base.parse_tiers(args)


def tile_task(job, index: int) -> dict[str, Any]:
    """A Dask task: read the area's inputs as ``lifecircle coverage`` does and compute tile ``index``."""
    import time

    started = time.perf_counter()
    argv = [a.replace("{network}", job.files["network"]).replace("{out}", "/nonexistent") for a in job.argv]
    try:
        args, net, facilities, demand, tiers = _cli_inputs(argv)
    except (Exception, SystemExit):  # noqa: BLE001 - the stitch task reads the same inputs and reports the error
        return {"error": True}
    part = compute_tile(
        net, facilities, demand, tiers=tiers, snap_limit_m=args.snap_limit, n_tiles=job.tiles, index=index
    )
    part["seconds"] = time.perf_counter() - started
    from .worker import _event

    _event(job.name, f"tile {index + 1} of {job.tiles}: {part['units'].size:,} demand units in {part['seconds']:.1f} s")
    return part


def stitch(parts: list[dict], net, facilities, demand, *, tiers, snap_limit_m: float):
    """Assemble tiles' parts into the :class:`CoverageResult` of the whole area."""
    from ..coverage import ANY, CoverageResult, DemandSamples, snap_facilities
    from ..network import Snapped

    tiers = parse_tiers(tiers)
    kinds = list(dict.fromkeys(facilities["kind"].astype(str))) if len(facilities) else []
    unit = np.concatenate([p["unit"] for p in parts]).astype(np.int64)
    order = np.argsort(unit, kind="stable")

    def cat(key: str, shape2: bool = False) -> np.ndarray:
        arr = np.concatenate([p[key] for p in parts])
        return arr.reshape(-1, 2)[order] if shape2 else arr[order]

    snapped = Snapped(cat("edge").astype(np.int64), cat("offset"), cat("gap"), cat("snap_xy", True))
    samples = DemandSamples(unit[order], cat("weight"), cat("xy", True), snapped, len(demand))
    dist = {k: np.concatenate([p["dist"][k] for p in parts])[order] for k in [*kinds, ANY]}
    fsnap, _ = snap_facilities(net, facilities, snap_limit_m=snap_limit_m)
    kind_arr = facilities["kind"].astype(str).to_numpy() if len(facilities) else np.array([], dtype=str)
    counts = {k: int((kind_arr == k).sum()) for k in kinds}
    unreachable = facilities["id"].astype(str).to_numpy()[~fsnap.reachable].tolist() if len(facilities) else []
    return CoverageResult(net, demand.reset_index(drop=True), samples, tiers, kinds, dist, counts, unreachable)


def stitch_hook(parts: list[dict]) -> Callable:
    """A ``compute_coverage`` stand-in for the ``coverage`` command that stitches ``parts``."""

    def compute(net, facilities, demand, *, tiers, snap_limit_m, **_ignored):
        if any(p.get("error") for p in parts):
            from ..coverage import compute_coverage

            return compute_coverage(net, facilities, demand, tiers=tiers, snap_limit_m=snap_limit_m)
        return stitch(parts, net, facilities, demand, tiers=tiers, snap_limit_m=snap_limit_m)

    return compute
