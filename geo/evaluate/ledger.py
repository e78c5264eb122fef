"""The gap ledger (问题台账): per 社区 x tier x missing kind, the people affected and a remedy.

A row's remedy is the candidate site (given, or the nodes nearest a 200 m grid over the demand)
that makes the most of that 社区's residents complete in that tier: those missing only that
kind, within the kind's radius of the site.  ``remedy_gain`` is how many.  Rows come for all
residents (cohort ``all``) and for every cohort the kind matters to.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..network import Snapped, snap_xy
from .engine import ALL, Evaluation
from .packs import Tier

__all__ = ["build_ledger", "translate", "COLUMNS", "candidate_sites", "remedy_pairs", "GRID_SPACING_M"]

#: English column keys and their Chinese headers (issue 11's contract).
COLUMNS = {
    "unit": "社区",
    "tier": "范围",
    "kind": "缺项",
    "weight": "影响人口",
    "share": "占比",
    "cohort": "人群",
    "clause": "条款",
    "verified": "已核实",
    "remedy_lon": "建议选址经度",
    "remedy_lat": "建议选址纬度",
    "remedy_gain": "可补全人口",
}
#: Spacing of generated remedy candidates when none are given (metres).
GRID_SPACING_M = 200.0


def candidate_sites(ev: Evaluation):
    """The remedy candidates: the evaluation's, or network nodes nearest a grid over the demand."""
    if ev.candidates is not None and len(ev.candidates):
        return ev.candidates.reset_index(drop=True)
    from ..siting import grid_candidates

    area = ev.units if ev.units is not None else ev.demand
    return grid_candidates(ev.net, area, GRID_SPACING_M, min_distance_m=0.0)


def remedy_pairs(ev: Evaluation, cand_snapped: Snapped, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(candidate, sample) pairs within ``radius`` (one bounded search per candidate)."""
    from ..siting import candidate_pairs

    c, s, _ = candidate_pairs(ev.net, cand_snapped, ev.samples.snapped, radius)
    return c, s


def kind_radius(tier: Tier, kind: str) -> float:
    """Radius a new facility of ``kind`` serves in ``tier`` (its widest rule: a new site meets it)."""
    return max(r.metres for r in tier.rules_of(kind))


def build_ledger(ev: Evaluation, *, remedies: bool = True) -> pd.DataFrame:
    """Build the ledger in English column keys (see :data:`COLUMNS`)."""
    units = ev.units
    if units is not None:
        which = ev.unit_of_samples(units)
        names = (units["name"] if "name" in units else units["id"]).astype(str).to_numpy()
    else:
        which = ev.samples.unit
        names = (ev.demand["name"] if "name" in ev.demand else ev.demand["id"]).astype(str).to_numpy()
    n = len(names)
    inside = which >= 0
    u_in = which[inside]
    cand: Snapped | None = None  # snapped candidates, when remedies are asked for and there are any
    cand_xy = np.empty((0, 2))
    pairs_cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    if remedies:
        sites = candidate_sites(ev)
        if len(sites):
            cand_xy = np.asarray([[g.x, g.y] for g in sites.geometry])
            import shapely

            metric = shapely.get_coordinates(sites.geometry.to_crs(ev.net.crs).values)
            cand = snap_xy(ev.net, metric)
    rows = []
    cohort_keys = [ALL, *[c.key for c in ev.cohorts]]
    for t in ev.tiers:
        for ck in cohort_keys:
            kinds = ev.cohort_kinds(ck, t)
            if not kinds:
                continue
            cw = ev.cohort_weight[ck]
            tot = np.bincount(u_in, weights=cw[inside], minlength=n)
            for k in kinds:
                miss = ~(ev.present[(ck, t.key, k)] & ev.samples.reachable)
                mw = np.bincount(u_in, weights=(cw * miss)[inside], minlength=n)
                hit = np.flatnonzero(mw > 1e-9)
                if hit.size == 0:
                    continue
                best_c = np.full(n, -1)
                best_g = np.zeros(n)
                if cand is not None:
                    scale = 1.0 if ck == ALL else ev.standard.cohort_scale(next(c for c in ev.cohorts if c.key == ck))
                    radius = round(kind_radius(t, k) * scale, 3)
                    if radius not in pairs_cache:
                        pairs_cache[radius] = remedy_pairs(ev, cand, radius)
                    pc, ps = pairs_cache[radius]
                    best_c, best_g = _best_sites(pc, ps, which, cw, ev.missing_only(t, k, ck), miss, n, len(cand))
                rules = t.rules_of(k)
                clause = "; ".join(dict.fromkeys(r.clause for r in rules if r.clause))
                verified = all(r.verified for r in rules)
                for j in hit:
                    c = best_c[j]
                    rows.append(
                        {
                            "unit": names[j],
                            "tier": t.key,
                            "kind": k,
                            "weight": round(float(mw[j]), 1),
                            "share": round(float(mw[j] / tot[j]), 4) if tot[j] > 0 else 0.0,
                            "cohort": ck,
                            "clause": clause,
                            "verified": verified,
                            "remedy_lon": round(float(cand_xy[c, 0]), 6) if c >= 0 else np.nan,
                            "remedy_lat": round(float(cand_xy[c, 1]), 6) if c >= 0 else np.nan,
                            "remedy_gain": round(float(best_g[j]), 1),
                        }
                    )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if len(frame):
        order = {t.key: i for i, t in enumerate(ev.tiers)}
        frame["_t"] = frame["tier"].map(order)
        frame["_c"] = (frame["cohort"] != ALL).astype(int)
        frame = frame.sort_values(["unit", "_t", "_c", "weight"], ascending=[True, True, True, False], kind="stable")
        frame = frame.drop(columns=["_t", "_c"]).reset_index(drop=True)
    return frame


def _best_sites(pc, ps, which, w, only, affected, n_units: int, n_cand: int):
    """Per unit: the candidate with the most weight made complete (ties: most affected covered)."""
    best_c = np.full(n_units, -1)
    best_g = np.zeros(n_units)
    u = which[ps]
    ok = (u >= 0) & affected[ps]
    pc, ps, u = pc[ok], ps[ok], u[ok]
    if pc.size == 0:
        return best_c, best_g
    frame = pd.DataFrame({"u": u, "c": pc, "only": w[ps] * only[ps], "aff": w[ps]})
    agg = frame.groupby(["u", "c"], sort=False).sum().reset_index()
    agg = agg[agg["aff"] > 0].sort_values(
        ["u", "only", "aff", "c"], ascending=[True, False, False, True], kind="stable"
    )
    top = agg.drop_duplicates("u", keep="first")
    best_c[top["u"].to_numpy()] = top["c"].to_numpy()
    best_g[top["u"].to_numpy()] = top["only"].to_numpy()
    return best_c, best_g


def translate(frame: pd.DataFrame, ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """The ledger with Chinese headers and labels (``zh``) or English keys (``en``)."""
    if lang not in ("zh", "en"):
        from ..errors import OptionError

        raise OptionError("--lang", f"use zh or en, not {lang!r}")
    out = frame.copy()
    if lang == "en":
        return out
    from ..standards import KindRegistry

    reg = KindRegistry()
    labels = {k: v.get("label_zh") for k, v in ev.standard.kind_labels.items() if v.get("label_zh")}

    def kind_label(k: str) -> str:
        if k in labels:
            return labels[k]
        return reg[k].label_zh if k in reg else k

    tiers = {t.key: t.label("zh") for t in ev.tiers}
    cohorts = {ALL: "全体居民", **{c.key: c.label("zh") for c in ev.cohorts}}
    out["kind"] = out["kind"].map(kind_label)
    out["tier"] = out["tier"].map(tiers)
    out["cohort"] = out["cohort"].map(cohorts)
    out["verified"] = out["verified"].map({True: "是", False: "否"})
    return out.rename(columns=COLUMNS)
