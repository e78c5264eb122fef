"""Colours, classes and legends of the planner's map.

Every colour and label the map and the report use comes from here, so the
app, the static HTML report and the legends agree.  Labels exist in Chinese
(``"zh"``, the default) and English (``"en"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lifecircle.geo.coverage import ANY
from lifecircle.geo.standards import KindRegistry, tier_label

__all__ = [
    "CANDIDATE_COLOR",
    "GAP_COLOR",
    "STREET_COLOR",
    "STREET_BOUNDARY_COLOR",
    "COMMUNITY_BOUNDARY_COLOR",
    "LOT_COLOR",
    "RESIDENCE_COLOR",
    "MATCH_COLOR",
    "UNREACHABLE_COLOR",
    "SHARE_BREAKS",
    "SHARE_COLORS",
    "TEXT",
    "KIND_GLYPHS",
    "text",
    "kind_label",
    "kind_glyph",
    "kind_color",
    "DistanceClasses",
    "distance_classes",
    "share_color",
    "share_labels",
    "legend",
    "tier_opacity",
]

#: Colour of candidate (proposed) micro-stations and their service areas.
CANDIDATE_COLOR = "#c2185b"
#: Colour of gap polygons.
GAP_COLOR = "#6a1b9a"
#: Streets of the vector base layer.
STREET_COLOR = "#9aa3ad"
#: Outline of street (街道) boundaries and of communities (社区).
STREET_BOUNDARY_COLOR = "#37474f"
COMMUNITY_BOUNDARY_COLOR = "#607d8b"
#: Parking: lots, residences and matching lines.
LOT_COLOR = "#1565c0"
RESIDENCE_COLOR = "#ef6c00"
MATCH_COLOR = "#2e7d32"

#: Distance classes of demand: good (green) to bad (red), then unreachable (grey).
_CLASS_COLORS = ("#1a9641", "#a6d96a", "#fdae61", "#f46d43", "#d7191c")
UNREACHABLE_COLOR = "#8c8c8c"
#: Coverage-share choropleth of boundary units (low to high).
SHARE_BREAKS = (0.5, 0.7, 0.85, 0.95)
SHARE_COLORS = ("#fee5d9", "#fcbba1", "#c6dbef", "#6baed6", "#2171b5")

TEXT = {
    "zh": {
        "any": "全部设施",
        "unreachable": "无法到达（距路网过远）",
        "beyond": "> {m:g} m",
        "within": "≤ {m:g} m",
        "legend_demand": "居民到最近{kind}的步行距离",
        "legend_areas": "服务范围（步行）",
        "legend_facilities": "设施",
        "legend_candidates": "候选站点",
        "legend_gaps": "覆盖缺口（按未覆盖人口排序）",
        "legend_share": "社区{tier}覆盖率",
        "candidate": "候选党群服务站",
        "gap": "缺口",
        "streets": "街道边界",
        "communities": "社区边界",
    },
    "en": {
        "any": "all facilities",
        "unreachable": "unreachable (too far from the network)",
        "beyond": "> {m:g} m",
        "within": "≤ {m:g} m",
        "legend_demand": "Walk to the nearest {kind}",
        "legend_areas": "Service areas (walking)",
        "legend_facilities": "Facilities",
        "legend_candidates": "Candidate sites",
        "legend_gaps": "Coverage gaps (ranked by unserved people)",
        "legend_share": "Community coverage within {tier}",
        "candidate": "Candidate micro-station",
        "gap": "Gap",
        "streets": "Street boundary",
        "communities": "Community boundaries",
    },
}


def text(key: str, lang: str = "zh", **fmt) -> str:
    """Return the label ``key`` in ``lang``, formatted with ``fmt``."""
    table = TEXT.get(lang, TEXT["zh"])
    return table[key].format(**fmt) if fmt else table[key]


def kind_label(kinds: KindRegistry, key: str, lang: str = "zh") -> str:
    """Return the label of a facility kind, or of ``"any"``."""
    if key == ANY:
        return text("any", lang)
    return kinds[key].label(lang) if key in kinds else key


#: One-character badges of the built-in kinds on the map.
KIND_GLYPHS = {"party_center": "中", "micro_station": "站", "park": "园", "clinic": "康"}


def kind_glyph(kinds: KindRegistry, key: str, lang: str = "zh") -> str:
    """Return the one-character badge of a kind (its label's first letter for users' kinds)."""
    if key in KIND_GLYPHS and lang == "zh":
        return KIND_GLYPHS[key]
    label = kind_label(kinds, key, lang)
    return label[:1].upper() if label else "?"


def kind_color(kinds: KindRegistry, key: str) -> str:
    """Return the colour of a facility kind (grey for unknown kinds)."""
    return kinds[key].color if key in kinds else "#555555"


# ------------------------------------------------------------------ classes
@dataclass(frozen=True)
class DistanceClasses:
    """Walking-distance classes of demand for the map's colours.

    Attributes
    ----------
    bounds
        Upper bounds in metres, ascending; the last class is "beyond the last bound".
    colors
        One colour per bounded class plus one for "beyond"; unreachable is grey.
    """

    bounds: tuple[float, ...]
    colors: tuple[str, ...]

    @property
    def n(self) -> int:
        """Number of classes, unreachable included."""
        return len(self.bounds) + 2

    @property
    def unreachable(self) -> int:
        """Index of the unreachable class (the last)."""
        return len(self.bounds) + 1

    def classify(self, dist: np.ndarray, reachable: np.ndarray) -> np.ndarray:
        """Return the class index of each distance (``inf`` = beyond the last bound).

        Parameters
        ----------
        dist
            Network metres (``inf`` or NaN when beyond the search radius).
        reachable
            False where the point lies beyond the snapping limit.
        """
        d = np.where(np.isfinite(dist), dist, np.inf)
        cls = np.searchsorted(np.asarray(self.bounds), d, side="left")
        return np.where(reachable, cls, self.unreachable).astype(np.int64)

    def labels(self, lang: str = "zh") -> list[str]:
        """Return the class labels in order (unreachable last)."""
        out = [_bound_label(b, lang) for b in self.bounds]
        out.append(text("beyond", lang, m=self.bounds[-1]))
        out.append(text("unreachable", lang))
        return out

    def all_colors(self) -> list[str]:
        """Return the colours in class order (unreachable last)."""
        return [*self.colors, UNREACHABLE_COLOR]


def _bound_label(metres: float, lang: str) -> str:
    label = tier_label(metres, lang)
    return f"≤ {label}" if "(" in label else text("within", lang, m=metres)


def distance_classes(tiers: Sequence[float]) -> DistanceClasses:
    """Return the distance classes for ``tiers``: each tier, plus 500 m (10 min) inside them.

    Parameters
    ----------
    tiers
        Life-circle tiers in metres.
    """
    bounds = sorted({float(t) for t in tiers})
    if bounds[0] < 500.0 < bounds[-1]:
        bounds = sorted({*bounds, 500.0})
    n = len(bounds) + 1
    idx = np.round(np.linspace(0, len(_CLASS_COLORS) - 1, n)).astype(int) if n <= len(_CLASS_COLORS) else None
    colors = tuple(_CLASS_COLORS[i] for i in idx) if idx is not None else _ramp(n)
    return DistanceClasses(tuple(bounds), colors)


def _ramp(n: int) -> tuple[str, ...]:
    """Interpolate ``n`` colours along the class ramp."""
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in _CLASS_COLORS], float)
    pos = np.linspace(0, len(rgb) - 1, n)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(rgb) - 1)
    mix = rgb[lo] + (rgb[hi] - rgb[lo]) * (pos - lo)[:, None]
    return tuple("#" + "".join(f"{int(round(v)):02x}" for v in row) for row in mix)


def share_color(share: float) -> str:
    """Return the choropleth colour of a coverage share (0..1)."""
    return SHARE_COLORS[int(np.searchsorted(SHARE_BREAKS, share, side="right"))]


def share_labels(lang: str = "zh") -> list[str]:
    """Return the labels of the share classes."""
    edges = [0.0, *SHARE_BREAKS, 1.0]
    return [f"{edges[i]:.0%} – {edges[i + 1]:.0%}" for i in range(len(SHARE_COLORS))]


# ------------------------------------------------------------------ legends
def legend(
    kinds: KindRegistry,
    present: Sequence[str],
    tiers: Sequence[float],
    kind: str,
    lang: str = "zh",
) -> list[dict]:
    """Return the legend blocks of the map, one per layer.

    Parameters
    ----------
    kinds
        The kind registry (labels and colours).
    present
        Kinds present in the data, in display order.
    tiers
        Life-circle tiers in metres.
    kind
        The kind selected for demand colours and service areas (or ``"any"``).
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    list of dict
        ``{"layer", "title", "items": [{"label", "color", "shape"}]}``; shape is
        ``"dot"``, ``"area"``, ``"line"`` or ``"star"``.  Labels are plain text.
    """
    classes = distance_classes(tiers)
    label = kind_label(kinds, kind, lang)
    top = tier_label(max(tiers), lang)
    return [
        {
            "layer": "facilities",
            "title": text("legend_facilities", lang),
            "items": [
                {
                    "label": kind_label(kinds, k, lang),
                    "color": kind_color(kinds, k),
                    "shape": "glyph",
                    "glyph": kind_glyph(kinds, k, lang),
                    "kind": k,
                }
                for k in present
            ],
        },
        {
            "layer": "areas",
            "title": text("legend_areas", lang) + ("" if kind == ANY else f" · {label}"),
            "items": [
                {
                    "label": tier_label(t, lang),
                    "color": "#546e7a" if kind == ANY else kind_color(kinds, kind),
                    "shape": "area",
                    "opacity": o,
                }
                for t, o in zip(sorted(tiers), _tier_opacities(len(tiers)))
            ],
        },
        {
            "layer": "candidates",
            "title": text("legend_candidates", lang),
            "items": [{"label": text("candidate", lang), "color": CANDIDATE_COLOR, "shape": "star"}],
        },
        {
            "layer": "demand",
            "title": text("legend_demand", lang, kind=label),
            "items": [
                {"label": lb, "color": c, "shape": "dot"} for lb, c in zip(classes.labels(lang), classes.all_colors())
            ],
        },
        {
            "layer": "gaps",
            "title": text("legend_gaps", lang),
            "items": [
                {"label": f"{text('gap', lang)} #1, #2, …", "color": GAP_COLOR, "shape": "area", "opacity": 0.35}
            ],
        },
        {
            "layer": "shares",
            "title": text("legend_share", lang, tier=top),
            "items": [
                {"label": lb, "color": c, "shape": "area", "opacity": 0.6}
                for lb, c in zip(share_labels(lang), SHARE_COLORS)
            ],
        },
        {
            "layer": "boundaries",
            "title": "",
            "items": [
                {"label": text("streets", lang), "color": STREET_BOUNDARY_COLOR, "shape": "line"},
                {"label": text("communities", lang), "color": COMMUNITY_BOUNDARY_COLOR, "shape": "line"},
            ],
        },
    ]


def _tier_opacities(n: int) -> list[float]:
    """Fill opacity per tier, small tiers darker (they are drawn on top)."""
    return [round(0.24 - 0.14 * i / max(n - 1, 1), 3) for i in range(n)]


def tier_opacity(tiers: Sequence[float], tier: float) -> float:
    """Return the fill opacity of the service areas of ``tier``."""
    ordered = sorted(float(t) for t in tiers)
    return _tier_opacities(len(ordered))[ordered.index(float(tier))]
