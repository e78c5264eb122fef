"""Smoke tests of the benchmark harness (bench/) at a tiny size: it runs, checks, and reports.

The timings themselves are not tested (they belong to ``python -m bench``);
these tests check that the harness agrees with its anchors, writes the
latest.json / latest.md structure, refreshes a README block, and turns a
wrong answer into a FAILED run with a non-zero exit.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("networkx")

from bench import harness  # noqa: E402

pytestmark = pytest.mark.slow

STATUSES = {"PASS", "MISS", "SKIP", "FAILED"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    code = harness.main(
        ["--tiny", "--no-profile", "--sections", "coverage,areas,whatif,memory,growth", "--out", str(out)]
    )
    return code, out


def test_tiny_run_agrees_with_the_anchors(tiny_run):
    code, out = tiny_run
    res = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    assert code == 0, res["failed_checks"]
    assert res["ok"] is True
    assert res["failed_checks"] == []
    checks = [c for s in res["sections"].values() for c in s["checks"]]
    assert len(checks) >= 10 and all(c["ok"] for c in checks)
    names = " ".join(c["name"] for c in checks)
    assert "networkx" in names and "covered population" in names


def test_latest_json_structure(tiny_run):
    _, out = tiny_run
    res = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    assert res["schema"] == "lifecircle-bench/1"
    assert res["mode"] == "tiny"
    assert res["machine"]["cores"] >= 1 and res["machine"]["cpu"]
    assert res["versions"]["networkx"] and res["versions"]["scipy"]
    assert set(res["sections"]) == {"coverage", "areas", "whatif", "memory", "growth"}
    for sec in res["sections"].values():
        for row in sec["rows"]:
            assert {"task", "tool", "median_s", "runs", "ratio", "agree", "note"} <= set(row)
    cov = {r["tool"]: r for r in res["sections"]["coverage"]["rows"]}
    ours = cov["lifecircle reach.nearest_distances (points snapped beforehand)"]
    nx_row = cov["networkx multi_source_dijkstra_path_length"]
    assert ours["runs"] == 2 and ours["median_s"] > 0
    assert nx_row["ratio"] > 0 and nx_row["agree"] is True
    targets = {t["name"]: t for t in res["targets"]}
    assert {t["status"] for t in targets.values()} <= STATUSES
    for key in (
        "coverage >= 40x faster than networkx",
        "coverage within 1.5x of raw scipy",
        "service areas >= 10x faster than the osmnx recipe",
        "what-if of one added station < 100 ms",
        "network >= 5x smaller in memory than the networkx graph",
    ):
        assert targets[key]["status"] in {"PASS", "MISS"}, targets[key]
    exps = res["sections"]["growth"]["info"]["exponents"]
    assert set(exps) == {"ours_cov", "nx_cov", "ours_areas", "osmnx_areas"}
    md = (out / "latest.md").read_text(encoding="utf-8")
    assert "| Task | Tool | Median |" in md and "| Target | Measured | Goal | Result |" in md
    assert f"{res['machine']['cores']} cores" in md


def test_readme_block_is_replaced(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nbefore\n<!-- bench:start -->\nold table\n<!-- bench:end -->\nafter\n", encoding="utf-8")
    assert harness.update_readme(readme, "| new | table |\n")
    text = readme.read_text(encoding="utf-8")
    assert "old table" not in text and "| new | table |" in text
    assert text.startswith("# x\n\nbefore\n<!-- bench:start -->\n") and text.endswith("<!-- bench:end -->\nafter\n")
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n", encoding="utf-8")
    assert not harness.update_readme(plain, "| t |\n")
    assert plain.read_text(encoding="utf-8") == "no markers\n"


def test_a_wrong_answer_fails_the_run(tmp_path, monkeypatch):
    """A fast but wrong nearest_distances is FAILED, with a non-zero exit."""
    from geo import reach

    right = reach.nearest_distances

    def wrong(*args, **kwargs):
        return right(*args, **kwargs) + 5.0  # 5 m off: beyond the 0.5 m tolerance

    monkeypatch.setattr(reach, "nearest_distances", wrong)
    code = harness.main(["--tiny", "--no-profile", "--sections", "coverage", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert code == 1 and res["ok"] is False
    targets = {t["name"]: t["status"] for t in res["targets"]}
    assert targets["coverage >= 40x faster than networkx"] == "FAILED"
    assert "**FAILED**" in (tmp_path / "latest.md").read_text(encoding="utf-8")


def test_agreement_helpers():
    from bench.common import coverage_agrees, distances_agree, loglog_slope

    a = np.array([0.0, 10.0, 999.8, np.inf, 400.0])
    b = np.array([0.2, 10.4, 1000.1, np.inf, 400.0])
    assert distances_agree(a, b, 1000.0)[0]  # 999.8 vs 1000.1 (beyond the limit) agree at the edge
    assert not distances_agree(a, b + 1.0, 1000.0)[0]
    ok, detail = coverage_agrees(a, b, np.ones(5), (300.0, 1000.0))
    assert ok and detail["1000"]["disagreeing_points"] == 0
    assert abs(loglog_slope([1e4, 1e5, 1e6], [1.0, 10.0, 100.0]) - 1.0) < 1e-9
