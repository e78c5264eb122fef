"""The :class:`WalkNetwork`: an undirected walking network held in flat NumPy arrays.

Its derived data (the CSR matrix shortest paths run on, edge lines, the
snapping index, strokes) is computed on first use and kept.  :meth:`WalkNetwork.save`
and :meth:`WalkNetwork.load` write and read the ``.lcnet`` file format.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyproj
import scipy.sparse as sp
import shapely

from ..errors import NetworkError

if TYPE_CHECKING:
    from ..street_faces import StreetFaces
    from .snapping import SegmentIndex
    from .strokes import Strokes

__all__ = ["WalkNetwork", "FORMAT_VERSION", "ProgressFn", "shared_strings"]

#: Bump when the walk filter or the file layout changes: old caches are rebuilt.
FORMAT_VERSION = 3

#: A callback that receives short status lines.
ProgressFn = Callable[[str], None]


def shared_strings(values) -> np.ndarray:
    """An object array of strings in which equal values share one str object.

    A network's per-edge ``highway`` tags take a dozen distinct values: one
    pointer per edge (8 bytes) instead of one string object per edge (~60 bytes).
    """
    import pandas as pd

    arr = np.asarray(values, dtype=str)
    if arr.size == 0:
        return np.empty(0, dtype=object)
    index, distinct = pd.factorize(arr.reshape(-1))  # hashing: a sort of a million strings took 1 s
    return np.array([str(v) for v in distinct], dtype=object)[index]


@dataclass
class WalkNetwork:
    """An undirected walking network held in flat NumPy arrays.

    Attributes
    ----------
    crs
        The local metric CRS of ``node_xy`` and ``geom_xy`` (e.g. ``"EPSG:32650"``).
    node_osmid
        OSM (or source) node id of each node, shape (N,).
    node_xy
        Node coordinates in ``crs``, shape (N, 2).
    node_lonlat
        Node coordinates in WGS84, shape (N, 2).
    edge_u, edge_v
        Node indices of each undirected edge's ends, shape (E,).
    edge_length
        Walking length of each edge in metres (the source's ``length``).
    edge_highway
        The edge's ``highway`` value (first one for merged edges), shape (E,).
    geom_offsets
        Edge ``i``'s polyline is ``geom_xy[geom_offsets[i]:geom_offsets[i+1]]``,
        running from ``edge_u[i]`` to ``edge_v[i]``.
    geom_xy
        Polyline vertices in ``crs``, shape (M, 2).
    name, source
        A display name and where the network came from.
    meta
        Free-form metadata (build date, filter, counts).
    """

    crs: str
    node_osmid: np.ndarray
    node_xy: np.ndarray
    node_lonlat: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_highway: np.ndarray
    geom_offsets: np.ndarray
    geom_xy: np.ndarray
    name: str = ""
    source: str = ""
    meta: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.edge_u.shape[0])

    def __repr__(self) -> str:
        return f"WalkNetwork({self.name or self.source!r}, {self.n_nodes:,} nodes, {self.n_edges:,} edges, {self.crs})"

    # ---------------------------------------------------------- derived data
    @cached_property
    def csr(self) -> sp.csr_matrix:
        """Symmetric CSR adjacency matrix of edge lengths, shape (N, N)."""
        n = self.n_nodes
        rows = np.concatenate([self.edge_u, self.edge_v]).astype(np.int32)
        cols = np.concatenate([self.edge_v, self.edge_u]).astype(np.int32)
        # A zero-length edge would vanish from a sparse matrix: keep it walkable.
        data = np.maximum(np.concatenate([self.edge_length, self.edge_length]), 1e-6)
        mat = sp.csr_matrix((data, (rows, cols)), shape=(n, n))
        mat.sum_duplicates()
        mat.indices = mat.indices.astype(np.int32)
        mat.indptr = mat.indptr.astype(np.int32)
        return mat

    @cached_property
    def edge_lines(self) -> np.ndarray:
        """Shapely LineStrings of the edges in the metric CRS, shape (E,)."""
        counts = np.diff(self.geom_offsets)
        index = np.repeat(np.arange(self.n_edges), counts)
        return shapely.linestrings(self.geom_xy, indices=index)

    @cached_property
    def edge_geom_length(self) -> np.ndarray:
        """Planar length of each edge polyline in the metric CRS."""
        seg = np.diff(self.geom_xy, axis=0)
        seglen = np.hypot(seg[:, 0], seg[:, 1])
        # cum[end] - cum[start] spans only the segments inside one edge
        cum = np.concatenate([[0.0], np.cumsum(seglen)])
        start = self.geom_offsets[:-1]
        end = self.geom_offsets[1:] - 1
        return cum[end] - cum[start]

    @cached_property
    def geom_cum(self) -> np.ndarray:
        """Cumulative planar distance of each vertex from its edge's start, shape (M,)."""
        seg = np.diff(self.geom_xy, axis=0)
        seglen = np.concatenate([[0.0], np.hypot(seg[:, 0], seg[:, 1])])
        cum = np.cumsum(seglen)
        starts = np.repeat(self.geom_offsets[:-1], np.diff(self.geom_offsets))
        return cum - cum[starts]

    @cached_property
    def node_tree(self):
        """KD-tree (:class:`scipy.spatial.cKDTree`) over :attr:`node_xy`."""
        from scipy.spatial import cKDTree

        return cKDTree(self.node_xy)

    @cached_property
    def incidence(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, edge ids): the edges touching node ``n`` are ``ids[indptr[n]:indptr[n+1]]``."""
        ends = np.concatenate([self.edge_u, self.edge_v])
        edges = np.concatenate([np.arange(self.n_edges), np.arange(self.n_edges)])
        order = np.argsort(ends, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=self.n_nodes))])
        return indptr, edges[order]

    @cached_property
    def strokes(self) -> Strokes:
        """Edges chained into strokes: streets that run on straight through junctions."""
        from .strokes import build_strokes

        return build_strokes(self)

    @cached_property
    def faces(self) -> StreetFaces:
        """The blocks of the street network (:func:`geo.street_faces.street_faces`)."""
        from ..street_faces import street_faces

        return street_faces(self)

    @cached_property
    def segment_index(self) -> SegmentIndex:
        """Exact nearest-segment index used by :func:`snap_xy`."""
        from .snapping import SegmentIndex

        return SegmentIndex(self)

    def release_segment_index(self) -> None:
        """Free the snapping index (a few hundred MB for a city) once every point is joined; built again on next use."""
        vars(self).pop("segment_index", None)

    @cached_property
    def transformer(self) -> tuple[pyproj.Transformer, pyproj.Transformer]:
        """(to metric, to WGS84) transformers."""
        to_metric = pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        to_wgs = pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return to_metric, to_wgs

    def to_metric(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Project WGS84 longitudes and latitudes to the network's CRS, shape (K, 2)."""
        x, y = self.transformer[0].transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])

    def to_lonlat(self, xy: np.ndarray) -> np.ndarray:
        """Project metric coordinates back to WGS84, shape (K, 2)."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        lon, lat = self.transformer[1].transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """Return the WGS84 bounding box (west, south, east, north) of the nodes."""
        lo = self.node_lonlat.min(axis=0)
        hi = self.node_lonlat.max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def edges_geodataframe(self):
        """Return the edges as a WGS84 GeoDataFrame (u, v, length, highway, geometry)."""
        import geopandas as gpd

        lonlat = self.to_lonlat(self.geom_xy)
        counts = np.diff(self.geom_offsets)
        lines = shapely.linestrings(lonlat, indices=np.repeat(np.arange(self.n_edges), counts))
        return gpd.GeoDataFrame(
            {
                "u": self.node_osmid[self.edge_u],
                "v": self.node_osmid[self.edge_v],
                "length": self.edge_length,
                "highway": self.edge_highway,
            },
            geometry=lines,
            crs="EPSG:4326",
        )

    def to_networkx(self):
        """Return an undirected ``networkx.Graph`` of node indices with ``length`` weights."""
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(self.n_nodes))
        graph.add_weighted_edges_from(
            zip(self.edge_u.tolist(), self.edge_v.tolist(), self.edge_length.tolist()),
            weight="length",
        )
        return graph

    # ------------------------------------------------------------------- I/O
    def save(self, path: str | os.PathLike, *, derived: bool = False) -> Path:
        """Write the network to a ``.lcnet`` file (atomically) and return its path.

        The file is written under a temporary name unique to this call and
        renamed over ``path`` (:func:`geo.atomic.atomic_path`), so a reader never
        sees a half-written file and two processes saving the same cache at
        once leave one complete copy.

        Parameters
        ----------
        path
            Target file.
        derived
            Find the strokes and faces now and keep them in the file (what ``lifecircle network``
            writes: 2 s of every service-area run at 500k nodes); otherwise they are kept only when
            already found, and a cache or a batch cut that never draws areas does not pay for them.
        """
        from ..atomic import atomic_path

        path = Path(path)
        header = {
            "format": "lifecircle-network",
            "version": FORMAT_VERSION,
            "crs": self.crs,
            "name": self.name,
            "source": self.source,
            "meta": self.meta,
            "derived": _derived_header(),
        }
        arrays = {
            "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            "node_osmid": self.node_osmid,
            "node_xy": self.node_xy,
            "node_lonlat": self.node_lonlat,
            "edge_u": self.edge_u,
            "edge_v": self.edge_v,
            "edge_length": self.edge_length,
            "edge_highway": self.edge_highway.astype("U"),
            "geom_offsets": self.geom_offsets,
            "geom_xy": self.geom_xy,
            **_derived_arrays(self, find=derived),
        }
        # np.savez_compressed's layout (np.load reads it), at deflate level 1, and an array whose
        # first MB does not deflate to 80 % is stored: level 6 took 26 s of a 1M-node build for files
        # 1-5 % smaller, and node coordinates and lengths barely compress at all
        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for key, value in arrays.items():
                value = np.ascontiguousarray(value)
                zf.compression = zipfile.ZIP_DEFLATED if _deflates(value) else zipfile.ZIP_STORED
                with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, value, allow_pickle=False)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> WalkNetwork:
        """Read a network written by :meth:`save`.

        Raises
        ------
        NetworkError
            Naming the file, when it is not a lifecircle network, was written
            by an incompatible version, or is truncated or corrupt (a missing
            array, a damaged archive, arrays that do not fit together).
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if not hasattr(z, "files") or "header" not in z.files:
                    raise NetworkError(f"{path.name}: not a lifecircle network file")
                header = json.loads(bytes(z["header"]).decode())
                if not isinstance(header, dict) or header.get("format") != "lifecircle-network":
                    raise NetworkError(f"{path.name}: not a lifecircle network file")
                if header.get("version") != FORMAT_VERSION:
                    raise NetworkError(
                        f"{path.name}: network file version {header.get('version')} is not "
                        f"{FORMAT_VERSION}; rebuild it with `lifecircle network`"
                    )
                missing = [k for k in _ARRAYS if k not in z.files]
                if missing:
                    raise NetworkError(
                        f"{path.name}: the network file is incomplete (no {', '.join(missing)}); "
                        "rebuild it with `lifecircle network`"
                    )
                arrays = {k: z[k] for k in _ARRAYS}
                derived = (
                    {k: z[k] for k in _DERIVED if k in z.files} if header.get("derived") == _derived_header() else {}
                )
        except NetworkError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise NetworkError(
                f"{path.name}: not a readable lifecircle network file, truncated or corrupt ({exc}); "
                "rebuild it with `lifecircle network`"
            ) from None
        _check_arrays(path, arrays)
        arrays["edge_highway"] = shared_strings(arrays["edge_highway"])
        net = cls(
            crs=str(header.get("crs", "")),
            name=header.get("name", ""),
            source=header.get("source", ""),
            meta=header.get("meta", {}),
            **arrays,
        )
        _restore_derived(path, net, derived)
        return net


def _deflates(value: np.ndarray) -> bool:
    """Whether deflate shrinks the array's first MB below 80 %."""
    sample = value.reshape(-1)[: (1 << 20) // max(value.itemsize, 1)].tobytes()
    return len(sample) < 4096 or len(zlib.compress(sample, 1)) < 0.8 * len(sample)


#: The arrays of a ``.lcnet`` file besides its JSON header.
_ARRAYS = (
    "node_osmid",
    "node_xy",
    "node_lonlat",
    "edge_u",
    "edge_v",
    "edge_length",
    "edge_highway",
    "geom_offsets",
    "geom_xy",
)


#: Derived arrays a ``.lcnet`` file keeps beside :data:`_ARRAYS` (strokes and faces: two seconds of a
#: 500k-node network's every service-area run, read back in a fraction of that), stored as int32.
_DERIVED = (
    "stroke_id",
    "stroke_position",
    "stroke_flipped",
    "face_of",
    "face_indptr",
    "face_order",
    "face_simple",
)


def _derived_header() -> dict:
    """What the derived arrays depend on besides the network: stored ones are used only when it matches."""
    from .strokes import STROKE_DEFLECTION_DEG

    return {"strokes": {"deflection_deg": STROKE_DEFLECTION_DEG}, "faces": 1}


def _derived_arrays(net: WalkNetwork, find: bool) -> dict[str, np.ndarray]:
    """The strokes and faces of ``net`` as the arrays :meth:`WalkNetwork.save` writes (found first
    with ``find``; else none unless both are found already)."""
    if not find and not ("strokes" in net.__dict__ and "faces" in net.__dict__):
        return {}
    strokes, faces = net.strokes, net.faces
    small = np.int32 if max(2 * net.n_edges, 1) < np.iinfo(np.int32).max else np.int64
    return {
        "stroke_id": strokes.stroke.astype(small),
        "stroke_position": strokes.position.astype(small),
        "stroke_flipped": strokes.flipped.astype(bool),
        "face_of": faces.face_of.astype(small),
        "face_indptr": faces.indptr.astype(small),
        "face_order": faces.order.astype(small),
        "face_simple": faces.simple.astype(bool),
    }


def _restore_derived(path: Path, net: WalkNetwork, d: dict[str, np.ndarray]) -> None:
    """Set ``net``'s strokes and faces from a file's derived arrays (older files have none: found on use)."""
    if any(k not in d for k in _DERIVED):
        return
    e = net.n_edges
    indptr, order, face_of = d["face_indptr"], d["face_order"], d["face_of"]
    n_f = indptr.size - 1
    fits = (
        all(d[k].shape == (e,) for k in ("stroke_id", "stroke_position", "stroke_flipped"))
        and face_of.shape == (2 * e,)
        and d["face_simple"].shape == (max(n_f, 0),)
        and indptr.ndim == 1
        and indptr.size >= 1
        and indptr[0] == 0
        and indptr[-1] == order.size
        and bool(np.all(np.diff(indptr) >= 0))
        and (not order.size or (order.min() >= 0 and order.max() < 2 * e))
        and (not face_of.size or (face_of.min() >= -1 and face_of.max() < n_f))
        and (not e or (d["stroke_id"].min() >= 0 and d["stroke_position"].min() >= 0))
    )
    if not fits:
        raise NetworkError(
            f"{path.name}: corrupt lifecircle network file (strokes or faces that do not match the edges); "
            "rebuild it with `lifecircle network`"
        )
    from ..street_faces import StreetFaces
    from .strokes import Strokes

    wide = {k: d[k].astype(np.int64) for k in ("stroke_id", "stroke_position", "face_of", "face_indptr", "face_order")}
    net.__dict__["strokes"] = Strokes(wide["stroke_id"], wide["stroke_position"], d["stroke_flipped"].astype(bool))
    net.__dict__["faces"] = StreetFaces(
        wide["face_of"], wide["face_indptr"], wide["face_order"], d["face_simple"].astype(bool)
    )


def _check_arrays(path: Path, a: dict[str, np.ndarray]) -> None:
    """Raise a NetworkError naming ``path`` when the arrays of a network file do not fit together."""
    n = a["node_xy"].shape[0] if a["node_xy"].ndim == 2 else -1
    e = a["edge_u"].shape[0]
    offsets = a["geom_offsets"]
    problems = []
    if a["node_xy"].ndim != 2 or a["node_lonlat"].shape != a["node_xy"].shape or a["node_osmid"].shape != (n,):
        problems.append("node arrays of different sizes")
    if any(a[k].shape != (e,) for k in ("edge_v", "edge_length", "edge_highway")):
        problems.append("edge arrays of different sizes")
    elif e and (min(a["edge_u"].min(), a["edge_v"].min()) < 0 or max(a["edge_u"].max(), a["edge_v"].max()) >= n):
        problems.append("edges that name missing nodes")
    if offsets.shape != (e + 1,) or (e and (offsets[0] != 0 or offsets[-1] != a["geom_xy"].shape[0])):
        problems.append("edge geometry that does not match the edges")
    elif e and np.any(np.diff(offsets) < 2):
        problems.append("edge geometry that does not match the edges")
    if problems:
        raise NetworkError(
            f"{path.name}: corrupt lifecircle network file ({'; '.join(problems)}); "
            "rebuild it with `lifecircle network`"
        )
