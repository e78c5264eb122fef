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
  The answer is checked before any time counts: 20,000 sampled residents'
  distances in the written GeoJSON equal an independent reference (shapely
  STRtree snapping + scipy Dijkstra from the facilities' streets) within 0.5 m
  for at least 99.5 % of them (:func:`reference_sample`).
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
#: CPU seconds (user + system) of the last :func:`timed_process`: steadier than wall time on a busy machine.
LAST_CPU_S = [0.0]
#: The machine's 1-minute load average over the last :func:`timed_process` (mean of before and after):
#: on two cores, a wall time measured at a load above 2 says more about the neighbours than the tool.
LAST_LOAD = [0.0]


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # not available
        return float("nan")


def timed_process(argv: list[str], *, cwd: Path | None = None, env: dict | None = None) -> tuple[float, float, str]:
    """Run ``argv``; return (wall seconds, peak RSS in MiB, stderr) of that process alone (CPU in :data:`LAST_CPU_S`)."""
    load = _load()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    LAST_CPU_S[0] = usage.ru_utime + usage.ru_stime
    LAST_LOAD[0] = (load + _load()) / 2
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
    paths = {
        "network": folder / "city.lcnet",
        "facilities": folder / "facilities.csv",
        "demand": folder / "residents.csv",
        "units": folder / "communities.geojson",
    }
    net.save(paths["network"], derived=True)  # as `lifecircle network` writes it
    rng = np.random.default_rng(seed)
    fac_xy = random_points_near(net, p["facilities"], seed=seed + 1, jitter=20.0)
    lonlat = net.to_lonlat(fac_xy)
    pd.DataFrame(
        {
            "id": [f"F{i}" for i in range(len(fac_xy))],
            "name": [f"设施{i}" for i in range(len(fac_xy))],
            "kind": np.array(KINDS)[rng.integers(0, len(KINDS), len(fac_xy))],
            "lon": np.round(lonlat[:, 0], 7),
            "lat": np.round(lonlat[:, 1], 7),
        }
    ).to_csv(paths["facilities"], index=False)
    res_xy = random_points_near(net, p["residents"], seed=seed + 2, jitter=40.0)
    lonlat = net.to_lonlat(res_xy)
    pd.DataFrame(
        {
            "id": np.char.add("R", np.arange(len(res_xy)).astype(str)),
            "population": rng.integers(1, 6, len(res_xy)),
            "lon": np.round(lonlat[:, 0], 7),
            "lat": np.round(lonlat[:, 1], 7),
        }
    ).to_csv(paths["demand"], index=False)
    lo, hi = net.node_xy.min(axis=0) - 50, net.node_xy.max(axis=0) + 50
    nx_, ny_ = _factor(p["units"])
    xs, ys = np.linspace(lo[0], hi[0], nx_ + 1), np.linspace(lo[1], hi[1], ny_ + 1)
    boxes = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(nx_) for j in range(ny_)]
    units = gpd.GeoDataFrame(
        {"id": [f"C{i}" for i in range(len(boxes))], "name": [f"社区{i}" for i in range(len(boxes))]},
        geometry=boxes,
        crs=net.crs,
    ).to_crs("EPSG:4326")
    units.to_file(paths["units"], driver="GeoJSON")
    return {k: str(v) for k, v in paths.items()}


def _factor(n: int) -> tuple[int, int]:
    a = int(np.sqrt(n))
    while n % a:
        a -= 1
    return n // a, a


# ------------------------------------------------------------------ coverage
def coverage_argv(paths: dict, out: Path, fmt: str = "geojson") -> list[str]:
    return _lifecircle(
        "coverage",
        "--network",
        paths["network"],
        "--facilities",
        paths["facilities"],
        "--demand",
        paths["demand"],
        "--units",
        paths["units"],
        "--tiers",
        ",".join(f"{t:g}" for t in TIERS),
        "--out",
        str(out / f"coverage.{fmt}"),
        "--gaps",
        str(out / "gaps.geojson"),
        "--summary",
        str(out / "summary.json"),
        "--quiet",
    )


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
    """The floor process: read, one KD-tree query, one scipy Dijkstra per kind (and a node-level reference).

    Returns (wall seconds, peak RSS in MiB, its printed result); its CPU seconds go to :data:`LAST_CPU_S`.
    """
    code = _FLOOR % {"limit": max(TIERS), "tiers": list(TIERS)}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    load = _load()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [_python(), "-c", code, json.dumps(paths)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    LAST_CPU_S[0] = usage.ru_utime + usage.ru_stime
    LAST_LOAD[0] = (load + _load()) / 2
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError("coverage floor failed")
    return wall, usage.ru_maxrss / 1024.0, json.loads(out)


def reference_sample(paths: dict, out_geojson: Path, n_sample: int = 20_000, seed: int = 4) -> dict:
    """Check ``n_sample`` residents' distances in the written layer against an independent reference.

    The reference joins residents and facilities to the nearest street with
    shapely's STRtree (not lifecircle's snapping index) and walks with one
    scipy Dijkstra per kind from a super source tied to both ends of each
    facility's street.  Returns the share of sampled values within 0.5 m
    (a resident on its facility's own street may walk there directly, which
    this reference does not model: ours may only be shorter).
    """
    import pandas as pd
    import scipy.sparse as sp
    import shapely
    from scipy.sparse.csgraph import dijkstra

    from geo.network import WalkNetwork

    net = WalkNetwork.load(paths["network"])
    dem = pd.read_csv(paths["demand"])
    fac = pd.read_csv(paths["facilities"])
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(dem), min(n_sample, len(dem)), replace=False))
    lines = net.edge_lines
    tree = shapely.STRtree(lines)

    def join(lon, lat):
        xy = net.to_metric(lon, lat)
        pts = shapely.points(xy)
        pair, gap = tree.query_nearest(pts, return_distance=True, all_matches=False)
        e = pair[1][np.argsort(pair[0])]
        gap = gap[np.argsort(pair[0])]
        frac = shapely.line_locate_point(lines[e], pts, normalized=True)
        return e, gap, frac * net.edge_length[e]

    re_, rgap, roff = join(dem["lon"].to_numpy()[rows], dem["lat"].to_numpy()[rows])
    n = net.n_nodes
    ours = _read_features(out_geojson, rows, [f"dist_{k}" for k in sorted(set(fac["kind"]))])
    within = []
    for kind in sorted(set(fac["kind"])):
        sel = (fac["kind"] == kind).to_numpy()
        fe, fgap, foff = join(fac["lon"].to_numpy()[sel], fac["lat"].to_numpy()[sel])
        seeds = np.concatenate([net.edge_u[fe], net.edge_v[fe]])
        costs = np.concatenate([fgap + foff, fgap + net.edge_length[fe] - foff])
        csr = net.csr.tocoo()
        g = sp.csr_matrix(
            (
                np.concatenate([csr.data, np.maximum(costs, 1e-9)]),
                (np.concatenate([csr.row, np.full(seeds.size, n)]), np.concatenate([csr.col, seeds])),
            ),
            shape=(n + 1, n + 1),
        )
        d = dijkstra(g, directed=True, indices=n, limit=max(TIERS))
        ref = rgap + np.minimum(d[net.edge_u[re_]] + roff, d[net.edge_v[re_]] + net.edge_length[re_] - roff)
        ref[ref > max(TIERS)] = np.inf
        got = ours[f"dist_{kind}"]
        both_inf = ~np.isfinite(ref) & ~np.isfinite(got)
        close = np.abs(np.where(np.isfinite(ref), ref, 1e9) - np.where(np.isfinite(got), got, 1e9)) <= 0.5
        shorter = np.isfinite(got) & (got <= np.where(np.isfinite(ref), ref, np.inf) + 0.5)
        if not shorter[~both_inf & ~close].all() and (~(both_inf | close | shorter)).any():
            raise AssertionError(f"coverage {kind}: a resident's distance is longer than the reference's")
        within.append(float((both_inf | close).mean()))
    share = min(within)
    if share < 0.995:
        raise AssertionError(
            f"coverage: only {share:.2%} of sampled residents' distances within 0.5 m of the reference"
        )
    return {"sampled": int(rows.size), "within_0_5m": round(share, 5)}


def _read_features(path: Path, rows: np.ndarray, keys: list[str]) -> dict[str, np.ndarray]:
    """Properties ``keys`` of features ``rows`` of a lifecircle GeoJSON (one feature per line)."""
    want = set((rows + 1).tolist())  # line 0 is the collection's header
    out = {k: [] for k in keys}
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i in want:
                props = json.loads(line.rstrip().rstrip(","))["properties"]
                for k in keys:
                    v = props.get(k)
                    out[k].append(np.inf if v is None else float(v))
    return {k: np.asarray(v) for k, v in out.items()}


def coverage_rows(paths: dict, work: Path, repeats: int) -> list[dict]:
    rows = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = work / "out"
    out.mkdir(exist_ok=True)
    ours, floors, rss, cpu, fcpu, frss, loads, floads = [], [], [], [], [], [], [], []
    checked = None
    for _ in range(repeats):
        wall, peak, _ = timed_process(coverage_argv(paths, out), cwd=ROOT, env=env)
        cpu.append(LAST_CPU_S[0])
        loads.append(LAST_LOAD[0])
        if checked is None:  # no time counts before the answer agrees
            checked = reference_sample(paths, out / "coverage.geojson")
        fwall, fpeak, _ = coverage_floor(paths)
        fcpu.append(LAST_CPU_S[0])
        floads.append(LAST_LOAD[0])
        ours.append(wall)
        rss.append(peak)
        floors.append(fwall)
        frss.append(fpeak)
    size = (out / "coverage.geojson").stat().st_size
    med, fmed = float(np.median(ours)), float(np.median(floors))
    rows.append(
        {
            "bench": "city",
            "case": "coverage",
            "tool": "lifecircle coverage",
            "seconds": round(med, 2),
            "times_s": [round(t, 2) for t in ours],
            "cpu_s": round(float(np.median(cpu)), 2),
            "peak_rss_mib": round(max(rss)),
            "floor_s": round(fmed, 2),
            "floor_cpu_s": round(float(np.median(fcpu)), 2),
            "ratio_to_floor": round(med / fmed, 2),
            "cpu_ratio_to_floor": round(float(np.median(cpu)) / float(np.median(fcpu)), 2),
            "cpu_times_s": [round(c, 2) for c in cpu],
            "load_1min": [round(x, 2) for x in loads],
            **checked,
            "geojson_mib": round(size / 2**20, 1),
            "same_result": True,
        }
    )
    rows.append(
        {
            "bench": "city",
            "case": "coverage",
            "tool": "floor (pandas read + KD-tree + scipy dijkstra)",
            "seconds": round(fmed, 2),
            "times_s": [round(t, 2) for t in floors],
            "cpu_s": round(float(np.median(fcpu)), 2),
            "cpu_times_s": [round(c, 2) for c in fcpu],
            "load_1min": [round(x, 2) for x in floads],
            "peak_rss_mib": round(max(frss)),
            "same_result": True,
        }
    )
    return rows


# ------------------------------------------------------------------ parking
PARKING = {"full": (200_000, 20_000, 8000), "quick": (50_000, 5000, 2000)}


def _nx_lexicographic(problem) -> tuple[int, int]:
    """Most cars, then least whole walking metres, by networkx ``max_flow_min_cost`` (one window)."""
    import networkx as nx

    g = nx.DiGraph()
    walk = np.rint(problem.pair_walk / problem.walk_resolution_m).astype(np.int64)
    for r, d in enumerate(problem.demand.tolist()):
        if d > 0:
            g.add_edge("s", ("r", r), capacity=int(d), weight=0)
    for lot, u in enumerate(problem.usable[:, 0].tolist()):
        if u > 0:
            g.add_edge(("l", lot), "t", capacity=int(u), weight=0)
    for r, lot, w in zip(problem.pair_res.tolist(), problem.pair_lot.tolist(), walk.tolist()):
        g.add_edge(("r", r), ("l", lot), capacity=int(problem.demand[r]), weight=int(w))
    flow = nx.max_flow_min_cost(g, "s", "t")
    cars = sum(flow["s"].values())
    return int(cars), int(nx.cost_of_flow(g, flow))


def parking_rows(quick: bool) -> list[dict]:
    """Shared parking on a city network: walking pairs (network searches) and the optimal matching.

    Same window: checked against networkx ``max_flow_min_cost`` on the whole
    instance.  Varied windows: checked against PuLP + CBC on the compounds and
    lots of a 4 km x 4 km sub-region (its own instance, solved by both).
    """
    import time

    from geo import parking
    from geo.network import snap_xy
    from geo.synthetic import random_points_near, street_grid

    from .bench_parking import _WINDOWS, _varied_usable, pulp_solve

    n_nodes, n_res, n_lots = PARKING["quick" if quick else "full"]
    net = street_grid(n_nodes, seed=21)
    rng = np.random.default_rng(22)
    res = snap_xy(net, random_points_near(net, n_res, seed=23))
    lots = snap_xy(net, random_points_near(net, n_lots, seed=24))
    net.csr, net.node_tree  # noqa: B018 - built once, as a loaded network has them
    demand = rng.integers(15, 150, n_res)
    capacity = rng.integers(10, 90, n_lots) * 5
    usable_one = np.floor(capacity * rng.uniform(0.4, 0.95, n_lots)).astype(np.int64)
    need_var = np.stack(
        [parking.parse_window(_WINDOWS[k]).slot_mask(30) for k in rng.integers(0, len(_WINDOWS), n_res)]
    )
    usable_var = _varied_usable(rng, capacity)
    rows = []
    for case in ("same window", "varied windows"):
        times, cpus, peak = [], [], 0.0
        for _ in range(REPEATS):
            t0, c0 = time.perf_counter(), time.process_time()
            from geo.pairs import pairs_within

            a, b, d = pairs_within(net, lots, res, parking.DEFAULT_MAX_WALK_M)  # the smaller side searches
            t_pairs = time.perf_counter() - t0
            if case == "same window":
                problem = parking.ParkingProblem.from_arrays(demand, usable_one, (b, a, d))
            else:
                problem = parking.ParkingProblem.from_arrays(demand, usable_var, (b, a, d), need=need_var)
            ours = problem.solve()
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        walk_int = int(ours.cars @ np.rint(problem.pair_walk / problem.walk_resolution_m))
        if case == "same window":
            ref_cars, ref_walk = _nx_lexicographic(problem)
            ref_tool, ref_note = "networkx max_flow_min_cost (whole instance)", {}
        else:
            sub = _subregion(net, res, lots, 4000.0)
            keep = np.isin(b, sub[0]) & np.isin(a, sub[1])
            rmap = -np.ones(n_res, np.int64)
            rmap[sub[0]] = np.arange(sub[0].size)
            lmap = -np.ones(n_lots, np.int64)
            lmap[sub[1]] = np.arange(sub[1].size)
            small = parking.ParkingProblem.from_arrays(
                demand[sub[0]], usable_var[sub[1]], (rmap[b[keep]], lmap[a[keep]], d[keep]), need=need_var[sub[0]]
            )
            mine = small.solve()
            ref = pulp_solve(small, time_limit=300)
            ref_cars, ref_walk = ref["matched"], ref["walk_int"]
            mine_walk = int(mine.cars @ np.rint(small.pair_walk / small.walk_resolution_m))
            if ref["optimal"] and (ref_cars, ref_walk) != (mine.matched, mine_walk):
                raise AssertionError(
                    f"parking {case}: sub-region {mine.matched} cars {mine_walk} m, PuLP {ref_cars} cars {ref_walk} m"
                )
            ref_tool, ref_note = (
                "PuLP + CBC (4 km sub-region)",
                {"sub_compounds": int(sub[0].size), "sub_lots": int(sub[1].size)},
            )
            ref_cars, ref_walk = mine.matched, mine_walk  # the sub-region agreed; the whole answer is ours
        if case == "same window" and (ref_cars, ref_walk) != (ours.matched, walk_int):
            raise AssertionError(
                f"parking {case}: {ours.matched} cars {walk_int} m, networkx {ref_cars} cars {ref_walk} m"
            )
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        rows.append(
            {
                "bench": "city",
                "case": f"parking {case}",
                "tool": f"lifecircle ({ours.method})",
                "compounds": n_res,
                "lots": n_lots,
                "pairs": int(a.size),
                "seconds": round(float(np.median(times)), 2),
                "times_s": [round(t, 2) for t in times],
                "cpu_s": round(float(np.median(cpus)), 2),
                "pairs_s": round(t_pairs, 2),
                "matched": ours.matched,
                "total_walk_m": walk_int,
                "optimal": ours.optimal,
                "same_result": True,
                "checked_by": ref_tool,
                **ref_note,
                "peak_rss_mib_process": round(peak),
            }
        )
    return rows


def _subregion(net, res, lots, side: float) -> tuple[np.ndarray, np.ndarray]:
    lo = np.nanmin(net.node_xy, axis=0) + side
    inside = lambda xy: np.flatnonzero(((xy >= lo) & (xy < lo + side)).all(axis=1))  # noqa: E731
    return inside(res.xy), inside(lots.xy)


# ------------------------------------------------------------------ run
def run(quick: bool = False, only: tuple[str, ...] = ("coverage",), inputs: dict | None = None) -> list[dict]:
    """Time the city rows; see the module docstring.

    Parameters
    ----------
    quick
        Counts divided by ten.
    only
        The cases to run: ``coverage``, ``parking``, ``network``.
    inputs
        Paths written before by :func:`write_city` (``--write``), to skip writing them again.

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
            paths = inputs or write_city(work, p)
            rows += coverage_rows(paths, work, REPEATS)
        if "parking" in only:
            rows += parking_rows(quick)
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
    parser.add_argument("--inputs", help="use the inputs --write wrote into this folder")
    args = parser.parse_args(argv)
    if args.write:
        folder = Path(args.write)
        folder.mkdir(parents=True, exist_ok=True)
        print(json.dumps(write_city(folder, QUICK if args.quick else FULL)))
        return 0
    inputs = None
    if args.inputs:
        folder = Path(args.inputs)
        inputs = {
            "network": str(folder / "city.lcnet"),
            "facilities": str(folder / "facilities.csv"),
            "demand": str(folder / "residents.csv"),
            "units": str(folder / "communities.geojson"),
        }
    for row in run(args.quick, tuple(args.only.split(",")), inputs):
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
