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

__all__ = [
    "EXPORTS",
    "filename",
    "geojson_bytes",
    "units_bytes",
    "report_bytes",
    "a4_report",
    "a4_bytes",
    "export_bytes",
]

#: Export key -> (file stem, suffix).
EXPORTS = {
    "coverage": ("coverage", ".geojson"),
    "areas": ("service_areas", ".geojson"),
    "gaps": ("gaps", ".geojson"),
    "candidates": ("candidate_sites", ".geojson"),
    "units_csv": ("communities", ".csv"),
    "units_xlsx": ("communities", ".xlsx"),
    "report": ("report", ".html"),
    "a4_html": ("report_a4", ".html"),
    "a4_pdf": ("report_a4", ".pdf"),
}


def filename(key: str, crs: str = "wgs84") -> str:
    """Return the download's file name (GCJ-02 GeoJSON says so in its name)."""
    stem, suffix = EXPORTS[key]
    if suffix == ".geojson" and crs == "gcj02":
        return f"{stem}.gcj02{suffix}"
    return stem + suffix


def _meta(state: PlannerState) -> dict:
    return {
        "tiers_m": list(state.ws.tiers),
        "kind": state.kind,
        "title": state.ws.title,
        "candidates": [c.id for c in state.candidates],
        "generated_demo": state.ws.is_demo,
    }


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
        title=ws.title,
        is_demo=ws.is_demo,
        kinds=ws.kinds,
        kind=state.kind,
        kind_label=lstyle.kind_label(ws.kinds, state.kind, lang),
        tiers=ws.tiers,
        headline=head.rows,
        total=head.total,
        unserved=head.unserved,
        facilities=ws.facilities,
        areas=base_areas,
        demand=ws.demand,
        demand_class=classes.classify(state.unit_distances(), state.unit_reachable()),
        gaps=state.gaps(),
        candidates=state.candidates_frame(),
        candidate_areas=areas[areas["candidate"]],
        boundaries=ws.boundary_frames(),
        streets=ws.cached(("streets_frame",), lambda: _streets_frame(ws)),
        units=state.unit_table(),
        lang=lang,
    )
    return lreport.report_html(data).encode("utf-8")


def a4_report(state: PlannerState):
    """The report to hand in (:class:`layers.a4report.A4Report`) of the session's complete life circles."""
    import datetime

    import numpy as np
    import shapely

    from lifecircle.layers import a4report
    from lifecircle.layers import geojson as lgj

    from . import complete_view as cview
    from .complete import point_sources

    ws, lang = state.ws, state.lang
    zh = lang != "en"
    comp = state.complete()
    if comp is None:
        raise ValueError(state.complete_error or "the complete life circles cannot be computed for this project")
    std = comp.base.standard
    tier = std.tier(state.complete_tier) if state.complete_tier else std.tiers[-1]
    head = pd.DataFrame(
        [
            {
                ("范围" if zh else "tier"): r["label"] if zh else r["label_en"],
                "m": r["metres"],
                ("必备项" if zh else "kinds"): r["n_kinds"],
                ("完整人口" if zh else "complete"): r["complete"],
                ("比例" if zh else "share"): f"{100 * r['share']:.1f}%",
                ("较现状" if zh else "change"): f"{r['delta']:+,.0f}",
            }
            for r in comp.headline()
        ]
    )
    kinds = pd.DataFrame(
        [
            {
                ("设施" if zh else "kind"): lstyle.kind_label(ws.kinds, r["kind"], lang),
                (f"{tier.label(lang)} 可达人口" if zh else f"within {tier.label(lang)}"): r["covered"],
                ("比例" if zh else "share"): f"{100 * r['share']:.1f}%",
            }
            for r in comp.kind_table(tier)
        ]
    )
    ut = comp.unit_table(ws.communities)
    units = (
        pd.DataFrame({("社区" if zh else "community"): ut["name"], ("人口" if zh else "people"): ut["weight"].round(0)})
        if len(ut)
        else pd.DataFrame()
    )
    for t in std.tiers:
        if len(ut):
            units[t.label(lang)] = [f"{100 * v:.0f}%" for v in ut[f"complete_{t.key}"]]
    led = comp.view().ledger(lang="en", remedies=False)
    ledger = (
        pd.DataFrame(
            {
                ("社区" if zh else "community"): led["unit"],
                ("范围" if zh else "tier"): [std.tier(k).label(lang) for k in led["tier"]],
                ("缺项" if zh else "missing"): [lstyle.kind_label(ws.kinds, k, lang) for k in led["kind"]],
                ("影响人口" if zh else "people"): led["weight"],
                ("占比" if zh else "share"): [f"{100 * v:.0f}%" for v in led["share"]],
            }
        )
        if len(led)
        else pd.DataFrame()
    )
    gains = state.gains()
    top = f"gain_{tier_key(ws.tiers[-1])}"
    cands = (
        pd.DataFrame(
            {
                "id": gains["id"],
                ("类型" if zh else "kind"): [lstyle.kind_label(ws.kinds, k, lang) for k in gains["kind"]],
                ("经度" if zh else "lon"): [f"{v:.6f}" for v in gains["lon"]],
                ("纬度" if zh else "lat"): [f"{v:.6f}" for v in gains["lat"]],
                ("新增覆盖" if zh else "gain"): gains[top],
            }
        )
        if len(gains)
        else pd.DataFrame()
    )
    # the map
    n = len(tier.required_kinds)
    colors = cview.palette(n)
    if ws.demand_zones:
        have, _m = comp.sample_classes(tier)
        dgeoms = shapely.points(ws.net.to_lonlat(ws.coverage.samples.xy))
    else:
        have, _m, _s = comp.demand_units(tier)
        dgeoms = ws.demand.geometry.values
    fac = point_sources(ws.eval_facilities) if ws.eval_facilities is not None else ws.facilities
    closed = set(state.closed_points())
    fac = fac[~fac["id"].astype(str).isin(closed)]
    streets = ws.cached(("streets_frame",), lambda: _streets_frame(ws))
    layers = [a4report.MapLayer("lines", streets.geometry.values, "#b0b8c0", 0.8)]
    for level, frame in ws.boundary_frames():
        layers.append(
            a4report.MapLayer(
                "outline",
                frame.geometry.values,
                "#546e7a" if level == "community" else "#263238",
                1.2 if level == "community" else 2.0,
            )
        )
    layers.append(a4report.MapLayer("dots", np.asarray(dgeoms), [colors[h] for h in have], 2.6))
    layers.append(
        a4report.MapLayer("squares", fac.geometry.values, [lstyle.kind_color(ws.kinds, k) for k in fac["kind"]], 3.5)
    )
    if state.candidates:
        layers.append(
            a4report.MapLayer(
                "stars",
                shapely.points([[c.lon, c.lat] for c in state.candidates]),
                lstyle.CANDIDATE_COLOR,
                labels=[c.id for c in state.candidates],
            )
        )
    legend = [
        ("dot", colors[i], cview.legend_block(n, tier.label(lang), lang)["items"][n - i]["label"])
        for i in range(n, -1, -1)
    ]
    present = [k for k in state.param.edit_kind.objects if k in set(fac["kind"].astype(str))]
    legend += [("square", lstyle.kind_color(ws.kinds, k), lstyle.kind_label(ws.kinds, k, lang)) for k in present]
    legend += [
        ("star", lstyle.CANDIDATE_COLOR, "新增设施（情景）" if zh else "new facilities (what-if)"),
        ("line", "#546e7a", "社区边界" if zh else "community boundary"),
    ]
    _ = lgj
    total = float(comp.weight.sum())
    sources = [
        "lifecircle 生成的演示数据" if ws.is_demo and zh else ("lifecircle generated demo" if ws.is_demo else ws.title),
        f"{'路网' if zh else 'network'} {ws.net.name} ({ws.net.n_nodes:,} {'节点' if zh else 'nodes'})",
        f"{'设施' if zh else 'facilities'} {len(fac):,}",
        f"{'人口' if zh else 'people'} {total:,.0f}",
    ]
    if state.closed:
        sources.append(("已关闭" if zh else "closed") + ": " + ", ".join(state.closed))
    method = (
        (
            "每位居民沿步行路网到每类设施的最近距离由有界的多源最短路径计算；某层级要求的每类设施都在其半径内的居民计为拥有完整生活圈。"
            "新增、移动与关闭设施只在其周边局部重算，缺项台账按社区 × 层级 × 缺项列出受影响人口。"
        )
        if zh
        else (
            "Each resident's walking distance to the nearest facility of every kind is computed on the street network by "
            "bounded multi-source shortest paths; a resident whose every kind required by a tier lies within its radius "
            "has a complete life circle. Added, moved and closed facilities are recomputed locally around them, and the "
            "gap ledger lists the people affected per community, tier and missing kind."
        )
    )
    return a4report.A4Report(
        title=f"{ws.title} · {'完整生活圈评估' if zh else 'complete life circles'}",
        date=datetime.date.today().isoformat(),
        sources=sources,
        **a4report.standard_fields(std),
        method=method,
        headline=head,
        kinds=kinds,
        units=units,
        ledger=ledger,
        candidates=cands,
        layers=layers,
        legend=legend,
        bounds=ws.bounds(),
        is_demo=ws.is_demo,
        lang=lang,
    )


def a4_bytes(state: PlannerState, *, pdf: bool) -> bytes:
    """The A4 landscape report as HTML, or as PDF printed by headless Chromium."""
    from lifecircle.layers import a4report

    html = a4report.a4_html(a4_report(state))
    return a4report.html_to_pdf(html) if pdf else html.encode("utf-8")


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
    if key == "a4_html":
        return a4_bytes(state, pdf=False)
    if key == "a4_pdf":
        return a4_bytes(state, pdf=True)
    raise KeyError(f"unknown export {key!r}; known: {', '.join(EXPORTS)}")
