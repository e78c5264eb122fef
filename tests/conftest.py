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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` keep an ``xdist_group`` on one worker under pytest 9.

    pytest-xdist 3.8 groups a test by appending ``@group`` to ``item._nodeid``, which pytest 9 no
    longer reads (``Node.nodeid`` is ``str(item._id)``): every group was silently spread over both
    workers, and the scenario tests that reopen the first one's saved scenario skipped whenever they
    landed on the other worker. Appended here the way pytest 9 reads it (a no-op once xdist does).
    """
    if not getattr(config.option, "loadgroup", False):  # set by xdist on its workers only
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        names = {
            str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")
        }
        if names and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(sorted(names))}")
