"""What the planner downloads: GeoJSON layers, tables and the HTML report, as bytes.

Each function takes a :class:`apps.web.state.PlannerState` and returns the file's
bytes; the page hands them to ``pn.widgets.FileDownload``.  GeoJSON is WGS84
(RFC 7946) unless GCJ-02 is asked for, which the file's ``lifecircle.crs``
member and its name (``*.gcj02.geojson``) say.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from lifecircle.geo import io as gio
from lifecircle.geo.coverage import tier_key
from lifecircle.layers import report as lreport
from lifecircle.layers import style as lstyle

from .state import PlannerState

#: Export key -> (file stem, suffix).
EXPORTS = {
    "coverage": ("coverage", ".geojson"),
    "areas": ("service_areas", ".geojson"),
    "gaps": ("gaps", ".geojson"),
    "candidates": ("candidate_sites", ".geojson"),
    "units_csv": ("communities", ".csv"),
    "units_xlsx": ("communities", ".xlsx"),
    "report": ("report", ".html"),
}


def filename(key: str, crs: str = "wgs84") -> str:
    """Return the download's file name (GCJ-02 GeoJSON says so in its name)."""
    stem, suffix = EXPORTS[key]
    if suffix == ".geojson" and crs == "gcj02":
        return f"{stem}.gcj02{suffix}"
    return stem + suffix


def _meta(state: PlannerState) -> dict:
    return {"tiers_m": list(state.ws.tiers), "kind": state.kind, "title": state.ws.title,
            "candidates": [c.id for c in state.candidates], "generated_demo": state.ws.is_demo}


def geojson_bytes(state: PlannerState, key: str, crs: str = "wgs84") -> bytes:
    """Return a GeoJSON export: ``coverage``, ``areas``, ``gaps`` or ``candidates``."""
    frames = {
        "coverage": state.coverage_frame,
        "areas": state.areas_frame,
        "gaps": state.gaps,
        "candidates": state.candidates_frame,
    }
    text = gio.geojson_text(frames[key](), out_crs=crs, metadata=_meta(state))
    return text.encode("utf-8")


def units_bytes(state: PlannerState, suffix: str) -> bytes:
    """Return the per-community table as ``.csv`` (UTF-8 with BOM) or ``.xlsx``."""
    table = state.unit_table()
    kind = state.kind
    out = pd.DataFrame({"id": table["id"], "name": table["name"], "population": table["weight"].round(1)})
    for tier in state.ws.tiers:
        key = tier_key(tier)
        out[f"share_{kind}_{key}"] = table[f"share_{key}"].round(6)
        out[f"added_by_candidates_{key}"] = table[f"delta_{key}"].round(1)
    with tempfile.TemporaryDirectory(prefix="lifecircle-") as tmp:
        path = gio.write_table(out, Path(tmp) / f"communities{suffix}")
        return path.read_bytes()


def report_bytes(state: PlannerState) -> bytes:
    """Return the static HTML map report (opens offline: Leaflet is inlined)."""
    ws, lang = state.ws, state.lang
    head = state.headline()
    classes = lstyle.distance_classes(ws.tiers)
    areas = state.areas_frame()
    base_areas = areas[~areas["candidate"]]
    if state.kind != "any":
        base_areas = base_areas[base_areas["kind"] == state.kind]
    data = lreport.ReportData(
        title=ws.title, is_demo=ws.is_demo, kinds=ws.kinds, kind=state.kind,
        kind_label=lstyle.kind_label(ws.kinds, state.kind, lang), tiers=ws.tiers,
        headline=head.rows, total=head.total, unserved=head.unserved,
        facilities=ws.facilities, areas=base_areas, demand=ws.demand,
        demand_class=classes.classify(state.unit_distances(), state.unit_reachable()),
        gaps=state.gaps(), candidates=state.candidates_frame(), candidate_areas=areas[areas["candidate"]],
        boundaries=ws.boundary_frames(), streets=ws.cached(("streets_frame",), lambda: _streets_frame(ws)),
        units=state.unit_table(), lang=lang,
    )
    return lreport.report_html(data).encode("utf-8")


def _streets_frame(ws):
    import geopandas as gpd
    import shapely

    from lifecircle.layers.geojson import metric_to_wgs84

    lines = shapely.simplify(ws.net.edge_lines, 2.0)
    return gpd.GeoDataFrame(geometry=metric_to_wgs84(ws.net, lines), crs="EPSG:4326")


def export_bytes(state: PlannerState, key: str, crs: str = "wgs84") -> bytes:
    """Return the bytes of any export in :data:`EXPORTS`."""
    if key in ("coverage", "areas", "gaps", "candidates"):
        return geojson_bytes(state, key, crs)
    if key == "units_csv":
        return units_bytes(state, ".csv")
    if key == "units_xlsx":
        return units_bytes(state, ".xlsx")
    if key == "report":
        return report_bytes(state)
    raise KeyError(f"unknown export {key!r}; known: {', '.join(EXPORTS)}")
