"""The page's scenario comparison (方案比较): two saved scenarios, or one and today (现状), side by side.

:class:`ComparePanel` is a sidebar card: pick side A and side B, press 比较, and it shows the
headline figures per tier and kind on both sides with the differences (kinds that change; the
others are named as unchanged), the 社区 table of the page's kind with the differences, and it
sends the residents who gain or lose to the map's ``changes`` layer. Every figure comes from
:func:`geo.scenarios.compare` on the workspace's network, facility points, demand and 社区.
"""

from __future__ import annotations

import html
from typing import Any

import geopandas as gpd
import pandas as pd
import panel as pn
import shapely

from lifecircle.geo import scenarios as sc
from lifecircle.geo.coverage import ANY, tier_key
from lifecircle.geo.errors import LifecircleError
from lifecircle.geo.standards import tier_label
from lifecircle.layers import geojson as lgj
from lifecircle.layers import style as lstyle

from .views import CSS, section

__all__ = [
    "ComparePanel",
    "compare_facilities",
    "evaluation_frames",
    "run_compare",
    "changes_text",
    "WORDS",
    "MAP_WORDS",
]

#: The card's words, Chinese (default) and English.
WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "方案比较",
        "a": "方案 A",
        "b": "方案 B",
        "today": "现状",
        "run": "比较",
        "same": "请选择两个不同的方案。",
        "head": "覆盖人口（B − A）",
        "cols": "类型|范围|A|B|差值",
        "unchanged": "其余类型无变化：{kinds}",
        "units": "各社区覆盖人口（{kind}，B − A）",
        "ucols": "社区|{tier} A|{tier} B|差值",
        "residents": "地图：{tier}内获益 {gain} 人、受损 {loss} 人、有得有失 {mixed} 人的居民点",
        "tier": "地图显示的范围",
        "kind": "社区表的设施类型",
        "complete": "完整生活圈人口（{standard}，B − A）",
        "ccols": "层级|A|B|差值",
        "done": "已比较“{a}”与“{b}”",
    },
    "en": {
        "title": "Compare scenarios",
        "a": "Scenario A",
        "b": "Scenario B",
        "today": "today",
        "run": "Compare",
        "same": "Pick two different scenarios.",
        "head": "People covered (B − A)",
        "cols": "kind|tier|A|B|difference",
        "unchanged": "No change for the other kinds: {kinds}",
        "units": "People covered by community ({kind}, B − A)",
        "ucols": "community|{tier} A|{tier} B|difference",
        "residents": "Map: residents within {tier} gaining ({gain}), losing ({loss}), mixed ({mixed})",
        "tier": "Tier drawn on the map",
        "kind": "Kind of the community table",
        "complete": "People in a complete life circle ({standard}, B − A)",
        "ccols": "tier|A|B|difference",
        "done": "Compared '{a}' with '{b}'",
    },
}
#: Words of the map's ``changes`` layer (merged into the map's labels).
MAP_WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "change_gain": "获益",
        "change_loss": "受损",
        "change_mixed": "有得有失",
        "change_gained": "新覆盖",
        "change_lost": "失去覆盖",
    },
    "en": {
        "change_gain": "gains",
        "change_loss": "loses",
        "change_mixed": "gains and loses",
        "change_gained": "newly covered",
        "change_lost": "no longer covered",
    },
}
_TODAY = "__today__"


def compare_facilities(ws) -> gpd.GeoDataFrame:
    """The facility points a comparison runs on: every kind of the project (parks by their entrances)."""
    fac = getattr(ws, "eval_facilities", None)
    if fac is None:
        return ws.facilities
    pts = fac[shapely.get_type_id(fac.geometry.values) == 0]
    return pts.reset_index(drop=True)


def evaluation_frames(ws):
    """Turn a side's facility points into what :func:`geo.evaluate.evaluate` takes: the project's area
    facilities (park polygons) are added back, except those whose every entrance the side closed."""
    fac = getattr(ws, "eval_facilities", None)
    if fac is None or "entrance_of" not in fac:
        return None
    polys = fac[shapely.get_type_id(fac.geometry.values) != 0]
    had = set(fac["entrance_of"].dropna().astype(str))

    def frames(points: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        left = set(points["entrance_of"].dropna().astype(str)) if "entrance_of" in points else set()
        ids = polys["id"].astype(str)
        keep = polys[~ids.isin(had) | ids.isin(left)]
        return gpd.GeoDataFrame(pd.concat([points, keep], ignore_index=True), geometry="geometry", crs="EPSG:4326")

    return frames


def run_compare(ws, a: sc.Scenario | None, b: sc.Scenario | None, standard: str | None = None) -> sc.Comparison:
    """:func:`geo.scenarios.compare` on the workspace's data (None stands for today); with a standard,
    the complete life circles per tier too."""
    return sc.compare(
        ws.net,
        compare_facilities(ws),
        ws.demand,
        a,
        b,
        tiers=ws.tiers,
        units=ws.communities,
        snap_limit_m=ws.snap_limit_m,
        standard=standard,
        evaluation_facilities=evaluation_frames(ws),
    )


def _num(v: float) -> str:
    return f"{v:,.0f}"


def _diff(v: float) -> str:
    cls = "lc-up" if v > 0.5 else ("lc-down" if v < -0.5 else "lc-flat")
    return f'<span class="{cls}">{v:+,.0f}</span>'


class ComparePanel:
    """The sidebar card comparing two sides.

    Parameters
    ----------
    state
        The session's :class:`~apps.web.state.PlannerState` (its language, kind and workspace).
    store
        The scenarios' store.
    on_changes
        Called with the residents who gain or lose (a GeoDataFrame, or None to clear the layer).
    """

    def __init__(self, state, store: sc.ScenarioStore, *, on_changes=None) -> None:
        self.state, self.store, self.on_changes = state, store, on_changes
        self.result: sc.Comparison | None = None
        self.complete_error = ""
        w = self.words
        self.title_w = pn.pane.HTML("", margin=(8, 10, 0, 10), stylesheets=[CSS], sizing_mode="stretch_width")
        self.a_w = pn.widgets.Select(label=w["a"], options={}, sizing_mode="stretch_width")
        self.b_w = pn.widgets.Select(label=w["b"], options={}, sizing_mode="stretch_width")
        self.run_w = pn.widgets.Button(label=w["run"], color="primary", sizing_mode="stretch_width")
        self.tier_w = pn.widgets.RadioButtonGroup(
            options=self._tier_options(), value=float(state.ws.tiers[-1]), color="default", sizing_mode="stretch_width"
        )
        self.kind_w = pn.widgets.Select(label=w["kind"], options={}, sizing_mode="stretch_width", visible=False)
        self.out_w = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[CSS])
        self.units_w = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[CSS])
        self.run_w.on_click(lambda _e: self.compare())
        self.tier_w.param.watch(lambda _e: self._redraw(), "value")
        self.kind_w.param.watch(lambda _e: self._redraw(units_only=True), "value")
        self.relabel()

    @property
    def words(self) -> dict[str, str]:
        return WORDS.get(getattr(self.state, "lang", "zh"), WORDS["zh"])

    def _tier_options(self) -> dict[str, float]:
        return {tier_label(t, self.state.lang): float(t) for t in self.state.ws.tiers}

    def refresh(self) -> None:
        """Re-read the store's names into both pick lists (today first)."""
        try:
            names = self.store.names()
        except LifecircleError:
            names = []
        opts = {self.words["today"]: _TODAY, **{n: n for n in names}}
        a, b = self.a_w.value, self.b_w.value
        self.a_w.options, self.b_w.options = opts, opts
        self.a_w.value = a if a in opts.values() else _TODAY
        self.b_w.value = b if b in opts.values() else (names[0] if names else _TODAY)

    def relabel(self) -> None:
        """Put the card's words in the session's language."""
        w = self.words
        self.title_w.object = section(w["title"])
        self.a_w.label, self.b_w.label, self.run_w.label, self.kind_w.label = w["a"], w["b"], w["run"], w["kind"]
        value = self.tier_w.value
        self.tier_w.options = self._tier_options()
        self.tier_w.value = value
        self.refresh()
        if self.result is not None:
            kind = self.kind_w.value
            self.kind_w.options = {
                lstyle.kind_label(self.state.ws.kinds, k, self.state.lang): k for k in [*self.result.kinds, ANY]
            }
            self.kind_w.value = kind
            self._draw()

    def _side_or_error(self, value: str) -> sc.Scenario | None | str:
        try:
            return None if value in (None, _TODAY) else self.store.load(value)
        except LifecircleError as exc:
            return str(exc)

    def compare(self) -> sc.Comparison | None:
        """Compare the two sides picked; show the tables and send the residents layer."""
        w = self.words
        if self.a_w.value == self.b_w.value:
            self.out_w.object = f"<div class='lc-note' style='color:#b3261e'>{html.escape(w['same'])}</div>"
            return None
        a, b = self._side_or_error(self.a_w.value), self._side_or_error(self.b_w.value)
        if isinstance(a, str) or isinstance(b, str):
            self.out_w.object = (
                f"<div class='lc-note' style='color:#b3261e'>{html.escape(a if isinstance(a, str) else str(b))}</div>"
            )
            return None
        self.complete_error = ""
        try:
            try:
                self.result = run_compare(self.state.ws, a, b, standard=self.state.standard)
            except ValueError as exc:  # the standard cannot be evaluated on these data: coverage only
                if not isinstance(exc, sc.ScenarioError):
                    self.complete_error = str(exc)
                    self.result = run_compare(self.state.ws, a, b)
                else:
                    raise
        except LifecircleError as exc:  # a scenario whose facilities left the data, a store that cannot be read
            self.out_w.object = f"<div class='lc-note' style='color:#b3261e'>{html.escape(str(exc))}</div>"
            return None
        kinds = [*self.result.kinds, ANY]
        self.kind_w.options = {lstyle.kind_label(self.state.ws.kinds, k, self.state.lang): k for k in kinds}
        head = self.result.headline()
        moving = [k for k in kinds if (head.loc[head["kind"] == k, "diff_weight"].abs() > 1e-9).any()]
        self.kind_w.value = self.state.kind if self.state.kind in moving else (moving[0] if moving else ANY)
        self.kind_w.visible = True
        self._draw()
        return self.result

    def _redraw(self, units_only: bool = False) -> None:
        if self.result is None:
            return
        if units_only:
            self.units_w.object = self._units_html(self.result)
        else:
            self._draw()

    def _label(self, side: str) -> str:
        return self.words["today"] if side == sc.TODAY else side

    def _draw(self) -> None:
        cmp, w, s = self.result, self.words, self.state
        assert cmp is not None
        kinds = s.ws.kinds
        head = cmp.headline()
        changed = set(
            head.loc[(head["diff_weight"].abs() > 1e-9) | (head["facilities_a"] != head["facilities_b"]), "kind"]
        )
        changed.add(ANY)
        shown = [k for k in [*cmp.kinds, ANY] if k in changed]
        same = [k for k in cmp.kinds if k not in changed]
        cols = "".join(f"<th>{html.escape(c)}</th>" for c in w["cols"].split("|"))
        rows = []
        for r in head[head["kind"].isin(shown)].itertuples():
            label = lstyle.kind_label(kinds, r.kind, s.lang)
            rows.append(
                f"<tr data-kind='{html.escape(r.kind)}' data-tier='{r.tier_m:g}' data-a='{r.weight_a:.3f}' "
                f"data-b='{r.weight_b:.3f}' data-diff='{r.diff_weight:.3f}'><td>{html.escape(label)}</td>"
                f"<td>{html.escape(tier_label(r.tier_m, s.lang))}</td><td>{_num(r.weight_a)}</td><td>{_num(r.weight_b)}</td>"
                f"<td>{_diff(r.diff_weight)}</td></tr>"
            )
        title = (
            f"<div class='lc-note'><b>A</b> {html.escape(self._label(cmp.a_name))} · "
            f"<b>B</b> {html.escape(self._label(cmp.b_name))}</div>"
        )
        parts = [
            title,
            f"<div class='lc-section'>{html.escape(w['head'])}</div>",
            f"<div class='lc-scroll'><table class='lc-table' data-testid='compare-headline'><thead><tr>{cols}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>",
        ]
        parts.append(self._complete_html(cmp))
        if same:
            parts.append(
                f"<div class='lc-note'>{html.escape(w['unchanged'].format(kinds='、'.join(lstyle.kind_label(kinds, k, s.lang) for k in same)))}</div>"
            )
        parts.append(self._residents_note(cmp))
        self.out_w.object = "".join(parts)
        self.units_w.object = self._units_html(cmp)
        self._push_changes()

    def _complete_html(self, cmp: sc.Comparison) -> str:
        """People in a complete life circle per tier of the standard, both sides and the difference."""
        w, s = self.words, self.state
        if cmp.completeness is None:
            err = getattr(self, "complete_error", "")
            return f"<div class='lc-note'>{html.escape(err)}</div>" if err else ""
        std = cmp.completeness.get("standard")
        name = std.get("name", "") if isinstance(std, dict) else str(std or s.standard)
        cols = "".join(f"<th>{html.escape(c)}</th>" for c in w["ccols"].split("|"))
        rows = "".join(
            f"<tr data-tier='{html.escape(t)}' data-a='{float(v['a']['weight']):.3f}' data-b='{float(v['b']['weight']):.3f}' "
            f"data-diff='{float(v['diff_weight']):.3f}'><td>{html.escape(t)}</td><td>{_num(float(v['a']['weight']))}</td>"
            f"<td>{_num(float(v['b']['weight']))}</td><td>{_diff(float(v['diff_weight']))}</td></tr>"
            for t, v in cmp.completeness["complete"].items()
        )
        return (
            f"<div class='lc-section'>{html.escape(w['complete'].format(standard=name))}</div>"
            f"<table class='lc-table' data-testid='compare-complete'><thead><tr>{cols}</tr></thead><tbody>{rows}</tbody></table>"
        )

    def _units_html(self, cmp: sc.Comparison) -> str:
        units = cmp.by_unit()
        if units is None or not len(units):
            return ""
        w, s = self.words, self.state
        kind = self.kind_w.value if self.kind_w.value in [*cmp.kinds, ANY] else ANY
        tier = float(self.tier_w.value)
        key = f"{kind}_{tier_key(tier)}"
        tl = tier_label(tier, s.lang)
        cols = "".join(f"<th>{html.escape(c)}</th>" for c in w["ucols"].format(tier=tl).split("|"))
        rows = "".join(
            f"<tr data-unit='{html.escape(str(r['id']))}' data-a='{r[f'covered_a_{key}']:.3f}' data-b='{r[f'covered_b_{key}']:.3f}' "
            f"data-diff='{r[f'diff_{key}']:.3f}'><td>{html.escape(str(r['name']))}</td><td>{_num(r[f'covered_a_{key}'])}</td>"
            f"<td>{_num(r[f'covered_b_{key}'])}</td><td>{_diff(r[f'diff_{key}'])}</td></tr>"
            for r in units.to_dict("records")
        )
        title = w["units"].format(kind=lstyle.kind_label(s.ws.kinds, kind, s.lang))
        return (
            f"<div class='lc-section'>{html.escape(title)}</div><div class='lc-scroll'>"
            f"<table class='lc-table' data-testid='compare-units' data-kind='{html.escape(kind)}' data-tier='{tier:g}'>"
            f"<thead><tr>{cols}</tr></thead><tbody>{rows}</tbody></table></div>"
        )

    def _residents_note(self, cmp: sc.Comparison) -> str:
        tier = float(self.tier_w.value)
        res = cmp.residents(tier)
        sums = {c: float(res.loc[res["change"] == c, "weight"].sum()) for c in ("gain", "loss", "mixed")}
        text = self.words["residents"].format(
            tier=tier_label(tier, self.state.lang), **{k: _num(v) for k, v in sums.items()}
        )
        data = " ".join(f"data-{k}='{v:.3f}'" for k, v in sums.items())
        return f"<div class='lc-note' data-testid='compare-residents' data-tier='{tier:g}' {data}>{html.escape(text)}</div>"

    def _push_changes(self) -> None:
        if self.result is None or self.on_changes is None:
            return
        self.on_changes(self.result.residents(float(self.tier_w.value)))

    def view(self) -> pn.Column:
        """The card for the sidebar."""
        return pn.Column(
            self.title_w,
            self.a_w,
            self.b_w,
            self.run_w,
            self.tier_w,
            self.out_w,
            self.kind_w,
            self.units_w,
            sizing_mode="stretch_width",
            css_classes=["lc-compare-card"],
        )


def changes_text(residents: gpd.GeoDataFrame | None, crs: str, lang: str = "zh") -> str:
    """The residents who gain or lose as map points (``change``, ``weight``, ``gained``, ``lost``)."""
    if residents is None or not len(residents):
        return ""
    geoms = residents.geometry.values
    pts = shapely.point_on_surface(geoms)
    props: list[dict[str, Any]] = [
        {
            "id": str(r["id"]),
            "change": str(r["change"]),
            "w": round(float(r["weight"]), 1),
            "gained": str(r["gained"]),
            "lost": str(r["lost"]),
            "d": round(float(r["delta_any"]), 1),
        }
        for r in residents.drop(columns="geometry").to_dict("records")
    ]
    return lgj.feature_collection(pts, props, crs=crs)
