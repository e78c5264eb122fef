"""Life-circle evaluation: 100,000 demand points x 10 kinds x 3 tiers, beside networkx.

The instance: the 200k-node synthetic street grid (:func:`geo.synthetic.street_grid`, about
36 km x 36 km of 80 m blocks), 10 facility kinds of 1,500 facilities each at random nodes, and
100,000 demand points at random nodes (so that networkx, which knows only nodes, answers the
same question), a pack of three tiers (300 / 500 / 1000 m) each requiring all 10 kinds.

* lifecircle: :func:`geo.evaluate.evaluate` after the network is loaded (snapping, one bounded
  multi-source search per kind, the per-tier completeness) - target under 2 s; its row also
  gives the CPU seconds and the process's peak RSS up to then (network included, no anchor yet);
* networkx: ``multi_source_dijkstra_path_length`` per kind with the 1000 m cutoff, combined by
  hand per tier (the anchor; its complete counts must equal lifecircle's).

* cityseer (requirements-bench.txt): ``layers.compute_accessibilities`` over the same graph
  (string node keys, the edges' own geometry), whose ``cc_<kind>_nearest_max_1000`` is each
  node's distance to the nearest facility of the kind; combined per tier the same way.  cityseer
  computes every node of the network, not only the demand's, in Rust on all cores; its
  ``network_structure_from_nx`` build is timed apart (``structure_s``).  When cityseer is not
  installed the row says so instead of timing it.

Run ``python -m bench.bench_evaluate [--quick]`` (``--quick``: 50k nodes, 20,000 demand points).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

N_KINDS = 10
PER_KIND = 1500
TIERS = (("5min", 300.0), ("10min", 500.0), ("15min", 1000.0))
FULL = dict(nodes=200_000, demand=100_000, per_kind=PER_KIND)
QUICK = dict(nodes=50_000, demand=20_000, per_kind=400)


def _pack(path: Path) -> Path:
    kinds = ", ".join(f'"k{i}"' for i in range(N_KINDS))
    text = 'name = "bench"\nversion = "1"\n' + "".join(
        f'[[tiers]]\nkey = "{k}"\nmetres = {m:g}\nkinds = [{kinds}]\n' for k, m in TIERS
    )
    path.write_text(text, encoding="utf-8")
    return path


def run(
    quick: bool = False, *, networkx: bool = True, cityseer: bool = True, per_kind: int | None = None
) -> list[dict]:
    """Run the benchmark; return rows (tool, seconds, complete counts per tier)."""
    import geopandas as gpd

    from geo import evaluate as E
    from geo import synthetic

    cfg = dict(QUICK if quick else FULL)
    if per_kind:
        cfg["per_kind"] = per_kind
    t0 = time.perf_counter()
    net = synthetic.street_grid(cfg["nodes"], seed=0)
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    fac_nodes = rng.choice(net.n_nodes, N_KINDS * cfg["per_kind"], replace=False)
    fac_kind = np.array([f"k{i % N_KINDS}" for i in range(fac_nodes.size)])
    dem_nodes = rng.choice(net.n_nodes, cfg["demand"], replace=True)
    fac = gpd.GeoDataFrame(
        {"id": [f"f{i}" for i in range(fac_nodes.size)], "kind": fac_kind},
        geometry=gpd.points_from_xy(*net.node_lonlat[fac_nodes].T),
        crs="EPSG:4326",
    )
    dem = gpd.GeoDataFrame(
        {"id": np.arange(dem_nodes.size).astype(str), "weight": np.ones(dem_nodes.size)},
        geometry=gpd.points_from_xy(*net.node_lonlat[dem_nodes].T),
        crs="EPSG:4326",
    )
    std = E.load_standard(_pack(Path(tempfile.mkdtemp(prefix="lc-bench-")) / "bench.toml"))
    E.evaluate(net, fac.iloc[:50], dem.iloc[:50], std)  # warm caches (CSR, segment index)
    t0, c0 = time.perf_counter(), time.process_time()
    ev = E.evaluate(net, fac, dem, std)
    lc_s, lc_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    )  # the network and the evaluation, before any anchor
    lc = {k: int(ev.complete(k).sum()) for k, _ in TIERS}
    rows = [
        {
            "tool": "lifecircle",
            "seconds": round(lc_s, 3),
            "cpu_s": round(lc_cpu, 3),
            "peak_rss_mb": round(peak_mb, 1),
            "complete": lc,
            "network_load_s": round(load_s, 2),
            "nodes": net.n_nodes,
            "per_kind": cfg["per_kind"],
            "demand": int(dem_nodes.size),
            "kinds": N_KINDS,
            "tiers": len(TIERS),
        }
    ]
    if networkx:
        import networkx as nx

        g = nx.Graph()
        g.add_weighted_edges_from(
            zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_length.tolist()), weight="length"
        )
        t0 = time.perf_counter()
        ok = {k: np.ones(dem_nodes.size, bool) for k, _ in TIERS}
        for i in range(N_KINDS):
            src = set(fac_nodes[fac_kind == f"k{i}"].tolist())
            d = nx.multi_source_dijkstra_path_length(g, src, cutoff=TIERS[-1][1], weight="length")
            dist = np.array([d.get(int(n), np.inf) for n in dem_nodes])
            for k, m in TIERS:
                ok[k] &= dist <= m + 1e-9
        nx_s = time.perf_counter() - t0
        ref = {k: int(v.sum()) for k, v in ok.items()}
        rows.append(
            {
                "tool": "networkx",
                "seconds": round(nx_s, 3),
                "complete": ref,
                "agrees": all(abs(ref[k] - lc[k]) <= max(2, 0.0005 * dem_nodes.size) for k in ref),
            }
        )
    if cityseer:
        rows.append(_cityseer_row(net, fac_nodes, fac_kind, dem_nodes, lc))
    return rows


def _cityseer_row(net, fac_nodes: np.ndarray, fac_kind: np.ndarray, dem_nodes: np.ndarray, lc: dict) -> dict:
    """cityseer's nearest distance per kind at every node, combined per tier like the others."""
    try:
        import logging

        import geopandas as gpd
        import networkx as nx
        from cityseer.metrics import layers
        from cityseer.tools import io as cs_io
    except ImportError:
        return {"tool": "cityseer", "seconds": None, "note": "not installed (pip install -r requirements-bench.txt)"}
    logging.getLogger("cityseer").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    g = nx.MultiGraph(crs=net.crs)
    g.add_nodes_from((str(i), {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(net.node_xy.tolist()))
    lines = net.edge_lines
    g.add_edges_from((str(u), str(v), {"geom": lines[j]}) for j, (u, v) in enumerate(zip(net.edge_u, net.edge_v)))
    nodes, _edges, structure = cs_io.network_structure_from_nx(g)
    structure_s = time.perf_counter() - t0
    kinds = [f"k{i}" for i in range(N_KINDS)]
    data = gpd.GeoDataFrame({"kind": fac_kind}, geometry=gpd.points_from_xy(*net.node_xy[fac_nodes].T), crs=net.crs)
    t0 = time.perf_counter()
    out = layers.compute_accessibilities(data, "kind", kinds, nodes, structure, distances=[int(TIERS[-1][1])])
    cs_s = time.perf_counter() - t0
    at = out.reindex([str(n) for n in dem_nodes])
    ok = {k: np.ones(dem_nodes.size, bool) for k, _ in TIERS}
    for kind in kinds:
        dist = at[f"cc_{kind}_nearest_max_{int(TIERS[-1][1])}"].to_numpy(float)
        for k, m in TIERS:
            ok[k] &= np.nan_to_num(dist, nan=np.inf) <= m + 1e-6
    ref = {k: int(v.sum()) for k, v in ok.items()}
    return {
        "tool": "cityseer",
        "seconds": round(cs_s, 3),
        "complete": ref,
        "structure_s": round(structure_s, 2),
        "agrees": all(abs(ref[k] - lc[k]) <= max(2, 0.0005 * dem_nodes.size) for k in ref),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the rows; exit 1 when networkx disagrees."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-networkx", action="store_true")
    ap.add_argument("--no-cityseer", action="store_true")
    ap.add_argument("--per-kind", type=int, default=None, help=f"facilities per kind (default {PER_KIND})")
    a = ap.parse_args(argv)
    rows = run(a.quick, networkx=not a.no_networkx, cityseer=not a.no_cityseer, per_kind=a.per_kind)
    base = rows[0]["seconds"]
    for r in rows:
        ratio = f"  x{r['seconds'] / base:,.1f}" if r.get("seconds") else ""
        print(
            r["tool"],
            r.get("seconds"),
            ratio,
            r.get("complete", r.get("note")),
            {k: v for k, v in r.items() if k not in ("tool", "seconds", "complete", "note")},
        )
    return 0 if all(r.get("agrees", True) for r in rows) else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
