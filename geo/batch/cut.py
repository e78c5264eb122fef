"""Cut areas' walking networks out of one large OpenStreetMap extract, or out of a network.

:func:`cut_extract` reads a (province-sized) ``.osm.pbf`` in three streaming
passes with pyosmium and never holds the file: pass 1 keeps the ids of the
nodes inside each area's grown polygon, pass 2 the ``highway`` ways that touch
one of them (whole, with all their nodes), pass 3 the locations of those ways'
nodes; each area's cut is then written as a small ``.osm.pbf``.  Memory grows
with the areas, not with the extract.  Every area of one extract is cut in
the same three passes.

Each polygon is grown by a *halo* (the largest tier plus the snapping limit:
:func:`halo_m`) so that demand near the border still reaches a facility, and
walks along a street, on the other side.  Cuts are cached under a key that
hashes the extract's bytes, the grown polygon and :data:`CUT_VERSION`:
an unchanged area is never cut twice.

:func:`cut_network` cuts an in-memory :class:`~lifecircle.geo.network.WalkNetwork`
(from a ``.graphml`` or ``.lcnet``) by a polygon: every edge that meets the
polygon is kept whole, in the network's order and CRS.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyproj
import shapely

from ..errors import NetworkError

__all__ = ["CUT_VERSION", "halo_m", "grow", "cut_extract", "cut_key", "cut_network", "file_digest"]

#: Bump when the cut's content changes: old cuts are then redone.
CUT_VERSION = 1
_CHUNK = 200_000
_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (memoised per path, size and mtime within a process)."""
    p = Path(path)
    st = p.stat()
    memo = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _DIGESTS:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[memo] = h.hexdigest()
    return _DIGESTS[memo]


def halo_m(tiers_m, snap_limit_m: float) -> float:
    """The halo around an area: its largest tier plus the snapping limit, in metres."""
    return float(max(tiers_m)) + float(snap_limit_m)


def _metric(geom) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    from ..crs import local_metric_crs

    c = geom.centroid
    crs = local_metric_crs(np.array([c.x]), np.array([c.y]))
    fwd = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    back = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return fwd, back


def grow(polygon, metres: float):
    """Return a WGS84 polygon grown by ``metres`` (buffered in its local UTM zone)."""
    fwd, back = _metric(polygon)
    grown = shapely.transform(polygon, lambda c: np.column_stack(fwd.transform(c[:, 0], c[:, 1]))).buffer(
        metres, quad_segs=16
    )
    return shapely.transform(grown, lambda c: np.column_stack(back.transform(c[:, 0], c[:, 1])))


def cut_key(extract_digest: str, polygon, halo: float) -> str:
    """Cache key of one cut: the extract's bytes, the polygon and the halo."""
    h = hashlib.sha256()
    h.update(f"cut-v{CUT_VERSION}|{extract_digest}|{halo:.3f}|".encode())
    h.update(shapely.to_wkb(shapely.normalize(polygon), output_dimension=2))
    return h.hexdigest()[:24]


def cut_extract(
    extract: str | os.PathLike,
    polygons: Mapping[str, object],
    halo: Mapping[str, float] | float,
    cache_dir: str | os.PathLike,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Cut one ``.osm.pbf`` (or ``.osm``) into one small extract per area, in one streaming pass set.

    Parameters
    ----------
    extract
        The large OpenStreetMap file.
    polygons
        ``{area name: WGS84 (Multi)Polygon}``.
    halo
        Metres to grow each polygon by (one number, or per area).
    cache_dir
        Folder of the cached cuts (``<key>.osm.pbf``).
    progress
        Called with short status lines.

    Returns
    -------
    dict of str to Path
        Each area's cut file (a cached one when its key is unchanged).

    Raises
    ------
    NetworkError
        When the extract cannot be read, or an area's polygon holds no street.
    """
    import osmium

    extract = Path(extract)
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    digest = file_digest(extract)
    names = list(polygons)
    halos = {n: float(halo[n] if isinstance(halo, Mapping) else halo) for n in names}
    out = {n: cache / f"{cut_key(digest, polygons[n], halos[n])}.osm.pbf" for n in names}
    todo = [n for n in names if not out[n].exists()]
    if not todo:
        return out
    grown = [grow(polygons[n], halos[n]) for n in todo]
    for g in grown:
        shapely.prepare(g)
    boxes = np.array([g.bounds for g in grown])
    lo, hi = boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)
    say = progress or (lambda _t: None)

    # pass 1: nodes inside each grown polygon
    inside: list[list[np.ndarray]] = [[] for _ in todo]
    ids: list[int] = []
    xs: list[float] = []
    ys: list[float] = []

    def flush() -> None:
        if not ids:
            return
        a, x, y = np.asarray(ids, dtype=np.int64), np.asarray(xs), np.asarray(ys)
        for k, g in enumerate(grown):
            b = boxes[k]
            m = (x >= b[0]) & (x <= b[2]) & (y >= b[1]) & (y <= b[3])
            if m.any():
                hit = shapely.contains_xy(g, x[m], y[m])
                inside[k].append(a[m][hit])
        ids.clear()
        xs.clear()
        ys.clear()

    try:
        n_nodes = 0
        for node in cast(Iterable[Any], osmium.FileProcessor(str(extract), osmium.osm.NODE)):
            loc = node.location
            if not loc.valid():
                continue
            lon, lat = loc.lon, loc.lat
            n_nodes += 1
            if lo[0] <= lon <= hi[0] and lo[1] <= lat <= hi[1]:
                ids.append(node.id)
                xs.append(lon)
                ys.append(lat)
                if len(ids) >= _CHUNK:
                    flush()
        flush()
        node_sets = [set(np.concatenate(p).tolist()) if p else set() for p in inside]
        say(f"cut {extract.name}: pass 1 read {n_nodes:,} nodes")

        # pass 2: highway ways touching an area (kept whole)
        ways: list[list[tuple[int, list[int], dict]]] = [[] for _ in todo]
        needed: list[set[int]] = [set() for _ in todo]
        n_ways = 0
        processor = osmium.FileProcessor(str(extract), osmium.osm.WAY).with_filter(osmium.filter.KeyFilter("highway"))
        for way in cast(Iterable[Any], processor):
            n_ways += 1
            refs = [nd.ref for nd in way.nodes]
            tags = None
            for k, s in enumerate(node_sets):
                if s and not s.isdisjoint(refs):
                    if tags is None:
                        tags = {t.k: t.v for t in way.tags}
                    ways[k].append((way.id, refs, tags))
                    needed[k].update(refs)
        say(f"cut {extract.name}: pass 2 read {n_ways:,} highway ways")

        # pass 3: locations of the kept ways' nodes
        all_needed = set().union(*needed)
        where: dict[int, tuple[float, float]] = {}
        for node in cast(Iterable[Any], osmium.FileProcessor(str(extract), osmium.osm.NODE)):
            if node.id in all_needed and node.location.valid():
                where[node.id] = (node.location.lon, node.location.lat)
    except RuntimeError as exc:
        raise NetworkError(f"{extract.name}: not a readable OpenStreetMap file ({exc})") from None

    for k, name in enumerate(todo):
        if not ways[k]:
            raise NetworkError(
                f"{extract.name}: no street inside the boundary of area {name!r} (grown by {halos[name]:g} m); "
                "check that the boundary lies in the extract"
            )
        _write_cut(out[name], sorted(needed[k]), where, sorted(ways[k], key=lambda w: w[0]))
        say(f"cut {name}: {len(ways[k]):,} ways, {len(needed[k]):,} nodes -> {out[name].name}")
    return out


def _write_cut(path: Path, node_ids: list[int], where: Mapping[int, tuple[float, float]], ways: list) -> None:
    """Write nodes then ways to ``path`` atomically."""
    import osmium

    fd, tmp = tempfile.mkstemp(prefix=".cut.", suffix=".osm.pbf", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # osmium refuses to overwrite
    try:
        with osmium.SimpleWriter(tmp) as writer:
            for nid in node_ids:
                if nid in where:
                    writer.add_node(osmium.osm.mutable.Node(id=nid, location=where[nid], version=1))
            for wid, refs, tags in ways:
                writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags, version=1))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cut_network(net, polygon_metric, *, name: str | None = None, return_edges: bool = False):
    """Return the sub-network of the edges that meet ``polygon_metric`` (in ``net.crs``).

    Edges are kept whole and in their order; nodes keep their relative order, the CRS is
    unchanged, so distances inside the cut equal the network's for every walk that stays in it.

    Parameters
    ----------
    net
        A :class:`~lifecircle.geo.network.WalkNetwork`.
    polygon_metric
        A shapely geometry in ``net.crs``.
    name
        The cut's name (default: the network's).
    return_edges
        Also return the kept edges' indices in ``net`` (the cut's edge ``i`` is ``net``'s ``edges[i]``).
    """
    from ..network import WalkNetwork, shared_strings

    tree = shapely.STRtree(net.edge_lines)
    keep = np.zeros(net.n_edges, dtype=bool)
    keep[tree.query(polygon_metric, predicate="intersects")] = True
    edges = np.flatnonzero(keep)
    if edges.size == 0:
        raise NetworkError(f"{name or net.name}: no street inside the polygon")
    nodes = np.unique(np.concatenate([net.edge_u[edges], net.edge_v[edges]]))
    new_index = np.full(net.n_nodes, -1, dtype=np.int64)
    new_index[nodes] = np.arange(nodes.size)
    starts, ends = net.geom_offsets[edges], net.geom_offsets[edges + 1]
    counts = ends - starts
    take = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)])
    sub = WalkNetwork(
        crs=net.crs,
        node_osmid=net.node_osmid[nodes],
        node_xy=net.node_xy[nodes],
        node_lonlat=net.node_lonlat[nodes],
        edge_u=new_index[net.edge_u[edges]].astype(net.edge_u.dtype),
        edge_v=new_index[net.edge_v[edges]].astype(net.edge_v.dtype),
        edge_length=net.edge_length[edges],
        edge_highway=shared_strings(net.edge_highway[edges].tolist()),
        geom_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(net.geom_offsets.dtype),
        geom_xy=net.geom_xy[take],
        name=name if name is not None else net.name,
        source=net.source,
        meta={**net.meta, "cut_of": net.name or net.source},
    )
    return (sub, edges) if return_edges else sub
