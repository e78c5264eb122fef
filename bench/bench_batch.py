"""Batch on Dask: areas per minute with one and two workers, Dask's overhead, peak worker memory.

The plan holds N copies (default 8) of the demo district (its network, facilities and
demand: a demo-sized area each, about 3 x 2.7 km).  Reported:

* ``loop_s``: the same areas run one after another in this process through the same code
  (``lifecircle coverage`` in-process, as a plain Python loop would);
* ``dask_1w_s`` / ``dask_2w_s``: :func:`geo.batch.run_plan` on a ``LocalCluster`` of one / two
  single-threaded worker processes on 127.0.0.1 (cluster start-up timed apart as
  ``startup_*_s``, with the workers' first imports), each into a fresh output folder so every area is computed;
* areas per minute of each, the scaling ratio 1 -> 2 workers, and the overhead of the
  one-worker Dask run against the loop;
* ``area_task_sum_*_s``: the areas' own task times summed (the rest of a run is Dask's);
* every time is the best of ``--repeat`` runs (default 3): other load on the machine only slows runs down;
* ``peak_worker_mb``: the largest peak RSS of a worker after the two-worker run, beside
  ``alone_mb``, the peak RSS of one process running the largest area alone.

The network cache is warmed first, so all runs read the same ``.lcnet``.  Run
``python -m bench.bench_batch [--areas N]`` (about 1-3 minutes on two free cores); ``run(n)``
returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _plan(folder: Path, files: dict, n: int) -> Path:
    text = "[defaults]\ntiers = [300, 1000]\n"
    for i in range(n):
        text += (
            f'[[areas]]\nname = "area{i:02d}"\nnetwork = "{files["network"]}"\n'
            f'facilities = "{files["facilities"]}"\ndemand = "{files["demand"]}"\n'
        )
    path = folder / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _argv(files: dict, out: Path) -> list[str]:
    return [
        "coverage",
        "--network",
        str(files["network"]),
        "--facilities",
        str(files["facilities"]),
        "--demand",
        str(files["demand"]),
        "--tiers",
        "300,1000",
        "--quiet",
        "--out",
        str(out / "coverage.geojson"),
        "--summary",
        str(out / "summary.json"),
    ]


def _warm() -> None:
    """Import what an area needs (once per worker process, as in any long batch)."""
    import lifecircle.apps.cli as cli
    import lifecircle.geo.batch.run  # noqa: F401
    import lifecircle.geo.coverage  # noqa: F401

    cli.build_parser()


def _dask(plan: Path, out: Path, workers: int, repeat: int = 3) -> tuple[float, float, float, float]:
    """(start-up s incl. imports on the workers, run s, largest worker peak RSS in MB, sum of area runtimes s)."""
    from distributed import Client, LocalCluster

    from geo.batch import run_plan

    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        client.run(_warm)
        t1 = time.perf_counter()
        best = float("inf")
        for k in range(repeat):  # best of `repeat`, each into a fresh folder (every area computed)
            s0 = time.perf_counter()
            table = run_plan(plan, client, out_dir=out / f"rep{k}", progress=False)
            best = min(best, time.perf_counter() - s0)
            assert (table["status"] == "ok").all(), table[["area", "message"]]
            assert table["recomputed"].all()
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return t1 - t0, best, max(peaks.values()) / 1024, float(table["runtime_s"].sum())


def run(n: int = 8, repeat: int = 3) -> dict:
    """Run the benchmark on ``n`` demo-sized areas, best of ``repeat`` runs each; return the figures."""
    from geo import demo, network

    tmp = Path(tempfile.mkdtemp(prefix="bench_batch."))
    os.environ.setdefault("LIFECIRCLE_CACHE", str(tmp / "cache"))
    files = demo.write_demo_files(tmp / "demo")
    network.load_network(files["network"])  # warm the cache: every run reads the same .lcnet
    plan = _plan(tmp, files, n)

    from lifecircle.apps.cli import main

    loop_s = float("inf")
    for k in range(repeat):
        t0 = time.perf_counter()
        for i in range(n):
            out = tmp / f"loop{k}" / f"area{i:02d}"
            out.mkdir(parents=True)
            assert main(_argv(files, out)) == 0
        loop_s = min(loop_s, time.perf_counter() - t0)

    start1, dask1, _, busy1 = _dask(plan, tmp / "dask1", 1, repeat)
    start2, dask2, peak, busy2 = _dask(plan, tmp / "dask2", 2, repeat)

    # the largest area alone in a fresh process: its peak RSS
    out = tmp / "alone"
    out.mkdir()
    code = (
        "import resource, sys; from lifecircle.apps.cli import main; rc = main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, *_argv(files, out)], capture_output=True, text=True, check=True, env={**os.environ}
    )
    alone_mb = int(r.stdout.strip().splitlines()[-1]) / 1024

    per_min = lambda s: round(n * 60.0 / s, 1)  # noqa: E731
    return {
        "areas": n,
        "repeat": repeat,
        "loop_s": round(loop_s, 2),
        "dask_1w_s": round(dask1, 2),
        "dask_2w_s": round(dask2, 2),
        "startup_1w_s": round(start1, 2),
        "startup_2w_s": round(start2, 2),
        "area_task_sum_1w_s": round(busy1, 2),
        "area_task_sum_2w_s": round(busy2, 2),
        "areas_per_min_loop": per_min(loop_s),
        "areas_per_min_1w": per_min(dask1),
        "areas_per_min_2w": per_min(dask2),
        "scaling_1_to_2": round(dask1 / dask2, 2),
        "overhead_1w_vs_loop": round(dask1 / loop_s - 1.0, 3),
        "peak_worker_mb": round(peak, 1),
        "alone_mb": round(alone_mb, 1),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--areas", type=int, default=8, help="demo-sized areas in the plan (default 8)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each configuration; the best counts (default 3)")
    args = ap.parse_args(argv)
    print(json.dumps(run(args.areas, args.repeat), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
