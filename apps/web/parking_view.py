"""The street office's tab: shared night parking (错时共享停车) on the same network.

Walking pairs between compounds and lots are searched once per process up to
the slider's longest walk; each walking limit's optimal match
(:func:`geo.parking.match_parking`) is computed once and shared read-only by
every session.
"""

from __future__ import annotations

import json
from functools import partial
from html import escape
from io import BytesIO

import pandas as pd
import panel as pn

from lifecircle.geo import io as gio
from lifecircle.layers import maplayers as lml

from . import views
from .i18n import map_labels, tr
from .leaflet_map import LeafletMap
from .workspace import Workspace

__all__ = ["MAX_WALK_M", "DEFAULT_WALK_M", "parking_available", "parking_result", "ParkingView"]

#: Longest walk the slider offers (metres); pairs are searched up to it once.
MAX_WALK_M = 1000
DEFAULT_WALK_M = 500


def parking_available(ws: Workspace) -> bool:
    """True when the workspace has lots and residences (the parking tab is shown)."""
    return ws.lots is not None and ws.residences is not None and len(ws.lots) > 0 and len(ws.residences) > 0


def parking_result(ws: Workspace, max_walk_m: int):
    """The optimal match for a walking limit (computed once per process and limit)."""
    from lifecircle.geo import parking

    pairs = ws.cached(
        ("parking_pairs",),
        lambda: parking.walk_pairs(ws.net, ws.residences, ws.lots, max_walk_m=MAX_WALK_M, snap_limit_m=ws.snap_limit_m),
    )
    return ws.cached(
        ("parking", int(max_walk_m)),
        lambda: parking.match_parking(
            ws.net, ws.lots, ws.residences, max_walk_m=float(max_walk_m), pairs=pairs, snap_limit_m=ws.snap_limit_m
        ),
    )


class ParkingView:
    """Slider, headline, tables and map of the shared-parking match.

    Parameters
    ----------
    workspace
        The process's data (with ``lots`` and ``residences``).
    lang
        ``"zh"`` or ``"en"``.
    """

    def __init__(self, workspace: Workspace, lang: str = "zh") -> None:
        self.ws, self.lang = workspace, lang
        self.walk_w = pn.widgets.IntSlider(
            start=100, end=MAX_WALK_M, step=50, value=DEFAULT_WALK_M, sizing_mode="stretch_width"
        )
        self.title_w = pn.pane.HTML(stylesheets=[views.CSS], sizing_mode="stretch_width", margin=(4, 10))
        self.headline_w = pn.pane.HTML(stylesheets=[views.CSS], sizing_mode="stretch_width", margin=(4, 10))
        self.table_w = pn.pane.HTML(stylesheets=[views.CSS], sizing_mode="stretch_width", margin=(4, 10))
        self.downloads = {
            key: pn.widgets.FileDownload(
                callback=partial(self._export, key), filename=name, sizing_mode="stretch_width", height=34
            )
            for key, name in (
                ("matches", "parking_matches.geojson"),
                ("residences", "parking_compounds.csv"),
                ("lots", "parking_lots.csv"),
            )
        }
        self.map = LeafletMap(bounds=list(workspace.bounds()), layers_on=["boundaries", "parking"])
        self.map.param.update(
            streets=workspace.streets_text(), boundaries=lml.boundaries_text(workspace.boundary_frames())
        )
        self.walk_w.param.watch(lambda _e: self.update(), "value")
        self.set_lang(lang)

    def set_lang(self, lang: str) -> None:
        """Relabel and redraw in ``lang``."""
        self.lang = lang
        self.walk_w.name = tr("parking_walk", lang)
        self.title_w.object = views.section(tr("parking_headline", lang))
        labels = {
            "matches": "匹配线 GeoJSON" if lang == "zh" else "Matches GeoJSON",
            "residences": "小区表 CSV" if lang == "zh" else "Compounds CSV",
            "lots": "停车场表 CSV" if lang == "zh" else "Lots CSV",
        }
        for key, widget in self.downloads.items():
            widget.label = labels[key]
        self.map.param.update(
            labels=json.dumps(map_labels(lang), ensure_ascii=False),
            legend=json.dumps(lml.parking_legend(lang), ensure_ascii=False),
            style=json.dumps(lml.map_style(self.ws.kinds, [], self.ws.tiers, lang), ensure_ascii=False),
        )
        self.update()

    def update(self) -> None:
        """Solve (or reuse) the match for the slider's limit and show it."""
        res = parking_result(self.ws, self.walk_w.value)
        self.map.parking = lml.parking_text(res.to_geodataframe(), res.residences, res.lots, lang=self.lang)
        self.headline_w.object = _headline_html(res, self.lang)
        self.table_w.object = _residences_html(res.residences, self.lang)

    def _export(self, key: str) -> BytesIO:
        res = parking_result(self.ws, self.walk_w.value)
        if key == "matches":
            return BytesIO(
                gio.geojson_text(res.to_geodataframe(), metadata={"max_walk_m": self.walk_w.value}).encode("utf-8")
            )
        table = res.residence_table() if key == "residences" else res.lot_table()
        return BytesIO(table.to_csv(index=False).encode("utf-8-sig"))

    def view(self) -> pn.Row:
        """The tab's layout."""
        side = pn.Column(
            self.title_w,
            self.walk_w,
            self.headline_w,
            self.table_w,
            pn.GridBox(*self.downloads.values(), ncols=2, sizing_mode="stretch_width"),
            width=390,
            sizing_mode="stretch_height",
            scroll=True,
            margin=0,
            styles={"background": "#f7f9fb", "border-right": "1px solid #dde3ea"},
        )
        return pn.Row(side, self.map, sizing_mode="stretch_both", margin=0)


def _card(label: str, value: str, sub: str = "", testid: str = "") -> str:
    return (
        f'<div class="lc-card" data-testid="{testid}"><div class="lc-card-label">{escape(label)}</div>'
        f'<div class="lc-card-value">{escape(value)}</div><div class="lc-card-sub">{escape(sub)}</div></div>'
    )


def _headline_html(res, lang: str) -> str:
    s = res.summary()
    zh = lang == "zh"
    cards = [
        _card(
            "缺口闭合比例" if zh else "Share of the gap closed",
            f"{s['share_of_demand']:.1%}",
            (
                f"{s['matched']:,} / {s['demand_total']:,} 辆"
                if zh
                else f"{s['matched']:,} of {s['demand_total']:,} cars"
            ),
            "parking-share",
        ),
        _card(
            "平均步行" if zh else "Mean walk",
            f"{s['mean_walk_m'] or 0:,.0f} m",
            (f"最远 {s['max_walk_m']:,.0f} m" if zh else f"limit {s['max_walk_m']:,.0f} m"),
        ),
        _card(
            "启用停车场" if zh else "Lots used",
            f"{s['lots_used']} / {s['lots']}",
            ("可共享车位 " if zh else "spaces offered ") + f"{s['supply_total']:,}",
        ),
        _card(
            "完全满足的小区" if zh else "Compounds fully served",
            f"{s['residences_fully_served']} / {s['residences']}",
            "最优匹配（HiGHS）" if zh else "optimal match (HiGHS)",
        ),
    ]
    return f'<div class="lc-card-grid">{"".join(cards)}</div>'


def _residences_html(r: pd.DataFrame, lang: str) -> str:
    zh = lang == "zh"
    head = (
        "<th>小区</th><th>缺口</th><th>已安排</th><th>比例</th>"
        if zh
        else "<th>Compound</th><th>Short</th><th>Placed</th><th>Share</th>"
    )
    rows = "".join(
        f"<tr><td>{escape(str(x.get('name') or x['id']))}</td><td>{int(x['demand'])}</td><td>{int(x['placed'])}</td>"
        f"<td>{float(x['share_closed'] or 0):.0%}</td></tr>"
        for x in r.drop(columns="geometry").to_dict("records")
    )
    return f'<table class="lc-table" data-testid="parking-residences"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
