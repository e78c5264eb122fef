"""Coverage of demand by facilities, per kind and tier; gaps; summaries per unit.

Demand comes as points (buildings, with a population) or polygons (traffic
zones, 社区) whose population is spread evenly along the residential streets
inside them.  Each demand sample gets the network distance to the nearest
facility of every kind (one bounded multi-source search per kind, whatever the
number of facilities), and is covered by a tier when that distance is within
it.

Typical use::

    from lifecircle.geo import coverage, network
    net = network.load_network("futian.lcnet")
    result = coverage.compute_coverage(net, facilities, demand, tiers=(300, 1000))
    result.summary()                   # totals and shares per kind and tier
    result.to_geodataframe()           # one feature per demand unit
    result.gaps(kind="any")            # unserved clusters, ranked
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import reach
from .discs import disc_union, points_in_polygons
from .errors import InputError, OptionError
from .network import DEFAULT_SNAP_LIMIT_M, Snapped, WalkNetwork, snap_xy
from .settings import DEFAULT_GAP_RADIUS_M, DEFAULT_SAMPLE_SPACING_M  # noqa: F401 (re-exported)
from .standards import DEFAULT_TIERS, parse_tiers

__all__ = [
    "NON_RESIDENTIAL_HIGHWAY",
    "ANY",
    "WEIGHT_COLUMNS",
    "ROWS",
    "tier_key",
    "resolve_weights",
    "DemandSamples",
    "demand_samples",
    "CoverageResult",
    "snap_facilities",
    "kind_distances",
    "compute_coverage",
    # re-exported from geo.settings, where they are defined
    "DEFAULT_SAMPLE_SPACING_M",
    "DEFAULT_GAP_RADIUS_M",
]

#: Streets that carry no homes: polygon demand is not spread along them.
NON_RESIDENTIAL_HIGHWAY = frozenset(
    {"trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link", "motorway", "motorway_link"}
)

ANY = "any"


def tier_key(tier: float) -> str:
    """Return the JSON key of a tier: ``"300"`` for 300.0, ``"333.5"`` for 333.5."""
    return str(int(tier)) if float(tier).is_integer() else f"{tier:g}"


# ------------------------------------------------------------------ demand
#: The demand columns recognised as weights, in the order they are tried
#: (the one rule of coverage, siting and the app).
WEIGHT_COLUMNS = ("weight", "权重", "population", "人口", "households", "户数")
#: ``weight_column=ROWS`` counts each demand row as one.
ROWS = "rows"


def resolve_weights(demand, weight_column: str | None = None) -> tuple[np.ndarray, str]:
    """Return the weight of each demand row and the column it came from.

    The one rule for demand weights: an explicit ``weight_column`` must exist
    (``"rows"`` counts each row as 1); without one, the first of
    :data:`WEIGHT_COLUMNS` present is used (weight/权重, then population/人口,
    then households/户数, matched case-insensitively).  Blank weights count
    as 0.

    Parameters
    ----------
    demand
        A (Geo)DataFrame of demand units.
    weight_column
        The column to use, ``"rows"``, or None.

    Returns
    -------
    tuple of numpy.ndarray and str
        Weights (float, shape (n,)) and the column used (``"rows"`` when counting rows).

    Raises
    ------
    OptionError
        ``weight_column`` names a column that does not exist (the message lists the columns).
    InputError
        No weight column and ``weight_column`` not given, or a weight that is
        negative or not a number (the message names the row and column).
    """
    columns = [str(c) for c in demand.columns if c != getattr(demand, "_geometry_column_name", None)]
    found = ", ".join(repr(c) for c in columns) or "none"
    if weight_column == ROWS and ROWS not in demand.columns:
        return np.ones(len(demand)), ROWS
    col: Hashable | None  # a column label (str in files; any hashable in a DataFrame built in code)
    if weight_column is not None:
        if weight_column not in demand.columns:
            raise OptionError(
                "weight_column",
                f"no demand column {weight_column!r}; the columns are {found} "
                f"(or pass weight_column={ROWS!r} to count rows)",
            )
        col = weight_column
    else:
        lower = {str(c).strip().lower(): c for c in demand.columns}
        col = next((lower[k] for k in WEIGHT_COLUMNS if k in lower), None)
        if col is None:
            raise InputError(
                "demand",
                f"no weight column: expected one of {', '.join(WEIGHT_COLUMNS)}; "
                f"the columns are {found} (pass weight_column={ROWS!r} to count each row as 1)",
            )
    raw = pd.to_numeric(demand[col], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero((np.isnan(raw) & demand[col].notna().to_numpy()) | (raw < 0))
    if len(bad):
        value = demand[col].iloc[bad[0]]
        raise InputError(
            "demand",
            f"weight {value!r} is not a number >= 0 ({len(bad)} such rows)",
            row=int(bad[0]) + 1,
            column=str(col),
            row_label="feature",
        )
    return np.nan_to_num(raw, nan=0.0), str(col)


@dataclass
class DemandSamples:
    """Demand spread over points that join the network.

    Attributes
    ----------
    unit
        Index (0..U-1) of the demand unit (input row) each sample belongs to;
        samples are sorted by it.
    weight
        Population (or other weight) carried by each sample.
    xy
        Sample coordinates in the network's CRS.
    snapped
        The samples joined to the network.
    n_units
        Number of demand units.
    """

    unit: np.ndarray
    weight: np.ndarray
    xy: np.ndarray
    snapped: Snapped
    n_units: int
    _units_of: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def reachable(self) -> np.ndarray:
        """Mask of samples that joined the network."""
        return self.snapped.reachable

    def units_of(self, units: gpd.GeoDataFrame, crs) -> np.ndarray:
        """Index of the unit polygon holding each sample (-1 outside all), remembered per polygon set.

        The samples never move, so every coverage result built on them (each what-if of a
        session) shares one point-in-polygon pass per set of units: a planner's click no longer
        re-assigns 100,000 residents to their 社区.  The key is the polygons' WKB and CRS, so an
        edited boundary is assigned afresh.
        """
        geoms = np.asarray(units.geometry.values, dtype=object)
        key = (str(units.crs), hashlib.sha1(b"".join(shapely.to_wkb(geoms).tolist())).hexdigest())
        if key not in self._units_of:
            if len(self._units_of) >= 8:  # a few boundary sets per session at most
                self._units_of.pop(next(iter(self._units_of)))
            polys = units.geometry.to_crs(crs).values
            self._units_of[key] = points_in_polygons(self.xy, np.asarray(polys))
        return self._units_of[key]


def demand_samples(
    net: WalkNetwork,
    demand: gpd.GeoDataFrame,
    *,
    weight_column: str | None = None,
    spacing_m: float = DEFAULT_SAMPLE_SPACING_M,
    snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
) -> DemandSamples:
    """Spread demand units over sample points and join them to the network.

    Parameters
    ----------
    net
        The network.
    demand
        WGS84 GeoDataFrame of points or polygons with a weight column.
    weight_column
        Column holding the population (or other weight); None picks the first of
        weight/权重, population/人口, households/户数; ``"rows"`` counts each row
        as 1 (see :func:`resolve_weights`).
    spacing_m
        Spacing of samples along the residential streets inside polygons.
    snap_limit_m
        Samples farther than this from every walkable edge are unreachable.

    Returns
    -------
    DemandSamples
    """
    weights, _ = resolve_weights(demand, weight_column)
    geoms = np.asarray(demand.geometry.values)
    is_point = shapely.get_type_id(geoms) == 0
    units, xs, ws = [np.flatnonzero(is_point)], [_metric_xy(net, demand.geometry, is_point)], [weights[is_point]]
    poly_idx = np.flatnonzero(~is_point)
    if poly_idx.size:
        polygons = np.asarray(demand.geometry.iloc[poly_idx].to_crs(net.crs).values)
        u, xy, w = _spread_polygons(net, polygons, weights[poly_idx], spacing_m)
        units.append(poly_idx[u])
        xs.append(xy)
        ws.append(w)
    unit = np.concatenate(units).astype(np.int64)
    xy = np.concatenate(xs).reshape(-1, 2)
    weight = np.concatenate(ws)
    if poly_idx.size:  # points only: one sample per row, in order already (a million rows' sort and copies saved)
        order = np.argsort(unit, kind="stable")
        unit, xy, weight = unit[order], xy[order], weight[order]
    return DemandSamples(unit, weight, xy, snap_xy(net, xy, limit_m=snap_limit_m), len(demand))


def _metric_xy(net: WalkNetwork, geometry: gpd.GeoSeries, mask: np.ndarray) -> np.ndarray:
    """The network-CRS coordinates of the points ``geometry[mask]``, shape (K, 2).

    WGS84 points are projected from their coordinates (:meth:`WalkNetwork.to_metric`,
    the transformer ``to_crs`` would use) without a new shapely point each.
    """
    crs = geometry.crs
    if crs is not None and crs.to_epsg() != 4326:
        return shapely.get_coordinates(np.asarray(geometry.iloc[np.flatnonzero(mask)].to_crs(net.crs).values))
    lonlat = shapely.get_coordinates(np.asarray(geometry.values)[mask])
    if lonlat.shape[0] != int(mask.sum()):  # empty points have no coordinates
        lonlat = np.array([[g.x, g.y] if not g.is_empty else [np.nan, np.nan] for g in geometry.values[mask]])
    return net.to_metric(lonlat[:, 0], lonlat[:, 1]).reshape(-1, 2)


def _spread_polygons(
    net: WalkNetwork, polygons: np.ndarray, weights: np.ndarray, spacing: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample points every ``spacing`` metres along residential streets inside each polygon."""
    residential = ~np.isin(net.edge_highway.astype(str), list(NON_RESIDENTIAL_HIGHWAY))
    tree = shapely.STRtree(net.edge_lines)
    poly_i, edge_i = tree.query(polygons, predicate="intersects")
    units, points = [], []
    for p in range(polygons.shape[0]):
        edges = edge_i[poly_i == p]
        pts = _points_along(net, polygons[p], edges[residential[edges]], spacing)
        if pts.shape[0] == 0:
            pts = _points_along(net, polygons[p], edges, spacing)
        if pts.shape[0] == 0:
            pts = shapely.get_coordinates(shapely.point_on_surface(polygons[p]))
        units.append(np.full(pts.shape[0], p))
        points.append(pts)
    unit = np.concatenate(units) if units else np.empty(0, dtype=np.int64)
    xy = np.concatenate(points) if points else np.empty((0, 2))
    counts = np.bincount(unit, minlength=polygons.shape[0])
    weight = weights[unit] / counts[unit]
    return unit, xy, weight


def _points_along(net: WalkNetwork, polygon, edges: np.ndarray, spacing: float) -> np.ndarray:
    if edges.size == 0:
        return np.empty((0, 2))
    clipped = shapely.intersection(net.edge_lines[edges], polygon)
    parts = shapely.get_parts(clipped)
    parts = parts[shapely.get_type_id(parts) == 1]  # LineStrings only
    if parts.size == 0:
        return np.empty((0, 2))
    lengths = shapely.length(parts)
    n = np.maximum(1, np.round(lengths / spacing).astype(np.int64))
    which = np.repeat(np.arange(parts.size), n)
    within = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    frac = (within + 0.5) / n[which]
    return shapely.get_coordinates(shapely.line_interpolate_point(parts[which], frac, normalized=True))


# ---------------------------------------------------------------- coverage
@dataclass
class CoverageResult:
    """Distances from every demand sample to the nearest facility of each kind.

    Attributes
    ----------
    net
        The network.
    demand
        The demand units (WGS84), in input order.
    samples
        The demand spread over network-joined samples.
    tiers
        Tiers in metres, ascending.
    kinds
        Facility kinds present, in order.
    sample_dist
        ``{kind: distances}`` per sample (``inf`` beyond the largest tier or
        unreachable), with ``"any"`` the minimum over kinds.
    facility_counts
        ``{kind: number of facilities}``.
    unreachable_facilities
        Ids of facilities farther than the snapping limit from the network.
    """

    net: WalkNetwork
    demand: gpd.GeoDataFrame
    samples: DemandSamples
    tiers: tuple[float, ...]
    kinds: list[str]
    sample_dist: dict[str, np.ndarray]
    facility_counts: dict[str, int] = field(default_factory=dict)
    unreachable_facilities: list[str] = field(default_factory=list)

    # ---------------------------------------------------------- aggregates
    @property
    def total_weight(self) -> float:
        """Total demand weight (population)."""
        return float(self.samples.weight.sum())

    @property
    def unreachable_weight(self) -> float:
        """Weight of samples farther than the snapping limit from the network."""
        return float(self.samples.weight[~self.samples.reachable].sum())

    def covered_weight(self, kind: str, tier: float) -> float:
        """Weight within ``tier`` metres of a facility of ``kind`` (or ``"any"``)."""
        return float(self.samples.weight[self.sample_dist[kind] <= tier].sum())

    def summary(self) -> dict:
        """Return the summary in the documented JSON layout.

        Returns
        -------
        dict
            ``{"tiers", "total_weight", "unreachable_weight", "covered":
            {kind or "any": {tier: {"weight", "share"}}}, "facilities",
            "unreachable_facilities"}``
        """
        total = self.total_weight
        covered: dict[str, dict[str, dict[str, float]]] = {}
        for kind in [*self.kinds, ANY]:
            covered[kind] = {}
            for tier in self.tiers:
                w = self.covered_weight(kind, tier)
                covered[kind][tier_key(tier)] = {"weight": round(w, 3), "share": round(w / total, 6) if total else 0.0}
        return {
            "tiers": [float(t) for t in self.tiers],
            "total_weight": round(total, 3),
            "unreachable_weight": round(self.unreachable_weight, 3),
            "covered": covered,
            "facilities": dict(self.facility_counts),
            "unreachable_facilities": list(self.unreachable_facilities),
        }

    def unit_distances(self, kind: str) -> np.ndarray:
        """Distance per demand unit: the sample's, or the weighted median over a polygon's samples."""
        dist = self.sample_dist[kind]
        unit = self.samples.unit
        counts = np.bincount(unit, minlength=self.samples.n_units)
        out = np.full(self.samples.n_units, np.inf)
        single = counts[unit] == 1
        out[unit[single]] = dist[single]
        # samples are stored sorted by unit: each polygon's samples are one slice
        starts = np.concatenate([[0], np.cumsum(counts)])
        for u in np.flatnonzero(counts > 1):
            sel = slice(starts[u], starts[u + 1])
            out[u] = _weighted_median(dist[sel], self.samples.weight[sel])
        return out

    def unit_reachable(self) -> np.ndarray:
        """Whether each demand unit has a sample that joined the network."""
        n = self.samples.n_units
        return np.bincount(self.samples.unit, weights=self.samples.reachable.astype(float), minlength=n) > 0

    def unit_covered_share(self, kind: str, tier: float) -> np.ndarray:
        """Share of each demand unit's weight within ``tier`` of ``kind``."""
        n = self.samples.n_units
        w = self.samples.weight
        hit = self.sample_dist[kind] <= tier
        if self._one_sample_each:  # points: w * hit / w is hit exactly, 0 where w is 0
            return np.where(w > 0, hit, False).astype(float)
        cov = np.bincount(self.samples.unit, weights=w * hit, minlength=n)
        tot = np.bincount(self.samples.unit, weights=w, minlength=n)
        return np.divide(cov, tot, out=np.zeros(n), where=tot > 0)

    @property
    def _one_sample_each(self) -> bool:
        """Whether every demand unit is one sample, in order (point demand)."""
        unit = self.samples.unit
        return unit.shape[0] == self.samples.n_units and bool((unit == np.arange(unit.shape[0])).all())

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """Return one feature per demand unit with its distances (WGS84).

        Fields: ``id``, ``weight``, ``dist_<kind>`` and ``dist_any`` (metres,
        NaN - written as null - beyond the largest tier or unreachable),
        ``reachable``, and ``covered_<kind>_<tier>`` (share of the unit's
        weight covered, 0 or 1 for a point).
        """
        out = {"id": self.demand["id"].astype(str).array}  # no Python string per row
        if "name" in self.demand.columns:
            out["name"] = self.demand["name"].to_numpy()
        n = self.samples.n_units
        out["weight"] = np.bincount(self.samples.unit, weights=self.samples.weight, minlength=n)
        for kind in [*self.kinds, ANY]:
            d = self.unit_distances(kind)
            out[f"dist_{kind}"] = np.where(np.isfinite(d), np.round(d, 1), np.nan)
        out["reachable"] = self.unit_reachable()
        points = self._one_sample_each  # a point's share is 0.0 or 1.0: rounding leaves it as it is
        for kind in [*self.kinds, ANY]:
            for tier in self.tiers:
                share = self.unit_covered_share(kind, tier)
                out[f"covered_{kind}_{tier_key(tier)}"] = share if points else np.round(share, 4)
        # the columns side by side as they are (a frame built from the dict would first copy the twenty
        # float columns into one block: a million residents' 160 MB, and about 0.5 s)
        index = pd.RangeIndex(n)
        series = {k: pd.Series(v, index=index, copy=False) for k, v in out.items()}
        series["geometry"] = gpd.GeoSeries(self.demand.geometry.values, index=index, crs="EPSG:4326")
        frame = gpd.GeoDataFrame(pd.concat(series, axis=1), geometry="geometry", copy=False)
        return frame

    # ------------------------------------------------------------- units
    def by_unit(self, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Summarise coverage per boundary unit (街道, 社区).

        Each demand sample counts in the unit polygon that contains it.

        Parameters
        ----------
        units
            WGS84 polygons with ``id`` and optionally ``name``.

        Returns
        -------
        geopandas.GeoDataFrame
            ``id``, ``name``, ``weight``, and per kind and tier
            ``covered_<kind>_<tier>`` (weight) and ``share_<kind>_<tier>``.
        """
        unit_of = self.samples.units_of(units, self.net.crs)
        s_idx = np.flatnonzero(unit_of >= 0)
        u_idx = unit_of[s_idx]
        n = len(units)
        w = self.samples.weight[s_idx]
        out = {
            "id": units["id"].astype(str).to_numpy() if "id" in units else np.arange(n).astype(str),
            "name": units["name"].astype(str).to_numpy() if "name" in units else np.full(n, ""),
            "weight": np.bincount(u_idx, weights=w, minlength=n),
        }
        everyone = s_idx.size == unit_of.size  # every sample in a unit: no gather of each kind's distances
        for kind in [*self.kinds, ANY]:
            dist = self.sample_dist[kind] if everyone else self.sample_dist[kind][s_idx]
            for tier in self.tiers:
                hit = dist <= tier
                cov = np.bincount(u_idx, weights=w * hit, minlength=n)
                key = f"{kind}_{tier_key(tier)}"
                out[f"covered_{key}"] = np.round(cov, 3)
                out[f"share_{key}"] = np.round(
                    np.divide(cov, out["weight"], out=np.zeros(n), where=out["weight"] > 0), 6
                )
        return gpd.GeoDataFrame(out, geometry=units.geometry.values, crs="EPSG:4326")

    # -------------------------------------------------------------- gaps
    def gaps(
        self,
        kind: str = ANY,
        tier: float | None = None,
        *,
        radius_m: float = DEFAULT_GAP_RADIUS_M,
        min_weight: float = 0.0,
    ) -> gpd.GeoDataFrame:
        """Clusters of unserved demand, ranked by the weight they leave unserved.

        The reachable samples farther than ``tier`` from every facility of
        ``kind`` are each given a ``radius_m`` disc; overlapping discs merge
        into one gap polygon (traced from the distance to the nearest unserved
        sample, :func:`geo.discs.disc_union`, not overlaid disc by disc).

        Parameters
        ----------
        kind
            A facility kind, or ``"any"``.
        tier
            The tier in metres (default: the largest).
        radius_m
            Disc radius around unserved samples.
        min_weight
            Gaps leaving fewer people unserved are dropped.

        Returns
        -------
        geopandas.GeoDataFrame
            ``rank`` (1 = most unserved), ``kind``, ``tier_m``,
            ``unserved_weight``, ``share_of_unserved``, ``n_units``,
            ``area_m2``, ``center_lon``/``center_lat`` (weighted centre of the
            unserved demand, a first place to try a new station), WGS84.
        """
        tier = float(tier if tier is not None else self.tiers[-1])
        if kind not in self.sample_dist:
            raise KeyError(f"unknown kind {kind!r}; known: {', '.join([*self.kinds, ANY])}")
        columns = [
            "rank",
            "kind",
            "tier_m",
            "unserved_weight",
            "share_of_unserved",
            "n_units",
            "area_m2",
            "center_lon",
            "center_lat",
        ]
        miss = self.samples.reachable & (self.sample_dist[kind] > tier) & (self.samples.weight > 0)
        if not miss.any():
            return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs="EPSG:4326")
        xy = self.samples.xy[miss]
        w = self.samples.weight[miss]
        units = self.samples.unit[miss]
        blobs, b_idx = disc_union(xy, radius_m)  # no buffer per sample: see geo.discs
        s_idx = np.arange(xy.shape[0])
        nb = blobs.shape[0]
        weight = np.bincount(b_idx, weights=w[s_idx], minlength=nb)
        cx = np.bincount(b_idx, weights=w[s_idx] * xy[s_idx, 0], minlength=nb)
        cy = np.bincount(b_idx, weights=w[s_idx] * xy[s_idx, 1], minlength=nb)
        pairs = np.unique(b_idx * np.int64(self.samples.n_units) + units[s_idx])  # distinct (gap, unit) pairs
        n_units = np.bincount(pairs // np.int64(self.samples.n_units), minlength=nb)
        keep = weight > min_weight
        order = np.argsort(-weight[keep], kind="stable")
        sel = np.flatnonzero(keep)[order]
        centre = self.net.to_lonlat(np.column_stack([cx[sel] / weight[sel], cy[sel] / weight[sel]]))
        total = weight.sum()
        frame = gpd.GeoDataFrame(
            {
                "rank": np.arange(1, sel.size + 1),
                "kind": kind,
                "tier_m": tier,
                "unserved_weight": np.round(weight[sel], 3),
                "share_of_unserved": np.round(weight[sel] / total, 6) if total else 0.0,
                "n_units": n_units[sel],
                "area_m2": np.round(shapely.area(blobs[sel]), 1),
                "center_lon": np.round(centre[:, 0], 7),
                "center_lat": np.round(centre[:, 1], 7),
            },
            geometry=blobs[sel],
            crs=self.net.crs,
        )
        return frame.to_crs("EPSG:4326")


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    if values.size == 0:
        return np.inf
    order = np.argsort(values)
    v, w = values[order], weights[order]
    total = w.sum()
    if total <= 0:
        return float(np.median(v))
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, total / 2.0)])


# ------------------------------------------------------------------ compute
def snap_facilities(
    net: WalkNetwork, facilities: gpd.GeoDataFrame, *, snap_limit_m: float = DEFAULT_SNAP_LIMIT_M
) -> tuple[Snapped, np.ndarray]:
    """Join facilities (WGS84 points) to the network; return the join and their metric coordinates."""
    xy = shapely.get_coordinates(facilities.geometry.to_crs(net.crs).values)
    return snap_xy(net, xy, limit_m=snap_limit_m), xy


def kind_distances(
    net: WalkNetwork,
    facilities: Snapped,
    kinds: np.ndarray,
    samples: DemandSamples,
    limit: float,
    kind_order: Iterable[str],
) -> dict[str, np.ndarray]:
    """Distance from every sample to the nearest facility of each kind, and of any kind."""
    order = list(kind_order)
    node_dist = _kind_node_distances(net, facilities, kinds, limit, order)
    return _sample_distances(net, node_dist, facilities, kinds, samples.snapped, limit, order)


def _kind_node_distances(
    net: WalkNetwork, facilities: Snapped, kinds: np.ndarray, limit: float, kind_order: list[str]
) -> dict[str, np.ndarray]:
    """Each node's distance to the nearest facility of each kind (one bounded multi-source search per kind)."""
    return {kind: reach.node_distances(net, facilities.subset(kinds == kind), limit) for kind in kind_order}


def _sample_distances(
    net: WalkNetwork,
    node_dist: dict[str, np.ndarray],
    facilities: Snapped,
    kinds: np.ndarray,
    targets: Snapped,
    limit: float,
    kind_order: list[str],
) -> dict[str, np.ndarray]:
    """:func:`reach.point_distances` of every kind's node distances, and the nearest of any kind."""
    out = {
        kind: reach.point_distances(
            net, node_dist[kind], targets, sources=facilities.subset(kinds == kind), limit=limit
        )
        for kind in kind_order
    }
    out[ANY] = np.minimum.reduce(list(out.values())) if out else np.full(len(targets), np.inf)
    return out


def _snapped_facility_distances(
    net: WalkNetwork, facilities: gpd.GeoDataFrame, kinds: np.ndarray, limit: float, kind_order: list[str], snap_limit_m
) -> tuple[Snapped, dict[str, np.ndarray]]:
    """The facilities joined to the network and :func:`_kind_node_distances` (a task beside the demand's snapping)."""
    snapped, _ = snap_facilities(net, facilities, snap_limit_m=snap_limit_m)
    return snapped, _kind_node_distances(net, snapped, kinds, limit, kind_order)


def compute_coverage(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    tiers: Sequence[float] = DEFAULT_TIERS,
    kinds: Sequence[str] | None = None,
    weight_column: str | None = None,
    snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
    spacing_m: float = DEFAULT_SAMPLE_SPACING_M,
    samples: DemandSamples | None = None,
) -> CoverageResult:
    """Compute the coverage of demand by facilities, per kind and tier.

    Parameters
    ----------
    net
        The walking network.
    facilities
        WGS84 points with ``id`` and ``kind``.
    demand
        WGS84 points or polygons with ``id`` and a weight column.
    tiers
        Walking distances in metres.
    kinds
        Kinds to report, in order (default: those present in ``facilities``).
    weight_column
        Demand column with the population; None picks the first of weight/权重,
        population/人口, households/户数, ``"rows"`` counts rows (see
        :func:`resolve_weights`).
    snap_limit_m
        Points farther from the network are unreachable (and reported).
    spacing_m
        Sample spacing for polygon demand.
    samples
        Reuse samples from an earlier call with the same demand.

    Returns
    -------
    CoverageResult
    """
    tiers = parse_tiers(tiers)
    if not tiers:
        raise ValueError("at least one tier is needed")
    present = list(dict.fromkeys(facilities["kind"].astype(str))) if len(facilities) else []
    kinds = list(kinds) if kinds is not None else present
    kind_arr = facilities["kind"].astype(str).to_numpy() if len(facilities) else np.array([], dtype=str)
    if samples is None:
        if net.n_edges:  # built here, once: from Python 3.12 a cached_property takes no lock, and two threads snap
            net.segment_index  # noqa: B018
        # the facilities' searches (scipy's Dijkstra holds the GIL) run beside the demand's snapping
        # (whose tree queries and arithmetic release it); a demand error still comes first
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="coverage-search") as pool:
            searched = pool.submit(
                _snapped_facility_distances, net, facilities, kind_arr, tiers[-1], kinds, snap_limit_m
            )
            try:
                samples = demand_samples(
                    net, demand, weight_column=weight_column, spacing_m=spacing_m, snap_limit_m=snap_limit_m
                )
            except BaseException:
                searched.cancel()
                raise
            snapped, node_dist = searched.result()
    else:
        snapped, node_dist = _snapped_facility_distances(net, facilities, kind_arr, tiers[-1], kinds, snap_limit_m)
    dist = _sample_distances(net, node_dist, snapped, kind_arr, samples.snapped, tiers[-1], kinds)
    counts = {k: int((kind_arr == k).sum()) for k in kinds}
    unreachable = facilities["id"].astype(str).to_numpy()[~snapped.reachable].tolist() if len(facilities) else []
    return CoverageResult(net, demand.reset_index(drop=True), samples, tiers, kinds, dist, counts, unreachable)
