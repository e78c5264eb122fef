"""Street-like synthetic networks (seeded, 10k-500k nodes) for benchmarks, tests and teaching.

A perturbed grid of blocks about 80 m apart, with some links missing, some
dead ends, some diagonal short cuts and some curved streets, placed in
Shenzhen's UTM zone so the numbers look like a real district.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import WalkNetwork, from_arrays

__all__ = [
    "GridArrays",
    "street_grid_arrays",
    "network_from_arrays",
    "street_grid",
    "random_points_near",
    "SHENZHEN_ORIGIN",
    "CRS",
]

SHENZHEN_ORIGIN = (800_000.0, 2_490_000.0)  # EPSG:32650, north of Futian
CRS = "EPSG:32650"


@dataclass
class GridArrays:
    """The raw arrays of a synthetic street grid, before it becomes a network."""

    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    geometry: list[np.ndarray]
    highway: np.ndarray
    name: str


def street_grid_arrays(n_nodes: int, *, seed: int = 0, spacing: float = 80.0) -> GridArrays:
    """Return the arrays of :func:`street_grid` (same seed, same arrays)."""
    if n_nodes < 4:
        raise ValueError(f"n_nodes must be at least 4, got {n_nodes}")
    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(n_nodes)))
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    idx = ii * side + jj
    xy = np.column_stack([jj.ravel() * spacing, ii.ravel() * spacing]).astype(float)
    xy += rng.normal(0.0, spacing * 0.12, xy.shape)
    xy += SHENZHEN_ORIGIN
    horiz = np.column_stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()])
    vert = np.column_stack([idx[:-1, :].ravel(), idx[1:, :].ravel()])
    edges = np.vstack([horiz, vert])
    edges = edges[rng.random(edges.shape[0]) > 0.08]  # missing links
    diag_from = idx[:-1, :-1].ravel()
    diag = np.column_stack([diag_from, diag_from + side + 1])
    edges = np.vstack([edges, diag[rng.random(diag.shape[0]) < 0.04]])
    # dead ends: short spurs to new nodes
    n_spur = max(1, side * side // 25)
    base = rng.integers(0, side * side, n_spur)
    angle = rng.uniform(0, 2 * np.pi, n_spur)
    spur_xy = xy[base] + np.column_stack([np.cos(angle), np.sin(angle)]) * rng.uniform(20, 45, (n_spur, 1))
    spur_ids = np.arange(side * side, side * side + n_spur)
    xy = np.vstack([xy, spur_xy])
    edges = np.vstack([edges, np.column_stack([base, spur_ids])])
    geometry = []
    curved = rng.random(int(edges.shape[0])) < 0.15
    for (a, b), bend in zip(edges, curved):
        if bend:
            mid = (xy[a] + xy[b]) / 2 + rng.normal(0, spacing * 0.08, 2)
            geometry.append(np.vstack([xy[a], mid, xy[b]]))
        else:
            geometry.append(np.vstack([xy[a], xy[b]]))
    highway = np.where(rng.random(edges.shape[0]) < 0.2, "footway", "residential")
    return GridArrays(xy, edges[:, 0], edges[:, 1], geometry, highway, f"synthetic grid {side}x{side} (seed {seed})")


def network_from_arrays(arrays: GridArrays) -> WalkNetwork:
    """Build the :class:`~geo.network.WalkNetwork` of :func:`street_grid_arrays`."""
    return from_arrays(
        arrays.node_xy,
        arrays.edge_u,
        arrays.edge_v,
        crs=CRS,
        edge_geometry=arrays.geometry,
        edge_highway=arrays.highway,
        name=arrays.name,
        source="synthetic",
    )


def street_grid(n_nodes: int, *, seed: int = 0, spacing: float = 80.0) -> WalkNetwork:
    """Return a street-like network of about ``n_nodes`` nodes.

    Parameters
    ----------
    n_nodes
        Target node count (the grid side is its square root; dead-end spurs add
        about 4 % more nodes).
    seed
        Random seed: the same seed gives the same network.
    spacing
        Mean block side in metres.
    """
    return network_from_arrays(street_grid_arrays(n_nodes, seed=seed, spacing=spacing))


def random_points_near(net: WalkNetwork, count: int, *, seed: int = 1, jitter: float = 30.0) -> np.ndarray:
    """Return ``count`` metric points scattered within ``jitter`` metres of random nodes."""
    rng = np.random.default_rng(seed)
    base = net.node_xy[rng.integers(0, net.n_nodes, count)]
    return base + rng.uniform(-jitter, jitter, (count, 2))
