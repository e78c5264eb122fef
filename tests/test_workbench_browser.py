"""The workbench in a real browser (Debian's headless Chromium, no request leaves 127.0.0.1).

Complete life circles after adding and closing a park and a clinic equal geo.evaluate on the same
changed facilities; typed GCJ-02 coordinates land where geo.crs puts them; a bad upload shows its
message; the ledger zooms the map; the page works at 1024x700.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.browser import (  # the one server, guard and page helpers of the browser tests
    BROWSER_MARKS,
    AppServer,
    app_env,
    chromium,
    download,
    guarded_page,
    open_app,
    serve,
    server_errors,
    wait_until,
)

pytestmark = BROWSER_MARKS
playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
ART = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve(["demo"], app_env(tmp_path_factory.mktemp("wb-cache")))


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def page(browser):
    context, pg, guard = guarded_page(browser)
    yield pg
    context.close()
    guard.check()


def complete_view(page) -> None:
    page.locator("button", has_text="完整生活圈").first.click()
    wait_until(lambda: page.locator("[data-testid='complete-15min']").count() == 1, "the complete view")
    wait_until(lambda: page.locator("[data-testid='ledger']").count() == 1, "the ledger")


def weights(page) -> dict[str, float]:
    return {
        t: float(page.locator(f"[data-testid='complete-{t}']").first.get_attribute("data-weight"))
        for t in ("5min", "10min", "15min")
    }


def kind_weights(page) -> dict[str, float]:
    rows = page.locator("[data-testid='complete-kinds'] tr[data-kind]")
    return {
        rows.nth(i).get_attribute("data-kind"): float(rows.nth(i).get_attribute("data-weight"))
        for i in range(rows.count())
    }


def choose_kind(page, label: str) -> None:
    sel = page.locator("select").filter(has=page.locator("option", has_text="幼儿园")).first
    sel.select_option(label=label)
    time.sleep(0.3)


def place(page, lon: float, lat: float, crs: str = "WGS84") -> None:
    page.locator("button", has_text=crs).first.click()  # the typed coordinates' (the last is the export's)
    box = page.locator("input[placeholder='114.0585, 22.5628']").first
    box.fill(f"{lon:.7f}, {lat:.7f}")
    box.press("Enter")
    n = page.locator(".lc-candidate").count()
    page.locator("button", has_text="放置").first.click()
    wait_until(lambda: page.locator(".lc-candidate").count() == n + 1, "the typed facility on the map")


def popup_button(page, name: str, label: str, *, closed: int) -> None:
    """Open a facility's popup and press its close/reopen button until ``closed`` facilities are drawn closed.

    The map redraws its layers on the server's next ticks after a change; a popup open during
    a redraw goes with its marker, so the click is tried again on the redrawn marker.
    """
    for _ in range(3):
        page.locator(f".leaflet-marker-icon[title='{name}']").first.click()
        try:
            page.locator(".lc-btn-close", has_text=label).first.click(timeout=10_000)
            wait_until(lambda: page.locator(".lc-fac-closed").count() == closed, f"{closed} facility drawn closed", 15)
            return
        except (AssertionError, playwright_sync.TimeoutError):
            continue
    raise AssertionError(f"pressing {label!r} in the popup of {name} did not take")


def expected(closed: set[str], added: list[dict]) -> tuple[dict, dict]:
    """geo.evaluate from scratch: the demo's facilities minus the closed, plus the added."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    from apps.web.complete import demo_facilities
    from geo import demo
    from geo import evaluate as gev

    d = demo.build_demo()
    fac = demo_facilities(d)
    keep = ~fac["id"].astype(str).isin(closed) & ~fac["entrance_of"].astype(str).isin(closed)
    extra = gpd.GeoDataFrame(
        [{"id": a["id"], "kind": a["kind"], "area_m2": a.get("area_m2", np.nan)} for a in added],
        geometry=shapely.points([[a["lon"], a["lat"]] for a in added]),
        crs="EPSG:4326",
    )
    frame = gpd.GeoDataFrame(pd.concat([fac[keep], extra], ignore_index=True), geometry="geometry", crs="EPSG:4326")
    s = gev.evaluate(d.network, frame, d.demand, "gb50180-2018", cohorts=[]).summary()
    return (
        {t: v["weight"] for t, v in s["complete"].items()},
        {k: v["15min"]["weight"] for k, v in s["kinds"].items() if "15min" in v},
    )


def test_complete_view_add_and_close_park_and_clinic_equal_evaluate(page, server):
    open_app(page, server.url)
    complete_view(page)
    base = weights(page)
    assert page.locator(".lc-fac").count() > 100  # every kind is drawn in this view
    # a clinic typed in WGS84, a park placed likewise
    choose_kind(page, "社康中心")
    place(page, 114.0585, 22.5628)
    choose_kind(page, "公园")  # a new park's area is the page's default, 10,000 m²
    place(page, 114.0500, 22.5700)
    # close an existing clinic from its popup
    from geo import demo

    fac = demo.build_demo().facilities
    clinic = fac[fac["kind"] == "clinic"].iloc[0]
    wait_until(lambda: weights(page) != base, "the complete figures with the two placed facilities")
    popup_button(page, clinic["name"], "关闭", closed=1)
    wait_until(lambda: weights(page) != base, "the complete figures to change")
    time.sleep(1.0)
    _, data = download(page, "候选站点 GeoJSON")
    feats = json.loads(data)["features"]
    added = [
        {
            "id": f["properties"]["id"],
            "kind": f["properties"]["kind"],
            "lon": f["geometry"]["coordinates"][0],
            "lat": f["geometry"]["coordinates"][1],
            **({"area_m2": 10000.0} if f["properties"]["kind"] == "park" else {}),
        }
        for f in feats
    ]
    assert sorted(a["kind"] for a in added) == ["clinic", "park"]
    want, want_kinds = expected({str(clinic["id"])}, added)
    got = weights(page)
    for tier in want:
        assert got[tier] == pytest.approx(want[tier], abs=0.01), tier
    for kind, w in kind_weights(page).items():
        assert w == pytest.approx(want_kinds[kind], abs=0.01), kind
    page.screenshot(path=str(ART / "workbench_complete.png"))
    # reopen, and undo / redo
    popup_button(page, clinic["name"], "重新开放", closed=0)
    want2, _ = expected(set(), added)
    wait_until(lambda: weights(page) == pytest.approx(want2, abs=0.01), "the figures with the clinic reopened")
    page.locator("button", has_text="撤销").first.click()
    wait_until(lambda: page.locator(".lc-fac-closed").count() == 1, "undo closes it again")
    page.locator("button", has_text="重做").first.click()
    wait_until(lambda: page.locator(".lc-fac-closed").count() == 0, "redo reopens it")
    # the A4 report, from the page
    name, pdf = download(page, "A4 报告 PDF")
    assert name == "report_a4.pdf" and pdf.startswith(b"%PDF")
    # a ledger row zooms the map to its 社区
    page.locator("[data-testid='ledger'] tr.lc-zoom").first.click()
    wait_until(lambda: page.locator(".lc-map[data-zoomed]").count() == 1, "the ledger row to zoom the map")


def test_typed_gcj02_lands_where_geo_crs_puts_it(page, server):
    from geo import crs as gcrs

    open_app(page, server.url)
    gx, gy = gcrs.wgs84_to_gcj02(114.0585, 22.5628)
    place(page, float(gx), float(gy), "GCJ-02")
    _, data = download(page, "候选站点 GeoJSON")
    lon, lat = json.loads(data)["features"][0]["geometry"]["coordinates"]
    wx, wy = gcrs.gcj02_to_wgs84(float(f"{gx:.7f}"), float(f"{gy:.7f}"))
    assert (lon, lat) == pytest.approx((round(float(wx), 7), round(float(wy), 7)), abs=2e-7)


def test_uploaded_bad_file_shows_its_message(page, server):
    open_app(page, server.url)
    page.locator("input[type='file']").first.set_input_files(
        files=[{"name": "候选点.csv", "mimeType": "text/csv", "buffer": b"id,lon,lat\nC1,114.05,22.56\nC2,abc,22.57\n"}]
    )
    wait_until(lambda: page.locator("[data-testid='upload-error']").count() == 1, "the upload's message")
    text = page.locator("[data-testid='upload-error']").inner_text()
    assert "候选点.csv" in text and "row 3" in text and "lon" in text
    page.locator("[data-testid='upload-error']").scroll_into_view_if_needed()
    page.screenshot(path=str(ART / "workbench_upload_error.png"))


def test_laptop_screen_1024x700(browser, server):
    context, page, guard = guarded_page(browser, 1024, 700)
    try:
        open_app(page, server.url)
        wait_until(lambda: page.locator(".lc-legend.lc-collapsed").count() == 1, "the legend folded")
        toggle = page.locator("button", has_text="☰").first
        wait_until(
            lambda: (
                page.locator("[data-testid='headline'], .lc-card").first.is_hidden()
                or not page.locator(".lc-section", has_text="分析设置").first.is_visible()
            ),
            "the side panel folded",
        )
        map_box = page.locator(".lc-map").first.bounding_box()
        assert map_box["width"] > 900  # the map has the screen
        for text in ("English", "中文"):  # the header fits: its last buttons are on screen
            box = page.locator("button", has_text=text).first.bounding_box()
            assert box["x"] + box["width"] <= 1024 + 0.5
        page.screenshot(path=str(ART / "workbench_1024_folded.png"))
        toggle.click()
        wait_until(lambda: page.locator(".lc-section", has_text="分析设置").first.is_visible(), "the side panel")
        last = page.locator("button, a", has_text="HTML 地图报告").first
        last.scroll_into_view_if_needed()
        box = last.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 700 + 0.5 and box["x"] >= 0
        assert page.locator(".lc-map").first.bounding_box()["width"] > 600
        page.screenshot(path=str(ART / "workbench_1024_open.png"))
    finally:
        context.close()
    guard.check()


def test_zone_demand_is_drawn_as_spread_residents(browser, tmp_path_factory):

    import geopandas as gpd

    from geo import demo

    folder = tmp_path_factory.mktemp("zones")
    demo.write_demo_files(folder)
    d = demo.build_demo()
    zones = d.communities[["id", "name", "geometry"]].copy()
    pts = gpd.sjoin(d.demand[["population", "geometry"]], zones, predicate="within")
    zones["population"] = zones["id"].map(pts.groupby("id")["population"].sum()).fillna(0).to_numpy()
    zones.to_file(folder / "zones.geojson", driver="GeoJSON")
    (folder / "PROJECT.toml").write_text(
        'title = "分区人口"\nnetwork = "network.graphml"\nfacilities = "facilities.csv"\n'
        'demand = "zones.geojson"\nstandard = "party-service-circle"\n',
        encoding="utf-8",
    )
    srv = AppServer(["serve", str(folder / "PROJECT.toml")], app_env(tmp_path_factory.mktemp("zones-cache")))
    context, page, guard = guarded_page(browser)
    try:
        open_app(page, srv.url)
        assert page.locator(".leaflet-lcDemand-pane canvas").count() == 1  # dots on a canvas, no zone fills
        time.sleep(1.0)
        page.screenshot(path=str(ART / "workbench_zones.png"))
    finally:
        context.close()
        errors = server_errors(srv.stop())
    guard.check()
    assert not errors, errors[0][-3000:]
