"""The planner's map in a real browser: Debian's headless Chromium driven by Playwright.

Every test blocks any request that is not to 127.0.0.1/localhost and fails if
one is attempted: the app must work with no internet at all.  The server is
``lifecircle demo`` (or ``lifecircle serve`` for the XSS project) started as a
subprocess on a free loopback port.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time

import pytest

from tests.browser import (  # the one server, guard and page helpers of the browser tests
    BROWSER_MARKS,
    CHROMIUM,
    LAUNCH_ARGS,
    ROOT,
    Guard,
    add_mode,
    add_station,
    app_env,
    chromium,
    download,
    figure,
    open_app,
    run_async,
    serve,
    wait_until,
)

#: Where the app's picture goes; LIFECIRCLE_UPDATE_DOCS=1 writes the README's docs/screenshot.png.
SCREENSHOT = (
    ROOT / ("docs" if os.environ.get("LIFECIRCLE_UPDATE_DOCS") == "1" else "tests/artifacts") / "screenshot.png"
)
XSS = "<img src=x onerror=alert(1)>"

pytestmark = BROWSER_MARKS
pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")


# ----------------------------------------------------------------- servers
@pytest.fixture(scope="module")
def server_env(tmp_path_factory) -> dict:
    return app_env(tmp_path_factory.mktemp("app-cache"))


@pytest.fixture(scope="module")
def demo_server(server_env):
    yield from serve(["demo"], server_env)


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def guard() -> Guard:
    return Guard()


@pytest.fixture
def page(browser, guard):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    guard.attach(pg)
    yield pg
    context.close()
    guard.check()


# ------------------------------------------------------------------ helpers
def expected_figures(lon: float, lat: float, kind: str = "micro_station") -> dict[float, float]:
    """Population covered per tier with one more micro-station, straight from geo.coverage."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from geo import coverage, demo

    district = demo.build_demo()
    net = district.network  # a WalkNetwork (district.graph is the networkx graph)
    extra = gpd.GeoDataFrame(
        {"id": ["NEW"], "name": ["new"], "kind": ["micro_station"]}, geometry=[shapely.Point(lon, lat)], crs="EPSG:4326"
    )
    facilities = gpd.GeoDataFrame(pd.concat([district.facilities, extra], ignore_index=True), crs="EPSG:4326")
    demand = district.demand.rename(columns={"population": "weight"})
    result = coverage.compute_coverage(net, facilities, demand, tiers=(300.0, 1000.0))
    return {t: result.covered_weight(kind, t) for t in (300.0, 1000.0)}


def _map_facility_count(exclude: str | None = None) -> int:
    """The demo's facilities of the map's kinds (read from the demo itself, as it grows)."""
    from geo import demo

    fac = demo.build_demo().facilities
    fac = fac[fac["kind"].isin(demo.MAP_KINDS)]
    return int((fac["kind"] != exclude).sum())


# -------------------------------------------------------------------- tests
def test_page_loads_offline_with_the_map(page, demo_server, guard):
    open_app(page, demo_server.url)
    assert page.locator(".leaflet-container").count() == 1
    assert page.locator(".leaflet-container canvas").count() >= 1  # streets and demand
    assert page.locator(".leaflet-container svg path").count() > 10  # areas, boundaries, gaps
    assert page.locator(".lc-fac").count() == _map_facility_count()  # the demo's facilities of the map's kinds
    # the first page a fresh server renders may fill its header and cards a moment after the map
    wait_until(lambda: "生成的演示数据" in page.locator("[data-testid='demo-badge']").inner_text(), "the demo badge")
    assert page.locator(".lc-legend").count() == 1
    wait_until(lambda: figure(page, "covered-1000") > 0, "the headline figures")
    guard.check()


def test_click_adds_a_station_with_the_figures_geo_computes(page, demo_server):
    open_app(page, demo_server.url)
    before = {t: figure(page, f"covered-{int(t)}") for t in (300.0, 1000.0)}
    add_mode(page)
    assert add_station(page, 0.45, 0.5) == 1
    wait_until(
        lambda: figure(page, "covered-1000") != before[1000.0] or figure(page, "covered-300") != before[300.0],
        "the headline figures to change",
    )
    name, data = download(page, "候选站点 GeoJSON")
    assert name == "candidate_sites.geojson"
    sites = json.loads(data)
    assert sites["lifecircle"]["crs"] == "WGS84"
    lon, lat = sites["features"][0]["geometry"]["coordinates"]
    expected = expected_figures(lon, lat)
    for tier in (300.0, 1000.0):
        assert figure(page, f"covered-{int(tier)}") == pytest.approx(expected[tier], abs=0.01)
    assert figure(page, "unserved") == pytest.approx(150_000 - expected[1000.0], abs=0.01)
    gain = sites["features"][0]["properties"]["gain"]
    assert gain == pytest.approx(expected[1000.0] - before[1000.0], abs=0.01)
    wait_until(lambda: page.locator(".leaflet-lcCandAreas-pane path").count() >= 2, "the candidate's service areas")
    page.locator("button", has_text="点击地图放置站点").first.click()  # leave add mode before the picture
    page.locator(".lc-section", has_text="分析设置").first.scroll_into_view_if_needed()
    time.sleep(0.5)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def test_move_remove_and_undo(page, demo_server):
    open_app(page, demo_server.url)
    base = figure(page, "covered-1000")
    add_mode(page)
    add_station(page, 0.3, 0.3)
    added = figure(page, "covered-1000")
    page.locator("button", has_text="删除").first.click()
    wait_until(lambda: page.locator(".lc-candidate").count() == 0, "the candidate to go")
    assert figure(page, "covered-1000") == pytest.approx(base)
    page.locator("button", has_text="撤销").first.click()
    wait_until(lambda: page.locator(".lc-candidate").count() == 1, "undo to bring it back")
    assert figure(page, "covered-1000") == pytest.approx(added)
    wait_until(lambda: page.locator(".leaflet-lcCandAreas-pane path").count() >= 2, "the candidate's areas")
    added5 = figure(page, "covered-300")
    marker = page.locator(".lc-candidate").first.bounding_box()
    page.mouse.move(marker["x"] + marker["width"] / 2, marker["y"] + marker["height"] / 2)
    page.mouse.down()
    page.mouse.move(marker["x"] + 160, marker["y"] + 120, steps=8)
    page.mouse.up()
    wait_until(
        lambda: (figure(page, "covered-1000"), figure(page, "covered-300")) != (added, added5),
        "the figures after dragging the candidate",
    )
    assert page.locator(".lc-candidate").count() == 1


def test_switch_layers_and_kind(page, demo_server):
    open_app(page, demo_server.url)
    demand_canvas = ".leaflet-lcDemand-pane canvas"
    assert page.locator(demand_canvas).count() == 1
    page.locator("label", has_text="居民（按步行距离着色）").first.click()
    wait_until(lambda: page.locator(demand_canvas).count() == 0, "the demand layer to switch off")
    assert page.locator(".lc-legend", has_text="步行距离").count() == 0
    gaps = ".leaflet-lcGaps-pane path"
    assert page.locator(gaps).count() > 0
    page.locator("label", has_text="覆盖缺口").first.click()
    wait_until(lambda: page.locator(gaps).count() == 0, "the gaps layer to switch off")
    page.locator("label", has_text="居民（按步行距离着色）").first.click()
    wait_until(lambda: page.locator(demand_canvas).count() == 1, "the demand layer to come back")
    assert page.locator(".lc-fac").count() == _map_facility_count()
    page.locator("label", has_text=re.compile("^公园$")).first.click()
    wait_until(lambda: page.locator(".lc-fac").count() == _map_facility_count(exclude="park"), "the parks to be hidden")
    areas = ".leaflet-lcAreas-pane path"
    assert page.locator(areas).count() == 2  # the micro-stations' 5- and 15-minute footprints
    page.locator("button", has_text="15分钟 (1000 m)").last.click()
    wait_until(lambda: page.locator(areas).count() == 1, "the 15-minute areas to be hidden")
    before = figure(page, "covered-1000")
    page.locator("select").first.select_option(label="全部设施")
    wait_until(lambda: figure(page, "covered-1000") != before, "the figures of all facilities")
    assert page.locator(".lc-legend", has_text="全部设施").count() == 1
    page.locator("button", has_text="English").first.click()
    wait_until(lambda: page.locator("text=Coverage by community").count() > 0, "English labels")
    assert page.locator(".lc-legend", has_text="Legend").count() == 1


def test_download_coverage_geojson(page, demo_server):
    from geo import demo

    open_app(page, demo_server.url)
    name, data = download(page, "覆盖结果 GeoJSON")
    assert name == "coverage.geojson"
    fc = json.loads(data)
    assert fc["type"] == "FeatureCollection" and fc["lifecircle"]["crs"] == "WGS84"
    assert len(fc["features"]) == len(demo.build_demo().demand)
    props = fc["features"][0]["properties"]
    assert {"id", "weight", "dist_micro_station", "dist_any"} <= set(props)
    lon, lat = fc["features"][0]["geometry"]["coordinates"]
    assert 113.7 < lon < 114.7 and 22.3 < lat < 22.9
    page.locator("button", has_text="GCJ-02").last.click()  # the export's (the first is the typed coordinates')
    time.sleep(0.5)
    name, data = download(page, "覆盖缺口 GeoJSON")
    assert name == "gaps.gcj02.geojson"
    assert json.loads(data)["lifecircle"]["crs"] == "GCJ-02"


def test_html_report_opens_offline(page, demo_server, tmp_path):
    open_app(page, demo_server.url)
    name, data = download(page, "HTML 地图报告")
    assert name == "report.html"
    report = tmp_path / name
    report.write_bytes(data)
    page.goto(report.as_uri())
    wait_until(
        lambda: page.locator(".leaflet-container canvas").count() + page.locator(".leaflet-container path").count() > 1,
        "the report's map",
    )
    assert page.locator(".leaflet-control-layers").count() == 1
    assert "生成的演示数据" in page.locator(".lc-report").inner_text()


def test_two_sessions_do_not_share_candidates(browser, demo_server):
    guards, pages, contexts = [], [], []
    for _ in range(2):
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        pg = ctx.new_page()
        g = Guard()
        g.attach(pg)
        guards.append(g)
        pages.append(pg)
        contexts.append(ctx)
    try:
        a, b = pages
        open_app(a, demo_server.url)
        open_app(b, demo_server.url)
        base_b = figure(b, "covered-1000")
        add_mode(a)
        add_station(a, 0.4, 0.45)
        time.sleep(1.0)
        assert b.locator(".lc-candidate").count() == 0
        assert figure(b, "covered-1000") == base_b
        add_mode(b)
        add_station(b, 0.6, 0.6)
        add_station(b, 0.35, 0.7)
        assert b.locator(".lc-candidate").count() == 2
        assert a.locator(".lc-candidate").count() == 1
        b.reload()
        open_app(b, demo_server.url)
        assert b.locator(".lc-candidate").count() == 0  # a new session starts clean
        for g in guards:
            g.check()
    finally:
        for ctx in contexts:
            ctx.close()


def test_twenty_concurrent_sessions(demo_server):
    """20 sessions load the page and run a what-if at the same time, without errors."""
    from playwright.async_api import async_playwright

    async def one(browser, i: int, guard: Guard) -> float:
        ctx = await browser.new_context(viewport={"width": 1100, "height": 750})
        try:
            page = await ctx.new_page()
            await guard.attach_async(page)
            await page.goto(demo_server.url, timeout=120_000)
            await page.wait_for_selector(".lc-map[data-ready='1']", state="attached", timeout=120_000)
            await page.locator("button", has_text="点击地图添加站点").first.click(timeout=60_000)
            await page.wait_for_selector(".lc-map.lc-adding", state="attached", timeout=60_000)
            box = await page.locator(".lc-map").first.bounding_box()
            started = time.perf_counter()
            for fx in (0.40 + 0.005 * i, 0.55, 0.62):
                await page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.5)
                try:
                    await page.wait_for_selector(".lc-candidate", state="attached", timeout=30_000)
                    break
                except Exception:  # noqa: BLE001 - a click on a marker: try elsewhere
                    continue
            assert await page.locator(".lc-candidate").count() == 1
            return time.perf_counter() - started
        finally:
            await ctx.close()

    async def run() -> list:
        guard = Guard()
        async with async_playwright() as p:
            b = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                results = await asyncio.wait_for(
                    asyncio.gather(*(one(b, i, guard) for i in range(20)), return_exceptions=True), timeout=400
                )
            finally:
                await b.close()
        guard.check()
        return results

    results = run_async(run(), timeout=500)  # the sync Playwright of the other tests owns this thread's loop
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} of 20 sessions failed: {failures[:3]!r}"


# ----------------------------------------------------------------- XSS project
@pytest.fixture(scope="module")
def xss_server(tmp_path_factory, server_env):
    from geo import demo

    folder = tmp_path_factory.mktemp("xss-project")
    files = demo.write_demo_files(folder)
    bounds = demo.write_boundaries(folder)
    fac = files["facilities"].read_text(encoding="utf-8").splitlines()
    head, first = fac[0].split(","), fac[1].split(",")
    first[head.index("name")] = f'"{XSS}"'
    files["facilities"].write_text("\n".join([fac[0], ",".join(first), *fac[2:]]) + "\n", encoding="utf-8")
    comm = json.loads(bounds["communities"].read_text(encoding="utf-8"))
    comm["features"][0]["properties"]["name"] = "<b onmouseover=alert(3)>社区</b>"
    bounds["communities"].write_text(json.dumps(comm, ensure_ascii=False), encoding="utf-8")
    project = folder / "PROJECT.toml"
    project.write_text(
        'title = "<script>alert(2)</script>XSS 测试"\n'
        'network = "network.graphml"\nfacilities = "facilities.csv"\ndemand = "demand.csv"\n'
        'communities = "demo_communities.geojson"\nstreets = "demo_streets.geojson"\n',
        encoding="utf-8",
    )
    yield from serve(["serve", str(project)], server_env, timeout=180)


def test_names_from_user_files_show_as_text(page, xss_server, guard):
    open_app(page, xss_server.url)
    header = page.locator(".lc-title").first.inner_text()
    assert "<script>alert(2)</script>XSS 测试" in header
    marker = page.locator(f".lc-fac-icon[title='{XSS}']")
    assert marker.count() == 1
    marker.first.dispatch_event("click")  # this marker's own popup, even under a neighbour's icon
    popup = page.locator(".leaflet-popup-content .lc-pop-title")
    wait_until(lambda: popup.count() == 1, "the facility's popup")
    assert popup.first.inner_text() == XSS
    assert page.locator(".leaflet-popup-content img").count() == 0
    assert page.locator("text=<b onmouseover=alert(3)>社区</b>").count() >= 1  # the community table and label
    assert page.locator("b[onmouseover]").count() == 0
    time.sleep(1.0)
    guard.check()  # no alert() dialog, nothing fetched from "x"
