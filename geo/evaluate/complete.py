"""Siting for completeness: K new sites of one kind that make the most residents complete.

A resident counts only when the kind sited is the one required kind of the tier they miss
(every other one is already within reach); a new site within the kind's radius then completes
them.  That is a maximal covering problem on those residents' weights, solved by
:class:`geo.siting.MCLP` (exact with HiGHS, or greedy), so it shares the siting machinery.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from ..errors import OptionError, SitingError
from ..network import snap_xy
from .engine import ALL, Evaluation
from .ledger import candidate_sites, kind_radius

__all__ = ["CompletenessPlan", "site_for_completeness"]


@dataclass
class CompletenessPlan:
    """The chosen sites and what they change.

    Attributes
    ----------
    sites
        WGS84 points of the chosen candidates (rank order) with ``rank``, ``gain`` (people
        made complete by that site, marginal), ``id`` and the candidates' other columns.
    complete_before, complete_after
        Weight in a complete circle of the tier before and after.
    gain
        Weight made complete.
    method, optimal, gap
        As :class:`geo.siting.MCLP`.
    """

    tier: str
    kind: str
    k: int
    sites: gpd.GeoDataFrame
    complete_before: float
    complete_after: float
    gain: float
    method: str
    optimal: bool
    gap: float | None
    total_weight: float

    def summary(self) -> dict:
        """JSON-ready summary."""
        tot = self.total_weight
        return {
            "objective": "complete",
            "tier": self.tier,
            "kind": self.kind,
            "k": self.k,
            "method": self.method,
            "optimal": self.optimal,
            "gap": self.gap,
            "complete_before": {
                "weight": round(self.complete_before, 3),
                "share": round(self.complete_before / tot, 6) if tot else 0.0,
            },
            "complete_after": {
                "weight": round(self.complete_after, 3),
                "share": round(self.complete_after / tot, 6) if tot else 0.0,
            },
            "gain": round(self.gain, 3),
            "sites": [
                {
                    "id": str(r["id"]),
                    "rank": int(r["rank"]),
                    "gain": round(float(r["gain"]), 3),
                    "lon": round(float(r.geometry.x), 6),
                    "lat": round(float(r.geometry.y), 6),
                }
                for _, r in self.sites.iterrows()
            ],
        }


def completeness_cover(ev: Evaluation, tier: str, kind: str, candidates, *, cohort: str = ALL):
    """The covering structure: candidate -> residents it would make complete, and their weights."""
    from ..siting import CoverSets, candidate_pairs

    t = ev.standard.tier(tier)
    if kind not in t.required_kinds:
        raise OptionError(
            "--kind",
            f"{kind!r} is not a required kind of tier {tier} in {ev.standard.name}; "
            f"its kinds: {', '.join(t.required_kinds)}",
        )
    radius = kind_radius(t, kind)
    xy = shapely.get_coordinates(candidates.geometry.to_crs(ev.net.crs).values)
    cand = snap_xy(ev.net, xy)
    weight = ev.cohort_weight[cohort] * ev.missing_only(t, kind, cohort)
    c, s, d = candidate_pairs(ev.net, cand, ev.samples.snapped, radius)
    cover = CoverSets.from_pairs(c, s, weight, n_candidates=len(cand), blocked=~cand.reachable, radius=radius, dist=d)
    return cover, weight, cand


def site_for_completeness(
    ev: Evaluation,
    tier: str,
    kind: str,
    k: int,
    *,
    candidates=None,
    method: str = "exact",
    time_limit: float | None = None,
) -> CompletenessPlan:
    """Choose ``k`` sites of ``kind`` that make the most residents complete in ``tier``.

    Parameters
    ----------
    ev
        An evaluation (:func:`geo.evaluate.evaluate`).
    tier, kind
        The tier's key and the (required) kind to site.
    k
        Number of new sites.
    candidates
        WGS84 candidate points (default: the evaluation's, else a 200 m grid).
    method
        ``"exact"`` (HiGHS) or ``"greedy"``.
    time_limit
        Seconds for the exact method.
    """
    from ..siting import MCLP

    if candidates is None:
        candidates = candidate_sites(ev)
    candidates = candidates.reset_index(drop=True)
    if len(candidates) == 0:
        raise SitingError("no candidate sites")
    if "id" not in candidates:
        candidates = candidates.assign(id=[f"C{i + 1}" for i in range(len(candidates))])
    cover, weight, _ = completeness_cover(ev, tier, kind, candidates)
    model = MCLP(cover, k, name=f"complete-{tier}-{kind}")
    if time_limit is None:
        model.solve(method)
    else:
        model.solve(method, time_limit=time_limit)
    t = ev.standard.tier(tier)
    before = float(ev.samples.weight[ev.complete(t)].sum())
    chosen = np.asarray(model.chosen, dtype=np.int64)
    sites = candidates.iloc[chosen].copy()
    sites["rank"] = np.arange(1, chosen.size + 1)
    sites["gain"] = np.asarray(model.gains, float)
    gain = float(np.asarray(model.gains, float).sum())
    return CompletenessPlan(
        tier,
        kind,
        int(k),
        sites,
        before,
        before + gain,
        gain,
        method,
        bool(model.optimal),
        model.gap,
        float(ev.samples.weight.sum()),
    )
