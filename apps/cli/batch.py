"""``lifecircle batch``: every area of a plan on Dask, one table over all areas.

    lifecircle batch PLAN.toml --out-dir DIR [--scheduler tcp://HOST:8786 | --workers N]

Without ``--scheduler`` a local Dask cluster of ``--workers`` processes is started on
127.0.0.1 and closed at the end.  Exit code 2 when any area failed (the table says which
and why), 0 otherwise.
"""

from __future__ import annotations

import argparse

from .base import EXIT_BAD_INPUT, Reporter, UsageError, add_common

__all__ = ["register", "cmd_batch"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``batch`` sub-command."""
    p = sub.add_parser(
        "batch",
        help="run every area of a plan (PLAN.toml) on Dask",
        description="Run the coverage (and evaluation) of every area of a plan as Dask tasks; "
        "write DIR/<area>/ and DIR/areas.csv, DIR/areas.xlsx. See docs/batch.md.",
    )
    p.add_argument("plan", help="the plan file (TOML: [defaults] and [[areas]] / [[boundaries]])")
    p.add_argument("--out-dir", required=True, help="folder of the outputs (created if missing)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    where.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes of the local cluster (default: the cores, at most 4)",
    )
    p.add_argument("--lang", default="zh", choices=("zh", "en"), help="headers of areas.xlsx (default zh)")
    add_common(p, demo=False, crs=False)
    p.set_defaults(handler=cmd_batch, inputs=("plan",), outputs=())


def cmd_batch(args: argparse.Namespace) -> int:
    """Run ``lifecircle batch``."""
    from lifecircle.geo.batch import read_plan, run_plan

    rep = Reporter(args.quiet)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give 1 or more worker processes")
    plan = read_plan(args.plan)
    client = None
    if args.scheduler:
        from distributed import Client

        try:
            client = Client(args.scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--scheduler {args.scheduler}: cannot reach the Dask scheduler ({exc})") from None
    try:
        table = run_plan(plan, client, out_dir=args.out_dir, workers=args.workers, progress=rep.note, lang=args.lang)
    finally:
        if client is not None:
            client.close()
    failed = table[table["status"] == "failed"]
    for _, row in failed.iterrows():
        rep.note(f"area {row['area']} failed: {row['message']}")
    return EXIT_BAD_INPUT if len(failed) else 0
