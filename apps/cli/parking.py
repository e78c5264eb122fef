"""``lifecircle parking``: shared night parking (错时共享停车) from the command line.

::

    lifecircle parking --network NET --lots L --residences R [--max-walk 500]
                       [--window 19:00-08:00] --out MATCHES.geojson [--summary S.json]

plus ``--demo`` (the demo district's network, lots and compounds for any input
not given), ``--crs``/``--out-crs``, ``--fairness F``, ``--price-limit Y``,
``--lot-cap N``, ``--tables DIR`` or ``--table-out FILE.csv|.xlsx``.

Choices made here (see :mod:`geo.parking` for the model):

* ``--window`` overrides every compound's own window.
* A lot with no open hours (``open`` = closed / 不开放) is not an error: it
  offers nothing and the summary's notes and ``closed_lots`` name it.
* A compound with no lot within the walking limit is reported as unmatched
  (``out_of_reach_residences``), not an error.
* Zero supply or zero demand gives a result with share 0 and a note.
* Bad values (negative or fractional capacities or demands, unreadable
  windows, unknown land uses, occupancy shares outside 0-1) end with one
  message naming file, row and column, and exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lifecircle.geo import settings

from .base import (
    Inputs,
    Reporter,
    UsageError,
    add_common,
    add_snap_limit,
    check_output,
    check_positive,
    warn_unreachable,
)
from .outputs import Outputs

__all__ = ["register", "cmd_parking", "check_args", "write_outputs", "table_paths", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".xlsx")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``parking`` sub-command to the CLI's parser."""
    walk = settings.DEFAULT_MAX_WALK_M
    p = sub.add_parser(
        "parking", help="match spare night spaces in commercial lots to compounds short of them (错时共享停车)"
    )
    p.add_argument("--network", help="network: .lcnet, .graphml, .osm or .osm.pbf")
    p.add_argument(
        "--lots",
        help="lots file: id, lon/lat (entrance), capacity; optional open, land_use, occ_00..occ_23, reserved, price",
    )
    p.add_argument(
        "--residences", help="compounds file: id, lon/lat (gate), demand (cars short at night); optional window"
    )
    p.add_argument(
        "--max-walk",
        type=float,
        default=walk,
        metavar="M",
        help=f"walking limit between a gate and a lot's entrance, metres (default {walk:g})",
    )
    p.add_argument("--window", default=None, help="hours every compound needs, overriding their own (e.g. 19:00-08:00)")
    p.add_argument(
        "--fairness",
        type=float,
        default=settings.DEFAULT_FAIRNESS,
        metavar="F",
        help="share 0-1 of each compound's shortfall placed before any compound gets more "
        f"(default {settings.DEFAULT_FAIRNESS:g}: off)",
    )
    p.add_argument(
        "--price-limit",
        type=float,
        default=None,
        metavar="YUAN",
        help="leave out lots whose price (yuan/night) is above this",
    )
    p.add_argument("--lot-cap", type=int, default=None, metavar="N", help="most cars given to residents per lot")
    p.add_argument(
        "--slot-minutes",
        type=int,
        default=None,
        choices=(15, 30, 60),
        help="time slot length (default 30, or 15 when a time needs it)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="S",
        help="seconds each MIP stage may run (default: until proven optimal)",
    )
    add_snap_limit(p)
    p.add_argument("--out", required=True, help="matches GeoJSON to write: one line per compound-lot pair")
    p.add_argument("--summary", help="summary JSON to write")
    p.add_argument("--tables", metavar="DIR", help="write residences.csv, lots.csv and pairs.csv into this folder")
    p.add_argument(
        "--table-out",
        metavar="FILE",
        help="write the tables to one .xlsx (sheets residences, lots, pairs) or to FILE.csv "
        "(per compound) with FILE_lots.csv and FILE_pairs.csv beside it",
    )
    add_common(p)
    p.set_defaults(
        handler=cmd_parking,
        inputs=("network", "lots", "residences"),
        outputs=("out", "summary", "table_out"),
        extra_outputs=table_outputs,
    )


# ------------------------------------------------------------------ checks
def check_args(args: argparse.Namespace) -> None:
    """Refuse a bad command line before reading or computing anything."""
    from lifecircle.geo.parking import WindowError, parse_window

    check_output(args.out, "--out", (".geojson", ".json"))
    check_output(args.summary, "--summary", (".json",))
    check_output(args.table_out, "--table-out", TABLE_SUFFIXES)
    if args.tables:
        parent = Path(args.tables).resolve().parent
        if not parent.exists():
            raise UsageError(f"--tables {args.tables}: folder {parent} does not exist")
        if Path(args.tables).exists() and not Path(args.tables).is_dir():
            raise UsageError(f"--tables {args.tables}: this is a file; give a folder")
    if not args.max_walk > 0:
        raise UsageError(f"--max-walk {args.max_walk:g}: give a positive number of metres")
    if not 0.0 <= args.fairness <= 1.0:
        raise UsageError(f"--fairness {args.fairness:g}: give a share between 0 and 1 (e.g. 0.3 for 30 %)")
    if args.price_limit is not None and args.price_limit < 0:
        raise UsageError(f"--price-limit {args.price_limit:g}: a price cannot be negative")
    if args.lot_cap is not None and args.lot_cap < 0:
        raise UsageError(f"--lot-cap {args.lot_cap}: give a whole, non-negative number of cars")
    if args.time_limit is not None and not args.time_limit > 0:
        raise UsageError(f"--time-limit {args.time_limit:g}: give a positive number of seconds")
    check_positive(args, "--snap-limit", "metres from a walkable street", allow_zero=True)
    if args.window is not None:
        try:
            window = parse_window(args.window, what="window")
        except WindowError as exc:
            raise UsageError(f"--window: {exc}") from None
        if window is None or window.is_empty:
            raise UsageError(f"--window {args.window!r}: give the hours compounds need, e.g. 19:00-08:00")


# ------------------------------------------------------------------ writing
def table_paths(args: argparse.Namespace) -> list[tuple[str, str, Path]]:
    """(option, table, file) of each CSV table that --tables DIR and --table-out FILE.csv write."""
    out: list[tuple[str, str, Path]] = []
    if args.tables:
        folder = Path(args.tables)
        out += [("--tables", name, folder / f"{name}.csv") for name in ("residences", "lots", "pairs")]
    if args.table_out and Path(args.table_out).suffix.lower() == ".csv":
        base = Path(args.table_out)
        out += [
            ("--table-out", "residences", base),
            ("--table-out", "lots", base.with_name(f"{base.stem}_lots.csv")),
            ("--table-out", "pairs", base.with_name(f"{base.stem}_pairs.csv")),
        ]
    return out


def table_outputs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """Every file the tables options write besides --table-out itself, named by option (for collision checks)."""
    return [
        (f"{option} ({name})", path)
        for option, name, path in table_paths(args)
        if not (option == "--table-out" and name == "residences")
    ]


def _write_xlsx(tables: dict, path: str) -> Path:
    """One workbook with a sheet per table, written atomically."""
    import pandas as pd

    from lifecircle.geo import io

    with io.atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, table in tables.items():
                table.to_excel(writer, sheet_name=name, index=False)
    return Path(path)


def write_outputs(result, args: argparse.Namespace, meta: dict) -> list[Path]:
    """Write the GeoJSON, the summary and the tables asked for, all or none; return their paths."""
    tables = {"residences": result.residence_table(), "lots": result.lot_table(), "pairs": result.pairs}
    made_folder = False
    if args.tables and not Path(args.tables).exists():
        Path(args.tables).mkdir()
        made_folder = True
    try:
        with Outputs() as out:
            out.geojson(result.to_geodataframe(), args.out, out_crs=args.out_crs, metadata=meta)
            if args.summary:
                out.json({**result.summary(), "network": meta["network"]}, args.summary)
            for _, name, path in table_paths(args):
                out.table(tables[name], path)
            if args.table_out and Path(args.table_out).suffix.lower() == ".xlsx":
                out.add(_write_xlsx, tables, args.table_out)
    except BaseException:
        if made_folder:
            import contextlib

            with contextlib.suppress(OSError):
                Path(args.tables).rmdir()
        raise
    return out.written


def _headline(rep: Reporter, summary: dict) -> None:
    share = summary["share_of_demand"]
    rep.note(
        f"placed {summary['matched']:,} of {summary['demand_total']:,} cars short at night ({share:.1%} of the gap) "
        f"within {summary['max_walk_m']:g} m walk; supply {summary['supply_total']:,} spaces; "
        f"{summary['method']}{'' if summary['optimal'] else ' (not proven optimal)'}"
    )
    if summary["matched"]:
        rep.note(
            f"  total walk {summary['total_walk_m']:,.0f} m, {summary['mean_walk_m']:,.0f} m per car; "
            f"{summary['residences_fully_served']} compound(s) fully served, {summary['lots_used']} lot(s) used"
        )
    for note in summary["notes"]:
        rep.note(f"note: {note}")


# ------------------------------------------------------------------ command
def cmd_parking(args: argparse.Namespace) -> int:
    """Run ``lifecircle parking``."""
    from lifecircle.geo import parking

    rep = Reporter(args.quiet)
    check_args(args)
    inputs = Inputs(args, rep)
    lots = inputs.points("lots", "lots", "lots")
    residences = inputs.points("residences", "residences", "residences")
    net = inputs.network()
    result = parking.match_parking(
        net,
        lots,
        residences,
        max_walk_m=args.max_walk,
        window=args.window,
        fairness=args.fairness,
        price_limit=args.price_limit,
        lot_cap=args.lot_cap,
        slot_minutes=args.slot_minutes,
        snap_limit_m=args.snap_limit,
        time_limit=args.time_limit,
    )
    warn_unreachable(rep, "lots", lots, result.lots["on_network"].to_numpy(), args.lots)
    warn_unreachable(rep, "compounds", residences, result.residences["on_network"].to_numpy(), args.residences)
    summary = result.summary()
    meta = {"max_walk_m": args.max_walk, "network": net.name or net.source, "method": summary["method"]}
    written = write_outputs(result, args, meta)
    _headline(rep, summary)
    rep.note("wrote " + ", ".join(str(p) for p in written))
    return 0
