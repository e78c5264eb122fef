"""``lifecircle coverage``: coverage of demand per facility kind and tier, and the gaps."""

from __future__ import annotations

import argparse
import gc
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

from .base import (
    Reporter,
    UsageError,
    add_common,
    add_tiers,
    check_output,
    check_positive,
    kind_registry,
    parse_tiers,
    warn_unreachable,
)
from .outputs import Outputs
from .scenarios import add_scenario_option, scenario_inputs

__all__ = ["register", "cmd_coverage"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``coverage`` sub-command."""
    p = sub.add_parser("coverage", help="coverage of demand per facility kind and tier, and the gaps")
    p.add_argument("--network", help="network: .lcnet, .graphml, .osm or .osm.pbf")
    p.add_argument("--facilities", help="facilities file (id, kind, lon/lat or point geometry)")
    p.add_argument("--demand", help="demand: points or polygons with population (人口)")
    p.add_argument(
        "--count-rows",
        action="store_true",
        help="count each demand row as one resident when the file has no population column",
    )
    p.add_argument("--units", help="boundary polygons (街道/社区) to summarise coverage by")
    p.add_argument(
        "--out",
        required=True,
        help="coverage layer to write, one feature per demand unit: .geojson, .gpkg or .parquet (GeoParquet, needs pyarrow)",
    )
    p.add_argument("--summary", help="summary JSON to write")
    p.add_argument("--gaps", help="gap polygons GeoJSON to write, ranked by unserved population")
    p.add_argument("--gap-kind", default="any", help="facility kind whose gaps to find (default any)")
    p.add_argument(
        "--gap-tier", type=float, default=None, help="tier in metres for the gaps, one of --tiers (default the largest)"
    )
    add_scenario_option(p)
    add_tiers(p)
    add_common(p)
    p.set_defaults(
        handler=cmd_coverage, inputs=("network", "facilities", "demand", "units"), outputs=("out", "summary", "gaps")
    )


def _check_gap_tier(args: argparse.Namespace, tiers) -> None:
    if args.gap_tier is None:
        return
    if not any(abs(args.gap_tier - t) < 1e-9 for t in tiers):
        raise UsageError(
            f"--gap-tier {args.gap_tier:g}: not one of the tiers ({', '.join(f'{t:g}' for t in tiers)} m); "
            "give one of them, or add it to --tiers"
        )


def cmd_coverage(args: argparse.Namespace) -> int:
    """Run ``lifecircle coverage``."""
    from lifecircle.geo import coverage

    rep = Reporter(args.quiet)
    layers = (".geojson", ".json", ".gpkg", ".parquet", ".geoparquet")  # GeoPackage / GeoParquet by extension
    check_output(args.out, "--out", layers)
    check_output(args.summary, "--summary", (".json",))
    check_output(args.gaps, "--gaps", layers)
    inputs = scenario_inputs(args, rep)  # --scenario P.toml:NAME: the project's files and tiers, the scenario applied
    tiers = parse_tiers(args)
    check_positive(args, "--snap-limit", "metres from a walkable street", allow_zero=True)
    _check_gap_tier(args, tiers)
    registry = kind_registry(args)
    # two cores: the network (and its snapping index) loads while the tables are read, and the gaps are
    # traced while the per-resident layer is written; every error still surfaces here, in the same order
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=1, thread_name_prefix="coverage") as pool:
        # only a network file loads in the background (the demo is built once, by the main thread)
        network = pool.submit(_network, inputs) if getattr(args, "network", None) else None
        facilities = inputs.points("facilities", "facilities", "facilities", kinds=registry)
        demand = inputs.demand()
        units = inputs.units()
        # the inputs live until the end: out of the collector's sight, full collections no longer
        # walk a million residents' points (0.5 s of collections in a city's run); given back to it
        # when the command ends (a batch worker runs many commands in one process), and left alone
        # when something else froze objects already
        if gc.get_freeze_count() == 0:
            gc.freeze()
            stack.callback(gc.unfreeze)
        net = network.result() if network is not None else _network(inputs)
        # geo.batch's tiles hand in a stitching stand-in here; the files below are written the same way
        compute = getattr(args, "compute_coverage", None) or coverage.compute_coverage
        result = compute(net, facilities, demand, tiers=tiers, snap_limit_m=args.snap_limit)
        # everything is joined: the snapping index (a few hundred MB for a city) makes room for the gaps' grids
        net.release_segment_index()
        _return_freed_memory()
        off_network = set(result.unreachable_facilities)
        reachable = ~facilities["id"].astype(str).isin(off_network).to_numpy()
        warn_unreachable(rep, "facilities", facilities, reachable, args.facilities)
        warn_unreachable(rep, "demand units", demand, result.unit_reachable(), args.demand)
        if args.gap_kind != coverage.ANY and args.gap_kind not in result.kinds:
            raise UsageError(
                f"--gap-kind {args.gap_kind}: no facility of that kind; kinds here: {', '.join(result.kinds)}"
            )

        pending = pool.submit(result.gaps, args.gap_kind, args.gap_tier) if args.gaps else None
        # the 社区 summary after the gaps on the second core, while this one writes the residents
        unit_rows = pool.submit(_units_summary_of, result, units) if units is not None else None
        summary = result.summary()
        summary["network"] = net.name or net.source
        per_unit = result.to_geodataframe()
        meta = {"tiers_m": list(tiers), "network": net.name or net.source}
        with Outputs() as out:
            out.geojson(per_unit, args.out, out_crs=args.out_crs, metadata=meta)
            del per_unit
            if unit_rows is not None:
                summary["units"] = unit_rows.result()
            if pending is not None:
                gaps = pending.result()
                summary["gaps"] = {
                    "kind": args.gap_kind,
                    "tier_m": float(args.gap_tier or tiers[-1]),
                    "count": len(gaps),
                    "unserved_weight": float(gaps["unserved_weight"].sum()) if len(gaps) else 0.0,
                }
                out.geojson(gaps, args.gaps, out_crs=args.out_crs, metadata=meta)
            if args.summary:
                out.json(summary, args.summary)
    _print_headline(rep, summary, tiers)
    rep.note("wrote " + ", ".join(str(p) for p in out.written))
    return 0


def _network(inputs):
    """The network, with its snapping index built (a background task of :func:`cmd_coverage`)."""
    net = inputs.network()
    if getattr(net, "n_edges", 0):
        net.segment_index  # noqa: B018 (a cached property: built here, off the main thread)
    return net


def _return_freed_memory() -> None:
    """Hand the pages the allocator keeps free back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Each thread that snapped, searched or built the index allocated from its own arena, and an
    arena keeps the holes its freed arrays leave: about 200 MB of a city's run that the gaps'
    grids and the writer's chunks would otherwise take on top (peak RSS 1,535 -> 1,330 MiB).
    """
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):  # not glibc
        return
    trim(0)


def _units_summary_of(result, units) -> list[dict]:
    """:func:`_units_summary` of ``result.by_unit(units)`` (a task beside the writer)."""
    return _units_summary(result.by_unit(units), result)


def _units_summary(by_unit, result) -> list[dict]:
    from lifecircle.geo.coverage import ANY, tier_key

    rows = []
    for rec in by_unit.drop(columns="geometry").to_dict("records"):
        covered = {}
        for kind in [*result.kinds, ANY]:
            covered[kind] = {
                tier_key(t): {
                    "weight": rec[f"covered_{kind}_{tier_key(t)}"],
                    "share": rec[f"share_{kind}_{tier_key(t)}"],
                }
                for t in result.tiers
            }
        rows.append(
            {"id": rec["id"], "name": rec["name"], "weight": round(float(rec["weight"]), 3), "covered": covered}
        )
    return rows


def _print_headline(rep: Reporter, summary: dict, tiers) -> None:
    from lifecircle.geo.coverage import tier_key

    total = summary["total_weight"]
    rep.note(f"demand {total:,.0f} (unreachable {summary['unreachable_weight']:,.0f})")
    for kind, per_tier in summary["covered"].items():
        cells = "  ".join(f"{tier_key(t)} m: {per_tier[tier_key(t)]['share']:6.1%}" for t in tiers)
        rep.note(f"  {kind:<14} {cells}")
