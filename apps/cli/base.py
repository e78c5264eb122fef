"""What every ``lifecircle`` command shares: the reporter, the inputs, common options and checks.

A command module (``apps/cli/<command>.py``) defines ``register(sub)``, which adds its
sub-parser(s) and binds each to its handler with ``p.set_defaults(handler=...)``; the package's
:data:`lifecircle.apps.cli.COMMAND_MODULES` lists the modules.  Handlers take the parsed
arguments and return the exit code; they raise :class:`~lifecircle.geo.errors.LifecircleError`
(or :class:`UsageError`) for anything the user can fix, and :func:`lifecircle.apps.cli.run`
turns it into one message and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lifecircle.geo import settings
from lifecircle.geo.errors import LifecircleError, OptionError

__all__ = [
    "EXIT_BAD_INPUT",
    "UsageError",
    "OptionError",
    "Reporter",
    "Inputs",
    "demo_network",
    "kind_registry",
    "parse_tiers",
    "check_output",
    "check_positive",
    "warn_unreachable",
    "add_common",
    "add_tiers",
    "add_snap_limit",
    "add_kinds",
]

EXIT_BAD_INPUT = 2


class UsageError(LifecircleError):
    """A problem with the command line itself (exit 2)."""


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
            return io.read_demand(
                self.args.demand,
                crs=self.args.crs,
                count_rows=getattr(self.args, "count_rows", False),
                count_rows_hint="--count-rows",
            )
        if self.args.demo:
            d = self.demo.demand
            return d.rename(columns={"population": "weight"}) if "weight" not in d else d
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

    net = demo.build_demo().network
    if isinstance(net, network.WalkNetwork):
        return net
    return network.from_graph(net, name="demo", source="lifecircle demo")


def kind_registry(args):
    """The kind registry with the ``--kinds`` extras."""
    from lifecircle.geo.standards import KindRegistry

    text = getattr(args, "kinds", None)
    if text is None:
        return KindRegistry(())
    extras = [k.strip() for k in text.split(",") if k.strip()]
    if not extras:
        raise OptionError("--kinds", f"{text!r} names no kind: give kinds separated by commas, e.g. police,library")
    try:
        return KindRegistry(extras)
    except LifecircleError:
        raise
    except (ValueError, TypeError) as exc:
        raise OptionError("--kinds", str(exc)) from None


def parse_tiers(args) -> tuple[float, ...]:
    """``--tiers`` (with ``--speed``) in metres; one message naming the option when wrong."""
    from lifecircle.geo.standards import parse_tiers as parse

    speed = getattr(args, "speed", None)
    if speed is not None and not speed > 0:
        raise OptionError(
            "--speed",
            f"{speed:g} is not a walking speed: give a positive number of metres per minute "
            f"(e.g. {settings.DEFAULT_SPEED_M_PER_MIN:g}, or {settings.ELDERLY_SPEED_M_PER_MIN:g} for an elderly profile)",
        )
    try:
        return parse(args.tiers, speed_m_per_min=speed)
    except OptionError:
        raise
    except ValueError as exc:
        raise OptionError("--tiers", str(exc)) from None


def check_positive(args, name: str, what: str, *, allow_zero: bool = False, upper: float | None = None) -> None:
    """Refuse ``--name`` unless it is a positive (or non-negative) number no larger than ``upper``."""
    value = getattr(args, name.lstrip("-").replace("-", "_"), None)
    if value is None:
        return
    import math

    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0) and (upper is None or value <= upper)
    if not ok:
        lo = "0 or more" if allow_zero else "a positive number"
        hi = f" up to {upper:g}" if upper is not None else ""
        raise OptionError(name, f"{value:g}: give {lo}{hi} ({what})")


def check_output(path: str | None, option: str, suffixes: Sequence[str]) -> None:
    """Fail early (before any work) on an output that cannot be written."""
    if not path:
        return
    from lifecircle.geo.atomic import MAX_NAME_BYTES

    p = Path(path)
    if len(p.name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise UsageError(
            f"{option} {path}: the file name is longer than {MAX_NAME_BYTES} bytes, the file system's limit"
        )
    if p.exists() and not p.is_file() and not p.is_dir():
        raise UsageError(
            f"{option} {path}: this exists and is not a regular file (a device or a pipe); give a file name"
        )
    if suffixes and p.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {path}: the file name should end with {' or '.join(suffixes)}")
    if not p.parent.exists() and str(p.parent) not in ("", "."):
        raise UsageError(f"{option} {path}: folder {p.parent} does not exist")
    if p.is_dir():
        raise UsageError(f"{option} {path}: this is a folder; give a file name")


def warn_unreachable(reporter: Reporter, what: str, gdf, reachable, file: str | None) -> None:
    """Report points farther than the snapping limit, by id (and row when known)."""
    import numpy as np

    from lifecircle.geo import io

    bad = np.flatnonzero(~np.asarray(reachable))
    if bad.size == 0:
        return
    rows = io.source_rows(gdf)  # the file row of each point, or None
    label = gdf.attrs.get("row_label", "row")
    where = file or "demo"
    if bad.size == len(gdf):
        first = bad[0]
        row = rows[first] if rows is not None else None
        firsts = ", ".join(
            f"id {gdf['id'].iloc[i]}" + (f" ({label} {rows[i]})" if rows is not None else "") for i in bad[:3]
        )
        raise io.InputError(
            where,
            f"none of the {len(gdf)} {what} lies within the snapping limit of the walking network "
            f"(first: {firsts}); check --crs and that the network covers them",
            row=row,
            row_label=label,
        )
    sample = ", ".join(
        f"{gdf['id'].iloc[i]} ({label} {rows[i]})" if rows is not None else str(gdf["id"].iloc[i]) for i in bad[:5]
    )
    more = f" and {bad.size - 5} more" if bad.size > 5 else ""
    reporter.note(
        f"warning: {bad.size} of {len(gdf)} {what} are beyond the snapping limit and count as unreachable: {sample}{more}"
    )


# ------------------------------------------------------------------ options
def add_common(p: argparse.ArgumentParser, *, demo: bool = True, crs: bool = True) -> None:
    """``--crs``, ``--out-crs``, ``--demo``, ``--quiet`` and the hidden ``--debug``."""
    if crs:
        p.add_argument(
            "--crs",
            default="wgs84",
            help="coordinates of the input files: wgs84, gcj02, bd09 or EPSG:n (default wgs84)",
        )
        p.add_argument(
            "--out-crs",
            default="wgs84",
            choices=("wgs84", "gcj02"),
            help="coordinates of the written GeoJSON (default wgs84)",
        )
    if demo:
        p.add_argument("--demo", action="store_true", help="use the generated demo district for every input not given")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def add_snap_limit(p: argparse.ArgumentParser) -> None:
    """``--snap-limit`` with the default of :mod:`geo.settings`."""
    d = settings.DEFAULT_SNAP_LIMIT_M
    p.add_argument(
        "--snap-limit",
        type=float,
        default=d,
        help=f"points farther than this (m) from a walkable street are unreachable (default {d:g})",
    )


def add_kinds(p: argparse.ArgumentParser, example: str = " (e.g. police,library)") -> None:
    """``--kinds``: extra facility kinds."""
    p.add_argument(
        "--kinds", default=None, help=f"extra facility kinds allowed in --facilities, comma separated{example}"
    )


def add_tiers(p: argparse.ArgumentParser) -> None:
    """``--tiers``, ``--speed``, ``--snap-limit`` and ``--kinds``."""
    default = ",".join(f"{t:g}" for t in settings.DEFAULT_TIERS)
    p.add_argument(
        "--tiers",
        default=None,
        help="walking distances: metres (300,1000), GB 50180 names (5min,10min,15min) "
        f"or minutes with --speed (default {default})",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=None,
        help="walking speed in m/min: --tiers are then minutes "
        f"(e.g. {settings.ELDERLY_SPEED_M_PER_MIN:g} for an elderly profile)",
    )
    add_snap_limit(p)
    add_kinds(p)
