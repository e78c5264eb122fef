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
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import LifecircleError
from .plan import Area, Plan, read_plan
from .table import write_table
from .worker import _STATE, _WORK, BATCH_VERSION, TOPIC, AreaJob, _opt_text, area_argv, cut_task, run_area

__all__ = ["run_plan", "write_table"]


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


def _read_once(what: str, path: str, crs: str, kinds: tuple[str, ...], memo: dict) -> tuple[Any, Any]:
    """Read a shared input once per run (the frame and the points that place its rows)."""
    import shapely

    from .. import io
    from ..standards import KindRegistry

    key = (what, path, crs, kinds)
    if key not in memo:
        if what == "facilities":
            frame = io.read_points(path, role="facilities", crs=crs, kinds=KindRegistry(list(kinds)))
            memo[key] = (frame, frame.geometry.values)
        else:
            frame = (
                io.read_demand(path, crs=crs, count_rows=True)
                if what == "demand"
                else io.read_boundaries(path, crs=crs)
            )
            memo[key] = (frame, shapely.point_on_surface(frame.geometry.values))
    return memo[key]


def _split_inputs(area: Area, polygon, halo: float, folder: Path, memo: dict) -> dict[str, str]:
    """Facilities in the grown polygon, demand and units whose representative point is in it (WGS84 GeoJSON)."""
    import shapely

    from .cut import grow

    crs = area.options.get("crs", "wgs84")
    kinds = area.options.get("kinds")
    kinds = tuple(kinds.split(",") if isinstance(kinds, str) else (kinds or []))
    grown = grow(polygon, halo)
    shapely.prepare(grown)
    shapely.prepare(polygon)
    out: dict[str, str] = {}
    fac, at = _read_once("facilities", str(area.files["facilities"]), crs, kinds, memo)
    out["facilities"] = _write_frame(fac[shapely.within(at, grown)], folder / "facilities.geojson")
    dem, at = _read_once("demand", str(area.files["demand"]), crs, kinds, memo)
    out["demand"] = _write_frame(dem[shapely.within(at, polygon)], folder / "demand.geojson")
    if "units" in area.files:
        units, at = _read_once("units", str(area.files["units"]), crs, kinds, memo)
        out["units"] = _write_frame(units[shapely.within(at, polygon)], folder / "units.geojson")
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


def _prepare(area: Area, plan: Plan, out_dir: Path, memo: dict | None = None) -> _Prepared:
    from .cut import file_digest, halo_m

    prep = _Prepared(area)
    tiers, snap = _tiers_and_snap(area)
    halo = halo_m(tiers, snap)
    files: dict[str, Any] = {k: ([str(x) for x in v] if isinstance(v, list) else str(v)) for k, v in area.files.items()}
    key_parts: dict[str, Any] = {
        "options": area.options,
        "tiles": area.tiles,
        "extra_facilities": [file_digest(x) for x in files.get("extra_facilities", [])],
    }
    cut: dict[str, Any] = {}
    inputs = out_dir / _WORK / "inputs" / area.name
    if "boundary" in area.files or area.polygon is not None:
        import shapely

        polygon = _area_polygon(area)
        prep.polygon, prep.halo = polygon, halo
        key_parts["polygon"] = shapely.to_wkb(shapely.normalize(polygon), output_dimension=2).hex()
        key_parts["halo"] = halo
        if area.split:
            files.update(_split_inputs(area, polygon, halo, inputs, {} if memo is None else memo))
        source = area.files.get("network") or plan.extract
        assert source is not None  # read_plan checks it
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


# ------------------------------------------------------------ driver
def _start_cluster(workers: int | None):
    from distributed import Client, LocalCluster

    n = workers or max(1, min(os.cpu_count() or 1, 4))
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=50,
    )
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
    plan = plan if isinstance(plan, Plan) else read_plan(Path(plan))
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    prepared: list[_Prepared] = []
    memo: dict = {}  # shared inputs read once for all the areas split from them
    for area in plan.areas:
        try:
            prepared.append(_prepare(area, plan, out, memo))
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
    say(
        f"batch: {len(plan.areas)} areas, {len(todo)} to compute, {len(plan.areas) - len(todo) - sum(p.error is not None for p in prepared)} unchanged"
    )

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
            if own and cluster is not None:
                client.close()
                cluster.close()

    table = pd.DataFrame([rows[a.name] for a in plan.areas])
    first = ["area", "status", "message", "recomputed", "total_weight", "population", "unreachable_population"]
    shares = sorted(c for c in table.columns if c.startswith(("covered_", "complete_")))
    rest = [c for c in table.columns if c not in first and c not in shares]
    table = table.reindex(
        columns=[*first, *shares, *[c for c in rest if c not in ("runtime_s", "key")], "runtime_s", "key"]
    )
    table["message"] = table["message"].fillna("")
    write_table(table, out, lang=lang)
    n_failed = int((table["status"] == "failed").sum())
    say(
        f"batch: done in {time.perf_counter() - started:.1f} s: {len(table) - n_failed} ok, {n_failed} failed; "
        f"wrote {out / 'areas.csv'} and {out / 'areas.xlsx'}"
    )
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
        cuts[source] = client.submit(
            cut_task, source, polys, halos, cache, key=f"cut-{uuid.uuid4().hex[:12]}", pure=False
        )

    futures = {}
    for p in todo:
        job = p.job
        assert job is not None
        if job.tiles > 1:
            from .tiles import tile_task

            parts = [
                client.submit(tile_task, job, i, key=f"tile-{job.name}-{i}-{uuid.uuid4().hex[:6]}", pure=False)
                for i in range(job.tiles)
            ]
            fut = client.submit(run_area, job, None, parts, key=f"area-{job.name}-{uuid.uuid4().hex[:8]}", pure=False)
        else:
            fut = client.submit(
                run_area, job, cuts.get(p.cut_group or ""), key=f"area-{job.name}-{uuid.uuid4().hex[:8]}", pure=False
            )
        futures[fut] = p
    done = n_all - len(todo)
    for fut in as_completed(list(futures)):
        p = futures[fut]
        try:
            row = fut.result()
        except Exception as exc:  # noqa: BLE001 - e.g. a cut task failing or a task killed too often
            row = {
                "area": p.area.name,
                "status": "failed",
                "message": _exc_message(exc),
                "recomputed": True,
                "key": p.job.key if p.job else "",
            }
        rows[p.area.name] = row
        done += 1
        extra = f": {row['message']}" if row["status"] != "ok" else f" ({row.get('runtime_s', 0):.1f} s)"
        filled = round(20 * done / max(n_all, 1))
        bar = "#" * filled + "." * (20 - filled)
        say(f"[{p.area.name}] {row['status']}{extra}  [{bar}] {done}/{n_all} areas done")
    if subscribed:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(TOPIC)


def _exc_message(exc: BaseException) -> str:
    text = str(exc)
    return text if isinstance(exc, LifecircleError) else f"{type(exc).__name__}: {text}"
