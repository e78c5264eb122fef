"""The demo's residents: buildings with population, compounds and the village as zones."""

from __future__ import annotations

from typing import Any

import numpy as np
from shapely.geometry import Point, box

from ._base import _split_integer
from .blocks import _compound_buildings, _Zones
from .villages import _village_buildings

__all__: list[str] = []  # internal to geo.demo: the public API is geo.demo itself


def _demand(zones: _Zones, rng: np.random.Generator) -> tuple[list[dict], list[Any]]:
    """Residential buildings: compounds, the village and others, about 150,000 people."""
    comp_pop = rng.uniform(2400, 7600, len(zones.compounds))
    village_pop = 42_000.0
    other_w = np.array([b["weight"] for b in zones.buildings])
    other_pop = 70.0 * other_w
    total = comp_pop.sum() + village_pop + other_pop.sum()
    scale = 150_000.0 / total
    parts = _split_integer(150_000, np.concatenate([comp_pop * scale, [village_pop * scale], other_pop * scale]))
    nc = len(zones.compounds)
    rows: list[dict] = []
    for comp, pop in zip(zones.compounds, parts[:nc]):
        comp["population"] = int(pop)
        rows += _compound_buildings(comp, int(pop), rng)
    village = zones.village
    assert village is not None, "the village is drawn before its residents"
    village["population"] = int(parts[nc])
    rows += _village_buildings(village, int(parts[nc]), rng)
    for k, (b, pop) in enumerate(zip(zones.buildings, parts[nc + 1 :])):
        rows.append(dict(b, population=int(pop), name=f"沿街住宅{k + 1}号"))
    recs = [
        dict(
            id=f"B{k + 1:04d}",
            name=r["name"],
            population=r["population"],
            housing=r["housing"],
            compound_id=r["compound_id"],
            zone_id=r["zone_id"],
        )
        for k, r in enumerate(rows)
    ]
    return recs, [Point(r["xy"]) for r in rows]


def _zones_layer(zones: _Zones) -> tuple[list[dict], list[Any]]:
    """Compounds and the village as polygons with their population."""
    recs, geoms = [], []
    for c in zones.compounds:
        recs.append(dict(id=c["id"], name=c["name"], housing="compound", population=c["population"]))
        geoms.append(box(*c["rect"]))
    v = zones.village
    assert v is not None, "the village is drawn before the zones layer"
    recs.append(dict(id=v["id"], name=v["name"], housing="village", population=v["population"]))
    geoms.append(box(*v["rect"]))
    return recs, geoms


# --------------------------------------------------------------------------- age cohorts

#: Generated shares of each cohort (not census figures): per compound a 60+ share drawn
#: from 6-16 % (older and newer estates), the village young (migrant workers), homes
#: along the streets in between; children 0-3, 3-6 and 6-12 as in a young city.
#: Overall about 8-9 % are 60+, 3.5 % 0-3, 3.5 % 3-6 and 6.5 % 6-12.
_COHORT_SHARES = {  # housing -> ((lo, hi) per cohort: 60+, 0-3, 3-6, 6-12)
    "compound": ((0.06, 0.16), (0.025, 0.045), (0.028, 0.045), (0.055, 0.085)),
    "village": ((0.03, 0.04), (0.03, 0.04), (0.025, 0.035), (0.035, 0.05)),
    "other": ((0.08, 0.10), (0.028, 0.036), (0.028, 0.036), (0.055, 0.07)),
}
_COHORTS = ("pop_60plus", "pop_0_3", "pop_3_6", "pop_6_12")


def _cohorts(recs: list[dict], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Generated age cohorts per building: integers that sum to at most its population.

    Each zone (compound, the village; the street homes as one) draws its shares
    once, each building its counts by sequential binomial draws.
    """
    zone_shares: dict[object, list[float]] = {}
    out = {c: np.zeros(len(recs), dtype=np.int64) for c in _COHORTS}
    for i, rec in enumerate(recs):
        key = rec["zone_id"] if rec["housing"] != "other" else "other"
        if key not in zone_shares:
            zone_shares[key] = [float(rng.uniform(*lh)) for lh in _COHORT_SHARES[rec["housing"]]]
        left, rest = int(rec["population"]), 1.0
        for col, share in zip(_COHORTS, zone_shares[key]):
            n = int(rng.binomial(left, min(1.0, share / rest))) if left > 0 else 0
            out[col][i] = n
            left -= n
            rest -= share
    return out
