"""A static HTML map report that opens with no internet (folium, Leaflet inlined).

folium's page template loads Leaflet, jQuery, Bootstrap and Font Awesome from
CDNs, so it stays blank offline.  :func:`report_html` builds the map with
folium, drops every remote ``<script>``/``<link>`` tag, and inlines Leaflet's
script and style sheet (its images as data URIs) from the installed
``django-js-lib-leaflet`` package.  Every text from the data is escaped before
folium sees it, because folium's tooltips insert their fields as HTML.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.geo.coverage import tier_key
from lifecircle.geo.standards import KindRegistry, tier_label

from . import style

__all__ = ["ReportData", "leaflet_assets", "offline_html", "report_html"]

_REMOTE_TAG = re.compile(
    r"<script[^>]+src=[\"']https?://[^\"']*[\"'][^>]*>\s*</script>\s*|<link[^>]+href=[\"']https?://[^\"']*[\"'][^>]*/?>\s*",
    re.IGNORECASE,
)


@dataclass
class ReportData:
    """What the report shows (all layers WGS84).

    Attributes
    ----------
    title
        The study's title; ``is_demo`` adds the "generated demo data" note.
    kind, tiers
        The facility kind analysed and the tiers in metres.
    headline
        Rows ``{"tier", "base", "covered", "share", "delta"}``, and ``total``/``unserved``.
    units
        Per-community table (``name``, ``weight``, ``share_<tier>``), possibly empty.
    """

    title: str
    is_demo: bool
    kinds: KindRegistry
    kind: str
    kind_label: str
    tiers: Sequence[float]
    headline: list[dict]
    total: float
    unserved: float
    facilities: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    demand_class: np.ndarray
    gaps: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    candidate_areas: gpd.GeoDataFrame
    boundaries: list[tuple[str, gpd.GeoDataFrame]] = field(default_factory=list)
    streets: gpd.GeoDataFrame | None = None
    units: pd.DataFrame = field(default_factory=pd.DataFrame)
    lang: str = "zh"


def leaflet_assets() -> tuple[str, str]:
    """Return Leaflet's script (UMD build) and style sheet with images inlined as data URIs."""
    import js_lib_leaflet

    folder = Path(js_lib_leaflet.__file__).parent / "static" / "js_lib_leaflet"
    script = (folder / "leaflet.js").read_text(encoding="utf-8")
    css = (folder / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match) -> str:
        image = folder / match.group(1)
        if not image.is_file():
            return match.group(0)
        return "url(data:image/png;base64," + base64.b64encode(image.read_bytes()).decode("ascii") + ")"

    css = re.sub(r"url\((images/[^)]+\.png)\)", data_uri, css)
    return script, css


def offline_html(html: str, title: str) -> str:
    """Strip remote script/style tags from a folium page and inline Leaflet instead."""
    script, css = leaflet_assets()
    html = _REMOTE_TAG.sub("", html)
    script = script.replace("</script", "<\\/script")
    inline = f"<title>{escape(title)}</title>\n<style>{css}</style>\n<script>{script}</script>\n"
    return html.replace("<head>", "<head>\n" + inline, 1)


def _escaped(frame: gpd.GeoDataFrame, columns: Sequence[str]) -> gpd.GeoDataFrame:
    out = frame[[c for c in columns if c in frame.columns] + [frame.geometry.name]].copy()
    for c in columns:
        if c in out.columns:
            out[c] = [escape(str(v)) if v is not None else "" for v in out[c]]
    return out


def _add_geojson(
    group,
    frame: gpd.GeoDataFrame,
    style_fn,
    tooltip_fields: Sequence[str] = (),
    aliases: Sequence[str] = (),
    marker=None,
):
    import folium

    if frame is None or not len(frame):
        return
    tooltip = folium.GeoJsonTooltip(fields=list(tooltip_fields), aliases=list(aliases)) if tooltip_fields else None
    folium.GeoJson(frame.to_json(), style_function=style_fn, tooltip=tooltip, marker=marker).add_to(group)


def report_html(data: ReportData) -> str:
    """Return the report page: a headline table, the per-community table and the map.

    Parameters
    ----------
    data
        The figures and layers to show.

    Returns
    -------
    str
        A self-contained HTML page: no request leaves the file.
    """
    import folium

    zh = data.lang == "zh"
    west, south, east, north = _bounds(data)
    fmap = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None,
        zoom_start=15,
        control_scale=True,
        prefer_canvas=True,
    )
    fmap.fit_bounds([[south, west], [north, east]])
    _base_layers(fmap, data)
    _overlay_layers(fmap, data, zh)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.get_root().html.add_child(folium.Element(_summary_panel(data)))
    return offline_html(fmap.get_root().render(), data.title)


def _bounds(data: ReportData) -> tuple[float, float, float, float]:
    frames = [f for _, f in data.boundaries] or [data.demand]
    b = np.array([f.total_bounds for f in frames if len(f)])
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _base_layers(fmap, data: ReportData) -> None:
    import folium

    if data.streets is not None and len(data.streets):
        group = folium.FeatureGroup(name="道路 / streets", control=False).add_to(fmap)
        _add_geojson(
            group, data.streets[["geometry"]], lambda f: {"color": style.STREET_COLOR, "weight": 1, "opacity": 0.8}
        )
    for level, frame in data.boundaries:
        color = style.STREET_BOUNDARY_COLOR if level == "street" else style.COMMUNITY_BOUNDARY_COLOR
        group = folium.FeatureGroup(
            name=style.text("streets" if level == "street" else "communities", data.lang)
        ).add_to(fmap)
        _add_geojson(
            group,
            _escaped(frame, ["name"]),
            lambda f, c=color, lv=level: {
                "color": c,
                "weight": 2.5 if lv == "street" else 1.2,
                "dashArray": "6 4",
                "fill": False,
            },
            ["name"],
            [""],
        )


def _overlay_layers(fmap, data: ReportData, zh: bool) -> None:
    import folium

    classes = style.distance_classes(data.tiers)
    colors = classes.all_colors()
    group = folium.FeatureGroup(name=("服务范围 " if zh else "Service areas ") + data.kind_label).add_to(fmap)
    for tier in sorted(data.tiers, reverse=True):
        sel = data.areas[data.areas["tier_m"] == tier][["kind", "geometry"]]
        _add_geojson(
            group,
            sel,
            lambda f, t=tier: {
                "color": style.kind_color(data.kinds, f["properties"]["kind"]),
                "weight": 0.6,
                "fillColor": style.kind_color(data.kinds, f["properties"]["kind"]),
                "fillOpacity": style.tier_opacity(data.tiers, t),
            },
        )
    demand = data.demand[["geometry"]].copy()
    demand["cls"] = data.demand_class.astype(int)
    demand["label"] = [classes.labels(data.lang)[c] for c in demand["cls"]]
    group = folium.FeatureGroup(name="居民（步行距离）" if zh else "Residents (walking distance)").add_to(fmap)
    _add_geojson(
        group,
        demand,
        lambda f: {
            "fill": True,
            "fillColor": colors[f["properties"]["cls"]],
            "color": "#ffffff",
            "weight": 0.5,
            "fillOpacity": 0.9,
            "radius": 3,
        },
        ["label"],
        [""],
        marker=folium.CircleMarker(radius=3),
    )
    gaps = data.gaps[["rank", "unserved_weight", "geometry"]] if len(data.gaps) else data.gaps
    group = folium.FeatureGroup(name="覆盖缺口" if zh else "Coverage gaps").add_to(fmap)
    _add_geojson(
        group,
        gaps,
        lambda f: {"color": style.GAP_COLOR, "weight": 1.2, "fillColor": style.GAP_COLOR, "fillOpacity": 0.25},
        ["rank", "unserved_weight"],
        ["#", "未覆盖人口" if zh else "unserved"],
    )
    fac = _escaped(data.facilities, ["name", "kind"])
    group = folium.FeatureGroup(name="设施" if zh else "Facilities").add_to(fmap)
    _add_geojson(
        group,
        fac,
        lambda f: {
            "fill": True,
            "fillColor": style.kind_color(data.kinds, f["properties"]["kind"]),
            "color": "#fff",
            "weight": 1.5,
            "fillOpacity": 1,
            "radius": 6,
        },
        ["name", "kind"],
        ["", ""],
        marker=folium.CircleMarker(radius=6),
    )
    group = folium.FeatureGroup(name="候选站点" if zh else "Candidate sites").add_to(fmap)
    if len(data.candidate_areas):
        _add_geojson(
            group,
            data.candidate_areas[["geometry"]],
            lambda f: {"color": style.CANDIDATE_COLOR, "weight": 1.5, "dashArray": "6 4", "fillOpacity": 0.08},
        )
    if len(data.candidates):
        _add_geojson(
            group,
            _escaped(data.candidates, ["id", "gain"]),
            lambda f: {
                "fill": True,
                "fillColor": style.CANDIDATE_COLOR,
                "color": "#fff",
                "weight": 2,
                "fillOpacity": 1,
                "radius": 8,
            },
            ["id", "gain"],
            ["", "新增覆盖" if zh else "adds"],
            marker=folium.CircleMarker(radius=8),
        )


def _summary_panel(data: ReportData) -> str:
    zh = data.lang == "zh"
    rows = "".join(
        f"<tr><td>{escape(tier_label(r['tier'], data.lang))}</td><td>{r['base']:,.0f}</td><td>{r['covered']:,.0f}</td>"
        f"<td>{r['share']:.1%}</td><td>{r['delta']:+,.0f}</td></tr>"
        for r in data.headline
    )
    head = (
        "<th>范围</th><th>现状覆盖</th><th>方案覆盖</th><th>覆盖率</th><th>变化</th>"
        if zh
        else "<th>Tier</th><th>Today</th><th>Plan</th><th>Share</th><th>Change</th>"
    )
    units = ""
    if len(data.units):
        ucells = "".join(f"<th>{escape(tier_label(t, data.lang))}</th>" for t in data.tiers)
        urows = "".join(
            f"<tr><td>{escape(str(r['name']))}</td><td>{r['weight']:,.0f}</td>"
            + "".join(f"<td>{r[f'share_{tier_key(t)}']:.1%}</td>" for t in data.tiers)
            + "</tr>"
            for r in data.units.to_dict("records")
        )
        units = (
            f"<h3>{'各社区覆盖率' if zh else 'Coverage by community'}</h3><table><tr><th>{'社区' if zh else 'Community'}</th>"
            f"<th>{'人口' if zh else 'Population'}</th>{ucells}</tr>{urows}</table>"
        )
    demo = (
        f"<p class='demo'>{'生成的演示数据（非真实数据）· generated demo data' if zh else 'Generated demo data (not real data)'}</p>"
        if data.is_demo
        else ""
    )
    return f"""
<style>
  .lc-report {{ position: absolute; top: 10px; left: 54px; z-index: 1000; background: rgba(255,255,255,.96); padding: 10px 14px;
    border-radius: 8px; box-shadow: 0 1px 6px rgba(0,0,0,.3); font: 12px/1.45 system-ui, "PingFang SC", "Microsoft YaHei", sans-serif;
    max-width: 430px; max-height: 80vh; overflow: auto; }}
  .lc-report h2 {{ font-size: 15px; margin: 0 0 4px; }} .lc-report h3 {{ font-size: 13px; margin: 10px 0 4px; }}
  .lc-report table {{ border-collapse: collapse; width: 100%; }}
  .lc-report td, .lc-report th {{ padding: 2px 6px; border-bottom: 1px solid #e5e9ee; text-align: right; }}
  .lc-report td:first-child, .lc-report th:first-child {{ text-align: left; }}
  .lc-report .demo {{ color: #8d6e00; font-weight: 600; margin: 0 0 6px; }}
</style>
<div class="lc-report">
  <h2>{escape(data.title)}</h2>{demo}
  <div>{escape(("设施类型：" if zh else "Facility kind: ") + data.kind_label)} · {escape(("总人口 " if zh else "Residents ") + f"{data.total:,.0f}")}
   · {escape(("未覆盖 " if zh else "Unserved ") + f"{data.unserved:,.0f}")}</div>
  <table><tr>{head}</tr>{rows}</table>{units}
</div>"""
