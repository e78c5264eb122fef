"""``lifecircle scenarios``: list, export and compare saved scenarios (方案); ``--scenario`` for batch runs.

::

    lifecircle scenarios PROJECT.toml                                   # name, version, saved_by, saved_at, counts
    lifecircle scenarios PROJECT.toml --export 两站方案 --out s.geojson   # the changes as points
    lifecircle scenarios PROJECT.toml --compare today 两站方案 --out diff.geojson --summary s.json
    lifecircle coverage --scenario PROJECT.toml:两站方案 --out cov.geojson

A project's scenarios live in ``<project>.scenarios.gpkg`` beside PROJECT.toml; ``--demo`` (or
``demo:NAME``) uses the demo's store in the user's data folder. ``today`` stands for the
facilities as they are.

:func:`add_scenario_option` and :func:`scenario_inputs` are what another command needs to take
``--scenario PROJECT.toml:NAME``: the project's files stand in for the inputs not given on the
command line, and the scenario is applied to the facilities.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Inputs, Reporter, UsageError, add_common, check_output
from .outputs import Outputs

__all__ = [
    "register",
    "cmd_scenarios",
    "add_scenario_option",
    "scenario_inputs",
    "ScenarioInputs",
    "project_entry",
    "apply_scenario",
    "TODAY_WORDS",
]

#: Words ``--compare`` takes for today's facilities (no scenario).
TODAY_WORDS = ("today", "现状")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``scenarios`` sub-command."""
    p = sub.add_parser("scenarios", help="list, export or compare the saved scenarios (方案) of a project")
    p.add_argument(
        "project",
        nargs="?",
        help="the project file (PROJECT.toml); its scenarios are in <project>.scenarios.gpkg beside it",
    )
    p.add_argument("--store", help=argparse.SUPPRESS)  # a .gpkg store given directly (tests, scripts)
    p.add_argument("--export", metavar="NAME", help="write scenario NAME's changes (added, moved, closed) to --out")
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="compare scenario A with B ('today' for the facilities as they are)",
    )
    p.add_argument(
        "--out",
        help="GeoJSON to write: the scenario's changes (--export) or the residents who gain or lose (--compare)",
    )
    p.add_argument(
        "--summary",
        help="with --compare: JSON of the headline figures per kind and tier, the 社区 table and completeness",
    )
    p.add_argument("--units-table", help="with --compare: the 社区 table with the differences (.csv or .xlsx)")
    p.add_argument(
        "--standard",
        default=None,
        help="with --compare: also compare complete life circles by this standard pack "
        "(e.g. gb50180-2018; default the project's 'standard', else coverage only)",
    )
    p.add_argument("--json", action="store_true", help="list the scenarios as JSON on stdout")
    add_common(p, crs=False)
    p.add_argument(
        "--out-crs",
        default="wgs84",
        choices=("wgs84", "gcj02"),
        help="coordinates of the written GeoJSON (default wgs84)",
    )
    p.set_defaults(handler=cmd_scenarios, inputs=("project", "store"), outputs=("out", "summary", "units_table"))


def add_scenario_option(p: argparse.ArgumentParser) -> None:
    """``--scenario PROJECT.toml:NAME`` (or ``demo:NAME`` with ``--demo``)."""
    p.add_argument(
        "--scenario",
        metavar="PROJECT.toml:NAME",
        default=None,
        help="compute saved scenario NAME of the project (its files stand in for the inputs not given); demo:NAME with --demo",
    )


# ------------------------------------------------------------------ stores
def _store_for(args: argparse.Namespace):
    """The store named by ``--store``, the project, or ``--demo``."""
    from lifecircle.geo import scenarios as sc

    if getattr(args, "store", None):
        return sc.ScenarioStore(args.store)
    if args.project:
        project = Path(args.project)
        if project.suffix.lower() != ".toml":
            raise UsageError(f"{args.project}: give the project file (PROJECT.toml), or --demo")
        if not project.is_file():
            raise UsageError(f"{args.project}: project file not found (looked for {project.resolve()})")
        return sc.ScenarioStore(sc.project_store_path(project))
    if args.demo:
        return sc.ScenarioStore(sc.demo_store_path())
    raise UsageError("give the project file (lifecircle scenarios PROJECT.toml), or --demo")


@dataclass
class _Base:
    """A project's (or the demo's) data for a comparison or a batch run."""

    net: Any
    facilities: Any
    demand: Any
    units: Any = None
    tiers: tuple[float, ...] = ()
    standard: str | None = None
    evaluation_facilities: Any = None
    snap_limit_m: float = 300.0


def _load_project(path: Path, rep: Reporter) -> tuple[dict, Any]:
    """Read PROJECT.toml (InputError naming it on any problem); return its settings and kind registry."""
    from lifecircle.apps.web import project as wp

    conf = wp.read_project(path)
    return conf, wp._kinds(path, conf.get("kinds"))


def _project_demand(project: Path, conf: dict):
    """The project's demand by the app's rule (refused without a population column unless weight = "rows")."""
    from lifecircle.apps.web import project as wp

    return wp._demand(project, conf)


def _base_data(args: argparse.Namespace, rep: Reporter) -> _Base:
    from lifecircle.apps.web import project as wp
    from lifecircle.geo import io, network, settings

    if args.project:
        project = Path(args.project)
        conf, kinds = _load_project(project, rep)
        net = network.load_network(conf["network"]["path"], progress=rep.note)
        fac = io.read_points(conf["facilities"]["path"], role="facilities", crs=conf["facilities"]["crs"], kinds=kinds)
        dem = _project_demand(project, conf)
        units = (
            io.read_boundaries(conf["communities"]["path"], crs=conf["communities"]["crs"])
            if "communities" in conf
            else None
        )
        std = wp._standard(project, conf["standard"]) if "standard" in conf else None
        return _Base(
            net,
            fac,
            dem,
            units,
            tuple(conf["tiers"]),
            std,
            None,
            float(conf.get("snap_limit", settings.DEFAULT_SNAP_LIMIT_M)),
        )
    from types import SimpleNamespace

    from lifecircle.geo import demo

    from .evaluate import _demo_facilities  # the demo's parks as polygons, their gates as entrances

    d = demo.build_demo()
    dem = d.demand.rename(columns={"population": "weight"}) if "weight" not in d.demand else d.demand
    parks = d.parks

    def with_parks(points):
        return _demo_facilities(SimpleNamespace(facilities=points, parks=parks))

    return _Base(
        d.network,
        d.facilities,
        dem,
        d.communities,
        tuple(settings.DEFAULT_TIERS),
        None,
        with_parks,
        settings.DEFAULT_SNAP_LIMIT_M,
    )


# ----------------------------------------------------------------- command
def cmd_scenarios(args: argparse.Namespace) -> int:
    """Run ``lifecircle scenarios``."""
    rep = Reporter(args.quiet)
    if args.export and args.compare:
        raise UsageError("give --export NAME or --compare A B, not both")
    if (args.export or args.compare) and not args.out:
        raise UsageError(f"{'--export' if args.export else '--compare'} needs --out FILE.geojson")
    if not (args.export or args.compare):
        for opt, goes in (
            ("out", "--export NAME or --compare A B"),
            ("summary", "--compare A B"),
            ("units_table", "--compare A B"),
        ):
            if getattr(args, opt):
                raise UsageError(f"--{opt.replace('_', '-')} goes with {goes}")
    if args.export and (args.summary or args.units_table):
        raise UsageError(f"{'--summary' if args.summary else '--units-table'} goes with --compare A B, not --export")
    check_output(args.out, "--out", (".geojson", ".json"))
    check_output(args.summary, "--summary", (".json",))
    check_output(args.units_table, "--units-table", (".csv", ".xlsx"))
    store = _store_for(args)
    if args.export:
        return _export(args, rep, store)
    if args.compare:
        return _compare(args, rep, store)
    return _list(args, rep, store)


def _list(args: argparse.Namespace, rep: Reporter, store) -> int:
    table = store.list()
    if args.json:
        print(json.dumps(table.to_dict("records"), ensure_ascii=False, indent=1))
        return 0
    if table.empty:
        rep.note(f"no scenarios saved yet in {store.path}")
        return 0
    cols = ["name", "version", "saved_by", "saved_at", "added", "moved", "closed"]
    rows = [[str(v) for v in rec] for rec in table[cols].itertuples(index=False)]
    widths = [max(_width(c), *(_width(r[i]) for r in rows)) for i, c in enumerate(cols)]
    print("  ".join(_pad(c, w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(_pad(v, w) for v, w in zip(r, widths)))
    rep.note(f"{len(rows)} scenario(s) in {store.path}")
    return 0


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _export(args: argparse.Namespace, rep: Reporter, store) -> int:
    scen = store.load(args.export)
    frame = scen.to_geodataframe()
    meta = {
        "scenario": scen.name,
        "version": scen.version,
        "saved_by": scen.saved_by,
        "saved_at": scen.saved_at,
        "store": str(store.path),
    }
    with Outputs() as out:
        out.geojson(frame, args.out, out_crs=args.out_crs, metadata=meta)
    c = scen.counts
    rep.note(f"scenario '{scen.name}' v{scen.version}: {c['added']} added, {c['moved']} moved, {c['closed']} closed")
    rep.note("wrote " + ", ".join(str(p) for p in out.written))
    return 0


def _side(store, name: str):
    return None if name.strip().lower() in TODAY_WORDS else store.load(name)


def _compare(args: argparse.Namespace, rep: Reporter, store) -> int:
    from lifecircle.geo import scenarios as sc
    from lifecircle.geo.coverage import tier_key
    from lifecircle.geo.errors import LifecircleError

    a, b = (_side(store, n) for n in args.compare)
    base = _base_data(args, rep)
    standard = args.standard or base.standard
    kw = {
        "tiers": base.tiers,
        "units": base.units,
        "snap_limit_m": base.snap_limit_m,
        "evaluation_facilities": base.evaluation_facilities,
    }
    try:
        cmp = sc.compare(base.net, base.facilities, base.demand, a, b, standard=standard, **kw)
    except LifecircleError as exc:
        if args.standard or standard is None:
            raise
        # the project's standard cannot be evaluated on these facilities: compare coverage, and say why
        rep.note(f"note: complete life circles not compared ({standard} from the project): {exc}")
        cmp = sc.compare(base.net, base.facilities, base.demand, a, b, standard=None, **kw)
    residents = cmp.residents()
    summary = cmp.summary()
    summary["store"] = str(store.path)
    meta = {"a": cmp.a_name, "b": cmp.b_name, "tiers_m": list(cmp.tiers)}
    units = cmp.by_unit()
    with Outputs() as out:
        out.geojson(residents, args.out, out_crs=args.out_crs, metadata=meta)
        if args.summary:
            out.json(summary, args.summary)
        if args.units_table and units is not None:
            out.table(units.drop(columns="geometry"), args.units_table)
    if args.units_table and units is None:
        rep.note("note: no 社区 boundaries (communities) in the project: --units-table not written")
    rep.note(f"{cmp.a_name} -> {cmp.b_name}: demand {cmp.total_weight:,.0f}")
    head = cmp.headline()
    for rec in head[head["diff_weight"].abs() > 1e-9].itertuples():
        rep.note(
            f"  {rec.kind:<14} {tier_key(rec.tier_m):>5} m: {rec.share_a:6.1%} -> {rec.share_b:6.1%} ({rec.diff_weight:+,.0f})"
        )
    if "completeness" in summary:
        for t, v in summary["completeness"]["complete"].items():
            rep.note(f"  complete {t:<7}: {v['a']['share']:6.1%} -> {v['b']['share']:6.1%} ({v['diff_weight']:+,.0f})")
    rep.note("wrote " + ", ".join(str(p) for p in out.written))
    return 0


# ------------------------------------------------------- --scenario option
@dataclass
class ScenarioInputs(Inputs):
    """:class:`Inputs` for ``--scenario``: the project's files for the inputs not given, and the
    scenario applied to the facilities."""

    scenario: Any = None
    conf: dict | None = None
    kinds: Any = None
    project: Path | None = None

    def _given(self, option: str) -> bool:
        return bool(getattr(self.args, option, None)) or self.conf is None

    def network(self):
        if self._given("network"):
            return super().network()
        from lifecircle.geo import network

        return network.load_network(self.conf["network"]["path"], progress=self.reporter.note)

    def points(self, option: str, role: str, demo_attr: str, *, kinds=None):
        if option != "facilities":
            return super().points(option, role, demo_attr, kinds=kinds)
        if self._given("facilities"):
            frame = super().points(option, role, demo_attr, kinds=kinds)
        else:
            from lifecircle.geo import io

            entry = self.conf["facilities"]
            frame = io.read_points(entry["path"], role="facilities", crs=entry["crs"], kinds=self.kinds)
        out = self.scenario.apply(frame)
        c = self.scenario.counts
        self.reporter.note(
            f"scenario '{self.scenario.name}' v{self.scenario.version} ({self.scenario.saved_by}, "
            f"{self.scenario.saved_at}): {c['added']} added, {c['moved']} moved, {c['closed']} closed"
        )
        return out

    def demand(self):
        if self._given("demand"):
            return super().demand()
        return _project_demand(self.project or Path("PROJECT.toml"), self.conf)

    def units(self):
        if self._given("units") or "communities" not in self.conf:
            return super().units()
        from lifecircle.geo import io

        entry = self.conf["communities"]
        return io.read_boundaries(entry["path"], crs=entry["crs"])


def scenario_inputs(args: argparse.Namespace, reporter: Reporter) -> Inputs:
    """The command's :class:`Inputs`, or :class:`ScenarioInputs` when ``--scenario`` is given.

    Raises
    ------
    UsageError, InputError, ScenarioError
        For a bad ``--scenario`` value, project file or scenario name (exit 2).
    """
    ref = getattr(args, "scenario", None)
    if not ref:
        return Inputs(args, reporter)
    from lifecircle.geo import scenarios as sc

    if ref.lower().startswith("demo:"):
        name = ref[5:].strip()
        if not name:
            raise UsageError(f"--scenario {ref}: give demo:NAME, the demo scenario's name")
        if not args.demo:
            raise UsageError(f"--scenario {ref}: a demo scenario needs --demo (or give PROJECT.toml:NAME)")
        scen = sc.ScenarioStore(sc.demo_store_path()).load(name)
        return ScenarioInputs(args, reporter, scenario=scen)
    try:
        project, name = sc.split_ref(ref)
    except sc.ScenarioError as exc:
        raise UsageError(f"--scenario {exc}") from None
    if not project.is_file():
        raise UsageError(f"--scenario {ref}: project file {project} not found (looked for {project.resolve()})")
    conf, kinds = _load_project(project, reporter)
    scen = sc.ScenarioStore(sc.project_store_path(project)).load(name)
    if getattr(args, "tiers", "absent") is None and conf.get("tiers"):
        args.tiers = ",".join(f"{t:g}" for t in conf["tiers"])  # the project's tiers unless --tiers is given
    if getattr(args, "standard", None) is not None and "standard" in conf and _is_default_standard(args):
        from lifecircle.apps.web import project as wp

        args.standard = wp._standard(project, conf["standard"])  # the project's pack unless --standard is given
    return ScenarioInputs(args, reporter, scenario=scen, conf=conf, kinds=kinds, project=project)


def _is_default_standard(args: argparse.Namespace) -> bool:
    """True when ``--standard`` is the default pack (so the project's ``standard`` stands in for it)."""
    from lifecircle.geo import settings

    return args.standard == settings.DEFAULT_STANDARD


def project_entry(inputs: Inputs, key: str) -> dict | None:
    """``{"path", "crs"}`` of the project's file ``key`` when ``--scenario PROJECT.toml:NAME`` is given
    and the command line does not name that input; else None."""
    conf = getattr(inputs, "conf", None)
    if conf is None or getattr(inputs.args, key, None) or key not in conf:
        return None
    return conf[key]


def apply_scenario(inputs: Inputs, frames: list) -> list:
    """Apply ``--scenario`` to a command's facility frames (identity without it).

    A moved or closed facility is changed in the frame that holds its id; added facilities join
    the first frame. An id found in no frame raises :class:`~geo.errors.ScenarioError`.
    """
    if not isinstance(inputs, ScenarioInputs) or inputs.scenario is None:
        return frames
    from lifecircle.geo import scenarios as sc

    scen = inputs.scenario
    held = [set(f["id"].astype(str)) if "id" in f else set() for f in frames]
    for element in ("moved", "closed"):
        lost = [c.id for c in getattr(scen, element) if not any(c.id in h for h in held)]
        if lost:
            raise sc.ScenarioError(
                f"scenario '{scen.name}': {element} facilit{'y' if len(lost) == 1 else 'ies'} "
                f"{', '.join(lost[:5])} not among the facilities (was the facilities file changed?)"
            )
    out = []
    for i, (frame, ids) in enumerate(zip(frames, held)):
        part = sc.Scenario(
            scen.name,
            added=scen.added if i == 0 else [],
            moved=[c for c in scen.moved if c.id in ids],
            closed=[c for c in scen.closed if c.id in ids],
        )
        out.append(part.apply(frame))
    c = scen.counts
    inputs.reporter.note(
        f"scenario '{scen.name}' v{scen.version} ({scen.saved_by}, {scen.saved_at}): "
        f"{c['added']} added, {c['moved']} moved, {c['closed']} closed"
    )
    return out
