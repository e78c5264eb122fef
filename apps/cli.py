"""The ``lifecircle`` command line.

Every command reads planners' files (CSV, XLSX, GeoJSON, GPKG, SHP), checks
them, computes on the walking network and writes its outputs atomically.  Bad
input ends with one message naming the file, row and column, and exit code 2;
nothing half-written is left behind.  ``--demo`` stands in for any input file
with the generated demo district.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

EXIT_BAD_INPUT = 2

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


class UsageError(Exception):
    """A problem with the command line itself (exit 2)."""


def command(name: str):
    """Register a command handler."""

    def wrap(fn):
        COMMANDS[name] = fn
        return fn

    return wrap


# ----------------------------------------------------------------- output
class Reporter:
    """Progress and notes on stderr, so stdout stays clean for scripts."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._tty = sys.stderr.isatty()
        self._last = 0.0

    def note(self, text: str) -> None:
        """Print a line."""
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def progress(self, label: str) -> Callable[[int, int], None]:
        """Return a (done, total) callback that prints at most a few times a second."""

        def update(done: int, total: int) -> None:
            now = time.perf_counter()
            if self.quiet or (done < total and now - self._last < 0.5):
                return
            self._last = now
            end = "\n" if done >= total or not self._tty else "\r"
            print(f"{label}: {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)

        return update


# ------------------------------------------------------------------ inputs
@dataclass
class Inputs:
    """What a command reads: files named on the command line, or the demo's."""

    args: argparse.Namespace
    reporter: Reporter

    @property
    def demo(self):
        from lifecircle.geo import demo

        return demo.build_demo()

    def network(self):
        from lifecircle.geo import network

        if self.args.network:
            return network.load_network(self.args.network, progress=self.reporter.note)
        if self.args.demo:
            return demo_network()
        raise UsageError("give --network FILE (a .lcnet, .graphml, .osm or .osm.pbf), or --demo")

    def points(self, option: str, role: str, demo_attr: str, *, kinds=None):
        from lifecircle.geo import io

        path = getattr(self.args, option, None)
        if path:
            return io.read_points(path, role=role, crs=self.args.crs, kinds=kinds)
        if self.args.demo:
            return getattr(self.demo, demo_attr)
        raise UsageError(f"give --{option.replace('_', '-')} FILE, or --demo")

    def demand(self):
        from lifecircle.geo import io

        if self.args.demand:
            return io.read_demand(self.args.demand, crs=self.args.crs)
        if self.args.demo:
            return self.demo.demand.rename(columns={"population": "weight"}) if "weight" not in self.demo.demand else self.demo.demand
        raise UsageError("give --demand FILE, or --demo")

    def units(self):
        from lifecircle.geo import io

        if getattr(self.args, "units", None):
            return io.read_boundaries(self.args.units, crs=self.args.crs)
        if self.args.demo:
            return self.demo.communities
        return None


def demo_network():
    """The demo district's walking network (built once, then cached)."""
    from lifecircle.geo import demo, network

    return network.from_graph(demo.build_demo().network, name="demo", source="lifecircle demo")


def kind_registry(args):
    from lifecircle.geo.standards import KindRegistry

    return KindRegistry(args.kinds.split(",") if getattr(args, "kinds", None) else ())


def parse_tiers(args) -> tuple[float, ...]:
    from lifecircle.geo.standards import parse_tiers as parse

    try:
        return parse(args.tiers, speed_m_per_min=args.speed)
    except ValueError as exc:
        raise UsageError(f"--tiers: {exc}") from None


def check_output(path: str | None, option: str, suffixes: Sequence[str]) -> None:
    """Fail early (before any work) on an output that cannot be written."""
    if not path:
        return
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {path}: the file name should end with {' or '.join(suffixes)}")
    if not p.parent.exists() and str(p.parent) not in ("", "."):
        raise UsageError(f"{option} {path}: folder {p.parent} does not exist")


def warn_unreachable(reporter: Reporter, what: str, gdf, reachable, file: str | None) -> None:
    """Report points farther than the snapping limit, by id (and row when known)."""
    import numpy as np

    from lifecircle.geo import io

    bad = np.flatnonzero(~np.asarray(reachable))
    if bad.size == 0:
        return
    rows = gdf.attrs.get("rows")
    where = file or "demo"
    if bad.size == len(gdf):
        first = bad[0]
        row = rows[first] if rows is not None else None
        raise io.InputError(
            where,
            f"none of the {len(gdf)} {what} lies within the snapping limit of the walking network "
            f"(first: id {gdf['id'].iloc[first]}); check --crs and that the network covers them",
            row=row,
            row_label=gdf.attrs.get("row_label", "row"),
        )
    label = gdf.attrs.get("row_label", "row")
    sample = ", ".join(
        f"{gdf['id'].iloc[i]} ({label} {rows[i]})" if rows is not None else str(gdf["id"].iloc[i]) for i in bad[:5]
    )
    more = f" and {bad.size - 5} more" if bad.size > 5 else ""
    reporter.note(f"warning: {bad.size} of {len(gdf)} {what} are beyond the snapping limit and count as unreachable: {sample}{more}")


# ---------------------------------------------------------------- commands
@command("network")
def cmd_network(args) -> int:
    from lifecircle.geo import network

    rep = Reporter(args.quiet)
    check_output(args.out, "--out", (network.NETWORK_SUFFIX,))
    chosen = [x for x in (args.place, args.bbox, args.osm, args.demo or None) if x]
    if len(chosen) != 1:
        raise UsageError("give exactly one of --place TEXT, --bbox W,S,E,N, --osm FILE or --demo")
    started = time.perf_counter()
    if args.place:
        rep.note(f"downloading the walking network of {args.place!r} through osmnx ...")
        net = network.from_place(args.place)
    elif args.bbox:
        try:
            bbox = tuple(float(v) for v in args.bbox.split(","))
        except ValueError:
            raise UsageError(f"--bbox {args.bbox}: give four numbers west,south,east,north") from None
        if len(bbox) != 4:
            raise UsageError(f"--bbox {args.bbox}: give four numbers west,south,east,north")
        rep.note(f"downloading the walking network in {bbox} through osmnx ...")
        net = network.from_bbox(bbox)
    elif args.osm:
        net = network.load_network(args.osm, use_cache=False, progress=rep.note)
    else:
        net = demo_network()
    path = net.save(args.out)
    rep.note(
        f"wrote {path}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, "
        f"{net.edge_length.sum() / 1000:,.1f} km of walkable street, {net.crs} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


@command("areas")
def cmd_areas(args) -> int:
    from lifecircle.geo import io, reach

    rep = Reporter(args.quiet)
    check_output(args.out, "--out", (".geojson", ".json"))
    tiers = parse_tiers(args)
    inputs = Inputs(args, rep)
    facilities = inputs.points("facilities", "facilities", "facilities", kinds=kind_registry(args))
    net = inputs.network()
    areas = reach.facility_service_areas(
        net, facilities, tiers, buffer_m=args.buffer, snap_limit_m=args.snap_limit,
        progress=rep.progress("service areas"),
    )
    reachable = ~facilities["id"].astype(str).isin(areas.attrs["unreachable"]).to_numpy()
    warn_unreachable(rep, "facilities", facilities, reachable, args.facilities)
    meta = {"tiers_m": list(tiers), "buffer_m": args.buffer, "network": net.name or net.source}
    path = io.write_geojson(areas, args.out, out_crs=args.out_crs, metadata=meta)
    rep.note(f"wrote {path}: {len(areas)} service areas for {reachable.sum()} facilities and tiers {', '.join(f'{t:g} m' for t in tiers)}")
    return 0


@command("coverage")
def cmd_coverage(args) -> int:
    from lifecircle.geo import coverage, io

    rep = Reporter(args.quiet)
    check_output(args.out, "--out", (".geojson", ".json"))
    check_output(args.summary, "--summary", (".json",))
    check_output(args.gaps, "--gaps", (".geojson", ".json"))
    tiers = parse_tiers(args)
    inputs = Inputs(args, rep)
    facilities = inputs.points("facilities", "facilities", "facilities", kinds=kind_registry(args))
    demand = inputs.demand()
    units = inputs.units()
    net = inputs.network()
    result = coverage.compute_coverage(net, facilities, demand, tiers=tiers, snap_limit_m=args.snap_limit)
    off_network = set(result.unreachable_facilities)
    reachable = ~facilities["id"].astype(str).isin(off_network).to_numpy()
    warn_unreachable(rep, "facilities", facilities, reachable, args.facilities)
    per_unit = result.to_geodataframe()
    warn_unreachable(rep, "demand units", demand, per_unit["reachable"].to_numpy(), args.demand)
    if args.gap_kind != coverage.ANY and args.gap_kind not in result.kinds:
        raise UsageError(f"--gap-kind {args.gap_kind}: no facility of that kind; kinds here: {', '.join(result.kinds)}")

    summary = result.summary()
    summary["network"] = net.name or net.source
    outputs = {"coverage": (per_unit, args.out)}
    if units is not None:
        by_unit = result.by_unit(units)
        summary["units"] = _units_summary(by_unit, result)
    if args.gaps:
        gaps = result.gaps(args.gap_kind, args.gap_tier)
        outputs["gaps"] = (gaps, args.gaps)
        summary["gaps"] = {"kind": args.gap_kind, "tier_m": float(args.gap_tier or tiers[-1]), "count": len(gaps),
                           "unserved_weight": float(gaps["unserved_weight"].sum()) if len(gaps) else 0.0}
    meta = {"tiers_m": list(tiers), "network": net.name or net.source}
    written = []
    for name, (frame, path) in outputs.items():
        written.append(io.write_geojson(frame, path, out_crs=args.out_crs, metadata=meta))
    if args.summary:
        written.append(io.write_json(summary, args.summary))
    _print_headline(rep, summary, tiers)
    rep.note("wrote " + ", ".join(str(p) for p in written))
    return 0


def _units_summary(by_unit, result) -> list[dict]:
    from lifecircle.geo.coverage import ANY, tier_key

    rows = []
    for rec in by_unit.drop(columns="geometry").to_dict("records"):
        covered = {}
        for kind in [*result.kinds, ANY]:
            covered[kind] = {
                tier_key(t): {"weight": rec[f"covered_{kind}_{tier_key(t)}"], "share": rec[f"share_{kind}_{tier_key(t)}"]}
                for t in result.tiers
            }
        rows.append({"id": rec["id"], "name": rec["name"], "weight": round(float(rec["weight"]), 3), "covered": covered})
    return rows


def _print_headline(rep: Reporter, summary: dict, tiers) -> None:
    from lifecircle.geo.coverage import tier_key

    total = summary["total_weight"]
    rep.note(f"demand {total:,.0f} (unreachable {summary['unreachable_weight']:,.0f})")
    for kind, per_tier in summary["covered"].items():
        cells = "  ".join(f"{tier_key(t)} m: {per_tier[tier_key(t)]['share']:6.1%}" for t in tiers)
        rep.note(f"  {kind:<14} {cells}")


# ------------------------------------------------------------------ parser
def _common(p: argparse.ArgumentParser, *, demo: bool = True) -> None:
    p.add_argument("--crs", default="wgs84", help="coordinates of the input files: wgs84, gcj02, bd09 or EPSG:n (default wgs84)")
    p.add_argument("--out-crs", default="wgs84", choices=("wgs84", "gcj02"), help="coordinates of the written GeoJSON (default wgs84)")
    if demo:
        p.add_argument("--demo", action="store_true", help="use the generated demo district for every input not given")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def _tiers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tiers", default=None, help="walking distances: metres (300,1000), GB 50180 names (5min,10min,15min) or minutes with --speed (default 300,1000)")
    p.add_argument("--speed", type=float, default=None, help="walking speed in m/min: --tiers are then minutes (e.g. 50 for an elderly profile)")
    p.add_argument("--snap-limit", type=float, default=300.0, help="points farther than this (m) from a walkable street are unreachable (default 300)")
    p.add_argument("--kinds", default=None, help="extra facility kinds allowed in --facilities, comma separated (e.g. police,library)")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="lifecircle",
        description="Walking life circles, coverage gaps, micro-station siting and shared parking on the real street network.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("network", help="build and cache a walking network")
    p.add_argument("--place", help="place name for osmnx (needs internet), e.g. '福田区, 深圳市'")
    p.add_argument("--bbox", help="west,south,east,north in WGS84 (needs internet)")
    p.add_argument("--osm", help="local .osm, .osm.pbf or osmnx .graphml file")
    p.add_argument("--out", required=True, help="the network file to write (.lcnet)")
    _common(p)

    p = sub.add_parser("areas", help="service-area polygons per facility and tier")
    p.add_argument("--network", help="network: .lcnet, .graphml, .osm or .osm.pbf")
    p.add_argument("--facilities", help="facilities file (id, kind, lon/lat or point geometry)")
    p.add_argument("--buffer", type=float, default=25.0, help="band around reached streets in metres (default 25, at most 50)")
    p.add_argument("--out", required=True, help="service areas GeoJSON to write")
    _tiers(p)
    _common(p)

    p = sub.add_parser("coverage", help="coverage of demand per facility kind and tier, and the gaps")
    p.add_argument("--network", help="network: .lcnet, .graphml, .osm or .osm.pbf")
    p.add_argument("--facilities", help="facilities file (id, kind, lon/lat or point geometry)")
    p.add_argument("--demand", help="demand: points or polygons with population (人口)")
    p.add_argument("--units", help="boundary polygons (街道/社区) to summarise coverage by")
    p.add_argument("--out", required=True, help="coverage GeoJSON to write (one feature per demand unit)")
    p.add_argument("--summary", help="summary JSON to write")
    p.add_argument("--gaps", help="gap polygons GeoJSON to write, ranked by unserved population")
    p.add_argument("--gap-kind", default="any", help="facility kind whose gaps to find (default any)")
    p.add_argument("--gap-tier", type=float, default=None, help="tier in metres for the gaps (default the largest)")
    _tiers(p)
    _common(p)

    for extra in EXTRA_PARSERS:
        extra(sub)
    return parser


#: Functions that add more sub-commands (siting, parking, the app).
EXTRA_PARSERS: list[Callable] = []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    _load_extensions()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    return run(args, parser)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run a parsed command, turning bad input into one message and exit code 2."""
    from lifecircle.geo.io import InputError
    from lifecircle.geo.network import NetworkError

    try:
        if hasattr(args, "crs"):
            from lifecircle.geo.crs import parse_crs

            try:
                args.crs = parse_crs(args.crs)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        return COMMANDS[args.command](args)
    except (UsageError, InputError, NetworkError) as exc:
        if getattr(args, "debug", False):
            raise
        print(f"lifecircle {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"lifecircle {args.command}: error: out of memory", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug: say so in one line, details on --debug
        if getattr(args, "debug", False):
            raise
        print(
            f"lifecircle {args.command}: internal error: {type(exc).__name__}: {exc}\n"
            "  (this is a bug in lifecircle, not in your data; rerun with --debug for the details)",
            file=sys.stderr,
        )
        return 1


def _load_extensions() -> None:
    """Import the modules that register further commands (each is optional)."""
    import importlib

    for name in ("lifecircle.apps.cli_site", "lifecircle.apps.cli_parking", "lifecircle.apps.cli_app"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


if __name__ == "__main__":  # pragma: no cover
    # run the registry of the importable module, where the extensions register their commands
    from lifecircle.apps.cli import main as _main

    sys.exit(_main())
