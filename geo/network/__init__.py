"""Walking networks: build, cache, load and snap points to them.

A :class:`WalkNetwork` is a compact, array-based undirected street network in
a local metric CRS.  It is built once from OpenStreetMap (by place name or
bounding box through osmnx, or from a local ``.osm``, ``.osm.pbf`` or osmnx
``.graphml`` file), filtered to what people may walk on, and cached in a
single ``.lcnet`` file (a NumPy ``.npz`` archive) that loads in a fraction of
a second.

Shortest paths run on its CSR adjacency matrix (:mod:`scipy.sparse.csgraph`);
points join it at the nearest point of the nearest walkable edge
(:func:`snap_points`).

Modules
-------
core
    :class:`WalkNetwork` and the ``.lcnet`` file format.
builders
    The walk filter and the builders (:func:`from_graph`, :func:`from_osm_file`, ...).
cache
    :func:`load_network` through the cache of built networks.
snapping
    :func:`snap_xy` and friends, :class:`Snapped`.
strokes
    Edges chained into natural streets.
"""

from __future__ import annotations

from ..errors import NetworkError
from .builders import (
    EXCLUDED_ACCESS,
    EXCLUDED_HIGHWAY,
    FOOT_ALLOWED,
    from_arrays,
    from_bbox,
    from_graph,
    from_graphml,
    from_osm_file,
    from_place,
    is_walkable,
)
from .cache import NETWORK_SUFFIX, SOURCE_SUFFIXES, cache_dir, load_network
from .core import FORMAT_VERSION, ProgressFn, WalkNetwork, shared_strings
from .snapping import DEFAULT_SNAP_LIMIT_M, SegmentIndex, Snapped, snap_lonlat, snap_points, snap_xy
from .strokes import STROKE_DEFLECTION_DEG, Strokes, build_strokes, stroke_continuations

__all__ = [
    "WalkNetwork",
    "NetworkError",
    "FORMAT_VERSION",
    "ProgressFn",
    "shared_strings",
    "EXCLUDED_HIGHWAY",
    "EXCLUDED_ACCESS",
    "FOOT_ALLOWED",
    "is_walkable",
    "from_graph",
    "from_graphml",
    "from_osm_file",
    "from_place",
    "from_bbox",
    "from_arrays",
    "NETWORK_SUFFIX",
    "SOURCE_SUFFIXES",
    "cache_dir",
    "load_network",
    "DEFAULT_SNAP_LIMIT_M",
    "Snapped",
    "SegmentIndex",
    "snap_xy",
    "snap_lonlat",
    "snap_points",
    "STROKE_DEFLECTION_DEG",
    "Strokes",
    "stroke_continuations",
    "build_strokes",
]
