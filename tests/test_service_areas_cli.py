"""``lifecircle areas --workers``: the one-process figure of the city bench, and its bad values."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _areas(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "lifecircle", "areas", "--demo", "--tiers", "300", "--out", "a.geojson", *extra]
    return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("value", ["0", "-2"])
def test_workers_below_one_is_refused_before_any_work(tmp_path, value):
    done = _areas(tmp_path, "--workers", value)
    assert done.returncode == 2
    assert "--workers" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "a.geojson").exists()


def test_one_and_two_workers_write_the_same_areas(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    assert _areas(one, "--workers", "1", "-q").returncode == 0
    assert _areas(two, "--workers", "2", "-q").returncode == 0
    a = json.loads((one / "a.geojson").read_text(encoding="utf-8"))["features"]
    b = json.loads((two / "a.geojson").read_text(encoding="utf-8"))["features"]
    assert len(a) == len(b) > 0
    assert [f["properties"] for f in a] == [f["properties"] for f in b]
