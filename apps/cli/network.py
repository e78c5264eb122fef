"""``lifecircle network``: build a walking network and cache it as a ``.lcnet`` file."""

from __future__ import annotations

import argparse
import time

from .base import Reporter, UsageError, add_common, check_output

__all__ = ["register", "cmd_network"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``network`` sub-command."""
    p = sub.add_parser(
        "network",
        help="build and cache a walking network",
        description="Build the walking network of a place, a box or a local OSM file and save it as .lcnet.",
    )
    p.add_argument("--place", help="place name for osmnx (needs internet), e.g. '福田区, 深圳市'")
    p.add_argument("--bbox", help="west,south,east,north in WGS84 (needs internet)")
    p.add_argument("--osm", help="local .osm, .osm.pbf or osmnx .graphml file")
    p.add_argument("--out", required=True, help="the network file to write (.lcnet)")
    add_common(p, crs=False)
    p.set_defaults(handler=cmd_network, inputs=("osm",), outputs=("out",))


def cmd_network(args: argparse.Namespace) -> int:
    """Run ``lifecircle network``."""
    from lifecircle.geo import network

    from .base import demo_network

    rep = Reporter(args.quiet)
    check_output(args.out, "--out", (network.NETWORK_SUFFIX,))
    chosen = [x for x in (args.place, args.bbox, args.osm, args.demo or None) if x]
    if len(chosen) != 1:
        raise UsageError("give exactly one of --place TEXT, --bbox W,S,E,N, --osm FILE or --demo")
    bbox = None
    if args.bbox:
        try:
            bbox = tuple(float(v) for v in args.bbox.split(","))
        except ValueError:
            raise UsageError(f"--bbox {args.bbox}: give four numbers west,south,east,north") from None
        if len(bbox) != 4:
            raise UsageError(f"--bbox {args.bbox}: give four numbers west,south,east,north")
    started = time.perf_counter()
    if args.place:
        rep.note(f"downloading the walking network of {args.place!r} through osmnx ...")
        net = network.from_place(args.place)
    elif bbox is not None:
        rep.note(f"downloading the walking network in {bbox} through osmnx ...")
        net = network.from_bbox(bbox)
    elif args.osm:
        net = network.load_network(args.osm, use_cache=False, progress=rep.note)
    else:
        net = demo_network()
    path = net.save(args.out, derived=True)  # the strokes and faces too: every areas run and server start reads them
    rep.note(
        f"wrote {path}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, "
        f"{net.edge_length.sum() / 1000:,.1f} km of walkable street, {net.crs} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0
