"""Batch plans: the TOML file that lists the areas of a batch run.

A plan needs no more than this::

    [defaults]
    tiers = [300, 1000]

    [[areas]]
    name = "futian"
    network = "futian.graphml"
    facilities = "facilities.csv"
    demand = "demand.csv"

Paths are relative to the plan file.  Every ``lifecircle coverage`` option
(``tiers``, ``speed``, ``snap_limit``, ``kinds``, ``crs``, ``out_crs``,
``gap_kind``, ``gap_tier``, ``gaps = true``) and every ``lifecircle evaluate``
one (``standard`` - a pack name or a .toml file -, ``touch``, ``cohorts``,
``no_remedies``, ``lang``; with a standard the area is also evaluated) may
stand in ``[defaults]`` or in one area, which wins.  Further
keys:

``extract = "guangdong.osm.pbf"`` (top level)
    One large OpenStreetMap extract; an area with a ``boundary`` and no
    ``network`` is cut from it (see :mod:`lifecircle.geo.batch.cut`).
``boundary = "area.geojson"`` (area)
    The area's polygon(s): its network is cut from the extract (or from its
    own ``network``) by the polygon grown by a halo of the largest tier plus
    the snapping limit.  With ``split = true`` its facilities are those in the
    grown polygon, its demand and units those whose representative point lies
    in the polygon.
``extra_facilities = ["parks.geojson"]`` (area or boundaries)
    More facility files for the evaluation only (``lifecircle evaluate`` takes
    several ``--facilities``; e.g. park polygons, whose area a standard measures).
``tiles = 4`` (area)
    Compute the area in this many tiles (a near-square grid), each its own
    task; the stitched result equals the one-process run exactly.
``[[boundaries]]`` (table array)
    ``file = "districts.geojson"``, optional ``name_field``: one area per
    polygon, named by that field, with every other key (facilities, demand,
    units, network, options) shared by its areas, and facilities, demand and
    units split by polygon.

Errors name the plan file and the key (:class:`~lifecircle.geo.errors.StandardError`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, LifecircleError, StandardError

__all__ = ["Area", "Plan", "read_plan", "COVERAGE_OPTIONS", "EVALUATE_OPTIONS", "FILE_KEYS"]

#: ``lifecircle coverage`` options a plan may set, with the Python types each accepts.
COVERAGE_OPTIONS: dict[str, tuple[type, ...]] = {
    "tiers": (list, str, int, float),
    "speed": (int, float),
    "snap_limit": (int, float),
    "kinds": (list, str),
    "crs": (str,),
    "out_crs": (str,),
    "gap_kind": (str,),
    "gap_tier": (int, float),
    "gaps": (bool,),
}
#: ``lifecircle evaluate`` options a plan may set (besides the coverage ones).
EVALUATE_OPTIONS: dict[str, tuple[type, ...]] = {
    "standard": (str,),
    "touch": (int, float),
    "cohorts": (list, str),
    "no_remedies": (bool,),
    "lang": (str,),
}
#: Keys holding paths (relative to the plan file).
FILE_KEYS = ("network", "facilities", "demand", "units", "boundary", "candidates")
#: Keys holding lists of paths: further facility files for the evaluation (e.g. park polygons).
LIST_FILE_KEYS = ("extra_facilities",)
_AREA_KEYS = {"name", "split", "tiles", *FILE_KEYS, *LIST_FILE_KEYS}
_TOP_KEYS = {"defaults", "areas", "boundaries", "extract"}


@dataclass
class Area:
    """One area of a plan.

    Attributes
    ----------
    name
        Unique name; the area's outputs go to ``DIR/<name>/``.
    files
        ``{key: Path}`` for network, facilities, demand, units, boundary,
        candidates, and ``extra_facilities`` (a list); absolute paths; missing
        keys are absent.
    options
        The coverage / evaluate options (defaults overlaid by the area's own).
    split
        Split facilities, demand and units by the boundary polygon.
    tiles
        Number of tiles (1 = one task).
    polygon
        The boundary (WGS84 shapely geometry) for areas from ``[[boundaries]]``,
        or None (a ``boundary`` file is then read when the area runs).
    where
        The plan key of this area, e.g. ``"areas[2]"``, for messages.
    """

    name: str
    files: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    split: bool = False
    tiles: int = 1
    polygon: Any = None
    where: str = ""

    @property
    def standard(self) -> str | None:
        """The evaluation's rule pack (a name or a path), or None."""
        return self.options.get("standard")


@dataclass
class Plan:
    """A parsed plan: its file, the extract (if any) and the areas in order."""

    path: Path
    areas: list[Area]
    extract: Path | None = None
    defaults: dict[str, Any] = field(default_factory=dict)

    def area(self, name: str) -> Area:
        """Return the area called ``name``."""
        for a in self.areas:
            if a.name == name:
                return a
        raise KeyError(name)


def _check_options(plan: Path, table: dict, where: str, allowed_extra: set[str]) -> dict[str, Any]:
    known = {**COVERAGE_OPTIONS, **EVALUATE_OPTIONS}
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in allowed_extra:
            continue
        types = known.get(key)
        if types is None:
            options = ", ".join(sorted([*known, *sorted(allowed_extra)]))
            raise StandardError(
                plan, f"unknown key; a plan area knows {options}", key=f"{where}.{key}" if where else key
            )
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise StandardError(plan, f"{value!r} should be a {names}", key=f"{where}.{key}" if where else key)
        out[key] = value
    return out


def _path(plan: Path, value: Any, key: str, *, must_exist: bool = True) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise StandardError(plan, f"{value!r} should be a file path (relative to the plan file)", key=key)
    p = Path(value).expanduser()
    if not p.is_absolute():
        p = plan.parent / p
    if must_exist and not p.exists():
        raise StandardError(plan, f"file {value} not found (looked for {p})", key=key)
    return p.resolve()


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def _check_name(plan: Path, name: Any, key: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise StandardError(plan, f"{name!r} should be a non-empty text (the folder of its outputs)", key=key)
    name = name.strip()
    if _UNSAFE.search(name) or name in (".", "..") or name.startswith("."):
        raise StandardError(
            plan, f"{name!r} cannot name a folder; use letters, digits, - and _ (Chinese is fine)", key=key
        )
    return name


def _standard_value(plan: Path, options: dict, key: str) -> None:
    """A ``standard`` naming a file is resolved against the plan's folder; a pack name stays."""
    value = options.get("standard")
    if isinstance(value, str) and value.lower().endswith(".toml"):
        options["standard"] = str(_path(plan, value, key))


def read_plan(path: str | Path) -> Plan:
    """Read and check a plan file.

    Parameters
    ----------
    path
        The ``PLAN.toml`` file.

    Returns
    -------
    Plan

    Raises
    ------
    StandardError
        For unreadable TOML, unknown keys, wrong types, missing files and
        duplicate area names; the message names the plan file and the key.
    InputError
        For a ``[[boundaries]]`` file that is not a boundary file.
    """
    plan_path = Path(path).expanduser().resolve()
    if not plan_path.exists():
        raise StandardError(plan_path, "plan file not found")
    try:
        doc = tomllib.loads(plan_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StandardError(plan_path, f"not a readable TOML file ({exc})") from None
    for key in doc:
        if key not in _TOP_KEYS:
            raise StandardError(plan_path, f"unknown top-level key; a plan has {', '.join(sorted(_TOP_KEYS))}", key=key)
    defaults_table = doc.get("defaults", {})
    if not isinstance(defaults_table, dict):
        raise StandardError(plan_path, "should be a table ([defaults])", key="defaults")
    defaults = _check_options(plan_path, defaults_table, "defaults", set())
    _standard_value(plan_path, defaults, "defaults.standard")
    extract = _path(plan_path, doc["extract"], "extract") if "extract" in doc else None

    areas: list[Area] = []
    raw_areas = doc.get("areas", [])
    if not isinstance(raw_areas, list):
        raise StandardError(plan_path, "should be an array of tables ([[areas]])", key="areas")
    for i, table in enumerate(raw_areas):
        where = f"areas[{i}]"
        if not isinstance(table, dict):
            raise StandardError(plan_path, "should be a table", key=where)
        areas.append(_area(plan_path, table, where, defaults, extract))

    raw_bounds = doc.get("boundaries", [])
    if not isinstance(raw_bounds, list):
        raise StandardError(plan_path, "should be an array of tables ([[boundaries]])", key="boundaries")
    for i, table in enumerate(raw_bounds):
        areas.extend(_boundary_areas(plan_path, table, f"boundaries[{i}]", defaults, extract))

    if not areas:
        raise StandardError(plan_path, "the plan lists no area; add [[areas]] or [[boundaries]]", key="areas")
    seen: dict[str, str] = {}
    for a in areas:
        if a.name in seen:
            raise StandardError(
                plan_path, f"area name {a.name!r} is used twice (also at {seen[a.name]})", key=f"{a.where}.name"
            )
        seen[a.name] = a.where
    return Plan(plan_path, areas, extract, defaults)


def _area(
    plan: Path, table: dict, where: str, defaults: dict, extract: Path | None, *, name: str | None = None
) -> Area:
    name = _check_name(plan, table.get("name") if name is None else name, f"{where}.name")
    own = _check_options(plan, table, where, _AREA_KEYS | {"file", "name_field"})
    options = {**defaults, **own}
    _standard_value(plan, options, f"{where}.standard")
    files: dict[str, Any] = {k: _path(plan, table[k], f"{where}.{k}") for k in FILE_KEYS if k in table}
    for k in LIST_FILE_KEYS:
        if k in table:
            values = table[k] if isinstance(table[k], list) else [table[k]]
            files[k] = [_path(plan, v, f"{where}.{k}[{i}]") for i, v in enumerate(values)]
    split = table.get("split", False)
    if not isinstance(split, bool):
        raise StandardError(plan, f"{split!r} should be true or false", key=f"{where}.split")
    tiles = table.get("tiles", 1)
    if isinstance(tiles, bool) or not isinstance(tiles, int) or tiles < 1:
        raise StandardError(plan, f"{tiles!r} should be a whole number of tiles, 1 or more", key=f"{where}.tiles")
    if "network" not in files and "boundary" not in files:
        raise StandardError(
            plan,
            "give the area's network (a .lcnet, .graphml, .osm or .osm.pbf file), "
            "or a boundary to cut from the plan's extract",
            key=f"{where}.network",
        )
    if "network" not in files and extract is None:
        raise StandardError(
            plan,
            "an area with a boundary and no network is cut from the plan's extract; "
            'add extract = "region.osm.pbf" at the top of the plan',
            key=f"{where}.boundary",
        )
    if split and "boundary" not in files:
        raise StandardError(plan, "split = true needs a boundary to split by", key=f"{where}.split")
    for k in ("facilities", "demand"):
        if k not in files:
            raise StandardError(plan, f"give the area's {k} file", key=f"{where}.{k}")
    if tiles > 1 and ("boundary" in files or split):
        raise StandardError(
            plan, "tiles are for one large area with its own network; drop boundary/split", key=f"{where}.tiles"
        )
    return Area(name, files, options, split, tiles, None, where)


def _boundary_areas(plan: Path, table: Any, where: str, defaults: dict, extract: Path | None) -> list[Area]:
    from .. import io

    if not isinstance(table, dict):
        raise StandardError(plan, "should be a table", key=where)
    if "file" not in table:
        raise StandardError(plan, 'give file = "districts.geojson" (one area per polygon)', key=f"{where}.file")
    file = _path(plan, table["file"], f"{where}.file")
    name_field = table.get("name_field")
    if name_field is not None and not isinstance(name_field, str):
        raise StandardError(plan, f"{name_field!r} should be a column name", key=f"{where}.name_field")
    crs = table.get("crs", defaults.get("crs", "wgs84"))
    try:
        polys = io.read_boundaries(file, crs=crs, name_column=name_field)
    except InputError:
        raise
    except LifecircleError as exc:
        raise StandardError(plan, str(exc), key=f"{where}.file") from None
    out = []
    for k, (name, geom) in enumerate(zip(polys["name"].astype(str), polys.geometry)):
        sub = {key: value for key, value in table.items() if key not in ("file", "name_field", "name")}
        area = _area(
            plan,
            {**sub, "boundary": table["file"], "split": True},
            f"{where}",
            defaults,
            extract,
            name=_safe_name(name),
        )
        area.polygon = geom
        area.where = f"{where} (polygon {k + 1}, {name})"
        out.append(area)
    return out


def _safe_name(name: str) -> str:
    name = _UNSAFE.sub("_", name.strip()) or "area"
    return "_" + name if name.startswith(".") else name
