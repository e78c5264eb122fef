"""What every browser test shares: Chromium's flags, the app server, the offline guard, page helpers.

The browser tests drive Debian's ``/usr/bin/chromium`` with Playwright for Python
(``executable_path``; never ``playwright install``).  Every request that leaves
127.0.0.1 is blocked and fails the test: the app must work with no internet at all.
The app runs as ``python -m lifecircle demo|serve ...`` in a subprocess on a free
loopback port; its output goes to files, so a talkative server never blocks on a
full pipe.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
HAS_CHROMIUM = Path(CHROMIUM).exists()
NO_CHROMIUM = f"{CHROMIUM} is missing: install Debian's chromium (./run test does it with apt-get)"

#: ``pytestmark`` of a module whose every test drives Chromium (one xdist worker holds them all).
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not HAS_CHROMIUM, reason=NO_CHROMIUM),
]


def needs_browser(fn):
    """Mark one test that drives Chromium (skipped, with the reason, when it is not installed)."""
    return pytest.mark.skipif(not HAS_CHROMIUM, reason=NO_CHROMIUM)(pytest.mark.browser(fn))


# ----------------------------------------------------------------- processes
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB, from /proc/<pid>/status (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS line")


def app_env(cache: Path, **extra: str) -> dict:
    """The environment of an app server: a private network cache, this checkout importable."""
    env = dict(os.environ)
    env["LIFECIRCLE_CACHE"] = str(cache)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class AppServer:
    """``python -m lifecircle ARGS --port P --host 127.0.0.1`` in a subprocess.

    ``url`` is the address it printed; ``ready_s`` and ``ready_cpu_s`` how long it took to get
    there (wall and CPU).  Output goes to ``folder`` (a temporary one by default).
    """

    def __init__(self, args: list[str], env: dict, timeout: float = 90.0, folder: Path | None = None) -> None:
        self.port = free_port()
        folder = Path(folder or tempfile.mkdtemp(prefix="lc-server-"))
        self.out, self.err = folder / "stdout.txt", folder / "stderr.txt"
        cmd = [sys.executable, "-m", "lifecircle", *args, "--port", str(self.port), "--host", "127.0.0.1"]
        self.started = time.perf_counter()
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
        self.url = self._wait_for_url(timeout)
        self.ready_s = time.perf_counter() - self.started
        self.ready_cpu_s = cpu_seconds(self.proc.pid)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.stdout().splitlines():
                if line.startswith("http://"):
                    return line.strip()
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app server exited ({self.proc.returncode}): {self.stderr()[-3000:]}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the app server printed no URL within {timeout:.0f} s")

    @property
    def rss(self) -> float:
        """The server's resident memory now, in MB."""
        return rss_mb(self.proc.pid)

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> str:
        """Stop the server; return what it wrote on stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.stderr()


# A browser that went away: tornado's closed streams, and bokeh's own race when a socket closes
# after its session was already discarded (ws.on_close -> connection.session asserts it exists).
# The test's own SIGTERM landing while the server still draws polygons for closed sessions is not an error either.
_CLOSED_SOCKET = ("WebSocketClosedError", "StreamClosedError", "notify_connection_lost", "Terminated: SIGTERM")


def server_errors(stderr: str) -> list[str]:
    """The tracebacks a server logged, except those of browsers that went away."""
    blocks = stderr.split("Traceback (most recent call last):")[1:]
    return [b for b in blocks if not any(name in b for name in _CLOSED_SOCKET)]


def serve(args: list[str], env: dict, timeout: float = 90.0, folder: Path | None = None):
    """A fixture body: start an :class:`AppServer`, yield it, and fail on any error it logged."""
    server = AppServer(args, env, timeout=timeout, folder=folder)
    yield server
    errors = server_errors(server.stop())
    assert not errors, f"the server logged {len(errors)} error(s):\n{errors[0][-4000:]}"


# ----------------------------------------------------------------- browsers
def chromium():
    """A fixture body: one headless Chromium for a module (sync Playwright)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


def is_local(url: str) -> bool:
    """True for a request that stays on this machine (loopback, data: and blob: URLs)."""
    return url.startswith(("data:", "blob:", "file:")) or urlparse(url).hostname in LOCAL_HOSTS


class Guard:
    """Blocks and records every request that leaves loopback, and every dialog or page error.

    ``components=True`` also records any request for Panel's ``/components/`` (the app
    must serve its own assets inline or from its static route).
    """

    def __init__(self, components: bool = False) -> None:
        self.external: list[str] = []
        self.components: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self._watch_components = components

    def _allowed(self, url: str) -> bool:
        if not is_local(url):
            self.external.append(url)
            return False
        if self._watch_components and urlparse(url).path.startswith("/components/"):
            self.components.append(url)
        return True

    def route(self, route) -> None:
        """Playwright route handler (sync API)."""
        route.continue_() if self._allowed(route.request.url) else route.abort()

    async def route_async(self, route) -> None:
        """Playwright route handler (async API)."""
        await (route.continue_() if self._allowed(route.request.url) else route.abort())

    def attach(self, page) -> None:
        """Guard a sync Playwright page."""
        page.route("**/*", self.route)
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    async def attach_async(self, page) -> None:
        """Guard an async Playwright page (dialogs are recorded; the page is closed by its test)."""
        await page.route("**/*", self.route_async)
        page.on("dialog", lambda d: (self.dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def check(self) -> None:
        assert not self.external, f"requests left 127.0.0.1: {self.external[:5]}"
        assert not self.components, f"the page asked /components/: {self.components[:3]}"
        assert not self.dialogs, f"a dialog fired: {self.dialogs}"
        assert not self.errors, f"errors in the page: {self.errors[:3]}"


def guarded_page(browser, width: int = 1440, height: int = 900):
    """A new context and page under a :class:`Guard`; return (context, page, guard)."""
    guard = Guard()
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    guard.attach(page)
    return context, page, guard


def run_async(coro, timeout: float):
    """Run a coroutine on a fresh loop in a worker thread (the sync Playwright of other tests owns this one's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=timeout)


# ----------------------------------------------------------------- the page
def wait_until(predicate, what: str, timeout: float = 30.0, step: float = 0.1):
    """Poll ``predicate`` until it returns something true; return that, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def open_app(page, url: str) -> None:
    """Load the page and wait until Leaflet has drawn the map."""
    page.goto(url)
    page.wait_for_selector(".lc-map[data-ready='1']", state="attached", timeout=60_000)
    page.wait_for_function("() => document.readyState === 'complete'", timeout=30_000)
    wait_until(lambda: page.locator(".leaflet-container path").count() > 0, "map paths")


def figure(page, testid: str) -> float:
    """The value of the page's figure ``testid`` (its ``data-value``)."""
    return float(page.locator(f"[data-testid='{testid}'] .lc-fig").first.get_attribute("data-value"))


def add_mode(page) -> None:
    """Press 点击地图添加站点 and wait until the map takes clicks as new sites."""
    page.locator("button", has_text="点击地图添加站点").first.click()
    wait_until(lambda: page.locator(".lc-map.lc-adding").count() == 1, "add mode")


def click_map(page, fx: float, fy: float) -> None:
    """Click the map at a fraction (fx, fy) of its width and height."""
    box = page.locator(".lc-map").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)


def add_station(page, fx: float = 0.45, fy: float = 0.5) -> int:
    """Click the map until a candidate appears; return how many candidates there are."""
    before = page.locator(".lc-candidate").count()
    for dx in (0.0, 0.03, -0.03, 0.06):
        click_map(page, fx + dx, fy)
        try:
            return wait_until(
                lambda: page.locator(".lc-candidate").count() > before and page.locator(".lc-candidate").count(),
                "a candidate marker",
                timeout=15,
            )
        except AssertionError:
            continue
    raise AssertionError("no candidate appeared after clicking the map")


def download(page, label: str) -> tuple[str, bytes]:
    """Press the link or button ``label``; return the download's file name and bytes."""
    with page.expect_download(timeout=30_000) as info:
        page.locator("a, button", has_text=label).first.click()
    dl = info.value
    return dl.suggested_filename, Path(dl.path()).read_bytes()
