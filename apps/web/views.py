"""HTML fragments of the side panel; every text from data goes through :func:`html.escape`."""

from __future__ import annotations

from html import escape

import pandas as pd

from lifecircle.geo.coverage import tier_key
from lifecircle.geo.standards import tier_label

from .i18n import tr
from .state import Headline

__all__ = ["CSS", "section", "header_html", "headline_html", "candidates_html", "units_html"]

#: Styles of the HTML fragments (each pane has its own shadow root, so each gets them).
CSS = """
:host { width: 100%; }
.lc-card-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
.lc-card { background: #fff; border: 1px solid #e3e8ee; border-radius: 8px; padding: 9px 11px; }
.lc-card.lc-wide { grid-column: 1 / span 2; }
.lc-card-label { color: #5b6b7b; font-size: 12px; }
.lc-card-value { font-size: 21px; font-weight: 700; color: #1f2d3d; font-variant-numeric: tabular-nums; line-height: 1.25; }
.lc-card-value small { font-size: 12px; font-weight: 500; color: #5b6b7b; margin-left: 3px; }
.lc-card-sub { color: #5b6b7b; font-size: 11.5px; }
.lc-up { color: #1b7f3b; font-weight: 600; }
.lc-down { color: #b3261e; font-weight: 600; }
.lc-flat { color: #8a96a3; }
.lc-bar { height: 5px; background: #e9eef3; border-radius: 3px; margin-top: 5px; overflow: hidden; position: relative; }
.lc-bar-base { position: absolute; left: 0; top: 0; bottom: 0; background: #90a4ae; }
.lc-bar-now { position: absolute; left: 0; top: 0; bottom: 0; background: #1565c0; }
.lc-note { color: #6b7785; font-size: 11.5px; margin-top: 6px; }
table.lc-table { width: 100%; border-collapse: collapse; font-size: 12px; font-variant-numeric: tabular-nums; }
table.lc-table th { text-align: right; color: #5b6b7b; font-weight: 600; border-bottom: 1px solid #dfe5eb; padding: 4px 5px; white-space: nowrap; }
table.lc-table th:first-child, table.lc-table td:first-child { text-align: left; }
table.lc-table td { text-align: right; padding: 4px 5px; border-bottom: 1px solid #f0f3f6; }
table.lc-table tr:hover td { background: #f6f9fc; }
.lc-share { display: inline-block; min-width: 42px; }
.lc-scroll { overflow-x: auto; max-width: 100%; }
table.lc-nowrap td { white-space: nowrap; }
.lc-chip { display: inline-block; padding: 0 8px; height: 19px; line-height: 19px; border-radius: 10px; background: #c2185b; color: #fff;
           font-size: 11px; font-weight: 700; text-align: center; white-space: nowrap; }
.lc-empty { color: #6b7785; font-size: 12px; line-height: 1.5; }
.lc-header { display: flex; align-items: center; gap: 14px; height: 56px; min-width: 0; }
.lc-logo { width: 30px; height: 30px; border-radius: 50%; border: 3px solid #fff; position: relative; flex: 0 0 auto; }
.lc-logo::after { content: ""; position: absolute; inset: 5px; border-radius: 50%; background: #fff; }
.lc-app { font-size: 17px; font-weight: 700; color: #fff; letter-spacing: 1px; white-space: nowrap; }
.lc-title { font-size: 14px; color: #cfe3f5; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.lc-badge { background: #ffca28; color: #3e2723; font-size: 12px; font-weight: 700; padding: 3px 10px; border-radius: 12px; white-space: nowrap; }
@media (max-width: 1200px) {
  .lc-title { max-width: 260px; font-size: 13px; }
  .lc-app { font-size: 15px; letter-spacing: 0; }
  .lc-badge { max-width: 150px; overflow: hidden; text-overflow: ellipsis; }
}
.lc-section { font-size: 13px; font-weight: 700; color: #263238; border-left: 3px solid #1565c0; padding-left: 8px; margin: 2px 0 0 0; }
"""


def _num(value: float) -> str:
    return f"{value:,.0f}"


def _delta(value: float, lang: str, *, more_is_better: bool = True) -> str:
    if abs(value) < 0.5:
        return f'<span class="lc-flat">{escape(tr("vs_base", lang, delta="±0"))}</span>'
    cls = "lc-up" if (value > 0) == more_is_better else "lc-down"
    return f'<span class="{cls}">{escape(tr("vs_base", lang, delta=f"{value:+,.0f}"))}</span>'


def section(title: str) -> str:
    """A section heading."""
    return f'<div class="lc-section">{escape(title)}</div>'


def header_html(app: str, title: str, badge: str | None) -> str:
    """The page header: app name, the study's title and, for the demo, its honest badge."""
    parts = [
        '<div class="lc-header">',
        '<div class="lc-logo"></div>',
        f'<div class="lc-app">{escape(app)}</div>',
        f'<div class="lc-title">{escape(title)}</div>',
    ]
    if badge:
        parts.append(f'<div class="lc-badge" data-testid="demo-badge">{escape(badge)}</div>')
    parts.append("</div>")
    return "".join(parts)


def headline_html(head: Headline, lang: str) -> str:
    """Cards with the population covered per tier, its share and the change the candidates make."""
    cards = []
    for row in head.rows:
        tier = tier_label(row["tier"], lang)
        share_base = row["base"] / head.total if head.total else 0.0
        cards.append(
            f'<div class="lc-card" data-testid="covered-{tier_key(row["tier"])}">'
            f'<div class="lc-card-label">{escape(tr("covered_within", lang, tier=tier))}</div>'
            f'<div class="lc-card-value"><span class="lc-fig" data-value="{row["covered"]:.3f}">{_num(row["covered"])}</span>'
            f"<small>{row['share']:.1%}</small></div>"
            f'<div class="lc-bar"><div class="lc-bar-now" style="width:{100 * row["share"]:.2f}%"></div>'
            f'<div class="lc-bar-base" style="width:{100 * share_base:.2f}%"></div></div>'
            f'<div class="lc-card-sub">{_delta(row["delta"], lang)}</div></div>'
        )
    top = tier_label(head.rows[-1]["tier"], lang)
    cards.append(
        f'<div class="lc-card lc-wide" data-testid="unserved">'
        f'<div class="lc-card-label">{escape(tr("unserved", lang, tier=top))}</div>'
        f'<div class="lc-card-value"><span class="lc-fig" data-value="{head.unserved:.3f}">{_num(head.unserved)}</span>'
        f"<small>{head.unserved / head.total if head.total else 0:.1%}</small></div>"
        f'<div class="lc-card-sub">{_delta(head.unserved - head.base_unserved, lang, more_is_better=False)}</div></div>'
    )
    note = tr("total", lang, total=_num(head.total), unreachable=_num(head.unreachable))
    return f'<div class="lc-card-grid">{"".join(cards)}</div><div class="lc-note">{escape(note)}</div>'


def candidates_html(gains: pd.DataFrame, tiers, lang: str) -> str:
    """The candidates with what each adds (leave-one-out gain) per tier."""
    if not len(gains):
        return f'<div class="lc-empty">{escape(tr("no_candidates", lang))}</div>'
    head = "".join(f"<th>{escape(tr('gain', lang, tier=tier_label(t, lang)))}</th>" for t in tiers)
    rows = []
    for rec in gains.to_dict("records"):
        cells = "".join(f"<td>{_gain(rec[f'gain_{tier_key(t)}'])}</td>" for t in tiers)
        mark = "★ " if rec.get("origin") == "suggested" else ""
        rows.append(
            f'<tr data-id="{escape(str(rec["id"]))}"><td><span class="lc-chip">{mark}{escape(str(rec["id"]))}</span></td>{cells}</tr>'
        )
    return (
        f'<div class="lc-scroll"><table class="lc-table lc-nowrap" data-testid="candidates"><thead><tr>'
        f"<th>{escape(tr('cand_id', lang))}</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _gain(value: float) -> str:
    """A gain as "+12,345" ("–" for a kind the per-kind figures do not cover)."""
    if value != value:  # NaN
        return "–"
    return f"+{value:,.0f}"


def units_html(table: pd.DataFrame, tiers, lang: str) -> str:
    """Coverage per community: population, share per tier, and the change the candidates make."""
    if not len(table):
        return f'<div class="lc-empty">{escape(tr("no_units", lang))}</div>'
    head = "".join(f"<th>{escape(tier_label(t, lang))}</th>" for t in tiers)
    rows = []
    for rec in table.to_dict("records"):
        cells = []
        for t in tiers:
            key = tier_key(t)
            delta = rec[f"delta_{key}"]
            plus = f' <span class="lc-up">+{delta:,.0f}</span>' if delta >= 0.5 else ""
            cells.append(f'<td><span class="lc-share">{rec[f"share_{key}"]:.1%}</span>{plus}</td>')
        rows.append(f"<tr><td>{escape(str(rec['name']))}</td><td>{_num(rec['weight'])}</td>{''.join(cells)}</tr>")
    return (
        f'<table class="lc-table" data-testid="units"><thead><tr><th>{escape(tr("unit", lang))}</th>'
        f"<th>{escape(tr('population', lang))}</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
