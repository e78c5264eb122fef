"""City scale (issue 15): ``lifecircle areas`` of 2,000 facilities x 3 tiers on 500,000 nodes.

Inputs are synthetic (:func:`geo.synthetic.street_grid`, facilities scattered 20 m
around random nodes by :func:`geo.synthetic.random_points_near`), written as a
planner hands them in (``.lcnet`` and a CSV of lon/lat).  The command runs in its
own process (``python -m lifecircle areas ... --workers 1``: one core, no
multiprocessing in the figure), timed for wall, CPU (user + system, ``os.wait4``)
and peak RSS, start-up, reading and writing the GeoJSON included.

The answer is checked before any time counts: the polygons of sampled
facilities, read back from the written GeoJSON, are the 25 m band of the streets
an independent reference reaches (the facility joined to its nearest street by
shapely's STRtree, networkx Dijkstra with the join point inserted as a node, the
reached edges cut with ``shapely.ops.substring`` and buffered by shapely with 16
segments a quarter circle), within the drawing of round ends.

Anchors measured in the same run, on samples of the same facilities:

* **osmnx recipe** - ``make_iso_polys`` of the osmnx examples
  (:func:`bench.anchors.osmnx_street_buffers`: networkx ``ego_graph`` per
  facility and tier, whole reached edges buffered 25 m and nodes 50 m, one union
  per polygon), per polygon; ``ratio`` = its CPU for all the polygons / the
  command's CPU.
* **scipy searches** - the floor of a scipy-based tool's searches alone: one
  ``dijkstra(csr, indices=[u, v], limit=1000)`` on the whole network per
  facility; beside it lifecircle's per-source search
  (:func:`geo.reach.iter_local_node_distances`), which costs what it reaches.

Run ``python -m bench.bench_city_areas [--quick] [--inputs DIR]``; rows are printed as JSON lines.
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
FULL = {"nodes": 500_000, "facilities": 2000}
QUICK = {"nodes": 50_000, "facilities": 200}
TIERS = (300.0, 500.0, 1000.0)
BUFFER_M = 25.0
CHECK_SAMPLE = 12  # facilities whose 3 polygons are checked against the reference
ANCHOR_SAMPLE = 30  # facilities the osmnx recipe draws (x 3 tiers)
SEARCH_SAMPLE = 200  # facilities searched by scipy on the whole network


# ------------------------------------------------------------------ inputs
def write_inputs(folder: Path, p: dict, seed: int = 15) -> dict:
    """Write the network (``city.lcnet``) and ``facilities.csv`` into ``folder``; return their paths."""
    import pandas as pd

    from geo.synthetic import random_points_near, street_grid

    net = street_grid(p["nodes"], seed=seed)
    paths = {"network": folder / "city.lcnet", "facilities": folder / "facilities.csv"}
    net.save(paths["network"], derived=True)  # as `lifecircle network` writes it
    xy = random_points_near(net, p["facilities"], seed=seed + 1, jitter=20.0)
    lonlat = net.to_lonlat(xy)
    pd.DataFrame(
        {
            "id": [f"F{i}" for i in range(len(xy))],
            "kind": "clinic",
            "lon": np.round(lonlat[:, 0], 7),
            "lat": np.round(lonlat[:, 1], 7),
        }
    ).to_csv(paths["facilities"], index=False)
    return {k: str(v) for k, v in paths.items()}


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def timed_process(argv: list[str]) -> dict:
    """Run ``argv``; return its wall and CPU seconds and peak RSS (MiB), of that process alone."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} ... failed: {err[-2000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024.0}


def areas_argv(paths: dict, out: Path, workers: int = 1) -> list[str]:
    tiers = ",".join(f"{t:g}" for t in TIERS)
    return [_python(), "-m", "lifecircle", "areas", "--network", paths["network"], "--facilities"]  + [
        paths["facilities"], "--tiers", tiers, "--buffer", f"{BUFFER_M:g}", "--out", str(out),
        "--workers", str(workers), "--quiet",
    ]  # fmt: skip


# ------------------------------------------------------------------ reference
class Reference:
    """Service-area bands by networkx and shapely alone, on the part of the network near a facility."""

    def __init__(self, net) -> None:
        self.net = net
        self.lines = net.edge_lines

    def band(self, xy: np.ndarray, tiers: tuple[float, ...]) -> dict[float, object]:
        """The reference polygon of a facility at metric ``xy`` for each tier."""
        import networkx as nx
        import shapely
        from shapely import ops

        net, reach_m = self.net, max(tiers) + 200.0
        near = np.flatnonzero((np.abs(net.node_xy - xy) <= reach_m).all(axis=1))
        inside = np.zeros(net.n_nodes, dtype=bool)
        inside[near] = True
        edges = np.flatnonzero(inside[net.edge_u] & inside[net.edge_v])
        tree = shapely.STRtree(self.lines[edges])
        k = int(tree.query_nearest(shapely.Point(xy))[0])
        e = int(edges[k])
        line, length = self.lines[e], float(net.edge_length[e])
        along = line.project(shapely.Point(xy))
        join = np.asarray(line.interpolate(along).coords[0])
        gap, off = float(np.hypot(*(join - xy))), along * length / line.length
        g = nx.Graph()
        for a, b, w in zip(net.edge_u[edges].tolist(), net.edge_v[edges].tolist(), net.edge_length[edges].tolist()):
            if not g.has_edge(a, b) or g[a][b]["length"] > w:
                g.add_edge(a, b, length=w)
        g.add_edge("s", int(net.edge_u[e]), length=gap + off)
        g.add_edge("s", int(net.edge_v[e]), length=gap + length - off)
        dist = nx.single_source_dijkstra_path_length(g, "s", cutoff=max(tiers), weight="length")
        out = {}
        for tier in tiers:
            pieces = [shapely.LineString([xy, join])] if gap > 0 else []
            left = tier - gap
            pieces.append(ops.substring(line, max(0.0, off - left) / length, min(length, off + left) / length, True))
            for f in edges.tolist():
                du = dist.get(int(net.edge_u[f]), np.inf)
                dv = dist.get(int(net.edge_v[f]), np.inf)
                if min(du, dv) > tier:
                    continue
                lf = float(net.edge_length[f])
                from_u, from_v = min(max(tier - du, 0.0), lf), min(max(tier - dv, 0.0), lf)
                if from_u + from_v >= lf:
                    pieces.append(self.lines[f])
                    continue
                if from_u > 0:
                    pieces.append(ops.substring(self.lines[f], 0, from_u / lf, normalized=True))
                if from_v > 0:
                    pieces.append(ops.substring(self.lines[f], 1 - from_v / lf, 1, normalized=True))
            streets = shapely.MultiLineString([p for p in pieces if p.length > 0])
            out[tier] = shapely.buffer(streets, BUFFER_M, quad_segs=16)
        return out


def check_sample(paths: dict, out_geojson: Path, n_sample: int = CHECK_SAMPLE, seed: int = 3) -> dict:
    """Compare sampled polygons of the written GeoJSON with :class:`Reference`; return the worst deviations."""
    import pandas as pd
    import pyogrio
    import shapely

    from geo.network import WalkNetwork

    net = WalkNetwork.load(paths["network"])
    fac = pd.read_csv(paths["facilities"])
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(fac), min(n_sample, len(fac)), replace=False))
    ids = fac["id"].to_numpy()[pick].tolist()
    quoted = ",".join(f"'{i}'" for i in ids)
    got = pyogrio.read_dataframe(out_geojson, where=f"facility_id IN ({quoted})").to_crs(net.crs)
    ref = Reference(net)
    xy = net.to_metric(fac["lon"].to_numpy()[pick], fac["lat"].to_numpy()[pick])
    worst = {"excess_m2": 0.0, "missing_m2": 0.0, "sym_ratio": 0.0}
    checked, ok = 0, True
    for k, fid in enumerate(ids):
        bands = ref.band(xy[k], TIERS)
        for tier, band in bands.items():
            rows = got[(got["facility_id"] == fid) & (got["tier_m"] == tier)]
            if len(rows) != 1:
                ok = False
                continue
            poly = rows.geometry.iloc[0]
            excess = float(shapely.difference(poly, shapely.buffer(band, 0.2)).area)
            missing = float(shapely.difference(band, shapely.buffer(poly, 0.9)).area)
            sym = float(poly.symmetric_difference(band).area / band.area)
            worst = {
                "excess_m2": max(worst["excess_m2"], excess),
                "missing_m2": max(worst["missing_m2"], missing),
                "sym_ratio": max(worst["sym_ratio"], sym),
            }
            ok &= excess < 0.5 and missing < 1.0 + 5e-5 * band.area and sym < 1e-2
            checked += 1
    return {"checked_polygons": checked, "agree": bool(ok and checked == len(ids) * len(TIERS)), **worst}


# ------------------------------------------------------------------ anchors
def anchor_rows(paths: dict, seed: int = 5) -> dict:
    """CPU seconds of the osmnx recipe per polygon, scipy's whole-network search per facility, and
    lifecircle's local search per facility, on samples of the facilities."""
    import pandas as pd

    from geo import reach
    from geo.network import WalkNetwork, snap_xy

    from .anchors import osmnx_street_buffers

    net = WalkNetwork.load(paths["network"])
    fac = pd.read_csv(paths["facilities"])
    xy = net.to_metric(fac["lon"].to_numpy(), fac["lat"].to_numpy())
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(fac), min(SEARCH_SAMPLE, len(fac)), replace=False)
    snapped = snap_xy(net, xy[sample])
    csr = net.csr
    from scipy.sparse.csgraph import dijkstra

    ends = np.column_stack([net.edge_u[snapped.edge], net.edge_v[snapped.edge]])
    t = time.process_time()
    for u, v in ends.tolist():
        dijkstra(csr, directed=True, indices=[u, v], limit=max(TIERS))
    scipy_s = (time.process_time() - t) / len(sample)
    t = time.process_time()
    for _ in reach.iter_local_node_distances(net, snapped, max(TIERS)):
        pass
    local_s = (time.process_time() - t) / len(sample)
    # the osmnx recipe needs a networkx graph: of the part of the city around the sample only
    few = sample[:ANCHOR_SAMPLE]
    lo, hi = xy[few].min(axis=0) - 1500.0, xy[few].max(axis=0) + 1500.0
    graph, edge_geom = _local_graph(net, lo, hi)
    nodes = np.asarray(net.node_tree.query(xy[few])[1])
    t = time.process_time()
    polys = osmnx_street_buffers(graph, edge_geom, nodes, TIERS, edge_buff=BUFFER_M)
    osmnx_s = (time.process_time() - t) / len(polys)
    return {"scipy_search_s": scipy_s, "local_search_s": local_s, "osmnx_polygon_s": osmnx_s}


def _local_graph(net, lo: np.ndarray, hi: np.ndarray):
    """The networkx graph (node ``x``/``y``, edge ``length``) and ``{(u, v): LineString}`` of the
    edges inside a box, as :func:`bench.anchors.networkx_graph` and ``edge_geometry_lookup`` hold them."""
    import networkx as nx

    keep = ((net.node_xy >= lo) & (net.node_xy <= hi)).all(axis=1)
    edges = np.flatnonzero(keep[net.edge_u] & keep[net.edge_v])
    graph = nx.Graph()
    nodes = np.flatnonzero(keep)
    graph.add_nodes_from((int(i), {"x": x, "y": y}) for i, (x, y) in zip(nodes, net.node_xy[nodes].tolist()))
    us, vs = net.edge_u[edges].tolist(), net.edge_v[edges].tolist()
    graph.add_weighted_edges_from(zip(us, vs, net.edge_length[edges].tolist()), weight="length")
    lines = net.edge_lines[edges]
    geom = {}
    for u, v, line in zip(us, vs, lines):
        geom[(u, v)] = geom[(v, u)] = line
    return graph, geom


# ------------------------------------------------------------------ run
def run(quick: bool = False, inputs: dict | None = None, workers: int = 1) -> list[dict]:
    """Check, then time, ``lifecircle areas`` beside its anchors; return the rows."""
    p = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="lc-areas-") as tmp:
        work = Path(tmp)
        paths = inputs or write_inputs(work, p)
        n_fac = len(open(paths["facilities"], encoding="utf-8").read().splitlines()) - 1
        out = work / "areas.geojson"
        timed = timed_process(areas_argv(paths, out, workers))
        check = check_sample(paths, out)
        if not check["agree"]:
            raise AssertionError(f"service areas disagree with the reference: {check}")
        anchors = anchor_rows(paths)
        n_poly = n_fac * len(TIERS)
        case = f"areas {n_fac} facilities x {len(TIERS)} tiers, {p['nodes']:,} nodes"
        return [
            {
                "case": case,
                "tool": f"lifecircle areas --workers {workers}",
                **{k: round(v, 2) for k, v in timed.items()},
                "ms_per_polygon_cpu": round(1e3 * timed["cpu_s"] / n_poly, 2),
                "check": check,
            },
            {
                "case": case,
                "tool": "osmnx recipe (ego_graph + buffered edges/nodes, one union), sample",
                "ms_per_polygon_cpu": round(1e3 * anchors["osmnx_polygon_s"], 2),
                "ratio": round(anchors["osmnx_polygon_s"] * n_poly / timed["cpu_s"], 2),
            },
            {
                "case": case,
                "tool": "scipy dijkstra(indices=[u, v], limit) per facility on the whole network, sample",
                "ms_per_search_cpu": round(1e3 * anchors["scipy_search_s"], 3),
                "searches_all_s": round(anchors["scipy_search_s"] * n_fac, 2),
                "ratio": round(anchors["scipy_search_s"] * n_fac / timed["cpu_s"], 3),
            },
            {
                "case": case,
                "tool": "lifecircle per-source search (reach.iter_local_node_distances), sample",
                "ms_per_search_cpu": round(1e3 * anchors["local_search_s"], 3),
                "ratio_scipy_over_local": round(anchors["scipy_search_s"] / anchors["local_search_s"], 1),
            },
        ]


def main(argv: list[str] | None = None) -> int:
    """Print the rows as JSON lines."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 nodes and 200 facilities")
    parser.add_argument("--inputs", help="a folder holding city.lcnet and facilities.csv (e.g. from --write)")
    parser.add_argument("--write", help="only write the inputs into this folder")
    parser.add_argument("--workers", type=int, default=1, help="--workers of the timed command (default 1)")
    args = parser.parse_args(argv)
    p = QUICK if args.quick else FULL
    if args.write:
        folder = Path(args.write)
        folder.mkdir(parents=True, exist_ok=True)
        print(json.dumps(write_inputs(folder, p)))
        return 0
    inputs = None
    if args.inputs:
        folder = Path(args.inputs)
        inputs = {"network": str(folder / "city.lcnet"), "facilities": str(folder / "facilities.csv")}
    for row in run(args.quick, inputs, args.workers):
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
