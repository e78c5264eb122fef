"""``lifecircle site``: where to put new micro-stations, with the existing stations kept.

::

    lifecircle site --network NET --facilities F --candidates C --demand D --radius 1000
                    --add K [--method greedy|exact] [--time-limit S] --out SITES.geojson [--summary S.json]

``--demo`` stands in for any input not given; ``--candidate-spacing M``
generates candidates on a grid instead of ``--candidates``; ``--lscp`` asks for
the fewest sites covering everyone coverable instead of ``--add K``.

``--add 0`` is refused (exit 2, "nothing to add"): a planner who wants the
current coverage runs ``lifecircle coverage``.
"""

from __future__ import annotations

import argparse
import time

from lifecircle.geo import settings

from .base import (
    Inputs,
    Reporter,
    UsageError,
    add_common,
    add_kinds,
    add_snap_limit,
    check_output,
    check_positive,
    kind_registry,
    warn_unreachable,
)
from .outputs import Outputs

__all__ = ["register", "cmd_site", "check_args", "station_kinds", "DEFAULT_STATION_KINDS"]

DEFAULT_STATION_KINDS = settings.DEFAULT_STATION_KINDS


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``site`` sub-command to the CLI's parser."""
    radius, limit = settings.DEFAULT_RADIUS_M, settings.DEFAULT_TIME_LIMIT_S
    min_dist = settings.DEFAULT_CANDIDATE_MIN_DISTANCE_M
    p = sub.add_parser("site", help="site new micro-stations (MCLP, or LSCP with --lscp), existing stations kept")
    p.add_argument("--network", help="network: .lcnet, .graphml, .osm or .osm.pbf")
    p.add_argument(
        "--facilities", help="facilities file (id, kind, lon/lat); those of --station-kinds are the existing stations"
    )
    p.add_argument("--candidates", help="candidate sites file (id, name, lon/lat)")
    p.add_argument("--demand", help="demand: points or polygons with population (人口)")
    p.add_argument(
        "--count-rows",
        action="store_true",
        help="count each demand row as one resident when the file has no population column",
    )
    p.add_argument("--units", help="boundary polygons (街道/社区): the study area for --candidate-spacing")
    p.add_argument(
        "--radius", type=float, default=radius, help=f"service radius in metres of walk (default {radius:g})"
    )
    p.add_argument("--add", type=int, default=None, metavar="K", help="number of new stations to site (1 or more)")
    p.add_argument(
        "--lscp", action="store_true", help="find the fewest new stations covering all coverable demand (no --add)"
    )
    p.add_argument(
        "--method",
        choices=("greedy", "exact"),
        default="exact",
        help="exact: a MIP solved by HiGHS, optimality proven within --time-limit (default); "
        "greedy: lazy greedy + swap improvement seeded by a Lagrangian relaxation, about a second, "
        "with the gap its bound proves",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=limit,
        metavar="S",
        help=f"seconds the exact method may run (default {limit:g}); the best solution found is kept",
    )
    p.add_argument(
        "--capacity", type=float, default=None, help="people one new station serves at most (default: no limit)"
    )
    p.add_argument(
        "--station-kinds",
        default=DEFAULT_STATION_KINDS,
        help=f"facility kinds that count as existing stations when the file has kinds (default {DEFAULT_STATION_KINDS})",
    )
    p.add_argument(
        "--candidate-spacing",
        type=float,
        default=None,
        metavar="M",
        help="generate candidates: network nodes nearest a grid of this spacing in the study area "
        "(the demand's convex hull, or --units)",
    )
    p.add_argument(
        "--candidate-min-distance",
        type=float,
        default=min_dist,
        metavar="M",
        help=f"generated candidates closer than this (m of walk) to an existing station are left out (default {min_dist:g})",
    )
    add_snap_limit(p)
    add_kinds(p, example="")
    p.add_argument("--out", required=True, help="sites GeoJSON to write (id, name, rank, gain, lon, lat)")
    p.add_argument("--summary", help="summary JSON to write")
    add_common(p)
    p.set_defaults(
        handler=cmd_site, inputs=("network", "facilities", "candidates", "demand", "units"), outputs=("out", "summary")
    )


# ------------------------------------------------------------------ checks
def check_args(args: argparse.Namespace) -> None:
    """Refuse a bad command line before reading or computing anything."""
    check_output(args.out, "--out", (".geojson", ".json"))
    check_output(args.summary, "--summary", (".json",))
    if not args.radius > 0:
        raise UsageError(f"--radius {args.radius:g}: the service radius must be a positive number of metres")
    if args.lscp and args.add is not None:
        raise UsageError("--lscp finds the number of new stations itself: leave out --add")
    if not args.lscp and args.add is None:
        raise UsageError(
            "give --add K, the number of new stations to site, or --lscp for the fewest that cover everyone"
        )
    if args.add is not None and args.add == 0:
        raise UsageError(
            "--add 0: nothing to add. Give the number of new stations to site (1 or more); "
            "to see the current coverage run `lifecircle coverage`, for the fewest stations that cover everyone use --lscp"
        )
    if args.add is not None and args.add < 0:
        raise UsageError(f"--add {args.add}: the number of new stations cannot be negative")
    if not args.time_limit > 0:
        raise UsageError(f"--time-limit {args.time_limit:g}: give a positive number of seconds")
    if args.capacity is not None and not args.capacity > 0:
        raise UsageError(f"--capacity {args.capacity:g}: give a positive number of people")
    if args.candidate_spacing is not None and not args.candidate_spacing > 0:
        raise UsageError(f"--candidate-spacing {args.candidate_spacing:g}: give a positive number of metres")
    check_positive(args, "--candidate-min-distance", "metres of walk", allow_zero=True)
    check_positive(args, "--snap-limit", "metres from a walkable street", allow_zero=True)
    if args.candidates and args.candidate_spacing is not None:
        raise UsageError("give either --candidates FILE or --candidate-spacing METRES, not both")


def station_kinds(args: argparse.Namespace) -> list[str]:
    """The --station-kinds as registry keys."""
    registry = kind_registry(args)
    kinds = []
    for text in args.station_kinds.split(","):
        key = registry.resolve(text.strip()) if text.strip() else None
        if key is None:
            known = ", ".join(k.key for k in registry)
            raise UsageError(f"--station-kinds: unknown kind {text.strip()!r}; known kinds are {known}")
        kinds.append(key)
    return kinds


# ------------------------------------------------------------------ inputs
class SiteInputs(Inputs):
    """The inputs of ``site``: facilities may lack kinds, candidates may be generated."""

    def facilities(self):
        from lifecircle.geo import io

        if self.args.facilities:
            return io.read_points(
                self.args.facilities,
                role="facilities",
                crs=self.args.crs,
                kinds=kind_registry(self.args),
                kinds_default="micro_station",
            )
        if self.args.demo:
            return self.demo.facilities
        raise UsageError("give --facilities FILE (the existing stations), or --demo")

    def candidates(self):
        """The candidate layer, or None when it is to be generated."""
        from lifecircle.geo import io

        if self.args.candidates:
            return io.read_points(self.args.candidates, role="candidates", crs=self.args.crs)
        if self.args.candidate_spacing is not None:
            return None
        if self.args.demo:
            return self.demo.candidates
        raise UsageError("give --candidates FILE, or --candidate-spacing METRES to generate them on a grid, or --demo")


# ----------------------------------------------------------------- command
def cmd_site(args: argparse.Namespace) -> int:
    """Run ``lifecircle site``."""
    from lifecircle.geo import siting

    rep = Reporter(args.quiet)
    check_args(args)
    kinds = station_kinds(args)
    inputs = SiteInputs(args, rep)
    facilities = inputs.facilities()
    candidates = inputs.candidates()
    demand = inputs.demand()
    _check_counts(args, candidates, demand)
    units = inputs.units() if args.units else None
    net = inputs.network()
    if candidates is not None and len(candidates):
        _check_candidates_reach(net, candidates, args)
    started = time.perf_counter()
    plan = siting.plan_sites(
        net,
        facilities,
        demand,
        candidates=candidates,
        radius=args.radius,
        k=None if args.lscp else args.add,
        lscp=args.lscp,
        method=args.method,
        time_limit=args.time_limit,
        capacity=args.capacity,
        station_kinds=kinds,
        candidate_spacing=args.candidate_spacing,
        candidate_area=units,
        candidate_min_distance=args.candidate_min_distance,
        snap_limit_m=args.snap_limit,
        progress=rep.progress("candidate searches"),
    )
    _warn(rep, args, plan)
    summary = plan.summary()
    summary["network"] = net.name or net.source
    summary["station_kinds"] = kinds
    summary["elapsed_s"] = round(time.perf_counter() - started, 3)
    written = _write(args, plan, summary)
    _headline(rep, summary)
    rep.note("wrote " + ", ".join(str(p) for p in written))
    return 0


def _check_candidates_reach(net, candidates, args: argparse.Namespace) -> None:
    """All candidates off the network: name the file and the first rows, before the searches."""
    import numpy as np
    import shapely

    from lifecircle.geo import io
    from lifecircle.geo.network import snap_xy

    layer = candidates.set_crs("EPSG:4326") if candidates.crs is None else candidates
    xy = shapely.get_coordinates(layer.to_crs(net.crs).geometry.values)
    if len(xy) != len(candidates) or np.asarray(snap_xy(net, xy, limit_m=args.snap_limit).reachable).any():
        return
    rows = io.source_rows(candidates)  # the file row of each candidate, or None
    label = candidates.attrs.get("row_label", "row")
    first = ", ".join(
        f"id {candidates['id'].iloc[i]}" + (f" ({label} {rows[i]})" if rows is not None else "")
        for i in range(min(3, len(candidates)))
    )
    raise io.InputError(
        args.candidates or "demo candidates",
        f"all {len(candidates)} candidate sites are unreachable: none lies within {args.snap_limit:g} m of the walking network "
        f"(first: {first}); check --crs and that the network covers them",
        row=rows[0] if rows is not None else None,
        row_label=label,
    )


def _check_counts(args: argparse.Namespace, candidates, demand) -> None:
    """Fail before the network work on an empty demand or too few candidates in the file."""
    where = args.demand or "demo demand"
    if len(demand) == 0:
        raise UsageError(f"{where}: no demand: the file has no rows")
    if candidates is not None and not args.lscp and args.add > len(candidates):
        raise UsageError(
            f"--add {args.add}: there are only {len(candidates)} candidate sites in {args.candidates or 'the demo'}; "
            "ask for fewer new stations or give more candidates"
        )


def _warn(rep: Reporter, args: argparse.Namespace, plan) -> None:
    warn_unreachable(rep, "demand units", plan.demand, _unit_reachable(plan), args.demand)
    unreachable = plan.excluded.get("unreachable", [])
    if unreachable:
        more = f" and {len(unreachable) - 5} more" if len(unreachable) > 5 else ""
        rep.note(
            f"warning: {len(unreachable)} candidate sites are beyond the snapping limit and were left out: "
            f"{', '.join(unreachable[:5])}{more}"
        )
    same = plan.excluded.get("existing_station", [])
    if same:
        rep.note(f"note: {len(same)} candidate sites are existing stations and were left out: {', '.join(same[:5])}")


def _unit_reachable(plan):
    import numpy as np

    s = plan.samples
    return np.bincount(s.unit, weights=s.reachable.astype(float), minlength=s.n_units) > 0


def _write(args: argparse.Namespace, plan, summary: dict) -> list:
    import numpy as np

    sites = plan.sites()
    if args.out_crs == "gcj02" and len(sites):
        import shapely

        from lifecircle.geo.crs import wgs84_to_gcj02

        xy = shapely.get_coordinates(sites.geometry.values)
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        sites["lon"], sites["lat"] = np.round(lon, 7), np.round(lat, 7)
    meta = {
        "radius_m": plan.radius,
        "model": summary["model"],
        "method": summary["method"],
        "optimal": summary["optimal"],
        "network": summary["network"],
    }
    with Outputs() as out:
        out.geojson(sites, args.out, out_crs=args.out_crs, metadata=meta)
        if args.summary:
            out.json(summary, args.summary)
    return out.written


def _headline(rep: Reporter, summary: dict) -> None:
    total = summary["total_weight"] or 1.0
    if summary["optimal"]:
        proof = "proven optimal"
    elif summary["gap"] is not None:
        proof = f"at most {summary['gap']:.2%} below the optimum"
    else:
        proof = "no optimality proof"
    rep.note(
        f"{summary['model'].upper()} by {summary['method']} ({proof}, {summary['runtime_s']:.2f} s): "
        f"{len(summary['chosen'])} new sites within {summary['radius_m']:g} m"
    )
    rep.note(
        f"covered {summary['covered_before']:,.0f} -> {summary['covered_after']:,.0f} of {total:,.0f} "
        f"({summary['share_before']:.1%} -> {summary['share_after']:.1%}); "
        f"{len(summary['unserved_units'])} demand units still unserved"
    )
    if summary.get("note"):
        rep.note("note: " + summary["note"])
