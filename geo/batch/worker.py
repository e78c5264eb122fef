"""The worker side of a batch: one area (a Dask task) runs the ``lifecircle`` commands in-process.

:func:`run_area` runs ``lifecircle coverage`` (and ``lifecircle evaluate`` when the area has a
standard) through the command line's own :func:`lifecircle.apps.cli.run`, into a private
folder that is moved into ``DIR/<name>/`` in one step with the ``.batch.json`` that keys it.
The commands' stderr lines travel to the client as Dask events (topic :data:`TOPIC`), which
is the per-area progress.  :func:`cut_task` cuts every area of one extract in one pass set.
"""

from __future__ import annotations

import contextlib
import io as _stdio
import json
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LifecircleError
from .plan import Area

__all__ = ["AreaJob", "BATCH_VERSION", "TOPIC", "area_argv", "run_area", "cut_task"]

#: Bump when an area's outputs change for the same inputs: every area is then redone.
BATCH_VERSION = 1
#: The Dask event topic that carries the areas' progress lines to the client.
TOPIC = "lifecircle-batch"
_STATE = ".batch.json"
_WORK = ".lifecircle"


# ------------------------------------------------------------------ jobs
@dataclass
class AreaJob:
    """Everything a worker needs to run one area (plain data: it travels to the worker)."""

    name: str
    key: str
    out_dir: str
    argv: list[str]
    files: dict[str, str]
    options: dict[str, Any]
    tiers: tuple[float, ...] = ()
    snap_limit: float = 0.0
    tiles: int = 1
    cut: dict[str, Any] = field(default_factory=dict)
    """How the network is cut: ``{"kind": "extract", ...}`` (filled by the cut task) or
    ``{"kind": "network", "source": path, "polygon_wkb": bytes, "halo": m}``."""


def _opt_flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _opt_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_opt_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def area_argv(area: Area, *, network: str, out: Path, files: dict[str, str] | None = None) -> list[str]:
    """The ``lifecircle coverage`` arguments of one area (writing into ``out``)."""
    files = files if files is not None else {k: str(v) for k, v in area.files.items() if not isinstance(v, list)}
    argv = ["coverage", "--network", network, "--facilities", files["facilities"], "--demand", files["demand"]]
    if files.get("units"):
        argv += ["--units", files["units"]]
    argv += ["--out", str(out / "coverage.geojson"), "--summary", str(out / "summary.json")]
    for key, value in area.options.items():
        if key in ("standard", "touch", "cohorts", "no_remedies", "lang"):
            continue  # the evaluation's
        if key == "gaps":
            if value:
                argv += ["--gaps", str(out / "gaps.geojson")]
            continue
        argv += [_opt_flag(key), _opt_text(value)]
    return argv


# ------------------------------------------------------- worker side
class _ThreadStderr(_stdio.TextIOBase):
    """sys.stderr that sends each worker thread's lines to that thread's sink, others to the real stream."""

    def __init__(self, real) -> None:
        self.real = real
        self.local = threading.local()

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        sink = getattr(self.local, "sink", None)
        if sink is None:
            return self.real.write(text)
        sink(text)
        return len(text)

    def flush(self) -> None:
        if getattr(self.local, "sink", None) is None:
            self.real.flush()


_PROXY_LOCK = threading.Lock()


@contextlib.contextmanager
def _captured(name: str, rename: tuple[str, str] | None = None):
    """Collect this thread's stderr text; forward whole lines as Dask events (progress).

    ``rename`` = (private folder, final folder) shows the outputs where they will land.
    """
    with _PROXY_LOCK:
        if not isinstance(sys.stderr, _ThreadStderr):
            sys.stderr = _ThreadStderr(sys.stderr)
        proxy = sys.stderr
    buf: list[str] = []
    pending = [""]

    def sink(text: str) -> None:
        buf.append(text)
        pending[0] += text.replace("\r", "\n")
        while "\n" in pending[0]:
            line, pending[0] = pending[0].split("\n", 1)
            if line.strip():
                _event(name, line.replace(*rename) if rename else line)

    proxy.local.sink = sink
    try:
        yield buf
    finally:
        proxy.local.sink = None
        if pending[0].strip():
            _event(name, pending[0])


def _event(area: str, text: str) -> None:
    try:
        from distributed import get_worker

        get_worker().log_event(TOPIC, {"area": area, "text": text})
    except (ImportError, ValueError):
        pass


def _cli_run(argv: list[str], hook: Callable | None = None) -> int:
    """Run one ``lifecircle`` command in-process (its own error handling); return its exit code.

    Its stderr (notes and the error message) goes to the caller's :func:`_captured` sink.
    """
    from lifecircle.apps import cli

    parser = cli.build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a plan option argparse refuses: it printed "... error: ..." (captured)
        return int(exc.code) if isinstance(exc.code, int) else 2
    if hook is not None:
        args.compute_coverage = hook
    return cli.run(args, parser)


def _error_message(text: str, rc: int) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ": error: " in ln or "internal error" in ln]
    msg = errors[-1] if errors else (lines[-1] if lines else f"exit code {rc}")
    for prefix in ("lifecircle coverage: error: ", "lifecircle evaluate: error: "):
        msg = msg.replace(prefix, "")
    return msg


def _resolve_network(job: AreaJob, cut_paths: dict[str, str] | None, work: Path) -> str:
    if job.cut.get("kind") == "extract":
        assert cut_paths is not None, "the cut task's result is missing"
        return cut_paths[job.name]
    if job.cut.get("kind") == "network":
        import shapely

        from ..network import load_network
        from .cut import cut_network

        cache = Path(job.out_dir) / _WORK / "cuts"
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / f"{job.name}.{job.key}.lcnet"
        if not path.exists():
            net = load_network(job.cut["source"])
            poly = shapely.from_wkb(job.cut["polygon_wkb"])
            from .cut import grow

            grown = grow(poly, job.cut["halo"])
            xy = shapely.transform(grown, lambda c: net.to_metric(c[:, 0], c[:, 1]))
            sub = cut_network(net, xy, name=job.name)
            tmp = cache / f".{path.stem}.{uuid.uuid4().hex[:8]}.lcnet"
            sub.save(tmp)
            os.replace(tmp, path)
        return str(path)
    return job.files["network"]


def run_area(job: AreaJob, cut_paths: dict[str, str] | None = None, tile_parts: list | None = None) -> dict:
    """Run one area on this process (a Dask task): the coverage command, its evaluation, the row.

    Returns the table row; never raises for a bad area (status ``failed`` and the message).
    """
    started = time.perf_counter()
    out_dir = Path(job.out_dir)
    work = out_dir / _WORK / "tmp" / f"{job.name}.{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True, exist_ok=True)
    row: dict[str, Any] = {"area": job.name, "status": "ok", "message": "", "recomputed": True}
    try:
        with _captured(job.name, (str(work), str(out_dir / job.name))) as text:
            try:
                network = _resolve_network(job, cut_paths, work)
                argv = [a.replace("{network}", network).replace("{out}", str(work)) for a in job.argv]
                hook = None
                if tile_parts is not None:
                    from .tiles import stitch_hook

                    hook = stitch_hook(tile_parts)
                rc = _cli_run(argv, hook)
                if rc == 0 and job.options.get("standard"):
                    rc = _evaluate(job, network, work, row)
            except LifecircleError as exc:
                print(f"lifecircle coverage: error: {exc}", file=sys.stderr)
                rc = 2
        if rc != 0:
            row.update(status="failed", message=_error_message("".join(text), rc))
        else:
            row.update(_summary_row(work / "summary.json", work))
    except Exception as exc:  # noqa: BLE001 - any bug in one area is that area's failure, not the batch's
        row.update(status="failed", message=f"internal error: {type(exc).__name__}: {exc}")
    tiles_s = sum(p.get("seconds", 0.0) for p in tile_parts) if tile_parts else 0.0  # the tiles' own tasks
    row["runtime_s"] = round(time.perf_counter() - started + tiles_s, 3)
    row["key"] = job.key
    _publish(out_dir / job.name, work, job, row)
    return row


#: Plan keys that go to ``lifecircle evaluate`` (besides the inputs), and those it does not take.
_EVALUATE_KEYS = ("snap_limit", "kinds", "touch", "crs", "out_crs", "cohorts", "no_remedies", "lang")


def _evaluate(job: AreaJob, network: str, work: Path, row: dict) -> int:
    """Run ``lifecircle evaluate`` on the area when it has a standard (the command's own code path).

    Writes ``evaluation.geojson``, ``evaluation.json`` (its summary) and ``ledger.xlsx`` into
    the area's folder.  A lifecircle without the command skips it and says so in the row.
    """
    from lifecircle.apps import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # noqa: SLF001 - argparse has no public accessor
    if "evaluate" not in sub.choices:
        row["message"] = "standard given, but this lifecircle has no `evaluate` command: evaluation skipped"
        return 0
    argv = [
        "evaluate",
        "--network",
        network,
        "--facilities",
        job.files["facilities"],
        "--demand",
        job.files["demand"],
        "--standard",
        str(job.options["standard"]),
        "--out",
        str(work / "evaluation.geojson"),
        "--summary",
        str(work / "evaluation.json"),
        "--ledger",
        str(work / "ledger.xlsx"),
    ]
    for extra in job.files.get("extra_facilities", []):
        argv += ["--facilities", extra]
    for key in ("units", "candidates"):
        if job.files.get(key):
            argv += [f"--{key}", job.files[key]]
    for key in _EVALUATE_KEYS:
        if key not in job.options:
            continue
        value = job.options[key]
        if isinstance(value, bool):
            argv += [_opt_flag(key)] if value else []
        else:
            argv += [_opt_flag(key), _opt_text(value)]
    return _cli_run(argv)


def _summary_row(path: Path, work: Path) -> dict:
    summary = json.loads(path.read_text(encoding="utf-8"))
    row: dict[str, Any] = {
        "total_weight": summary["total_weight"],
        "population": summary["total_weight"],
        "unreachable_population": summary["unreachable_weight"],
    }
    for kind, per_tier in summary["covered"].items():
        for tier, cell in per_tier.items():
            row[f"covered_{kind}_{tier}"] = cell["share"]
    ev = work / "evaluation.json"
    if ev.exists():
        evs = json.loads(ev.read_text(encoding="utf-8"))
        row["standard"] = evs.get("standard", {}).get("name", "")
        for tier, cell in (evs.get("complete") or {}).items():
            row[f"complete_{tier}"] = cell.get("share") if isinstance(cell, dict) else cell
    return row


def _publish(final: Path, work: Path, job: AreaJob, row: dict) -> None:
    """Move the area's outputs into place in one step, with the state file that keys them."""
    if row["status"] != "ok":
        for p in list(work.iterdir()):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()
        (work / "error.txt").write_text(row["message"] + "\n", encoding="utf-8")
    state = {"key": job.key, "status": row["status"], "row": row, "version": BATCH_VERSION}
    (work / _STATE).write_text(json.dumps(state, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    trash = final.parent / _WORK / "trash" / f"{final.name}.{uuid.uuid4().hex[:8]}"
    trash.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        os.replace(final, trash)
    os.replace(work, final)
    shutil.rmtree(trash, ignore_errors=True)


def cut_task(source: str, polygons_wkb: dict[str, bytes], halos: dict[str, float], cache_dir: str) -> dict[str, str]:
    """A Dask task: cut every area of one extract in one streaming pass set; return {area: cut file}."""
    import shapely

    from .cut import cut_extract

    polys = {k: shapely.from_wkb(v) for k, v in polygons_wkb.items()}
    paths = cut_extract(source, polys, halos, cache_dir, progress=lambda t: _event("cut", t))
    # name the network after the area (the coverage files record it)
    named: dict[str, str] = {}
    for name, p in paths.items():
        link = Path(cache_dir) / f"{name}.{p.name}"
        if not link.exists():
            tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}")
            shutil.copyfile(p, tmp)
            os.replace(tmp, link)
        named[name] = str(link)
    return named
