"""Siting and parking benchmarks written beside this harness (bench/bench_siting.py, bench/bench_parking.py).

Each module has ``run(quick: bool) -> list[dict]``, one dict per case and tool
with at least ``case``, ``tool`` and ``seconds``; siting rows carry
``same_optimum``, parking rows ``same_result`` and ``optimal``.  A module
that raises (they raise when lifecircle's answer differs from the anchor's)
makes its section FAILED.  Both time each tool once per case.
"""

from __future__ import annotations

import importlib
import traceback
from pathlib import Path

from .common import Row, Section, Target, log

HERE = Path(__file__).resolve().parent


def _load(module: str):
    if not (HERE / f"{module}.py").exists():
        return None
    return importlib.import_module(f"bench.{module}")


def _rows(section: Section, name: str, raw: list[dict], agree_key: str) -> dict[str, dict[str, dict]]:
    """Rows of the table from the module's dicts; returns {case: {tool: dict}}."""
    by_case: dict[str, dict[str, dict]] = {}
    for r in raw:
        by_case.setdefault(str(r.get("case", "")), {})[str(r.get("tool", "?"))] = r
    for case, tools in by_case.items():
        ours = next((t for t in tools if t.startswith("lifecircle")), None)
        comparable = all(r.get("optimal", True) for t, r in tools.items() if "greedy" not in t)
        for tool, r in tools.items():
            agree = r.get(agree_key)
            note_bits = []
            if agree is False and not comparable:
                agree = None
                note_bits.append("a solver stopped at its time limit without proving optimality: not compared")
            for key in (
                "objective",
                "matched",
                "total_walk_m",
                "optimal",
                "gap_to_optimum_pct",
                "build_s",
                "solve_s",
                "cover_s",
                "pairs",
            ):
                if key in r:
                    note_bits.append(f"{key} {r[key]}")
            ratio = None
            if ours and not tool.startswith("lifecircle") and r.get("seconds") and tools[ours].get("seconds"):
                ratio = float(r["seconds"]) / float(tools[ours]["seconds"])
            section.rows.append(
                Row(
                    section=name,
                    task=f"{name}: {case}",
                    tool=tool,
                    median_s=float(r["seconds"]) if r.get("seconds") is not None else None,
                    runs=1,
                    times_s=[float(r["seconds"])] if r.get("seconds") is not None else [],
                    ratio=ratio,
                    ratio_to=ours if ratio is not None else "",
                    agree=None if agree is None else bool(agree),
                    note="; ".join(note_bits),
                    extra=dict(r),
                )
            )
            if agree is False:
                section.check(f"{name} {case}: {tool} agrees", False, "the module reports a different result")
    return by_case


def _run_module(s: Section, name: str, quick: bool, agreement: str) -> list[dict] | None:
    """Import bench/<name>.py and return its ``run(quick)`` rows; None (noted in ``s``) when it
    is missing, fails to import or fails to run."""
    try:
        mod = _load(name)
    except Exception as exc:  # noqa: BLE001 - an import error is reported, not raised
        s.check(f"{name} imports", False, f"{type(exc).__name__}: {exc}")
        return None
    if mod is None:
        s.notes.append(f"bench/{name}.py is not there yet: {s.name} skipped.")
        return None
    log(f"{s.name}: {name}.run ...")
    try:
        return mod.run(quick)
    except Exception as exc:  # noqa: BLE001
        s.check(
            f"{name}.run completes with {agreement}",
            False,
            f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(limit=3),
        )
        return None


def siting_section(quick: bool) -> Section:
    s = Section("siting")
    raw = _run_module(s, "bench_siting", quick, "agreeing optima")
    if raw is None:
        failed = any(not c["ok"] for c in s.checks)
        s.targets.append(
            Target(
                "exact siting >= 10x faster than spopt+CBC",
                "no result" if failed else "not measured",
                ">= 10x",
                "FAILED" if failed else "SKIP",
            )
        )
        return s
    by_case = _rows(s, "siting", raw, "same_optimum")
    s.check(
        "siting: lifecircle exact optimum = spopt+CBC optimum in every case",
        all(r.get("same_optimum") for r in raw),
        f"{len(by_case)} cases",
    )
    s.notes.append(
        "Siting rows come from bench/bench_siting.py: one run per tool and case (not interleaved); "
        "spopt's time is its model build plus CBC's solve; all tools share lifecircle's covering pairs."
    )
    # targets on the largest case
    case = max(
        by_case, key=lambda c: max(int(r.get("demand", 0)) * int(r.get("candidates", 0)) for r in by_case[c].values())
    )
    tools = by_case[case]
    exact = next((r for t, r in tools.items() if "exact" in t), None)
    spopt = next((r for t, r in tools.items() if "spopt" in t), None)
    greedy = next((r for t, r in tools.items() if "greedy" in t), None)
    ok = all(r.get("same_optimum") for r in raw)
    if exact and spopt:
        ratio = float(spopt["seconds"]) / float(exact["seconds"])
        s.targets.append(
            Target(
                "exact siting >= 10x faster than spopt+CBC",
                f"{ratio:.1f}x ({case})",
                ">= 10x",
                "FAILED" if not ok else ("PASS" if ratio >= 10 else "MISS"),
                ratio,
            )
        )
    if greedy:
        secs, gap = float(greedy["seconds"]), float(greedy.get("gap_to_optimum_pct", 100.0))
        s.targets.append(
            Target(
                "greedy+swap siting < 1 s within 1% of the optimum (issue 4)",
                f"{secs:.2f} s, {gap:.2f}% below ({case})",
                "< 1 s, <= 1%",
                "FAILED" if not ok else ("PASS" if secs < 1 and gap <= 1 else "MISS"),
                secs,
            )
        )
    return s


def parking_section(quick: bool) -> Section:
    s = Section("parking")
    raw = _run_module(s, "bench_parking", quick, "agreeing results")
    if raw is None:
        return s
    by_case = _rows(s, "parking", raw, "same_result")
    s.notes.append(
        "Parking rows come from bench/bench_parking.py: one run per tool and case (not interleaved), "
        "after the walking distances are known; cars placed and total walk are checked equal to PuLP/CBC's."
    )
    for case, tools in by_case.items():
        ours = next((r for t, r in tools.items() if t.startswith("lifecircle")), None)
        if ours is None:
            continue
        goal = 60.0 if "varied" in case else 5.0
        if not quick:
            secs = float(ours["seconds"])
            agree = ours.get("same_result")
            comparable = all(r.get("optimal", True) for r in tools.values())
            status = "FAILED" if agree is False and comparable else ("PASS" if secs < goal else "MISS")
            s.targets.append(
                Target(
                    f"parking, {case}, {ours.get('compounds')} x {ours.get('lots')}: < {goal:g} s (issue 5)",
                    f"{secs:.2f} s",
                    f"< {goal:g} s",
                    status,
                    secs,
                )
            )
    return s


def city_section(quick: bool) -> Section:
    """Issue 15's command-line rows (bench/bench_city.py): coverage, parking and the network build at city size."""
    s = Section("city")
    try:
        from . import bench_city

        log("city: bench_city.run ...")
        raw = bench_city.run(quick, only=("coverage", "parking", "network"))
    except Exception as exc:  # noqa: BLE001 - a disagreement or crash marks the section FAILED
        s.check(
            "city rows run and agree with their references",
            False,
            f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(limit=3),
        )
        return s
    by_case: dict[str, list[dict]] = {}
    for r in raw:
        by_case.setdefault(r["case"], []).append(r)
    for case, rows in by_case.items():
        ours = next((r for r in rows if r["tool"].startswith("lifecircle")), None)
        for r in rows:
            ratio = None
            if ours is not None and r is not ours and r.get("seconds") and ours.get("seconds"):
                ratio = float(r["seconds"]) / float(ours["seconds"])
            note = "; ".join(
                f"{k} {r[k]}"
                for k in (
                    "peak_rss_mib",
                    "floor_s",
                    "ratio_to_floor",
                    "within_0_5m",
                    "pairs",
                    "matched",
                    "checked_by",
                    "nodes",
                )
                if k in r
            )
            s.rows.append(
                Row(
                    section="city",
                    task=f"city: {case}",
                    tool=r["tool"],
                    median_s=r.get("seconds"),
                    runs=len(r.get("times_s", [1])),
                    times_s=r.get("times_s", []),
                    ratio=ratio,
                    ratio_to=ours["tool"] if ratio is not None and ours else "",
                    agree=bool(r.get("same_result", True)),
                    note=note,
                    extra=dict(r),
                )
            )
    s.check(
        "city: every row agrees with its reference", all(r.get("same_result", True) for r in raw), f"{len(raw)} rows"
    )
    if quick:
        return s
    for case, rows in by_case.items():
        ours = next((r for r in rows if r["tool"].startswith("lifecircle")), None)
        if ours is None:
            continue
        secs, mib = float(ours["seconds"]), float(ours.get("peak_rss_mib", 0) or 0)
        if case == "coverage":
            s.targets.append(
                Target(
                    "city coverage 1M residents < 8 s and < 1.5 GB (issue 15)",
                    f"{secs:.1f} s, {mib:.0f} MiB",
                    "< 8 s, < 1536 MiB",
                    "PASS" if secs < 8 and mib < 1536 else "MISS",
                    secs,
                )
            )
        elif case.startswith("parking"):
            s.targets.append(
                Target(
                    f"city {case} < 10 s (issue 15)", f"{secs:.1f} s", "< 10 s", "PASS" if secs < 10 else "MISS", secs
                )
            )
        elif case.startswith("network") and "osmnx_s" in ours:
            ratio = float(ours["osmnx_s"]) / secs
            s.targets.append(
                Target(
                    "network build >= 4x osmnx (issue 15)",
                    f"{ratio:.1f}x ({case})",
                    ">= 4x",
                    "PASS" if ratio >= 4 else "MISS",
                    ratio,
                )
            )
        elif case.startswith("network"):
            s.targets.append(
                Target(
                    f"{case} < 30 s and < 1.5 GB (issue 15)",
                    f"{secs:.1f} s, {mib:.0f} MiB",
                    "< 30 s, < 1536 MiB",
                    "PASS" if secs < 30 and mib < 1536 else "MISS",
                    secs,
                )
            )
    return s
