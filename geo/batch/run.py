"""Run a plan's areas on Dask: one task per area (or per tile), results keyed by their inputs.

Each area runs the ``lifecircle coverage`` command itself, in-process on a Dask worker
(:func:`lifecircle.apps.cli.run` on the parsed arguments), so ``DIR/<name>/coverage.geojson``
and ``summary.json`` are exactly the files ``lifecircle coverage`` writes.  An area's outputs
are written to a private folder and moved into place at the end, with ``.batch.json``
holding the hash of its inputs' bytes and options: a rerun skips every area whose hash is
unchanged and redoes the others.  A failing area (bad file) is one row with status
``failed`` and the command's message; the other areas go on.  A worker that dies is replaced
by Dask's nanny and its task rerun by the scheduler; since outputs only land complete, the
results equal a clean run's.

Without a client, :func:`run_plan` starts a ``dask.distributed.LocalCluster`` on 127.0.0.1
with N single-threaded worker processes; with a :class:`distributed.Client` it runs there
(the workers need lifecircle installed and the plan's files at the same paths).
"""

from __future__ import annotations

import contextlib
import hashlib
import io as _stdio
import json
import os
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ..errors import LifecircleError
from .plan import Area, Plan, read_plan

__all__ = ["run_plan", "write_table", "AreaJob", "BATCH_VERSION", "TOPIC", "area_argv", "table_headers"]

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


# ------------------------------------------------------------- keys
def _digest_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _area_key(parts: dict[str, Any]) -> str:
    return _digest_json({"v": BATCH_VERSION, **parts})[:24]


def _tiers_and_snap(area: Area) -> tuple[tuple[float, ...], float]:
    from .. import settings
    from ..standards import parse_tiers

    opts = area.options
    tiers = opts.get("tiers")
    if isinstance(tiers, list):
        tiers = ",".join(_opt_text(t) for t in tiers)
    elif tiers is not None:
        tiers = _opt_text(tiers)
    try:
        parsed = parse_tiers(tiers, speed_m_per_min=opts.get("speed"))
    except ValueError as exc:
        raise LifecircleError(f"{area.where}.tiers: {exc}") from None
    return tuple(parsed), float(opts.get("snap_limit", settings.DEFAULT_SNAP_LIMIT_M))


# --------------------------------------------------------- preparing
def _area_polygon(area: Area):
    from shapely.ops import unary_union

    from .. import io

    if area.polygon is not None:
        return area.polygon
    b = io.read_boundaries(area.files["boundary"], crs=area.options.get("crs", "wgs84"))
    return unary_union(list(b.geometry))


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _split_inputs(area: Area, polygon, halo: float, folder: Path) -> dict[str, str]:
    """Facilities in the grown polygon, demand and units whose representative point is in it (WGS84 GeoJSON)."""
    import shapely

    from .. import io
    from ..standards import KindRegistry
    from .cut import grow

    crs = area.options.get("crs", "wgs84")
    kinds = area.options.get("kinds")
    kinds = kinds.split(",") if isinstance(kinds, str) else (kinds or [])
    grown = grow(polygon, halo)
    out: dict[str, str] = {}
    fac = io.read_points(area.files["facilities"], role="facilities", crs=crs, kinds=KindRegistry(kinds))
    out["facilities"] = _write_frame(fac[shapely.within(fac.geometry.values, grown)], folder / "facilities.geojson")
    dem = io.read_demand(area.files["demand"], crs=crs)
    rp = shapely.point_on_surface(dem.geometry.values)
    out["demand"] = _write_frame(dem[shapely.within(rp, polygon)], folder / "demand.geojson")
    if "units" in area.files:
        units = io.read_boundaries(area.files["units"], crs=crs)
        rp = shapely.point_on_surface(units.geometry.values)
        out["units"] = _write_frame(units[shapely.within(rp, polygon)], folder / "units.geojson")
    return out


def _write_frame(frame, path: Path) -> str:
    keep = [c for c in frame.columns if c != frame.geometry.name and frame[c].dtype.kind in "biufOUS"]
    clean = frame[keep + [frame.geometry.name]].copy()
    for c in keep:
        if clean[c].dtype.kind in "OUS":
            clean[c] = clean[c].astype(str)
    data = clean.to_crs("EPSG:4326").to_json(drop_id=True, ensure_ascii=False).encode("utf-8")
    _write_if_changed(path, data)
    return str(path)


@dataclass
class _Prepared:
    area: Area
    job: AreaJob | None = None
    cut_group: str | None = None  # extract path the network is cut from
    polygon: Any = None
    halo: float = 0.0
    error: str | None = None
    done: dict | None = None  # the stored row of an area already done


def _prepare(area: Area, plan: Plan, out_dir: Path) -> _Prepared:
    from .cut import file_digest, halo_m

    prep = _Prepared(area)
    tiers, snap = _tiers_and_snap(area)
    halo = halo_m(tiers, snap)
    files: dict[str, Any] = {k: ([str(x) for x in v] if isinstance(v, list) else str(v)) for k, v in area.files.items()}
    key_parts: dict[str, Any] = {"options": area.options, "tiles": area.tiles,
                                 "extra_facilities": [file_digest(x) for x in files.get("extra_facilities", [])]}
    cut: dict[str, Any] = {}
    inputs = out_dir / _WORK / "inputs" / area.name
    if "boundary" in area.files or area.polygon is not None:
        import shapely

        polygon = _area_polygon(area)
        prep.polygon, prep.halo = polygon, halo
        key_parts["polygon"] = shapely.to_wkb(shapely.normalize(polygon), output_dimension=2).hex()
        key_parts["halo"] = halo
        if area.split:
            files.update(_split_inputs(area, polygon, halo, inputs))
        source = area.files.get("network") or plan.extract
        lower = str(source).lower()
        if lower.endswith((".pbf", ".osm", ".osm.xml")):
            prep.cut_group = str(source)
            cut = {"kind": "extract", "source": str(source)}
        else:
            cut = {"kind": "network", "source": str(source), "polygon_wkb": shapely.to_wkb(polygon), "halo": halo}
        key_parts["network"] = file_digest(source)
    else:
        key_parts["network"] = file_digest(area.files["network"])
    for k in ("facilities", "demand", "units", "candidates"):
        if k in files:
            key_parts[k] = file_digest(files[k])
    std = area.options.get("standard")
    if std and Path(std).is_file():
        key_parts["standard_file"] = file_digest(std)
    key = _area_key(key_parts)
    state = _read_state(out_dir / area.name)
    if state and state.get("key") == key and state.get("status") == "ok":
        row = dict(state.get("row", {}))
        row["recomputed"] = False
        prep.done = row
        return prep
    argv = area_argv(area, network="{network}", out=Path("{out}"), files=files)
    prep.job = AreaJob(area.name, key, str(out_dir), argv, files, dict(area.options), tiers, snap, area.tiles, cut)
    return prep


def _read_state(folder: Path) -> dict | None:
    try:
        return json.loads((folder / _STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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
    args = parser.parse_args(argv)
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
    argv = ["evaluate", "--network", network, "--facilities", job.files["facilities"], "--demand", job.files["demand"],
            "--standard", str(job.options["standard"]), "--out", str(work / "evaluation.geojson"),
            "--summary", str(work / "evaluation.json"), "--ledger", str(work / "ledger.xlsx")]
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


# ------------------------------------------------------------ driver
def _start_cluster(workers: int | None):
    from distributed import Client, LocalCluster

    n = workers or max(1, min(os.cpu_count() or 1, 4))
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=50)
    return cluster, Client(cluster)


def _say_default(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_plan(
    plan: Plan | str | os.PathLike,
    client=None,
    *,
    out_dir: str | os.PathLike,
    workers: int | None = None,
    progress: Callable[[str], None] | bool = True,
    lang: str = "zh",
) -> pd.DataFrame:
    """Run every area of a plan on Dask and return the table over all areas.

    Parameters
    ----------
    plan
        A :class:`~lifecircle.geo.batch.plan.Plan` or the path of a ``PLAN.toml``.
    client
        A ``distributed.Client`` to run on; None starts a ``LocalCluster`` on 127.0.0.1
        with ``workers`` worker processes (closed at the end).
    out_dir
        ``DIR``: each area's files go to ``DIR/<name>/``, the table to ``DIR/areas.csv``
        and ``DIR/areas.xlsx``.
    workers
        Worker processes of the local cluster (default: the cores, at most 4).
    progress
        A callable taking one line, True for stderr, False for silence.
    lang
        Headers of ``areas.xlsx``: ``"zh"`` (default) or ``"en"``.

    Returns
    -------
    pandas.DataFrame
        One row per area in plan order: ``area``, ``status`` (``ok``/``failed``),
        ``message``, ``recomputed``, ``total_weight``, ``population``,
        ``unreachable_population``, ``covered_<kind>_<tier>`` shares,
        ``complete_<tier>`` when evaluated, ``runtime_s``, ``key``.
    """
    say: Callable[[str], None] = progress if callable(progress) else (_say_default if progress else (lambda _t: None))
    plan = plan if isinstance(plan, Plan) else read_plan(plan)
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    prepared: list[_Prepared] = []
    for area in plan.areas:
        try:
            prepared.append(_prepare(area, plan, out))
        except LifecircleError as exc:
            prepared.append(_Prepared(area, error=str(exc)))
        except OSError as exc:  # an unreadable input: that area's failure, not the batch's
            prepared.append(_Prepared(area, error=f"{exc.filename or ''}: {exc.strerror or exc}"))
    rows: dict[str, dict] = {}
    for p in prepared:
        if p.error is not None:
            rows[p.area.name] = {"area": p.area.name, "status": "failed", "message": p.error, "recomputed": True}
            say(f"[{p.area.name}] failed: {p.error}")
        elif p.done is not None:
            rows[p.area.name] = p.done
    todo = [p for p in prepared if p.job is not None]
    say(f"batch: {len(plan.areas)} areas, {len(todo)} to compute, {len(plan.areas) - len(todo) - sum(p.error is not None for p in prepared)} unchanged")

    if todo:
        own = client is None
        cluster = None
        if own:
            cluster, client = _start_cluster(workers)
        try:
            link = getattr(client, "dashboard_link", None)
            if link:
                say(f"batch: Dask dashboard at {link}")
            _compute(client, todo, out, rows, say, len(plan.areas))
        finally:
            if own:
                client.close()
                cluster.close()

    table = pd.DataFrame([rows[a.name] for a in plan.areas])
    first = ["area", "status", "message", "recomputed", "total_weight", "population", "unreachable_population"]
    shares = sorted(c for c in table.columns if c.startswith(("covered_", "complete_")))
    rest = [c for c in table.columns if c not in first and c not in shares]
    table = table.reindex(columns=[*first, *shares, *[c for c in rest if c not in ("runtime_s", "key")], "runtime_s", "key"])
    table["message"] = table["message"].fillna("")
    write_table(table, out, lang=lang)
    n_failed = int((table["status"] == "failed").sum())
    say(f"batch: done in {time.perf_counter() - started:.1f} s: {len(table) - n_failed} ok, {n_failed} failed; "
        f"wrote {out / 'areas.csv'} and {out / 'areas.xlsx'}")
    return table


def _compute(client, todo: list[_Prepared], out: Path, rows: dict, say: Callable[[str], None], n_all: int) -> None:
    import shapely
    from distributed import as_completed

    def on_event(event) -> None:
        _, msg = event if isinstance(event, tuple) else (None, event)
        if isinstance(msg, dict):
            say(f"[{msg.get('area')}] {msg.get('text')}")

    subscribed = False
    try:
        client.subscribe_topic(TOPIC, on_event)
        subscribed = True
    except Exception:  # noqa: BLE001 - progress lines are a nicety
        pass

    cuts: dict[str, Any] = {}
    groups: dict[str, list[_Prepared]] = {}
    for p in todo:
        if p.cut_group:
            groups.setdefault(p.cut_group, []).append(p)
    cache = str(out / _WORK / "cuts")
    for source, members in groups.items():
        polys = {p.area.name: shapely.to_wkb(p.polygon) for p in members}
        halos = {p.area.name: p.halo for p in members}
        cuts[source] = client.submit(cut_task, source, polys, halos, cache, key=f"cut-{uuid.uuid4().hex[:12]}", pure=False)

    futures = {}
    for p in todo:
        job = p.job
        if job.tiles > 1:
            from .tiles import tile_task

            parts = [client.submit(tile_task, job, i, key=f"tile-{job.name}-{i}-{uuid.uuid4().hex[:6]}", pure=False)
                     for i in range(job.tiles)]
            fut = client.submit(run_area, job, None, parts, key=f"area-{job.name}-{uuid.uuid4().hex[:8]}", pure=False)
        else:
            fut = client.submit(run_area, job, cuts.get(p.cut_group), key=f"area-{job.name}-{uuid.uuid4().hex[:8]}", pure=False)
        futures[fut] = p
    done = n_all - len(todo)
    for fut in as_completed(list(futures)):
        p = futures[fut]
        try:
            row = fut.result()
        except Exception as exc:  # noqa: BLE001 - e.g. a cut task failing or a task killed too often
            row = {"area": p.area.name, "status": "failed", "message": _exc_message(exc), "recomputed": True, "key": p.job.key}
        rows[p.area.name] = row
        done += 1
        extra = f": {row['message']}" if row["status"] != "ok" else f" ({row.get('runtime_s', 0):.1f} s)"
        say(f"[{p.area.name}] {row['status']}{extra}  -- {done}/{n_all} areas done")
    if subscribed:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(TOPIC)


def _exc_message(exc: BaseException) -> str:
    text = str(exc)
    return text if isinstance(exc, LifecircleError) else f"{type(exc).__name__}: {text}"


# ------------------------------------------------------------ table
_ZH = {
    "area": "区域", "status": "状态", "message": "说明", "recomputed": "本次计算", "total_weight": "需求总量",
    "population": "人口", "unreachable_population": "不可达人口", "runtime_s": "耗时（秒）", "key": "输入哈希", "standard": "标准",
}


def table_headers(columns, lang: str = "zh") -> list[str]:
    """Headers of the XLSX table: Chinese (default) or the column names."""
    if lang != "zh":
        return list(columns)
    from ..standards import KindRegistry

    reg = KindRegistry()
    out = []
    for c in columns:
        if c in _ZH:
            out.append(_ZH[c])
        elif c.startswith("covered_"):
            kind, tier = c[len("covered_"):].rsplit("_", 1)
            label = "任一设施" if kind == "any" else (reg[kind].label_zh if kind in reg else kind)
            out.append(f"{label} {tier}米覆盖率")
        elif c.startswith("complete_"):
            out.append(f"{c[len('complete_'):]} 完整生活圈占比")
        else:
            out.append(c)
    return out


def write_table(table: pd.DataFrame, out_dir: str | os.PathLike, *, lang: str = "zh") -> tuple[Path, Path]:
    """Write ``areas.csv`` (column names) and ``areas.xlsx`` (Chinese headers by default), atomically."""
    out = Path(out_dir)
    csv = out / "areas.csv"
    xlsx = out / "areas.xlsx"
    tmp = out / f".areas.{uuid.uuid4().hex[:8]}.csv"
    table.to_csv(tmp, index=False, encoding="utf-8")
    os.replace(tmp, csv)
    tmpx = out / f".areas.{uuid.uuid4().hex[:8]}.xlsx"
    shown = table.copy()
    shown.columns = table_headers(table.columns, lang)
    shown.to_excel(tmpx, index=False, sheet_name="areas")
    os.replace(tmpx, xlsx)
    return csv, xlsx
