"""The planner's map at city scale (issue 15): ``lifecircle serve`` of a synthetic city, in Chromium.

The city is written by :func:`bench.bench_city.write_city` (a :func:`geo.synthetic.street_grid`,
1,000 facilities of three kinds, 100,000 residents, 100 社区) with a PROJECT.toml beside it.
The server runs as its own process (``python -m lifecircle serve``); Debian's headless Chromium
is driven by Playwright, every request that leaves 127.0.0.1 is blocked and counted as a failure.

One JSON row per measure (``{"measure", "nodes", "value", "unit", ...}``):

* ``server_ready`` - seconds from the process start until it prints its URL (and its CPU seconds);
* ``first_page`` - seconds from ``page.goto`` until the map is drawn: Leaflet ready, the headline
  figures on the page, every map tile image loaded and the residents drawn;
* ``bytes_first_page`` / ``bytes_total`` - HTTP response bodies plus websocket frames received by the
  browser (Chrome DevTools Protocol ``Network`` events) until the first page, and after the session;
* ``largest_ws_frame`` - the largest websocket frame received;
* ``click`` - ms from the map click (add mode) until the headline figures change, measured in the
  page (``performance.now()`` from the mouse press, captured before Leaflet, to the animation frame
  after a MutationObserver sees the figures change), beside the server's own what-if ms shown in
  the page's status line and ``polled_ms``, the same change polled from Python through the page's
  shadow roots (an upper bound, the figure this bench gave before); the median of 3 clicks, each on a
  spot of the map where the page's own hit test finds no marker, cluster, label or control (a click on a
  cluster zooms instead), and each checked to add one station (one more candidate marker in the page);
* ``frame_gap_load`` / ``frame_gap_pan`` - the longest gap between requestAnimationFrame callbacks
  while the first page loads, and while the map is panned and zoomed (drags and wheel steps);
  each with ``longest_task_cpu_ms``, the thread CPU time of the longest task on the page's main thread in
  a Chrome trace of the same window (``longest_task_ms`` its wall time): on a shared machine the gap's
  wall time counts the other processes too, the task's CPU time is the gap a quiet machine would see;
* ``js_heap`` - the page's used JS heap (MB) after panning;
* ``server_rss`` - the server's peak RSS (MB, VmHWM).

The answer is checked before any time counts: the headline's population within the largest tier
must equal :func:`geo.coverage.compute_coverage` on the same inputs (computed in this process).

Run ``python -m bench.bench_city_map [--nodes 200000] [--nodes 500000] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
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
CITY = {"facilities": 1000, "residents": 100_000, "units": 100}
TIERS = (300.0, 1000.0)


# ------------------------------------------------------------------ inputs
def write_project(folder: Path, nodes: int) -> Path:
    """Write the city (network, facilities, residents, 社区) and its PROJECT.toml; return the TOML's path."""
    sys.path.insert(0, str(ROOT))
    from bench.bench_city import write_city

    toml = folder / "project.toml"
    if toml.exists():
        return toml
    folder.mkdir(parents=True, exist_ok=True)
    paths = write_city(folder, {"nodes": nodes, **CITY})
    fac = Path(paths["facilities"])  # a third of them the page's first kind (党群服务站), so its figures are not 0
    fac.write_text(fac.read_text(encoding="utf-8").replace(",party_center,", ",micro_station,"), encoding="utf-8")
    toml.write_text(
        f'title = "synthetic city {nodes:,} nodes"\ncrs = "wgs84"\ntiers = [{TIERS[0]:g}, {TIERS[1]:g}]\n'
        f'network = "{Path(paths["network"]).name}"\nfacilities = "{Path(paths["facilities"]).name}"\n'
        f'demand = "{Path(paths["demand"]).name}"\ncommunities = "{Path(paths["units"]).name}"\n',
        encoding="utf-8",
    )
    return toml


def expected_headline(toml: Path) -> float:
    """Population within the largest tier of the nearest micro-station (the page's first view), straight from geo."""
    sys.path.insert(0, str(ROOT))
    from apps.web.project import _demand, read_project
    from geo import coverage, io, network

    conf = read_project(toml)
    net = network.load_network(conf["network"]["path"])
    fac = io.read_points(conf["facilities"]["path"], role="facilities", crs="wgs84")
    result = coverage.compute_coverage(net, fac, _demand(toml, conf), tiers=TIERS, kinds=["micro_station"])
    return float(result.covered_weight("micro_station", max(TIERS)))


# ------------------------------------------------------------------ server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # user + system of the process and of its waited-for children (the service areas' forked workers)
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def start_server(toml: Path, env: dict, timeout: float) -> tuple[subprocess.Popen, str, float, float]:
    """Start ``lifecircle serve``; return (process, url, wall seconds to the URL, CPU seconds)."""
    port = _free_port()
    argv = [sys.executable, "-m", "lifecircle", "serve", str(toml), "--port", str(port), "--host", "127.0.0.1"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=env.get("LC_CWD", ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("http://"):
            return proc, line.strip(), time.perf_counter() - started, _cpu_s(proc.pid)
        if not line and proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read()[-3000:]}")
    proc.kill()
    raise RuntimeError(f"no URL within {timeout:.0f} s")


# ------------------------------------------------------------------ browser
RAF_PROBE = """() => {
  window.__lcGaps = {max: 0, last: performance.now(), n: 0}
  const tick = (t) => { const g = window.__lcGaps; g.max = Math.max(g.max, t - g.last); g.last = t; g.n++;
                        requestAnimationFrame(tick) }
  requestAnimationFrame(tick)
}"""
DRAWN = """() => {
  const m = document.querySelector('.lc-map') || [...document.querySelectorAll('*')].map(e => e.shadowRoot)
    .filter(Boolean).map(r => r.querySelector('.lc-map')).find(Boolean)
  return !!m
}"""


CLICK_PROBE = """(sels) => {
  // the click's figures measured inside the page: from the mouse press (captured before Leaflet sees it)
  // until the headline's figures change in the DOM (a MutationObserver on the shadow root holding
  // them) and the next animation frame after that (the figures painted); no polling from Python
  const find = () => { const stack = [document]
    while (stack.length) { const r = stack.pop(); if (r.querySelector(sels[0])) return r
      r.querySelectorAll('*').forEach(e => { if (e.shadowRoot) stack.push(e.shadowRoot) }) }
    return null }
  const root = find()
  const values = () => sels.map(s => { const e = root.querySelector(s); return e ? e.getAttribute('data-value') : null })
  const before = JSON.stringify(values())
  const c = window.__lcClick = {t0: null, dom: null, paint: null}
  const down = () => { if (c.t0 === null) c.t0 = performance.now() }
  window.addEventListener('pointerdown', down, {capture: true, once: true})
  window.addEventListener('mousedown', down, {capture: true, once: true})
  const obs = new MutationObserver(() => {
    if (c.t0 === null || JSON.stringify(values()) === before) return
    c.dom = performance.now(); obs.disconnect()
    requestAnimationFrame(() => { c.paint = performance.now() })
  })
  obs.observe(root, {subtree: true, childList: true, attributes: true, characterData: true})
}"""


EMPTY_SPOT = """(pt) => {
  // is the map's own ground under this page point (tiles, the residents' canvas, the map itself), not a
  // marker, cluster, label, control or popup that would take the click (a cluster zooms instead of adding)?
  const stack = [document]
  let map = null
  while (stack.length && !map) { const r = stack.pop(); map = r.querySelector('.lc-map')
    r.querySelectorAll('*').forEach(e => { if (e.shadowRoot) stack.push(e.shadowRoot) }) }
  if (!map) return false
  const hit = map.getRootNode().elementFromPoint(pt[0], pt[1])
  if (!hit || !map.contains(hit)) return false
  const taken = '.leaflet-marker-icon, .leaflet-control-container, .leaflet-popup, .leaflet-tooltip, .lc-candidate'
  return !hit.closest(taken)
}"""


def empty_spots(page, box: dict, n: int, margin: float = 0.2) -> list[tuple[float, float]]:
    """``n`` page points on the map where a click lands on the ground, spread over its middle, at least
    60 px apart (an added station's marker takes the spot it was added at)."""
    spots: list[tuple[float, float]] = []
    steps = 9
    ticks = [margin + (1 - 2 * margin) * k / (steps - 1) for k in range(steps)]
    grid = sorted(((fx, fy) for fy in ticks for fx in ticks), key=lambda f: (f[0] - 0.5) ** 2 + (f[1] - 0.5) ** 2)
    for fx, fy in grid:  # the middle first
        x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
        if any(abs(x - a) < 60 and abs(y - b) < 60 for a, b in spots):
            continue
        # the spot and a few pixels around it (the mouse may land a pixel off)
        around = ((0, 0), (-6, 0), (6, 0), (0, -6), (0, 6))
        if all(page.evaluate(EMPTY_SPOT, [x + dx, y + dy]) for dx, dy in around):
            spots.append((x, y))
            if len(spots) == n:
                return spots
    raise AssertionError(f"only {len(spots)} empty spots on the map for {n} clicks")


class Meter:
    """Counts what the browser receives (CDP Network events)."""

    def __init__(self, cdp) -> None:
        self.http = 0
        self.ws = 0
        self.largest_frame = 0
        self.frames = 0
        cdp.send("Network.enable")
        cdp.on("Network.loadingFinished", self._done)
        cdp.on("Network.webSocketFrameReceived", self._frame)

    def _done(self, ev: dict) -> None:
        self.http += int(ev.get("encodedDataLength", 0))

    def _frame(self, ev: dict) -> None:
        size = len(ev.get("response", {}).get("payloadData", "").encode("utf-8"))
        self.ws += size
        self.frames += 1
        self.largest_frame = max(self.largest_frame, size)

    @property
    def total(self) -> int:
        return self.http + self.ws


TRACE_CATEGORIES = ["toplevel", "devtools.timeline"]


def longest_task(raw: bytes) -> tuple[float, float]:
    """The longest task on the page's main thread in a Chrome trace: (its thread CPU ms, its wall ms).

    A frame gap's wall time counts every other process the shared machine runs; the task's own CPU
    time is what the gap would be on a quiet machine."""
    events = json.loads(raw)["traceEvents"]
    names = {(e["pid"], e["tid"]): e["args"].get("name") for e in events if e.get("name") == "thread_name"}
    per: dict[tuple, list] = {}
    for e in events:
        key = (e.get("pid"), e.get("tid"))
        if e.get("ph") == "X" and "dur" in e and names.get(key) == "CrRendererMain":
            per.setdefault(key, []).append(e)
    if not per:
        return float("nan"), float("nan")
    main = max(per.values(), key=len)  # the page's renderer (other renderers: none or idle)
    main.sort(key=lambda e: (e["ts"], -e["dur"]))
    best = (0.0, 0.0)
    end = -1.0
    for e in main:
        if e["ts"] >= end:  # an outermost task
            end = e["ts"] + e["dur"]
            best = max(best, (e.get("tdur", e["dur"]) / 1000.0, e["dur"] / 1000.0))
    return best


def _figure(page, testid: str) -> float | None:
    loc = page.locator(f"[data-testid='{testid}'] .lc-fig").first
    if loc.count() == 0:
        return None
    value = loc.get_attribute("data-value")
    return float(value) if value is not None else None


def _wait(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("timed out")


def _tiles_pending(page) -> int:
    return int(page.locator("img.leaflet-tile:not(.leaflet-tile-loaded)").count())


def _points_drawn(page) -> int:
    """Residents drawn on the map's point canvas (city scale)."""
    canvas = page.locator("canvas.lc-points")
    return int(canvas.first.get_attribute("data-drawn") or 0) if canvas.count() else 0


def drive(url: str, expected: float, top: int, page_timeout: float, shot: Path | None) -> dict:
    """Open the page, check the headline, click, pan and zoom; return the browser's measures."""
    from playwright.sync_api import sync_playwright

    out: dict = {}
    external: list[str] = []
    errors: list[str] = []

    def route(r) -> None:
        u = r.request.url
        if u.startswith(("data:", "blob:")) or urlparse(u).hostname in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            external.append(u)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.route("**/*", route)
        page.on("pageerror", lambda e: errors.append(str(e)))
        cdp = context.new_cdp_session(page)
        meter = Meter(cdp)
        page.add_init_script(f"({RAF_PROBE})()")
        browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        started = time.perf_counter()
        page.goto(url, timeout=page_timeout * 1000)
        page.wait_for_selector(".lc-map[data-ready='1']", state="attached", timeout=page_timeout * 1000)
        _wait(lambda: _figure(page, f"covered-{top}") is not None, page_timeout)
        _wait(lambda: _tiles_pending(page) == 0, page_timeout)
        _wait(lambda: _points_drawn(page) > 0, page_timeout)  # the residents (fetched apart from the document)
        out["first_page_s"] = time.perf_counter() - started
        out["bytes_first_page"] = meter.total
        out["frame_gap_load_ms"] = page.evaluate("() => window.__lcGaps.max")
        out["task_load_cpu_ms"], out["task_load_ms"] = longest_task(browser.stop_tracing())
        got = _figure(page, f"covered-{top}")
        if abs(got - expected) > 0.5:
            raise AssertionError(f"the headline says {got}, geo.coverage says {expected}")
        print(json.dumps({"stage": "first_page", **out}), file=sys.stderr, flush=True)
        time.sleep(1.0)
        try:
            _interact(page, box_of(page), top, out, browser)
        except Exception as exc:  # noqa: BLE001 - a stage that times out is reported, not fatal
            out["error"] = f"{type(exc).__name__}: {exc}"[:300]
        heap = cdp.send("Runtime.getHeapUsage")
        out["js_heap_mb"] = heap["usedSize"] / 2**20
        out["bytes_total"] = meter.total
        out["largest_ws_frame"] = meter.largest_frame
        if shot is not None:
            page.screenshot(path=str(shot))
        context.close()
        browser.close()
    if external:
        raise AssertionError(f"requests left 127.0.0.1: {external[:3]}")
    if errors:
        raise AssertionError(f"page errors: {errors[:3]}")
    return out


def box_of(page) -> dict:
    return page.locator(".lc-map").first.bounding_box()


def _interact(page, box: dict, top: int, out: dict, browser=None) -> None:
    """Clicks in add mode (until the headline changes), then drags and wheel zooms."""
    before = (_figure(page, f"covered-{top}"), _figure(page, "covered-300"))
    page.locator("button", has_text="点击地图添加站点").first.click()
    _wait(lambda: page.locator(".lc-map.lc-adding").count() == 1, 180)
    clicks, polled = [], []
    sels = [f"[data-testid='covered-{top}'] .lc-fig", "[data-testid='covered-300'] .lc-fig"]
    # each click on an empty spot (a cluster there would zoom instead of adding), and each must add a
    # station: one more candidate marker in the page, or the click does not count and the bench says so
    for x, y in empty_spots(page, box, 3):
        if page.locator(".lc-map.lc-adding").count() == 0:  # an added station ends the add mode
            page.locator("button", has_text="点击地图添加站点").first.click()
            _wait(lambda: page.locator(".lc-map.lc-adding").count() == 1, 60)
        if not page.evaluate(EMPTY_SPOT, [x, y]):
            raise AssertionError(f"the click's spot ({x:.0f}, {y:.0f}) is no longer empty")
        stations = page.locator(".lc-candidate").count()
        page.evaluate(CLICK_PROBE, sels)
        t0 = time.perf_counter()
        page.mouse.click(x, y)
        try:
            _wait(lambda b=before: (_figure(page, f"covered-{top}"), _figure(page, "covered-300")) != b, 60, 0.005)
            polled.append((time.perf_counter() - t0) * 1000.0)
            probe = _wait(lambda: page.evaluate("() => window.__lcClick.paint !== null && window.__lcClick"), 10)
            _wait(lambda n=stations: page.locator(".lc-candidate").count() == n + 1, 30)
        except TimeoutError:
            raise AssertionError(f"the click at ({x:.0f}, {y:.0f}) added no station") from None
        clicks.append(probe["paint"] - probe["t0"])
        before = (_figure(page, f"covered-{top}"), _figure(page, "covered-300"))
        time.sleep(1.5)
    out["click_all_ms"] = [round(c) for c in clicks]
    out["stations_added"] = page.locator(".lc-candidate").count()
    status = " ".join(page.locator(".lc-note").all_inner_texts())
    server_ms = [float(m) for m in re.findall(r"情景计算 (\d+) ms", status)]
    out["click_ms"] = sorted(clicks)[len(clicks) // 2] if clicks else None
    out["click_polled_ms"] = sorted(polled)[len(polled) // 2] if polled else None
    out["click_server_ms"] = server_ms[-1] if server_ms else None
    page.locator("button", has_text="点击地图放置站点").first.click()
    time.sleep(1.0)
    # ---- pan and zoom
    if browser is not None:
        browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    page.evaluate("() => { window.__lcGaps.max = 0; window.__lcGaps.last = performance.now() }")
    cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    for dx, dy in ((250, 0), (-200, 150), (0, -250)):
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy + dy, steps=12)
        page.mouse.up()
        time.sleep(0.4)
    for delta in (-240, -240, -240, 240, -240, 240, 240, 240):
        page.mouse.move(cx, cy)
        page.mouse.wheel(0, delta)
        time.sleep(0.7)
    time.sleep(1.0)
    out["frame_gap_pan_ms"] = page.evaluate("() => window.__lcGaps.max")
    if browser is not None:
        out["task_pan_cpu_ms"], out["task_pan_ms"] = longest_task(browser.stop_tracing())


# ------------------------------------------------------------------ run
def run(
    nodes: int, folder: Path, *, page_timeout: float = 400.0, label: str = "", shot: Path | None = None
) -> list[dict]:
    """Measure one city of ``nodes`` network nodes; return the rows."""
    toml = write_project(folder, nodes)
    expected = expected_headline(toml)
    env = dict(os.environ)
    env.setdefault("LIFECIRCLE_CACHE", str(folder / "cache"))
    env["PYTHONPATH"] = env.get("LC_ROOT", str(ROOT)) + os.pathsep + env.get("PYTHONPATH", "")
    load = os.getloadavg()[0]
    proc, url, ready_s, ready_cpu = start_server(toml, env, timeout=300)
    print(json.dumps({"stage": "server_ready", "s": ready_s, "cpu_s": ready_cpu}), file=sys.stderr, flush=True)
    try:
        try:
            got = drive(url, expected, int(max(TIERS)), page_timeout, shot)
        except Exception as exc:  # noqa: BLE001 - e.g. the first page not drawn within --page-timeout: a row says so
            got = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        rss = _hwm_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    base = {"nodes": nodes, "label": label, "load_avg_1m": round(load, 2)}
    rows = [
        {"measure": "server_ready", "value": round(ready_s, 2), "unit": "s", "cpu_s": round(ready_cpu, 2)},
        {"measure": "first_page", "value": _r(got.get("first_page_s"), 2), "unit": "s"},
        {"measure": "bytes_first_page", "value": _r(got.get("bytes_first_page"), 2, 1e6), "unit": "MB"},
        {"measure": "bytes_total", "value": _r(got.get("bytes_total"), 2, 1e6), "unit": "MB"},
        {"measure": "largest_ws_frame", "value": _r(got.get("largest_ws_frame"), 2, 1e6), "unit": "MB"},
        {
            "measure": "click",
            "value": _r(got.get("click_ms")),
            "unit": "ms",
            "server_ms": got.get("click_server_ms"),
            "polled_ms": _r(got.get("click_polled_ms")),
            "all_ms": got.get("click_all_ms"),
            "stations_added": got.get("stations_added"),
        },
        {
            "measure": "frame_gap_load",
            "value": _r(got.get("frame_gap_load_ms")),
            "unit": "ms",
            "longest_task_cpu_ms": _r(got.get("task_load_cpu_ms")),
            "longest_task_ms": _r(got.get("task_load_ms")),
        },
        {
            "measure": "frame_gap_pan",
            "value": _r(got.get("frame_gap_pan_ms")),
            "unit": "ms",
            "longest_task_cpu_ms": _r(got.get("task_pan_cpu_ms")),
            "longest_task_ms": _r(got.get("task_pan_ms")),
        },
        {"measure": "js_heap", "value": _r(got.get("js_heap_mb"), 1), "unit": "MB"},
        {"measure": "server_rss", "value": round(rss), "unit": "MB"},
    ]
    if got.get("error"):
        rows.append({"measure": "error", "value": got["error"], "unit": ""})
    return [{**base, **r} for r in rows]


def _r(v, digits: int = 0, per: float = 1.0):
    return None if v is None else round(float(v) / per, digits) if digits else round(float(v) / per)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, action="append", help="network nodes (repeatable; default 200000)")
    ap.add_argument("--keep", type=Path, help="folder for the cities (kept; default a temporary folder)")
    ap.add_argument("--label", default="", help="a label for the rows (e.g. before/after)")
    ap.add_argument("--page-timeout", type=float, default=400.0, help="seconds to wait for the first page")
    ap.add_argument("--screenshot", type=Path, help="save the page after panning here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for nodes in args.nodes or [200_000]:
            for row in run(
                nodes, base / f"city{nodes}", page_timeout=args.page_timeout, label=args.label, shot=args.screenshot
            ):
                print(json.dumps(row, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
