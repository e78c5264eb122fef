"""Load the data an app serves: the generated demo, or a planner's PROJECT.toml.

A project file names the planner's files (relative paths are taken from the
project file's folder); ``docs/project.example.toml`` documents every key::

    title = "某某街道 15 分钟社区生活圈"
    crs = "gcj02"                        # coordinates of the input tables
    tiers = [300, 1000]                  # or ["5min", "15min"]
    network = "data/street.graphml"      # .lcnet, .graphml, .osm or .osm.pbf
    facilities = "data/facilities.xlsx"  # id, name, kind, lon/lat
    demand = "data/buildings.csv"        # population (人口), points or polygons
    communities = "data/communities.geojson"
    streets = "data/streets.geojson"
    candidates = "data/candidates.csv"
    lots = "data/lots.csv"
    residences = "data/residences.csv"

A file may also be given as a table with its own coordinate system:
``facilities = { path = "poi.csv", crs = "bd09" }``.  Any problem raises
:class:`geo.io.InputError` naming the project file or the data file, row and
column.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shapely

from lifecircle.geo import crs as gcrs
from lifecircle.geo import io as gio
from lifecircle.geo.io import InputError
from lifecircle.geo.network import NetworkError
from lifecircle.geo.standards import KindRegistry, parse_tiers

from .workspace import Workspace

__all__ = ["PROJECT_KEYS", "REQUIRED", "FILE_KEYS", "load_demo", "read_project", "load_project"]

#: Keys a project file may hold, with what they are.
PROJECT_KEYS = {
    "title": "text shown in the page header",
    "crs": "coordinates of the input tables: wgs84, gcj02, bd09 or EPSG:n",
    "tiers": 'walking distances: [300, 1000] or ["5min", "15min"]',
    "speed": "walking speed in m/min (tiers are then minutes)",
    "kinds": 'extra facility kinds allowed in facilities, e.g. ["library"]',
    "snap_limit": "metres beyond which a point is unreachable (default 300)",
    "standard": "standard pack of the complete life-circle view: a name (lifecircle standards) or a TOML file",
    "weight": '"rows" to count each demand row as one resident when the demand has no population column',
    "network": "walking network: .lcnet, .graphml, .osm or .osm.pbf (required)",
    "facilities": "facilities with id, name, kind and coordinates (required)",
    "demand": "demand points or polygons with population (required)",
    "communities": "社区 boundary polygons",
    "streets": "街道 boundary polygons",
    "candidates": "candidate sites for new micro-stations",
    "lots": "parking lots offering night spaces",
    "residences": "residential compounds short of night parking",
}
REQUIRED = ("network", "facilities", "demand")
FILE_KEYS = ("network", "facilities", "demand", "communities", "streets", "candidates", "lots", "residences")


def _map_facilities(facilities):
    """The demo's facilities of the map's kinds (:data:`lifecircle.geo.demo.MAP_KINDS`)."""
    from lifecircle.geo import demo

    return facilities[facilities["kind"].isin(demo.MAP_KINDS)].reset_index(drop=True)


def load_demo(progress: Callable[[str], None] | None = None) -> Workspace:
    """Return the prepared workspace of the generated demo district.

    Parameters
    ----------
    progress
        Called with short status lines.
    """
    from lifecircle.geo import demo, network

    say = progress or (lambda _m: None)
    district = demo.build_demo()
    say(f"built the demo district: {district.name}")
    net = district.network
    if not isinstance(net, network.WalkNetwork):  # a networkx graph (the demo before geo/demo/)
        net = network.from_graph(net, name="demo", source="lifecircle demo")
    demand = district.demand.rename(columns={"population": "weight"})
    from .complete import demo_facilities

    ws = Workspace(
        title=f"{district.name} · {district.name_en}",
        is_demo=True,
        net=net,
        # The map's four kinds, as before the demo gained the evaluation's amenities: their 128
        # points would make the start-up's service areas about five times slower.
        facilities=_map_facilities(district.facilities),
        # the complete view evaluates every kind, parks as polygons with their gates as entrances
        eval_facilities=demo_facilities(district),
        demand=demand,
        communities=district.communities,
        streets=district.streets,
        candidates=district.candidates,
        lots=district.lots,
        residences=district.residences,
    )
    return ws.prepare(say, meanwhile=lambda: _warm(ws, say))  # warmed while the areas are traced


def _warm(ws: Workspace, say: Callable[[str], None]) -> Workspace:
    """Evaluate the standard once at start-up, so a session's first click in the complete view is quick.

    Needs the coverage, not the service areas: :meth:`Workspace.prepare` runs it while they are traced.
    """
    from .complete import workspace_baseline
    from .state import _what_if_engine
    from .workspace import CANDIDATE_KIND

    for kind in ws.analysis_kinds():  # the what-if engines every session forks
        _what_if_engine(ws, kind)
    if len(ws.facilities):
        # one candidate's service areas, so the network's lazily built tables (street strokes: ~1 s at
        # 200k nodes on a restart) are made now, not on the IOLoop during a session's first click
        lon, lat = shapely.get_coordinates(ws.facilities.geometry.values[:1])[0]
        _what_if_engine(ws, CANDIDATE_KIND).areas(float(lon), float(lat), simplify_m=1.0)
    try:
        workspace_baseline(ws, ws.standard).warm()
        say(f"complete life circles evaluated by {ws.standard}")
    except ValueError as exc:  # shown in the page's complete view
        say(f"complete life circles not available: {exc}")
    return ws


def read_project(path: str | Path) -> dict[str, Any]:
    """Read and check a PROJECT.toml; return its settings with absolute file paths.

    Parameters
    ----------
    path
        The project file.

    Returns
    -------
    dict
        The keys of :data:`PROJECT_KEYS` present; each file key maps to
        ``{"path": Path, "crs": str}``.

    Raises
    ------
    InputError
        For a missing or unreadable project file, bad TOML, unknown keys, a
        missing required key, a bad value, or a data file that does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"project file not found (looked for {path.resolve()})")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError(path, "is not UTF-8 text; save the project file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"is not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - set(PROJECT_KEYS))
    if unknown:
        raise InputError(path, f"unknown key(s) {', '.join(unknown)}; known keys: {', '.join(PROJECT_KEYS)}")
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise InputError(path, f"missing required key(s) {', '.join(missing)} (each names a file)")
    out: dict[str, Any] = {k: v for k, v in raw.items() if k not in FILE_KEYS}
    out["crs"] = _crs(path, raw.get("crs", "wgs84"), "crs")
    for key in FILE_KEYS:
        if key in raw:
            out[key] = _file_entry(path, key, raw[key], out["crs"])
    out["tiers"] = _tiers(path, raw.get("tiers"), raw.get("speed"))
    return out


def _crs(project: Path, value: Any, key: str) -> str:
    try:
        return gcrs.parse_crs(value)
    except ValueError as exc:
        raise InputError(project, f"key '{key}': {exc}") from None


def _file_entry(project: Path, key: str, value: Any, default_crs: str) -> dict[str, Any]:
    """Resolve ``key = "file"`` or ``key = {path = "file", crs = "..."}``."""
    if isinstance(value, dict):
        extra = sorted(set(value) - {"path", "crs"})
        if "path" not in value or extra:
            raise InputError(project, f'key \'{key}\': give {{ path = "file", crs = "wgs84" }}')
        crs = _crs(project, value.get("crs", default_crs), f"{key}.crs")
        value = value["path"]
    else:
        crs = default_crs
    if not isinstance(value, str) or not value.strip():
        raise InputError(project, f"key '{key}': expected a file name, got {value!r}")
    file = Path(value).expanduser()
    if not file.is_absolute():
        file = project.parent / file
    if not file.exists():
        raise InputError(project, f"key '{key}': file {value} not found (looked for {file.resolve()})")
    return {"path": file, "crs": crs}


def _tiers(project: Path, value: Any, speed: Any) -> tuple[float, ...]:
    if speed is not None and (not isinstance(speed, (int, float)) or speed <= 0):
        raise InputError(project, f"key 'speed': expected a positive number of metres per minute, got {speed!r}")
    if value is not None and not isinstance(value, (list, str)):
        raise InputError(project, f"key 'tiers': expected a list such as [300, 1000], got {value!r}")
    try:
        return parse_tiers(value, speed_m_per_min=speed)
    except (ValueError, TypeError) as exc:
        raise InputError(project, f"key 'tiers': {exc}") from None


def load_project(path: str | Path, progress: Callable[[str], None] | None = None) -> Workspace:
    """Read a PROJECT.toml and its files; return the prepared workspace.

    Parameters
    ----------
    path
        The project file.
    progress
        Called with short status lines.

    Raises
    ------
    InputError
        For any problem with the project file or a data file (file, row, column).
    """
    from lifecircle.geo import network

    say = progress or (lambda _m: None)
    conf = read_project(path)
    kinds = _kinds(Path(path), conf.get("kinds"))
    try:
        net = network.load_network(conf["network"]["path"], progress=say)
    except NetworkError as exc:
        raise InputError(conf["network"]["path"], str(exc).split(": ", 1)[-1]) from None
    ws = Workspace(
        title=str(conf.get("title") or Path(path).stem),
        is_demo=False,
        net=net,
        facilities=gio.read_points(
            conf["facilities"]["path"], role="facilities", crs=conf["facilities"]["crs"], kinds=kinds
        ),
        demand=_demand(Path(path), conf),
        kinds=kinds,
        standard=_standard(Path(path), conf.get("standard")),
        tiers=conf["tiers"],
        snap_limit_m=_snap_limit(Path(path), conf.get("snap_limit")),
        project_path=Path(path).expanduser().resolve(),
        **_optional_layers(conf),
    )
    _check_overlap(ws, conf)
    return ws.prepare(say, meanwhile=lambda: _warm(ws, say))  # warmed while the areas are traced


def _demand(project: Path, conf: dict):
    """The demand; refused without a population column unless ``weight = "rows"`` says to count rows."""
    weight = conf.get("weight")
    if weight is not None and weight != "rows":
        raise InputError(
            project, f"key 'weight': the only value is \"rows\" (count each demand row as one), got {weight!r}"
        )
    demand = gio.read_demand(
        conf["demand"]["path"],
        crs=conf["demand"]["crs"],
        count_rows=weight == "rows",
        count_rows_hint='weight = "rows" in the project file',
    )
    return demand


def _standard(project: Path, value: Any) -> str:
    """The standard pack: a shipped name, or a TOML file beside the project."""
    from lifecircle.geo import settings
    from lifecircle.geo.evaluate import load_standard

    if value is None:
        return settings.DEFAULT_STANDARD
    if not isinstance(value, str) or not value.strip():
        raise InputError(project, f"key 'standard': expected a pack name or a .toml file, got {value!r}")
    name = value.strip()
    if name.lower().endswith(".toml"):
        file = Path(name).expanduser()
        name = str(file if file.is_absolute() else project.parent / file)
    try:
        load_standard(name)
    except ValueError as exc:
        raise InputError(project, f"key 'standard': {exc}") from None
    return name


def _kinds(project: Path, value: Any) -> KindRegistry:
    if value is None:
        return KindRegistry()
    if not isinstance(value, list):
        raise InputError(project, f"key 'kinds': expected a list such as [\"library\"], got {value!r}")
    try:
        return KindRegistry([str(v) for v in value])
    except ValueError as exc:
        raise InputError(project, f"key 'kinds': {exc}") from None


def _snap_limit(project: Path, value: Any) -> float:
    if value is None:
        return 300.0
    if not isinstance(value, (int, float)) or not 0 < value <= 5000:
        raise InputError(project, f"key 'snap_limit': expected metres between 0 and 5000, got {value!r}")
    return float(value)


def _optional_layers(conf: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("communities", "streets"):
        if key in conf:
            out[key] = gio.read_boundaries(conf[key]["path"], crs=conf[key]["crs"])
    for key in ("candidates", "lots", "residences"):
        if key in conf:
            out[key] = gio.read_points(conf[key]["path"], role=key, crs=conf[key]["crs"])
    return out


#: Rows of a layer snapped first to tell it lies near the network (all of them only when none of these does).
OVERLAP_SAMPLE = 2000


def _check_overlap(ws: Workspace, conf: dict) -> None:
    """Fail clearly when the facilities or the demand lie nowhere near the network."""
    from lifecircle.geo.network import snap_points

    for key, frame in (("facilities", ws.facilities), ("demand", ws.demand)):
        # a spread-out sample first (one reachable row is enough); all rows only when none of it is
        # (snapping a city's 100,000 residents here cost ~0.4 s of the start, and the coverage snaps them)
        sample = frame.iloc[:: max(1, len(frame) // OVERLAP_SAMPLE)] if len(frame) > OVERLAP_SAMPLE else frame
        if len(sample) and snap_points(ws.net, sample, limit_m=ws.snap_limit_m).reachable.any():
            continue
        snapped = snap_points(ws.net, frame, limit_m=ws.snap_limit_m)
        if len(frame) and not snapped.reachable.any():
            raise InputError(
                conf[key]["path"],
                f"none of the {len(frame)} rows lies within {ws.snap_limit_m:g} m of the walking network "
                f"{conf['network']['path'].name}; check the project's crs ({conf[key]['crs']}) and that the network covers them",
            )
