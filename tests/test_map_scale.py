"""The map at city scale (issue 15, layers/tiles.py and apps/web/tiles.py) against independent references.

Street tiles against shapely's segment-pixel intersections, area tiles against shapely's
point-in-polygon of the pixel centres, clusters and label zooms against brute force, the
residents' payload against its input; and one browser test: a small city whose first view is
clustered (clusters, tiles, thinned labels) and whose zoomed-in view draws the facilities.
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest
import shapely

from apps.web import tiles as served
from geo.synthetic import street_grid
from layers import tiles

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def grid():
    return street_grid(3000, seed=8)


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """Tile of a point, by the Web Mercator formula written out (an independent reference)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def _segments_in_pixels(st: tiles.StreetTiles, z: int, x: int, y: int, rows: np.ndarray) -> np.ndarray:
    w = 2.0**z * tiles.TILE
    return st.xy[rows] * w - np.array([x, y, x, y], dtype=float) * tiles.TILE


def test_tile_bounds_and_mercator_agree_with_the_formula():
    for lon, lat, z in [(114.06, 22.55, 15), (-0.1, 51.5, 12), (139.7, 35.7, 18)]:
        x, y = _tile_of(lon, lat, z)
        west, south, east, north = tiles.tile_bounds(z, x, y)
        assert west <= lon < east and south <= lat < north
        mx, my = tiles.mercator(lon, lat)
        assert (int(mx * 2**z), int(my * 2**z)) == (x, y)


@pytest.mark.parametrize("z", [13, 15, 17])
def test_street_tile_selection_holds_every_segment_crossing_the_tile(grid, z):
    st = tiles.StreetTiles.from_network(grid)
    lonlat = grid.to_lonlat(grid.node_xy[len(grid.node_xy) // 2 : len(grid.node_xy) // 2 + 1])[0]
    x, y = _tile_of(lonlat[0], lonlat[1], z)
    p = _segments_in_pixels(st, z, x, y, np.arange(len(st.xy)))
    lines = shapely.linestrings(p.reshape(-1, 2, 2))
    crossing = set(np.flatnonzero(shapely.intersects(lines, shapely.box(0, 0, tiles.TILE, tiles.TILE))).tolist())
    assert crossing, "the test tile holds streets"
    assert crossing <= set(st.select(z, x, y).tolist())


@pytest.mark.parametrize("z", [14, 16, 18])
def test_street_tile_pixels_are_those_the_segments_cross(grid, z):
    st = tiles.StreetTiles.from_network(grid)
    lonlat = grid.to_lonlat(grid.node_xy[100:101])[0]
    x, y = _tile_of(lonlat[0], lonlat[1], z)
    counts = st.counts(z, x, y)
    # reference: pixels whose square any segment intersects (shapely)
    rows = st.select(z, x, y)
    lines = shapely.linestrings(_segments_in_pixels(st, z, x, y, rows).reshape(-1, 2, 2))
    iy, ix = np.mgrid[0 : tiles.TILE, 0 : tiles.TILE]
    boxes = shapely.box(ix.ravel(), iy.ravel(), ix.ravel() + 1, iy.ravel() + 1)
    tree = shapely.STRtree(lines)
    pix, _ = tree.query(boxes, predicate="intersects")
    ref = np.zeros(tiles.TILE * tiles.TILE, dtype=bool)
    ref[pix] = True
    ref = ref.reshape(tiles.TILE, tiles.TILE)
    got = counts > 0
    assert got.any()
    assert not (got & ~ref).any(), "a pixel no segment crosses was drawn"
    missed = ref & ~got  # corners a segment only grazes: each next to a drawn pixel
    near = got.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            near |= np.roll(np.roll(got, dy, 0), dx, 1)
    assert not (missed & ~near).any()
    assert got.sum() >= 0.85 * ref.sum()
    # the count of a pixel is the number of distinct segments crossing it, at most
    per_pixel = np.bincount(pix, minlength=tiles.TILE * tiles.TILE).reshape(tiles.TILE, tiles.TILE)
    assert (counts <= per_pixel).all()


def test_area_tile_mask_is_the_union_with_holes_kept_per_polygon():
    # two overlapping squares; the first has a hole that lies inside the second: the union has no hole there
    z, x, y = 16, 53416, 28532
    west, south, east, north = tiles.tile_bounds(z, x, y)
    dx, dy = east - west, north - south

    def box(a, b, c, d):
        return shapely.box(west + a * dx, south + b * dy, west + c * dx, south + d * dy)

    a = shapely.Polygon(box(0.1, 0.1, 0.6, 0.6).exterior, [box(0.45, 0.2, 0.55, 0.3).exterior.coords[::-1]])
    hole_a = shapely.Polygon(box(0.2, 0.2, 0.3, 0.3).exterior)
    a = a.difference(hole_a)  # a second hole, outside b
    b = box(0.4, 0.15, 0.9, 0.5)
    c = shapely.Point(west + 0.5 * dx, south + 0.8 * dy).buffer(0.12 * dx, 64)  # a curved edge
    at = tiles.AreaTiles(
        np.array([a, b, c], dtype=object), ["k", "k", "k"], [300.0] * 3, {"k": "#1565c0"}, {300.0: 0.3}
    )
    mask = at.mask(np.arange(3), z, x, y, margin=0) > 127
    # reference: pixel centres inside the union (shapely)
    w = 2.0**z * tiles.TILE
    iy, ix = np.mgrid[0 : tiles.TILE, 0 : tiles.TILE] + 0.5
    mx, my = (x * tiles.TILE + ix) / w, (y * tiles.TILE + iy) / w
    lon = mx * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(np.pi * (1 - 2 * my))))
    union = shapely.union_all([a, b, c])
    ref = shapely.contains_xy(union, lon.ravel(), lat.ravel()).reshape(mask.shape)
    px = dx / tiles.TILE
    edge = (shapely.distance(union.boundary, shapely.points(lon.ravel(), lat.ravel())) < 1.5 * px).reshape(mask.shape)
    assert ref.sum() > 10_000
    assert not ((mask != ref) & ~edge).any(), "a pixel away from the outline differs from shapely's union"
    assert (mask != ref).sum() < 0.02 * ref.sum()
    # the hole of a inside b stays covered; the hole outside b stays open
    cx, cy = int(0.5 * tiles.TILE), int((1 - 0.25) * tiles.TILE)
    assert mask[cy, cx] and ref[cy, cx]
    hx, hy = int(0.25 * tiles.TILE), int((1 - 0.25) * tiles.TILE)
    assert not mask[hy, hx] and not ref[hy, hx]


def test_area_tiles_render_the_tier_opacities():
    import io

    from PIL import Image

    z, x, y = 15, 26708, 14266
    west, south, east, north = tiles.tile_bounds(z, x, y)
    big = shapely.box(west - 1, south - 1, east + 1, north + 1)  # covers the whole tile
    at = tiles.AreaTiles(
        np.array([big, big], dtype=object), ["k", "k"], [300.0, 1000.0], {"k": "#ff0000"}, {300.0: 0.3, 1000.0: 0.1}
    )
    rgba = np.asarray(Image.open(io.BytesIO(at.render("k", [300.0, 1000.0], z, x, y))))
    a = rgba[128, 128, 3] / 255.0
    assert a == pytest.approx(0.3 + 0.1 * (1 - 0.3), abs=0.01)  # 300 m over 1000 m, alpha compositing
    assert tuple(rgba[128, 128, :3]) == (255, 0, 0)
    only = np.asarray(Image.open(io.BytesIO(at.render("k", [1000.0], z, x, y))))
    assert only[128, 128, 3] / 255.0 == pytest.approx(0.1, abs=0.01)
    assert at.render("other", [300.0], z, x, y) == tiles.EMPTY_PNG


def test_clusters_match_a_brute_force_grid():
    rng = np.random.default_rng(3)
    lon, lat = 114.0 + rng.random(800) * 0.3, 22.5 + rng.random(800) * 0.3
    for z in (9, 11, 13):
        cells, inv = tiles.cluster_points(lon, lat, z)
        ref: dict[tuple[int, int], list[int]] = {}
        scale = 2**z * tiles.TILE / tiles.CLUSTER_CELL_PX
        for i, (a, b) in enumerate(zip(lon, lat)):
            mx = (a + 180.0) / 360.0
            my = (1.0 - math.asinh(math.tan(math.radians(b))) / math.pi) / 2.0
            ref.setdefault((math.floor(mx * scale), math.floor(my * scale)), []).append(i)
        got: dict[tuple[int, int], list[int]] = {}
        for i, c in enumerate(inv):
            got.setdefault(tuple(int(v) for v in cells[c]), []).append(i)
        assert got == ref


def test_facility_clusters_partition_the_facilities_per_zoom():
    rng = np.random.default_rng(5)
    n = 400
    lon, lat = 114.0 + rng.random(n) * 0.2, 22.5 + rng.random(n) * 0.2
    kinds = np.array(["park", "clinic"])[rng.integers(0, 2, n)]
    ids = [f"F{i}" for i in range(n)]
    data = json.loads(tiles.facility_clusters(lon, lat, kinds, ids))
    assert data["below"] == tiles.CLUSTER_BELOW_ZOOM
    for z, rows in data["levels"].items():
        members = [i for row in rows for i in row[3]]
        assert sorted(members) == sorted(ids)
        for clon, clat, counts, idx in rows:
            pick = np.array([int(i[1:]) for i in idx])
            assert sum(counts.values()) == len(idx)
            assert counts == {k: int((kinds[pick] == k).sum()) for k in set(kinds[pick])}
            assert clon == pytest.approx(lon[pick].mean(), abs=1e-6) and clat == pytest.approx(
                lat[pick].mean(), abs=1e-6
            )
        assert len(rows) < n or int(z) >= 13
    assert tiles.facility_clusters(lon[:10], lat[:10], kinds[:10], ids[:10]) == "{}"


def test_label_zooms_show_no_overlapping_labels():
    rng = np.random.default_rng(9)
    n = 120
    lon, lat = 114.0 + rng.random(n) * 0.25, 22.5 + rng.random(n) * 0.25
    texts = [f"社区{i}" for i in range(n)]
    zooms = list(range(10, 19))
    lz = tiles.label_min_zoom(lon, lat, texts, zooms)
    assert (lz <= 18).all() and (lz >= 10).all()
    assert (lz > 10).any(), "the city view thins the labels"
    for z in zooms[:-1]:
        shown = np.flatnonzero(lz <= z)
        boxes = tiles._label_boxes(lon, lat, texts, z)[shown]
        polys = shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3])
        tree = shapely.STRtree(polys)
        a, b = tree.query(polys, predicate="intersects")
        overlapping = [(i, j) for i, j in zip(a, b) if i != j and polys[i].intersection(polys[j]).area > 0]
        assert not overlapping, f"labels overlap at zoom {z}"
    # a label shown at zoom z is shown at every larger zoom: the property is a threshold
    assert (lz[:, None] <= np.array(zooms)[None, :]).sum(axis=1).tolist() == [18 - v + 1 for v in lz]


def test_points_payload_round_trips():
    rng = np.random.default_rng(2)
    lon, lat = 114.0 + rng.random(500) * 0.3, 22.5 + rng.random(500) * 0.3
    w = rng.integers(1, 6, 500).astype(float)
    w[3] = 2.5
    ids = [f"R{i}" for i in range(500)]
    data = json.loads(tiles.points_payload(lon, lat, ids, ids, w))
    assert data["n"] == 500 and data["name"] is None and data["id"] is None and data["id_seq"] == ["R", 0]

    def u32(text):
        assert text.startswith("b64u32:")
        return np.frombuffer(base64.b64decode(text[7:]), "<u4").astype(float)

    x = data["x0"] + data["q"] * u32(data["x"])
    y = data["y0"] + data["q"] * u32(data["y"])
    assert np.abs(x - lon).max() <= 6e-7 and np.abs(y - lat).max() <= 6e-7
    assert data["w"] == w.tolist()
    named = json.loads(tiles.points_payload(lon, lat, ids, ["<b>x</b>"] * 500, w))
    assert named["name"][0] == "<b>x</b>"
    odd = ids[:3] + ["X9"] + ids[4:]
    assert json.loads(tiles.points_payload(lon, lat, odd, None, w))["id"] == odd
    padded = [f"B{i:04d}" for i in range(500)]  # zero-padded numbers are not a plain sequence
    assert json.loads(tiles.points_payload(lon, lat, padded, None, w))["id"] == padded


class _StubWorkspace:
    """What MapTiles reads of a workspace before any index is built."""

    areas = None
    tiers = (300.0,)

    def __init__(self, net) -> None:
        self.net = net


def test_map_tiles_refuse_unknown_layers_and_tiles(grid):
    mt = served.MapTiles(_StubWorkspace(grid))
    for args in [("nope", "wgs84", 10, 0, 0), ("streets", "epsg", 10, 0, 0), ("streets", "wgs84", 10, 1024, 0)]:
        with pytest.raises(KeyError):
            mt.render(*args)
    assert mt.url("streets", "wgs84").startswith(f"/{tiles.ROUTE}/{mt.token}/streets/wgs84/")


def test_tile_renders_wait_while_a_map_event_is_handled(grid):
    import threading

    mt = served.MapTiles(_StubWorkspace(grid))
    finished: list[float] = []

    def render_unknown() -> None:
        with pytest.raises(KeyError):
            mt.render("nope", "wgs84", 10, 0, 0)  # waits for the event, then finds no such layer
        finished.append(time.monotonic())

    with mt.foreground():
        worker = threading.Thread(target=render_unknown)
        worker.start()
        time.sleep(0.2)
        assert not finished, "a tile render started while a click was handled"
        released = time.monotonic()
    worker.join(2)
    assert finished and finished[0] >= released
    # never starved: a render waits at most its limit, even while events keep coming
    with mt.foreground():
        t0 = time.monotonic()
        mt.wait_for_foreground(longest_s=0.1)
        assert 0.09 <= time.monotonic() - t0 < 1.0
    t0 = time.monotonic()
    mt.wait_for_foreground()
    assert time.monotonic() - t0 < 0.05, "no event: no wait"


# ------------------------------------------------------------------ a small city in the browser
def _write_small_city(folder: Path) -> Path:
    import geopandas as gpd
    import pandas as pd

    from geo.synthetic import random_points_near

    net = street_grid(33_000, seed=21)
    assert net.n_edges >= tiles.CITY_EDGES
    net.save(folder / "city.lcnet")
    rng = np.random.default_rng(21)
    fac = net.to_lonlat(random_points_near(net, 360, seed=22, jitter=15.0))
    pd.DataFrame(
        {
            "id": [f"F{i}" for i in range(len(fac))],
            "name": [f"设施{i}" for i in range(len(fac))],
            "kind": np.array(["micro_station", "clinic", "park"])[rng.integers(0, 3, len(fac))],
            "lon": fac[:, 0],
            "lat": fac[:, 1],
        }
    ).to_csv(folder / "facilities.csv", index=False)
    res = net.to_lonlat(random_points_near(net, 25_000, seed=23, jitter=30.0))
    pd.DataFrame(
        {
            "id": [f"R{i}" for i in range(len(res))],
            "population": rng.integers(1, 5, len(res)),
            "lon": res[:, 0],
            "lat": res[:, 1],
        }
    ).to_csv(folder / "residents.csv", index=False)
    lo, hi = net.node_xy.min(axis=0) - 40, net.node_xy.max(axis=0) + 40
    xs, ys = np.linspace(lo[0], hi[0], 7), np.linspace(lo[1], hi[1], 7)
    boxes = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(6) for j in range(6)]
    gpd.GeoDataFrame(
        {"id": [f"C{i}" for i in range(36)], "name": [f"第{i}社区居委会" for i in range(36)]},
        geometry=boxes,
        crs=net.crs,
    ).to_crs("EPSG:4326").to_file(folder / "communities.geojson", driver="GeoJSON")
    toml = folder / "project.toml"
    toml.write_text(
        'title = "small city"\ncrs = "wgs84"\ntiers = [300, 1000]\nnetwork = "city.lcnet"\n'
        'facilities = "facilities.csv"\ndemand = "residents.csv"\ncommunities = "communities.geojson"\n',
        encoding="utf-8",
    )
    return toml


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="/usr/bin/chromium is missing")
def test_city_view_is_clustered_and_zooming_in_shows_the_facilities(tmp_path):
    pw = pytest.importorskip("playwright.sync_api")
    from tests.browser import (
        CHROMIUM,
        LAUNCH_ARGS,
        AppServer,
        Guard,
        add_mode,
        add_station,
        server_errors,
    )

    toml = _write_small_city(tmp_path)
    env = dict(os.environ, LIFECIRCLE_CACHE=str(tmp_path / "cache"))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    server = AppServer(["serve", str(toml)], env, timeout=240)
    shots = ROOT / "tests" / "artifacts"
    shots.mkdir(parents=True, exist_ok=True)
    guard = Guard()
    try:
        with pw.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            guard.attach(page)
            page.goto(server.url)
            page.wait_for_selector(".lc-map[data-ready='1']", state="attached", timeout=120_000)

            def until(pred, what, timeout=60.0):
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    if pred():
                        return
                    time.sleep(0.1)
                raise AssertionError(f"timed out waiting for {what}")

            until(lambda: page.locator(".lc-cluster").count() > 0, "facility clusters at the city view")
            until(lambda: page.locator("img.leaflet-tile-loaded").count() > 4, "street and area tiles")
            until(
                lambda: int(page.locator("canvas.lc-points").first.get_attribute("data-drawn") or 0) > 20_000,
                "residents",
            )
            clusters = page.locator(".lc-cluster").count()
            singles = page.locator(".lc-fac").count()
            assert clusters + singles < 360, "the city view draws fewer marks than facilities"
            total = sum(int(t.replace(",", "")) for t in page.locator(".lc-cluster").all_inner_texts()) + singles
            assert total == 360, "clusters and single facilities account for every facility"
            labels_city = page.locator(".lc-unit-label").count()
            assert 0 < labels_city < 36, "labels are thinned at the city view"
            until(
                lambda: (
                    page.locator("img.leaflet-tile-loaded[src*='/gaps/']").count() > 0
                    and page.locator("img.leaflet-tile:not(.leaflet-tile-loaded)").count() == 0
                ),
                "the gaps' tiles",
            )
            srcs = page.eval_on_selector_all("img.leaflet-tile", "els => els.map(e => e.src)")
            assert all(any(f"/{k}/" in s for s in srcs) for k in ("streets", "areas", "gaps"))
            time.sleep(0.5)
            page.screenshot(path=str(shots / "city_view_clustered.png"))
            # zoom in on the middle: the facilities are drawn one by one, no clusters
            box = page.locator(".lc-map").first.bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            for _ in range(12):  # wheel steps until the clusters give way (zoom 14)
                if page.locator(".lc-cluster").count() == 0:
                    break
                page.mouse.move(cx, cy)
                page.mouse.wheel(0, -100)
                time.sleep(0.6)
            until(
                lambda: page.locator(".lc-cluster").count() == 0 and page.locator(".lc-fac").count() > 0, "facilities"
            )
            until(lambda: page.locator("img.leaflet-tile:not(.leaflet-tile-loaded)").count() == 0, "tiles at the zoom")
            # markers hide while a zoom animates (no CSS transition each), and a pan that leaves the drawn
            # half-view around the view redraws the facilities keeping the nodes of those that stay
            icons = ".lc-fac-icon"
            assert page.eval_on_selector_all(
                icons, "els => els.every(e => e.classList.contains('leaflet-zoom-hide'))"
            ), "facility markers are not zoom-animated one by one"
            kept_before = page.eval_on_selector_all(icons, "els => els.map(e => { e.__lcKept = true; return e.title })")
            page.mouse.move(cx + 0.4 * box["width"], cy)
            page.mouse.down()
            page.mouse.move(cx - 0.4 * box["width"], cy, steps=10)
            page.mouse.up()
            time.sleep(1.0)
            after = page.eval_on_selector_all(icons, "els => els.map(e => [e.title, !!e.__lcKept])")
            stayed = [kept for title, kept in after if title in set(kept_before)]
            assert stayed and all(stayed), "a facility still in view keeps its marker's node across the redraw"
            assert any(not kept for _, kept in after) or len(after) < len(kept_before), "the pan redrew the facilities"
            page.mouse.move(cx - 0.4 * box["width"], cy)  # back to the view the station is added in
            page.mouse.down()
            page.mouse.move(cx + 0.4 * box["width"], cy, steps=10)
            page.mouse.up()
            until(lambda: page.locator("img.leaflet-tile:not(.leaflet-tile-loaded)").count() == 0, "tiles back")
            # hovering a resident shows its tooltip (the nearest drawn point)
            time.sleep(0.5)
            page.screenshot(path=str(shots / "city_view_zoomed.png"))
            # a station added here: its figures at once, then this session's own gaps (traced off the server's loop)
            before = set(page.eval_on_selector_all("img.leaflet-tile[src*='/gaps/']", "els => els.map(e => e.src)"))
            colours = page.locator("canvas.lc-points").first.get_attribute("data-classes")
            add_mode(page)
            n = add_station(page, 0.5, 0.5)
            assert n == 1
            # the residents' colours follow the figures in the next message (a city): they change too
            until(
                lambda: page.locator("canvas.lc-points").first.get_attribute("data-classes") != colours,
                "the residents recoloured after the added station",
            )
            until(
                lambda: bool(
                    set(
                        page.eval_on_selector_all(
                            "img.leaflet-tile-loaded[src*='/gaps/']", "els => els.map(e => e.src)"
                        )
                    )
                    - before
                ),
                "the session's gap tiles after the added station",
            )
            browser.close()
    finally:
        errors = server_errors(server.stop())
    guard.check()
    assert not errors, errors[0][-3000:]


def test_low_zoom_streets_come_from_the_base_raster_of_the_same_pixels(grid):
    st = tiles.StreetTiles.from_network(grid)
    lonlat = grid.to_lonlat(grid.node_xy[200:201])[0]
    x, y = _tile_of(lonlat[0], lonlat[1], tiles.BASE_ZOOM)
    counts = st.counts(tiles.BASE_ZOOM, x, y)
    base = st.grids[False].block(tiles.BASE_ZOOM, x, y) + st.grids[True].block(tiles.BASE_ZOOM, x, y)
    assert counts.sum() > 100
    assert (np.abs(base - counts) > 0).mean() < 0.001  # the same sampling, one raster for the whole network
    # a tile one zoom out sums the four tiles of the base zoom under it
    px, py = x // 2, y // 2
    quad = sum(st.grids[False].block(tiles.BASE_ZOOM, 2 * px + i, 2 * py + j).sum() for i in (0, 1) for j in (0, 1))
    assert st.grids[False].block(tiles.BASE_ZOOM - 1, px, py).sum() == pytest.approx(quad)


def test_low_zoom_area_tiles_cover_the_polygon_share_of_each_pixel():
    import io

    from PIL import Image

    z = 11
    x, y = _tile_of(114.06, 22.55, z)
    west, south, east, north = tiles.tile_bounds(z, x, y)
    dx, dy = east - west, north - south
    poly = shapely.Point(west + 0.4 * dx, south + 0.5 * dy).buffer(0.25 * dx, 64)
    at = tiles.AreaTiles(np.array([poly], dtype=object), ["k"], [300.0], {"k": "#000000"}, {300.0: 0.5})
    rgba = np.asarray(Image.open(io.BytesIO(at.render("k", [300.0], z, x, y)))).astype(float)
    share = rgba[..., 3] / 255.0 / 0.5

    # reference: the polygon's area share of the tile in Web Mercator (shapely), against the mean coverage
    def merc(g):
        return shapely.transform(g, lambda xy: np.column_stack(tiles.mercator(xy[:, 0], xy[:, 1])))

    tile = merc(shapely.box(west, south, east, north))
    assert share.mean() == pytest.approx(merc(poly).intersection(tile).area / tile.area, rel=0.02)
    assert share.max() == pytest.approx(1.0, abs=0.01)


def test_packed_gap_polygons_decode_to_the_same_geometry():
    from layers import maplayers as lml

    a = shapely.Point(114.05, 22.55).buffer(0.004).difference(shapely.Point(114.05, 22.55).buffer(0.001))
    b = shapely.MultiPolygon([shapely.box(114.1, 22.5, 114.11, 22.51), shapely.box(114.12, 22.5, 114.13, 22.52)])
    data = json.loads(lml.packed_polygons(np.array([a, b], dtype=object), [{"rank": 1}, {"rank": 2}]))
    d = np.cumsum(np.array(data["d"], dtype=np.int64).reshape(-1, 2), axis=0) * data["q"]
    k, got = 0, []
    for polys in data["rings"]:  # the decoding the map's script does
        parts = []
        for counts in polys:
            rings = []
            for n in counts:
                rings.append(d[k : k + n])
                k += n
            parts.append(shapely.Polygon(rings[0], rings[1:]))
        got.append(shapely.MultiPolygon(parts))
    assert k == len(d) and [p["rank"] for p in data["props"]] == [1, 2]
    for ref, g in zip([a, b], got):
        assert shapely.hausdorff_distance(ref, g) <= lml.PACK_Q  # within the quantum (about 1 m)
        assert g.area == pytest.approx(ref.area, rel=1e-2)
    assert len(lml.packed_polygons(np.array([a], dtype=object), [{}])) < 0.5 * len(lml.feature_collection([a], [{}]))


def test_area_rings_fill_the_small_holes_as_the_vector_map_does():
    from layers.geojson import fill_small_holes
    from layers.maplayers import DISPLAY_HOLE_M2

    outer = shapely.Point(114.05, 22.55).buffer(0.01)
    small = shapely.Point(114.048, 22.55).buffer(0.0003)  # about 1,000 m²
    big = shapely.Point(114.055, 22.55).buffer(0.002)  # about 45,000 m²
    poly = outer.difference(small).difference(big)
    rings = tiles._polygon_rings(np.array([poly], dtype=object), DISPLAY_HOLE_M2)
    ref = fill_small_holes(np.array([poly], dtype=object), DISPLAY_HOLE_M2)[0]
    assert len(rings[0]) == 1 and len(rings[0][0][1]) == len(ref.interiors) == 1
    ext = rings[0][0][0]
    mx, my = tiles.mercator(*np.asarray(ref.exterior.coords).T)
    assert np.allclose(ext, np.column_stack([mx, my]))


def test_published_gaps_are_served_as_tiles_of_their_polygons(grid):
    import io

    import geopandas as gpd
    from PIL import Image

    z, x, y = 14, 13349, 7134
    west, south, east, north = tiles.tile_bounds(z, x, y)
    dx, dy = east - west, north - south
    gap = shapely.box(west + 0.2 * dx, south + 0.3 * dy, west + 0.7 * dx, south + 0.6 * dy)
    frame = gpd.GeoDataFrame({"rank": [1]}, geometry=[gap], crs="EPSG:4326")
    mt = served.MapTiles(_StubWorkspace(grid))
    url = mt.publish_gaps(frame)
    key = url.split("set=")[1]
    rgba = np.asarray(Image.open(io.BytesIO(mt.render("gaps", "wgs84", z, x, y, kind=key)))).astype(float)
    inside = rgba[..., 3] > 0
    # reference: the box's pixels (shapely bounds in tile pixels), outline included
    cols = np.flatnonzero(inside.any(axis=0))
    rows = np.flatnonzero(inside.any(axis=1))
    assert abs(cols[0] - 0.2 * 256) <= 1.5 and abs(cols[-1] - 0.7 * 256) <= 1.5
    assert abs(rows[0] - 0.4 * 256) <= 1.5 and abs(rows[-1] - 0.7 * 256) <= 1.5
    assert rgba[140, 115, 3] / 255 == pytest.approx(0.22, abs=0.01)
    for _ in range(tiles.GAP_SETS):
        mt.publish_gaps(frame)
    with pytest.raises(KeyError):  # the oldest sets give way
        mt.render("gaps", "wgs84", z, x, y, kind=key)


def test_a_large_polygon_with_holes_renders_at_high_zoom_in_tile_sized_memory(monkeypatch):
    from PIL import Image

    z, x, y = 19, 427328, 228256
    west, south, east, north = tiles.tile_bounds(z, x, y)
    dx = east - west
    outer = shapely.box(west - 3000 * dx, south - 3000 * dx, east + 3000 * dx, north + 3000 * dx)  # ~ 600k px wide
    poly = outer.difference(shapely.box(west + 0.25 * dx, south + 0.25 * dx, west + 0.75 * dx, south + 0.75 * dx))
    at = tiles.AreaTiles(np.array([poly], dtype=object), ["k"], [300.0], {"k": "#000000"}, {300.0: 0.3}, base=False)
    sizes = []
    new = Image.new
    monkeypatch.setattr(Image, "new", lambda mode, size, *a, **k: sizes.append(size) or new(mode, size, *a, **k))
    mask = at.mask(np.arange(1), z, x, y, margin=0) > 127
    assert max(w * h for w, h in sizes) <= 258 * 258  # every image drawn is at most the tile (with its margin)
    assert mask[10, 10] and not mask[128, 128]  # covered, except the hole in the middle of the tile


def test_complete_view_missing_texts_pack_to_the_same_list():
    from layers import maplayers

    rng = np.random.default_rng(5)
    choices = ["", "卫生服务站", "卫生服务站、幼儿园", "<b>x</b>"]
    texts = [choices[i] for i in rng.integers(0, len(choices), 5000)]
    assert json.loads(maplayers.demand_missing(texts)) == texts
    data = json.loads(maplayers.demand_missing(texts, packed=True))
    kind, code = data["index"].split(":", 1)
    assert kind == "b64u32" and len(data["texts"]) == len(set(texts))
    index = np.frombuffer(base64.b64decode(code), dtype="<u4")
    assert [data["texts"][k] for k in index.tolist()] == texts


def test_published_data_is_served_gzipped_once_and_unchanged():
    import gzip

    t = served.MapTiles(ws=None)
    text = json.dumps({"n": 3, "name": ["社区", "<b>x</b>", ""]}, ensure_ascii=False)
    url = t.publish_data("demand_points-wgs84", text)
    assert url == f"/{served.ROUTE}/{t.token}/data/demand_points-wgs84.json"
    raw, packed = t.data_bytes("demand_points-wgs84")
    assert raw.decode("utf-8") == text and gzip.decompress(packed) == raw
    assert t.publish_data("demand_points-wgs84", "other") == url  # published once per name
    assert t.data_bytes("demand_points-wgs84")[0] == raw
    with pytest.raises(KeyError):
        t.data_bytes("missing")


def test_a_polygon_with_holes_over_many_tiles_keeps_each_tiles_holes():
    """Only the holes near a tile are drawn into it (a city's gaps have thousands): each tile of a
    polygon spread over 3 x 3 tiles with 400 holes, some straddling tile edges, agrees with shapely."""
    z, x, y = 15, 26708, 14266
    west, south, _e, _n = tiles.tile_bounds(z, x - 1, y + 1)
    _w, _s, east, north = tiles.tile_bounds(z, x + 1, y - 1)
    rng = np.random.default_rng(7)
    cx = rng.uniform(west + 0.02 * (east - west), east - 0.02 * (east - west), 400)
    cy = rng.uniform(south + 0.02 * (north - south), north - 0.02 * (north - south), 400)
    r = 0.006 * (east - west)
    holes = shapely.union_all(shapely.buffer(shapely.points(cx, cy), r, 4))
    outer = shapely.box(west - r, south - r, east + r, north + r)
    poly = outer.difference(holes)
    poly = max(shapely.get_parts(poly), key=shapely.area) if poly.geom_type == "MultiPolygon" else poly
    assert len(poly.interiors) > 100
    at = tiles.AreaTiles(np.array([poly], dtype=object), ["k"], [300.0], {"k": "#000000"}, {300.0: 0.3}, base=False)
    w = 2.0**z * tiles.TILE
    for tx in (x - 1, x, x + 1):
        for ty in (y - 1, y, y + 1):
            mask = at.mask(np.array([0]), z, tx, ty, margin=0) > 127
            iy, ix = np.mgrid[0 : tiles.TILE, 0 : tiles.TILE] + 0.5
            mx, my = (tx * tiles.TILE + ix) / w, (ty * tiles.TILE + iy) / w
            lon = (mx * 360.0 - 180.0).ravel()
            lat = np.degrees(np.arctan(np.sinh(np.pi * (1 - 2 * my)))).ravel()
            ref = shapely.contains_xy(poly, lon, lat).reshape(mask.shape)
            px = (east - west) / 3 / tiles.TILE
            edge = (shapely.distance(poly.boundary, shapely.points(lon, lat)) < 1.5 * px).reshape(mask.shape)
            assert (~ref).sum() > 500, "the tile sees holes"
            assert not ((mask != ref) & ~edge).any(), f"tile {tx},{ty}: a pixel away from an outline differs"


def test_area_rings_are_the_polygons_rings_sliced_from_shared_coordinates():
    """Every part's exterior and kept holes (and the holes' boxes) against shapely's rings, hole by hole."""
    from layers.maplayers import DISPLAY_HOLE_M2

    rng = np.random.default_rng(5)
    geoms = []
    for g in range(6):
        cx, cy = 114.0 + 0.03 * g, 22.5
        parts = []
        for p in range(1 + g % 3):  # polygons, multipolygons, some without holes
            outer = shapely.Point(cx + 0.012 * p, cy).buffer(0.005)
            n = 0 if (g + p) % 4 == 0 else 40
            hx = cx + 0.012 * p + rng.uniform(-0.003, 0.003, n)
            hy = cy + rng.uniform(-0.003, 0.003, n)
            holes = shapely.buffer(shapely.points(hx, hy), rng.uniform(0.00005, 0.0004, n), quad_segs=3)
            parts.append(outer.difference(shapely.union_all(holes)) if n else outer)
        geoms.append(shapely.union_all(parts) if len(parts) > 1 else parts[0])  # far apart: a MultiPolygon
    geoms.append(shapely.Point(1, 1))  # not a polygon: no rings
    got = tiles._polygon_rings(np.array(geoms, dtype=object), DISPLAY_HOLE_M2)
    assert got[-1] == []

    def merc(coords):
        mx, my = tiles.mercator(*np.asarray(coords).T)
        return np.column_stack([mx, my])

    kept = dropped = 0
    for geom, rings in zip(geoms[:-1], got):
        polys = list(shapely.get_parts(geom))
        assert len(rings) == len(polys)
        for poly, (ext, holes) in zip(polys, rings):
            assert np.array_equal(ext, merc(poly.exterior.coords))
            lat = math.radians(poly.centroid.y)
            ref = [
                r for r in poly.interiors if shapely.Polygon(r).area * 111_320.0**2 * math.cos(lat) >= DISPLAY_HOLE_M2
            ]
            dropped += len(poly.interiors) - len(ref)
            assert len(holes) == len(ref)
            for k, (h, r) in enumerate(zip(holes, ref)):
                assert np.array_equal(h, merc(r.coords)) and np.array_equal(holes[k], h)
                assert np.allclose(holes.boxes[k], [*h.min(axis=0), *h.max(axis=0)])
            kept += len(ref)
    assert kept > 20 and dropped > 20, (kept, dropped)  # both kinds of holes were there


def test_street_segments_are_the_edge_polylines(grid):
    """The street tiles' segments straight from the network's arrays are shapely's edge lines, segment by segment."""
    st = tiles.StreetTiles.from_network(grid)
    ref = []
    for line in grid.edge_lines:
        xy = grid.to_lonlat(np.asarray(line.coords))
        ref.append(np.column_stack([xy[:-1], xy[1:]]))
    seg = np.vstack(ref)
    x0, y0 = tiles.mercator(seg[:, 0], seg[:, 1])
    x1, y1 = tiles.mercator(seg[:, 2], seg[:, 3])
    want = np.column_stack([x0, y0, x1, y1])
    assert st.xy.shape == want.shape
    order = np.lexsort(want.T[::-1])
    got = st.xy[np.lexsort(st.xy.T[::-1])]
    assert np.allclose(got, want[order], rtol=0, atol=1e-12)
