"""A scenario (方案): facilities added, moved and closed, and how it changes a facilities frame.

A :class:`Scenario` holds three lists of :class:`Change` - one per element a planner edits:

* ``added``: new facilities (id, kind, name, position);
* ``moved``: existing facilities (by id) put somewhere else (the new position, and the old one
  for the record);
* ``closed``: existing facilities (by id) taken out (关闭), with their position for the map.

:meth:`Scenario.apply` turns the base facilities into the scenario's. The bookkeeping of a
saved scenario - ``version``, ``saved_by``, ``saved_at`` - is set by
:class:`~geo.scenarios.store.ScenarioStore`; a scenario not yet saved has version 0.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import ScenarioError

__all__ = ["Change", "Scenario", "ELEMENTS", "check_name"]

#: The scenario's elements, in the order they are applied after ``closed``.
ELEMENTS = ("added", "moved", "closed")

_MAX_NAME = 120


@dataclass(frozen=True)
class Change:
    """One facility a scenario adds, moves or closes.

    Attributes
    ----------
    id
        The facility's id: a new one for ``added``, an existing one for ``moved`` and ``closed``.
    kind
        Facility kind (``park``, ``clinic``, ...).
    name
        Facility name ("" when none).
    lon, lat
        WGS84 position: where it is (added, closed) or where it goes (moved).
    from_lon, from_lat
        For ``moved``: where it was (NaN when not recorded).
    area_m2
        For an ``added`` park (or any kind a standard gives an area condition): its area in m²
        (NaN when not given).
    """

    id: str
    kind: str
    name: str
    lon: float
    lat: float
    from_lon: float = float("nan")
    from_lat: float = float("nan")
    area_m2: float = float("nan")

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", str(self.id))
        object.__setattr__(self, "kind", str(self.kind))
        object.__setattr__(self, "name", "" if self.name is None or _isnan(self.name) else str(self.name))
        for attr in ("lon", "lat", "from_lon", "from_lat", "area_m2"):
            object.__setattr__(self, attr, float(getattr(self, attr)))
        if not self.id.strip():
            raise ScenarioError("a scenario change needs a facility id")
        if not self.kind.strip():
            raise ScenarioError(f"facility {self.id}: a scenario change needs a kind")
        if not (
            math.isfinite(self.lon) and math.isfinite(self.lat) and -180 <= self.lon <= 180 and -90 <= self.lat <= 90
        ):
            raise ScenarioError(
                f"facility {self.id}: position ({self.lon}, {self.lat}) is not a WGS84 longitude/latitude"
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Change):
            return NotImplemented
        return _key(self) == _key(other)

    def __hash__(self) -> int:
        return hash(_key(self))


def _key(change: Change) -> tuple:
    """The change's fields with NaN as None, so two unrecorded origins compare equal."""
    return tuple(None if _isnan(v) else v for v in dataclasses.astuple(change))


def _isnan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def check_name(name: object) -> str:
    """Return a scenario name stripped, or raise :class:`ScenarioError` saying what is wrong."""
    if not isinstance(name, str):
        raise ScenarioError(f"a scenario name must be text, got {name!r}")
    text = name.strip()
    if not text:
        raise ScenarioError("a scenario needs a name (方案名称)")
    if len(text) > _MAX_NAME:
        raise ScenarioError(f"scenario name '{text[:30]}...' is longer than {_MAX_NAME} characters")
    if any(ord(c) < 32 for c in text):
        raise ScenarioError(f"scenario name {text!r} holds a control character (a line break or tab)")
    return text


@dataclass
class Scenario:
    """A named set of facility changes.

    Attributes
    ----------
    name
        The scenario's name (方案名称), unique in its store.
    added, moved, closed
        The changes, see :class:`Change`.
    note
        Free text.
    saved_by
        Who saved the stored version ("" before the first save).
    saved_at
        When (ISO 8601 UTC, ``2026-12-01T22:30:05Z``; "" before the first save).
    version
        The stored version this scenario was read at, or last saved as; 0 for a new one.
        :meth:`ScenarioStore.save` refuses a save whose version is not the stored one.
    """

    name: str
    added: list[Change] = field(default_factory=list)
    moved: list[Change] = field(default_factory=list)
    closed: list[Change] = field(default_factory=list)
    note: str = ""
    saved_by: str = ""
    saved_at: str = ""
    version: int = 0

    def __post_init__(self) -> None:
        self.name = check_name(self.name)
        for element in ELEMENTS:
            setattr(self, element, [c if isinstance(c, Change) else Change(**c) for c in getattr(self, element)])
        self.validate()

    # -------------------------------------------------------------- checks
    def validate(self) -> None:
        """Refuse a scenario that names one facility twice.

        Raises
        ------
        ScenarioError
            When an id is added twice, moved twice, closed twice, or both moved and closed, or
            when an added id is also moved or closed.
        """
        seen: dict[str, str] = {}
        for element in ELEMENTS:
            for change in getattr(self, element):
                if change.id in seen:
                    where = "twice" if seen[change.id] == element else f"both {seen[change.id]} and {element}"
                    raise ScenarioError(f"scenario '{self.name}': facility {change.id} is {where}")
                seen[change.id] = element

    @property
    def counts(self) -> dict[str, int]:
        """``{"added": n, "moved": n, "closed": n}``."""
        return {element: len(getattr(self, element)) for element in ELEMENTS}

    @property
    def is_empty(self) -> bool:
        """True when the scenario changes nothing."""
        return not any(self.counts.values())

    def copy(self, **changes) -> Scenario:
        """A copy with some attributes replaced (``copy(name="B", version=0)``)."""
        base = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for element in ELEMENTS:
            base[element] = list(base[element])
        base.update(changes)
        return Scenario(**base)

    # --------------------------------------------------------------- apply
    def apply(self, facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Return the facilities as this scenario leaves them.

        Closed facilities are removed, moved ones relocated (their other columns kept), and
        added ones appended at the end in the scenario's order, with ``id``, ``kind``, ``name``
        and the geometry set (other columns empty). The input is not changed.

        Parameters
        ----------
        facilities
            Points with ``id`` and ``kind`` (any CRS; positions are converted from WGS84).

        Returns
        -------
        geopandas.GeoDataFrame
            A new frame with a fresh 0..n-1 index and the input's columns and CRS.

        Raises
        ------
        ScenarioError
            When a moved or closed id is not among the facilities, or an added id already is.
        """
        for col in ("id", "kind"):
            if col not in facilities.columns:
                raise ScenarioError(f"scenario '{self.name}': the facilities have no '{col}' column")
        crs = facilities.crs or "EPSG:4326"
        ids = facilities["id"].astype(str)
        present = set(ids)
        for element in ("moved", "closed"):
            missing = [c.id for c in getattr(self, element) if c.id not in present]
            if missing:
                raise ScenarioError(
                    f"scenario '{self.name}': {element} facilit{'y' if len(missing) == 1 else 'ies'} "
                    f"{', '.join(missing[:5])} not among the facilities (was the facilities file changed?)"
                )
        clash = [c.id for c in self.added if c.id in present]
        if clash:
            raise ScenarioError(
                f"scenario '{self.name}': added facility id {', '.join(clash[:5])} is already taken by an existing facility"
            )
        closed = {c.id for c in self.closed}
        out = facilities.loc[~ids.isin(closed).to_numpy()].copy()
        if self.moved:
            out_ids = out["id"].astype(str).to_numpy()
            where = {fid: i for i, fid in enumerate(out_ids)}
            pos = np.array([where[c.id] for c in self.moved])
            new = _points([c.lon for c in self.moved], [c.lat for c in self.moved], crs)
            geom = out.geometry.values.copy()
            geom[pos] = new
            out = out.set_geometry(gpd.GeoSeries(geom, index=out.index, crs=crs))
        if self.added:
            columns: dict[str, list] = {
                "id": [c.id for c in self.added],
                "kind": [c.kind for c in self.added],
                "name": [c.name for c in self.added],
            }
            if "area_m2" in out.columns or any(math.isfinite(c.area_m2) for c in self.added):
                columns["area_m2"] = [c.area_m2 for c in self.added]
                if "area_m2" not in out.columns:
                    out["area_m2"] = np.nan
            extra = gpd.GeoDataFrame(
                columns,
                geometry=_points([c.lon for c in self.added], [c.lat for c in self.added], crs),
                crs=crs,
            )
            extra = extra.rename_geometry(out.geometry.name) if extra.geometry.name != out.geometry.name else extra
            cols = [c for c in extra.columns if c in out.columns or c == out.geometry.name]
            out = pd.concat([out, extra[cols]], ignore_index=True)
            out = gpd.GeoDataFrame(out, geometry=facilities.geometry.name, crs=crs)
        return out.reset_index(drop=True)

    # ---------------------------------------------------------- as frames
    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """All changes as one WGS84 point frame: ``change`` (added/moved/closed), ``id``, ``kind``,
        ``name``, ``from_lon``, ``from_lat``, plus ``scenario`` and ``version``."""
        rows = [
            {"scenario": self.name, "version": self.version, "change": element, **dataclasses.asdict(c)}
            for element in ELEMENTS
            for c in getattr(self, element)
        ]
        cols = ["scenario", "version", "change", "id", "kind", "name", "lon", "lat", "from_lon", "from_lat"]
        frame = pd.DataFrame(rows, columns=cols)
        geom = _points(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), "EPSG:4326")
        return gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]), geometry=geom, crs="EPSG:4326")

    def to_dict(self) -> dict:
        """The scenario as plain JSON-ready data (``Scenario.from_dict`` reads it back)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ELEMENTS}
        for element in ELEMENTS:
            out[element] = [
                {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in dataclasses.asdict(c).items()}
                for c in getattr(self, element)
            ]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Scenario:
        """Read :meth:`to_dict`'s output (missing ``from_lon``/``from_lat`` become NaN)."""
        if not isinstance(data, dict) or "name" not in data:
            raise ScenarioError("a scenario needs at least a 'name'")
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise ScenarioError(f"scenario '{data.get('name')}': unknown field(s) {', '.join(extra)}")
        kw: dict[str, Any] = {k: v for k, v in data.items() if k not in ELEMENTS}
        for element in ELEMENTS:
            changes = []
            for c in data.get(element) or []:
                fields: dict[str, Any] = {
                    k: (float("nan") if v is None and k in ("from_lon", "from_lat", "area_m2") else v)
                    for k, v in c.items()
                }
                changes.append(Change(**fields))
            kw[element] = changes
        return cls(**kw)

    @classmethod
    def from_changes(cls, name: str, changes: Iterable[tuple[str, Change]], **meta) -> Scenario:
        """Build a scenario from ``(element, change)`` pairs."""
        parts: dict[str, list[Change]] = {e: [] for e in ELEMENTS}
        for element, change in changes:
            if element not in parts:
                raise ScenarioError(f"scenario '{name}': unknown element {element!r}; known: {', '.join(ELEMENTS)}")
            parts[element].append(change)
        return cls(name, added=parts["added"], moved=parts["moved"], closed=parts["closed"], **meta)


def _points(lon, lat, crs) -> np.ndarray:
    """WGS84 positions as point geometries in ``crs``."""
    pts = gpd.GeoSeries(shapely.points(np.asarray(lon, float), np.asarray(lat, float)), crs="EPSG:4326")
    if gpd.GeoSeries([], crs=crs).crs != pts.crs:
        pts = pts.to_crs(crs)
    return pts.values
