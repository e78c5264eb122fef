"""Builders shared by several test modules (so no test module imports another's helpers)."""

from __future__ import annotations

import numpy as np
import pyproj
import shapely

from geo import network, reach, siting
from tests import reference as ref

__all__ = ["placements", "compare_nearest", "reference_nearest", "DEFAULT_LIMIT"]

#: Search radius of :func:`compare_nearest` unless told.
DEFAULT_LIMIT = 1000.0


def placements(graph, rng, count, prefix, *, on_nodes: bool):
    """Random points on nodes or mid-edge that are unambiguous (>1 m from any other edge)."""
    edges = [(u, v) for u, v, d in graph.edges(data=True) if d["length"] > 15]
    lines = [shapely.LineString(ref.edge_coords(graph, u, v)) for u, v in edges]
    tree = shapely.STRtree(lines)
    out, xy = [], []
    while len(out) < count:
        k = int(rng.integers(len(edges)))
        u, v = edges[k]
        t = 0.0 if on_nodes else float(rng.uniform(0.2, 0.8))
        p = ref.point_on_edge(graph, u, v, t)
        if not on_nodes:
            near = tree.query(shapely.Point(p), predicate="dwithin", distance=1.0)
            if len(near) != 1:
                continue
        out.append((f"{prefix}{len(out)}", u, v, t))
        xy.append(p)
    return out, np.array(xy)


def compare_nearest(net, graph, to_m, rng, n_fac=12, n_dem=300, limit=DEFAULT_LIMIT):
    """Assert lifecircle's nearest-facility distances equal networkx on random placements."""
    fac, fac_xy = placements(graph, rng, n_fac, "f", on_nodes=False)
    dem_nodes, dn_xy = placements(graph, rng, n_dem // 2, "n", on_nodes=True)
    dem_mid, dm_xy = placements(graph, rng, n_dem // 2, "m", on_nodes=False)
    g = ref.insert_points(graph, fac + dem_nodes + dem_mid)
    names = [p[0] for p in dem_nodes + dem_mid]
    expected = ref.nearest_source_distances(g, [p[0] for p in fac], names, limit)
    back = pyproj.Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)

    def snap(xy):
        lon, lat = back.transform(xy[:, 0], xy[:, 1])
        return network.snap_lonlat(net, lon, lat)

    got = reach.nearest_distances(net, snap(fac_xy), snap(np.vstack([dn_xy, dm_xy])), limit=limit)
    # points right at the limit may fall either side by rounding
    clear = (np.abs(expected - limit) > 0.5) & (np.abs(got - limit) > 0.5)
    fin = np.isfinite(expected) & clear
    assert np.isfinite(got[fin]).all()
    assert np.abs(got[fin] - expected[fin]).max() < 0.5
    assert not np.isfinite(got[~np.isfinite(expected) & clear]).any()
    assert fin.sum() > 30, "the test should exercise many reached points"
    return expected, got


def reference_nearest(graph, sources_xy, targets_xy, limit, *, snap_limit=300.0):
    """Distance from each target to the nearest source: shapely snapping + plain networkx.

    Each point joins the nearest edge of ``graph`` (found by brute force over shapely lines, not
    by lifecircle's index) at its projection; the straight gap counts as walking, as the README
    says. Returns ``inf`` beyond ``limit``.
    """
    import networkx as nx

    edges = [(u, v) for u, v in graph.edges()]
    lines = np.array([shapely.LineString(ref.edge_coords(graph, u, v)) for u, v in edges])
    tree = shapely.STRtree(lines)

    def join(xy, prefix):
        pts = shapely.points(np.asarray(xy, dtype=float))
        idx = tree.query_nearest(pts, all_matches=False, return_distance=False)[1]
        out, gaps = [], []
        for i, (p, k) in enumerate(zip(pts, idx)):
            u, v = edges[k]
            t = float(shapely.line_locate_point(lines[k], p, normalized=True))
            out.append((f"{prefix}{i}", u, v, min(max(t, 0.0), 1.0)))
            gaps.append(float(shapely.distance(lines[k], p)))
        return out, np.array(gaps)

    src, src_gap = join(sources_xy, "s")
    dst, dst_gap = join(targets_xy, "t")
    g = ref.insert_points(graph, src + dst)
    g.add_node("__super__")
    for (name, *_), gap in zip(src, src_gap):
        if gap <= snap_limit:
            g.add_edge("__super__", name, length=gap)
    dist = nx.single_source_dijkstra_path_length(g, "__super__", cutoff=limit, weight="length")
    out = np.array([dist.get(name, np.inf) for name, *_ in dst]) + dst_gap
    out[out > limit] = np.inf
    out[dst_gap > snap_limit] = np.inf
    return out


def random_cover(seed: int, n_cand: int, n_dem: int, radius: float) -> siting.CoverSets:
    """Candidates and demand at random points of a unit square; a pair when within ``radius``."""
    rng = np.random.default_rng(seed)
    cand_xy, dem_xy = rng.uniform(0, 1, (n_cand, 2)), rng.uniform(0, 1, (n_dem, 2))
    d = np.hypot(*(cand_xy[:, None, :] - dem_xy[None, :, :]).transpose(2, 0, 1))
    c, t = np.nonzero(d <= radius)
    weight = np.round(rng.lognormal(3.0, 0.8, n_dem))
    return siting.CoverSets.from_pairs(c, t, weight, n_candidates=n_cand)
