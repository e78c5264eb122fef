"""The page's scenarios panel (方案): save the session's changes under a name, list, open, rename, duplicate, delete.

A planner's changes live in :class:`~apps.web.state.PlannerState`: the new facilities
(candidates, any kind) and the closed existing ones. :func:`scenario_from_state` turns them into
a :class:`geo.scenarios.Scenario`; :func:`open_in_state` puts a saved scenario back into a
session (its moved facilities become "closed where it was, new where it goes", as the page edits
them). :class:`ScenarioPanel` is the sidebar card wired to a
:class:`geo.scenarios.ScenarioStore`; a save made on an older version than the stored one shows
the store's message naming who saved it since, and changes nothing.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn

from lifecircle.geo import scenarios as sc
from lifecircle.geo.errors import LifecircleError, ScenarioConflict

from .views import CSS, section

__all__ = ["ScenarioPanel", "scenario_from_state", "open_in_state", "WORDS"]

#: The panel's words, Chinese (default) and English.
WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "方案",
        "user": "你的名字",
        "name": "方案名称",
        "save": "保存方案",
        "saved": "已保存“{name}”（第 {version} 版）",
        "list": "已保存的方案",
        "none": "尚无保存的方案。",
        "open": "打开",
        "opened": "已打开“{name}”（第 {version} 版，{by} 于 {at} 保存）",
        "new_name": "新名称",
        "rename": "重命名",
        "renamed": "已重命名为“{name}”",
        "duplicate": "复制",
        "duplicated": "已复制为“{name}”",
        "delete": "删除",
        "deleted": "已删除“{name}”",
        "need_name": "请先填写方案名称。",
        "need_user": "请先填写你的名字（记录保存人）。",
        "need_pick": "请先选择一个方案。",
        "need_new": "请填写新名称。",
        "skipped": "；{n} 处未能恢复：{what}",
        "cols": "名称|版本|保存人|保存时间|新增|移动|关闭",
        "store": "保存在 {path}",
        "conflict": "未保存（有人在你打开之后保存了此方案）：",
    },
    "en": {
        "title": "Scenarios",
        "user": "Your name",
        "name": "Scenario name",
        "save": "Save scenario",
        "saved": "Saved '{name}' (version {version})",
        "list": "Saved scenarios",
        "none": "No scenario saved yet.",
        "open": "Open",
        "opened": "Opened '{name}' (version {version}, saved by {by} at {at})",
        "new_name": "New name",
        "rename": "Rename",
        "renamed": "Renamed to '{name}'",
        "duplicate": "Duplicate",
        "duplicated": "Copied to '{name}'",
        "delete": "Delete",
        "deleted": "Deleted '{name}'",
        "need_name": "Give the scenario a name first.",
        "need_user": "Give your name first (it is recorded with the save).",
        "need_pick": "Pick a scenario first.",
        "need_new": "Give the new name.",
        "skipped": "; {n} change(s) could not be restored: {what}",
        "cols": "name|version|saved by|saved at|added|moved|closed",
        "store": "Stored in {path}",
        "conflict": "Not saved (someone saved this scenario after you opened it): ",
    },
}


# ------------------------------------------------------------------ state <-> scenario
def _facility(state, fid: str) -> dict[str, Any] | None:
    fac = state.ws.facilities
    hit = fac[fac["id"].astype(str) == str(fid)]
    if not len(hit):
        return None
    row = hit.iloc[0]
    return {
        "kind": str(row["kind"]),
        "name": str(row.get("name", "") or ""),
        "lon": float(row.geometry.x),
        "lat": float(row.geometry.y),
    }


def scenario_from_state(state, name: str, *, base: sc.Scenario | None = None) -> sc.Scenario:
    """The session's changes as a scenario.

    Parameters
    ----------
    state
        The :class:`~apps.web.state.PlannerState`.
    name
        The scenario's name.
    base
        The scenario this session opened (or last saved): its version (when the name is the
        same) and note are kept, so saving again is checked against it.

    Returns
    -------
    geo.scenarios.Scenario
        ``added``: the new facilities; ``closed``: the map points of the closed facilities;
        ``moved``: an existing facility closed where it was and placed anew (opened from a
        scenario that moved it), with its old position.
    """
    closed_ids = list(dict.fromkeys(state.closed_points()))
    moved_from = dict(getattr(state, "moved_from", {}) or {})
    added, moved = [], []
    taken: set[str] = set()
    for c in state.candidates:
        fid = moved_from.get(c.id)
        row = _facility(state, fid) if fid is not None and fid in closed_ids and fid not in taken else None
        if row is not None and row["kind"] == c.kind:
            taken.add(str(fid))
            moved.append(
                sc.Change(str(fid), c.kind, row["name"], c.lon, c.lat, from_lon=row["lon"], from_lat=row["lat"])
            )
            continue
        added.append(
            sc.Change(
                c.id,
                c.kind,
                f"{c.kind} {c.id}",
                c.lon,
                c.lat,
                area_m2=c.area_m2 if c.area_m2 is not None else float("nan"),
            )
        )
    closed = []
    for pid in closed_ids:
        row = _facility(state, pid)
        if row is not None and pid not in taken:
            closed.append(sc.Change(pid, row["kind"], row["name"], row["lon"], row["lat"]))
    kept = base if base is not None and base.name == sc.check_name(name) else None
    return sc.Scenario(
        name,
        added=added,
        moved=moved,
        closed=closed,
        note=kept.note if kept is not None else "",
        version=kept.version if kept is not None else 0,
    )


def open_in_state(state, scenario: sc.Scenario) -> list[str]:
    """Replace the session's changes by a scenario's, as one undo step; return what could not be restored.

    The what-if steps the page's clicks take: the session's new facilities are cleared and its
    closed ones reopened, then the scenario's closed facilities are closed, its new ones placed
    (a site now off the network is skipped), and a moved facility closed where it was and placed
    where it goes (saved again as moved). Undo goes back to the session before the scenario.
    """
    problems: list[str] = []
    moved_from: dict[str, str] = {}
    with state.one_step():
        state.clear_candidates()
        for fid in list(state.closed):
            state.close_facility(fid, False)
        done: set[str] = set()
        for change in [*scenario.closed, *scenario.moved]:
            if change.id in done:
                continue
            rid = state.close_facility(change.id, True)
            if rid is None:
                problems.append(f"{change.id} ({change.kind})")
                continue
            done.add(change.id)
            done.update(pid for pid, *_ in state.facility_points(rid))
        moved_ids = {c.id for c in scenario.moved}
        for change in [*scenario.added, *scenario.moved]:
            area = float(change.area_m2) if change.area_m2 == change.area_m2 else None  # NaN: the page's default
            cand = state.add_candidate(change.lon, change.lat, origin="scenario", kind=change.kind, area_m2=area)
            if cand is None:
                problems.append(f"{change.id} ({change.kind})")
            elif change.id in moved_ids:
                moved_from[cand.id] = change.id
    state.moved_from = moved_from
    return problems


# ------------------------------------------------------------------ the panel
class ScenarioPanel:
    """The sidebar card: save, list, open, rename, duplicate, delete.

    Parameters
    ----------
    state
        The session's :class:`~apps.web.state.PlannerState`.
    store
        Where the scenarios live (beside the project, or the demo's in the user's data folder).
    user
        The planner's name (default the logged-in user, if any).
    on_open
        Called after a scenario was opened into the session (to redraw the page).
    on_change
        Called after the store changed (a save, rename, duplicate or delete), e.g. to refresh a
        comparison's pick lists.
    """

    def __init__(
        self, state, store: sc.ScenarioStore, *, user: str | None = None, on_open=None, on_change=None
    ) -> None:
        self.state = state
        self.store = store
        self.on_open = on_open
        self.on_change = on_change
        self.opened: sc.Scenario | None = None
        w = self.words
        logged_in = (getattr(pn.state, "user", None) or sc.default_user()) if user is None else user
        self.user_w = pn.widgets.TextInput(
            label=w["user"], value=str(logged_in or ""), placeholder=w["user"], sizing_mode="stretch_width"
        )
        self.name_w = pn.widgets.TextInput(label=w["name"], placeholder=w["name"], sizing_mode="stretch_width")
        self.save_w = pn.widgets.Button(label=w["save"], color="primary", sizing_mode="stretch_width")
        self.pick_w = pn.widgets.Select(label=w["list"], options=[], sizing_mode="stretch_width")
        self.open_w = pn.widgets.Button(label=w["open"], color="default")
        self.new_name_w = pn.widgets.TextInput(
            label=w["new_name"], placeholder=w["new_name"], sizing_mode="stretch_width"
        )
        self.rename_w = pn.widgets.Button(label=w["rename"], color="default")
        self.duplicate_w = pn.widgets.Button(label=w["duplicate"], color="default")
        self.delete_w = pn.widgets.Button(label=w["delete"], color="danger", variant="outline")
        self.title_w = pn.pane.HTML(
            section(w["title"]), margin=(8, 10, 0, 10), stylesheets=[CSS], sizing_mode="stretch_width"
        )
        self.message_w = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[CSS])
        self.table_w = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[CSS])
        self.save_w.on_click(lambda _e: self.save())
        self.open_w.on_click(lambda _e: self.open())
        self.rename_w.on_click(lambda _e: self.rename())
        self.duplicate_w.on_click(lambda _e: self.duplicate())
        self.delete_w.on_click(lambda _e: None if self.delete() else None)
        self.refresh()

    @property
    def words(self) -> dict[str, str]:
        return WORDS.get(getattr(self.state, "lang", "zh"), WORDS["zh"])

    # -------------------------------------------------------------- actions
    def save(self) -> sc.Scenario | None:
        """Save the session's changes under the name typed; a stale save shows who saved since."""
        w = self.words
        name, user = (self.name_w.value or "").strip(), (self.user_w.value or "").strip()
        if not name:
            return self._say(w["need_name"], error=True)
        if not user:
            return self._say(w["need_user"], error=True)
        try:
            scen = scenario_from_state(self.state, name, base=self.opened)
            saved = self.store.save(scen, saved_by=user)
        except ScenarioConflict as exc:
            self.refresh()  # the list shows who saved it since
            return self._say(w["conflict"] + str(exc), error=True)
        except LifecircleError as exc:
            return self._say(str(exc), error=True)
        self.opened = saved
        self.refresh(select=saved.name)
        self._say(w["saved"].format(name=saved.name, version=saved.version))
        return saved

    def open(self, name: str | None = None) -> sc.Scenario | None:
        """Open a saved scenario into the session (its changes replace the session's)."""
        w = self.words
        name = name or self.pick_w.value
        if not name:
            return self._say(w["need_pick"], error=True)
        try:
            scen = self.store.load(name)
        except LifecircleError as exc:
            return self._say(str(exc), error=True)
        with pn.io.hold():  # one redraw of the page, not one per change
            problems = open_in_state(self.state, scen)
        self.opened = scen
        self.name_w.value = scen.name
        text = w["opened"].format(name=scen.name, version=scen.version, by=scen.saved_by, at=_when(scen.saved_at))
        if problems:
            text += w["skipped"].format(n=len(problems), what=", ".join(problems[:5]))
        self._say(text, error=bool(problems))
        if self.on_open is not None:
            self.on_open(scen)
        return scen

    def rename(self) -> sc.Scenario | None:
        """Rename the picked scenario to the new name typed."""
        w = self.words
        picked = self._picked_and_new()
        if picked is None:
            return None
        name, new = picked
        try:
            expected = self.opened.version if self.opened is not None and self.opened.name == name else None
            done = self.store.rename(name, new, expected_version=expected, by=self._by())
        except LifecircleError as exc:
            return self._say(str(exc), error=True)
        if self.opened is not None and self.opened.name == name:
            self.opened = done
            self.name_w.value = done.name
        self.new_name_w.value = ""
        self.refresh(select=done.name)
        self._say(w["renamed"].format(name=done.name))
        return done

    def duplicate(self) -> sc.Scenario | None:
        """Copy the picked scenario under the new name typed."""
        w = self.words
        picked = self._picked_and_new()
        if picked is None:
            return None
        name, new = picked
        try:
            done = self.store.duplicate(name, new, by=self._by())
        except LifecircleError as exc:
            return self._say(str(exc), error=True)
        self.new_name_w.value = ""
        self.refresh(select=done.name)
        self._say(w["duplicated"].format(name=done.name))
        return done

    def delete(self) -> bool:
        """Delete the picked scenario (refused when someone saved it since this session opened it)."""
        w = self.words
        name = self.pick_w.value
        if not name:
            self._say(w["need_pick"], error=True)
            return False
        try:
            expected = self.opened.version if self.opened is not None and self.opened.name == name else None
            self.store.delete(name, expected_version=expected)
        except (ScenarioConflict, LifecircleError) as exc:
            self._say(str(exc), error=True)
            return False
        if self.opened is not None and self.opened.name == name:
            self.opened = None
        self.refresh()
        self._say(w["deleted"].format(name=name))
        return True

    # -------------------------------------------------------------- drawing
    def refresh(self, select: str | None = None) -> None:
        """Re-read the store: the pick list and the table (and tell :attr:`on_change`)."""
        w = self.words
        if self.on_change is not None:
            self.on_change()
        try:
            table = self.store.list()
        except LifecircleError as exc:
            self._say(str(exc), error=True)
            return
        names = table["name"].tolist()
        current = (
            select
            if select in names
            else (self.pick_w.value if self.pick_w.value in names else (names[0] if names else None))
        )
        self.pick_w.options = names
        self.pick_w.value = current
        if table.empty:
            self.table_w.object = f"<p class='lc-muted'>{html.escape(w['none'])}</p>"
            return
        head = "".join(f"<th>{html.escape(c)}</th>" for c in w["cols"].split("|"))
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (r.name, r.version, r.saved_by, _when(r.saved_at), r.added, r.moved, r.closed)
            )
            + "</tr>"
            for r in table.itertuples()
        )
        self.table_w.object = (
            f"<table class='lc-table lc-scenarios'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
            f"<p class='lc-muted' style='font-size:11px'>{html.escape(w['store'].format(path=self.store.path.name))}</p>"
        )

    def _picked_and_new(self) -> tuple[str, str] | None:
        """The picked scenario and the new name typed (None, with a message, when one is missing)."""
        w = self.words
        name, new = self.pick_w.value, (self.new_name_w.value or "").strip()
        if not name:
            return self._say(w["need_pick"], error=True)
        if not new:
            return self._say(w["need_new"], error=True)
        return name, new

    def _by(self) -> str | None:
        """The user name typed, or None."""
        return (self.user_w.value or "").strip() or None

    def _say(self, text: str, *, error: bool = False):
        colour = "#b00020" if error else "#1b5e20"
        self.message_w.object = f"<div class='lc-scenario-msg' style='color:{colour}'>{html.escape(text)}</div>"
        return None

    def relabel(self) -> None:
        """Put the panel's words in the session's language (call when the page's language changes)."""
        w = self.words
        self.title_w.object = section(w["title"])
        for widget, key in ((self.user_w, "user"), (self.name_w, "name"), (self.new_name_w, "new_name")):
            widget.label, widget.placeholder = w[key], w[key]
        self.pick_w.label = w["list"]
        for button, key in (
            (self.save_w, "save"),
            (self.open_w, "open"),
            (self.rename_w, "rename"),
            (self.duplicate_w, "duplicate"),
            (self.delete_w, "delete"),
        ):
            button.label = w[key]
        self.refresh()

    def view(self) -> pn.Column:
        """The card for the sidebar."""
        return pn.Column(
            self.title_w,
            self.user_w,
            self.name_w,
            self.save_w,
            self.message_w,
            self.pick_w,
            pn.Row(self.open_w, self.delete_w, margin=0),
            self.new_name_w,
            pn.Row(self.rename_w, self.duplicate_w, margin=0),
            self.table_w,
            sizing_mode="stretch_width",
            css_classes=["lc-scenarios-card"],
        )


def _when(iso: str) -> str:
    return iso.replace("T", " ").removesuffix("Z")[:19] + " UTC" if iso else ""
