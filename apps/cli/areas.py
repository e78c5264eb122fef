"""``lifecircle areas``: service-area polygons per facility and tier."""

from __future__ import annotations

import argparse

from lifecircle.geo import settings

from .base import (
    Inputs,
    Reporter,
    UsageError,
    add_common,
    add_tiers,
    check_output,
    kind_registry,
    parse_tiers,
    warn_unreachable,
)

__all__ = ["register", "cmd_areas", "check_buffer"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``areas`` sub-command."""
    p = sub.add_parser("areas", help="service-area polygons per facility and tier")
    p.add_argument("--network", help="network: .lcnet, .graphml, .osm or .osm.pbf")
    p.add_argument("--facilities", help="facilities file (id, kind, lon/lat or point geometry)")
    p.add_argument(
        "--buffer",
        type=float,
        default=settings.DEFAULT_BUFFER_M,
        help=f"band around reached streets in metres (default {settings.DEFAULT_BUFFER_M:g}, "
        f"at most {settings.MAX_BUFFER_M:g})",
    )
    p.add_argument("--out", required=True, help="service areas GeoJSON to write")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes drawing the polygons (default: the cores, at most 4, for 200 or more facilities)",
    )
    add_tiers(p)
    add_common(p)
    p.set_defaults(handler=cmd_areas, inputs=("network", "facilities"), outputs=("out",))


def check_buffer(args: argparse.Namespace) -> None:
    """``--buffer`` must be in (0, MAX_BUFFER_M]."""
    from .base import check_positive

    check_positive(args, "--buffer", "metres of band around the reached streets", upper=settings.MAX_BUFFER_M)


def cmd_areas(args: argparse.Namespace) -> int:
    """Run ``lifecircle areas``."""
    from lifecircle.geo import io, reach

    from .base import check_positive

    rep = Reporter(args.quiet)
    check_output(args.out, "--out", (".geojson", ".json"))
    tiers = parse_tiers(args)
    check_buffer(args)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give 1 or more processes")
    check_positive(args, "--snap-limit", "metres from a walkable street", allow_zero=True)
    registry = kind_registry(args)
    inputs = Inputs(args, rep)
    facilities = inputs.points("facilities", "facilities", "facilities", kinds=registry)
    net = inputs.network()
    areas = reach.facility_service_areas(
        net,
        facilities,
        tiers,
        buffer_m=args.buffer,
        snap_limit_m=args.snap_limit,
        workers=args.workers,
        progress=rep.progress("service areas"),
    )
    reachable = ~facilities["id"].astype(str).isin(areas.attrs["unreachable"]).to_numpy()
    warn_unreachable(rep, "facilities", facilities, reachable, args.facilities)
    meta = {"tiers_m": list(tiers), "buffer_m": args.buffer, "network": net.name or net.source}
    path = io.write_geojson(areas, args.out, out_crs=args.out_crs, metadata=meta)
    rep.note(
        f"wrote {path}: {len(areas)} service areas for {reachable.sum()} facilities and tiers {', '.join(f'{t:g} m' for t in tiers)}"
    )
    return 0
