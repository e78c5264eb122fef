"""The planner map's overlay layers as GeoJSON text, with their style properties.

Functions here take geo results (GeoDataFrames, arrays) and return the text the
browser map draws; the map's script only reads these properties and never
builds HTML from them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle.geo.coverage import ANY, tier_key
from lifecircle.geo.standards import KindRegistry, tier_label

from . import style
from .geojson import feature_collection, fill_small_holes, frame_collection, packed_array, point_to_map, to_map_crs

#: Blocks smaller than this (m²) inside a service area are drawn filled.
DISPLAY_HOLE_M2 = 6_000.0


def boundaries_text(
    frames: Sequence[tuple[str, gpd.GeoDataFrame]],
    *,
    crs: str = "wgs84",
    label_zoom: Sequence[int] | None = None,
    label_at: np.ndarray | None = None,
) -> str:
    """Outlines of 街道 (``level="street"``) and 社区 (``level="community"``) with their names.

    ``label_zoom`` (one per 社区, at city scale) is the zoom from which each 社区's label is shown
    (property ``lz``), so that the labels of a city view do not pile up; ``label_at`` (``(n, 2)``
    map coordinates, one per 社区) is where the label sits (property ``lp``).
    """
    geoms, props = [], []
    for level, frame in frames:
        for j, (name, geom) in enumerate(zip(frame["name"].astype(str), frame.geometry.values)):
            geoms.append(geom)
            prop = {"level": level, "name": name}
            if level == "community" and label_zoom is not None:
                prop["lz"] = int(label_zoom[j])
            if level == "community" and label_at is not None:
                prop["lp"] = [round(float(label_at[j][0]), 6), round(float(label_at[j][1]), 6)]
            props.append(prop)
    return feature_collection(np.asarray(geoms, dtype=object), props, crs=crs)


def shares_text(
    communities: gpd.GeoDataFrame,
    table: pd.DataFrame,
    tiers: Sequence[float],
    *,
    lang: str = "zh",
    crs: str = "wgs84",
) -> str:
    """Communities filled by the share of their population covered within the largest tier.

    Parameters
    ----------
    communities
        社区 polygons (WGS84) in the order of ``table``.
    table
        :meth:`apps.web.state.PlannerState.unit_table`-like frame with ``name``,
        ``weight`` and ``share_<tier>`` columns.
    tiers
        Tiers in metres.
    lang, crs
        Language of the tooltip rows; map coordinates.
    """
    if communities is None or not len(table):
        return feature_collection(np.empty(0, dtype=object), [], crs=crs)
    top = tier_key(max(tiers))
    props = []
    for rec in table.to_dict("records"):
        rows = [["人口" if lang == "zh" else "Population", f"{rec['weight']:,.0f}"]]
        rows += [[tier_label(t, lang), f"{rec[f'share_{tier_key(t)}']:.1%}"] for t in sorted(tiers)]
        props.append({"name": str(rec["name"]), "color": style.share_color(float(rec[f"share_{top}"])), "rows": rows})
    return feature_collection(np.asarray(communities.geometry.values, dtype=object), props, crs=crs)


def areas_text(areas: gpd.GeoDataFrame, kind: str, *, crs: str = "wgs84", tolerance_deg: float = 1e-5) -> str:
    """Service areas of one kind (all kinds for ``"any"``), dissolved per kind and tier.

    Overlapping circles of neighbouring facilities are merged so the map shows
    the covered footprint of each tier without darkening where they overlap.
    """
    sel = areas if kind == ANY else areas[areas["kind"] == kind]
    geoms, props = [], []
    for (k, tier), group in sel.groupby(["kind", "tier_m"], sort=True):
        merged = shapely.union_all(np.asarray(group.geometry.values, dtype=object))
        geoms.append(
            fill_small_holes(np.array([shapely.simplify(merged, tolerance_deg)], dtype=object), DISPLAY_HOLE_M2)[0]
        )
        props.append({"kind": str(k), "tier": float(tier), "n": int(len(group))})
    return feature_collection(np.asarray(geoms, dtype=object), props, crs=crs)


def demand_classes(classes: np.ndarray, packed: bool = False) -> str:
    """Class index per demand unit as JSON text (built without a Python object per unit: a city has 100,000s).

    ``packed``: ``"b64u8:"`` and the classes as base64 bytes instead (a city's every click; the map decodes it).
    """
    if packed:
        return packed_array(classes, "u8")
    return "[" + ",".join(map(str, np.asarray(classes, dtype=np.int64).ravel().tolist())) + "]"


def demand_missing(texts: Sequence[str], packed: bool = False) -> str:
    """The kinds each demand unit misses (the complete view's tooltip text) as JSON text.

    ``packed`` (a city's 100,000s of residents share a few distinct texts): ``{"texts": [distinct],
    "index": "b64u32:..."}``, each unit's text index as little-endian uint32 base64; else a JSON list.
    """
    if not packed:
        return json.dumps(list(texts), ensure_ascii=False)
    distinct, index = np.unique(np.asarray(list(texts), dtype=object).astype(str), return_inverse=True)
    return json.dumps({"texts": distinct.tolist(), "index": packed_array(index, "u32")}, ensure_ascii=False)


def demand_distances(dist: np.ndarray, packed: bool = False) -> str:
    """Distance per demand unit (metres, null beyond the search radius) as JSON text.

    ``packed``: ``"b64u16:"`` and the rounded metres as little-endian uint16 base64 instead (65535 for null;
    walking distances are within the search radius, far below 65 km).
    """
    dist = np.asarray(dist, dtype=float).ravel()
    finite = np.isfinite(dist)
    if packed:
        return packed_array(np.where(finite, np.clip(np.round(dist), 0, 65534), 65535), "u16")
    parts = list(map(str, np.where(finite, np.round(dist), 0).astype(np.int64).tolist()))
    for i in np.flatnonzero(~finite).tolist():
        parts[i] = "null"
    return "[" + ",".join(parts) + "]"


def gaps_text(gaps: gpd.GeoDataFrame, *, crs: str = "wgs84", packed: bool = False) -> str:
    """Gap polygons with rank, unserved weight and a label point inside each.

    ``packed`` (a city's gaps: 100,000s of vertices): :func:`packed_polygons` text instead of GeoJSON.
    """
    if not len(gaps):
        return feature_collection(np.empty(0, dtype=object), [], crs=crs)
    inside = shapely.point_on_surface(np.asarray(gaps.geometry.values, dtype=object))
    props = []
    for rec, pt in zip(gaps.drop(columns="geometry").to_dict("records"), inside):
        lon, lat = point_to_map(float(pt.x), float(pt.y), crs)
        props.append(
            {
                "rank": int(rec["rank"]),
                "unserved_weight": float(rec["unserved_weight"]),
                "share_of_unserved": float(rec["share_of_unserved"]),
                "label_lon": lon,
                "label_lat": lat,
            }
        )
    if packed:
        return packed_polygons(np.asarray(gaps.geometry.values, dtype=object), props, crs=crs)
    return feature_collection(np.asarray(gaps.geometry.values, dtype=object), props, crs=crs)


#: Quantum of packed coordinates (degrees, about 1 m: under a pixel up to zoom 17).
PACK_Q = 1e-5


def packed_polygons(geoms: np.ndarray, props: Sequence[dict], *, crs: str = "wgs84") -> str:
    """(Multi)polygons as compact JSON the map decodes into GeoJSON: integer deltas of :data:`PACK_Q` degrees.

    ``{"packed": "polygons", "q", "props": [...], "rings": [[[n, ...] per polygon] per feature], "d": [dx, dy, ...]}``:
    coordinate ``k`` is the running sum of the deltas times ``q``; ``rings`` gives the vertex count of every
    ring (exterior first) of every polygon of every feature.  About a third of the GeoJSON's size.
    """
    geoms = to_map_crs(np.asarray(geoms, dtype=object), crs)
    parts, of_feature = shapely.get_parts(geoms, return_index=True)
    rings, of_part = shapely.get_rings(parts, return_index=True)
    coords = shapely.get_coordinates(rings)
    counts = shapely.get_num_coordinates(rings)
    q = np.round(coords / PACK_Q).astype(np.int64)
    d = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).ravel()
    nested: list[list[list[int]]] = [[] for _ in range(len(geoms))]
    ring_lists: list[list[int]] = [[] for _ in range(len(parts))]
    for r, p in zip(counts.tolist(), of_part.tolist()):
        ring_lists[p].append(r)
    for p, f in enumerate(of_feature.tolist()):
        nested[f].append(ring_lists[p])
    body = json.dumps([{k: _plain(v) for k, v in p.items()} for p in props], ensure_ascii=False, separators=(",", ":"))
    return (
        f'{{"packed":"polygons","q":{PACK_Q!r},"props":{body},'
        f'"rings":{json.dumps(nested, separators=(",", ":"))},"d":[{",".join(map(str, d.tolist()))}]}}'
    )


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    return None if isinstance(v, float) and not np.isfinite(v) else v


def candidates_text(gains: pd.DataFrame, tiers: Sequence[float], *, lang: str = "zh", crs: str = "wgs84") -> str:
    """Candidate stations as points with their popup rows (gains per tier, coordinates)."""
    geoms, props = [], []
    for rec in gains.to_dict("records"):
        rows = [
            [
                ("新增覆盖 " if lang == "zh" else "Adds within ") + tier_label(t, lang),
                f"+{rec[f'gain_{tier_key(t)}']:,.0f}",
            ]
            for t in sorted(tiers)
        ]
        rows.append(["经纬度" if lang == "zh" else "Lon, lat", f"{rec['lon']:.6f}, {rec['lat']:.6f}"])
        geoms.append(shapely.Point(rec["lon"], rec["lat"]))
        props.append({"id": str(rec["id"]), "rows": rows})
    return feature_collection(np.asarray(geoms, dtype=object), props, crs=crs, precision=7)


def candidate_areas_text(items: Iterable[tuple[str, dict]], *, crs: str = "wgs84", tolerance_deg: float = 1e-5) -> str:
    """Service areas of the candidates: ``items`` are ``(id, {tier: polygon})``."""
    geoms, props = [], []
    for cid, areas in items:
        for tier, poly in areas.items():
            geoms.append(poly)
            props.append({"id": str(cid), "tier": float(tier)})
    arr = (
        fill_small_holes(shapely.simplify(np.asarray(geoms, dtype=object), tolerance_deg), DISPLAY_HOLE_M2)
        if geoms
        else np.empty(0, dtype=object)
    )
    return feature_collection(arr, props, crs=crs)


def map_style(kinds: KindRegistry, present: Sequence[str], tiers: Sequence[float], lang: str = "zh") -> dict:
    """Colours, class labels and opacities the map's script uses."""
    classes = style.distance_classes(tiers)
    return {
        "kinds": {
            k: {
                "label": style.kind_label(kinds, k, lang),
                "color": style.kind_color(kinds, k),
                "glyph": style.kind_glyph(kinds, k, lang),
            }
            for k in present
        },
        "class_colors": classes.all_colors(),
        "class_labels": classes.labels(lang),
        "tier_opacity": {tier_key(t): style.tier_opacity(tiers, t) for t in tiers},
        "candidate_color": style.CANDIDATE_COLOR,
        "gap_color": style.GAP_COLOR,
        "street_color": style.STREET_COLOR,
        "street_boundary_color": style.STREET_BOUNDARY_COLOR,
        "community_boundary_color": style.COMMUNITY_BOUNDARY_COLOR,
        "parking": {"lot": style.LOT_COLOR, "residence": style.RESIDENCE_COLOR, "match": style.MATCH_COLOR},
    }


__all__ = [
    "areas_text",
    "boundaries_text",
    "candidate_areas_text",
    "candidates_text",
    "demand_classes",
    "demand_distances",
    "frame_collection",
    "gaps_text",
    "map_style",
    "packed_polygons",
    "shares_text",
]


def parking_text(
    pairs: gpd.GeoDataFrame,
    residences: gpd.GeoDataFrame,
    lots: gpd.GeoDataFrame,
    *,
    lang: str = "zh",
    crs: str = "wgs84",
) -> str:
    """Shared parking: matching lines (``cars``, ``walk_m``), lots and compounds with tooltip rows.

    Parameters
    ----------
    pairs
        One WGS84 line per compound-lot pair (:meth:`geo.parking.ParkingResult.to_geodataframe`).
    residences, lots
        The result's per-compound and per-lot frames (WGS84 points).
    lang, crs
        Language of the tooltip rows; map coordinates.
    """
    zh = lang == "zh"
    geoms, props = [], []
    for rec, geom in zip(pairs.drop(columns="geometry").to_dict("records"), pairs.geometry.values):
        geoms.append(geom)
        props.append(
            {
                "role": "match",
                "cars": int(rec["cars"]),
                "name": f"{rec.get('residence_name', rec['residence_id'])} → {rec.get('lot_name', rec['lot_id'])}",
                "rows": [
                    ["车辆" if zh else "Cars", str(int(rec["cars"]))],
                    ["步行" if zh else "Walk", f"{rec['walk_m']:.0f} m"],
                ],
            }
        )
    for rec, geom in zip(lots.drop(columns="geometry").to_dict("records"), lots.geometry.values):
        geoms.append(geom)
        props.append(
            {
                "role": "lot",
                "id": str(rec["id"]),
                "name": str(rec.get("name") or rec["id"]),
                "rows": [
                    ["泊位" if zh else "Spaces", f"{rec['capacity']:,}"],
                    ["共享车辆" if zh else "Cars shared", str(int(rec["cars"]))],
                    ["开放" if zh else "Open", str(rec.get("open") or "")],
                    ["状态" if zh else "Status", str(rec["status"])],
                ],
            }
        )
    for rec, geom in zip(residences.drop(columns="geometry").to_dict("records"), residences.geometry.values):
        geoms.append(geom)
        props.append(
            {
                "role": "residence",
                "id": str(rec["id"]),
                "name": str(rec.get("name") or rec["id"]),
                "rows": [
                    ["夜间缺口" if zh else "Night shortfall", str(int(rec["demand"]))],
                    ["已安排" if zh else "Placed", str(int(rec["placed"]))],
                    ["时段" if zh else "Window", str(rec.get("window") or "")],
                    ["状态" if zh else "Status", str(rec["status"])],
                ],
            }
        )
    return feature_collection(np.asarray(geoms, dtype=object), props, crs=crs)


def parking_legend(lang: str = "zh") -> list[dict]:
    """Legend of the parking map."""
    zh = lang == "zh"
    return [
        {
            "layer": "parking",
            "title": "错时共享停车" if zh else "Shared night parking",
            "items": [
                {
                    "label": "停车场（夜间可共享）" if zh else "Parking lot (spare at night)",
                    "color": style.LOT_COLOR,
                    "shape": "dot",
                },
                {
                    "label": "缺车位小区（大门）" if zh else "Compound short of spaces (gate)",
                    "color": style.RESIDENCE_COLOR,
                    "shape": "dot",
                },
                {
                    "label": "匹配（线宽 = 车辆数）" if zh else "Match (width = cars)",
                    "color": style.MATCH_COLOR,
                    "shape": "line",
                },
            ],
        },
        {
            "layer": "boundaries",
            "title": "",
            "items": [
                {"label": style.text("streets", lang), "color": style.STREET_BOUNDARY_COLOR, "shape": "line"},
                {"label": style.text("communities", lang), "color": style.COMMUNITY_BOUNDARY_COLOR, "shape": "line"},
            ],
        },
    ]
