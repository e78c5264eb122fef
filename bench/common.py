"""Timing, agreement checks and result records shared by the benchmark sections.

Every comparison in bench/ follows the same rules:

* each callable runs once untimed first (warm-up); its answer is checked for
  agreement against the others before any time is reported;
* then the callables run in interleaved rounds (A, B, C, then B, C, A, ...),
  so a burst of load on a shared machine hits every tool alike;
* a figure is the median of the rounds, and a ratio is the median of the
  per-round ratios (anchor time / our time in the same round).
"""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: Distances agree when they differ by at most this many metres.
DIST_TOL_M = 0.5


def log(message: str) -> None:
    """Print a progress line to stderr (the table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ records
@dataclass
class Row:
    """One line of the results table.

    ``ratio`` is how many times faster this project is than this row's tool
    (anchor time / our time, median of interleaved rounds); ``None`` on our
    own rows and where no comparison applies.
    """

    section: str
    task: str
    tool: str
    median_s: float | None
    runs: int
    times_s: list[float] = field(default_factory=list)
    ratio: float | None = None
    ratio_to: str = ""
    agree: bool | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Target:
    """A target of issue 6 and whether this run meets it."""

    name: str
    measured: str
    goal: str
    status: str  # PASS, MISS, FAILED (answer wrong), SKIP (not measured)
    value: float | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Section:
    """What one benchmark section returns."""

    name: str
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str = "", **values: Any) -> bool:
        """Record an agreement check; return ``ok``."""
        self.checks.append({"name": name, "ok": bool(ok), "detail": detail, **_jsonable(values)})
        log(f"  check {'ok    ' if ok else 'FAILED'} {name} {detail}")
        return bool(ok)

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks) and not any(r.agree is False for r in self.rows)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "ok": self.ok,
            "rows": [r.to_dict() for r in self.rows],
            "targets": [t.to_dict() for t in self.targets],
            "checks": self.checks,
            "notes": self.notes,
            "info": _jsonable(self.info),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# ------------------------------------------------------------------ timing
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once after a garbage collection; return (seconds, result)."""
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def interleave(funcs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Time each callable ``repeats`` times, in interleaved rounds.

    Round ``r`` runs the callables starting from the ``r``-th (A B C, B C A,
    C A B, ...), so neither position in a round is favoured.
    """
    names = list(funcs)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, _ = timed(funcs[name])
            times[name].append(seconds)
    return times


def median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def paired_ratio(anchor: list[float], ours: list[float]) -> float | None:
    """Median over interleaved rounds of anchor time / our time."""
    pairs = [a / b for a, b in zip(anchor, ours) if b > 0]
    return float(statistics.median(pairs)) if pairs else None


def rows_from_times(
    section: str,
    task: str,
    times: dict[str, list[float]],
    ours: str,
    *,
    tools: dict[str, str] | None = None,
    agree: dict[str, bool | None] | None = None,
    notes: dict[str, str] | None = None,
) -> list[Row]:
    """Turn interleaved timings into rows; every non-``ours`` row gets its ratio to ``ours``."""
    tools = tools or {}
    agree = agree or {}
    notes = notes or {}
    out = []
    for key, values in times.items():
        ratio = None if key == ours else paired_ratio(values, times[ours])
        out.append(
            Row(
                section=section,
                task=task,
                tool=tools.get(key, key),
                median_s=median(values),
                runs=len(values),
                times_s=[round(v, 6) for v in values],
                ratio=ratio,
                ratio_to=tools.get(ours, ours) if ratio is not None else "",
                agree=agree.get(key),
                note=notes.get(key, ""),
            )
        )
    return out


# ------------------------------------------------------------------ agreement
def distances_agree(a: np.ndarray, b: np.ndarray, limit: float, tol: float = DIST_TOL_M) -> tuple[bool, float, int]:
    """Compare two distance arrays bounded at ``limit`` (``inf`` = farther).

    Both are clipped at ``limit`` first, so a point at 999.9 m in one and
    1000.2 m (reported as farther) in the other still agrees.

    Returns
    -------
    ok, max_abs_diff, n_bad
    """
    a = np.minimum(np.asarray(a, float), limit)
    b = np.minimum(np.asarray(b, float), limit)
    if a.shape != b.shape:
        return False, float("inf"), max(a.size, b.size)
    nan = np.isnan(a) | np.isnan(b)
    diff = np.abs(a - b)
    diff[nan] = np.inf
    bad = int(np.count_nonzero(diff > tol))
    return bad == 0, float(diff.max()) if diff.size else 0.0, bad


def covered_weight(dist: np.ndarray, weight: np.ndarray, tier: float) -> float:
    """Population within ``tier`` metres."""
    return float(weight[np.asarray(dist) <= tier].sum())


def coverage_agrees(
    a: np.ndarray, b: np.ndarray, weight: np.ndarray, tiers, tol: float = DIST_TOL_M
) -> tuple[bool, dict]:
    """Same covered population per tier, except points within ``tol`` of a tier's edge."""
    detail = {}
    ok = True
    for tier in tiers:
        ca, cb = np.asarray(a) <= tier, np.asarray(b) <= tier
        edge = (np.abs(np.asarray(a) - tier) <= tol) | (np.abs(np.asarray(b) - tier) <= tol)
        bad = (ca != cb) & ~edge
        detail[str(int(tier))] = {
            "ours": covered_weight(a, weight, tier),
            "other": covered_weight(b, weight, tier),
            "disagreeing_points": int(bad.sum()),
        }
        ok &= not bad.any()
    return bool(ok), detail


# ------------------------------------------------------------------ memory
def traced(fn: Callable[[], Any]) -> tuple[Any, int, int]:
    """Run ``fn`` under :mod:`tracemalloc`; return (result, retained bytes, peak bytes).

    *retained* is what the result still holds after a garbage collection
    (allocations alive after the call minus before); *peak* is the highest
    traced memory during the call above the starting level.  numpy and
    Python objects are traced; memory that C++ extensions allocate
    themselves (pandana, the inside of scipy's cKDTree) is not.
    """
    gc.collect()
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    out = fn()
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    if not was:
        tracemalloc.stop()
    return out, max(after - before, 0), max(peak - before, 0)


# ------------------------------------------------------------------ misc
@contextlib.contextmanager
def quiet_stdout():
    """Silence C-level stdout (pandana prints its progress from C++)."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def loglog_slope(sizes: list[float], seconds: list[float]) -> float | None:
    """Least-squares growth exponent k of seconds ~ size**k."""
    pts = [(s, t) for s, t in zip(sizes, seconds) if s and t and t > 0]
    if len(pts) < 2:
        return None
    x = np.log([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def rows_cli(run: Callable[[bool], list[dict]], description: str, argv: list[str] | None = None) -> int:
    """Command line of a stand-alone benchmark module: print ``run(quick)``'s rows as JSON lines."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a minute or two)")
    args = parser.parse_args(argv)
    for row in run(args.quick):
        print(json.dumps(row, ensure_ascii=False))
    return 0
