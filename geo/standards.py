"""Life-circle tiers and facility kinds.

The tiers follow GB 50180-2018 (城市居住区规划设计标准), which defines the
5-, 10- and 15-minute life circles as walking distances of 300 m, 500 m and
800-1000 m; this project takes the upper end, 1000 m, for the 15-minute
circle, as TD/T 1062-2021 (社区生活圈规划技术指南) does for its "15-minute
community life circle".

Facility kinds have an English key used in file names and output fields and a
Chinese label used in the app.  Users may declare their own kinds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import OptionError
from .settings import DEFAULT_SPEED_M_PER_MIN, DEFAULT_TIERS, ELDERLY_SPEED_M_PER_MIN, TIER_METRES

__all__ = [
    "FacilityKind",
    "BUILTIN_KINDS",
    "KindRegistry",
    "parse_tiers",
    "tier_label",
    # re-exported from geo.settings, where they are defined
    "TIER_METRES",
    "DEFAULT_TIERS",
    "DEFAULT_SPEED_M_PER_MIN",
    "ELDERLY_SPEED_M_PER_MIN",
]


@dataclass(frozen=True)
class FacilityKind:
    """A kind of facility whose service circles are computed.

    Parameters
    ----------
    key
        Lower-case identifier, used in output fields such as ``dist_<key>``.
    label_zh, label_en
        Labels for maps and tables.
    color
        Hex colour used by the map layers.
    aliases
        Other spellings accepted in input files.
    """

    key: str
    label_zh: str
    label_en: str
    color: str
    aliases: tuple[str, ...] = field(default=())

    def label(self, lang: str = "zh") -> str:
        """Return the label in ``lang`` ("zh" or "en")."""
        return self.label_zh if lang == "zh" else self.label_en


BUILTIN_KINDS: tuple[FacilityKind, ...] = (
    FacilityKind(
        "party_center",
        "党群服务中心",
        "Party-mass service centre",
        "#c0392b",
        ("党群服务中心", "社区党群服务中心", "街道党群服务中心", "centre", "center", "party_centre"),
    ),
    FacilityKind(
        "micro_station",
        "党群服务站",
        "Micro-station",
        "#e67e22",
        ("党群服务站", "微站点", "党群服务微站点", "station", "micro"),
    ),
    FacilityKind("park", "公园", "Park", "#27ae60", ("公园", "口袋公园", "社区公园")),
    FacilityKind(
        "clinic",
        "社康中心",
        "Community clinic",
        "#2980b9",
        ("社康中心", "社区健康服务中心", "社康", "health_centre", "health_center"),
    ),
    FacilityKind(
        "health_station",
        "社区健康服务站",
        "Community health station",
        "#5dade2",
        ("社区健康服务站", "社区卫生服务站", "社康站", "卫生服务站", "health_station"),
    ),
    FacilityKind(
        "kindergarten", "幼儿园", "Kindergarten", "#f1c40f", ("幼儿园", "幼稚园", "kindergarten", "preschool")
    ),
    FacilityKind("primary_school", "小学", "Primary school", "#9b59b6", ("小学", "primary", "primary school")),
    FacilityKind(
        "middle_school",
        "初中",
        "Middle school",
        "#6c3483",
        ("初中", "中学", "初级中学", "middle", "middle school", "junior_high"),
    ),
    FacilityKind(
        "elderly_care",
        "老年人日间照料中心",
        "Elderly day-care centre",
        "#a04000",
        ("老年人日间照料中心", "日间照料中心", "长者服务站", "长者日间照料中心", "elderly", "day_care"),
    ),
    FacilityKind(
        "nursing_home", "养老院", "Nursing home", "#784212", ("养老院", "老年养护院", "敬老院", "颐养院", "nursing")
    ),
    FacilityKind(
        "culture",
        "文化活动站/中心",
        "Cultural centre",
        "#1abc9c",
        ("文化活动站", "文化活动中心", "文化站", "culture_centre", "cultural"),
    ),
    FacilityKind(
        "sports", "运动场地", "Sports ground", "#2ecc71", ("运动场地", "运动场", "体育场地", "多功能运动场地", "sport")
    ),
    FacilityKind(
        "market", "菜市场/生鲜超市", "Fresh market", "#e74c3c", ("菜市场", "生鲜超市", "农贸市场", "fresh_market")
    ),
    FacilityKind(
        "police", "警务室/派出所", "Police room", "#34495e", ("警务室", "派出所", "社区警务室", "police_station")
    ),
    FacilityKind("library", "图书馆", "Library", "#5d6d7e", ("图书馆", "社区图书馆", "图书室")),
    FacilityKind("post_station", "党群驿站", "Party-mass post (驿站)", "#d35400", ("党群驿站", "驿站", "post")),
    FacilityKind(
        "childcare", "托育/托儿所", "Childcare (0-3)", "#f5b041", ("托育", "托儿所", "托育中心", "托育机构", "nursery")
    ),
)

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class KindRegistry:
    """The facility kinds known to a run: the built-in ones plus the user's.

    Parameters
    ----------
    extra
        Additional kinds, as :class:`FacilityKind` objects or plain keys
        (a plain key gets a generated colour and itself as labels).
    """

    _PALETTE = ("#8e44ad", "#16a085", "#d35400", "#2c3e50", "#7f8c8d", "#f39c12")

    def __init__(self, extra: Iterable[FacilityKind | str] = ()) -> None:
        self._kinds: dict[str, FacilityKind] = {k.key: k for k in BUILTIN_KINDS}
        for item in extra:
            self.add(item)

    def add(self, item: FacilityKind | str) -> FacilityKind:
        """Register a kind and return it."""
        if isinstance(item, str):
            key = item.strip()
            if not _KEY_RE.match(key):
                raise ValueError(f"kind key {item!r} must be lower-case letters, digits or '_', starting with a letter")
            if key in self._kinds:
                return self._kinds[key]
            colour = self._PALETTE[(len(self._kinds) - len(BUILTIN_KINDS)) % len(self._PALETTE)]
            item = FacilityKind(key, key, key, colour)
        self._kinds[item.key] = item
        return item

    def keys(self) -> list[str]:
        """Return the kind keys in registration order."""
        return list(self._kinds)

    def __iter__(self):
        return iter(self._kinds.values())

    def __contains__(self, key: object) -> bool:
        return key in self._kinds

    def __getitem__(self, key: str) -> FacilityKind:
        return self._kinds[key]

    def resolve(self, text: object) -> str | None:
        """Return the key for a kind spelled as a key, label or alias, else None."""
        if text is None or (isinstance(text, float) and math.isnan(text)):
            return None
        s = str(text).strip()
        if not s:
            return None
        low = s.lower()
        if low in self._kinds:
            return low
        for kind in self._kinds.values():
            names = (kind.label_zh, kind.label_en.lower(), *[a.lower() for a in kind.aliases])
            if s in names or low in names:
                return kind.key
        return None


def parse_tiers(
    text: str | float | Sequence[float | str] | None,
    *,
    speed_m_per_min: float | None = None,
) -> tuple[float, ...]:
    """Parse life-circle tiers into sorted metres of network walk.

    The one tier normaliser: every public function that takes ``tiers``
    (coverage, service areas, siting, the app, the command line) calls it.

    Parameters
    ----------
    text
        A single number (``300``: metres), ``"300,1000"`` (metres),
        ``"5min,15min"`` (GB 50180-2018 names), ``"5m,15m"`` is *metres*,
        minutes are written ``"10min"``; with ``speed_m_per_min`` plain
        numbers are read as minutes and multiplied by the speed. A sequence
        of numbers (or of such strings) is taken as metres. None gives the
        default 300 m and 1000 m.
    speed_m_per_min
        Walking speed in metres per minute; when given, bare numbers are minutes.

    Returns
    -------
    tuple of float
        Distinct tiers in metres, ascending.

    Raises
    ------
    OptionError
        ``option == "speed"``, when ``speed_m_per_min`` is zero, negative or
        not a number (it is never silently ignored).
    ValueError
        On an empty, non-positive or unreadable tier.
    """
    if speed_m_per_min is not None:
        _check_speed(speed_m_per_min)
    if text is None:
        return DEFAULT_TIERS
    parts: list[object]
    if isinstance(text, str):
        parts = [p.strip() for p in re.split(r"[,，;\s]+", text) if p.strip()]
    elif isinstance(text, (int, float, np.integer, np.floating)):
        parts = [text]  # a bool lands here too and is refused by _parse_one_tier
    else:
        parts = list(text)
    if not parts:
        raise ValueError("no tiers given: use e.g. 300,1000 or 5min,15min")
    tiers: list[float] = []
    for part in parts:
        tiers.append(_parse_one_tier(part, speed_m_per_min))
    return tuple(sorted(set(tiers)))


def _check_speed(speed: object) -> None:
    """Raise :class:`OptionError` ("speed") unless ``speed`` is a positive, finite number."""
    try:
        value = float(speed)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError("speed", f"{speed!r} is not a walking speed: give metres per minute, e.g. 80") from None
    if not math.isfinite(value) or value <= 0:
        raise OptionError("speed", f"{speed!r} must be a positive walking speed in metres per minute, e.g. 80")


def _parse_one_tier(part: object, speed: float | None) -> float:
    if isinstance(part, (int, float, np.integer, np.floating)) and not isinstance(part, bool):
        value = float(part)
        metres = value * speed if speed else value
    else:
        s = str(part).strip().lower()
        if s in TIER_METRES and not speed:
            metres = TIER_METRES[s]
        else:
            m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(min|分钟|m|米)?", s)
            if not m:
                raise ValueError(
                    f"tier {part!r} is not a distance: use metres (300), "
                    "minutes (5min) or a tier name (5min, 10min, 15min)"
                )
            value = float(m.group(1))
            unit = m.group(2)
            if unit in ("min", "分钟"):
                if speed:
                    metres = value * speed
                elif s in TIER_METRES:
                    metres = TIER_METRES[s]
                else:
                    metres = value * DEFAULT_SPEED_M_PER_MIN
            elif unit in ("m", "米"):
                metres = value
            else:
                metres = value * speed if speed else value
    if not math.isfinite(metres) or metres <= 0:
        raise ValueError(f"tier {part!r} must be a positive distance")
    if metres > 10_000:
        raise ValueError(f"tier {part!r} is {metres:.0f} m: life-circle tiers are walks under 10 km")
    return round(metres, 3)


def tier_label(metres: float, lang: str = "zh") -> str:
    """Return a label such as "5分钟 (300 m)" for a tier in metres."""
    for name, value in TIER_METRES.items():
        if abs(value - metres) < 1e-6:
            minutes = name.replace("min", "")
            return f"{minutes}分钟 ({metres:.0f} m)" if lang == "zh" else f"{minutes} min ({metres:.0f} m)"
    return f"{metres:.0f} m"
