"""``lifecircle evaluate`` and ``lifecircle standards``: life-circle evaluation by a standard.

::

    lifecircle evaluate --network NET --facilities F [--facilities PARKS.geojson] --demand D
                        [--units U] [--standard NAME|FILE] [--candidates C] --out EVAL.geojson
                        [--summary S.json] [--ledger L.xlsx] [--report R.html] [--lang zh|en]
    lifecircle standards [NAME|FILE] [--json]

``--facilities`` may be given more than once; a vector file may mix points and polygons
(polygons are reached by the touch rule, ``--touch`` metres).  Kinds named in the standard are
accepted as facility kinds without ``--kinds``.
"""

from __future__ import annotations

import argparse
import html
import json
import sys

from lifecircle.geo import settings

from .base import Inputs, Reporter, UsageError, add_common, add_kinds, add_snap_limit, check_output, check_positive
from .outputs import Outputs
from .scenarios import add_scenario_option, apply_scenario, project_entry, scenario_inputs

__all__ = ["register", "cmd_evaluate", "cmd_standards", "read_facilities", "pack_registry"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` and ``standards`` sub-commands."""
    p = sub.add_parser(
        "evaluate", help="life-circle completeness by a standard (GB 50180-2018 ...), and the gap ledger"
    )
    p.add_argument("--network", help="network: .lcnet, .graphml, .osm or .osm.pbf")
    p.add_argument(
        "--facilities",
        action="append",
        default=None,
        metavar="FILE",
        help="facilities (id, kind, points or polygons); give it once per file",
    )
    p.add_argument(
        "--demand", help="demand: points or polygons with population (人口) and cohort columns (pop_60plus ...)"
    )
    p.add_argument(
        "--count-rows",
        action="store_true",
        help="count each demand row as one resident when the file has no population column",
    )
    p.add_argument("--units", help="社区/街道 polygons: per-unit shares and the ledger's 社区")
    p.add_argument(
        "--standard",
        default=settings.DEFAULT_STANDARD,
        help=f"a shipped rule pack (see `lifecircle standards`) or a .toml file (default {settings.DEFAULT_STANDARD})",
    )
    p.add_argument("--candidates", help="candidate sites for the ledger's remedies (default: a 200 m grid)")
    p.add_argument(
        "--cohorts",
        default=None,
        help="cohorts to evaluate, comma separated; their columns must exist (default: those the demand has)",
    )
    p.add_argument("--out", required=True, help="evaluation GeoJSON (one feature per demand unit)")
    p.add_argument("--summary", help="summary JSON to write")
    p.add_argument("--ledger", help="gap ledger (问题台账) to write: .xlsx, .csv or .geojson")
    p.add_argument("--report", help="a report to write: .html, or .pdf (A4 landscape, printed by headless Chromium)")
    p.add_argument("--lang", default="zh", choices=("zh", "en"), help="ledger headers: Chinese (default) or English")
    p.add_argument(
        "--touch",
        type=float,
        default=settings.DEFAULT_TOUCH_M,
        help=f"polygon facilities are reached from streets within this many metres (default {settings.DEFAULT_TOUCH_M:g})",
    )
    p.add_argument("--no-remedies", action="store_true", help="leave the ledger's remedy columns empty (faster)")
    add_scenario_option(p)
    add_snap_limit(p)
    add_kinds(p)
    add_common(p)
    p.set_defaults(
        handler=cmd_evaluate,
        inputs=("network", "facilities", "demand", "units", "candidates"),
        outputs=("out", "summary", "ledger", "report"),
    )

    p = sub.add_parser("standards", help="list the shipped rule packs, or print one")
    p.add_argument("name", nargs="?", help="a pack name or .toml file to print")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", "-q", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_standards, inputs=(), outputs=())
    _extend_site(sub)


def _extend_site(sub: argparse._SubParsersAction) -> None:
    """Give ``lifecircle site`` the objective ``complete`` (issue 11), without touching its module:
    ``--objective complete --standard S --tier T --kind K --add N`` sites N facilities of kind K
    that make the most residents complete in tier T; other objectives run ``site`` as before."""
    site = sub.choices.get("site")
    if site is None or any("--objective" in a.option_strings for a in site._actions):
        return
    site.add_argument(
        "--objective",
        choices=("cover", "complete"),
        default="cover",
        help="cover: new micro-stations covering the most people (default); complete: sites of --kind "
        "that make the most residents complete in --tier of --standard",
    )
    site.add_argument("--standard", default=settings.DEFAULT_STANDARD, help="rule pack for --objective complete")
    site.add_argument("--tier", default=None, help="tier key for --objective complete (e.g. 15min)")
    site.add_argument("--kind", default=None, help="facility kind to site for --objective complete (e.g. clinic)")
    original = site.get_default("handler")

    def handler(args: argparse.Namespace) -> int:
        if getattr(args, "objective", "cover") == "complete":
            return cmd_site_complete(args)
        return original(args)

    site.set_defaults(handler=handler)


def cmd_site_complete(args: argparse.Namespace) -> int:
    """Run ``lifecircle site --objective complete``."""
    from lifecircle.geo import evaluate as ev_mod
    from lifecircle.geo import io
    from lifecircle.geo.errors import OptionError
    from lifecircle.geo.evaluate.complete import site_for_completeness

    rep = Reporter(args.quiet)
    check_output(args.out, "--out", (".geojson", ".json"))
    check_output(args.summary, "--summary", (".json",))
    if args.add is None or args.add < 1:
        raise OptionError("--add", "give the number of new sites (1 or more) for --objective complete")
    if args.lscp or args.capacity is not None:
        raise OptionError("--objective", "complete takes --add K; --lscp and --capacity are for the cover objective")
    std = ev_mod.load_standard(args.standard)
    if not args.tier or not args.kind:
        raise OptionError(
            "--tier" if not args.tier else "--kind",
            f"--objective complete needs --tier ({', '.join(t.key for t in std.tiers)}) and --kind",
        )
    tier = std.tier(args.tier)
    if args.kind not in tier.required_kinds:
        raise OptionError(
            "--kind",
            f"{args.kind!r} is not a required kind of {tier.key} in {std.name}: {', '.join(tier.required_kinds)}",
        )
    registry = pack_registry(std, args.kinds)
    inputs = Inputs(args, rep)
    if args.facilities:
        facilities = [read_facilities(args.facilities, registry, args.crs)]
    elif args.demo:
        facilities = [_demo_facilities(inputs.demo)]
    else:
        raise UsageError("give --facilities FILE, or --demo")
    demand = inputs.demand()
    units = inputs.units()
    net = inputs.network()
    if args.candidates:
        candidates = io.read_points(args.candidates, role="candidates", crs=args.crs)
    elif args.candidate_spacing is not None:
        from lifecircle.geo.siting import grid_candidates

        candidates = grid_candidates(
            net, units if units is not None else demand, args.candidate_spacing, min_distance_m=0.0
        )
    elif args.demo:
        candidates = inputs.demo.candidates
    else:
        raise UsageError("give --candidates FILE, or --candidate-spacing METRES, or --demo")
    ev = ev_mod.evaluate(net, facilities, demand, std, units=units, snap_limit_m=args.snap_limit)
    plan = site_for_completeness(
        ev, tier.key, args.kind, args.add, candidates=candidates, method=args.method, time_limit=args.time_limit
    )
    summary = plan.summary()
    summary["standard"] = {"name": std.name, "version": std.version, "verified": std.verified}
    with Outputs() as out:
        out.geojson(
            plan.sites,
            args.out,
            out_crs=args.out_crs,
            metadata={"objective": "complete", "tier": tier.key, "kind": args.kind},
        )
        if args.summary:
            out.json(summary, args.summary)
    b, a = summary["complete_before"], summary["complete_after"]
    rep.note(
        f"{args.add} x {args.kind} for {tier.key} ({args.method}{', optimal' if plan.optimal else ''}): complete "
        f"{b['share']:.1%} -> {a['share']:.1%} (+{plan.gain:,.0f} people)"
    )
    rep.note("wrote " + ", ".join(str(p) for p in out.written))
    return 0


# ------------------------------------------------------------------ inputs
def pack_registry(standard, kinds_text: str | None):
    """The kind registry: built-ins, the standard's kinds, and ``--kinds``."""
    from lifecircle.geo.errors import OptionError
    from lifecircle.geo.standards import FacilityKind, KindRegistry

    reg = KindRegistry(())
    for k in standard.kinds:
        if k not in reg:
            lab = standard.kind_labels.get(k, {})
            reg.add(
                FacilityKind(
                    k, lab.get("label_zh") or k, lab.get("label_en") or k, "#7f8c8d", tuple(lab.get("aliases", ()))
                )
            )
    if kinds_text:
        for k in [x.strip() for x in kinds_text.split(",") if x.strip()]:
            try:
                reg.add(k)
            except ValueError as exc:
                raise OptionError("--kinds", str(exc)) from None
    return reg


def read_facilities(path: str, registry, crs: str):
    """Read one facilities file: points (any format) or, from vector files, points and polygons."""
    from lifecircle.geo import io
    from lifecircle.geo.errors import InputError

    try:
        return io.read_points(path, role="facilities", crs=crs, kinds=registry)
    except InputError as exc:
        if "olygon" not in str(exc):
            raise
    gdf = io.read_points(path, role="demand", crs=crs)  # the reader that accepts polygons
    if "kind" not in gdf:
        raise InputError(path, "has no kind column (类型, kind)")
    keys = []
    rows = gdf.attrs.get("rows")
    for j, text in enumerate(gdf["kind"]):
        key = registry.resolve(text)
        if key is None:
            known = ", ".join(registry.keys())
            raise InputError(
                path,
                f"unknown kind {text!r}; known: {known} (add more with --kinds)",
                row=rows[j] if rows else j + 1,
                column=gdf.attrs.get("columns", {}).get("kind", "kind"),
                row_label=gdf.attrs.get("row_label", "feature"),
            )
        keys.append(key)
    gdf["kind"] = keys
    return gdf


def _demo_facilities(demo):
    """The demo's facilities with its parks as polygons, their gates as entrances."""
    import pandas as pd

    fac = demo.facilities.copy()
    parks = demo.parks.copy()
    is_park = fac["kind"] == "park"
    # gates PK-<n><letter> open into park P<n>
    fac["entrance_of"] = None
    fac.loc[is_park, "entrance_of"] = "P" + fac.loc[is_park, "id"].str.extract(r"PK-(\d+)", expand=False)
    known = set(parks["id"].astype(str))
    fac.loc[is_park & ~fac["entrance_of"].isin(known), "entrance_of"] = None
    import geopandas as gpd

    return gpd.GeoDataFrame(pd.concat([fac, parks], ignore_index=True), geometry="geometry", crs="EPSG:4326")


# ------------------------------------------------------------------ evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    """Run ``lifecircle evaluate``."""
    from lifecircle.geo import evaluate as ev_mod

    rep = Reporter(args.quiet)
    check_output(args.out, "--out", (".geojson", ".json"))
    check_output(args.summary, "--summary", (".json",))
    check_output(args.ledger, "--ledger", (".xlsx", ".csv", ".geojson"))
    check_output(args.report, "--report", (".html", ".pdf"))
    check_positive(args, "--snap-limit", "metres from a walkable street", allow_zero=True)
    check_positive(args, "--touch", "metres from a polygon facility", allow_zero=True, upper=200.0)
    std = ev_mod.load_standard(args.standard)
    registry = pack_registry(std, args.kinds)
    inputs = scenario_inputs(args, rep)  # --scenario P.toml:NAME: the project's files, the scenario applied
    if args.facilities:
        facilities = [read_facilities(p, registry, args.crs) for p in args.facilities]
    elif (entry := project_entry(inputs, "facilities")) is not None:
        facilities = [read_facilities(entry["path"], registry, entry["crs"])]
    elif args.demo:
        facilities = [_demo_facilities(inputs.demo)]
    else:
        raise UsageError("give --facilities FILE (once per file), or --demo")
    facilities = apply_scenario(inputs, facilities)
    demand = inputs.demand()
    units = inputs.units()
    candidates = None
    if args.candidates:
        from lifecircle.geo import io

        candidates = io.read_points(args.candidates, role="candidates", crs=args.crs)
    net = inputs.network()
    cohorts = [c.strip() for c in args.cohorts.split(",") if c.strip()] if args.cohorts else None
    if cohorts is not None and not cohorts:
        raise UsageError("--cohorts names no cohort")
    try:
        ev = ev_mod.evaluate(
            net,
            facilities,
            demand,
            std,
            units=units,
            candidates=candidates,
            cohorts=cohorts,
            touch_m=args.touch,
            snap_limit_m=args.snap_limit,
        )
    except ev_mod.packs.StandardError:
        raise
    summary = ev.summary()
    summary["network"] = net.name or net.source
    frame = ev.to_geodataframe()
    ledger = ev.ledger(lang=args.lang, remedies=not args.no_remedies) if (args.ledger or args.report) else None
    meta = {
        "standard": summary["standard"]["name"],
        "version": summary["standard"]["version"],
        "verified": summary["standard"]["verified"],
        "tiers_m": summary["tiers"],
    }
    with Outputs() as out:
        out.geojson(frame, args.out, out_crs=args.out_crs, metadata=meta)
        if args.summary:
            out.json(summary, args.summary)
        if args.ledger:
            if args.ledger.lower().endswith(".geojson"):
                out.geojson(_ledger_geo(ev, ledger, units), args.ledger, out_crs=args.out_crs, metadata=meta)
            else:
                out.table(ledger, args.ledger)
        if args.report:
            from lifecircle.geo.atomic import atomic_path

            with atomic_path(args.report) as tmp:
                if args.report.lower().endswith(".pdf"):  # the A4 landscape report, printed by headless Chromium
                    from lifecircle.layers import a4report

                    doc = a4report.from_evaluation(
                        ev,
                        title=f"{std.title or std.name} · 完整生活圈评估",
                        sources=[str(summary.get("network", ""))],
                        facilities=facilities[0] if len(facilities) == 1 else None,
                        units=units,
                        ledger=ledger,
                        lang=args.lang,
                        is_demo=bool(args.demo),
                    )
                    tmp.write_bytes(a4report.html_to_pdf(a4report.a4_html(doc)))
                else:
                    tmp.write_text(_report_html(summary, ledger, ev), encoding="utf-8")
            out.written.append(args.report)
    _headline(rep, summary, ev)
    rep.note("wrote " + ", ".join(str(p) for p in out.written))
    return 0


def _ledger_geo(ev, ledger, units):
    """The ledger as GeoJSON: each row on its 社区's polygon (or the demand unit's geometry)."""
    import geopandas as gpd

    first = ledger.columns[0]
    if units is not None:
        key = (units["name"] if "name" in units else units["id"]).astype(str)
        geoms = dict(zip(key, units.geometry))
    else:
        key = (ev.demand["name"] if "name" in ev.demand else ev.demand["id"]).astype(str)
        geoms = dict(zip(key, ev.demand.geometry))
    return gpd.GeoDataFrame(ledger.copy(), geometry=[geoms.get(u) for u in ledger[first]], crs="EPSG:4326")


def _headline(rep: Reporter, summary: dict, ev) -> None:
    s = summary["standard"]
    rep.note(
        f"standard {s['name']} {s['version']}"
        + (
            ""
            if s["verified"]
            else f"  (UNVERIFIED: {len(s['unverified'])} values not checked against the published text)"
        )
    )
    rep.note(f"demand {summary['total_weight']:,.0f} (unreachable {summary['unreachable_weight']:,.0f})")
    for t, c in summary["complete"].items():
        rep.note(f"  complete {t:<12} {c['share']:6.1%}  ({c['weight']:,.0f})")
    for key, per in summary["cohorts"].items():
        cells = "  ".join(f"{t}: {v['share']:5.1%}" for t, v in per.items() if isinstance(v, dict))
        rep.note(f"  cohort {key:<10} {cells}")
    if summary.get("cohorts_skipped"):
        rep.note(f"  cohorts without a demand column (skipped): {', '.join(summary['cohorts_skipped'])}")


def _report_html(summary: dict, ledger, ev) -> str:
    s = summary["standard"]
    esc = html.escape
    parts = [
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>",
        f"<title>{esc(s['name'])} 生活圈评估</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px}.warn{color:#b00}</style></head><body>",
        f"<h1>{esc(s['title'] or s['name'])} ({esc(s['version'])})</h1>",
        f"<p>{esc(s['source'])}</p>",
    ]
    if not s["verified"]:
        parts.append(
            "<p class='warn'><b>未核实 / unverified:</b> these values were not checked against the "
            "published text:</p><ul>" + "".join(f"<li>{esc(u)}</li>" for u in s["unverified"]) + "</ul>"
        )
    parts.append(
        f"<p>人口 demand: {summary['total_weight']:,.0f}</p><h2>完整生活圈 complete circles</h2><table>"
        "<tr><th>tier</th><th>m</th><th>weight</th><th>share</th></tr>"
    )
    for t, c in summary["complete"].items():
        parts.append(
            f"<tr><td>{esc(t)}</td><td>{summary['tiers'][t]:g}</td><td>{c['weight']:,.0f}</td>"
            f"<td>{c['share']:.1%}</td></tr>"
        )
    parts.append("</table><h2>设施 kinds</h2><table><tr><th>kind</th><th>tier</th><th>share</th></tr>")
    for k, per in summary["kinds"].items():
        for t, c in per.items():
            parts.append(f"<tr><td>{esc(k)}</td><td>{esc(t)}</td><td>{c['share']:.1%}</td></tr>")
    parts.append("</table>")
    if ledger is not None:
        parts.append(f"<h2>问题台账 gap ledger ({len(ledger)} rows)</h2>")
        parts.append(ledger.to_html(index=False, escape=True, na_rep=""))
    parts.append("</body></html>")
    return "\n".join(parts)


# ------------------------------------------------------------------ standards
def cmd_standards(args: argparse.Namespace) -> int:
    """Run ``lifecircle standards``: list the packs, or print one."""
    from lifecircle.geo import evaluate as ev_mod

    if not args.name:
        packs = ev_mod.list_standards()
        if args.json:
            print(json.dumps(packs, ensure_ascii=False, indent=2))
            return 0
        for p in packs:
            flag = "verified" if p["verified"] else "UNVERIFIED values"
            default = "  (default)" if p["name"] == settings.DEFAULT_STANDARD else ""
            print(f"{p['name']:<22} {p['version']:<10} {flag:<18} {p['title']}{default}")
        return 0
    s = ev_mod.load_standard(args.name)
    if args.json:
        data = {
            "name": s.name,
            "version": s.version,
            "title": s.title,
            "source": s.source,
            "verified": s.verified,
            "speed_m_per_min": s.speed_m_per_min,
            "tiers": [
                {
                    "key": t.key,
                    "metres": t.metres,
                    "label_zh": t.label_zh,
                    "clause": t.clause,
                    "verified": t.verified,
                    "rules": [
                        {
                            "kind": r.kind,
                            "metres": r.metres,
                            "condition": r.condition.text if r.condition else None,
                            "required": r.required,
                            "clause": r.clause,
                            "source": r.source,
                            "verified": r.verified,
                        }
                        for r in t.rules
                    ],
                }
                for t in s.tiers
            ],
            "cohorts": [
                {
                    "key": c.key,
                    "column": c.column,
                    "speed_m_per_min": c.speed_m_per_min,
                    "kinds": list(c.kinds),
                    "verified": c.verified,
                }
                for c in s.cohorts
            ],
            "unverified": s.unverified(),
        }
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    w = sys.stdout.write
    w(f"{s.name} {s.version}: {s.title}\nsource: {s.source}\n")
    w(f"verified: {'yes' if s.verified else 'NO (values marked * are not checked against the published text)'}\n")
    for t in s.tiers:
        w(f"\n[{t.key}] {t.label_zh or ''} {t.metres:g} m{'' if t.verified else ' *'}  {t.clause}\n")
        for r in t.rules:
            cond = f" if {r.condition.text}" if r.condition else ""
            req = "required" if r.required else "optional"
            w(
                f"  {r.kind:<16} {r.metres:>6g} m{cond}  {req}{'' if r.verified else ' *'}  {r.clause if r.clause != t.clause else ''}\n"
            )
    for c in s.cohorts:
        speed = f", {c.speed_m_per_min:g} m/min" if c.speed_m_per_min else ""
        w(f"\ncohort {c.key} (column {c.column}{speed}): {', '.join(c.kinds) or 'all kinds'}\n")
    return 0
