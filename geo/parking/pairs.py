"""Walking distances between compounds' gates and lots' entrances, up to a limit (sparse pairs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import DEFAULT_SNAP_LIMIT_M, snap_points
from ..pairs import pairs_within
from ..settings import DEFAULT_MAX_WALK_M

__all__ = ["WalkPairs", "walk_pairs"]


@dataclass
class WalkPairs:
    """Compound-lot pairs within a walking limit, and their network distances.

    Attributes
    ----------
    res, lot
        Row positions of the compound and the lot of each pair, int64.
    walk_m
        Walking metres between the compound's gate and the lot's entrance
        (the walks to and from the street included).
    limit
        The walking limit the pairs were searched with.
    res_reachable, lot_reachable
        Whether each compound / lot joined the network (within the snapping limit).
    """

    res: np.ndarray
    lot: np.ndarray
    walk_m: np.ndarray
    limit: float
    res_reachable: np.ndarray
    lot_reachable: np.ndarray

    def within(self, limit: float) -> WalkPairs:
        """The pairs no farther than ``limit`` (which must not exceed :attr:`limit`)."""
        if limit > self.limit + 1e-9:
            raise ValueError(f"pairs were searched up to {self.limit:g} m; search again for {limit:g} m")
        keep = self.walk_m <= limit
        return WalkPairs(
            self.res[keep], self.lot[keep], self.walk_m[keep], float(limit), self.res_reachable, self.lot_reachable
        )


def walk_pairs(
    net,
    residences,
    lots,
    *,
    max_walk_m: float = DEFAULT_MAX_WALK_M,
    snap_limit_m: float | None = None,
) -> WalkPairs:
    """Walking distances between compounds' gates and lots' entrances, up to a limit.

    One bounded search per point of the smaller side on a local subgraph,
    then exact point-to-point distances (the same-edge case included) to the
    points of the other side on the edges it reaches: :func:`geo.pairs.pairs_within`,
    the builder siting uses too.

    Parameters
    ----------
    net
        The :class:`~geo.network.WalkNetwork`.
    residences, lots
        WGS84 point GeoDataFrames.
    max_walk_m
        Walking limit in metres.
    snap_limit_m
        Points farther than this from every walkable edge are unreachable
        (default :data:`geo.network.DEFAULT_SNAP_LIMIT_M`).

    Returns
    -------
    WalkPairs
        Sparse: only pairs within the limit.
    """
    limit = float(max_walk_m)
    snap = snap_limit_m or DEFAULT_SNAP_LIMIT_M
    res_s = snap_points(net, residences, limit_m=snap)
    lot_s = snap_points(net, lots, limit_m=snap)
    flip = len(lot_s) < len(res_s)
    src, dst = (lot_s, res_s) if flip else (res_s, lot_s)
    a, b, d = pairs_within(net, src, dst, limit)
    res, lot = (b, a) if flip else (a, b)
    order = np.lexsort((lot, res))
    return WalkPairs(res[order], lot[order], d[order], limit, res_s.reachable, lot_s.reachable)
