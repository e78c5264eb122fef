"""Rule packs: a life-circle standard as data (TOML).

A pack names its tiers (5-, 10-, 15-minute ...), the facility kinds each tier requires (each
kind with an optional radius that overrides the tier's, an optional condition on facility
attributes such as ``area_m2 >= 5000``, and whether it is required or optional), the cohorts
(which demand column holds them, their walking speed, the kinds that matter to them) and, for
every rule, the clause and source it comes from and whether the value was checked against the
published text (``verified``).

Why one module of ~730 lines: the pack format is one schema, and each key's dataclass sits
beside the check that names the file and the key when it is wrong; split, a reader would have to
jump between the definition of a key and its validation.

The smallest pack that works::

    name = "example"
    version = "1"
    [[tiers]]
    key = "5min"
    metres = 300
    kinds = ["park", "clinic"]

Several rules of one kind in one tier are alternatives (the kind is present when any of them is
met): a park of 5000 m² or more within 500 m, *or* one of 2000-5000 m² within 300 m.

Every problem raises :class:`geo.errors.StandardError` naming the file and the key.
"""

from __future__ import annotations

import ast
import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import StandardError
from ..settings import DEFAULT_SPEED_M_PER_MIN, DEFAULT_STANDARD

__all__ = [
    "Condition",
    "KindRule",
    "Tier",
    "Cohort",
    "CapacityRule",
    "Standard",
    "load_standard",
    "list_standards",
    "pack_path",
]

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_TIER_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,31}$")


# ----------------------------------------------------------------- conditions
class Condition:
    """A condition on facility attributes: comparisons of columns with numbers.

    Accepted: ``area_m2 >= 5000``, ``2000 <= area_m2 < 5000``, ``beds > 0 and area_m2 >= 400``
    (``and`` / ``or`` / ``not``, ``< <= > >= == !=``, column names, numbers).

    Parameters
    ----------
    text
        The condition as written in the pack.
    file, key
        Where it comes from (for the error message).
    """

    _OPS = {
        ast.Lt: np.less,
        ast.LtE: np.less_equal,
        ast.Gt: np.greater,
        ast.GtE: np.greater_equal,
        ast.Eq: np.equal,
        ast.NotEq: np.not_equal,
    }

    def __init__(self, text: str, *, file: str = "<pack>", key: str = "condition") -> None:
        self.text = text.strip()
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError:
            raise StandardError(
                file,
                f"condition {text!r} cannot be read: write e.g. 'area_m2 >= 5000' or '2000 <= area_m2 < 5000'",
                key=key,
            ) from None
        self._tree = tree.body
        self.columns: list[str] = []
        self._check(self._tree, file, key)

    def _check(self, node: ast.AST, file: str, key: str) -> None:
        if isinstance(node, ast.BoolOp) and isinstance(node.op, (ast.And, ast.Or)):
            for v in node.values:
                self._check(v, file, key)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self._check(node.operand, file, key)
        elif isinstance(node, ast.Compare) and all(type(op) in self._OPS for op in node.ops):
            for v in [node.left, *node.comparators]:
                if isinstance(v, ast.Name):
                    if v.id not in self.columns:
                        self.columns.append(v.id)
                elif not (
                    isinstance(v, ast.Constant) and isinstance(v.value, (int, float)) and not isinstance(v.value, bool)
                ):
                    raise StandardError(
                        file, f"condition {self.text!r}: only column names and numbers may be compared", key=key
                    )
        else:
            raise StandardError(
                file,
                f"condition {self.text!r}: use comparisons (<, <=, >, >=, ==, !=) "
                "of a column with numbers, joined by and/or",
                key=key,
            )

    def evaluate(self, frame: pd.DataFrame) -> np.ndarray:
        """Return a boolean mask over ``frame``'s rows (a missing value fails the condition)."""
        return np.asarray(self._eval(self._tree, frame), dtype=bool)

    def _eval(self, node: ast.AST, frame: pd.DataFrame):
        if isinstance(node, ast.BoolOp):
            parts = [self._eval(v, frame) for v in node.values]
            fn = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = parts[0]
            for p in parts[1:]:
                out = fn(out, p)
            return out
        if isinstance(node, ast.UnaryOp):
            return np.logical_not(self._eval(node.operand, frame))
        assert isinstance(node, ast.Compare), node  # the parser let through only and/or, not, comparisons
        values = [self._value(v, frame) for v in [node.left, *node.comparators]]
        out = np.ones(len(frame), dtype=bool)
        for op, a, b in zip(node.ops, values[:-1], values[1:]):
            out &= self._OPS[type(op)](a, b)
        return out

    @staticmethod
    def _value(node: ast.AST, frame: pd.DataFrame):
        if isinstance(node, ast.Name):
            return pd.to_numeric(frame[node.id], errors="coerce").to_numpy(dtype=float)
        return float(node.value)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


# ----------------------------------------------------------------- rules
@dataclass(frozen=True)
class KindRule:
    """One way a tier's kind is met: a facility of ``kind`` (meeting ``condition``) within ``metres``.

    Attributes
    ----------
    kind
        Facility kind key.
    metres
        Walking radius in metres at the pack's speed (the tier's unless overridden).
    condition
        Condition on facility attributes, or None.
    required
        True for 基础保障型 (counts towards completeness), False for 品质提升型.
    clause, source
        Where the rule comes from.
    verified
        Whether the value was checked against the published text.
    key
        The rule's key in the pack (for messages), e.g. ``tiers[0].rules[2]``.
    """

    kind: str
    metres: float
    condition: Condition | None = None
    required: bool = True
    clause: str = ""
    source: str = ""
    verified: bool = False
    key: str = ""


@dataclass(frozen=True)
class Tier:
    """A life-circle tier: its key, labels, radius and rules (alternatives grouped by kind)."""

    key: str
    metres: float
    label_zh: str = ""
    label_en: str = ""
    minutes: float | None = None
    rules: tuple[KindRule, ...] = ()
    clause: str = ""
    source: str = ""
    verified: bool = False

    @property
    def kinds(self) -> list[str]:
        """Every kind of the tier, in pack order."""
        return list(dict.fromkeys(r.kind for r in self.rules))

    @property
    def required_kinds(self) -> list[str]:
        """The kinds completeness needs (any rule of the kind required)."""
        return list(dict.fromkeys(r.kind for r in self.rules if r.required))

    def rules_of(self, kind: str) -> list[KindRule]:
        """The alternative rules of one kind."""
        return [r for r in self.rules if r.kind == kind]

    def label(self, lang: str = "zh") -> str:
        """The tier's label in ``lang``, or its key."""
        return (self.label_zh if lang == "zh" else self.label_en) or self.key


@dataclass(frozen=True)
class Cohort:
    """A group of residents counted in a demand column, with its own speed and kinds.

    Attributes
    ----------
    key
        Identifier, e.g. ``elderly``.
    column
        Demand column holding the cohort's people (aliases allowed).
    aliases
        Other headers of the column (e.g. ``60岁以上``).
    speed_m_per_min
        Walking speed: radii scale by ``speed / pack speed``.
    kinds
        The kinds that matter to the cohort (its completeness checks only these; empty = all).
    """

    key: str
    column: str
    label_zh: str = ""
    label_en: str = ""
    aliases: tuple[str, ...] = ()
    speed_m_per_min: float | None = None
    kinds: tuple[str, ...] = ()
    source: str = ""
    verified: bool = False

    def label(self, lang: str = "zh") -> str:
        """The cohort's label in ``lang``, or its key."""
        return (self.label_zh if lang == "zh" else self.label_en) or self.key


@dataclass(frozen=True)
class CapacityRule:
    """Supply per 1,000 residents of one kind (千人指标), by E2SFCA.

    Attributes
    ----------
    kind
        Facility kind.
    column
        Facility column holding the supply (beds, seats, floor area).
    metres
        Catchment radius (default: the largest tier radius of the kind).
    steps
        ``((upper_metres, weight), ...)`` ascending: the E2SFCA step weights.
    target_per_1000
        Supply per 1,000 residents below which a unit is flagged, or None.
    """

    kind: str
    column: str
    metres: float
    steps: tuple[tuple[float, float], ...]
    target_per_1000: float | None = None
    clause: str = ""
    source: str = ""
    verified: bool = False


@dataclass(frozen=True)
class Standard:
    """A rule pack: name, version, source, tiers, cohorts and capacity rules."""

    name: str
    version: str
    tiers: tuple[Tier, ...]
    title: str = ""
    source: str = ""
    speed_m_per_min: float = DEFAULT_SPEED_M_PER_MIN
    cohorts: tuple[Cohort, ...] = ()
    capacity: tuple[CapacityRule, ...] = ()
    kind_labels: dict = field(default_factory=dict)
    path: str = ""
    notes: str = ""

    @property
    def kinds(self) -> list[str]:
        """Every kind the pack names, in order."""
        out: dict[str, None] = {}
        for t in self.tiers:
            out.update(dict.fromkeys(t.kinds))
        for c in self.cohorts:
            out.update(dict.fromkeys(c.kinds))
        for cap in self.capacity:
            out[cap.kind] = None
        return list(out)

    @property
    def rules(self) -> list[KindRule]:
        """Every rule of every tier."""
        return [r for t in self.tiers for r in t.rules]

    @property
    def verified(self) -> bool:
        """True only when every rule, tier, cohort and capacity value is verified."""
        items: list[Any] = [*self.tiers, *self.rules, *self.cohorts, *self.capacity]
        return all(i.verified for i in items)

    def unverified(self) -> list[str]:
        """Human-readable list of the unverified values (tier radii, rules, cohorts, capacity)."""
        out = [f"tier {t.key}: {t.metres:g} m" for t in self.tiers if not t.verified]
        for t in self.tiers:
            for r in t.rules:
                if not r.verified:
                    cond = f" if {r.condition.text}" if r.condition else ""
                    out.append(f"{t.key}: {r.kind} within {r.metres:g} m{cond}")
        out += [
            f"cohort {c.key}: speed {c.speed_m_per_min:g} m/min"
            for c in self.cohorts
            if not c.verified and c.speed_m_per_min
        ]
        out += [f"capacity {c.kind}" for c in self.capacity if not c.verified]
        return out

    def tier(self, key: str) -> Tier:
        """The tier with ``key`` (StandardError when absent)."""
        for t in self.tiers:
            if t.key == key:
                return t
        raise StandardError(
            self.path or self.name, f"no tier {key!r}; tiers: {', '.join(t.key for t in self.tiers)}", key="tiers"
        )

    def cohort_scale(self, cohort: Cohort | None) -> float:
        """Radius factor of a cohort (its speed over the pack's)."""
        if cohort is None or not cohort.speed_m_per_min:
            return 1.0
        return float(cohort.speed_m_per_min) / float(self.speed_m_per_min)


# ----------------------------------------------------------------- loading
def _packs_dir() -> Path:
    # next to this module (package data in a wheel; importlib.resources trips over the
    # checkout's short-name aliases, so the file's own folder is used)
    return Path(__file__).resolve().parent / "packs"


def list_standards() -> list[dict]:
    """The shipped packs: ``[{"name", "version", "title", "verified", "path"}, ...]``."""
    out = []
    for p in sorted(_packs_dir().glob("*.toml")):
        s = load_standard(p)
        out.append({"name": s.name, "version": s.version, "title": s.title, "verified": s.verified, "path": str(p)})
    return out


def pack_path(name_or_path: str | Path) -> Path:
    """Return the file of a shipped pack name, or the given path."""
    text = str(name_or_path)
    p = Path(text)
    if p.suffix.lower() == ".toml" or p.exists():
        return p
    shipped = _packs_dir() / f"{text}.toml"
    if shipped.exists():
        return shipped
    names = ", ".join(sorted(q.stem for q in _packs_dir().glob("*.toml")))
    raise StandardError(text, f"no such standard: give a shipped pack ({names}) or a .toml file")


def load_standard(name_or_path: str | Path | Standard | None = None) -> Standard:
    """Load a rule pack by shipped name (``gb50180-2018``) or path to a TOML file.

    Raises
    ------
    StandardError
        Naming the file and the key, for unreadable TOML, missing or wrong keys and values.
    """
    if isinstance(name_or_path, Standard):
        return name_or_path
    path = pack_path(name_or_path or DEFAULT_STANDARD)
    if not path.exists():
        raise StandardError(path, "file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise StandardError(path, "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise StandardError(path, f"is not valid TOML: {exc}") from None
    return _Loader(path).standard(data)


class _Loader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def err(self, key: str | None, reason: str) -> StandardError:
        return StandardError(self.path, reason, key=key)

    # ---- typed getters
    def text(self, d: dict, name: str, where: str, *, required: bool = False, default: str = "") -> str:
        key = f"{where}.{name}" if where else name
        if name not in d:
            if required:
                raise self.err(key, "is missing")
            return default
        v = d[name]
        if isinstance(v, (int, float)) and not isinstance(v, bool) and name == "version":
            return str(v)
        if not isinstance(v, str) or (required and not v.strip()):
            raise self.err(key, f"must be a non-empty text, got {v!r}")
        return v.strip()

    def number(
        self,
        d: dict,
        name: str,
        where: str,
        *,
        required: bool = False,
        positive: bool = True,
        maximum: float | None = None,
    ) -> float | None:
        key = f"{where}.{name}" if where else name
        if name not in d:
            if required:
                raise self.err(key, "is missing")
            return None
        v = d[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.err(key, f"must be a number, got {v!r}")
        if positive and v <= 0:
            raise self.err(key, f"must be positive, got {v!r}")
        if maximum is not None and v > maximum:
            raise self.err(key, f"is {v:g}: at most {maximum:g}")
        return float(v)

    def flag(self, d: dict, name: str, where: str, default: bool) -> bool:
        if name not in d:
            return default
        v = d[name]
        if not isinstance(v, bool):
            raise self.err(f"{where}.{name}" if where else name, f"must be true or false, got {v!r}")
        return v

    def kind_key(self, v: Any, key: str) -> str:
        if not isinstance(v, str) or not _KEY_RE.match(v.strip()):
            raise self.err(
                key, f"kind {v!r} must be a key of lower-case letters, digits or '_' (e.g. park, clinic, elderly_care)"
            )
        return v.strip()

    def known(self, d: dict, allowed: Iterable[str], where: str) -> None:
        extra = [k for k in d if k not in allowed]
        if extra:
            raise self.err(
                f"{where}.{extra[0]}" if where else extra[0], f"unknown key; allowed here: {', '.join(sorted(allowed))}"
            )

    # ---- the pack
    def standard(self, data: dict) -> Standard:
        self.known(
            data,
            {
                "name",
                "version",
                "title",
                "source",
                "verified",
                "speed_m_per_min",
                "tiers",
                "cohorts",
                "capacity",
                "kinds",
                "notes",
            },
            "",
        )
        name = self.text(data, "name", "", required=True)
        version = self.text(data, "version", "", required=True)
        speed = self.number(data, "speed_m_per_min", "", maximum=200.0) or DEFAULT_SPEED_M_PER_MIN
        verified = self.flag(data, "verified", "", False)
        source = self.text(data, "source", "")
        tiers_raw = data.get("tiers")
        if not isinstance(tiers_raw, list) or not tiers_raw or not all(isinstance(t, dict) for t in tiers_raw):
            raise self.err(
                "tiers", "is missing: give at least one [[tiers]] table with key, metres (or minutes) and kinds"
            )
        tiers = tuple(self.tier(t, i, speed, verified, source) for i, t in enumerate(tiers_raw))
        keys = [t.key for t in tiers]
        dup = next((k for k in keys if keys.count(k) > 1), None)
        if dup:
            raise self.err("tiers", f"tier key {dup!r} is given twice")
        kinds_raw = data.get("kinds", {})
        if not isinstance(kinds_raw, dict):
            raise self.err("kinds", "must be a table of kind = {label_zh, label_en}")
        labels = {}
        for k, v in kinds_raw.items():
            self.kind_key(k, f"kinds.{k}")
            if not isinstance(v, dict):
                raise self.err(f"kinds.{k}", "must be a table with label_zh and label_en")
            self.known(v, {"label_zh", "label_en", "aliases"}, f"kinds.{k}")
            labels[k] = {
                "label_zh": self.text(v, "label_zh", f"kinds.{k}"),
                "label_en": self.text(v, "label_en", f"kinds.{k}"),
                "aliases": tuple(v.get("aliases", ())),
            }
        cohorts_raw = data.get("cohorts", [])
        if not isinstance(cohorts_raw, list):
            raise self.err("cohorts", "must be an array of [[cohorts]] tables")
        cohorts = tuple(self.cohort(c, i, verified) for i, c in enumerate(cohorts_raw))
        all_kinds = {r.kind for t in tiers for r in t.rules}
        for i, c in enumerate(cohorts):
            for k in c.kinds:
                if k not in all_kinds:
                    raise self.err(
                        f"cohorts[{i}].kinds",
                        f"kind {k!r} is in no tier of the pack; tier kinds: {', '.join(sorted(all_kinds))}",
                    )
        cap_raw = data.get("capacity", [])
        if not isinstance(cap_raw, list):
            raise self.err("capacity", "must be an array of [[capacity]] tables")
        capacity = tuple(self.capacity(c, i, tiers, verified) for i, c in enumerate(cap_raw))
        return Standard(
            name=name,
            version=version,
            tiers=tiers,
            title=self.text(data, "title", ""),
            source=source,
            speed_m_per_min=speed,
            cohorts=cohorts,
            capacity=capacity,
            kind_labels=labels,
            path=str(self.path),
            notes=self.text(data, "notes", ""),
        )

    def tier(self, t: dict, i: int, speed: float, pack_verified: bool, pack_source: str) -> Tier:
        where = f"tiers[{i}]"
        self.known(
            t,
            {
                "key",
                "label_zh",
                "label_en",
                "metres",
                "minutes",
                "kinds",
                "rules",
                "clause",
                "source",
                "verified",
                "optional",
            },
            where,
        )
        key = self.text(t, "key", where, required=True)
        if not _TIER_KEY_RE.match(key):
            raise self.err(f"{where}.key", f"tier key {key!r}: use letters, digits, '_' or '-' (e.g. 5min)")
        metres = self.number(t, "metres", where, maximum=10_000.0)
        minutes = self.number(t, "minutes", where, maximum=150.0)
        if metres is None and minutes is None:
            raise self.err(f"{where}.metres", "is missing: give metres (e.g. 300) or minutes (e.g. 5)")
        if metres is None:
            metres = round(float(minutes) * speed, 3)  # type: ignore[arg-type]
        verified = self.flag(t, "verified", where, pack_verified)
        clause = self.text(t, "clause", where)
        source = self.text(t, "source", where, default=pack_source)
        rules: list[KindRule] = []
        for name, required in (("kinds", True), ("optional", False)):
            raw = t.get(name, [])
            if not isinstance(raw, list):
                raise self.err(f"{where}.{name}", "must be a list of kind keys")
            for j, k in enumerate(raw):
                rules.append(
                    KindRule(
                        self.kind_key(k, f"{where}.{name}[{j}]"),
                        float(metres),
                        None,
                        required,
                        clause,
                        source,
                        verified,
                        f"{where}.{name}[{j}]",
                    )
                )
        raw_rules = t.get("rules", [])
        if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
            raise self.err(f"{where}.rules", "must be an array of [[tiers.rules]] tables")
        for j, r in enumerate(raw_rules):
            rules.append(self.rule(r, f"{where}.rules[{j}]", float(metres), speed, verified, clause, source))
        if not rules:
            raise self.err(f"{where}.kinds", 'is missing: a tier needs at least one kind (kinds = ["park", ...])')
        seen: dict[tuple, str] = {}
        for r in rules:
            sig = (r.kind, r.metres, r.condition.text if r.condition else None)
            if sig in seen:
                raise self.err(r.key, f"repeats the rule at {seen[sig]} (kind {r.kind!r})")
            seen[sig] = r.key
        return Tier(
            key=key,
            metres=float(metres),
            label_zh=self.text(t, "label_zh", where),
            label_en=self.text(t, "label_en", where),
            minutes=minutes,
            rules=tuple(rules),
            clause=clause,
            source=source,
            verified=verified,
        )

    def rule(
        self, r: dict, where: str, tier_metres: float, speed: float, tier_verified: bool, clause: str, source: str
    ) -> KindRule:
        self.known(r, {"kind", "metres", "minutes", "condition", "required", "clause", "source", "verified"}, where)
        if "kind" not in r:
            raise self.err(f"{where}.kind", "is missing")
        kind = self.kind_key(r["kind"], f"{where}.kind")
        metres = self.number(r, "metres", where, maximum=10_000.0)
        minutes = self.number(r, "minutes", where, maximum=150.0)
        if metres is None:
            metres = round(minutes * speed, 3) if minutes is not None else tier_metres
        cond = None
        if "condition" in r:
            if not isinstance(r["condition"], str) or not r["condition"].strip():
                raise self.err(f"{where}.condition", "must be a text such as 'area_m2 >= 5000'")
            cond = Condition(r["condition"], file=str(self.path), key=f"{where}.condition")
        return KindRule(
            kind,
            float(metres),
            cond,
            self.flag(r, "required", where, True),
            self.text(r, "clause", where, default=clause),
            self.text(r, "source", where, default=source),
            self.flag(r, "verified", where, tier_verified),
            where,
        )

    def cohort(self, c: Any, i: int, pack_verified: bool) -> Cohort:
        where = f"cohorts[{i}]"
        if not isinstance(c, dict):
            raise self.err(where, "must be a table")
        self.known(
            c,
            {"key", "column", "label_zh", "label_en", "aliases", "speed_m_per_min", "kinds", "source", "verified"},
            where,
        )
        key = self.kind_key(self.text(c, "key", where, required=True), f"{where}.key")
        column = self.text(c, "column", where, required=True)
        aliases = c.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise self.err(f"{where}.aliases", "must be a list of column names")
        kinds = c.get("kinds", [])
        if not isinstance(kinds, list):
            raise self.err(f"{where}.kinds", "must be a list of kind keys")
        return Cohort(
            key=key,
            column=column,
            label_zh=self.text(c, "label_zh", where),
            label_en=self.text(c, "label_en", where),
            aliases=tuple(aliases),
            speed_m_per_min=self.number(c, "speed_m_per_min", where, maximum=200.0),
            kinds=tuple(self.kind_key(k, f"{where}.kinds[{j}]") for j, k in enumerate(kinds)),
            source=self.text(c, "source", where),
            verified=self.flag(c, "verified", where, pack_verified),
        )

    def capacity(self, c: Any, i: int, tiers: tuple[Tier, ...], pack_verified: bool) -> CapacityRule:
        where = f"capacity[{i}]"
        if not isinstance(c, dict):
            raise self.err(where, "must be a table")
        self.known(c, {"kind", "column", "metres", "steps", "target_per_1000", "clause", "source", "verified"}, where)
        kind = self.kind_key(c.get("kind"), f"{where}.kind")
        column = self.text(c, "column", where, required=True)
        radii = [r.metres for t in tiers for r in t.rules if r.kind == kind]
        metres = self.number(c, "metres", where, maximum=10_000.0)
        if metres is None:
            if not radii:
                raise self.err(f"{where}.metres", f"is missing and kind {kind!r} is in no tier")
            metres = max(radii)
        steps_raw = c.get("steps", [[metres, 1.0]])
        if (
            not isinstance(steps_raw, list)
            or not steps_raw
            or not all(isinstance(s, list) and len(s) == 2 for s in steps_raw)
        ):
            raise self.err(
                f"{where}.steps", "must be a list of [upper_metres, weight] pairs, e.g. [[300, 1.0], [600, 0.68]]"
            )
        steps = []
        for j, (d, w) in enumerate(steps_raw):
            if (
                isinstance(d, bool)
                or isinstance(w, bool)
                or not isinstance(d, (int, float))
                or not isinstance(w, (int, float))
            ):
                raise self.err(f"{where}.steps[{j}]", "must hold two numbers")
            if d <= 0 or not 0 <= w <= 1:
                raise self.err(f"{where}.steps[{j}]", "needs a positive distance and a weight in 0..1")
            steps.append((float(d), float(w)))
        if any(b[0] <= a[0] for a, b in zip(steps, steps[1:])):
            raise self.err(f"{where}.steps", "distances must ascend")
        if steps[-1][0] > metres + 1e-9:
            metres = steps[-1][0]
        return CapacityRule(
            kind,
            column,
            float(metres),
            tuple(steps),
            self.number(c, "target_per_1000", where, positive=False),
            self.text(c, "clause", where),
            self.text(c, "source", where),
            self.flag(c, "verified", where, pack_verified),
        )
