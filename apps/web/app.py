"""The planner's page: a side panel and the map, one :class:`PlannerApp` per browser session.

``serve_workspace`` starts the Panel server (:mod:`apps.web.server`: access control,
bounded sessions); every connected session gets a new :class:`~apps.web.state.PlannerState`
and page over the :class:`~apps.web.workspace.Workspace` the process loaded once.
Leaflet and every other script, style sheet and image are served by this
server: nothing is fetched from a CDN.

Why one module of ~880 lines: the side panel's cards (kind, tiers, what-if, suggest, complete
view, scenarios, exports) are built and relabelled together by :class:`PlannerApp`; the cards
with logic of their own already live apart (``complete_view``, ``scenarios_panel``,
``compare_view``, ``parking_view``, ``upload``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from functools import partial
from io import BytesIO
from typing import Any

import numpy as np
import panel as pn

from lifecircle.geo import scenarios as gsc
from lifecircle.geo.coverage import ANY
from lifecircle.geo.standards import tier_label
from lifecircle.layers import geojson as lgj
from lifecircle.layers import maplayers as lml
from lifecircle.layers import style as lstyle

from . import compare_view, exports, views
from . import complete_view as cview
from .i18n import map_labels, tr
from .leaflet_map import LeafletMap
from .scenarios_panel import ScenarioPanel
from .state import LAYERS, TILES, PlannerState
from .workspace import Workspace

_log = logging.getLogger(__name__)

__all__ = ["PlannerApp", "serve_workspace"]

HEADER_BG = "#16324f"
SIDEBAR_WIDTH = 390
#: Below this window width (px) the side panel is narrower and starts folded (☰ opens it): a 1024 px laptop.
NARROW_WIDTH = 1080
NARROW_SIDEBAR_WIDTH = 330
_HTML_STYLES = [views.CSS]


def _html(text: str = "", **kw: Any) -> pn.pane.HTML:
    kw.setdefault("sizing_mode", "stretch_width")
    kw.setdefault("margin", (4, 10))
    return pn.pane.HTML(text, stylesheets=_HTML_STYLES, **kw)


class PlannerApp:
    """One session's page: widgets and the map bound to a :class:`PlannerState`.

    Parameters
    ----------
    workspace
        The process's shared data.
    state
        The session's state (a new one by default).
    """

    def __init__(self, workspace: Workspace, state: PlannerState | None = None) -> None:
        self.ws = workspace
        self.state = state or PlannerState(workspace)
        self.last_update_ms = 0.0
        self._timing, self._queued, self._pending = False, [], False
        self._colors_pending = False  # the residents' colours queued for the next message (_push_colors)
        self._headline_memo: tuple | None = None  # (state key, what-if result, headline HTML)
        self.map = LeafletMap(bounds=list(workspace.bounds()))
        self.map.on_message = self._on_message
        self._build_widgets()
        self._parking = None
        self._bind()
        self._push_all()

    # ---------------------------------------------------------------- widgets
    def _build_widgets(self) -> None:
        s, lang = self.state, self.state.lang
        self.lang_w = pn.widgets.RadioButtonGroup(
            options={"中文": "zh", "English": "en"}, value=lang, color="light", width=150, margin=(12, 16, 0, 0)
        )
        self.kind_w = pn.widgets.Select(options=self._kind_options(), value=s.kind, sizing_mode="stretch_width")
        self.gap_w = pn.widgets.RadioButtonGroup(
            options=self._tier_options(), value=float(s.gap_tier), color="default", sizing_mode="stretch_width"
        )
        self.add_w = pn.widgets.Toggle(value=False, color="primary", sizing_mode="stretch_width", height=38)
        self.undo_w = pn.widgets.Button(color="default", disabled=True, sizing_mode="stretch_width")
        self.clear_w = pn.widgets.Button(color="default", disabled=True, sizing_mode="stretch_width")
        self.pick_w = pn.widgets.Select(options=[], sizing_mode="stretch_width", disabled=True)
        self.remove_w = pn.widgets.Button(color="danger", variant="outline", disabled=True, width=90, align="end")
        self.k_w = pn.widgets.IntInput(value=3, start=1, end=30, step=1, width=110)
        self.suggest_w = pn.widgets.Button(color="success", sizing_mode="stretch_width", align="end")
        self.layers_w = pn.widgets.CheckBoxGroup(options=self._layer_options(), value=list(s.layers), inline=False)
        self.kinds_w = pn.widgets.CheckBoxGroup(options=self._present_options(), value=list(s.kinds_shown), inline=True)
        self.tiers_w = pn.widgets.CheckButtonGroup(
            options=self._tier_options(), value=list(s.tiers_shown), sizing_mode="stretch_width"
        )
        self.tiles_w = pn.widgets.Select(options=self._tile_options(), value=s.tiles, sizing_mode="stretch_width")
        self.crs_w = pn.widgets.RadioButtonGroup(
            options={"WGS84": "wgs84", "GCJ-02": "gcj02"}, value="wgs84", color="default", sizing_mode="stretch_width"
        )
        self.downloads = {
            key: pn.widgets.FileDownload(
                callback=partial(self._export, key),
                filename=exports.filename(key),
                color="default",
                sizing_mode="stretch_width",
                height=34,
            )
            for key in exports.EXPORTS
        }
        self.header_w = _html(height=56, margin=(0, 16))
        self.headline_w = _html()
        self.candidates_w = _html()
        self.units_w = _html()
        self.status_w = _html()
        self.titles = {k: _html() for k in ("settings", "headline", "whatif", "units", "layers", "export")}
        self.captions = {
            k: pn.widgets.StaticText(margin=(0, 10))
            for k in ("kind", "gap_tier", "tiles", "export_crs", "suggest_k", "kinds_shown", "tiers_shown")
        }
        self._build_workbench_widgets()
        self._build_scenario_widgets()
        self.view_w = pn.widgets.RadioButtonGroup(
            options=self._view_options(), value="map", color="light", margin=(12, 10, 0, 0), visible=self._has_parking()
        )
        self._relabel()

    def _build_workbench_widgets(self) -> None:
        """Widgets of the complete view, every kind, closing, redo and input from the page."""
        from lifecircle.geo.evaluate import list_standards

        s = self.state
        self.mapview_w = pn.widgets.RadioButtonGroup(
            options=self._mapview_options(), value=s.view, color="default", sizing_mode="stretch_width"
        )
        names = [p["name"] for p in list_standards()]
        if s.standard not in names:
            names.append(s.standard)
        self.std_w = pn.widgets.Select(options=names, value=s.standard, sizing_mode="stretch_width")
        self.ctier_w = pn.widgets.RadioButtonGroup(
            options=self._ctier_options(), color="default", sizing_mode="stretch_width"
        )
        if self.ctier_w.options:
            s.complete_tier = s.complete_tier or list(self.ctier_w.options.values())[-1]
            self.ctier_w.value = s.complete_tier
        self.edit_kind_w = pn.widgets.Select(
            options=self._edit_kind_options(), value=s.edit_kind, sizing_mode="stretch_width"
        )
        self.area_w = pn.widgets.FloatInput(
            value=float(s.new_area_m2), start=0, step=1000, sizing_mode="stretch_width", visible=s.edit_kind == "park"
        )
        self.redo_w = pn.widgets.Button(color="default", disabled=True, sizing_mode="stretch_width")
        self.objective_w = pn.widgets.Select(
            options=self._objective_options(), value="cover", sizing_mode="stretch_width"
        )
        self.target_w = pn.widgets.FloatInput(value=90.0, start=1, end=100, step=5, width=110, visible=False)
        self.coord_w = pn.widgets.TextInput(placeholder="114.0585, 22.5628", sizing_mode="stretch_width")
        self.coord_crs_w = pn.widgets.RadioButtonGroup(
            options={"WGS84": "wgs84", "GCJ-02": "gcj02"}, value="gcj02", color="default", sizing_mode="stretch_width"
        )
        self.place_w = pn.widgets.Button(color="primary", variant="outline", width=90, align="end")
        self.upload_role_w = pn.widgets.RadioButtonGroup(
            options=self._role_options(), value="candidates", color="default", sizing_mode="stretch_width"
        )
        self.upload_w = pn.widgets.FileInput(accept=".csv,.xlsx,.xls,.geojson,.json", sizing_mode="stretch_width")
        self.upload_msg_w = _html()
        self.c_head_w, self.c_kinds_w, self.c_units_w, self.c_ledger_w = _html(), _html(), _html(), _html()
        for key in ("complete", "complete_kinds", "complete_units", "ledger", "input"):
            self.titles[key] = _html()
        for key in (
            "standard",
            "complete_tier",
            "edit_kind",
            "park_area",
            "objective",
            "target",
            "coords",
            "coords_crs",
            "upload_role",
        ):
            self.captions[key] = pn.widgets.StaticText(margin=(0, 10))
        self.captions["park_area"].visible = self.area_w.visible

    def _build_scenario_widgets(self) -> None:
        """The scenarios card (save, open, ...) and the comparison card, over the project's (or the demo's) store."""
        ws, s = self.ws, self.state
        store = gsc.store_for(None if ws.is_demo else ws.project_path)
        user = getattr(pn.state, "user", None) or gsc.default_user()
        self.compare = compare_view.ComparePanel(s, store, on_changes=self._on_changes)
        self.scenarios = ScenarioPanel(
            s, store, user=user, on_open=self._on_scenario_open, on_change=self.compare.refresh
        )

    def _on_scenario_open(self, _scenario) -> None:
        """A scenario was opened into the session: its figures are on the page; say how long it took."""
        self._status(tr("timing", self.state.lang, ms=self.state.last_seconds * 1000.0))

    def _on_changes(self, residents) -> None:
        self._changes = residents
        self.map.changes = compare_view.changes_text(residents, self.crs, self.state.lang)

    def _mapview_options(self) -> dict[str, str]:
        return {tr("mapview_kind", self.state.lang): "kind", tr("mapview_complete", self.state.lang): "complete"}

    def _ctier_options(self) -> dict[str, str]:
        comp = self.state.complete()
        if comp is None:
            return {}
        return {t.label(self.state.lang): t.key for t in comp.base.standard.tiers}

    def _edit_kind_options(self) -> dict[str, str]:
        return {lstyle.kind_label(self.ws.kinds, k, self.state.lang): k for k in self.state.param.edit_kind.objects}

    def _objective_options(self) -> dict[str, str]:
        return {tr(f"obj_{k}", self.state.lang): k for k in ("cover", "complete", "lscp")}

    def _role_options(self) -> dict[str, str]:
        return {tr(f"role_{k}", self.state.lang): k for k in ("candidates", "facilities")}

    def _kind_options(self) -> dict[str, str]:
        kinds = self.state.param.kind.objects
        return {lstyle.kind_label(self.ws.kinds, k, self.state.lang): k for k in kinds}

    def _present_options(self) -> dict[str, str]:
        return {lstyle.kind_label(self.ws.kinds, k, self.state.lang): k for k in self.state.param.kinds_shown.objects}

    def _tier_options(self) -> dict[str, float]:
        return {tier_label(t, self.state.lang): float(t) for t in self.ws.tiers}

    def _layer_options(self) -> dict[str, str]:
        keep = [k for k in LAYERS if k != "shares" or self.ws.communities is not None]
        return {tr(f"layer_{k}", self.state.lang): k for k in keep}

    def _tile_options(self) -> dict[str, str]:
        return {tr(f"tiles_{k}", self.state.lang): k for k in TILES}

    def _view_options(self) -> dict[str, str]:
        return {tr("tab_map", self.state.lang): "map", tr("tab_parking", self.state.lang): "parking"}

    def _has_parking(self) -> bool:
        from .parking_view import parking_available

        return parking_available(self.ws)

    def _relabel(self) -> None:
        """Put every word of the page in the session's language."""
        lang, app = self.state.lang, self.state
        badge = tr("demo_badge", lang) if self.ws.is_demo else None
        self.header_w.object = views.header_html(tr("app", lang), self.ws.title, badge)
        self.kind_w.options = self._kind_options()
        self.kind_w.value = app.kind
        self.gap_w.options = self._tier_options()
        self.tiers_w.options = self._tier_options()
        self.kinds_w.options = self._present_options()
        self.layers_w.options = self._layer_options()
        self.tiles_w.options = self._tile_options()
        self.view_w.options = self._view_options()
        self.add_w.name = tr("add_mode_on" if app.mode == "add" else "add_mode", lang)
        self.undo_w.name, self.clear_w.name = tr("undo", lang), tr("clear", lang)
        self.remove_w.name, self.suggest_w.name = tr("remove", lang), tr("suggest", lang)
        self.redo_w.name, self.place_w.name = tr("redo", lang), tr("place", lang)
        self.mapview_w.options = self._mapview_options()
        self.mapview_w.value = app.view
        self.ctier_w.options = self._ctier_options()
        if app.complete_tier in self.ctier_w.options.values():
            self.ctier_w.value = app.complete_tier
        self.edit_kind_w.options = self._edit_kind_options()
        self.edit_kind_w.value = app.edit_kind
        self.objective_w.options = self._objective_options()
        self.upload_role_w.options = self._role_options()
        for key, widget in self.titles.items():
            widget.object = views.section(tr(key, lang))
        for key, widget in self.captions.items():
            widget.value = tr(key, lang)
        for key, widget in self.downloads.items():
            widget.label = tr(f"exp_{key}", lang)
        if hasattr(self, "scenarios"):
            self.scenarios.relabel()
            self.compare.relabel()

    # ------------------------------------------------------------------ binding
    def _bind(self) -> None:
        s = self.state
        self.lang_w.param.watch(lambda e: setattr(s, "lang", e.new), "value")
        self.kind_w.param.watch(lambda e: e.new and setattr(s, "kind", e.new), "value")
        self.gap_w.param.watch(lambda e: setattr(s, "gap_tier", float(e.new)), "value")
        self.add_w.param.watch(lambda e: setattr(s, "mode", "add" if e.new else "pan"), "value")
        self.layers_w.param.watch(lambda e: setattr(s, "layers", list(e.new)), "value")
        self.kinds_w.param.watch(lambda e: setattr(s, "kinds_shown", list(e.new)), "value")
        self.tiers_w.param.watch(lambda e: setattr(s, "tiers_shown", [float(t) for t in e.new]), "value")
        self.tiles_w.param.watch(lambda e: setattr(s, "tiles", e.new), "value")
        self.crs_w.param.watch(self._on_crs, "value")
        self.view_w.param.watch(self._on_view, "value")
        self.undo_w.on_click(lambda _e: self._timed(s.undo))
        self.clear_w.on_click(lambda _e: self._timed(s.clear_candidates))
        self.remove_w.on_click(lambda _e: self.pick_w.value and self._timed(s.remove_candidate, self.pick_w.value))
        self.suggest_w.on_click(self._on_suggest)
        self.redo_w.on_click(lambda _e: self._timed(s.redo))
        self.mapview_w.param.watch(lambda e: e.new and setattr(s, "view", e.new), "value")
        self.std_w.param.watch(self._on_standard, "value")
        self.ctier_w.param.watch(lambda e: e.new and setattr(s, "complete_tier", e.new), "value")
        self.edit_kind_w.param.watch(self._on_edit_kind, "value")
        self.area_w.param.watch(
            lambda e: e.new is not None and setattr(s, "new_area_m2", max(float(e.new), 0.0)), "value"
        )
        self.objective_w.param.watch(
            lambda e: (
                setattr(self.target_w, "visible", e.new == "lscp")
                or setattr(self.captions["target"], "visible", e.new == "lscp")
            ),
            "value",
        )
        self.place_w.on_click(self._on_place)
        self.upload_w.param.watch(self._on_upload, "value")
        s.param.watch(self._on_mapview, "view")
        s.param.watch(lambda _e: self._push_results(), "complete_tier")
        s.param.watch(self._on_lang, "lang")
        s.param.watch(self._on_kind, "kind")
        s.param.watch(lambda _e: self._push_gaps(), "gap_tier")
        s.param.watch(lambda e: setattr(self.map, "layers_on", list(e.new)), "layers")
        s.param.watch(lambda e: setattr(self.map, "kinds_on", list(e.new)), "kinds_shown")
        s.param.watch(lambda e: setattr(self.map, "tiers_on", list(e.new)), "tiers_shown")
        s.param.watch(self._on_tiles, "tiles")
        s.param.watch(self._on_mode, "mode")
        s.param.watch(lambda _e: self._push_candidates(), "version")
        s.param.watch(lambda e: self._status(e.new, error=True), "message")

    # --------------------------------------------------------------- map sync
    @property
    def crs(self) -> str:
        """Coordinates of the map's layers: GCJ-02 under Amap tiles, else WGS84."""
        return "gcj02" if self.state.tiles == "amap" else "wgs84"

    def _push_all(self) -> None:
        with pn.io.hold():
            self._push_static()
            self._push_meta()
            self._push_kind()
            self._push_candidates()
            self.map.param.update(
                layers_on=list(self.state.layers),
                kinds_on=list(self.state.kinds_shown),
                tiers_on=list(self.state.tiers_shown),
                tiles=self.state.tiles,
                mode=self.state.mode,
            )

    def _push_static(self) -> None:
        ws, crs = self.ws, self.crs
        west, south, east, north = ws.bounds()
        (w2, s2), (e2, n2) = lgj.point_to_map(west, south, crs), lgj.point_to_map(east, north, crs)
        self.map.param.update(  # a city's streets, areas and residents: tiles and a point payload (apps.web.tiles)
            streets="" if ws.city_streets else ws.streets_text(crs),
            boundaries=ws.boundaries_text(crs),
            facilities=self._facilities_text(crs),
            facility_clusters=self._facility_clusters(crs),
            demand="" if ws.city_points else ws.demand_text(crs),
            demand_points=ws.demand_points_ref(crs) if ws.city_points else "",  # fetched by the page
            tile_urls=ws.tile_urls(self.state.kind, crs),
            bounds=[w2, s2, e2, n2],
        )

    def _facility_clusters(self, crs: str) -> str:
        """Per-zoom clusters of the facilities drawn (city scale; "{}" for a district)."""
        ws = self.ws
        if self.state.view != "complete" or ws.eval_facilities is None:
            return ws.facility_clusters_text(crs)
        from .complete import point_sources

        return ws.facility_clusters_text(crs, point_sources(ws.eval_facilities), key="all")

    def _facilities_text(self, crs: str) -> str:
        """The facility points drawn: the per-kind view's, or every kind's in the complete view."""
        ws = self.ws
        if self.state.view != "complete" or ws.eval_facilities is None:
            return ws.facilities_text(crs)

        def build() -> str:
            from lifecircle.layers import geojson as lgj2

            from .complete import point_sources

            pts = point_sources(ws.eval_facilities)
            names = pts["name"] if "name" in pts else pts["id"]
            props = [
                {"id": str(i), "name": "" if n is None or n != n else str(n), "kind": str(k)}
                for i, n, k in zip(pts["id"], names, pts["kind"])
            ]
            return lgj2.feature_collection(pts.geometry.values, props, crs=crs)

        return ws.cached(("all_facilities", crs), build)

    def _present_kinds(self) -> list[str]:
        s = self.state
        if s.view == "complete":
            return list(s.param.edit_kind.objects)
        return [k for k in s.param.kind.objects if k != ANY]

    def _push_meta(self) -> None:
        s, ws = self.state, self.ws
        present = self._present_kinds()
        style = lml.map_style(ws.kinds, present, ws.tiers, s.lang)
        legend = lstyle.legend(ws.kinds, present, ws.tiers, s.kind, s.lang)
        if s.kind == ANY and s.view != "complete":  # the all-kinds view draws each kind's areas in its colour
            for block in legend:
                if block["layer"] == "areas":
                    block["items"] = [
                        {
                            "label": lstyle.kind_label(ws.kinds, k, s.lang),
                            "color": lstyle.kind_color(ws.kinds, k),
                            "shape": "area",
                            "opacity": 0.3,
                        }
                        for k in present
                        if k in set(ws.areas["kind"].astype(str))
                    ]
        comp = s.complete() if s.view == "complete" else None
        if comp is not None:
            tier = comp.base.standard.tier(s.complete_tier) if s.complete_tier else comp.base.standard.tiers[-1]
            n = len(tier.required_kinds)
            style = cview.complete_style(style, n, s.lang)
            legend = [b for b in legend if b["layer"] not in ("demand", "areas", "gaps", "shares")]
            legend.insert(1, cview.legend_block(n, tier.label(s.lang), s.lang))
        self.map.param.update(
            labels=json.dumps(
                {**map_labels(s.lang), **compare_view.MAP_WORDS.get(s.lang, compare_view.MAP_WORDS["zh"])},
                ensure_ascii=False,
            ),
            style=json.dumps(style, ensure_ascii=False),
            legend=json.dumps(legend, ensure_ascii=False),
        )

    def _push_kind(self) -> None:
        ws, crs, kind = self.ws, self.crs, self.state.kind
        if ws.city_areas:  # tiles of the kind's areas, drawn by zoom
            self.map.param.update(areas="", tile_urls=ws.tile_urls(kind, crs))
        else:
            self.map.areas = ws.cached(("areas", kind, crs), lambda: lml.areas_text(ws.areas, kind, crs=crs))
        self._push_results()

    def _push_results(self) -> None:
        """What depends on the current distances: figures and demand colours now (a city's colours in the
        next message, :meth:`_push_colors`); polygons next."""
        s, ws = self.state, self.ws
        comp = s.complete() if s.view == "complete" else None
        if comp is not None:
            self._push_complete(comp)
        else:
            self.headline_w.object = self._headline_html()
            doc = pn.state.curdoc
            if ws.city_points and doc is not None and doc.session_context is not None:
                # a city in a server: the figures go out alone; the residents' colours (400 KB for
                # 100,000 of them, ~250 ms for the browser to apply and repaint) and the 社区 table
                # follow in the next message, so the figures are not drawn after them
                if not self._colors_pending:
                    self._colors_pending = True
                    doc.add_next_tick_callback(self._push_colors)
            else:
                self._push_colors()
        self.map.closed = json.dumps(s.closed_points() if s.closed else [])
        self.candidates_w.object = views.candidates_html(s.gains(), ws.tiers, s.lang)
        self._defer(self._push_polygons)

    def _headline_html(self) -> str:
        """The headline figures' HTML, made once per state of the what-if (kind, language, changes)."""
        s = self.state
        key = (s.version, s.kind, s.lang, s.gap_tier)
        memo = self._headline_memo
        if memo is None or memo[0] != key or memo[1] is not s.result():
            memo = self._headline_memo = (key, s.result(), views.headline_html(s.headline(), s.lang))
        return memo[2]

    def _push_colors(self) -> None:
        """The residents' distance classes and distances on the map, and the 社区 table."""
        self._colors_pending = False
        s, ws = self.state, self.ws
        if s.view == "complete" and s.complete() is not None:
            return  # the complete view colours the residents itself
        classes = lstyle.distance_classes(ws.tiers)
        dist = s.drawn_distances()
        packed = ws.city_points  # a city's 100,000s of residents: base64 arrays, not JSON lists
        with pn.io.hold():
            self.map.param.update(
                demand_classes=lml.demand_classes(classes.classify(dist, s.drawn_reachable()), packed=packed),
                demand_distances=lml.demand_distances(dist, packed=packed),
                demand_missing="[]",
            )
            self.units_w.object = views.units_html(s.unit_table(), ws.tiers, s.lang)

    def _push_complete(self, comp) -> None:
        """The complete view: residents coloured by the kinds they reach, its tables and the ledger."""
        s, ws = self.state, self.ws
        std = comp.base.standard
        tier = std.tier(s.complete_tier) if s.complete_tier else std.tiers[-1]
        if ws.demand_zones:  # zones are drawn as the residents they are spread into
            have, missing = comp.sample_classes(tier)
        else:
            have, missing, _share = comp.demand_units(tier)
        labels = {k: lstyle.kind_label(ws.kinds, k, s.lang) for k in tier.required_kinds}
        texts = ["、".join(labels[k] for k in m.split(",")) if m else "" for m in missing]
        packed = ws.city_points  # a city's residents: base64 arrays and the few distinct texts
        self.map.param.update(
            demand_classes=lml.demand_classes(np.asarray(have), packed=packed),
            demand_distances="[]",
            demand_missing=lml.demand_missing(texts, packed=packed),
        )
        total = float(comp.weight.sum())
        self.c_head_w.object = cview.headline_html(comp.headline(), std, total, s.lang, tier.key)
        self.c_kinds_w.object = cview.kinds_html(comp.kind_table(tier), ws.kinds, total, s.lang)
        self.c_units_w.object = cview.units_html(comp.unit_table(ws.communities), std.tiers, s.lang)

    def _push_ledger(self) -> None:
        """The gap ledger of the complete view (after the figures: it takes a few tens of ms)."""
        s, ws = self.state, self.ws
        comp = s.complete() if s.view == "complete" else None
        if comp is None:
            return
        ledger = comp.view().ledger(lang="en", remedies=False)
        bounds: dict = ws.cached(("unit_bounds", self.crs), lambda: cview.unit_bounds(ws.communities, self.crs))  # type: ignore[assignment]
        self.c_ledger_w.object = cview.ledger_html(ledger, ws.kinds, comp.base.standard, bounds, s.lang)

    def _push_polygons(self) -> None:
        """The slower layers: candidates' service areas, gaps and community shares."""
        self._pending = False
        s, ws, crs = self.state, self.ws, self.crs
        table = s.unit_table()
        with pn.io.hold():
            self.map.param.update(
                candidate_areas=lml.candidate_areas_text(((c.id, s.candidate_areas(c)) for c in s.candidates), crs=crs),
                shares=lml.shares_text(ws.communities, table, ws.tiers, lang=s.lang, crs=crs) if len(table) else "",
            )
            self._push_gaps()
            self._push_ledger()

    def _defer(self, fn) -> None:
        """Run ``fn`` on the server's next tick (after the figures went out), once however often asked."""
        if getattr(self, "_pending", False):
            return
        self._pending = True
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(fn)
        elif self._timing:
            self._queued.append(fn)
        else:
            fn()

    def _push_gaps(self) -> None:
        s, ws, crs = self.state, self.ws, self.crs
        if not ws.city_scale:
            self.map.gaps = lml.gaps_text(s.gaps(), crs=crs)
        elif not s.candidates and not s.closed:
            # a city's first gaps: the same for every session, made once on the background thread (started
            # while the areas are traced); taken when ready, never waited for on the server's loop
            self._gaps_later(ws.baseline_gaps_job(s.kind, float(s.gap_tier), crs))
        else:  # tiles of this session's gaps, traced off the server's loop so the next click is not held
            self._gaps_later()

    def _gaps_later(self, future=None) -> None:
        """A city session's gaps on the background thread (or ``future``'s); the map takes them if nothing
        changed meanwhile."""
        s, ws, crs = self.state, self.ws, self.crs
        self._gap_seq = seq = getattr(self, "_gap_seq", 0) + 1
        doc = pn.state.curdoc
        if future is None:
            future = ws.gap_tiles_later(
                partial(s.result().gaps, s.kind, float(s.gap_tier)), crs, wanted=lambda: seq == self._gap_seq
            )
        elif future.done() and future.exception() is None:
            self._apply_gaps(seq, future.result())
            return
        if doc is None or doc.session_context is None:  # no server (scripts, tests): wait for it
            self._apply_gaps(seq, future.result())
            return

        def done(f) -> None:
            if f.exception() is not None:
                _log.error("the session's gaps failed", exc_info=f.exception())
                return
            if f.result() is not None:  # None: skipped, a later change has its own gaps on the way
                doc.add_next_tick_callback(partial(self._apply_gaps, seq, f.result()))  # thread-safe in Bokeh

        future.add_done_callback(done)

    def _apply_gaps(self, seq: int, text: str | None) -> None:
        if seq == self._gap_seq and text is not None:  # a later change has its own gaps on the way
            self.map.gaps = text

    def _push_candidates(self) -> None:
        s, crs = self.state, self.crs
        doc = pn.state.curdoc
        if s.view != "complete" and doc is not None and doc.session_context is not None:
            # in a server: the figures in a message of their own first (Panel writes it when this hold
            # ends), not after the candidates' layer and table (their gains: a what-if without each
            # candidate) that they used to wait for
            with pn.io.hold():
                self.headline_w.object = self._headline_html()
        with pn.io.hold():
            self.map.candidates = lml.candidates_text(s.gains(), self.ws.tiers, lang=s.lang, crs=crs)
            self._push_results()
            ids = [c.id for c in s.candidates]
            self.pick_w.options = ids
            self.pick_w.value = ids[-1] if ids else None
            self.pick_w.disabled = self.remove_w.disabled = self.clear_w.disabled = not ids
            self.undo_w.disabled = not s.can_undo
            self.redo_w.disabled = not s.can_redo

    # ----------------------------------------------------------------- events
    def _on_message(self, msg: dict) -> None:
        """Handle a map event: add, move or remove a candidate (coordinates in the map's CRS)."""
        tiles = self.ws.map_tiles()
        tiles.touch()  # a visitor is busy: the tile warm-up waits (MapTiles.wait_for_quiet)
        with tiles.foreground():  # and tile renders wait until the event's figures are made
            self._handle_map_event(msg)

    def _handle_map_event(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "viewport":
            self._on_viewport(msg)
            return
        if kind in ("close", "reopen"):
            fid = str(msg.get("id", ""))[:64]
            self._timed(self.state.close_facility, fid, kind == "close")
            return
        if kind == "remove":
            cid = str(msg.get("id", ""))[:32]
            if any(c.id == cid for c in self.state.candidates):
                self._timed(self.state.remove_candidate, cid)
            return
        point = _lonlat(msg)
        if point is None:
            return
        lon, lat = lgj.point_from_map(point[0], point[1], self.crs)
        if kind == "add" and self.state.mode == "add":
            self._timed(self.state.add_candidate, lon, lat)
        elif kind == "move":
            cid = str(msg.get("id", ""))[:32]
            if any(c.id == cid for c in self.state.candidates):
                self._timed(self.state.move_candidate, cid, lon, lat)

    def _on_viewport(self, msg: dict) -> None:
        """A laptop screen: a narrower side panel, folded away until the ☰ button opens it."""
        try:
            width = float(msg.get("width", 0))
        except (TypeError, ValueError):
            return
        sidebar = getattr(self, "sidebar", None)
        if sidebar is None or getattr(self, "_viewport_done", False) or not math.isfinite(width):
            return
        self._viewport_done = True
        if width < NARROW_WIDTH:
            sidebar.width = NARROW_SIDEBAR_WIDTH
            self.panel_w.value = False

    def _timed(self, action, *args, **kwargs) -> Any:
        """Run a what-if action; time it until the figures on the page are updated.

        The slower polygon layers follow on the server's next tick (outside a
        server, right after the timing), see :meth:`_defer`.
        """
        started = time.perf_counter()
        self._timing = True
        try:
            out = action(*args, **kwargs)
        finally:
            self._timing = False
            self.last_update_ms = (time.perf_counter() - started) * 1000.0
            queued, self._queued = self._queued, []
            for fn in queued:
                fn()
        if not self.state.message:
            self._status(tr("timing", self.state.lang, ms=self.last_update_ms))
        return out

    def _status(self, text: str, error: bool = False) -> None:
        color = "#b3261e" if error else "#6b7785"
        self.status_w.object = f'<div class="lc-note" style="color:{color}">{_escape(text)}</div>' if text else ""

    def _on_suggest(self, _event=None) -> None:
        s = self.state
        objective = self.objective_w.value or "cover"
        target = float(self.target_w.value or 90.0) / 100.0
        try:
            added = self._timed(s.suggest, int(self.k_w.value or 1), objective=objective, target=target)
        except ValueError as exc:  # SitingError / OptionError: no usable candidate, K too large, kind not required
            self._status(str(exc), error=True)
            return
        info = s.suggest_info
        text = tr("suggested", s.lang, n=len(added), method=info.get("method", ""))
        if info.get("why"):
            text += " · " + info["why"]
        self._status(text + " · " + tr("timing", s.lang, ms=self.last_update_ms))

    def _on_mapview(self, _event=None) -> None:
        with pn.io.hold():
            self.mapview_w.value = self.state.view
            complete = self.state.view == "complete"
            for w in getattr(self, "_complete_parts", []):
                w.visible = complete
            for w in getattr(self, "_kind_parts", []):
                w.visible = not complete
            self.map.param.update(
                facilities=self._facilities_text(self.crs), facility_clusters=self._facility_clusters(self.crs)
            )
            layers = list(self.state.layers)
            if complete:
                layers = [k for k in layers if k not in ("areas", "gaps", "shares")]
                if "demand" not in layers:
                    layers.append("demand")
                self.map.kinds_on = None
            else:
                layers = list(self.state.layers)
                self.map.kinds_on = list(self.state.kinds_shown)
            self.map.layers_on = layers
            self._push_meta()
            self._push_results()

    def _on_standard(self, event) -> None:
        s = self.state
        s.standard = str(event.new)
        comp = s.complete()
        if comp is None:
            self._status(s.complete_error, error=True)
            return
        with pn.io.hold():
            s._set_edit_kinds()
            self.edit_kind_w.options = self._edit_kind_options()
            self.edit_kind_w.value = s.edit_kind
            self.ctier_w.options = self._ctier_options()
            s.complete_tier = comp.base.standard.tiers[-1].key
            self.ctier_w.value = s.complete_tier
            self._push_meta()
            self._push_candidates()

    def _on_edit_kind(self, event) -> None:
        if event.new:
            self.state.edit_kind = event.new
        park = self.state.edit_kind == "park"
        self.area_w.visible = self.captions["park_area"].visible = park

    def _on_place(self, _event=None) -> None:
        """Place a facility at typed coordinates (WGS84 or GCJ-02, as copied from Amap)."""
        from lifecircle.geo import crs as gcrs

        s = self.state
        text = (self.coord_w.value or "").replace("，", ",").replace(" ", ",")
        parts = [p for p in text.split(",") if p.strip()]
        try:
            lon, lat = float(parts[0]), float(parts[1])
            if len(parts) != 2 or not (math.isfinite(lon) and math.isfinite(lat)):
                raise ValueError
        except (ValueError, IndexError):
            self._status(tr("bad_coords", s.lang), error=True)
            return
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            self._status(tr("bad_coords", s.lang), error=True)
            return
        if self.coord_crs_w.value == "gcj02":
            lon, lat = gcrs.gcj02_to_wgs84(lon, lat)
        cand = self._timed(s.add_candidate, float(lon), float(lat), origin="typed")
        if cand is not None:
            x, y = lgj.point_to_map(cand.lon, cand.lat, self.crs)
            self.map.fly_to(x, y)

    def _on_upload(self, event) -> None:
        """Read an uploaded candidate-sites or facilities file exactly as the command line does."""
        from .upload import read_upload

        s = self.state
        data, name = event.new, self.upload_w.filename or "upload"
        if not data:
            return
        role = self.upload_role_w.value
        try:
            frame = read_upload(bytes(data), name, role, self.ws, crs=self.coord_crs_w.value)
        except ValueError as exc:  # InputError: file, row, column
            self.upload_msg_w.object = (
                f'<div class="lc-note" data-testid="upload-error" style="color:#b3261e">{_escape(str(exc))}</div>'
            )
            return
        if role == "candidates":
            s.uploaded_candidates = frame
            self.upload_msg_w.object = f'<div class="lc-note" data-testid="upload-ok">{_escape(tr("uploaded", s.lang, file=name, n=len(frame)))}</div>'
        else:
            added = 0
            for r in frame.itertuples():
                kind = str(getattr(r, "kind", s.edit_kind))
                if kind not in s.param.edit_kind.objects:
                    s.param.edit_kind.objects = [*s.param.edit_kind.objects, kind]
                if s.add_candidate(float(r.geometry.x), float(r.geometry.y), origin="uploaded", kind=kind) is not None:
                    added += 1
            self.edit_kind_w.options = self._edit_kind_options()
            self.upload_msg_w.object = f'<div class="lc-note" data-testid="upload-ok">{_escape(tr("uploaded", s.lang, file=name, n=added))}</div>'

    def _on_lang(self, _event=None) -> None:
        with pn.io.hold():
            self._relabel()
            self._push_meta()
            self._push_candidates()
            if self._parking is not None:
                self._parking.set_lang(self.state.lang)

    def _on_kind(self, _event=None) -> None:
        with pn.io.hold():
            self.kind_w.value = self.state.kind
            self._push_meta()
            self._push_kind()
            self._push_candidates()

    def _on_tiles(self, _event=None) -> None:
        with pn.io.hold():
            if getattr(self, "_changes", None) is not None:  # the comparison's residents in the map's CRS
                self.map.changes = compare_view.changes_text(self._changes, self.crs, self.state.lang)
            self._push_static()
            self._push_kind()
            self._push_candidates()
            self.map.tiles = self.state.tiles

    def _on_mode(self, event) -> None:
        self.map.mode = event.new
        self.add_w.value = event.new == "add"
        self.add_w.name = tr("add_mode_on" if event.new == "add" else "add_mode", self.state.lang)

    def _on_crs(self, event) -> None:
        for key, widget in self.downloads.items():
            widget.filename = exports.filename(key, event.new)

    def _on_view(self, event) -> None:
        if event.new == "parking" and self._parking is None:
            from .parking_view import ParkingView

            self._parking = ParkingView(self.ws, lang=self.state.lang)
            self.parking_area.objects = [self._parking.view()]
        self.main_area.visible = event.new == "map"
        self.parking_area.visible = event.new == "parking"

    def _export(self, key: str) -> BytesIO:
        return BytesIO(exports.export_bytes(self.state, key, self.crs_w.value))

    # ------------------------------------------------------------------- layout
    def _sidebar(self) -> pn.Column:
        c = self.captions
        whatif = [
            self.titles["whatif"],
            c["edit_kind"],
            self.edit_kind_w,
            c["park_area"],
            self.area_w,
            self.add_w,
            pn.Row(self.undo_w, self.redo_w, self.clear_w, sizing_mode="stretch_width"),
            self.candidates_w,
            pn.Row(self.pick_w, self.remove_w, sizing_mode="stretch_width"),
            c["objective"],
            self.objective_w,
            pn.Row(
                pn.Column(c["suggest_k"], self.k_w, margin=0),
                pn.Column(c["target"], self.target_w, margin=0),
                self.suggest_w,
                sizing_mode="stretch_width",
            ),
            self.status_w,
            self.titles["input"],
            c["coords"],
            pn.Row(self.coord_w, self.place_w, sizing_mode="stretch_width"),
            c["coords_crs"],
            self.coord_crs_w,
            c["upload_role"],
            self.upload_role_w,
            self.upload_w,
            self.upload_msg_w,
        ]
        c["target"].visible = False
        complete = [
            c["standard"],
            self.std_w,
            c["complete_tier"],
            self.ctier_w,
            self.titles["complete"],
            self.c_head_w,
            self.titles["complete_kinds"],
            self.c_kinds_w,
        ]
        complete_after = [self.titles["complete_units"], self.c_units_w, self.titles["ledger"], self.c_ledger_w]
        kind_parts = [c["kind"], self.kind_w, c["gap_tier"], self.gap_w, self.titles["headline"], self.headline_w]
        kind_after = [self.titles["units"], self.units_w]
        self._complete_parts = complete + complete_after
        # the complete view draws every kind (its own legend), so the per-kind view's kind filter goes with it
        self._kind_parts = kind_parts + kind_after + [c["kinds_shown"], self.kinds_w]
        on = self.state.view == "complete"
        for w in self._complete_parts:
            w.visible = on
        for w in self._kind_parts:
            w.visible = not on
        parts = [
            self.titles["settings"],
            self.mapview_w,
            *kind_parts,
            *complete,
            *whatif,
            *kind_after,
            *complete_after,
            self.scenarios.view(),
            self.compare.view(),
            self.titles["layers"],
            self.layers_w,
            c["kinds_shown"],
            self.kinds_w,
            c["tiers_shown"],
            self.tiers_w,
            c["tiles"],
            self.tiles_w,
            self.titles["export"],
            c["export_crs"],
            self.crs_w,
            pn.GridBox(*self.downloads.values(), ncols=2, sizing_mode="stretch_width"),
        ]
        return pn.Column(
            *parts,
            width=SIDEBAR_WIDTH,
            sizing_mode="stretch_height",
            scroll=True,
            styles={"background": "#f7f9fb", "border-right": "1px solid #dde3ea"},
            margin=0,
        )

    def view(self) -> pn.Column:
        """The whole page."""
        self.panel_w = pn.widgets.Toggle(
            label="☰",
            value=True,
            width=44,
            height=34,
            margin=(11, 0, 0, 10),
            color="light",
            stylesheets=[":host .bk-btn { font-size: 18px; }"],
        )
        header = pn.Row(
            self.panel_w,
            self.header_w,
            self.view_w,
            self.lang_w,
            height=56,
            margin=0,
            sizing_mode="stretch_width",
            styles={"background": HEADER_BG},
        )
        self.sidebar = self._sidebar()
        self.panel_w.param.watch(lambda e: setattr(self.sidebar, "visible", bool(e.new)), "value")
        self.main_area = pn.Row(self.sidebar, self.map, sizing_mode="stretch_both", margin=0)
        self.parking_area = pn.Column(sizing_mode="stretch_both", margin=0, visible=False)
        return pn.Column(
            header, self.main_area, self.parking_area, sizing_mode="stretch_both", margin=0, styles={"height": "100vh"}
        )


def _lonlat(msg: dict) -> tuple[float, float] | None:
    """Finite (lng, lat) from a browser message, or None."""
    try:
        lon, lat = float(msg.get("lng")), float(msg.get("lat"))
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    return lon, lat


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


# ------------------------------------------------------------------- serving
def serve_workspace(workspace: Workspace, **kwargs: Any) -> None:
    """Serve the planner's app until interrupted: see :func:`apps.web.server.serve_workspace`."""
    from .server import serve_workspace as serve

    serve(workspace, **kwargs)
