"""``lifecircle demo`` and ``lifecircle serve PROJECT.toml``: the planner's map in the browser.

Both load their data once, print the URL when the server listens, and serve
until interrupted.  A project file naming a missing or bad file ends with one
message (the project file's or the data file's name, row and column) and exit
code 2, before any server starts.
"""

from __future__ import annotations

import argparse
import time

from .base import Reporter, UsageError

__all__ = ["register", "cmd_demo", "cmd_serve"]


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=5006, help="port to listen on (default 5006; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 serves the local network)")
    p.add_argument("--show", action="store_true", help="open the app in a browser tab (default: only print the URL)")
    p.add_argument("--no-browser", dest="show", action="store_false", help="do not open a browser (the default)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="HOST:PORT",
                   help="another origin allowed to open the app (e.g. behind a proxy); repeatable")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the URL and errors")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` and ``serve`` sub-commands."""
    p = sub.add_parser("demo", help="serve the planner's map on the generated demo district")
    _serve_options(p)
    p.set_defaults(handler=cmd_demo)
    p = sub.add_parser("serve", help="serve the planner's map on your own data (a PROJECT.toml)")
    p.add_argument("project", help="project file: see docs/project.example.toml")
    _serve_options(p)
    p.set_defaults(handler=cmd_serve)


def _check_port(args) -> None:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: give a port between 1 and 65535 (or 0 for a free one)")


def _serve(ws, args, started: float, rep: Reporter) -> int:
    from ..web.app import serve_workspace

    def ready(url: str) -> None:
        rep.note(f"ready in {time.perf_counter() - started:.1f} s (Ctrl+C stops the server)")
        print(url, flush=True)

    try:
        serve_workspace(ws, port=args.port, host=args.host, show=args.show, allow_origins=args.allow_origin, on_ready=ready)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def cmd_demo(args) -> int:
    """Serve the app on the generated demo district."""
    from ..web.project import load_demo

    started = time.perf_counter()
    rep = Reporter(args.quiet)
    _check_port(args)
    rep.note("lifecircle demo: generated demo data (not a real place) ...")
    ws = load_demo(progress=rep.note)
    return _serve(ws, args, started, rep)


def cmd_serve(args) -> int:
    """Serve the app on the data a PROJECT.toml names."""
    from ..web.project import load_project

    started = time.perf_counter()
    rep = Reporter(args.quiet)
    _check_port(args)
    ws = load_project(args.project, progress=rep.note)
    rep.note(f"loaded {ws.title}: {len(ws.facilities):,} facilities, {len(ws.demand):,} demand units, "
             f"{ws.net.n_nodes:,} network nodes")
    return _serve(ws, args, started, rep)
