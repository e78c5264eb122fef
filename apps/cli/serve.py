"""``lifecircle demo`` and ``lifecircle serve PROJECT.toml``: the planner's map in the browser.

Both load their data once, print the URL when the server listens, and serve
until interrupted.  A project file naming a missing or bad file ends with one
message (the project file's or the data file's name, row and column) and exit
code 2, before any server starts.
"""

from __future__ import annotations

import argparse
import time

from .base import OptionError, Reporter, UsageError

__all__ = ["register", "cmd_demo", "cmd_serve"]


def _serve_options(p: argparse.ArgumentParser) -> None:
    from lifecircle.geo import settings

    p.add_argument(
        "--port",
        type=int,
        default=settings.DEFAULT_PORT,
        help=f"port to listen on (default {settings.DEFAULT_PORT}; 0 picks a free one)",
    )
    p.add_argument(
        "--host",
        default=settings.DEFAULT_HOST,
        help=f"address to listen on (default {settings.DEFAULT_HOST}; 0.0.0.0 serves the local network)",
    )
    p.add_argument("--show", action="store_true", help="open the app in a browser tab (default: only print the URL)")
    p.add_argument("--no-browser", dest="show", action="store_false", help="do not open a browser (the default)")
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="another origin allowed to open the app (e.g. behind a proxy); repeatable",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="print only the URL and errors")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--max-sessions",
        type=int,
        default=None,
        metavar="N",
        help="most planners served at once; beyond it a new page says 'busy, try again' (HTTP 503)",
    )
    p.add_argument(
        "--max-candidates", type=int, default=None, metavar="N", help="most candidate sites one planner's session holds"
    )
    _access_options(p)


def _limits(args):
    """The session caps the options ask for (defaults from geo.settings)."""
    from lifecircle.geo import settings

    from ..web.server import SessionLimits

    for option, value in (("--max-sessions", args.max_sessions), ("--max-candidates", args.max_candidates)):
        if value is not None and not 1 <= value <= 10_000:
            raise OptionError(option, f"{value}: give a number from 1 to 10000")
    return SessionLimits(
        max_sessions=args.max_sessions or settings.MAX_SESSIONS,
        max_candidates=args.max_candidates or settings.MAX_CANDIDATES_PER_SESSION,
    )


def _access_options(p: argparse.ArgumentParser) -> None:
    """Access control, required when --host is not loopback (apps.web.server.check_access)."""
    g = p.add_argument_group("access control (required when --host is not 127.0.0.1/localhost)")
    g.add_argument(
        "--password-file",
        metavar="FILE",
        help='sign-in with Panel\'s basic auth: a JSON file {"user": "password", ...} '
        "(keep it private; re-read at every sign-in)",
    )
    g.add_argument(
        "--cookie-secret",
        metavar="TEXT",
        help="secret that signs the sign-in cookie (default: $PANEL_COOKIE_SECRET, else random "
        "per run, so sign-ins end when the server restarts)",
    )
    g.add_argument(
        "--oauth-provider",
        metavar="NAME",
        help="sign-in with one of Panel's OAuth providers (github, gitlab, google, azure, okta, generic, ...)",
    )
    g.add_argument("--oauth-key", metavar="KEY", help="the OAuth client id (or $PANEL_OAUTH_KEY)")
    g.add_argument("--oauth-secret", metavar="SECRET", help="the OAuth client secret (or $PANEL_OAUTH_SECRET)")
    g.add_argument("--oauth-redirect-uri", metavar="URL", help="the OAuth redirect URI registered with the provider")
    g.add_argument(
        "--oauth-extra-params", metavar="JSON", help='extra OAuth parameters as JSON, e.g. \'{"tenant": "..."}\''
    )
    g.add_argument("--oauth-encryption-key", metavar="KEY", help="key that encrypts OAuth tokens in cookies")


def _access(args):
    """The access control the options ask for, checked against --host before any data is loaded."""
    import json
    from pathlib import Path

    from ..web.server import Access, check_access

    extra = {}
    if args.oauth_extra_params:
        try:
            extra = json.loads(args.oauth_extra_params)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--oauth-extra-params: not JSON ({exc.msg})") from None
        if not isinstance(extra, dict):
            raise UsageError('--oauth-extra-params: give a JSON object, e.g. \'{"tenant": "..."}\'')
    access = Access(
        password_file=Path(args.password_file) if args.password_file else None,
        cookie_secret=args.cookie_secret,
        oauth_provider=args.oauth_provider,
        oauth_key=args.oauth_key,
        oauth_secret=args.oauth_secret,
        oauth_redirect_uri=args.oauth_redirect_uri,
        oauth_extra_params=extra,
        oauth_encryption_key=args.oauth_encryption_key,
    )
    return check_access(args.host, access)


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


def _start(args) -> tuple[float, Reporter]:
    """Start the clock and check the options before any data is loaded (errors come first, and fast)."""
    started = time.perf_counter()
    rep = Reporter(args.quiet)
    _check_port(args)
    _access(args)
    _limits(args)
    return started, rep


def _serve(ws, args, started: float, rep: Reporter) -> int:
    from ..web.server import serve_workspace

    def ready(url: str) -> None:
        rep.note(f"ready in {time.perf_counter() - started:.1f} s (Ctrl+C stops the server)")
        print(url, flush=True)

    try:
        serve_workspace(
            ws,
            port=args.port,
            host=args.host,
            show=args.show,
            allow_origins=args.allow_origin,
            access=_access(args),
            limits=_limits(args),
            on_ready=ready,
        )
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def cmd_demo(args) -> int:
    """Serve the app on the generated demo district."""
    from ..web.project import load_demo

    started, rep = _start(args)
    rep.note("lifecircle demo: generated demo data (not a real place) ...")
    ws = load_demo(progress=rep.note)
    return _serve(ws, args, started, rep)


def cmd_serve(args) -> int:
    """Serve the app on the data a PROJECT.toml names."""
    from ..web.project import load_project

    started, rep = _start(args)
    ws = load_project(args.project, progress=rep.note)
    rep.note(
        f"loaded {ws.title}: {len(ws.facilities):,} facilities, {len(ws.demand):,} demand units, "
        f"{ws.net.n_nodes:,} network nodes"
    )
    return _serve(ws, args, started, rep)
