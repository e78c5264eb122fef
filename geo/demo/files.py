"""Writing the demo's layers: boundaries as deterministic GeoJSON, tables, the network."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from ..io import atomic_path
from ..settings import DEFAULT_SEED
from ._base import SOURCE
from .district import build_demo

__all__ = ["write_boundaries", "write_demo_files"]

#: Demand columns written to demand.csv (the cohorts are generated, see geo.demo.population).
_DEMAND_COLUMNS = ("id", "name", "population", "pop_60plus", "pop_0_3", "pop_3_6", "pop_6_12")


def _write_bytes(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` atomically (geo.io's one atomic writer), mode 0644."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
        tmp.chmod(0o644)


def _rounded_rings(poly: Polygon) -> list[list[list[float]]]:
    """RFC 7946 rings (exterior counter-clockwise) with 7-decimal coordinates."""
    poly = orient(poly, 1.0)
    rings = [poly.exterior, *poly.interiors]
    return [[[round(x, 7), round(y, 7)] for x, y in r.coords] for r in rings]


def _geojson_bytes(gdf: gpd.GeoDataFrame, props: Sequence[str]) -> bytes:
    """Serialise polygons as deterministic RFC 7946 GeoJSON, one feature a line."""
    feats = []
    for row in gdf.itertuples(index=False):
        properties = {p: getattr(row, p) for p in props}
        properties["source"] = SOURCE
        geom = {"type": "Polygon", "coordinates": _rounded_rings(row.geometry)}
        feats.append(
            json.dumps(
                {"type": "Feature", "properties": properties, "geometry": geom},
                ensure_ascii=False,
                separators=(",", ":"),
            )
        )
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(feats) + "\n]}\n"
    return text.encode("utf-8")


def write_boundaries(folder: Path | str, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write the demo street and its communities as GeoJSON files.

    Parameters
    ----------
    folder
        Target folder (created if missing).
    seed
        Seed of the demo district.

    Returns
    -------
    dict of str to Path
        ``{"streets": .../demo_streets.geojson, "communities": .../demo_communities.geojson}``;
        the files are RFC 7946, UTF-8, coordinates rounded to 7 decimals, and the
        same bytes on every run.
    """
    folder = Path(folder)
    demo = build_demo(seed)
    out = {"streets": folder / "demo_streets.geojson", "communities": folder / "demo_communities.geojson"}
    _write_bytes(out["streets"], _geojson_bytes(demo.streets, ["id", "name"]))
    _write_bytes(out["communities"], _geojson_bytes(demo.communities, ["id", "name", "street"]))
    return out


def _with_lonlat(gdf: gpd.GeoDataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Plain table of ``columns`` plus lon/lat (7 decimals) from point geometries."""
    frame = pd.DataFrame(gdf[list(columns)]).copy()
    frame["lon"] = gdf.geometry.x.round(7).to_numpy()
    frame["lat"] = gdf.geometry.y.round(7).to_numpy()
    return frame


def write_demo_files(folder: Path | str, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write the demo's editable input tables, its park polygons and its network into ``folder``.

    Parameters
    ----------
    folder
        Target folder (created if missing).
    seed
        Seed of the demo district.

    Returns
    -------
    dict of str to Path
        Keys ``facilities, demand, candidates, lots, residences`` to the written
        CSV files (UTF-8; demand with the generated age cohorts), ``parks`` to
        ``parks.geojson`` (polygons with ``id, name, kind, area_m2``) and
        ``network`` to the GraphML network (``osmnx.save_graphml``).
    """
    import osmnx as ox

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    demo = build_demo(seed)
    tables = {
        "facilities": _with_lonlat(demo.facilities, ["id", "name", "kind", "level"]),
        "demand": _with_lonlat(demo.demand, _DEMAND_COLUMNS),
        "candidates": _with_lonlat(demo.candidates, ["id", "name"]),
        "lots": _with_lonlat(demo.lots, ["id", "name", "land_use", "capacity", "open", "reserved", "price"]),
        "residences": _with_lonlat(demo.residences, ["id", "name", "demand", "window"]),
    }
    out: dict[str, Path] = {}
    for key, frame in tables.items():
        out[key] = folder / f"{key}.csv"
        _write_bytes(out[key], frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    out["parks"] = folder / "parks.geojson"
    _write_bytes(out["parks"], _geojson_bytes(demo.parks, ["id", "name", "kind", "area_m2"]))
    out["network"] = folder / "network.graphml"
    with atomic_path(out["network"]) as tmp:
        ox.save_graphml(demo.graph, filepath=tmp)
        tmp.chmod(0o644)
    return out
