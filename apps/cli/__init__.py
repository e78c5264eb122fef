"""The ``lifecircle`` command line.

Every command reads planners' files (CSV, XLSX, GeoJSON, GPKG, SHP), checks them, computes on
the walking network and writes its outputs atomically, all of them or none.  Bad input ends
with one message naming the file, row and column (or the option), and exit code 2; nothing
half-written is left behind.  ``--demo`` stands in for any input file with the generated demo
district.

Layout: one module per command (:mod:`.network`, :mod:`.areas`, :mod:`.coverage`,
:mod:`.site`, :mod:`.parking`, :mod:`.serve` for ``demo`` and ``serve``), the shared pieces in
:mod:`.base` and :mod:`.outputs`, and here the parser, the one place errors become messages
(:func:`run`) and the signal handling.  A command module defines ``register(sub)``, which adds
its sub-parser and binds the handler with ``p.set_defaults(handler=fn, inputs=(...),
outputs=(...))`` (the ``inputs``/``outputs`` are the argument names checked for collisions
before any work); adding a command is adding its module name to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from .base import EXIT_BAD_INPUT, Inputs, Reporter, UsageError

__all__ = ["COMMAND_MODULES", "EXIT_BAD_INPUT", "Inputs", "Reporter", "UsageError", "build_parser", "main", "run"]

#: The modules (in this package) whose ``register(sub)`` adds the sub-commands, in --help order.
COMMAND_MODULES: tuple[str, ...] = (
    "network",
    "areas",
    "coverage",
    "site",
    "parking",
    "serve",
    "evaluate",
    "scenarios",
    "batch",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="lifecircle",
        description="Walking life circles, coverage gaps, micro-station siting and shared parking on the real street network.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _load_extensions() -> None:
    """Kept for callers of the old single-module CLI: every command is now registered by
    :func:`build_parser` from :data:`COMMAND_MODULES`."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    return run(args, parser)


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM or SIGHUP, so temporary files are removed as on Ctrl+C."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def _raise_terminated(signum, frame) -> None:  # noqa: ANN001 - signal handler signature
    raise Terminated(signum)


class _Signals:
    """Install the SIGTERM/SIGHUP handlers for one run, and put the old ones back."""

    def __enter__(self) -> _Signals:
        import threading

        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                if sig is not None:
                    self.saved[sig] = signal.signal(sig, _raise_terminated)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self.saved.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> int:
    """Run a parsed command: the one place errors become one message and an exit code.

    Any :class:`~lifecircle.geo.errors.LifecircleError` (bad input, option, network, output)
    prints ``lifecircle CMD: error: ...`` and returns 2; an unexpected exception prints one
    "internal error" line (``--debug`` re-raises it) and returns 1; SIGINT returns 130,
    SIGTERM/SIGHUP 128 + the signal number, with temporary files removed.
    """
    from lifecircle.geo.errors import LifecircleError

    from .checks import check_collisions

    debug = getattr(args, "debug", False)
    try:
        with _Signals():
            if hasattr(args, "crs"):
                from lifecircle.geo.crs import parse_crs

                try:
                    args.crs = parse_crs(args.crs)
                except LifecircleError:
                    raise
                except ValueError as exc:
                    raise UsageError(str(exc)) from None
            check_collisions(args)
            return args.handler(args)
    except LifecircleError as exc:
        if debug:
            raise
        print(f"lifecircle {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"lifecircle {args.command}: interrupted; no output written", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"lifecircle {args.command}: stopped by {exc}; no output written", file=sys.stderr)
        return 128 + exc.signum
    except MemoryError:
        print(f"lifecircle {args.command}: error: out of memory", file=sys.stderr)
        return 1
    except OSError as exc:
        if debug or not exc.filename:
            if debug:
                raise
            return _internal(args, exc)
        from lifecircle.geo.atomic import describe

        print(f"lifecircle {args.command}: error: {exc.filename}: {describe(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - a bug: say so in one line, details on --debug
        if debug:
            raise
        return _internal(args, exc)


def _internal(args: argparse.Namespace, exc: BaseException) -> int:
    print(
        f"lifecircle {args.command}: internal error: {type(exc).__name__}: {exc}\n"
        "  (this is a bug in lifecircle, not in your data; rerun with --debug for the details)",
        file=sys.stderr,
    )
    return 1
