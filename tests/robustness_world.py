"""A small, demo-free world for the robustness tests: a street grid and planners' files.

A 12 x 12 grid of streets 80 m apart (an OSM XML file and the ``.lcnet`` built from it), with
facilities, demand, candidate sites, parking lots and compounds placed on it as CSV, plus the
facilities in every other supported format (XLSX, GeoJSON, GPKG, SHP).  Built in well under a
second; nothing of ``geo.demo`` is used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: South-west corner of the grid (Futian, Shenzhen) and the spacing in degrees (~80 m).
LON0, LAT0 = 114.050, 22.540
DLON, DLAT = 80 / (111_320 * np.cos(np.radians(22.54))), 80 / 110_574
SIDE = 12


def node_lonlat(i: int, j: int) -> tuple[float, float]:
    return LON0 + j * DLON, LAT0 + i * DLAT


def osm_xml() -> str:
    """The grid as OSM XML: residential streets along rows and columns."""
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6' generator='lifecircle-tests'>"]
    for i in range(SIDE):
        for j in range(SIDE):
            lon, lat = node_lonlat(i, j)
            lines.append(f"  <node id='{i * SIDE + j + 1}' version='1' lat='{lat:.7f}' lon='{lon:.7f}'/>")
    way = 1000
    for i in range(SIDE):
        way += 1
        refs = "".join(f"<nd ref='{i * SIDE + j + 1}'/>" for j in range(SIDE))
        lines.append(f"  <way id='{way}' version='1'>{refs}<tag k='highway' v='residential'/></way>")
    for j in range(SIDE):
        way += 1
        refs = "".join(f"<nd ref='{i * SIDE + j + 1}'/>" for i in range(SIDE))
        lines.append(f"  <way id='{way}' version='1'>{refs}<tag k='highway' v='footway'/></way>")
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


@dataclass
class World:
    dir: Path
    osm: Path
    network: Path
    facilities: Path
    demand: Path
    candidates: Path
    lots: Path
    residences: Path
    units: Path
    formats: dict[str, Path]

    def snapshot(self) -> dict[str, str]:
        return snapshot(self.dir)


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (names relative to it)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _at(i: float, j: float) -> str:
    lon, lat = node_lonlat(i, j)
    return f"{lon:.7f},{lat:.7f}"


def build_world(folder: Path) -> World:
    """Write the world's files into ``folder`` and return their paths."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from geo import network

    folder.mkdir(parents=True, exist_ok=True)
    osm = folder / "grid.osm"
    osm.write_text(osm_xml(), encoding="utf-8")
    net = network.load_network(osm, use_cache=False)
    lcnet = net.save(folder / "grid.lcnet")

    kinds = ["party_center", "micro_station", "park", "clinic"]
    fac = ["id,name,kind,lon,lat"] + [
        f"F{k},设施{k},{kinds[k % 4]},{_at(2 + 3 * (k % 3), 2 + 4 * (k // 3))}" for k in range(6)
    ]
    facilities = folder / "facilities.csv"
    facilities.write_text("\n".join(fac) + "\n", encoding="utf-8")
    dem = ["id,name,population,lon,lat"] + [
        f"D{i}{j},楼{i}{j},{50 + 10 * ((i + j) % 5)},{_at(i + 0.5, j + 0.1)}"
        for i in range(0, SIDE - 1, 2)
        for j in range(0, SIDE - 1, 2)
    ]
    demand = folder / "demand.csv"
    demand.write_text("\n".join(dem) + "\n", encoding="utf-8")
    cand = ["id,name,lon,lat"] + [f"K{k},候选{k},{_at(1 + 2 * (k % 5), 1 + 2 * (k // 5))}" for k in range(10)]
    candidates = folder / "candidates.csv"
    candidates.write_text("\n".join(cand) + "\n", encoding="utf-8")
    lots = folder / "lots.csv"
    lots.write_text(
        "id,name,land_use,capacity,open,lon,lat\n"
        f"L1,大厦一,office,40,19:00-08:00,{_at(3, 3)}\nL2,大厦二,retail,25,19:00-08:00,{_at(7, 8)}\n",
        encoding="utf-8",
    )
    residences = folder / "residences.csv"
    residences.write_text(
        f"id,name,demand,lon,lat\nC1,小区一,20,{_at(3.5, 4)}\nC2,小区二,30,{_at(7, 7.5)}\nC3,小区三,10,{_at(9, 2)}\n",
        encoding="utf-8",
    )
    west, south = node_lonlat(0, 0)
    east, north = node_lonlat(SIDE - 1, SIDE - 1)
    mid = (west + east) / 2
    units_gdf = gpd.GeoDataFrame(
        {"id": ["U1", "U2"], "name": ["西社区", "东社区"]},
        geometry=[shapely.box(west, south, mid, north), shapely.box(mid, south, east, north)],
        crs="EPSG:4326",
    )
    units = folder / "units.geojson"
    units.write_text(units_gdf.to_json(), encoding="utf-8")

    table = pd.read_csv(facilities)
    gdf = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.lon, table.lat), crs="EPSG:4326")
    formats = {"csv": facilities}
    formats["xlsx"] = folder / "facilities.xlsx"
    table.to_excel(formats["xlsx"], index=False)
    formats["geojson"] = folder / "facilities.geojson"
    formats["geojson"].write_text(gdf.drop(columns=["lon", "lat"]).to_json(), encoding="utf-8")
    formats["gpkg"] = folder / "facilities.gpkg"
    gdf.drop(columns=["lon", "lat"]).to_file(formats["gpkg"], driver="GPKG")
    (folder / "shp").mkdir(exist_ok=True)
    formats["shp"] = folder / "shp" / "facilities.shp"
    gdf.drop(columns=["lon", "lat"]).to_file(formats["shp"], driver="ESRI Shapefile", encoding="utf-8")
    return World(folder, osm, lcnet, facilities, demand, candidates, lots, residences, units, formats)
