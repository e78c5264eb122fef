"""The planner's page: a side panel and the map, one :class:`PlannerApp` per browser session.

``serve_workspace`` starts the Panel server (:mod:`apps.web.server`: access control,
bounded sessions); every connected session gets a new :class:`~apps.web.state.PlannerState`
and page over the :class:`~apps.web.workspace.Workspace` the process loaded once.
Leaflet and every other script, style sheet and image are served by this
server: nothing is fetched from a CDN.
"""

from __future__ import annotations

import json
import math
import time
from functools import partial
from io import BytesIO
from typing import Any

import panel as pn

from lifecircle.geo.coverage import ANY
from lifecircle.geo.standards import tier_label
from lifecircle.layers import geojson as lgj
from lifecircle.layers import maplayers as lml
from lifecircle.layers import style as lstyle

from . import exports, views
from .i18n import map_labels, tr
from .leaflet_map import LeafletMap, static_dirs
from .state import LAYERS, TILES, PlannerState
from .workspace import Workspace

__all__ = ["PlannerApp", "serve_workspace"]

HEADER_BG = "#16324f"
SIDEBAR_WIDTH = 390
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
        self.map = LeafletMap(bounds=list(workspace.bounds()))
        self.map.on_message = self._on_message
        self._build_widgets()
        self._parking = None
        self._bind()
        self._push_all()

    # ---------------------------------------------------------------- widgets
    def _build_widgets(self) -> None:
        s, lang = self.state, self.state.lang
        self.lang_w = pn.widgets.RadioButtonGroup(options={"中文": "zh", "English": "en"}, value=lang,
                                                  color="light", width=150, margin=(12, 16, 0, 0))
        self.kind_w = pn.widgets.Select(options=self._kind_options(), value=s.kind, sizing_mode="stretch_width")
        self.gap_w = pn.widgets.RadioButtonGroup(options=self._tier_options(), value=float(s.gap_tier),
                                                 color="default", sizing_mode="stretch_width")
        self.add_w = pn.widgets.Toggle(value=False, color="primary", sizing_mode="stretch_width", height=38)
        self.undo_w = pn.widgets.Button(color="default", disabled=True, sizing_mode="stretch_width")
        self.clear_w = pn.widgets.Button(color="default", disabled=True, sizing_mode="stretch_width")
        self.pick_w = pn.widgets.Select(options=[], sizing_mode="stretch_width", disabled=True)
        self.remove_w = pn.widgets.Button(color="danger", variant="outline", disabled=True, width=90,
                                          align="end")
        self.k_w = pn.widgets.IntInput(value=3, start=1, end=30, step=1, width=110)
        self.suggest_w = pn.widgets.Button(color="success", sizing_mode="stretch_width", align="end")
        self.layers_w = pn.widgets.CheckBoxGroup(options=self._layer_options(), value=list(s.layers), inline=False)
        self.kinds_w = pn.widgets.CheckBoxGroup(options=self._present_options(), value=list(s.kinds_shown), inline=True)
        self.tiers_w = pn.widgets.CheckButtonGroup(options=self._tier_options(), value=list(s.tiers_shown),
                                                   sizing_mode="stretch_width")
        self.tiles_w = pn.widgets.Select(options=self._tile_options(), value=s.tiles, sizing_mode="stretch_width")
        self.crs_w = pn.widgets.RadioButtonGroup(options={"WGS84": "wgs84", "GCJ-02": "gcj02"}, value="wgs84",
                                                 color="default", sizing_mode="stretch_width")
        self.downloads = {key: pn.widgets.FileDownload(callback=partial(self._export, key), filename=exports.filename(key),
                                                       color="default", sizing_mode="stretch_width", height=34)
                          for key in exports.EXPORTS}
        self.header_w = _html(height=56, margin=(0, 16))
        self.headline_w = _html()
        self.candidates_w = _html()
        self.units_w = _html()
        self.status_w = _html()
        self.titles = {k: _html() for k in ("settings", "headline", "whatif", "units", "layers", "export")}
        self.captions = {k: pn.widgets.StaticText(margin=(0, 10))
                         for k in ("kind", "gap_tier", "tiles", "export_crs", "suggest_k", "kinds_shown", "tiers_shown")}
        self.view_w = pn.widgets.RadioButtonGroup(options=self._view_options(), value="map", color="light",
                                                  margin=(12, 10, 0, 0), visible=self._has_parking())
        self._relabel()

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
        for key, widget in self.titles.items():
            widget.object = views.section(tr(key, lang))
        for key, widget in self.captions.items():
            widget.value = tr(key, lang)
        for key, widget in self.downloads.items():
            widget.label = tr(f"exp_{key}", lang)

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
            self.map.param.update(layers_on=list(self.state.layers), kinds_on=list(self.state.kinds_shown),
                                  tiers_on=list(self.state.tiers_shown), tiles=self.state.tiles, mode=self.state.mode)

    def _push_static(self) -> None:
        ws, crs = self.ws, self.crs
        west, south, east, north = ws.bounds()
        (w2, s2), (e2, n2) = lgj.point_to_map(west, south, crs), lgj.point_to_map(east, north, crs)
        self.map.param.update(
            streets=ws.streets_text(crs),
            boundaries=ws.cached(("boundaries", crs), lambda: lml.boundaries_text(ws.boundary_frames(), crs=crs)),
            facilities=ws.facilities_text(crs),
            demand=ws.demand_text(crs),
            bounds=[w2, s2, e2, n2],
        )

    def _push_meta(self) -> None:
        s, ws = self.state, self.ws
        present = [k for k in s.param.kind.objects if k != ANY]
        self.map.param.update(
            labels=json.dumps(map_labels(s.lang), ensure_ascii=False),
            style=json.dumps(lml.map_style(ws.kinds, present, ws.tiers, s.lang), ensure_ascii=False),
            legend=json.dumps(lstyle.legend(ws.kinds, present, ws.tiers, s.kind, s.lang), ensure_ascii=False),
        )

    def _push_kind(self) -> None:
        ws, crs, kind = self.ws, self.crs, self.state.kind
        self.map.areas = ws.cached(("areas", kind, crs), lambda: lml.areas_text(ws.areas, kind, crs=crs))
        self._push_results()

    def _push_results(self) -> None:
        """What depends on the current distances: figures and demand colours now; polygons next."""
        s, ws = self.state, self.ws
        classes = lstyle.distance_classes(ws.tiers)
        dist = s.unit_distances()
        self.map.param.update(
            demand_classes=lml.demand_classes(classes.classify(dist, s.unit_reachable())),
            demand_distances=lml.demand_distances(dist),
        )
        self.headline_w.object = views.headline_html(s.headline(), s.lang)
        self.units_w.object = views.units_html(s.unit_table(), ws.tiers, s.lang)
        self.candidates_w.object = views.candidates_html(s.gains(), ws.tiers, s.lang)
        self._defer(self._push_polygons)

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
        self.map.gaps = lml.gaps_text(self.state.gaps(), crs=self.crs)

    def _push_candidates(self) -> None:
        s, crs = self.state, self.crs
        with pn.io.hold():
            self.map.candidates = lml.candidates_text(s.gains(), self.ws.tiers, lang=s.lang, crs=crs)
            self._push_results()
            ids = [c.id for c in s.candidates]
            self.pick_w.options = ids
            self.pick_w.value = ids[-1] if ids else None
            self.pick_w.disabled = self.remove_w.disabled = self.clear_w.disabled = not ids
            self.undo_w.disabled = not s.can_undo

    # ----------------------------------------------------------------- events
    def _on_message(self, msg: dict) -> None:
        """Handle a map event: add, move or remove a candidate (coordinates in the map's CRS)."""
        kind = msg.get("type")
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

    def _timed(self, action, *args) -> Any:
        """Run a what-if action; time it until the figures on the page are updated.

        The slower polygon layers follow on the server's next tick (outside a
        server, right after the timing), see :meth:`_defer`.
        """
        started = time.perf_counter()
        self._timing = True
        try:
            out = action(*args)
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
        try:
            added = self._timed(s.suggest, int(self.k_w.value or 1))
        except ValueError as exc:  # SitingError: no usable candidate, K too large
            self._status(str(exc), error=True)
            return
        info = s.suggest_info
        self._status(tr("suggested", s.lang, n=len(added), method=info.get("method", "")) + " · "
                     + tr("timing", s.lang, ms=self.last_update_ms))

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
        whatif = [self.titles["whatif"], self.add_w, pn.Row(self.undo_w, self.clear_w, sizing_mode="stretch_width"),
                  self.candidates_w, pn.Row(self.pick_w, self.remove_w, sizing_mode="stretch_width"),
                  pn.Row(pn.Column(c["suggest_k"], self.k_w, margin=0), self.suggest_w, sizing_mode="stretch_width"),
                  self.status_w]
        parts = [
            self.titles["settings"], c["kind"], self.kind_w, c["gap_tier"], self.gap_w,
            self.titles["headline"], self.headline_w,
            *whatif,
            self.titles["units"], self.units_w,
            self.titles["layers"], self.layers_w, c["kinds_shown"], self.kinds_w, c["tiers_shown"], self.tiers_w,
            c["tiles"], self.tiles_w,
            self.titles["export"], c["export_crs"], self.crs_w,
            pn.GridBox(*self.downloads.values(), ncols=2, sizing_mode="stretch_width"),
        ]
        return pn.Column(*parts, width=SIDEBAR_WIDTH, sizing_mode="stretch_height", scroll=True,
                         styles={"background": "#f7f9fb", "border-right": "1px solid #dde3ea"}, margin=0)

    def view(self) -> pn.Column:
        """The whole page."""
        header = pn.Row(self.header_w, self.view_w, self.lang_w, height=56, margin=0,
                        sizing_mode="stretch_width", styles={"background": HEADER_BG})
        self.main_area = pn.Row(self._sidebar(), self.map, sizing_mode="stretch_both", margin=0)
        self.parking_area = pn.Column(sizing_mode="stretch_both", margin=0, visible=False)
        return pn.Column(header, self.main_area, self.parking_area, sizing_mode="stretch_both", margin=0,
                         styles={"height": "100vh"})


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
