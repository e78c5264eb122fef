"""Scenarios saved in one GeoPackage file that QGIS opens as layers.

Layout of the file (all geometries WGS84 points, EPSG:4326):

===================  ==========================================================================
layer / table        columns
===================  ==========================================================================
``scenario_added``   ``scenario``, ``id``, ``kind``, ``name``, ``area_m2`` - new facilities
``scenario_moved``   ``scenario``, ``id``, ``kind``, ``name``, ``from_lon``, ``from_lat`` - the
                     point is the new position
``scenario_closed``  ``scenario``, ``id``, ``kind``, ``name`` - facilities taken out
``scenarios``        ``name``, ``version``, ``saved_by``, ``saved_at``, ``note``, ``n_added``,
                     ``n_moved``, ``n_closed`` (an attribute table)
===================  ==========================================================================

Every change (save, rename, duplicate, delete) happens under an exclusive lock on a sidecar
``<store>.lock`` file and rewrites the whole store to a temporary file beside it, which then
replaces the store in one rename: a reader (or a crash) sees the old store or the new one, never
half of one, and two processes saving at once are serialised. Reads go through one sqlite3
connection to one file, so they see one consistent version without taking the lock.

A save carries the version it was made on; when the stored version is newer the save is refused
with :class:`~geo.errors.ScenarioConflict`, which names who saved it since and when. Nothing is
overwritten silently. A layer a planner adds to the file by hand is not kept by the next save.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as _dt
import getpass
import os
import re
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ..atomic import pid_alive
from ..errors import ScenarioConflict, ScenarioError
from .model import ELEMENTS, Change, Scenario, check_name

__all__ = [
    "ScenarioStore",
    "LAYERS",
    "META_TABLE",
    "DATA_ENV",
    "USER_ENV",
    "data_dir",
    "demo_store_path",
    "project_store_path",
    "split_ref",
    "store_for",
    "default_user",
]

#: Layer of each scenario element.
LAYERS = {element: f"scenario_{element}" for element in ELEMENTS}
#: The attribute table with one row per scenario.
META_TABLE = "scenarios"
#: Environment variable that sets the user's data folder (the demo's scenarios live there).
DATA_ENV = "LIFECIRCLE_DATA"
#: Environment variable with the name saved as ``saved_by`` when none is given.
USER_ENV = "LIFECIRCLE_USER"
#: How long a save waits for another process's save to finish (seconds).
LOCK_TIMEOUT_S = 30.0

_META_COLUMNS = ["name", "version", "saved_by", "saved_at", "note", "n_added", "n_moved", "n_closed"]
_TMP_SUFFIX = ".lctmp.gpkg"  # GDAL wants .gpkg; the leading dot hides it


# ------------------------------------------------------------------ places
def data_dir() -> Path:
    """The user's lifecircle data folder: ``$LIFECIRCLE_DATA``, else the platform's user data folder.

    The platform folder comes from platformdirs when installed (``~/.local/share/lifecircle`` on
    Linux, ``%LOCALAPPDATA%\\lifecircle`` on Windows), else ``$XDG_DATA_HOME/lifecircle`` or
    ``~/.local/share/lifecircle``.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "lifecircle"
    return Path(platformdirs.user_data_dir("lifecircle", appauthor=False))


def demo_store_path() -> Path:
    """Where the demo district's scenarios are kept: ``<data_dir()>/demo.scenarios.gpkg``."""
    return data_dir() / "demo.scenarios.gpkg"


def project_store_path(project: str | os.PathLike) -> Path:
    """Where a project's scenarios are kept: ``<stem>.scenarios.gpkg`` beside PROJECT.toml."""
    p = Path(project).expanduser().resolve()
    return p.parent / f"{p.stem}.scenarios.gpkg"


def store_for(project: str | os.PathLike | None) -> ScenarioStore:
    """The store of a project (``<stem>.scenarios.gpkg`` beside it), or the demo's when ``project`` is None."""
    return ScenarioStore(demo_store_path() if project is None else project_store_path(project))


def split_ref(ref: str) -> tuple[Path, str]:
    """Split ``PROJECT.toml:NAME`` into the project file and the scenario name.

    Raises
    ------
    ScenarioError
        When ``ref`` has no ``.toml:`` or no name after it.
    """
    m = re.match(r"^(.+?\.toml):(.*)$", str(ref), flags=re.IGNORECASE)
    if not m or not m.group(2).strip():
        raise ScenarioError(f"{ref!r}: give PROJECT.toml:NAME, the project file and the scenario's name")
    return Path(m.group(1)), m.group(2).strip()


def default_user() -> str:
    """``$LIFECIRCLE_USER``, else the login name."""
    env = os.environ.get(USER_ENV, "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


# ------------------------------------------------------------------ store
class ScenarioStore:
    """The scenarios of one project, in one GeoPackage file.

    Parameters
    ----------
    path
        The ``.gpkg`` file; created (with its folder) by the first save.

    Examples
    --------
    >>> store = ScenarioStore(project_store_path("PROJECT.toml"))   # doctest: +SKIP
    >>> saved = store.save(Scenario("两站方案", added=[...]), saved_by="王工")  # doctest: +SKIP
    >>> store.load("两站方案").version                                  # doctest: +SKIP
    1
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).expanduser()
        if self.path.suffix.lower() != ".gpkg":
            raise ScenarioError(f"{self.path}: a scenario store is a GeoPackage file; give a name ending in .gpkg")

    def __repr__(self) -> str:
        return f"ScenarioStore({str(self.path)!r})"

    # ------------------------------------------------------------- reads
    def list(self) -> pd.DataFrame:
        """One row per scenario, by name: ``name, version, saved_by, saved_at, added, moved, closed, note``."""
        meta = self._read_meta()
        rows = [
            {
                "name": m["name"],
                "version": m["version"],
                "saved_by": m["saved_by"],
                "saved_at": m["saved_at"],
                "added": m["n_added"],
                "moved": m["n_moved"],
                "closed": m["n_closed"],
                "note": m["note"],
            }
            for m in sorted(meta.values(), key=lambda m: m["name"])
        ]
        return pd.DataFrame(
            rows, columns=["name", "version", "saved_by", "saved_at", "added", "moved", "closed", "note"]
        )

    def names(self) -> builtins.list[str]:
        """The scenarios' names, sorted."""
        return sorted(self._read_meta())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip() in self._read_meta()

    def __len__(self) -> int:
        return len(self._read_meta())

    def load(self, name: str) -> Scenario:
        """Return the stored scenario ``name`` (its ``version`` is the stored one).

        Raises
        ------
        ScenarioError
            When there is no such scenario (the message lists those there are).
        """
        name = check_name(name)
        found = self._read_all(only=name)
        if name not in found:
            have = self.names()
            listing = ", ".join(have[:10]) + (" ..." if len(have) > 10 else "") if have else "none saved yet"
            raise ScenarioError(f"{self.path.name}: no scenario named '{name}' (scenarios: {listing})")
        return found[name]

    def load_all(self) -> dict[str, Scenario]:
        """Every stored scenario, by name."""
        return self._read_all()

    # ------------------------------------------------------------ writes
    def save(self, scenario: Scenario, *, expected_version: int | None = None, saved_by: str | None = None) -> Scenario:
        """Save a scenario under its name, if nobody saved it since the version it was made on.

        Parameters
        ----------
        scenario
            The scenario; its ``version`` is the version it was opened at (0: a new one).
        expected_version
            The stored version the save expects (default ``scenario.version``); 0 saves a new
            scenario and is refused when the name is taken.
        saved_by
            Who saves (default ``scenario.saved_by``, else :func:`default_user`).

        Returns
        -------
        Scenario
            The saved scenario with its new ``version``, ``saved_by`` and ``saved_at``.

        Raises
        ------
        ScenarioConflict
            When the stored version is not ``expected_version``: someone saved (or renamed,
            deleted) it since; the message names who and when.
        """
        if not isinstance(scenario, Scenario):
            raise ScenarioError(f"save() takes a Scenario, got {type(scenario).__name__}")
        expected = scenario.version if expected_version is None else int(expected_version)
        who = (saved_by or scenario.saved_by or default_user()).strip() or default_user()
        with self._locked():
            everything = self._read_all()
            self._check_version(everything, scenario.name, expected)
            current = everything.get(scenario.name)
            saved = scenario.copy(version=(current.version if current else 0) + 1, saved_by=who, saved_at=_now())
            everything[saved.name] = saved
            self._write_all(everything)
        return saved

    def rename(
        self, name: str, new_name: str, *, expected_version: int | None = None, by: str | None = None
    ) -> Scenario:
        """Give a scenario a new name (a new version, saved by ``by``).

        Raises
        ------
        ScenarioError
            When ``name`` is not stored or ``new_name`` is taken.
        ScenarioConflict
            When ``expected_version`` is given and the stored version differs.
        """
        name, new_name = check_name(name), check_name(new_name)
        with self._locked():
            everything = self._read_all()
            old = self._require(everything, name)
            if expected_version is not None:
                self._check_version(everything, name, int(expected_version))
            if new_name == name:
                return old
            if new_name in everything:
                taken = everything[new_name]
                raise ScenarioError(
                    f"cannot rename '{name}' to '{new_name}': that name is taken (saved by {taken.saved_by} at {taken.saved_at})"
                )
            renamed = old.copy(name=new_name, version=old.version + 1, saved_by=(by or default_user()), saved_at=_now())
            del everything[name]
            everything[new_name] = renamed
            self._write_all(everything)
        return renamed

    def duplicate(self, name: str, new_name: str, *, by: str | None = None) -> Scenario:
        """Save a copy of scenario ``name`` as ``new_name`` (version 1).

        Raises
        ------
        ScenarioError
            When ``name`` is not stored or ``new_name`` is taken.
        """
        name, new_name = check_name(name), check_name(new_name)
        with self._locked():
            everything = self._read_all()
            old = self._require(everything, name)
            if new_name in everything:
                raise ScenarioError(f"cannot copy '{name}' to '{new_name}': that name is taken")
            copy = old.copy(name=new_name, version=1, saved_by=(by or default_user()), saved_at=_now())
            everything[new_name] = copy
            self._write_all(everything)
        return copy

    def delete(self, name: str, *, expected_version: int | None = None) -> None:
        """Remove a scenario.

        Raises
        ------
        ScenarioError
            When it is not stored.
        ScenarioConflict
            When ``expected_version`` is given and someone saved it since.
        """
        name = check_name(name)
        with self._locked():
            everything = self._read_all()
            self._require(everything, name)
            if expected_version is not None:
                self._check_version(everything, name, int(expected_version))
            del everything[name]
            self._write_all(everything)

    # ----------------------------------------------------------- helpers
    def _require(self, everything: dict[str, Scenario], name: str) -> Scenario:
        if name not in everything:
            raise ScenarioError(
                f"{self.path.name}: no scenario named '{name}' (scenarios: {', '.join(sorted(everything)) or 'none saved yet'})"
            )
        return everything[name]

    @staticmethod
    def _check_version(everything: dict[str, Scenario], name: str, expected: int) -> None:
        current = everything.get(name)
        have = current.version if current else 0
        if have != expected:
            raise ScenarioConflict(
                name, expected, have, current.saved_by if current else None, current.saved_at if current else None
            )

    def _connect(self) -> sqlite3.Connection | None:
        """A read-only connection to the store, or None when it does not exist yet."""
        if not self.path.exists():
            return None
        if self.path.is_dir():
            raise ScenarioError(f"{self.path}: this is a folder, not a scenario store (.gpkg file)")
        try:
            con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise ScenarioError(f"{self.path}: not a GeoPackage scenario store ({exc})") from None
        if META_TABLE not in tables or not all(layer in tables for layer in LAYERS.values()):
            con.close()
            missing = [t for t in (META_TABLE, *LAYERS.values()) if t not in tables]
            raise ScenarioError(f"{self.path}: not a lifecircle scenario store (no table {', '.join(missing)})")
        return con

    def _read_meta(self) -> dict[str, dict]:
        con = self._connect()
        if con is None:
            return {}
        with contextlib.closing(con):
            return self._meta_rows(con)

    def _meta_rows(self, con: sqlite3.Connection) -> dict[str, dict]:
        try:
            cur = con.execute(f"SELECT {', '.join(_META_COLUMNS)} FROM {META_TABLE}")
        except sqlite3.DatabaseError as exc:
            raise ScenarioError(f"{self.path}: table {META_TABLE} cannot be read ({exc})") from None
        out = {}
        for row in cur.fetchall():
            rec = dict(zip(_META_COLUMNS, row))
            for key in ("version", "n_added", "n_moved", "n_closed"):
                rec[key] = int(rec[key] or 0)
            for key in ("saved_by", "saved_at", "note"):
                rec[key] = rec[key] or ""
            out[str(rec["name"])] = rec
        return out

    def _read_all(self, only: str | None = None) -> dict[str, Scenario]:
        con = self._connect()
        if con is None:
            return {}
        with contextlib.closing(con):
            meta = self._meta_rows(con)
            if only is not None:
                meta = {k: v for k, v in meta.items() if k == only}
            parts: dict[str, dict[str, list[Change]]] = {name: {e: [] for e in ELEMENTS} for name in meta}
            for element, layer in LAYERS.items():
                columns = {r[1] for r in con.execute(f"PRAGMA table_info({layer})")}
                wanted = {"moved": ["from_lon", "from_lat"], "added": ["area_m2"]}.get(element, [])
                optional = [c for c in wanted if c in columns]  # stores written before a column existed lack it
                extra = "".join(f", {c}" for c in optional)
                geom_col = self._geometry_column(con, layer)
                sql = f'SELECT scenario, id, kind, name, "{geom_col}"{extra} FROM {layer}'
                args: tuple = ()
                if only is not None:
                    sql += " WHERE scenario = ?"
                    args = (only,)
                for row in con.execute(sql + " ORDER BY fid", args):
                    scen, fid, kind, fname, blob = row[:5]
                    if scen not in parts:
                        continue  # a row of a scenario without a metadata row: not part of the store
                    pt = _from_gpkg_blob(blob)
                    if pt is None:
                        raise ScenarioError(
                            f"{self.path}: layer {layer}, scenario '{scen}', facility {fid} has no point"
                        )
                    kw = {c: _num(v) for c, v in zip(optional, row[5:])}
                    parts[scen][element].append(Change(fid, kind, fname or "", pt[0], pt[1], **kw))
        return {
            name: Scenario(
                name,
                **parts[name],
                note=m["note"],
                saved_by=m["saved_by"],
                saved_at=m["saved_at"],
                version=m["version"],
            )
            for name, m in meta.items()
        }

    @staticmethod
    def _geometry_column(con: sqlite3.Connection, layer: str) -> str:
        row = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)).fetchone()
        return row[0] if row else "geom"

    def _write_all(self, everything: dict[str, Scenario]) -> None:
        """Write the whole store to a temporary file beside it, then rename it over the store."""
        import geopandas as gpd
        import pyogrio

        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{self.path.name}.{os.getpid()}-{secrets.token_hex(3)}{_TMP_SUFFIX}"
        ordered = [everything[k] for k in sorted(everything)]
        try:
            for element, layer in LAYERS.items():
                rows = [(s.name, c) for s in ordered for c in getattr(s, element)]
                data = {
                    "scenario": pd.Series([s for s, _ in rows], dtype=object),
                    "id": pd.Series([c.id for _, c in rows], dtype=object),
                    "kind": pd.Series([c.kind for _, c in rows], dtype=object),
                    "name": pd.Series([c.name for _, c in rows], dtype=object),
                }
                if element == "moved":
                    data["from_lon"] = pd.Series([c.from_lon for _, c in rows], dtype=float)
                    data["from_lat"] = pd.Series([c.from_lat for _, c in rows], dtype=float)
                if element == "added":
                    data["area_m2"] = pd.Series([c.area_m2 for _, c in rows], dtype=float)
                geom = shapely.points(
                    np.array([c.lon for _, c in rows], float), np.array([c.lat for _, c in rows], float)
                )
                frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geom, crs="EPSG:4326"), crs="EPSG:4326")
                pyogrio.write_dataframe(
                    frame, tmp, layer=layer, driver="GPKG", geometry_type="Point", promote_to_multi=False
                )
            meta = pd.DataFrame(
                [[s.name, s.version, s.saved_by, s.saved_at, s.note, *s.counts.values()] for s in ordered],
                columns=_META_COLUMNS,
            ).astype(
                {
                    "name": object,
                    "saved_by": object,
                    "saved_at": object,
                    "note": object,
                    "version": "int64",
                    "n_added": "int64",
                    "n_moved": "int64",
                    "n_closed": "int64",
                }
            )
            pyogrio.write_dataframe(meta, tmp, layer=META_TABLE, driver="GPKG")
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(folder)
        except OSError as exc:
            raise ScenarioError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's exclusive lock (waits up to :data:`LOCK_TIMEOUT_S` for another writer)."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fh = open(folder / f"{self.path.name}.lock", "a+b")
        except OSError as exc:
            raise ScenarioError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        with fh:
            _lock(fh, self.path)
            try:
                _remove_stale(folder, self.path.name)
                yield
            finally:
                _unlock(fh)


# ----------------------------------------------------------- file helpers
def _num(value) -> float:
    return float("nan") if value is None else float(value)


def _from_gpkg_blob(blob) -> tuple[float, float] | None:
    """The (x, y) of a GeoPackage point blob ('GP' header + WKB), or None when empty."""
    if blob is None:
        return None
    data = bytes(blob)
    if data[:2] != b"GP":
        raise ScenarioError("not a GeoPackage geometry")
    flags = data[3]
    if flags & 0b10000:  # empty geometry
        return None
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((flags >> 1) & 0b111, 0)
    geom = shapely.from_wkb(data[8 + envelope :])
    if geom is None or geom.is_empty:
        return None
    return float(geom.x), float(geom.y)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _lock(fh, path: Path) -> None:
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            if sys.platform != "win32":
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover - Windows
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise ScenarioError(
                    f"{path}: another save has held the store for over {LOCK_TIMEOUT_S:g} s; try again"
                ) from None
            time.sleep(0.02)


def _unlock(fh) -> None:
    if sys.platform != "win32":
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)


def _remove_stale(folder: Path, name: str) -> None:
    """Remove temporary files of saves whose process died (run under the lock)."""
    for tmp in folder.glob(f".{_glob_escape(name)}.*{_TMP_SUFFIX}"):
        m = re.search(r"\.(\d+)-[0-9a-f]+" + re.escape(_TMP_SUFFIX) + "$", tmp.name)
        if m and not pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _glob_escape(text: str) -> str:
    """``text`` with glob's special characters escaped."""
    return re.sub(r"([\[\]*?])", r"[\1]", text)
    return True
