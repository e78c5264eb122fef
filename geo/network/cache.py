"""Load a walking network from any supported file, through the ``.lcnet`` cache.

A network built from an OpenStreetMap or GraphML file is cached under
:func:`cache_dir`, keyed by the source's path, size and modification time, so
an unchanged file is never rebuilt.  A truncated or corrupt cache is rebuilt
from its source; caches are written atomically (:meth:`WalkNetwork.save`), so
two processes building the same one leave one complete file.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from ..atomic import OutputError
from ..errors import NetworkError
from . import builders
from .core import FORMAT_VERSION, ProgressFn, WalkNetwork

__all__ = ["NETWORK_SUFFIX", "SOURCE_SUFFIXES", "cache_dir", "load_network"]

#: The suffix of a saved network.
NETWORK_SUFFIX = ".lcnet"
#: Suffixes of the files a network is built from.
SOURCE_SUFFIXES = (".graphml", ".osm", ".osm.pbf", ".pbf", ".osm.xml")


def cache_dir() -> Path:
    """Folder of cached networks: ``$LIFECIRCLE_CACHE`` or ``~/.cache/lifecircle``."""
    base = os.environ.get("LIFECIRCLE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lifecircle"
    )
    return Path(base) / "networks"


def _cache_key(path: Path) -> str:
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{FORMAT_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _is_saved(path: Path) -> bool:
    return path.name.lower().endswith((NETWORK_SUFFIX, ".npz"))


def _check_source(path: Path) -> None:
    if not path.exists():
        raise NetworkError(f"{path}: network file not found")
    if not path.name.lower().endswith(SOURCE_SUFFIXES):
        raise NetworkError(
            f"{path.name}: unknown network format; use a .lcnet file from `lifecircle network`, "
            "an osmnx .graphml, or an OpenStreetMap .osm / .osm.pbf file"
        )


def _build(path: Path, progress: ProgressFn | None) -> WalkNetwork:
    started = time.perf_counter()
    if progress:
        progress(f"building the walking network from {path.name} ...")
    if path.name.lower().endswith(".graphml"):
        net = builders.from_graphml(path)
    else:
        net = builders.from_osm_file(path, progress=progress)
    if progress:
        progress(f"built {net.n_nodes:,} nodes and {net.n_edges:,} edges in {time.perf_counter() - started:.1f} s")
    return net


def _save_quietly(net: WalkNetwork, path: Path) -> None:
    try:
        net.save(path)
    except (OSError, OutputError):
        pass  # a read-only cache folder only costs a rebuild next time


def load_network(
    source: str | os.PathLike,
    *,
    use_cache: bool = True,
    progress: ProgressFn | None = None,
    rebuild_from: str | os.PathLike | None = None,
) -> WalkNetwork:
    """Load a walking network from any supported source, through the cache.

    Parameters
    ----------
    source
        A ``.lcnet`` file written by :meth:`WalkNetwork.save`, an osmnx
        ``.graphml``, an OpenStreetMap ``.osm`` or ``.osm.pbf`` file.
    use_cache
        Reuse (and write) a cached build keyed by the file's path, size and
        modification time, so a network is never rebuilt from an unchanged file.
        A cached build that is truncated or corrupt is rebuilt and replaced.
    progress
        Called with short status lines.
    rebuild_from
        The OSM or GraphML file a ``.lcnet`` ``source`` was built from: when
        ``source`` is missing, truncated or corrupt, the network is rebuilt
        from this file and written to ``source`` again (atomically).

    Raises
    ------
    NetworkError
        Naming the file, when it is missing, of an unknown kind, unreadable,
        or a truncated or corrupt ``.lcnet`` with no source to rebuild it from.
    """
    path = Path(source)
    if _is_saved(path):
        if rebuild_from is None:
            if not path.exists():
                raise NetworkError(f"{path}: network file not found")
            return WalkNetwork.load(path)
        origin = Path(rebuild_from)
        _check_source(origin)
        if path.exists():
            try:
                return WalkNetwork.load(path)
            except NetworkError as exc:
                if progress:
                    progress(f"{exc}: rebuilding it from {origin.name}")
        net = _build(origin, progress)
        _save_quietly(net, path)
        return net
    _check_source(path)
    cached = cache_dir() / f"{_cache_key(path)}{NETWORK_SUFFIX}"
    if use_cache and cached.exists():
        try:
            return WalkNetwork.load(cached)
        except NetworkError:
            pass  # truncated or corrupt (a killed writer, a full disk): rebuilt and replaced below
    net = _build(path, progress)
    if use_cache:
        _save_quietly(net, cached)
    return net
