"""The report to hand in: one A4 landscape document (HTML, and PDF printed by headless Chromium).

It holds the title, the date, the data sources, the standard pack with its verified flags, the
method in two sentences, the map fitted to the district (drawn as SVG, so it prints sharply and
needs nothing from the internet) with its legend, scale bar and north arrow, the headline table,
the 社区 table, the gap ledger and the candidate table with ids.  Every text from data is escaped.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

__all__ = ["A4Report", "MapLayer", "a4_html", "html_to_pdf", "standard_fields", "CHROMIUM"]

#: The headless browser that prints the PDF.
CHROMIUM = os.environ.get("LIFECIRCLE_CHROMIUM", "/usr/bin/chromium")
_W, _H = 1000.0, 640.0  # the map's SVG viewBox


@dataclass
class MapLayer:
    """Something drawn on the report's map (WGS84 geometries)."""

    kind: str  # "lines", "outline", "dots", "squares", "stars"
    geoms: np.ndarray
    colors: list[str] | str = "#607d8b"
    width: float = 1.0
    labels: list[str] | None = None


@dataclass
class A4Report:
    """What the report shows (all prepared by the caller: the page or ``lifecircle evaluate``)."""

    title: str
    date: str
    sources: list[str]
    standard_name: str
    standard_title: str
    standard_version: str
    verified: bool
    unverified: list[str]
    method: str
    headline: pd.DataFrame
    units: pd.DataFrame
    ledger: pd.DataFrame
    candidates: pd.DataFrame
    layers: list[MapLayer] = field(default_factory=list)
    legend: list[tuple[str, str, str]] = field(default_factory=list)  # (shape, colour, label)
    bounds: tuple[float, float, float, float] | None = None
    is_demo: bool = False
    kinds: pd.DataFrame | None = None
    lang: str = "zh"


_CSS = """
@page { size: A4 landscape; margin: 10mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: #1f2d3d; font-size: 9.5pt; margin: 0; }
h1 { font-size: 17pt; margin: 0 0 1mm 0; }
h2 { font-size: 11pt; margin: 3mm 0 1.5mm 0; border-left: 3px solid #1565c0; padding-left: 2mm; }
.meta { color: #455a64; font-size: 8.5pt; }
.warn { color: #b3261e; font-weight: 600; }
.demo { background: #ffca28; color: #3e2723; padding: 0 2mm; border-radius: 2mm; font-weight: 700; }
.page1 { display: grid; grid-template-columns: 178mm 1fr; gap: 5mm; }
.map { border: 1px solid #cfd8dc; width: 178mm; height: 114mm; }
.map svg { width: 100%; height: 100%; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e0e6eb; padding: 0.8mm 1.5mm; text-align: right; white-space: nowrap; }
th { color: #455a64; background: #f3f6f8; }
th:first-child, td:first-child { text-align: left; }
td.t { text-align: left; white-space: normal; }
.break { break-before: page; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 6mm; }
ul.unv { margin: 0.5mm 0 0 4mm; padding: 0; font-size: 7.5pt; color: #b3261e; columns: 2; }
"""


def _project(bounds):
    west, south, east, north = bounds
    lat0 = math.radians((south + north) / 2)
    kx = 111_320.0 * math.cos(lat0)
    ky = 110_540.0
    w_m, h_m = max((east - west) * kx, 1.0), max((north - south) * ky, 1.0)
    pad = 24.0
    scale = min((_W - 2 * pad) / w_m, (_H - 2 * pad) / h_m)  # px per metre
    ox = (_W - w_m * scale) / 2
    oy = (_H - h_m * scale) / 2

    def fn(lon, lat):
        x = ox + (np.asarray(lon) - west) * kx * scale
        y = _H - (oy + (np.asarray(lat) - south) * ky * scale)
        return x, y

    return fn, scale


def _path(coords, fn) -> str:
    x, y = fn(coords[:, 0], coords[:, 1])
    return "M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y))


def _svg(r: A4Report) -> str:
    bounds = r.bounds
    if bounds is None:
        allg = np.concatenate([np.asarray(layer.geoms, dtype=object) for layer in r.layers if len(layer.geoms)])
        bounds = tuple(shapely.total_bounds(allg))
    fn, scale = _project(bounds)
    out = [
        f'<svg viewBox="0 0 {_W:.0f} {_H:.0f}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">',
        f'<rect width="{_W:.0f}" height="{_H:.0f}" fill="#f7f6f2"/>',
    ]
    for layer in r.layers:
        colors = layer.colors if isinstance(layer.colors, list) else [layer.colors] * len(layer.geoms)
        if layer.kind in ("lines", "outline"):
            dash = ' stroke-dasharray="5 4"' if layer.kind == "outline" else ""
            parts = []
            for g in layer.geoms:
                for line in _lines_of(g):
                    parts.append(_path(shapely.get_coordinates(line), fn))
            out.append(
                f'<path d="{" ".join(parts)}" fill="none" stroke="{escape(colors[0])}" stroke-width="{layer.width}"{dash}/>'
            )
        else:
            xy = shapely.get_coordinates(shapely.centroid(layer.geoms)) if len(layer.geoms) else np.empty((0, 2))
            x, y = fn(xy[:, 0], xy[:, 1]) if len(xy) else (np.empty(0), np.empty(0))
            for i, (a, b) in enumerate(zip(x, y)):
                c = escape(colors[i])
                if layer.kind == "dots":
                    out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="{layer.width:.1f}" fill="{c}"/>')
                elif layer.kind == "squares":
                    s = layer.width
                    out.append(
                        f'<rect x="{a - s:.1f}" y="{b - s:.1f}" width="{2 * s:.1f}" height="{2 * s:.1f}" '
                        f'fill="{c}" stroke="#fff" stroke-width="1"/>'
                    )
                else:  # stars: the new facilities, with their ids
                    out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="7" fill="{c}" stroke="#fff" stroke-width="2"/>')
                    if layer.labels:
                        out.append(
                            f'<text x="{a + 9:.1f}" y="{b + 4:.1f}" font-size="13" font-weight="700" fill="#880e4f" '
                            f'stroke="#fff" stroke-width="3" paint-order="stroke">{escape(layer.labels[i])}</text>'
                        )
    out += _furniture(r, scale)
    out.append("</svg>")
    return "".join(out)


def _lines_of(g):
    if g is None or shapely.is_empty(g):
        return []
    if g.geom_type in ("Polygon", "MultiPolygon"):
        g = g.boundary
    if g.geom_type == "LineString" or g.geom_type == "LinearRing":
        return [g]
    return [p for p in getattr(g, "geoms", []) if p.geom_type in ("LineString", "LinearRing")]


def _furniture(r: A4Report, scale: float) -> list[str]:
    """Legend, scale bar and north arrow."""
    out = []
    # north arrow (top right)
    out.append(
        f'<g transform="translate({_W - 40:.0f},30)"><path d="M0,-18 L9,12 L0,5 L-9,12 Z" fill="#263238"/>'
        '<text x="0" y="28" font-size="14" text-anchor="middle" font-weight="700">N</text></g>'
    )
    # scale bar (bottom left): a round length about a fifth of the map
    target = (_W / 5) / scale
    nice = max(v for v in (50, 100, 200, 250, 500, 1000, 2000, 5000, 10000) if v <= max(target, 50))
    px = nice * scale
    out.append(
        f'<g transform="translate(24,{_H - 26:.0f})"><rect x="0" y="0" width="{px:.1f}" height="6" fill="#263238"/>'
        f'<rect x="{px / 2:.1f}" y="0" width="{px / 2:.1f}" height="6" fill="#fff" stroke="#263238"/>'
        f'<text x="0" y="-4" font-size="12">0</text><text x="{px:.1f}" y="-4" font-size="12" text-anchor="end">'
        f"{nice:,} m</text></g>"
    )
    # legend (top left)
    if r.legend:
        h = 16 * len(r.legend) + 12
        width = 12 + 8.5 * max(len(lb) for _s, _c, lb in r.legend) + 30
        out.append(
            f'<g transform="translate(12,12)"><rect width="{min(width, 330):.0f}" height="{h}" fill="#fff" '
            'fill-opacity="0.93" stroke="#b0bec5"/>'
        )
        for i, (shape, color, label) in enumerate(r.legend):
            y = 14 + 16 * i
            c = escape(color)
            if shape == "line":
                out.append(
                    f'<line x1="8" y1="{y - 4}" x2="24" y2="{y - 4}" stroke="{c}" stroke-width="2" stroke-dasharray="4 3"/>'
                )
            elif shape == "square":
                out.append(f'<rect x="10" y="{y - 10}" width="11" height="11" fill="{c}"/>')
            elif shape == "star":
                out.append(f'<circle cx="16" cy="{y - 4}" r="6" fill="{c}" stroke="#fff" stroke-width="1.5"/>')
            else:
                out.append(f'<circle cx="16" cy="{y - 4}" r="4" fill="{c}"/>')
            out.append(f'<text x="30" y="{y}" font-size="12">{escape(label)}</text>')
        out.append("</g>")
    return out


def _table(frame: pd.DataFrame, text_cols=(), limit: int | None = None) -> str:
    if frame is None or not len(frame):
        return '<p class="meta">—</p>'
    rows = frame.head(limit) if limit else frame
    head = "".join(f"<th>{escape(str(c))}</th>" for c in rows.columns)
    body = []
    for rec in rows.itertuples(index=False):
        cells = []
        for col, v in zip(rows.columns, rec):
            cls = ' class="t"' if col in text_cols else ""
            if isinstance(v, float):
                v = "" if v != v else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.3g}")
            cells.append(f"<td{cls}>{escape(str(v))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = f'<p class="meta">… {len(frame) - limit} more rows</p>' if limit and len(frame) > limit else ""
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def a4_html(r: A4Report) -> str:
    """The report as one self-contained HTML document (prints as A4 landscape)."""
    zh = r.lang != "en"
    flag = ("已核实" if zh else "verified") if r.verified else ("未核实" if zh else "unverified")
    unv = "".join(f"<li>{escape(u)}</li>" for u in r.unverified[:40])
    more = f"<li>… {len(r.unverified) - 40}</li>" if len(r.unverified) > 40 else ""
    demo = (
        f' <span class="demo">{"生成的演示数据（非真实数据）" if zh else "generated demo data"}</span>'
        if r.is_demo
        else ""
    )
    parts = [
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>",
        f"<title>{escape(r.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(r.title)}{demo}</h1>",
        f'<div class="meta">{"日期" if zh else "Date"}: {escape(r.date)} · {"数据来源" if zh else "Data"}: '
        f"{escape('; '.join(r.sources))}</div>",
        f'<div class="meta">{"评价标准" if zh else "Standard"}: {escape(r.standard_title or r.standard_name)} '
        f'({escape(r.standard_name)} {escape(r.standard_version)}) · <span class="{"" if r.verified else "warn"}">{escape(flag)}</span></div>',
        f'<div class="meta">{"方法" if zh else "Method"}: {escape(r.method)}</div>',
        '<div class="page1"><div>',
        f'<div class="map" data-testid="report-map">{_svg(r)}</div>',
        f"<h2>{'完整生活圈' if zh else 'Complete life circles'}</h2>{_table(r.headline)}",
        "</div><div>",
        f"<h2>{'各项设施可达人口' if zh else 'People within reach of each kind'}</h2>{_table(r.kinds, ('设施', 'kind'))}"
        if r.kinds is not None
        else "",
        f"<h2>{'候选站点' if zh else 'Candidate sites'}</h2>{_table(r.candidates, limit=14)}",
        "</div></div>",
        '<div class="break"></div><div class="cols"><div>',
        f"<h2>{'各社区完整比例' if zh else 'Complete share per community'}</h2>{_table(r.units, ('社区', 'community'), limit=40)}",
        "</div><div>",
        f"<h2>{'问题台账' if zh else 'Gap ledger'}</h2>{_table(r.ledger, ('社区', 'community', '条款', 'clause'), limit=40)}",
        "</div></div>",
    ]
    if not r.verified:
        parts.append(f'<h2>{"未核实的取值" if zh else "Unverified values"}</h2><ul class="unv">{unv}{more}</ul>')
    parts.append("</body></html>")
    return "".join(parts)


def html_to_pdf(html: str, *, timeout: float = 120.0) -> bytes:
    """Print the HTML to PDF with headless Chromium (:data:`CHROMIUM`); nothing is fetched from outside.

    Raises
    ------
    RuntimeError
        When Chromium is missing or fails (the message says which).
    """
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise RuntimeError(f"printing a PDF needs Chromium ({CHROMIUM} not found); write the .html report instead")
    with tempfile.TemporaryDirectory(prefix="lc-report-") as folder:
        src, out = Path(folder) / "report.html", Path(folder) / "report.pdf"
        src.write_text(html, encoding="utf-8")
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={folder}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if not out.is_file():
            raise RuntimeError(f"Chromium did not print the report (exit {proc.returncode}): {proc.stderr[-500:]}")
        return out.read_bytes()


def standard_fields(std) -> dict:
    """The report's fields that name the rule pack and say what of it is verified."""
    return {
        "standard_name": std.name,
        "standard_title": std.title,
        "standard_version": std.version,
        "verified": std.verified,
        "unverified": std.unverified(),
    }


def from_evaluation(
    ev,
    *,
    title: str,
    sources: list[str],
    facilities=None,
    units=None,
    ledger=None,
    lang: str = "zh",
    is_demo: bool = False,
) -> A4Report:
    """The report of a :class:`geo.evaluate.Evaluation` (``lifecircle evaluate --report R.pdf``)."""
    import datetime

    from . import style as lstyle

    zh = lang != "en"
    std = ev.standard
    summary = ev.summary()
    head = pd.DataFrame(
        [
            {
                ("范围" if zh else "tier"): t.label(lang),
                "m": t.metres,
                ("必备项" if zh else "kinds"): len(t.required_kinds),
                ("完整人口" if zh else "complete"): summary["complete"][t.key]["weight"],
                ("比例" if zh else "share"): f"{100 * summary['complete'][t.key]['share']:.1f}%",
            }
            for t in std.tiers
        ]
    )
    top = std.tiers[-1]
    from lifecircle.geo.standards import KindRegistry

    try:
        registry = KindRegistry(list(std.kinds))
    except ValueError:  # a pack kind the registry refuses: labels fall back to keys
        registry = KindRegistry()

    def label(k: str) -> str:
        try:
            return lstyle.kind_label(registry, k, lang)
        except Exception:  # noqa: BLE001 - a kind the registry does not know: its key
            return k

    kinds = pd.DataFrame(
        [
            {
                ("设施" if zh else "kind"): label(k),
                (f"{top.label(lang)} 可达人口" if zh else f"within {top.label(lang)}"): summary["kinds"][k][top.key][
                    "weight"
                ],
                ("比例" if zh else "share"): f"{100 * summary['kinds'][k][top.key]['share']:.1f}%",
            }
            for k in top.required_kinds
            if k in summary["kinds"] and top.key in summary["kinds"][k]
        ]
    )
    unit_rows = pd.DataFrame()
    if units is not None and len(units):
        bu = ev.by_unit(units)
        unit_rows = pd.DataFrame(
            {("社区" if zh else "community"): bu["name"], ("人口" if zh else "people"): bu["weight"]}
        )
        for t in std.tiers:
            unit_rows[t.label(lang)] = [f"{100 * v:.0f}%" for v in bu[f"complete_{t.key}"]]
    led = ledger if ledger is not None else ev.ledger(lang=lang, remedies=False)
    keep = [
        c
        for c in led.columns
        if c in ("社区", "范围", "缺项", "影响人口", "占比", "unit", "tier", "kind", "weight", "share")
    ]
    led = led[keep]
    n = len(top.required_kinds)
    from_palette = ["#b71c1c", "#e53935", "#f4511e", "#fb8c00", "#fdd835", "#c0ca33", "#7cb342"]
    colors = [from_palette[round(i * (len(from_palette) - 1) / max(n - 1, 1))] for i in range(n)] + ["#2e7d32"]
    have = ev.n_kinds(top)
    xy = ev.net.to_lonlat(ev.samples.xy)
    layers = [MapLayer("lines", shapely.transform(ev.net.edge_lines, ev.net.to_lonlat), "#b0b8c0", 0.8)]
    if units is not None and len(units):
        layers.append(MapLayer("outline", units.geometry.values, "#546e7a", 1.2))
    layers.append(MapLayer("dots", shapely.points(xy), [colors[h] for h in have], 2.4))
    legend = [
        (
            "dot",
            colors[i],
            (f"{n} 项齐全" if zh else f"all {n} kinds") if i == n else (f"缺 {n - i} 项" if zh else f"{n - i} missing"),
        )
        for i in range(n, -1, -1)
    ]
    if facilities is not None and len(facilities):
        pts = facilities[shapely.get_type_id(facilities.geometry.values) == 0]

        def color(k: str) -> str:
            try:
                return lstyle.kind_color(registry, k)
            except Exception:  # noqa: BLE001
                return "#37474f"

        layers.append(MapLayer("squares", pts.geometry.values, [color(k) for k in pts["kind"].astype(str)], 3.2))
        legend += [("square", color(k), label(k)) for k in dict.fromkeys(pts["kind"].astype(str))][:14]
    method = (
        (
            "每位居民沿步行路网到每类设施的最近距离由有界的多源最短路径计算；某层级要求的每类设施都在其半径内的居民计为拥有完整生活圈。"
            "缺项台账按社区 × 层级 × 缺项列出受影响人口。"
        )
        if zh
        else (
            "Each resident's walking distance to the nearest facility of every kind is computed on the street network by "
            "bounded multi-source shortest paths; a resident whose every kind required by a tier lies within its radius has "
            "a complete life circle. The gap ledger lists the people affected per community, tier and missing kind."
        )
    )
    return A4Report(
        title=title,
        date=datetime.date.today().isoformat(),
        sources=sources,
        **standard_fields(std),
        method=method,
        headline=head,
        kinds=kinds,
        units=unit_rows,
        ledger=led,
        candidates=pd.DataFrame(),
        layers=layers,
        legend=legend,
        is_demo=is_demo,
        lang=lang,
    )
