"""City scale, network build: ``lifecircle network --osm`` of a synthetic OpenStreetMap file beside osmnx.

The file is written with pyosmium's ``SimpleWriter`` from
:func:`geo.synthetic.street_grid_arrays` (one way per street, a curved
street's bend an extra node, 20 % footways), as ``.osm.pbf`` for lifecircle
and as ``.osm`` XML for osmnx (``graph_from_xml`` reads XML only).  Each tool
runs in its own process (wall time and peak RSS from ``os.wait4``).  Before
any time counts, the two networks must agree: total street length within
0.1 %.  Each row gives wall and CPU seconds (``ru_utime + ru_stime``) and
peak RSS of the child; on a shared machine the CPU ratio is the steadier one.
osmnx runs once by default (``--osmnx-repeats``): it takes minutes at 200k.

Run ``python -m bench.bench_city_osm [--quick] [--sizes 200000,1000000]``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .bench_city import LAST_CPU_S, ROOT, _lifecircle, _python, timed_process

__all__ = ["write_osm", "network_rows"]


def write_osm(path: Path, n_nodes: int, seed: int = 3) -> dict:
    """Write a synthetic street grid of about ``n_nodes`` nodes as an OSM file (format by extension)."""
    import osmium
    import pyproj

    from geo.synthetic import CRS, street_grid_arrays

    arr = street_grid_arrays(n_nodes, seed=seed)
    to_ll = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(arr.node_xy[:, 0], arr.node_xy[:, 1])
    n = arr.node_xy.shape[0]
    bends = [(i, g[1]) for i, g in enumerate(arr.geometry) if len(g) == 3]
    blon, blat = (
        to_ll.transform(np.array([b[1][0] for b in bends]), np.array([b[1][1] for b in bends])) if bends else ([], [])
    )
    bend_id = {i: n + 1 + k for k, (i, _) in enumerate(bends)}
    if path.exists():
        path.unlink()
    with osmium.SimpleWriter(str(path)) as w:
        for i in range(n):
            w.add_node(osmium.osm.mutable.Node(id=i + 1, location=(float(lon[i]), float(lat[i]))))
        for k in range(len(bends)):
            w.add_node(osmium.osm.mutable.Node(id=n + 1 + k, location=(float(blon[k]), float(blat[k]))))
        for e in range(arr.edge_u.shape[0]):
            refs = [int(arr.edge_u[e]) + 1, int(arr.edge_v[e]) + 1]
            if e in bend_id:
                refs.insert(1, bend_id[e])
            w.add_way(osmium.osm.mutable.Way(id=e + 1, nodes=refs, tags={"highway": str(arr.highway[e])}))
    return {"nodes": n, "ways": int(arr.edge_u.shape[0])}


_OSMNX = r"""
import sys, json, time
import osmnx as ox
t = time.perf_counter()
G = ox.graph_from_xml(sys.argv[1], simplify=True, retain_all=True)
length = sum(d["length"] for _, _, d in ox.convert.to_undirected(G).edges(data=True))
print(json.dumps({"seconds": time.perf_counter() - t, "nodes": G.number_of_nodes(), "length": length}))
"""

_OURS_CHECK = r"""
import sys, json
from geo.network import WalkNetwork
net = WalkNetwork.load(sys.argv[1])
print(json.dumps({"nodes": net.n_nodes, "length": float(net.edge_length.sum())}))
"""


def _run_json(code: str, *args: str) -> tuple[float, float, dict]:
    """Run Python ``code`` in a child; (wall s, peak RSS MiB, its last JSON line); CPU s in ``LAST_CPU_S``."""
    import subprocess
    import time

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [_python(), "-c", code, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out_text = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    LAST_CPU_S[0] = usage.ru_utime + usage.ru_stime
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"child failed: {err[-2000:]}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024.0, json.loads(out_text.strip().splitlines()[-1])


def network_rows(
    work: Path, sizes: tuple[int, ...], repeats: int, *, with_osmnx: bool = True, osmnx_repeats: int = 1
) -> list[dict]:
    """Rows: lifecircle on every size; osmnx on the smallest one (checked equal first)."""
    rows = []
    env = dict(os.environ, PYTHONPATH=str(ROOT), LIFECIRCLE_CACHE=str(work / "cache"))
    for size in sizes:
        pbf = work / f"grid{size}.osm.pbf"
        info = write_osm(pbf, size)
        out = work / f"grid{size}.lcnet"
        argv = _lifecircle("network", "--osm", str(pbf), "--out", str(out), "--quiet")
        walls, peaks, cpus = [], [], []
        for _ in range(repeats):
            wall, peak, _ = timed_process(argv, cwd=ROOT, env=env)
            walls.append(wall)
            peaks.append(peak)
            cpus.append(LAST_CPU_S[0])
        _, _, ours = _run_json(_OURS_CHECK, str(out))
        row = {
            "bench": "city",
            "case": f"network {info['nodes']:,} nodes",
            "tool": "lifecircle network --osm",
            "seconds": round(float(np.median(walls)), 2),
            "times_s": [round(t, 2) for t in walls],
            "cpu_s": round(float(np.median(cpus)), 2),
            "peak_rss_mib": round(max(peaks)),
            "nodes": ours["nodes"],
            "same_result": True,
        }
        if with_osmnx and size == min(sizes):
            xml = work / f"grid{size}.osm"
            write_osm(xml, size)
            o_walls, o_peaks, o_cpus, ref = [], [], [], None
            for _ in range(osmnx_repeats):
                wall, peak, ref = _run_json(_OSMNX, str(xml))
                o_walls.append(wall)
                o_peaks.append(peak)
                o_cpus.append(LAST_CPU_S[0])
            assert ref is not None
            same = abs(ref["length"] - ours["length"]) <= 1e-3 * ref["length"]
            if not same:
                raise AssertionError(f"network: total length {ours['length']:.0f} m, osmnx {ref['length']:.0f} m")
            o_med, o_cpu = float(np.median(o_walls)), float(np.median(o_cpus))
            row["osmnx_s"] = round(o_med, 2)
            row["ratio_osmnx"] = round(o_med / row["seconds"], 2)
            row["ratio_osmnx_cpu"] = round(o_cpu / row["cpu_s"], 2)
            rows.append(row)
            rows.append(
                {
                    "bench": "city",
                    "case": row["case"],
                    "tool": "osmnx graph_from_xml (.osm XML)",
                    "seconds": round(o_med, 2),
                    "times_s": [round(t, 2) for t in o_walls],
                    "cpu_s": round(o_cpu, 2),
                    "peak_rss_mib": round(max(o_peaks)),
                    "nodes": ref["nodes"],
                    "same_result": True,
                }
            )
        else:
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the rows as JSON lines."""
    import argparse

    from .bench_city import FULL, QUICK, REPEATS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--no-osmnx", action="store_true")
    parser.add_argument("--osmnx-repeats", type=int, default=1)
    parser.add_argument("--sizes", help="comma-separated node counts (default: the bench's two sizes)")
    args = parser.parse_args(argv)
    sizes = (QUICK if args.quick else FULL)["osm_nodes"]
    if args.sizes:
        sizes = tuple(int(v) for v in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="lc-osm-") as tmp:
        rows = network_rows(
            Path(tmp), sizes, args.repeats, with_osmnx=not args.no_osmnx, osmnx_repeats=args.osmnx_repeats
        )
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
