"""What-if of one station: a thin adapter over :mod:`geo.reach`.

One bounded search from the new site gives both the walking distance from it
to every demand sample (merged by the caller into the current
nearest-distance arrays) and its service-area polygons, cut and buffered the
same way :func:`geo.reach.service_areas` does for existing facilities.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import shapely

from lifecircle.geo import reach
from lifecircle.geo.coverage import DemandSamples
from lifecircle.geo.network import DEFAULT_SNAP_LIMIT_M, WalkNetwork, snap_xy


@dataclass
class StationReach:
    """What one station reaches.

    Attributes
    ----------
    lon, lat
        The station (WGS84).
    reachable
        False when the site lies beyond the snapping limit of the network.
    sample_dist
        Walking metres from the station to every demand sample (``inf`` beyond
        the largest tier or unreachable).
    areas
        ``{tier: WGS84 polygon}``.
    gap_m
        Straight distance from the site to the street it joins.
    seconds
        Time the evaluation took.
    """

    lon: float
    lat: float
    reachable: bool
    sample_dist: np.ndarray
    areas: dict[float, shapely.Geometry] = field(default_factory=dict)
    gap_m: float = float("nan")
    seconds: float = 0.0


class StationSearch:
    """Evaluate single stations on a network against fixed demand samples.

    Parameters
    ----------
    net
        The walking network.
    samples
        The demand samples of the baseline coverage.
    tiers
        Life-circle tiers in metres; the largest bounds the search.
    buffer_m
        Half-width of the service-area band around reached streets.
    snap_limit_m
        A site farther than this from every walkable street is unreachable.
    """

    def __init__(
        self,
        net: WalkNetwork,
        samples: DemandSamples,
        tiers: Sequence[float],
        *,
        buffer_m: float = reach.DEFAULT_BUFFER_M,
        snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
    ) -> None:
        self.net = net
        self.samples = samples
        self.tiers = tuple(sorted(float(t) for t in tiers))
        self.buffer_m = buffer_m
        self.snap_limit_m = snap_limit_m

    def evaluate(self, lon: float, lat: float, *, areas: bool = True) -> StationReach:
        """Run one bounded search from a site.

        Parameters
        ----------
        lon, lat
            The site in WGS84.
        areas
            Also build the service-area polygons.

        Returns
        -------
        StationReach
        """
        started = time.perf_counter()
        found = self._search(lon, lat)
        if found is None:
            n = len(self.samples.weight)
            return StationReach(lon, lat, False, np.full(n, np.inf), seconds=time.perf_counter() - started)
        xy, src, node_dist = found
        limit = self.tiers[-1]
        dist = reach.point_distances(self.net, node_dist, self.samples.snapped, sources=src, limit=limit)
        polys = self._areas(node_dist, xy, src) if areas else {}
        return StationReach(lon, lat, True, dist, polys, float(src.gap[0]), time.perf_counter() - started)

    def areas(self, lon: float, lat: float, *, simplify_m: float = 0.0) -> dict[float, shapely.Geometry]:
        """Service-area polygons (WGS84) of a site per tier; empty when it is off the network.

        Parameters
        ----------
        lon, lat
            The site in WGS84.
        simplify_m
            Simplify the polygons by this many metres (for drawing).
        """
        found = self._search(lon, lat)
        if found is None:
            return {}
        xy, src, node_dist = found
        return self._areas(node_dist, xy, src, simplify_m)

    def _search(self, lon: float, lat: float):
        """Snap a site and run its bounded search: (metric xy, snapped, node distances), or None off the network."""
        xy = self.net.to_metric([lon], [lat])
        src = snap_xy(self.net, xy, limit_m=self.snap_limit_m)
        if not src.reachable[0]:
            return None
        _, node_dist = next(reach.iter_source_node_distances(self.net, src, self.tiers[-1]))
        return xy[0], src, node_dist

    def _areas(self, node_dist: np.ndarray, site_xy: np.ndarray, src, simplify_m: float = 0.0) -> dict[float, shapely.Geometry]:
        where = reach.source_join(src, 0, site_xy)
        polys = np.array(
            [reach.service_area_polygon(self.net, node_dist, tier, **where, buffer_m=self.buffer_m) for tier in self.tiers],
            dtype=object,
        )
        if simplify_m > 0:
            polys = shapely.simplify(polys, simplify_m)
        wgs = shapely.transform(polys, lambda p: self.net.to_lonlat(p))
        return dict(zip(self.tiers, wgs))
