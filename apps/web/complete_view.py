"""The complete life-circle view's side-panel fragments and map colours (完整生活圈).

Every text from data goes through :func:`html.escape`.  The ledger's rows carry the
bounds of their 社区 in ``data-zoom`` (``west,south,east,north`` in the map's CRS): the
map's script zooms there when a row is clicked.
"""

from __future__ import annotations

from html import escape

import pandas as pd

from lifecircle.layers import geojson as lgj
from lifecircle.layers import style as lstyle

__all__ = ["complete_style", "headline_html", "kinds_html", "ledger_html", "units_html", "TEXT"]

#: Interface words of the view.
TEXT = {
    "zh": {
        "complete": "完整",
        "share": "完整比例",
        "people": "人",
        "kinds": "项",
        "all_kinds": "{n} 项齐全",
        "missing_n": "缺 {n} 项",
        "unit": "社区",
        "kind": "设施",
        "within": "可达人口",
        "ledger_empty": "无缺项。",
        "tier": "范围",
        "gap": "影响人口",
        "zoom": "点击行可在地图上定位",
        "none": "（无）",
        "legend_title": "完整生活圈（{tier}）",
        "n_of": "{have}/{n} 项",
        "std": "标准",
        "unverified": "未核实",
        "verified": "已核实",
    },
    "en": {
        "complete": "complete",
        "share": "complete",
        "people": "people",
        "kinds": "kinds",
        "all_kinds": "all {n} kinds",
        "missing_n": "{n} missing",
        "unit": "Community",
        "kind": "Kind",
        "within": "within reach",
        "ledger_empty": "No gaps.",
        "tier": "Tier",
        "gap": "affected",
        "zoom": "click a row to zoom the map there",
        "none": "(none)",
        "legend_title": "Complete life circle ({tier})",
        "n_of": "{have}/{n} kinds",
        "std": "Standard",
        "unverified": "unverified",
        "verified": "verified",
    },
}

#: Residents' colours from "none of the kinds" (red) to "every kind" (green).
_RAMP = ("#b71c1c", "#e53935", "#f4511e", "#fb8c00", "#fdd835", "#c0ca33", "#7cb342", "#2e7d32")


def _t(key: str, lang: str, **fmt) -> str:
    text = TEXT.get(lang, TEXT["zh"])[key]
    return text.format(**fmt) if fmt else text


def palette(n: int) -> list[str]:
    """``n + 1`` colours: index = required kinds within reach (the last, all of them, is green)."""
    if n <= 0:
        return [_RAMP[-1]]
    reds = _RAMP[:-1]
    out = [reds[round(i * (len(reds) - 1) / max(n - 1, 1))] for i in range(n)]
    return [*out, _RAMP[-1]]


def complete_style(base_style: dict, n_kinds: int, lang: str) -> dict:
    """The map style with the residents' classes of the complete view (class = kinds within reach)."""
    style = dict(base_style)
    style["class_colors"] = palette(n_kinds)
    style["class_labels"] = [
        _t("all_kinds", lang, n=n_kinds) if i == n_kinds else _t("missing_n", lang, n=n_kinds - i)
        for i in range(n_kinds + 1)
    ]
    return style


def legend_block(n_kinds: int, tier_label: str, lang: str) -> dict:
    """The legend's block of the residents in the complete view (what the dots' colours mean)."""
    colors = palette(n_kinds)
    items = [
        {
            "shape": "dot",
            "color": colors[i],
            "label": _t("all_kinds", lang, n=n_kinds) if i == n_kinds else _t("missing_n", lang, n=n_kinds - i),
        }
        for i in range(n_kinds, -1, -1)
    ]
    return {"layer": "demand", "title": _t("legend_title", lang, tier=tier_label), "items": items}


def _num(v: float) -> str:
    return f"{v:,.0f}"


def _delta(v: float) -> str:
    if abs(v) < 0.5:
        return '<span class="lc-flat">±0</span>'
    cls = "lc-up" if v > 0 else "lc-down"
    return f'<span class="{cls}">{v:+,.0f}</span>'


def headline_html(rows: list[dict], standard, total: float, lang: str, selected: str) -> str:
    """Cards: per tier, the people in a complete circle, their share and the change."""
    flag = _t("verified", lang) if standard.verified else _t("unverified", lang)
    head = (
        f'<div class="lc-note" data-testid="complete-standard">{escape(_t("std", lang))}: '
        f'{escape(standard.title or standard.name)} · <b style="color:{"#1b7f3b" if standard.verified else "#b3261e"}">'
        f"{escape(flag)}</b></div>"
    )
    cards = []
    for r in rows:
        label = r["label"] if lang == "zh" else r["label_en"]
        wide = " lc-wide" if r["tier"] == selected else ""
        cards.append(
            f'<div class="lc-card{wide}" data-testid="complete-{escape(r["tier"])}" data-weight="{r["complete"]:.3f}">'
            f'<div class="lc-card-label">{escape(label)} · {r["n_kinds"]} {escape(_t("kinds", lang))}</div>'
            f'<div class="lc-card-value">{100 * r["share"]:.1f}%<small>{_num(r["complete"])} {escape(_t("people", lang))}</small></div>'
            f'<div class="lc-card-sub">{_delta(r["delta"])}</div></div>'
        )
    return head + f'<div class="lc-card-grid">{"".join(cards)}</div>'


def kinds_html(rows: list[dict], kinds, total: float, lang: str) -> str:
    """Per required kind of the tier: people within reach, share, change."""
    body = "".join(
        f'<tr data-kind="{escape(r["kind"])}" data-weight="{r["covered"]:.3f}"><td>{escape(lstyle.kind_label(kinds, r["kind"], lang))}</td>'
        f"<td>{_num(r['covered'])}</td><td>{100 * r['share']:.1f}%</td><td>{_delta(r['delta'])}</td></tr>"
        for r in rows
    )
    return (
        f'<table class="lc-table" data-testid="complete-kinds"><tr><th>{escape(_t("kind", lang))}</th>'
        f"<th>{escape(_t('within', lang))}</th><th>%</th><th>Δ</th></tr>{body}</table>"
    )


def units_html(table: pd.DataFrame, tiers, lang: str) -> str:
    """The 社区 table: share complete per tier (and the change in people)."""
    if not len(table):
        return f'<div class="lc-empty">{escape(_t("none", lang))}</div>'
    head = "".join(f"<th>{escape(t.label(lang))}</th>" for t in tiers)
    rows = []
    for r in table.itertuples(index=False):
        rec = r._asdict()
        cells = "".join(
            f"<td>{100 * rec[f'complete_{t.key}']:.0f}%"
            + (f" {_delta(rec[f'delta_{t.key}'])}" if abs(rec[f"delta_{t.key}"]) >= 0.5 else "")
            + "</td>"
            for t in tiers
        )
        rows.append(f"<tr><td>{escape(str(rec['name']))}</td>{cells}</tr>")
    return (
        f'<div style="overflow-x:auto"><table class="lc-table" data-testid="complete-units"><tr>'
        f"<th>{escape(_t('unit', lang))}</th>{head}</tr>{''.join(rows)}</table></div>"
    )


def unit_bounds(units, crs: str) -> dict[str, str]:
    """``{社区 name: "west,south,east,north"}`` in the map's CRS."""
    out: dict[str, str] = {}
    if units is None:
        return out
    for name, geom in zip(units["name"].astype(str), units.geometry.values):
        w, s, e, n = geom.bounds
        (w2, s2), (e2, n2) = lgj.point_to_map(w, s, crs), lgj.point_to_map(e, n, crs)
        out[name] = f"{w2:.6f},{s2:.6f},{e2:.6f},{n2:.6f}"
    return out


def ledger_html(ledger: pd.DataFrame, kinds, standard, bounds: dict[str, str], lang: str, limit: int = 60) -> str:
    """The gap ledger (问题台账): 社区, tier, missing kind, people affected; a row click zooms the map."""
    if not len(ledger):
        return f'<div class="lc-empty">{escape(_t("ledger_empty", lang))}</div>'
    labels = {t.key: t.label(lang) for t in standard.tiers}
    rows = []
    for r in ledger.head(limit).itertuples(index=False):
        zoom = bounds.get(str(r.unit), "")
        rows.append(
            f'<tr class="lc-zoom" data-zoom="{escape(zoom)}" style="cursor:pointer" title="{escape(_t("zoom", lang))}">'
            f"<td>{escape(str(r.unit))}</td><td>{escape(labels.get(r.tier, str(r.tier)))}</td>"
            f"<td>{escape(lstyle.kind_label(kinds, str(r.kind), lang))}</td><td>{_num(r.weight)}</td>"
            f"<td>{100 * float(r.share):.0f}%</td></tr>"
        )
    more = f'<div class="lc-note">… {len(ledger) - limit}</div>' if len(ledger) > limit else ""
    return (
        f'<div class="lc-note">{escape(_t("zoom", lang))}</div>'
        f'<div style="overflow-x:auto"><table class="lc-table" data-testid="ledger"><tr><th>{escape(_t("unit", lang))}</th>'
        f"<th>{escape(_t('tier', lang))}</th><th>{escape(_t('kind', lang))}</th><th>{escape(_t('gap', lang))}</th>"
        f"<th>%</th></tr>{''.join(rows)}</table></div>{more}"
    )
