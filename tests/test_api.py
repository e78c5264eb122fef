"""The curated public API: ``__all__`` everywhere, one ``lifecircle`` namespace, the newcomer's session.

Independent references: the module list comes from the folders on disk (not from any registry
in the code), the package list from ``pyproject.toml`` read with :mod:`tomllib`, reachability
of facilities from shapely distances to the network's edge lines, the demo's population from
its demand frame.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely

ROOT = Path(__file__).resolve().parent.parent
TOP = ("geo", "layers", "apps")


def _public_modules() -> list[str]:
    """Dotted ``lifecircle.*`` names of every public module under geo/, layers/, apps/.

    A module is internal when any part of its path starts with an underscore (``__init__``
    stands for its package and is public).
    """
    names = []
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if "static" in parts or any(p.startswith("_") and p != "__init__" for p in parts):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append("lifecircle." + ".".join(parts))
    return names


PUBLIC = _public_modules()


def test_public_modules_are_found():
    """The walk sees the packages and a few known modules (guards the test itself)."""
    for name in (
        "lifecircle.geo",
        "lifecircle.geo.reach",
        "lifecircle.geo.network",
        "lifecircle.layers.style",
        "lifecircle.apps.cli",
        "lifecircle.apps.web.app",
    ):
        assert name in PUBLIC
    assert not any(part.startswith("_") and part != "__init__" for name in PUBLIC for part in name.split("."))


@pytest.mark.parametrize("name", PUBLIC)
def test_public_module_defines_all(name):
    """Every public module lists its API in ``__all__`` and every listed name exists."""
    module = importlib.import_module(name)
    assert "__all__" in vars(module), f"{name} has no __all__"
    exported = module.__all__
    assert isinstance(exported, (list, tuple)), f"{name}.__all__ is a {type(exported).__name__}"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = []
    for attr in exported:
        if hasattr(module, attr):
            continue
        # a package may list its submodules (``from geo import *`` imports them)
        if hasattr(module, "__path__") and importlib.util.find_spec(f"{name}.{attr}") is not None:
            continue
        missing.append(attr)
    assert not missing, f"{name}.__all__ names {missing}, which do not exist"


def test_pyproject_packages_are_the_folders():
    """tool.setuptools.packages lists exactly the folders with __init__.py (so none is left out of the wheel)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = config["tool"]["setuptools"]["packages"]
    assert len(set(listed)) == len(listed), "a package is listed twice"
    on_disk = {"lifecircle"}
    for top in TOP:
        for init in (ROOT / top).rglob("__init__.py"):
            on_disk.add("lifecircle." + ".".join(init.parent.relative_to(ROOT).parts))
    assert set(listed) == on_disk
    mapping = config["tool"]["setuptools"]["package-dir"]
    assert mapping == {"lifecircle": "lifecircle", **{f"lifecircle.{t}": t for t in TOP}}


def test_short_names_alias_the_lifecircle_modules():
    """``geo.x`` and ``lifecircle.geo.x`` are one module object (lifecircle/_alias.py)."""
    import geo.network as b
    import lifecircle.geo.network as a

    assert a is b
    import geo
    import lifecircle.geo

    assert geo is lifecircle.geo
    from geo.network import WalkNetwork
    from lifecircle.geo.network import WalkNetwork as WalkNetwork2

    assert WalkNetwork is WalkNetwork2
    import apps.cli
    import layers.style
    import lifecircle.apps.cli
    import lifecircle.layers.style

    assert layers.style is lifecircle.layers.style and apps.cli is lifecircle.apps.cli


def test_newcomer_session():
    """Issue 10's check: the README's first steps work on the demo as written."""
    from geo import coverage, demo, parking, reach, siting  # noqa: F401 - the newcomer's import line
    from geo.settings import DEFAULT_SNAP_LIMIT_M

    d = demo.build_demo()
    assert float(d.demand["population"].sum()) == 150_000  # the demo's stated population
    cov = coverage.compute_coverage(d.network, d.facilities, d.demand)
    assert cov.total_weight == pytest.approx(150_000)

    areas = reach.facility_service_areas(d.network, d.facilities, tiers=300)
    # reference: a facility is reachable when an edge line lies within the snap limit (shapely)
    net = d.network
    points = shapely.points(shapely.get_coordinates(d.facilities.geometry.to_crs(net.crs).values))
    tree = shapely.STRtree(net.edge_lines)
    _, dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    reachable = set(d.facilities["id"].astype(str).to_numpy()[np.asarray(dist) <= DEFAULT_SNAP_LIMIT_M])
    assert len(reachable) > 0
    assert len(areas) == len(reachable)
    assert set(areas["facility_id"].astype(str)) == reachable
    assert set(areas["tier_m"]) == {300.0}
    assert areas.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert areas.geometry.is_valid.all() and not areas.geometry.is_empty.any()
    assert (areas["area_m2"] > 0).all()


@pytest.mark.slow
def test_wheel_installs_only_lifecircle(tmp_path):
    """A wheel built from the sources claims one top-level name, ``lifecircle`` (no ``geo``, ``apps``)."""
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for top in ("lifecircle", *TOP):
        shutil.copytree(ROOT / top, src / top, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path / "wheel"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "-w",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("lifecircle-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    tops = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert len(dist_info) == 1 and tops - dist_info == {"lifecircle"}
    (info,) = dist_info
    with zipfile.ZipFile(wheel) as zf:
        top_level = zf.read(f"{info}/top_level.txt").decode().split() if f"{info}/top_level.txt" in names else []
    assert top_level in ([], ["lifecircle"])
    # every package of pyproject.toml is in the wheel, with its data files
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for package in config["tool"]["setuptools"]["packages"]:
        assert package.replace(".", "/") + "/__init__.py" in names, package
    assert "lifecircle/geo/reach.py" in names
    assert any(n.startswith("lifecircle/apps/web/static/") for n in names)
    assert any(n.startswith("lifecircle/geo/evaluate/packs/") and n.endswith(".toml") for n in names)
