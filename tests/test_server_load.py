"""The app server on a network: access control, bounded memory, no import by URL, a load test.

Servers are ``python -m lifecircle demo`` subprocesses on free loopback ports; browsers are
Debian's headless Chromium driven by Playwright (async, one browser, one context per session),
and every request that is not to 127.0.0.1/localhost is blocked and fails the test.  Counts
and times are bounded: 30 sessions, 1,000 plain GETs, the whole file well under 2 minutes.

The figures (sessions held, RSS before/after) are printed with ``-s`` and written to
tests/artifacts/server_load.json for the README's reliability section.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, ROOT, Guard, needs_browser, run_async, serve, server_errors

requests = pytest.importorskip("requests")

ZEN = "Beautiful is better than ugly"  # what `import this` prints
SESSIONS = 30
GETS = 1000
RSS_LIMIT_MB = 600.0
FIGURES: dict[str, object] = {}

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    e = dict(os.environ)
    e["LIFECIRCLE_CACHE"] = str(tmp_path_factory.mktemp("load-cache"))
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("PANEL_COOKIE_SECRET", None)
    return e


def _server(args, env, tmp_path_factory, name):
    yield from serve(args, env, timeout=120.0, folder=tmp_path_factory.mktemp(name))


@pytest.fixture(scope="module")
def demo_server(env, tmp_path_factory):
    yield from _server(["demo"], env, tmp_path_factory, "demo")


@pytest.fixture(scope="module")
def capped_server(env, tmp_path_factory):
    yield from _server(["demo", "--max-candidates", "2", "--max-sessions", "1"], env, tmp_path_factory, "capped")


@pytest.fixture(scope="module")
def flood_server(env, tmp_path_factory):
    yield from _server(["demo"], env, tmp_path_factory, "flood")


@pytest.fixture(scope="module")
def password_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "users.json"
    path.write_text(json.dumps({"planner": "correct horse battery"}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def auth_server(env, tmp_path_factory, password_file):
    yield from _server(
        ["demo", "--password-file", str(password_file), "--cookie-secret", "s" * 32], env, tmp_path_factory, "auth"
    )


# ------------------------------------------------------ beyond loopback needs access control
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "planner.example.org"])
def test_serving_beyond_loopback_without_access_control_is_refused(host, capsys):
    from apps.cli import main

    assert main(["demo", "--host", host, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"lifecircle demo: error: --host: {host} serves the app beyond this machine" in err
    assert "--password-file" in err and "--oauth-provider" in err and "--host 127.0.0.1" in err
    assert "Traceback" not in err
    assert "demo data" not in err and "demo district" not in err  # refused before any data is loaded


def test_check_access(tmp_path, password_file, monkeypatch):
    from apps.web.server import Access, check_access, is_loopback
    from geo.errors import OptionError

    assert [is_loopback(h) for h in ("127.0.0.1", "127.3.4.5", "localhost", "::1", "[::1]")] == [True] * 5
    assert [is_loopback(h) for h in ("0.0.0.0", "::", "", "10.0.0.2", "example.org")] == [False] * 5
    assert not check_access("127.0.0.1").enabled
    ok = check_access("0.0.0.0", Access(password_file=password_file))
    kw = ok.serve_kwargs()
    assert kw["basic_auth"] == str(password_file) and len(kw["cookie_secret"]) >= 32
    assert Path(kw["login_template"]).is_file()
    monkeypatch.delenv("PANEL_OAUTH_KEY", raising=False)
    monkeypatch.delenv("PANEL_OAUTH_SECRET", raising=False)
    oauth = check_access("0.0.0.0", Access(oauth_provider="github", oauth_key="k", oauth_secret="s"))
    assert oauth.serve_kwargs()["oauth_provider"] == "github"

    bad = tmp_path / "bad.json"
    cases = [
        (Access(password_file=tmp_path / "none.json"), "--password-file", "no such file"),
        (Access(password_file=bad), "--password-file", "not JSON"),
        (Access(password_file=password_file, oauth_provider="github"), "--password-file", "not both"),
        (Access(oauth_provider="myspace", oauth_key="k", oauth_secret="s"), "--oauth-provider", "not one of"),
        (Access(oauth_provider="github"), "--oauth-key", "needs --oauth-key"),
        (Access(password_file=password_file, cookie_secret="short"), "--cookie-secret", "16 characters"),
    ]
    bad.write_text("{planner: x", encoding="utf-8")
    for access, option, words in cases:
        with pytest.raises(OptionError) as info:
            check_access("0.0.0.0", access)
        assert info.value.option == option and words in str(info.value), str(info.value)
    for text in ("[]", "{}", '{"planner": ""}', '{"planner": 3}'):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(OptionError, match="--password-file"):
            check_access("0.0.0.0", Access(password_file=bad))


def test_password_file_guards_the_app(auth_server):
    url = auth_server.url
    first = requests.get(url, allow_redirects=False, timeout=30)
    assert first.status_code == 302 and urlparse(first.headers["Location"]).path.lstrip(".") == "/login"
    login = requests.get(url + "login", timeout=30)
    assert login.status_code == 200 and "社区生活圈规划" in login.text
    assert "http://" not in login.text and "https://" not in login.text  # offline sign-in page
    ws = requests.get(
        url + "ws",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
        allow_redirects=False,
        timeout=30,
    )
    assert ws.status_code in (302, 403)  # no websocket (no session) without signing in

    s = requests.Session()
    wrong = s.post(url + "login", data={"username": "planner", "password": "nope"}, allow_redirects=False, timeout=30)
    assert wrong.status_code == 302 and "error=" in wrong.headers["Location"]
    assert "user" not in s.cookies
    ok = s.post(url + "login", data={"username": "planner", "password": "correct horse battery"}, timeout=30)
    assert ok.status_code == 200 and ok.url == url
    assert "user" in s.cookies
    page = s.get(url, timeout=30)
    assert page.status_code == 200 and "bokeh" in page.text and "login" not in urlparse(page.url).path


# ------------------------------------------------------------- /components/ imports nothing
def test_components_route_imports_nothing(demo_server):
    base = demo_server.url.rstrip("/")
    for path in (
        "/components/this/a/b/c",
        "/components/..%2f..%2f/a/b/c",
        "/components/..%2f/x/y/z",
        "/components/os/path/_css/x",
        "/components/panel/Column/_stylesheets/x.css",
        "/components/apps.web.leaflet_map/LeafletMap/_esm/leaflet_map.js",
    ):
        r = requests.get(base + path, timeout=30)
        assert r.status_code == 404, (path, r.status_code)
        assert "Traceback" not in r.text
    time.sleep(0.3)
    assert ZEN not in demo_server.stdout() and ZEN not in demo_server.stderr()
    assert "Traceback" not in demo_server.stderr()


# -------------------------------------------------------------- candidate cap (state level)
def test_candidate_cap_in_the_state():
    from apps.web.project import load_demo
    from apps.web.state import PlannerState
    from geo import settings
    from geo.errors import SitingError

    ws = load_demo()
    s = PlannerState(ws)
    assert s.max_candidates == settings.MAX_CANDIDATES_PER_SESSION
    s.max_candidates = 2
    points = _network_points(ws, 6)
    assert s.add_candidate(*points[0]) and s.add_candidate(*points[1])
    before = s.result().covered_weight("micro_station", 1000.0)
    assert s.add_candidate(*points[2]) is None
    assert len(s.candidates) == 2 and "最多保留 2 个候选站点" in s.message
    assert s.result().covered_weight("micro_station", 1000.0) == before
    s.lang = "en"
    with pytest.raises(SitingError, match="at most 2 candidate sites"):
        s.suggest(1)
    s.clear_candidates()
    assert s.add_candidate(*points[3]) is not None and s.message == ""


def _network_points(ws, n: int) -> list[tuple[float, float]]:
    """n demand points (on the network by construction of the demo), far enough apart."""
    pts = ws.demand.geometry.representative_point()
    step = max(len(pts) // n, 1)
    return [(float(p.x), float(p.y)) for p in pts.iloc[::step][:n]]


# ------------------------------------------------------------------ browsers
async def _open(browser, url: str, guard: Guard):
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    await guard.attach_async(page)
    await page.goto(url, timeout=120_000)
    await page.wait_for_selector(".lc-map[data-ready='1']", state="attached", timeout=120_000)
    await page.locator("button", has_text="点击地图添加站点").first.click(timeout=60_000)
    await page.wait_for_selector(".lc-map.lc-adding", state="attached", timeout=60_000)
    return ctx, page


async def _add(page, want: int, spots) -> int:
    """Click spots of the map until the page shows ``want`` candidates; return how many it shows."""
    box = await page.locator(".lc-map").first.bounding_box()
    for fx, fy in spots:
        if await page.locator(".lc-candidate").count() >= want:
            break
        before = await page.locator(".lc-candidate").count()
        await page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        for _ in range(150):  # up to 15 s for the marker
            if await page.locator(".lc-candidate").count() > before:
                break
            await asyncio.sleep(0.1)
    return await page.locator(".lc-candidate").count()


def _spots(i: int) -> list[tuple[float, float]]:
    xs = [0.30 + 0.011 * (i % 20), 0.45, 0.55, 0.62, 0.38, 0.70]
    return [(x, y) for y in (0.45 + 0.004 * i, 0.62) for x in xs]


@needs_browser
def test_concurrent_sessions_stay_isolated(demo_server):
    """30 browser sessions at once, each adding 1 or 2 candidates: each sees only its own."""
    pytest.importorskip("playwright.async_api", reason="playwright (Python) is not installed")
    from playwright.async_api import async_playwright

    n = SESSIONS
    rss_before = demo_server.rss
    held: dict[str, float] = {}

    async def one(browser, i: int, guard: Guard, gate: asyncio.Semaphore, barrier: asyncio.Barrier) -> int:
        want = 1 + i % 2
        ctx = None
        try:
            async with gate:  # pages load a few at a time (two cores); the sessions stay open together
                ctx, page = await _open(browser, demo_server.url, guard)
                got = await _add(page, want, _spots(i))
            await barrier.wait()  # all 30 sessions hold their candidates now
            if i == 0:
                held["rss"] = demo_server.rss
            await barrier.wait()
            await asyncio.sleep(0.5)
            assert await page.locator(".lc-candidate").count() == got  # nobody else's arrived
            return got - want
        except BaseException:
            await barrier.abort()  # do not leave the others waiting
            raise
        finally:
            if ctx is not None:
                await ctx.close()

    async def run():
        guard, gate, barrier = Guard(components=True), asyncio.Semaphore(6), asyncio.Barrier(n)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                results = await asyncio.wait_for(
                    asyncio.gather(*(one(browser, i, guard, gate, barrier) for i in range(n)), return_exceptions=True),
                    timeout=420,
                )
            finally:
                await browser.close()
        return guard, results

    started = time.perf_counter()
    guard, results = run_async(run(), timeout=480)
    seconds = time.perf_counter() - started
    guard.check()
    failures = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.BrokenBarrierError)]
    assert not failures, f"{len(failures)} of {n} sessions failed: {failures[:3]!r}"
    assert results == [0] * n, f"sessions that did not end with their own candidates: {results}"
    assert not server_errors(demo_server.stderr())
    _figure(
        concurrent_sessions=n,
        concurrent_seconds=round(seconds, 1),
        rss_before_sessions_mb=round(rss_before, 1),
        rss_with_sessions_held_mb=round(held["rss"], 1),
    )


@needs_browser
def test_over_the_candidate_cap_the_page_says_so(capped_server):
    """--max-candidates 2: a third click shows the message; --max-sessions 1: a second page is busy."""
    pytest.importorskip("playwright.async_api", reason="playwright (Python) is not installed")
    from playwright.async_api import async_playwright

    async def run():
        guard = Guard(components=True)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                ctx, page = await _open(browser, capped_server.url, guard)
                assert await _add(page, 2, _spots(3)) == 2
                box = await page.locator(".lc-map").first.bounding_box()
                note = page.locator(".lc-note", has_text="本会话最多保留 2 个候选站点")
                for fx, fy in _spots(7)[:6]:
                    await page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                    try:
                        await note.first.wait_for(timeout=5_000)
                        break
                    except Exception:  # noqa: BLE001 - a click on a marker: try elsewhere
                        continue
                text = await note.first.inner_text()
                count = await page.locator(".lc-candidate").count()
                second = await asyncio.to_thread(requests.get, capped_server.url, timeout=30)
                await note.first.scroll_into_view_if_needed()
                await page.screenshot(path=str(ARTIFACTS / "candidate_cap.png"))
                await ctx.close()
            finally:
                await browser.close()
        return guard, text, count, second

    ARTIFACTS.mkdir(exist_ok=True)
    guard, text, count, second = run_async(run(), timeout=120)
    guard.check()
    assert "请先删除或清除部分站点再添加" in text and count == 2
    _check_busy(second)  # one planner connected = the cap: the next page is "busy, try again"
    assert capped_server.proc.poll() is None and not server_errors(capped_server.stderr())


def test_thousand_plain_gets_leave_memory_bounded(flood_server):
    """1,000 GET / from a loop: placeholders only, a 503 busy page beyond the cap, RSS < 600 MB."""
    from geo import settings

    rss_before = flood_server.rss
    started = time.perf_counter()

    def loop(count: int) -> list:
        with requests.Session() as s:
            return [s.get(flood_server.url, timeout=30) for _ in range(count)]

    with ThreadPoolExecutor(4) as pool:  # four clients in a loop
        responses = [r for part in pool.map(loop, [GETS // 4] * 4) for r in part]
    seconds = time.perf_counter() - started
    codes: dict[int, int] = {}
    for r in responses:
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
    busy = next((r for r in responses if r.status_code == 503), None)
    rss_after = flood_server.rss
    assert set(codes) <= {200, 503}, codes
    if busy is not None:  # the pending-session cap was reached (a fast loop)
        _check_busy(busy)
    assert rss_after < RSS_LIMIT_MB, f"RSS {rss_before:.0f} -> {rss_after:.0f} MB after {GETS} GETs"
    assert not server_errors(flood_server.stderr())
    _figure(
        gets=GETS,
        gets_seconds=round(seconds, 1),
        gets_ok=codes.get(200, 0),
        gets_busy=codes.get(503, 0),
        rss_before_gets_mb=round(rss_before, 1),
        rss_after_gets_mb=round(rss_after, 1),
    )
    # the busy page is temporary: the unused sessions go after their lifetime
    deadline = time.monotonic() + settings.UNUSED_SESSION_LIFETIME_S + 3 * settings.CHECK_UNUSED_SESSIONS_S + 10
    while requests.get(flood_server.url, timeout=30).status_code == 503:
        assert time.monotonic() < deadline, "still busy after the unused sessions' lifetime"
        time.sleep(1.0)
    _figure(
        busy_for_s=round(time.perf_counter() - started - seconds, 1), rss_after_expiry_mb=round(flood_server.rss, 1)
    )


def _check_busy(r) -> None:
    from geo import settings

    assert r.status_code == 503 and "服务器繁忙" in r.text and "Try again" in r.text
    assert r.headers["Retry-After"] == str(int(settings.UNUSED_SESSION_LIFETIME_S))
    assert "http://" not in r.text and "https://" not in r.text


def _figure(**values) -> None:
    FIGURES.update(values)
    print("server load figures:", json.dumps(values, ensure_ascii=False))
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "server_load.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    old.update(values)
    path.write_text(json.dumps(old, indent=2, ensure_ascii=False) + "\n")
