"""The completeness engine: is every kind a tier requires within reach of each resident?

For every (kind, condition) the pack names, one bounded multi-source search gives each demand
sample the distance to the nearest facility meeting it (one search per selection, reused by
every tier and every cohort speed: a cohort's radii are the pack's scaled by its speed).  A kind
is present in a tier when any of its alternative rules is met; a sample is complete in a tier
when every required kind is present.  Polygon demand counts the share of its samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..coverage import DemandSamples, demand_samples, resolve_weights
from ..errors import InputError, OptionError
from ..network import WalkNetwork
from ..settings import DEFAULT_SAMPLE_SPACING_M, DEFAULT_SNAP_LIMIT_M, DEFAULT_TOUCH_M
from .packs import Cohort, Standard, Tier, load_standard
from .sources import FacilitySources, prepare_facilities, selection_distances

__all__ = ["Evaluation", "evaluate", "ALL"]

#: Cohort key of all residents.
ALL = "all"


def _rnd(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


@dataclass
class Evaluation:
    """The result of :func:`evaluate` (see there).

    Attributes
    ----------
    standard
        The rule pack.
    samples
        The demand samples (unit, weight, join).
    rule_dist
        Per rule key, each sample's distance to the nearest facility meeting the rule's kind
        and condition (inf beyond the largest radius the rule needs).
    kind_dist
        Per kind, each sample's distance to the nearest facility of the kind (any condition).
    present
        ``present[(cohort, tier, kind)]``: sample mask, the kind present at the cohort's speed.
    cohort_weight
        Per cohort key (``"all"`` first), each sample's weight of that cohort.
    """

    net: WalkNetwork
    standard: Standard
    demand: gpd.GeoDataFrame
    samples: DemandSamples
    facilities: FacilitySources
    rule_dist: dict[str, np.ndarray]
    kind_dist: dict[str, np.ndarray]
    present: dict[tuple[str, str, str], np.ndarray]
    cohort_weight: dict[str, np.ndarray]
    cohorts: list[Cohort]
    skipped_cohorts: list[str] = field(default_factory=list)
    units: gpd.GeoDataFrame | None = None
    candidates: gpd.GeoDataFrame | None = None
    capacity: dict = field(default_factory=dict)
    _ledger: pd.DataFrame | None = None

    # ------------------------------------------------------------ per sample
    @property
    def tiers(self) -> tuple[Tier, ...]:
        return self.standard.tiers

    def cohort_kinds(self, cohort: str, tier: Tier) -> list[str]:
        """The required kinds of ``tier`` that count for ``cohort``."""
        req = tier.required_kinds
        if cohort == ALL:
            return req
        c = next(c for c in self.cohorts if c.key == cohort)
        return [k for k in req if not c.kinds or k in c.kinds]

    def complete(self, tier: str | Tier, cohort: str = ALL) -> np.ndarray:
        """Sample mask: every required kind of ``tier`` (those of ``cohort``) present."""
        t = tier if isinstance(tier, Tier) else self.standard.tier(tier)
        out = self.samples.reachable.copy()
        for k in self.cohort_kinds(cohort, t):
            out &= self.present[(cohort, t.key, k)]
        return out

    def missing_only(self, tier: str | Tier, kind: str, cohort: str = ALL) -> np.ndarray:
        """Sample mask: ``kind`` is the only required kind of ``tier`` missing (reachable samples)."""
        t = tier if isinstance(tier, Tier) else self.standard.tier(tier)
        out = self.samples.reachable & ~self.present[(cohort, t.key, kind)]
        for k in self.cohort_kinds(cohort, t):
            if k != kind:
                out &= self.present[(cohort, t.key, k)]
        return out

    def n_kinds(self, tier: str | Tier, cohort: str = ALL) -> np.ndarray:
        """Per sample, how many required kinds of ``tier`` are present."""
        t = tier if isinstance(tier, Tier) else self.standard.tier(tier)
        n = np.zeros(len(self.samples.weight), np.int64)
        for k in self.cohort_kinds(cohort, t):
            n += self.present[(cohort, t.key, k)] & self.samples.reachable
        return n

    # ------------------------------------------------------------ summaries
    @property
    def total_weight(self) -> float:
        return float(self.samples.weight.sum())

    def _share(self, w: np.ndarray, mask: np.ndarray) -> dict:
        tot = float(w.sum())
        got = float(w[mask].sum())
        return {"weight": _rnd(got), "share": _rnd(got / tot, 6) if tot > 0 else 0.0}

    def summary(self) -> dict:
        """Summary JSON (issue 11's contract).

        ``{"standard": {"name", "version", "verified", ...}, "tiers": {tier: metres},
        "total_weight", "complete": {tier: {"weight", "share"}}, "kinds": {kind: {tier:
        {"weight", "share"}}}, "cohorts": {cohort: {tier: {"weight", "share"}}}, "units": [...]}``
        (``units`` is filled when the evaluation was given units).
        """
        w = self.samples.weight
        s = self.standard
        out: dict = {
            "standard": {
                "name": s.name,
                "version": s.version,
                "verified": s.verified,
                "title": s.title,
                "source": s.source,
                "unverified": s.unverified(),
            },
            "tiers": {t.key: t.metres for t in self.tiers},
            "total_weight": _rnd(w.sum()),
            "unreachable_weight": _rnd(w[~self.samples.reachable].sum()),
            "complete": {t.key: self._share(w, self.complete(t)) for t in self.tiers},
            "kinds": {},
            "cohorts": {},
            "units": [],
        }
        for kind in s.kinds:
            per = {
                t.key: self._share(w, self.present[(ALL, t.key, kind)] & self.samples.reachable)
                for t in self.tiers
                if (ALL, t.key, kind) in self.present
            }
            if per:
                out["kinds"][kind] = per
        for c in self.cohorts:
            cw = self.cohort_weight[c.key]
            per = {t.key: self._share(cw, self.complete(t, c.key)) for t in self.tiers if self.cohort_kinds(c.key, t)}
            per["total_weight"] = _rnd(cw.sum())  # type: ignore[assignment]
            out["cohorts"][c.key] = per
        if self.skipped_cohorts:
            out["cohorts_skipped"] = list(self.skipped_cohorts)
        if self.facilities.unreachable:
            out["unreachable_facilities"] = list(self.facilities.unreachable)
        if self.capacity:
            out["capacity"] = {k: v["summary"] for k, v in self.capacity.items()}
        if self.units is not None:
            out["units"] = self._units_summary(self.units)
        return out

    # ------------------------------------------------------------ per demand unit
    def _unit_missing(self, unit: np.ndarray, n: int, tier: Tier, cohort: str = ALL) -> list[str]:
        """Per unit, comma-separated kinds missing for some of its weight (pack order)."""
        w = self.cohort_weight[cohort]
        parts: list[list[str]] = [[] for _ in range(n)]
        for k in self.cohort_kinds(cohort, tier):
            miss = ~(self.present[(cohort, tier.key, k)] & self.samples.reachable)
            mw = np.bincount(unit, weights=w * miss, minlength=n)
            cnt = np.bincount(unit, weights=miss.astype(float), minlength=n)
            for u in np.flatnonzero((mw > 0) | ((cnt > 0) & (np.bincount(unit, weights=w, minlength=n) == 0))):
                parts[u].append(k)
        return [",".join(p) for p in parts]

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """One feature per demand unit: ``id``, ``weight``, per tier ``complete_<tier>`` (share of
        the unit's weight, 0..1), ``missing_<tier>`` (kinds missing for some of it, comma-separated),
        ``n_kinds_<tier>`` (required kinds present for all of it), then ``dist_<kind>`` (metres; the
        weighted median over a polygon's samples; NaN beyond reach)."""
        smp = self.samples
        n, unit, w = smp.n_units, smp.unit, smp.weight
        out: dict = {
            "id": self.demand["id"].astype(str).to_numpy() if "id" in self.demand else np.arange(n).astype(str)
        }
        tot = np.bincount(unit, weights=w, minlength=n)
        out["weight"] = np.round(tot, 3)
        for t in self.tiers:
            comp = np.bincount(unit, weights=w * self.complete(t), minlength=n)
            share = np.divide(comp, tot, out=np.zeros(n), where=tot > 0)
            if (tot == 0).any():  # weightless units: the share of their samples
                cnt = np.bincount(unit, minlength=n)
                c2 = np.bincount(unit, weights=self.complete(t).astype(float), minlength=n)
                share = np.where(tot > 0, share, np.divide(c2, cnt, out=np.zeros(n), where=cnt > 0))
            out[f"complete_{t.key}"] = np.round(share, 4)
            missing = self._unit_missing(unit, n, t)
            out[f"missing_{t.key}"] = missing
            out[f"n_kinds_{t.key}"] = np.array(
                [len(t.required_kinds) - (len(m.split(",")) if m else 0) for m in missing]
            )
        for kind, d in self.kind_dist.items():
            med = _unit_median(d, unit, w, n)
            out[f"dist_{kind}"] = np.where(np.isfinite(med), np.round(med, 1), np.nan)
        frame = gpd.GeoDataFrame(out, geometry=self.demand.geometry.values, crs="EPSG:4326")
        if "name" in self.demand:
            frame.insert(1, "name", self.demand["name"].astype(str).to_numpy())
        for c in self.cohorts:
            frame[f"weight_{c.key}"] = np.round(np.bincount(unit, weights=self.cohort_weight[c.key], minlength=n), 3)
        return frame

    # ------------------------------------------------------------ per boundary unit
    def unit_of_samples(self, units: gpd.GeoDataFrame) -> np.ndarray:
        """Index of the unit polygon holding each sample (-1 outside every unit)."""
        polys = units.geometry.to_crs(self.net.crs).values
        tree = shapely.STRtree(polys)
        s_idx, u_idx = tree.query(shapely.points(self.samples.xy), predicate="within")
        out = np.full(len(self.samples.weight), -1, np.int64)
        first = np.unique(s_idx, return_index=True)[1]
        out[s_idx[first]] = u_idx[first]
        return out

    def by_unit(self, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Per boundary unit (社区, 街道): ``id``, ``name``, ``weight``, per tier ``complete_<tier>``
        (share), ``complete_weight_<tier>`` and ``missing_<tier>``; per cohort ``complete_<cohort>_<tier>``.
        Each demand sample counts in the unit polygon that contains it."""
        which = self.unit_of_samples(units)
        inside = which >= 0
        n = len(units)
        u = which[inside]
        w = self.samples.weight[inside]
        out: dict = {
            "id": units["id"].astype(str).to_numpy() if "id" in units else np.arange(n).astype(str),
            "name": units["name"].astype(str).to_numpy() if "name" in units else np.full(n, ""),
        }
        tot = np.bincount(u, weights=w, minlength=n)
        out["weight"] = np.round(tot, 3)
        for t in self.tiers:
            cw = np.bincount(u, weights=w * self.complete(t)[inside], minlength=n)
            out[f"complete_{t.key}"] = np.round(np.divide(cw, tot, out=np.zeros(n), where=tot > 0), 6)
            out[f"complete_weight_{t.key}"] = np.round(cw, 3)
            parts: list[list[str]] = [[] for _ in range(n)]
            for k in t.required_kinds:
                miss = ~(self.present[(ALL, t.key, k)] & self.samples.reachable)[inside]
                mw = np.bincount(u, weights=w * miss, minlength=n)
                for j in np.flatnonzero(mw > 0):
                    parts[j].append(k)
            out[f"missing_{t.key}"] = [",".join(p) for p in parts]
        for c in self.cohorts:
            cwt = self.cohort_weight[c.key][inside]
            ctot = np.bincount(u, weights=cwt, minlength=n)
            out[f"weight_{c.key}"] = np.round(ctot, 3)
            for t in self.tiers:
                if self.cohort_kinds(c.key, t):
                    cc = np.bincount(u, weights=cwt * self.complete(t, c.key)[inside], minlength=n)
                    out[f"complete_{c.key}_{t.key}"] = np.round(np.divide(cc, ctot, out=np.zeros(n), where=ctot > 0), 6)
        return gpd.GeoDataFrame(out, geometry=units.geometry.values, crs="EPSG:4326")

    def _units_summary(self, units: gpd.GeoDataFrame) -> list[dict]:
        frame = self.by_unit(units)
        rows = []
        for rec in frame.drop(columns="geometry").to_dict("records"):
            rows.append(
                {
                    "id": rec["id"],
                    "name": rec["name"],
                    "weight": rec["weight"],
                    "complete": {
                        t.key: {"weight": rec[f"complete_weight_{t.key}"], "share": rec[f"complete_{t.key}"]}
                        for t in self.tiers
                    },
                    "missing": {t.key: [k for k in rec[f"missing_{t.key}"].split(",") if k] for t in self.tiers},
                }
            )
        return rows

    # ------------------------------------------------------------ ledger
    def ledger(self, lang: str = "zh", *, remedies: bool = True) -> pd.DataFrame:
        """The gap ledger (问题台账): one row per 社区 x tier x missing kind (and per cohort).

        See :func:`geo.evaluate.ledger.build_ledger`; headers in Chinese (``lang="zh"``) or English.
        """
        from .ledger import build_ledger, translate

        if self._ledger is None:
            self._ledger = build_ledger(self, remedies=remedies)
        return translate(self._ledger, self, lang)


def _unit_median(d: np.ndarray, unit: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """Per unit: its single sample's value, or the weighted median over its samples."""
    counts = np.bincount(unit, minlength=n)
    out = np.full(n, np.inf)
    single = counts[unit] == 1
    out[unit[single]] = d[single]
    starts = np.concatenate([[0], np.cumsum(counts)])
    for u in np.flatnonzero(counts > 1):
        v, ww = d[starts[u] : starts[u + 1]], w[starts[u] : starts[u + 1]]
        order = np.argsort(v, kind="stable")
        v, ww = v[order], ww[order]
        if ww.sum() <= 0:
            out[u] = float(np.median(v))
        else:
            out[u] = float(v[np.searchsorted(np.cumsum(ww), ww.sum() / 2.0)])
    return out


def _find_column(demand: pd.DataFrame, cohort: Cohort) -> str | None:
    names = [cohort.column, *cohort.aliases]
    for n in names:
        if n in demand.columns:
            return n
    low = {str(c).strip().lower(): c for c in demand.columns}
    for n in names:
        if n.strip().lower() in low:
            return low[n.strip().lower()]
    return None


def _weight_column(demand: pd.DataFrame, weight_column: str | None) -> str:
    """The demand's weight column by :func:`geo.coverage.resolve_weights` (the one rule: a demand
    with none of the recognised columns is refused unless ``weight_column="rows"``)."""
    return resolve_weights(demand, weight_column)[1]


def evaluate(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame | Sequence[gpd.GeoDataFrame],
    demand: gpd.GeoDataFrame,
    standard: str | Standard = "gb50180-2018",
    *,
    units: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    weight_column: str | None = None,
    cohorts: Sequence[str] | None = None,
    touch_m: float = DEFAULT_TOUCH_M,
    snap_limit_m: float = DEFAULT_SNAP_LIMIT_M,
    spacing_m: float = DEFAULT_SAMPLE_SPACING_M,
    samples: DemandSamples | None = None,
) -> Evaluation:
    """Evaluate life-circle completeness of every resident by a standard.

    Parameters
    ----------
    net
        The walking network.
    facilities
        WGS84 GeoDataFrame(s) of points and polygons with ``kind`` (keys); polygons are reached
        by the touch rule (:mod:`geo.evaluate.sources`), points as everywhere in lifecircle.
    demand
        WGS84 points or polygons with ``id`` and a weight (weight/权重, population/人口 or
        households/户数, as :func:`geo.coverage.resolve_weights`; none: each row counts 1),
        and optionally the packs' cohort columns (``pop_60plus`` ...).
    standard
        A shipped pack's name, a TOML path or a :class:`Standard`.
    units
        社区 / 街道 polygons (``id``, ``name``) for :meth:`Evaluation.by_unit`, the summary's
        ``units`` and the ledger.
    candidates
        Candidate sites (WGS84 points) for the ledger's remedies (default: a 200 m grid).
    weight_column
        Demand column with the population, or ``"rows"`` (default: the first recognised column,
        else rows).
    cohorts
        Cohort keys to evaluate; their columns must exist (InputError otherwise). None: the
        pack's cohorts whose columns the demand has (the others are listed as skipped).
    touch_m
        Touch distance of polygon facilities (m).
    snap_limit_m
        Points farther from the network are unreachable.
    spacing_m
        Sample spacing of polygon demand.
    samples
        Demand samples from an earlier call with the same demand.

    Returns
    -------
    Evaluation
    """
    std = load_standard(standard)
    demand = demand.reset_index(drop=True)
    if "id" not in demand:
        demand = demand.assign(id=[f"D{i + 1}" for i in range(len(demand))])
    wcol = _weight_column(demand, weight_column)
    if samples is None:
        samples = demand_samples(net, demand, weight_column=wcol, spacing_m=spacing_m, snap_limit_m=snap_limit_m)
    # cohorts
    chosen: list[Cohort] = []
    skipped: list[str] = []
    keys = [c.key for c in std.cohorts]
    if cohorts is not None:
        for k in cohorts:
            if k not in keys:
                raise OptionError(
                    "cohorts", f"standard {std.name} has no cohort {k!r}; cohorts: {', '.join(keys) or 'none'}"
                )
    src_file = demand.attrs.get("source_file", "demand")
    cohort_cols: dict[str, str] = {}
    for c in std.cohorts:
        if cohorts is not None and c.key not in cohorts:
            continue
        col = _find_column(demand, c)
        if col is None:
            if cohorts is not None:
                raise InputError(
                    src_file,
                    f"has no column {c.column} ({', '.join(c.aliases) or 'no alias'}) for cohort "
                    f"{c.key!r} of standard {std.name}",
                    column=c.column,
                )
            skipped.append(c.key)
            continue
        chosen.append(c)
        cohort_cols[c.key] = col
    unit, w = samples.unit, samples.weight
    n = samples.n_units
    tot = np.bincount(unit, weights=w, minlength=n)
    cnt = np.bincount(unit, minlength=n)
    frac = np.where(
        tot[unit] > 0,
        np.divide(w, tot[unit], out=np.zeros_like(w), where=tot[unit] > 0),
        1.0 / np.maximum(cnt[unit], 1),
    )
    cohort_weight = {ALL: w}
    for c in chosen:
        vals = pd.to_numeric(demand[cohort_cols[c.key]], errors="coerce")
        bad = np.flatnonzero(vals.isna().to_numpy() & demand[cohort_cols[c.key]].notna().to_numpy())
        if bad.size or (vals < 0).any():
            j = int(bad[0]) if bad.size else int(np.flatnonzero((vals < 0).to_numpy())[0])
            raise InputError(
                src_file,
                f"cohort column value {demand[cohort_cols[c.key]].iloc[j]!r} is not a count of people",
                row=j + 2,
                column=cohort_cols[c.key],
            )
        cohort_weight[c.key] = vals.fillna(0.0).to_numpy(dtype=float)[unit] * frac
    # facilities and one search per (kind, condition)
    src = prepare_facilities(
        net,
        list(facilities) if isinstance(facilities, (list, tuple)) else facilities,
        touch_m=touch_m,
        snap_limit_m=snap_limit_m,
    )
    kinds_arr = src.kinds
    scales = {ALL: 1.0, **{c.key: std.cohort_scale(c) for c in chosen}}
    top = max(scales.values())
    selections: dict[tuple[str, str | None], float] = {}
    for r in std.rules:
        sel = (r.kind, r.condition.text if r.condition else None)
        selections[sel] = max(selections.get(sel, 0.0), r.metres * top)
    for kind in std.kinds:  # dist_<kind>: the nearest of the kind whatever its attributes
        sel = (kind, None)
        radii = [r.metres for r in std.rules if r.kind == kind]
        selections[sel] = max(selections.get(sel, 0.0), (max(radii) if radii else 1000.0) * top)
    dist: dict[tuple[str, str | None], np.ndarray] = {}
    cond_of = {(r.kind, r.condition.text): r.condition for r in std.rules if r.condition}
    for (kind, cond), limit in selections.items():
        mask = kinds_arr == kind
        if cond is not None:
            condition = cond_of[(kind, cond)]
            missing_cols = [
                col
                for col in condition.columns
                if col not in src.frame or pd.to_numeric(src.frame[col][mask], errors="coerce").isna().all()
            ]
            if missing_cols and mask.any():
                raise InputError(
                    "facilities",
                    f"the {kind} facilities have no value in column {missing_cols[0]!r}, "
                    f"which standard {std.name} needs for the condition '{cond}' "
                    "(give polygons, whose area is measured, or the column)",
                    column=missing_cols[0],
                )
            if mask.any():
                mask = mask & condition.evaluate(src.frame)
        dist[(kind, cond)] = selection_distances(net, src, mask, samples.snapped, limit)
    rule_dist = {r.key: dist[(r.kind, r.condition.text if r.condition else None)] for r in std.rules}
    kind_dist = {k: dist[(k, None)] for k in std.kinds}
    present: dict[tuple[str, str, str], np.ndarray] = {}
    for ck, scale in scales.items():
        for t in std.tiers:
            for k in t.kinds:
                m = np.zeros(len(w), bool)
                for r in t.rules_of(k):
                    m |= rule_dist[r.key] <= r.metres * scale + 1e-9
                present[(ck, t.key, k)] = m
    ev = Evaluation(
        net, std, demand, samples, src, rule_dist, kind_dist, present, cohort_weight, chosen, skipped, units, candidates
    )
    if std.capacity:
        from .capacity import capacity_report

        ev.capacity = capacity_report(ev)
    return ev
