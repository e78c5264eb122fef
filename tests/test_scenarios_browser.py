"""Scenarios (方案) in a real browser (Debian's headless Chromium; any request leaving 127.0.0.1 is blocked and fails).

A scenario saved after adding and closing facilities survives a server restart and reopens with
the same figures; a stale save (two pages open one scenario, both save) is refused naming who
saved since; comparing two scenarios shows the differences geo.scenarios.compare computes here.
The demo's store lives in LIFECIRCLE_DATA, a temporary folder.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.browser import (  # the one server, guard and page helpers of the browser tests
    BROWSER_MARKS,
    ROOT,
    AppServer,
    Guard,
    app_env,
    chromium,
    figure,
    open_app,
    server_errors,
    wait_until,
)

pytestmark = BROWSER_MARKS
ART = ROOT / "tests" / "artifacts"
TIERS = ("5min", "10min", "15min")


class Servers:
    """The demo server of this module, restartable on the same data folder."""

    def __init__(self, env: dict) -> None:
        self.env, self.errors = env, []
        self.current = AppServer(["demo"], env)

    def restart(self) -> AppServer:
        self.errors += server_errors(self.current.stop())
        self.current = AppServer(["demo"], self.env)
        return self.current

    def stop(self) -> list[str]:
        return self.errors + server_errors(self.current.stop())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    # one folder per test session, not per fixture: xdist's loadgroup may run another module's browser
    # tests between these, which re-creates the module's fixtures; the saved scenario must survive it
    # (in a fresh folder the later tests found no scenario and skipped)
    folder = tmp_path_factory.getbasetemp() / "lc-scenario-data"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def servers(tmp_path_factory, data_dir):
    srv = Servers(app_env(tmp_path_factory.mktemp("scen-cache"), LIFECIRCLE_DATA=str(data_dir)))
    yield srv
    errors = srv.stop()
    assert not errors, f"the demo server logged {len(errors)} error(s):\n{errors[0][-4000:]}"


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def pages(browser):
    opened = []

    def new():
        guard = Guard()
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        pg = context.new_page()
        guard.attach(pg)
        opened.append((context, guard))
        return pg

    yield new
    for context, guard in opened:
        context.close()
        guard.check()


# ------------------------------------------------------------------ helpers
def store():
    from geo import scenarios as sc

    return sc.store_for(None)  # LIFECIRCLE_DATA is set for the test process too (see _data_env)


@pytest.fixture(autouse=True)
def _data_env(data_dir, monkeypatch):
    monkeypatch.setenv("LIFECIRCLE_DATA", str(data_dir))


def place(page, lon: float, lat: float) -> None:
    page.locator("button", has_text="WGS84").first.click()
    box = page.locator("input[placeholder='114.0585, 22.5628']").first
    box.fill(f"{lon:.7f}, {lat:.7f}")
    box.press("Enter")
    n = page.locator(".lc-candidate").count()
    page.locator("button", has_text="放置").first.click()
    wait_until(lambda: page.locator(".lc-candidate").count() == n + 1, "the typed facility on the map")


def choose_kind(page, label: str) -> None:
    sel = page.locator("select").filter(has=page.locator("option", has_text="幼儿园")).first
    sel.select_option(label=label)
    time.sleep(0.3)


def close_facility(page, name: str) -> None:
    n = page.locator(".lc-fac-closed").count()
    button = page.locator(".lc-btn-close", has_text="关闭")
    for _ in range(5):  # the markers are redrawn after each change: click again until its popup is open
        page.locator(f".leaflet-marker-icon[title='{name}']").first.dispatch_event("click")
        try:
            wait_until(lambda: button.count() > 0, "the facility's popup", timeout=4)
            break
        except AssertionError:
            continue
    # the popup may open under the legend: press its button directly
    page.locator(".lc-btn-close", has_text="关闭").first.dispatch_event("click")
    wait_until(lambda: page.locator(".lc-fac-closed").count() > n, f"{name} drawn as closed")


def scenario_list(page):
    return (
        page.locator("select")
        .filter(has=page.locator("option", has_text="甲"))
        .filter(has_not=page.locator("option", has_text="现状"))
        .first
    )


def compare_selects(page):
    return page.locator("select").filter(has=page.locator("option", has_text="现状"))


def message(page) -> str:
    loc = page.locator(".lc-scenario-msg")
    return loc.first.inner_text() if loc.count() else ""


def save(page, user: str, name: str) -> str:
    page.locator("input[placeholder='你的名字']").first.fill(user)
    page.locator("input[placeholder='方案名称']").first.fill(name)
    page.locator("input[placeholder='方案名称']").first.press("Enter")
    before = message(page)
    page.get_by_role("button", name="保存方案", exact=True).first.click()
    return wait_until(lambda: message(page) != before and message(page), "the save's message")


def open_scenario(page, name: str) -> str:
    wait_until(lambda: scenario_list(page).count() == 1, "the scenario list")
    scenario_list(page).select_option(label=name)
    time.sleep(0.3)
    before = message(page)
    page.get_by_role("button", name="打开", exact=True).first.click()
    return wait_until(
        lambda: message(page) != before and "已打开" in message(page) and message(page), "the scenario opened"
    )


def figures(page) -> dict[str, float]:
    """The per-kind headline (micro-stations) and the complete life circles' weights per tier."""
    out = {f"covered-{t}": figure(page, f"covered-{t}") for t in (300, 1000)}
    page.locator("button", has_text="完整生活圈").first.click()
    wait_until(lambda: page.locator("[data-testid='complete-15min']").count() == 1, "the complete view")
    for t in TIERS:
        out[t] = float(page.locator(f"[data-testid='complete-{t}']").first.get_attribute("data-weight"))
    page.locator("button", has_text="按设施类型").first.click()
    wait_until(lambda: page.locator("[data-testid='covered-1000']").count() == 1, "the per-kind view")
    return out


# -------------------------------------------------------------------- tests
def test_save_restart_reopen_gives_the_same_figures(servers, pages):
    from geo import demo

    page = pages()
    open_app(page, servers.current.url)
    base = figures(page)
    place(page, 114.0585, 22.5628)  # a micro-station
    choose_kind(page, "社康中心")
    place(page, 114.0500, 22.5700)  # a clinic
    fac = demo.build_demo().facilities
    pc = fac[fac["id"] == "PC-01"].iloc[0]
    close_facility(page, pc["name"])
    wait_until(lambda: figure(page, "covered-1000") != base["covered-1000"], "the figures to change")
    time.sleep(1.0)
    want = figures(page)
    assert want != base
    text = save(page, "王工", "甲")
    assert "已保存" in text and "第 1 版" in text, text
    saved = store().load("甲")
    assert saved.saved_by == "王工" and saved.version == 1
    assert sorted(c.kind for c in saved.added) == ["clinic", "micro_station"]
    assert [c.id for c in saved.closed] == ["PC-01"]

    srv = servers.restart()  # a new process: only the file is shared
    page2 = pages()
    open_app(page2, srv.url)
    assert figures(page2) == pytest.approx(base, abs=0.01)  # a fresh session starts from today
    text = open_scenario(page2, "甲")
    assert "王工" in text, text
    wait_until(
        lambda: page2.locator(".lc-candidate").count() == 2 and page2.locator(".lc-fac-closed").count() == 1,
        "the scenario's facilities on the map",
    )
    time.sleep(1.0)
    got = figures(page2)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=0.01), key
    page2.screenshot(path=str(ART / "scenario_reopened.png"))
    # one undo step takes the whole scenario back out; redo puts it back
    page2.locator("button", has_text="撤销").first.click()
    wait_until(
        lambda: page2.locator(".lc-candidate").count() == 0 and page2.locator(".lc-fac-closed").count() == 0,
        "undo of the opened scenario",
    )
    page2.locator("button", has_text="重做").first.click()
    wait_until(
        lambda: page2.locator(".lc-candidate").count() == 2 and page2.locator(".lc-fac-closed").count() == 1,
        "redo of the opened scenario",
    )
    time.sleep(1.0)
    assert figures(page2) == pytest.approx(want, abs=0.01)


def test_a_stale_save_is_refused_naming_who_saved_since(servers, pages):
    if "甲" not in store():
        pytest.skip("needs the scenario saved by the first test")
    a, b = pages(), pages()
    for pg in (a, b):
        open_app(pg, servers.current.url)
        open_scenario(pg, "甲")
    version = store().load("甲").version
    place(a, 114.0560, 22.5600)
    text = save(a, "王工", "甲")
    assert f"第 {version + 1} 版" in text, text
    choose_kind(b, "图书馆")
    place(b, 114.0530, 22.5650)
    text = save(b, "李工", "甲")
    assert "未保存" in text and "王工" in text and f"version {version + 1}" in text, text
    b.locator(".lc-scenario-msg").first.scroll_into_view_if_needed()
    b.screenshot(path=str(ART / "scenario_stale_save.png"))
    stored = store().load("甲")
    assert stored.version == version + 1 and stored.saved_by == "王工"
    assert not any(c.kind == "library" for c in stored.added), "the stale save changed nothing"


def test_compare_two_scenarios_equals_geo_compare(servers, pages):
    import shapely

    from apps.web.complete import demo_facilities
    from geo import demo
    from geo import scenarios as sc

    if "甲" not in store():
        pytest.skip("needs the scenario saved by the first test")
    page = pages()
    open_app(page, servers.current.url)
    open_scenario(page, "甲")
    wait_until(lambda: page.locator(".lc-candidate").count() >= 2, "the scenario's facilities")
    fac = demo.build_demo().facilities
    close_facility(page, fac[fac["kind"] == "clinic"].iloc[0]["name"])
    choose_kind(page, "幼儿园")
    place(page, 114.0620, 22.5610)
    save(page, "赵工", "乙")
    selects = compare_selects(page)
    wait_until(
        lambda: selects.count() == 2 and selects.nth(1).locator("option", has_text="乙").count() == 1,
        "the comparison's lists",
    )
    selects.nth(0).select_option(label="甲")
    selects.nth(1).select_option(label="乙")
    time.sleep(0.3)
    page.get_by_role("button", name="比较", exact=True).first.click()
    wait_until(lambda: page.locator("[data-testid='compare-headline'] tr[data-kind]").count() > 0, "the comparison")
    wait_until(lambda: page.locator(".lc-change").count() > 0, "the residents who gain or lose on the map")

    d = demo.build_demo()
    points = demo_facilities(d)
    points = points[shapely.get_type_id(points.geometry.values) == 0].reset_index(drop=True)
    st = store()
    cmp = sc.compare(
        d.network,
        points,
        d.demand.rename(columns={"population": "weight"}),
        st.load("甲"),
        st.load("乙"),
        tiers=(300, 1000),
        units=d.communities,
    )
    head = cmp.headline()
    rows = page.locator("[data-testid='compare-headline'] tr[data-kind]")
    shown = set()
    for i in range(rows.count()):
        r = rows.nth(i)
        kind, tier = r.get_attribute("data-kind"), float(r.get_attribute("data-tier"))
        ref = head[(head["kind"] == kind) & (head["tier_m"] == tier)].iloc[0]
        for attr, col in (("data-a", "weight_a"), ("data-b", "weight_b"), ("data-diff", "diff_weight")):
            assert float(r.get_attribute(attr)) == pytest.approx(ref[col], abs=0.01), (kind, tier, attr)
        shown.add(kind)
    assert {"clinic", "kindergarten", "any"} <= shown
    hidden = head[~head["kind"].isin(shown)]
    assert (hidden["diff_weight"].abs() < 1e-9).all(), "a kind that changes is missing from the table"
    # the 社区 table (the first kind that changes, clinics, at 15 minutes) with the differences
    units = cmp.by_unit().set_index("id")
    table = page.locator("[data-testid='compare-units']").first
    assert table.get_attribute("data-kind") == "clinic" and float(table.get_attribute("data-tier")) == 1000
    urows = page.locator("[data-testid='compare-units'] tr[data-unit]")
    assert urows.count() == len(units)
    key = "clinic_1000"
    for i in range(urows.count()):
        r = urows.nth(i)
        ref = units.loc[r.get_attribute("data-unit")]
        assert float(r.get_attribute("data-a")) == pytest.approx(ref[f"covered_a_{key}"], abs=0.01)
        assert float(r.get_attribute("data-diff")) == pytest.approx(ref[f"diff_{key}"], abs=0.01)
    # the residents layer: one marker per demand unit that gains or loses within 15 minutes
    res = cmp.residents(1000)
    assert page.locator(".lc-change").count() == len(res)
    for change in ("gain", "loss", "mixed"):
        assert page.locator(f".lc-change-{change}").count() == int((res["change"] == change).sum())
    note = page.locator("[data-testid='compare-residents']").first
    assert float(note.get_attribute("data-loss")) == pytest.approx(
        res.loc[res["change"] == "loss", "weight"].sum(), abs=0.01
    )
    # complete life circles per tier: geo.evaluate on each side's facilities (parks as polygons, gone when all gates close)
    import geopandas as gpd
    import pandas as pd

    from geo import evaluate as gev

    every = demo_facilities(d)
    polys = every[shapely.get_type_id(every.geometry.values) != 0]
    had = set(every["entrance_of"].dropna().astype(str))

    def complete(scenario) -> dict:
        pts = scenario.apply(points)
        keep = polys[
            ~polys["id"].astype(str).isin(had)
            | polys["id"].astype(str).isin(set(pts["entrance_of"].dropna().astype(str)))
        ]
        frame = gpd.GeoDataFrame(pd.concat([pts, keep], ignore_index=True), geometry="geometry", crs="EPSG:4326")
        s = gev.evaluate(
            d.network,
            frame,
            d.demand.rename(columns={"population": "weight"}),
            standard="gb50180-2018",
            weight_column="weight",
        ).summary()
        return {t: v["weight"] for t, v in s["complete"].items()}

    ca, cb = complete(st.load("甲")), complete(st.load("乙"))
    crow = page.locator("[data-testid='compare-complete'] tr[data-tier]")
    assert crow.count() == len(ca) == 3
    for i in range(crow.count()):
        r = crow.nth(i)
        t = r.get_attribute("data-tier")
        assert float(r.get_attribute("data-a")) == pytest.approx(ca[t], abs=0.01), t
        assert float(r.get_attribute("data-b")) == pytest.approx(cb[t], abs=0.01), t
        assert float(r.get_attribute("data-diff")) == pytest.approx(cb[t] - ca[t], abs=0.01), t
    page.locator("[data-testid='compare-headline']").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ART / "scenario_compare.png"))
