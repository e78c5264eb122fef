"""Shared fixtures: where the real Shenzhen data lives, and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LIFECIRCLE_SHARED_DATA", ROOT.parent / "shared" / "data"))
FUTIAN_GRAPHML = SHARED_DATA / "transbigdata" / "futian_sw_osmnx_G.graphml"


def shared_file(relative: str) -> Path:
    """Return a file of ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real Shenzhen data not found at {path} (../shared/data is read in place, never copied)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep network caches of the test run out of the user's ~/.cache."""
    os.environ["LIFECIRCLE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield


@pytest.fixture(scope="session")
def futian_graphml() -> Path:
    return shared_file("transbigdata/futian_sw_osmnx_G.graphml")


@pytest.fixture(scope="session")
def futian_net(futian_graphml):
    from geo import network

    return network.load_network(futian_graphml, use_cache=False)
