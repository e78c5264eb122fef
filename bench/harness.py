"""``python -m bench``: lifecircle beside networkx, osmnx, pandana, scipy and spopt, in one run.

Usage::

    python -m bench --quick            # a few minutes: 50k-node network, smaller counts
    python -m bench --full             # the whole table: 200k nodes, 1,000 x 100,000 (about 30 min)
    python -m bench --full --readme README.md   # also refresh README's bench block

It writes ``bench/results/latest.json`` and ``bench/results/latest.md``
(``--out DIR`` elsewhere), prints the Markdown table, and exits 1 when any
answer disagrees with an anchor's (a fast wrong answer is a failure), else 0
(a missed speed target is reported as MISS, not an error).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import sys
import time
from importlib import metadata
from pathlib import Path

from . import sections
from .common import Section, log

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
FUTIAN = (
    Path(os.environ.get("LIFECIRCLE_SHARED_DATA", ROOT.parent / "shared" / "data"))
    / "transbigdata"
    / "futian_sw_osmnx_G.graphml"
)
ALL_SECTIONS = ("coverage", "areas", "whatif", "memory", "futian", "growth", "siting", "parking", "city")
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"
VERSIONED = ("numpy", "scipy", "shapely", "networkx", "osmnx", "pandana", "spopt", "PuLP", "highspy", "geopandas")


# ------------------------------------------------------------------ machine
def machine_info() -> dict:
    """Cores, memory and CPU model of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    if mem is None:
        try:
            mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            mem = None
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 2**30, 1) if mem else None,
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }


def versions() -> dict:
    out = {}
    for name in VERSIONED + ("lifecircle",):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# ------------------------------------------------------------------ run
def build_config(args: argparse.Namespace) -> sections.Config:
    mode = "tiny" if args.tiny else ("quick" if args.quick else "full")
    params = dict(sections.MODES[mode])
    if args.nodes:
        params["nodes"] = args.nodes
    if args.repeats:
        params["cov_repeats"] = args.repeats
        params["area_repeats"] = max(2, min(args.repeats, params["area_repeats"]))
    chosen = tuple(s.strip() for s in args.sections.split(",")) if args.sections else ALL_SECTIONS
    unknown = [s for s in chosen if s not in ALL_SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(ALL_SECTIONS)}")
    if args.no_profile:
        params["profile"] = False
    return sections.Config(mode=mode, sections=chosen, **params)


def run(cfg: sections.Config) -> list[Section]:
    """Run the chosen sections in order; a section that crashes is recorded as FAILED."""
    done: list[Section] = []
    main = None
    needs_main = {"coverage", "areas", "whatif", "memory"} & set(cfg.sections)
    if needs_main:
        log(f"building the synthetic network ({cfg.nodes:,} nodes) ...")
        main = sections.make_scenario(cfg.nodes, cfg.n_fac, cfg.n_dem, cfg.seed)
        log(f"  {main.net} in {main.build_s:.1f} s")
    steps = {
        "coverage": lambda: sections.coverage_section(main, cfg),
        "areas": lambda: sections.areas_section(main, cfg),
        "whatif": lambda: sections.whatif_section(main, cfg),
        "memory": lambda: sections.memory_section(main, cfg),
        "futian": lambda: sections.futian_section(cfg, FUTIAN),
        "growth": lambda: sections.growth_section(cfg, main),
        "siting": lambda: _external("siting", cfg.quick),
        "parking": lambda: _external("parking", cfg.quick),
        "city": lambda: _external("city", cfg.quick),
    }
    for name in ALL_SECTIONS:
        if name not in cfg.sections:
            continue
        started = time.perf_counter()
        try:
            sec = steps[name]()
        except Exception as exc:  # noqa: BLE001 - the run goes on; the section is FAILED
            import traceback

            sec = Section(name)
            sec.check(
                f"{name} section runs", False, f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=6)
            )
        sec.info["section_s"] = round(time.perf_counter() - started, 1)
        log(f"{name}: done in {sec.info['section_s']} s")
        done.append(sec)
    return done


def _external(name: str, quick: bool) -> Section:
    from . import external

    if name == "city":
        return external.city_section(quick)
    return external.siting_section(quick) if name == "siting" else external.parking_section(quick)


# ------------------------------------------------------------------ report
def _fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def _fmt_ratio(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}x"


def results_dict(
    cfg: sections.Config, done: list[Section], started: float, argv: list[str], machine: dict | None = None
) -> dict:
    targets = [t.to_dict() for s in done for t in s.targets]
    failed = [dict(section=s.name, **c) for s in done for c in s.checks if not c["ok"]]
    failed_rows = [r.to_dict() for s in done for r in s.rows if r.agree is False]
    ok = not failed and not failed_rows and not any(t["status"] == "FAILED" for t in targets)
    res = {
        "schema": "lifecircle-bench/1",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": "python -m bench " + " ".join(argv),
        "mode": cfg.mode,
        "config": dataclasses.asdict(cfg),
        "machine": machine or machine_info(),
        "versions": versions(),
        "elapsed_s": round(time.perf_counter() - started, 1),
        "ok": ok,
        "sections": {s.name: s.to_dict() for s in done},
        "targets": targets,
        "failed_checks": failed,
        "notes": [],
    }
    _busy_note(res)
    return res


def markdown(res: dict) -> str:
    m, v, cfg = res["machine"], res["versions"], res["config"]
    vers = ", ".join(f"{k} {val}" for k, val in v.items() if val and k != "lifecircle")
    cov = res["sections"].get("coverage", {}).get("info", {})
    lines = [
        f"Benchmarks of lifecircle {v.get('lifecircle') or ''} against networkx, osmnx, pandana, scipy and spopt, "
        f"run on {res['date']} with `{res['command'].strip()}` ({res['elapsed_s'] / 60:.0f} min).",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}, {m['os']}; 1/5/15-min load average "
        f"{m['load_average_at_start']} at the start, {m.get('load_average_at_end')} at the end. Python {m['python']}; {vers}.",
        "",
    ]
    if cov:
        lines += [
            f"Synthetic street grid of {cov['nodes']:,} nodes and {cov['edges']:,} edges (seed {cfg['seed']}), "
            f"{cov['facilities']:,} facilities, {cov['demand']:,} demand points, tiers "
            f"{', '.join(f'{t:g}' for t in cfg['tiers'])} m. Each time is the median of the runs shown; "
            "**faster by** is the median, over rounds run interleaved in one process, of the other tool's time "
            "divided by lifecircle's (below 1: lifecircle is slower). Anchors place points at nodes so every tool "
            "answers the same question; every answer was checked against networkx (distances within 0.5 m, the same "
            "covered population) before any time was kept.",
            "",
        ]
    lines += ["| Task | Tool | Median | Runs | lifecircle faster by | Agrees | Note |", "|---|---|---|---|---|---|---|"]
    for sec in res["sections"].values():
        last_task = None
        for r in sec["rows"]:
            task = r["task"] if r["task"] != last_task else ""
            last_task = r["task"]
            agree = {True: "yes", False: "**FAILED**", None: "-"}[r["agree"]]
            note = r["note"].replace("|", "/")
            lines.append(
                f"| {task} | {r['tool']} | {_fmt_s(r['median_s'])} | {r['runs']} | {_fmt_ratio(r['ratio'])} | {agree} | {note} |"
            )
    lines += ["", "| Target | Measured | Goal | Result |", "|---|---|---|---|"]
    for t in res["targets"]:
        result = f"**{t['status']}**" if t["status"] in ("MISS", "FAILED") else t["status"]
        lines.append(f"| {t['name']} | {t['measured']} | {t['goal']} | {result} |")
    n_checks = sum(len(s["checks"]) for s in res["sections"].values())
    n_bad = len(res["failed_checks"])
    lines += [
        "",
        f"Agreement checks: {n_checks - n_bad} of {n_checks} passed."
        + (
            ""
            if not n_bad
            else " FAILED: " + "; ".join(f"{c['section']}: {c['name']} ({c['detail']})" for c in res["failed_checks"])
        ),
    ]
    notes = [n for s in res["sections"].values() for n in s["notes"]] + list(res.get("notes", []))
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _busy_note(res: dict) -> None:
    """Record the load at the end and warn when the machine was busier than its cores."""
    try:
        end = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return
    m = res["machine"]
    m["load_average_at_end"] = end
    peak = max((m.get("load_average_at_start") or [0])[0], end[0])
    if m.get("cores") and peak > m["cores"]:
        res.setdefault("notes", []).append(
            f"The machine was busy during this run (1-minute load average up to {peak:.1f} on {m['cores']} cores): "
            "absolute times are inflated and noisy; the ratios compare runs interleaved in the same process, so "
            "they are the figures to read."
        )


def targets_text(res: dict) -> str:
    return "\n".join(f"{t['status']:6s} {t['name']}: {t['measured']} (goal {t['goal']})" for t in res["targets"])


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def update_readme(readme: Path, md: str) -> bool:
    """Replace the text between the bench markers of ``readme``; False when they are absent."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(MARK_START) + r".*?" + re.escape(MARK_END), re.S)
    if not pattern.search(text):
        return False
    new = pattern.sub(lambda _: f"{MARK_START}\n{md}{MARK_END}", text, count=1)
    _atomic_write(readme, new)
    return True


def write_results(res: dict, out: Path) -> tuple[Path, Path]:
    js, md_path = out / "latest.json", out / "latest.md"
    _atomic_write(js, json.dumps(res, indent=1, ensure_ascii=False, default=str) + "\n")
    _atomic_write(md_path, markdown(res))
    return js, md_path


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a few minutes: 50k nodes, 250 x 25,000")
    size.add_argument("--full", action="store_true", help="the whole table (default): 200k nodes, 1,000 x 100,000")
    size.add_argument("--tiny", action="store_true", help="seconds: a smoke run for the tests")
    parser.add_argument("--sections", help=f"comma-separated subset of {','.join(ALL_SECTIONS)}")
    parser.add_argument("--nodes", type=int, help="override the network size")
    parser.add_argument("--repeats", type=int, help="override the number of interleaved rounds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for latest.json and latest.md")
    parser.add_argument(
        "--readme", type=Path, help=f"replace the block between {MARK_START} and {MARK_END} in this file"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the profiling of missed targets")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    cfg = build_config(args)
    started = time.perf_counter()
    machine = machine_info()
    done = run(cfg)
    res = results_dict(cfg, done, started, argv, machine)
    js, md_path = write_results(res, args.out)
    print(markdown(res))
    print(targets_text(res))
    print(f"\nwrote {js} and {md_path}")
    if args.readme:
        if update_readme(args.readme, markdown(res)):
            print(f"updated the bench block of {args.readme}")
        else:
            print(f"{args.readme} has no {MARK_START} ... {MARK_END} block: left unchanged")
    if not res["ok"]:
        print("FAILED: some answers disagree with the anchors (see above); exit 1", file=sys.stderr)
        return 1
    return 0
