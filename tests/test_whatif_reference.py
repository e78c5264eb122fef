"""The what-if engine (geo.siting.WhatIf) against an independent reference: networkx Dijkstra, brute-force coverage.

The reference splits every street at the points joined to it (stations and residents), so a walk
along one street between two points on it is an ordinary path; a point's distance to the street
(``gap``) counts as walking at both ends, as the engine's docstrings say.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from geo import coverage, network, siting
from geo.synthetic import random_points_near, street_grid

TIERS = (300.0, 600.0)


def _reference(net, stations: network.Snapped, samples: network.Snapped, limit: float) -> np.ndarray:
    """Distance from each sample to its nearest station (inf beyond ``limit``), by networkx on the split streets."""
    g = nx.MultiGraph()
    g.add_nodes_from(range(net.n_nodes))
    on_edge: dict[int, list[tuple[float, object]]] = {}
    for kind, snap in (("s", stations), ("t", samples)):
        for i in np.flatnonzero(snap.reachable):
            on_edge.setdefault(int(snap.edge[i]), []).append((float(snap.offset[i]), (kind, int(i))))
    for e in range(net.n_edges):
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length[e])
        chain = [(0.0, u), *sorted(on_edge.get(e, []), key=lambda p: p[0]), (length, v)]
        for (a_off, a), (b_off, b) in zip(chain[:-1], chain[1:]):
            g.add_edge(a, b, weight=b_off - a_off)
    g.add_node("src")
    for i in np.flatnonzero(stations.reachable):
        g.add_edge("src", ("s", int(i)), weight=float(stations.gap[i]))
    dist = nx.single_source_dijkstra_path_length(g, "src", cutoff=limit, weight="weight")
    out = np.full(len(samples), np.inf)
    for i in np.flatnonzero(samples.reachable):
        d = dist.get(("t", int(i)), np.inf) + float(samples.gap[i])
        out[i] = d if d <= limit else np.inf
    return out


def _check(w: siting.WhatIf, snapped: network.Snapped, weight: np.ndarray) -> None:
    want = _reference(w.net, network.snap_xy(w.net, w.station_xy), snapped, w.limit)
    near_limit = np.abs(want - w.limit) < 1e-6  # a float either side of the largest tier
    fin = np.isfinite(want)
    assert ((np.isfinite(w.dist) == fin) | near_limit).all()
    both = fin & np.isfinite(w.dist)
    assert np.abs(w.dist[both] - want[both]).max(initial=0.0) < 1e-6
    for t in TIERS:  # brute-force coverage: every sample within the tier, summed
        assert w.covered()[t] == pytest.approx(float(weight[want <= t].sum()), abs=1e-6)


def test_whatif_steps_match_networkx_and_brute_force():
    net = street_grid(900, seed=11)
    xy = random_points_near(net, 600, seed=12)
    snapped = network.snap_xy(net, xy)
    weight = np.random.default_rng(13).integers(1, 6, 600).astype(float)
    samples = coverage.DemandSamples(np.arange(600), weight, xy, snapped, 600)
    st = random_points_near(net, 6, seed=14)
    w = siting.WhatIf(net, samples, st, [f"S{i}" for i in range(6)], tiers=TIERS)
    _check(w, snapped, weight)
    sites = net.to_lonlat(random_points_near(net, 4, seed=15))
    steps = [
        lambda: w.add(*sites[0]),
        lambda: w.add(*sites[1], station_id="mine"),
        lambda: w.move("S2", *sites[2]),
        lambda: w.remove("S0"),
        lambda: w.move("mine", *sites[3]),
        w.undo,
        w.undo,
        lambda: w.remove("mine"),
    ]
    for step in steps:
        before = w.covered()
        result = step()
        _check(w, snapped, weight)
        for t in TIERS:
            assert result.delta[t] == pytest.approx(result.covered[t] - before[t], abs=1e-6)
    # what each station adds: the distances its samples would have without it, against the reference
    for sid in w.station_ids:
        idx, without = w.without(sid)
        keep = np.array([s != sid for s in w.station_ids])
        others = network.snap_xy(net, w.station_xy[keep])
        want = _reference(net, others, snapped, w.limit)[idx]
        fin = np.isfinite(want)
        assert ((np.isfinite(without) == fin) | (np.abs(want - w.limit) < 1e-6)).all()
        both = fin & np.isfinite(without)
        assert np.abs(without[both] - want[both]).max(initial=0.0) < 1e-6
        everywhere = np.setdiff1d(np.arange(600), idx)  # elsewhere removing it changes nothing
        assert np.array_equal(
            np.isfinite(w.dist[everywhere]), np.isfinite(_reference(net, others, snapped, w.limit)[everywhere])
        )
