"""Compare two scenarios (or one and today's facilities): headline figures, 社区 table, who gains or loses.

::

    from lifecircle.geo import scenarios
    cmp = scenarios.compare(net, facilities, demand, store.load("A"), store.load("B"), tiers=(300, 1000), units=communities)
    cmp.headline()        # one row per kind and tier: covered weight and share on each side, and the difference
    cmp.by_unit()         # the 社区 table with the differences
    cmp.residents(1000)   # demand units whose coverage changes within 1000 m: gain, loss or mixed
    cmp.summary()         # all of it as JSON-ready dict

Both sides are computed with :func:`geo.coverage.compute_coverage` on the same demand samples, so
the differences are exact sample by sample. When :mod:`geo.evaluate` is importable and a
``standard`` is given, the shares of people in a complete life circle per tier are compared too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import settings
from ..coverage import ANY, CoverageResult, compute_coverage, tier_key
from ..standards import parse_tiers
from .model import Scenario

__all__ = ["Comparison", "compare", "TODAY"]

#: Label of the side with no scenario (today's facilities).
TODAY = "today"


@dataclass
class Comparison:
    """Coverage of side ``a`` and side ``b`` on the same demand, and their differences (b - a).

    Attributes
    ----------
    a_name, b_name
        The scenarios' names (:data:`TODAY` for the base facilities).
    tiers
        Tiers in metres, ascending.
    kinds
        The kinds present on either side, in order.
    a, b
        The two coverage results.
    facilities_a, facilities_b
        The facilities of each side.
    units
        The 社区 (or other) polygons, or None.
    completeness
        ``{"a": summary, "b": summary}`` of :func:`geo.evaluate.evaluate` per side when a
        standard was evaluated, else None.
    """

    a_name: str
    b_name: str
    tiers: tuple[float, ...]
    kinds: list[str]
    a: CoverageResult
    b: CoverageResult
    facilities_a: gpd.GeoDataFrame
    facilities_b: gpd.GeoDataFrame
    units: gpd.GeoDataFrame | None = None
    completeness: dict[str, Any] | None = None
    _evaluations: tuple[Any, Any] | None = field(default=None, repr=False)

    @property
    def total_weight(self) -> float:
        """Total demand weight (the same on both sides)."""
        return self.a.total_weight

    # ----------------------------------------------------------- headline
    def headline(self) -> pd.DataFrame:
        """One row per kind (and ``any``) and tier.

        Returns
        -------
        pandas.DataFrame
            ``kind, tier_m, facilities_a, facilities_b, weight_a, share_a, weight_b, share_b,
            diff_weight, diff_share``.
        """
        total = self.total_weight
        rows = []
        count_a = _counts(self.facilities_a)
        count_b = _counts(self.facilities_b)
        for kind in [*self.kinds, ANY]:
            for tier in self.tiers:
                wa, wb = self.a.covered_weight(kind, tier), self.b.covered_weight(kind, tier)
                rows.append(
                    {
                        "kind": kind,
                        "tier_m": tier,
                        "facilities_a": count_a.get(kind, 0) if kind != ANY else len(self.facilities_a),
                        "facilities_b": count_b.get(kind, 0) if kind != ANY else len(self.facilities_b),
                        "weight_a": wa,
                        "share_a": wa / total if total else 0.0,
                        "weight_b": wb,
                        "share_b": wb / total if total else 0.0,
                        "diff_weight": wb - wa,
                        "diff_share": (wb - wa) / total if total else 0.0,
                    }
                )
        return pd.DataFrame(rows)

    # -------------------------------------------------------------- units
    def by_unit(self) -> gpd.GeoDataFrame | None:
        """The 社区 table: per unit, kind and tier the covered weight on each side and the difference.

        Returns
        -------
        geopandas.GeoDataFrame or None
            ``id, name, weight`` and per kind and tier ``covered_a_<kind>_<tier>``,
            ``covered_b_<kind>_<tier>``, ``diff_<kind>_<tier>`` (weight) and
            ``diff_share_<kind>_<tier>``; None without units.
        """
        if self.units is None:
            return None
        ua, ub = self.a.by_unit(self.units), self.b.by_unit(self.units)
        out: dict[str, Any] = {c: ua[c].to_numpy() for c in ("id", "name", "weight")}
        w = ua["weight"].to_numpy(float)
        for kind in [*self.kinds, ANY]:
            for tier in self.tiers:
                key = f"{kind}_{tier_key(tier)}"
                ca, cb = ua[f"covered_{key}"].to_numpy(float), ub[f"covered_{key}"].to_numpy(float)
                out[f"covered_a_{key}"] = ca
                out[f"covered_b_{key}"] = cb
                out[f"diff_{key}"] = np.round(cb - ca, 3)
                out[f"diff_share_{key}"] = np.round(np.divide(cb - ca, w, out=np.zeros(len(w)), where=w > 0), 6)
        if self._evaluations is not None:
            _add_unit_completeness(out, self._evaluations, self.units)
        return gpd.GeoDataFrame(out, geometry=ua.geometry.values, crs="EPSG:4326")

    # ---------------------------------------------------------- residents
    def residents(self, tier: float | None = None) -> gpd.GeoDataFrame:
        """The demand units (residents) whose coverage changes, per tier.

        Parameters
        ----------
        tier
            One tier in metres; default: every tier (one row per unit and tier that changes).

        Returns
        -------
        geopandas.GeoDataFrame
            ``id``, ``name`` (when the demand has one), ``tier_m``, ``weight``, ``change``
            (``gain``, ``loss`` or ``mixed`` - gains some kinds, loses others), ``gained`` and
            ``lost`` (kinds, comma separated), ``delta_<kind>`` and ``delta_any`` (weight newly
            covered, negative when lost), with a standard ``complete_a``, ``complete_b`` (share
            of the unit in a complete circle of the evaluation tier of these metres) and
            ``delta_complete`` (weight), ``dist_any_a`` and ``dist_any_b`` (metres, NaN beyond
            the largest tier), WGS84 geometry of the demand unit.
        """
        tiers = self.tiers if tier is None else (self._tier(tier),)
        n = self.a.samples.n_units
        weight = np.bincount(self.a.samples.unit, weights=self.a.samples.weight, minlength=n)
        ids = self.a.demand["id"].astype(str).to_numpy()
        names = self.a.demand["name"].astype(str).to_numpy() if "name" in self.a.demand else None
        dist_a = self.a.unit_distances(ANY)
        dist_b = self.b.unit_distances(ANY)
        complete = self._unit_complete()
        frames = []
        for t in tiers:
            delta = {
                k: weight * (self.b.unit_covered_share(k, t) - self.a.unit_covered_share(k, t))
                for k in [*self.kinds, ANY]
            }
            per_kind = np.vstack([delta[k] for k in self.kinds]) if self.kinds else np.zeros((1, n))
            eps = 1e-9
            up, down = (per_kind > eps).any(axis=0), (per_kind < -eps).any(axis=0)
            changed = up | down | (np.abs(delta[ANY]) > eps)
            if complete is not None and t in complete:
                dc = complete[t][1] - complete[t][0]
                changed |= np.abs(dc) > eps
                up |= dc > eps
                down |= dc < -eps
            sel = np.flatnonzero(changed)
            change = np.where(up & down, "mixed", np.where(up | (delta[ANY] > eps), "gain", "loss"))[sel]
            cols: dict[str, Any] = {"id": ids[sel]}
            if names is not None:
                cols["name"] = names[sel]
            cols["tier_m"] = np.full(sel.size, t)
            cols["weight"] = np.round(weight[sel], 3)
            cols["change"] = change
            cols["gained"] = [",".join(k for j, k in enumerate(self.kinds) if per_kind[j, i] > eps) for i in sel]
            cols["lost"] = [",".join(k for j, k in enumerate(self.kinds) if per_kind[j, i] < -eps) for i in sel]
            for k in [*self.kinds, ANY]:
                cols[f"delta_{k}"] = np.round(delta[k][sel], 4)
            if complete is not None and t in complete:
                cols["complete_a"], cols["complete_b"] = complete[t][0][sel], complete[t][1][sel]
                cols["delta_complete"] = np.round(weight[sel] * (complete[t][1][sel] - complete[t][0][sel]), 4)
            cols["dist_any_a"] = np.where(np.isfinite(dist_a[sel]), np.round(dist_a[sel], 1), np.nan)
            cols["dist_any_b"] = np.where(np.isfinite(dist_b[sel]), np.round(dist_b[sel], 1), np.nan)
            frames.append(gpd.GeoDataFrame(cols, geometry=self.a.demand.geometry.values[sel], crs="EPSG:4326"))
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")

    def _unit_complete(self) -> dict[float, tuple[np.ndarray, np.ndarray]] | None:
        """``{tier metres: (complete share a, complete share b)}`` per demand unit, for the
        evaluation's tiers that are also comparison tiers; None without an evaluation."""
        if self._evaluations is None:
            return None
        ga, gb = (e.to_geodataframe() for e in self._evaluations)
        out = {}
        for tier in self._evaluations[0].tiers:
            for t in self.tiers:
                if abs(float(tier.metres) - t) < 1e-9 and f"complete_{tier.key}" in ga:
                    out[t] = (ga[f"complete_{tier.key}"].to_numpy(float), gb[f"complete_{tier.key}"].to_numpy(float))
        return out

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """The residents who gain or lose, every tier (see :meth:`residents`)."""
        return self.residents()

    # ------------------------------------------------------------ summary
    def summary(self) -> dict:
        """Everything as a JSON-ready dict.

        Returns
        -------
        dict
            ``{"a", "b", "tiers", "total_weight", "facilities": {"a": {kind: n}, "b": ...},
            "covered": {kind: {tier: {"a": {weight, share}, "b": {...}, "diff_weight",
            "diff_share"}}}, "residents": {tier: {"gain", "loss", "mixed"} (weight)},
            "units": [...] (with units), "completeness": {...} (with a standard)}``.
        """
        covered: dict[str, dict] = {}
        for rec in self.headline().to_dict("records"):
            covered.setdefault(rec["kind"], {})[tier_key(rec["tier_m"])] = {
                "a": {"weight": round(rec["weight_a"], 3), "share": round(rec["share_a"], 6)},
                "b": {"weight": round(rec["weight_b"], 3), "share": round(rec["share_b"], 6)},
                "diff_weight": round(rec["diff_weight"], 3),
                "diff_share": round(rec["diff_share"], 6),
            }
        res = self.residents()
        moved: dict[str, dict] = {}
        for t in self.tiers:
            sub = res[res["tier_m"] == t]
            moved[tier_key(t)] = {
                c: round(float(sub.loc[sub["change"] == c, "weight"].sum()), 3) for c in ("gain", "loss", "mixed")
            }
        out: dict[str, Any] = {
            "a": self.a_name,
            "b": self.b_name,
            "tiers": [float(t) for t in self.tiers],
            "total_weight": round(self.total_weight, 3),
            "facilities": {"a": _counts(self.facilities_a), "b": _counts(self.facilities_b)},
            "covered": covered,
            "residents": moved,
        }
        units = self.by_unit()
        if units is not None:
            out["units"] = [
                {k: (round(float(v), 6) if isinstance(v, (float, np.floating)) else v) for k, v in rec.items()}
                for rec in units.drop(columns="geometry").to_dict("records")
            ]
        if self.completeness is not None:
            out["completeness"] = self.completeness
        return out

    def _tier(self, tier: float) -> float:
        for t in self.tiers:
            if abs(t - float(tier)) < 1e-9:
                return t
        raise ValueError(f"tier {tier:g} is not one of {', '.join(f'{t:g}' for t in self.tiers)} m")


def _counts(facilities: gpd.GeoDataFrame) -> dict[str, int]:
    if not len(facilities):
        return {}
    return {str(k): int(v) for k, v in facilities["kind"].astype(str).value_counts(sort=False).items()}


def _side(facilities: gpd.GeoDataFrame, scenario: Scenario | None) -> tuple[str, gpd.GeoDataFrame]:
    if scenario is None:
        return TODAY, facilities.reset_index(drop=True)
    return scenario.name, scenario.apply(facilities)


def compare(
    net,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    a: Scenario | None,
    b: Scenario | None,
    *,
    tiers: Sequence[float] = settings.DEFAULT_TIERS,
    units: gpd.GeoDataFrame | None = None,
    weight_column: str = "weight",
    snap_limit_m: float = settings.DEFAULT_SNAP_LIMIT_M,
    standard: str | None = None,
    evaluation_facilities: Callable[[gpd.GeoDataFrame], Any] | None = None,
) -> Comparison:
    """Compare scenario ``a`` with scenario ``b`` on the same network and demand.

    Parameters
    ----------
    net
        The walking network (:class:`~geo.network.WalkNetwork`).
    facilities
        Today's facilities (WGS84 points with ``id`` and ``kind``); each scenario is applied to them.
    demand
        Demand points or polygons with ``id`` and ``weight_column``.
    a, b
        The scenarios; None stands for today's facilities.
    tiers
        Walking distances in metres.
    units
        社区 (or other) polygons for :meth:`Comparison.by_unit`.
    weight_column
        Demand column with the population.
    snap_limit_m
        Points farther from the network are unreachable.
    standard
        A standard pack for :func:`geo.evaluate.evaluate` (complete life circles per tier); None
        compares coverage only.
    evaluation_facilities
        Turns a side's facilities (points, the scenario applied) into what
        :func:`geo.evaluate.evaluate` takes, e.g. adding park polygons with ``area_m2`` whose
        gates the points are; default: the points as they are.

    Returns
    -------
    Comparison
    """
    a_name, fa = _side(facilities, a)
    b_name, fb = _side(facilities, b)
    if a_name == b_name and a is not None:
        b_name = f"{b_name} (2)"
    kinds = list(dict.fromkeys([*fa["kind"].astype(str), *fb["kind"].astype(str)]))
    tiers = parse_tiers(tiers)
    ra = compute_coverage(
        net, fa, demand, tiers=tiers, kinds=kinds, weight_column=weight_column, snap_limit_m=snap_limit_m
    )
    rb = compute_coverage(
        net,
        fb,
        demand,
        tiers=tiers,
        kinds=kinds,
        weight_column=weight_column,
        snap_limit_m=snap_limit_m,
        samples=ra.samples,
    )
    completeness = evaluations = None
    if standard is not None:
        evaluations, completeness = _evaluate_both(
            net, fa, fb, demand, standard, units, weight_column, snap_limit_m, evaluation_facilities
        )
    return Comparison(a_name, b_name, tiers, kinds, ra, rb, fa, fb, units, completeness, evaluations)


# ------------------------------------------------------------ completeness
def _evaluate_both(net, fa, fb, demand, standard, units, weight_column, snap_limit_m, evaluation_facilities):
    """Run geo.evaluate on both sides; return (evaluations, compact completeness summary)."""
    from .. import evaluate as gev

    frames = evaluation_facilities or (lambda points: points)

    kw: dict[str, Any] = {
        "units": units,
        "weight_column": weight_column if weight_column in demand else None,
        "snap_limit_m": snap_limit_m,
    }
    ea = gev.evaluate(net, frames(fa), demand, standard=standard, **kw)
    eb = gev.evaluate(net, frames(fb), demand, standard=standard, **kw)
    sa, sb = ea.summary(), eb.summary()
    total = float(sa["total_weight"]) or 1.0

    def pair(x: dict, y: dict) -> dict:
        d = float(y["weight"]) - float(x["weight"])
        return {"a": x, "b": y, "diff_weight": round(d, 3), "diff_share": round(d / total, 6)}

    kinds = {
        k: {t: pair(v[t], sb["kinds"].get(k, {}).get(t, {"weight": 0.0, "share": 0.0})) for t in v}
        for k, v in sa["kinds"].items()
    }
    out = {
        "standard": sa["standard"],
        "tiers": sa["tiers"],
        "complete": {t: pair(sa["complete"][t], sb["complete"][t]) for t in sa["complete"]},
        "kinds": kinds,
    }
    return (ea, eb), _jsonable(out)


def _add_unit_completeness(out: dict, evaluations, units) -> None:
    """Add ``complete_a_<tier>``, ``complete_b_<tier>`` and ``diff_complete_<tier>`` when the evaluation has them."""
    ea, eb = evaluations
    try:
        ua, ub = ea.by_unit(units), eb.by_unit(units)
    except Exception:  # an evaluation without a per-unit table: coverage only
        return
    for col in ua.columns:
        if col.startswith("complete_") and col in ub.columns and pd.api.types.is_numeric_dtype(ua[col]):
            suffix = col[len("complete_") :]
            a_vals, b_vals = ua[col].to_numpy(float), ub[col].to_numpy(float)
            out[f"complete_a_{suffix}"] = a_vals
            out[f"complete_b_{suffix}"] = b_vals
            out[f"diff_complete_{suffix}"] = np.round(b_vals - a_vals, 6)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.DataFrame):
        return _jsonable(value.to_dict("records"))
    return value
