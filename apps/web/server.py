"""Serving the planner's app safely: access control off loopback, bounded sessions, a closed route.

``serve_workspace`` starts Panel's server for a :class:`~apps.web.workspace.Workspace`
with three guards:

* **Access control.**  Listening on anything but loopback needs Panel's basic
  auth (a JSON password file) or one of Panel's OAuth providers;
  :func:`check_access` refuses otherwise (:class:`~geo.errors.OptionError`,
  which the command line reports with exit code 2).
* **Bounded memory.**  A plain ``GET /`` builds only a placeholder page; the
  planner's state and widgets are built once the browser's websocket connects
  (``pn.state.onload``).  At most :data:`~geo.settings.MAX_SESSIONS` connected
  and :data:`~geo.settings.MAX_PENDING_SESSIONS` not-yet-connected sessions
  live at once; beyond either a new page gets HTTP 503 "busy, try again".
  Sessions without a browser are discarded after
  :data:`~geo.settings.UNUSED_SESSION_LIFETIME_S` seconds.  Each session holds
  at most :data:`~geo.settings.MAX_CANDIDATES_PER_SESSION` candidates
  (:class:`~apps.web.state.PlannerState`).
* **No import by URL.**  Panel's ``/components/<module>/...`` route imports
  whatever module the URL names; here it serves only modules of
  :data:`COMPONENT_MODULES` that are already imported, and 404 for the rest.
"""

from __future__ import annotations

import inspect
import ipaddress
import json
import os
import secrets
import socket
import sys
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import panel as pn
from panel.io.server import ComponentResourceHandler, DocHandler
from tornado.web import HTTPError, authenticated

from lifecircle.geo import settings
from lifecircle.geo.errors import OptionError

from . import tiles
from .app import PlannerApp
from .leaflet_map import STATIC_DIR, static_dirs
from .workspace import Workspace

__all__ = [
    "COMPONENT_MODULES",
    "Access",
    "SessionLimits",
    "SESSIONS",
    "check_access",
    "free_port",
    "is_loopback",
    "read_password_file",
    "serve_workspace",
    "session_page",
    "preload_template",
]

#: Modules whose component resources ``/components/<module>/...`` may serve (the page needs none:
#: Leaflet and the map's files come from the app's own static routes).
COMPONENT_MODULES: frozenset[str] = frozenset()
#: Panel's OAuth providers a planner can name with ``--oauth-provider``.
OAUTH_PROVIDERS = (
    "auth0",
    "azure",
    "azurev2",
    "bitbucket",
    "generic",
    "github",
    "gitlab",
    "google",
    "okta",
    "password",
    "auth_code",
    "pam",
)
LOGIN_TEMPLATE = STATIC_DIR / "login.html"
LOGOUT_TEMPLATE = STATIC_DIR / "logout.html"

#: The app of every built session in this process, by Bokeh document (for tests and diagnostics).
SESSIONS: dict[Any, PlannerApp] = {}


# ------------------------------------------------------------------ access control
def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    name = (host or "").strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """Who may open the app: Panel's basic auth (a password file) or an OAuth provider.

    Parameters
    ----------
    password_file
        A JSON object ``{"user": "password", ...}`` (Panel's basic-auth credentials file; it is
        re-read at every sign-in, so edits apply without a restart).
    cookie_secret
        Signs the sign-in cookie; random per process when None (sign-ins end with a restart).
    oauth_provider, oauth_key, oauth_secret, oauth_redirect_uri, oauth_extra_params, oauth_encryption_key
        Passed to Panel's OAuth (see Panel's "Configuring OAuth").
    """

    password_file: Path | None = None
    cookie_secret: str | None = None
    oauth_provider: str | None = None
    oauth_key: str | None = None
    oauth_secret: str | None = None
    oauth_redirect_uri: str | None = None
    oauth_extra_params: dict = field(default_factory=dict)
    oauth_encryption_key: str | None = None

    @property
    def enabled(self) -> bool:
        """True when some access control is configured."""
        return self.password_file is not None or self.oauth_provider is not None

    def serve_kwargs(self) -> dict[str, Any]:
        """The keyword arguments ``pn.serve`` takes for this access control (empty when none)."""
        if not self.enabled:
            return {}
        secret = self.cookie_secret or os.environ.get("PANEL_COOKIE_SECRET") or secrets.token_urlsafe(32)
        kw: dict[str, Any] = {"cookie_secret": secret, "logout_template": str(LOGOUT_TEMPLATE)}
        if self.password_file is not None:
            kw.update(basic_auth=str(self.password_file), login_template=str(LOGIN_TEMPLATE))
            return kw
        kw.update(
            oauth_provider=self.oauth_provider,
            oauth_key=self.oauth_key,
            oauth_secret=self.oauth_secret,
            oauth_redirect_uri=self.oauth_redirect_uri,
            oauth_extra_params=dict(self.oauth_extra_params),
            oauth_encryption_key=self.oauth_encryption_key,
            oauth_optional=False,
        )
        return {k: v for k, v in kw.items() if v is not None}


def read_password_file(path: str | os.PathLike) -> dict[str, str]:
    """Read and check a basic-auth password file: a JSON object of user name -> password.

    Raises
    ------
    OptionError
        ``--password-file`` with what is wrong (missing, not JSON, not an object, empty names).
    """
    p = Path(path)
    option = "--password-file"
    if not p.is_file():
        raise OptionError(option, f'{p}: no such file (give a JSON file like {{"planner": "a long password"}})')
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise OptionError(option, f"{p}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise OptionError(option, f"{p}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict) or not data:
        raise OptionError(
            option, f'{p}: give a JSON object of user name -> password, e.g. {{"planner": "a long password"}}'
        )
    bad = [k for k, v in data.items() if not k.strip() or not isinstance(v, str) or not v]
    if bad:
        raise OptionError(option, f"{p}: user {bad[0]!r} needs a non-empty name and a non-empty password string")
    return data


def check_access(host: str, access: Access | None = None) -> Access:
    """Check the access control for serving on ``host``; return it (an empty :class:`Access` on loopback).

    Raises
    ------
    OptionError
        ``--host`` beyond loopback without access control (the message says how to add it), a bad
        password file, both basic auth and OAuth, an unknown OAuth provider, or OAuth without its
        key and secret.
    """
    access = access or Access()
    if access.password_file is not None and access.oauth_provider is not None:
        raise OptionError("--password-file", "give either --password-file or --oauth-provider, not both")
    if access.password_file is not None:
        read_password_file(access.password_file)
    if access.oauth_provider is not None:
        if access.oauth_provider not in OAUTH_PROVIDERS:
            raise OptionError(
                "--oauth-provider",
                f"{access.oauth_provider!r} is not one of Panel's providers: {', '.join(OAUTH_PROVIDERS)}",
            )
        for name, value, env in (
            ("--oauth-key", access.oauth_key, "PANEL_OAUTH_KEY"),
            ("--oauth-secret", access.oauth_secret, "PANEL_OAUTH_SECRET"),
        ):
            if not value and not os.environ.get(env) and access.oauth_provider not in ("pam",):
                raise OptionError(name, f"--oauth-provider {access.oauth_provider} needs {name} (or ${env})")
    if access.cookie_secret is not None and len(access.cookie_secret) < 16:
        raise OptionError(
            "--cookie-secret",
            'give at least 16 characters (e.g. python -c "import secrets; print(secrets.token_urlsafe(32))")',
        )
    if not is_loopback(host) and not access.enabled:
        raise OptionError(
            "--host",
            f"{host} serves the app beyond this machine, so it needs access control: add "
            '--password-file users.json (a JSON object {"user": "password"}, with --cookie-secret or '
            "$PANEL_COOKIE_SECRET to keep sign-ins across restarts), or --oauth-provider NAME "
            "--oauth-key ... --oauth-secret ... (Panel's OAuth); or serve on --host 127.0.0.1",
        )
    return access


# ------------------------------------------------------------------ sessions
class SessionLimits:
    """Counts one server's sessions: pending (page served, no browser yet) and built (planner's state).

    Parameters
    ----------
    max_sessions, max_pending
        Caps beyond which a new page gets HTTP 503.
    max_candidates
        Most candidates each session holds.
    """

    def __init__(
        self,
        max_sessions: int = settings.MAX_SESSIONS,
        max_pending: int = settings.MAX_PENDING_SESSIONS,
        max_candidates: int = settings.MAX_CANDIDATES_PER_SESSION,
    ) -> None:
        self.max_sessions, self.max_pending = int(max_sessions), int(max_pending)
        self.max_candidates = int(max_candidates)
        self.pending: set[Any] = set()
        self.apps: dict[Any, PlannerApp] = {}
        self.refused = 0

    def full(self) -> bool:
        """True when a new page would exceed a cap."""
        return len(self.apps) >= self.max_sessions or len(self.pending) >= self.max_pending

    def stats(self) -> dict[str, int]:
        """Live counts (for diagnostics and the load test)."""
        return {"sessions": len(self.apps), "pending": len(self.pending), "refused": self.refused}


def _note_html(zh: str, en: str, color: str = "#16324f") -> str:
    return (
        f'<div style="font-family:sans-serif;padding:3em;text-align:center;color:{color}">'
        f'<h2 style="margin-bottom:.4em">{escape(zh)}</h2><p>{escape(en)}</p></div>'
    )


def _busy_zh_en() -> tuple[str, str]:
    wait = f"{settings.UNUSED_SESSION_LIFETIME_S:g}"
    return (
        f"服务器繁忙：同时打开的规划页面已达上限，请约 {wait} 秒后刷新重试。",
        f"The server is busy: it already serves as many planners as it can. Try again in about {wait} s.",
    )


BUSY_PAGE = (
    '<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>服务器繁忙 / Server busy</title>'
    "</head><body>" + _note_html(*_busy_zh_en()) + "</body></html>"
)


class _BoundedDocHandler(DocHandler):
    """Panel's page handler, answering 503 when the server holds as many sessions as it may."""

    limits: SessionLimits

    @authenticated  # signing in comes first (a redirect to the login page when access control is on)
    async def get(self, *args, **kwargs):
        if self.limits.full():
            self.limits.refused += 1
            self.set_status(503)
            self.set_header("Retry-After", str(int(settings.UNUSED_SESSION_LIFETIME_S)))
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.write(BUSY_PAGE)
            return None
        result = super().get(*args, **kwargs)  # Panel's get: a coroutine, or None after a redirect
        return await result if inspect.isawaitable(result) else result


class _ComponentsGate(ComponentResourceHandler):
    """``/components/<module>/...`` for the modules of :data:`COMPONENT_MODULES` only; 404 otherwise.

    Never imports by URL: the module must already be loaded.
    """

    def parse_url_path(self, path: str) -> str:
        module = path.split("/", 1)[0]
        if module not in COMPONENT_MODULES or module not in sys.modules:
            raise HTTPError(404)
        try:
            return super().parse_url_path(path)
        except HTTPError:
            raise
        except Exception:  # noqa: BLE001 - a malformed path is "not found", not a server error
            raise HTTPError(404) from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish(f"{status_code}: {self._reason}")


def session_page(workspace: Workspace, limits: SessionLimits | None = None) -> pn.viewable.Viewable:
    """One session's page (``pn.serve`` calls it for every new session).

    In a server the planner's page is built when the browser connects; until then the session
    holds a placeholder only.  Outside a server the page is built at once.
    """
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return PlannerApp(workspace).view()
    limits = limits or SessionLimits()
    _serve_css_locally(doc)
    doc.template = preload_template(workspace)
    holder = pn.Column(
        pn.pane.HTML(
            _note_html("正在加载规划地图…", "Loading the planner's map ...", "#6b7785"), sizing_mode="stretch_width"
        ),
        sizing_mode="stretch_both",
        margin=0,
    )
    limits.pending.add(doc)
    workspace.map_tiles().touch()  # a visitor: the start's tile warm-up waits (apps.web.tiles.MapTiles.wait_for_quiet)

    def build() -> None:
        limits.pending.discard(doc)
        workspace.map_tiles().touch()
        if len(limits.apps) >= limits.max_sessions:
            limits.refused += 1
            holder.objects = [pn.pane.HTML(_note_html(*_busy_zh_en(), color="#b3261e"), sizing_mode="stretch_width")]
            return
        app = PlannerApp(workspace)
        app.state.max_candidates = limits.max_candidates
        limits.apps[doc] = SESSIONS[doc] = app
        holder.objects = [app.view()]

    def destroyed(_ctx) -> None:
        limits.pending.discard(doc)
        limits.apps.pop(doc, None)
        SESSIONS.pop(doc, None)

    pn.state.onload(build)
    pn.state.on_session_destroyed(destroyed)
    return holder


def preload_template(workspace: Workspace) -> str:
    """The page template (Panel's, extended): the map's module and a city's residents fetched from the head.

    The browser otherwise asks for Leaflet's module only once the session's document arrived and the
    map's script runs, and for the residents (1 MB and more) once the map is made; preloaded, both
    come while Bokeh's own scripts load.  Both are fetched with ``credentials: "same-origin"`` (the
    map's script, es-module-shims), which ``as="fetch" crossorigin="anonymous"`` matches.
    """
    from .leaflet_map import LEAFLET_ROUTE

    # the map's module is fetched by es-module-shims (Panel's ESM components), not by a module script
    links = [f'<link rel="preload" href="/{LEAFLET_ROUTE}/leaflet-src.esm.js" as="fetch" crossorigin="anonymous">']
    if workspace.city_scale and workspace.city_points:
        url = json.loads(workspace.demand_points_ref("wgs84"))["url"]
        links.append(f'<link rel="preload" href="{escape(url)}" as="fetch" crossorigin="anonymous">')
    return "{% block postamble %}{{ super() }}\n    " + "\n    ".join(links) + "\n{% endblock %}"


def _serve_css_locally(doc: Any) -> None:
    """Make the widgets' stylesheets of ``doc`` resolve to this server's ``/static`` route.

    Panel sets ``dist_url`` when it renders the HTML page of a session; a session that a browser
    opens over the websocket without that page (its first session expired before the browser
    connected, common under load) has none, and Panel then points every widget stylesheet at its
    remote content network, which an intranet cannot reach. The browser tests fail on any request
    that leaves 127.0.0.1, so a regression here shows.
    """
    from panel.io.resources import LOCAL_DIST

    doc._template_variables.setdefault("dist_url", LOCAL_DIST)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` now."""
    with socket.socket() as sock:
        sock.bind((host if host not in ("", "0.0.0.0") else "127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _install(server, limits: SessionLimits) -> None:
    """Put the bounded page handler in place of Panel's on this server's routes."""
    handler = type("BoundedDocHandler", (_BoundedDocHandler,), {"limits": limits})
    swapped = 0
    for rule in server._tornado.wildcard_router.rules:
        if rule.target is DocHandler:
            rule.target = handler
            swapped += 1
    if not swapped:  # a Panel upgrade moved its routes: fail loudly rather than serve unbounded
        raise RuntimeError("Panel's page handler was not found on the server's routes")


def build_server(
    workspace: Workspace,
    *,
    port: int = 5006,
    host: str = "127.0.0.1",
    allow_origins: list[str] | None = None,
    access: Access | None = None,
    limits: SessionLimits | None = None,
):
    """Make (not start) the Panel server for ``workspace``; return ``(server, port, limits)``.

    Raises
    ------
    OptionError
        From :func:`check_access`.
    """
    access = check_access(host, access)
    limits = limits or SessionLimits()
    port = port or free_port(host)
    origins = [f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}", *(allow_origins or [])]

    def page() -> pn.viewable.Viewable:
        return session_page(workspace, limits)

    server = pn.serve(
        page,
        port=port,
        address=host,
        websocket_origin=origins,
        show=False,
        start=False,
        title=workspace.title,
        static_dirs=static_dirs(),
        threaded=False,
        verbose=False,
        compress_response=True,  # Tornado gzips the page and its scripts (3.3 MB of Bokeh, Panel and Leaflet: ~1 MB)
        unused_session_lifetime_milliseconds=int(settings.UNUSED_SESSION_LIFETIME_S * 1000),
        check_unused_sessions_milliseconds=int(settings.CHECK_UNUSED_SESSIONS_S * 1000),
        extra_patterns=[
            (r"/components/(.*)", _ComponentsGate, {}),
            (
                rf"/{tiles.ROUTE}/(.*)",
                tiles.TileHandler,
                {"tiles": tiles.prepare(workspace, build=False)},
            ),  # city-scale tiles
        ],
        **access.serve_kwargs(),
    )
    _install(server, limits)
    return server, port, limits


def serve_workspace(
    workspace: Workspace,
    *,
    port: int = 5006,
    host: str = "127.0.0.1",
    show: bool = False,
    allow_origins: list[str] | None = None,
    access: Access | None = None,
    limits: SessionLimits | None = None,
    on_ready=None,
) -> None:
    """Serve the planner's app until interrupted.

    Parameters
    ----------
    workspace
        The prepared data.
    port, host
        Where to listen (port 0 picks a free port).  A host beyond loopback needs ``access``.
    show
        Open a browser tab.
    allow_origins
        Extra ``host:port`` origins allowed to open the app's websocket.
    access
        Basic auth or OAuth (see :class:`Access`).
    limits
        Session and candidate caps (default: those of :mod:`geo.settings`).
    on_ready
        Called with the URL once the server listens.

    Raises
    ------
    OptionError
        From :func:`check_access`, before anything listens.
    """
    server, port, _limits = build_server(
        workspace, port=port, host=host, allow_origins=allow_origins, access=access, limits=limits
    )
    server.start()
    workspace.settle_heap()  # the long-lived data frozen out of the GC once the start's layers are made
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}/"
    if on_ready:
        on_ready(url)
    workspace.warm_tiles_later()
    if show:
        server.io_loop.add_callback(server.show, "/")
    server.io_loop.start()
