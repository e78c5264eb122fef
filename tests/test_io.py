"""Tests for geo.io: readers' validation messages, CRS handling and atomic writers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from geo import crs as gc
from geo import io as gio
from geo.io import InputError
from geo.standards import KindRegistry
from tests.conftest import SHARED_DATA

SHARED = SHARED_DATA  # ../shared/data, or $LIFECIRCLE_SHARED_DATA
needs_shared = pytest.mark.skipif(
    not SHARED.exists(),
    reason=f"shared Shenzhen data not found in {SHARED} (see DESIGN.md, 'Data for tests')",
)

HEADER_ZH = "编号,名称,类型,经度,纬度"
ROWS = [
    ("A1", "福田党群服务中心", "党群服务中心", 114.0550, 22.5400),
    ("A2", "莲花山公园", "公园", 114.0590, 22.5550),
    ("A3", "香蜜湖社康", "clinic", 114.0300, 22.5450),
]


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def facilities_csv(tmp_path: Path, rows=ROWS, name="facilities.csv", encoding="utf-8") -> Path:
    lines = [HEADER_ZH] + [",".join(str(v) for v in r) for r in rows]
    return write_csv(tmp_path / name, lines, encoding)


def write_xlsx(path: Path, header: list, rows: list) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def points_layer(rows=ROWS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"编号": [r[0] for r in rows], "名称": [r[1] for r in rows], "类型": [r[2] for r in rows]},
        geometry=[Point(r[3], r[4]) for r in rows],
        crs="EPSG:4326",
    )


def raises(func, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        func(*args, **kwargs)
    return info.value


def haversine_m(lon1, lat1, lon2, lat2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.subtract(lon2, lon1)) / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(h))


# --------------------------------------------------------------------------
# InputError


def test_input_error_message_format():
    err = InputError("/some/dir/facilities.csv", "value 'abc' is not a number", row=7, column="lat")
    assert str(err) == "facilities.csv, row 7, column 'lat': value 'abc' is not a number"
    assert (err.file, err.row, err.column) == ("facilities.csv", 7, "lat")
    assert isinstance(err, ValueError)
    err = InputError("zones.geojson", "has no geometry", row=3, column="geometry", row_label="feature")
    assert str(err) == "zones.geojson, feature 3, column 'geometry': has no geometry"
    assert str(InputError("a.csv", "the file is empty (0 bytes)")) == "a.csv: the file is empty (0 bytes)"


# --------------------------------------------------------------------------
# good files


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_with_chinese_headers(tmp_path, encoding):
    path = facilities_csv(tmp_path, encoding=encoding)
    gdf = gio.read_points(path, role="facilities")
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf["id"]) == ["A1", "A2", "A3"]
    assert list(gdf["name"]) == [r[1] for r in ROWS]
    assert list(gdf["kind"]) == ["party_center", "park", "clinic"]
    assert gdf.geometry.iloc[0].x == pytest.approx(114.055) and gdf.geometry.iloc[0].y == pytest.approx(22.54)
    assert gdf.attrs["columns"]["lon"] == "经度"
    assert "经度" not in gdf.columns and "lon" not in gdf.columns


def test_english_headers_case_and_spaces_and_extras(tmp_path):
    path = write_csv(
        tmp_path / "f.csv",
        [
            " ID , Name ,KIND, Longitude ,LAT,地址,开放时间",
            "7,Park one,park,114.05,22.54,福田路1号,8:00-22:00",
        ],
    )
    gdf = gio.read_points(path, role="facilities")
    assert list(gdf.columns) == ["id", "name", "kind", "open", "地址", "geometry"]
    assert gdf["id"].iloc[0] == "7" and gdf["地址"].iloc[0] == "福田路1号"


def test_x_y_only_when_no_lon_lat(tmp_path):
    x, y = gc.from_wgs84_lonlat(114.05, 22.54, "EPSG:32650")
    path = write_csv(tmp_path / "utm.csv", ["id,x,y", f"p1,{x},{y}"])
    gdf = gio.read_points(path, role="candidates", crs="EPSG:32650")
    assert gdf.geometry.iloc[0].x == pytest.approx(114.05, abs=1e-9)
    # with lon/lat present, x/y are ordinary attributes
    path = write_csv(tmp_path / "both.csv", ["id,lon,lat,x,y", "p1,114.05,22.54,1,2"])
    gdf = gio.read_points(path, role="candidates")
    assert gdf.geometry.iloc[0].x == pytest.approx(114.05) and list(gdf["x"]) == [1]


def test_xlsx_round_trip_and_excel_float_ids(tmp_path):
    path = write_xlsx(
        tmp_path / "sites.xlsx",
        ["编号", "名称", "类型", "经度", "纬度"],
        [(123, "甲", "公园", 114.05, 22.54), ("0012", "乙", "park", 114.06, 22.55)],
    )
    gdf = gio.read_points(path, role="facilities")
    assert list(gdf["id"]) == ["123", "0012"]
    csv_path = write_csv(tmp_path / "floats.csv", ["id,lon,lat", "123.0,114.05,22.54", "124.0,114.06,22.55"])
    assert list(gio.read_points(csv_path, role="candidates")["id"]) == ["123", "124"]


def test_generated_ids_use_planner_row_numbers(tmp_path):
    path = write_csv(tmp_path / "c.csv", ["lon,lat", "114.05,22.54", "", "114.06,22.55"])
    gdf = gio.read_points(path, role="candidates")
    assert list(gdf["id"]) == ["C2", "C4"]  # the blank row 3 is skipped, numbers kept
    assert list(gio.read_points(path, role="candidates", id_prefix="S")["id"]) == ["S2", "S4"]


@pytest.mark.parametrize("ext", [".geojson", ".gpkg", ".shp"])
def test_vector_points(tmp_path, ext):
    path = tmp_path / f"facilities{ext}"
    points_layer().to_file(path, engine="pyogrio")
    gdf = gio.read_points(path, role="facilities")
    assert list(gdf["id"]) == ["A1", "A2", "A3"]
    assert list(gdf["name"]) == [r[1] for r in ROWS]
    assert list(gdf["kind"]) == ["party_center", "park", "clinic"]
    assert gdf.geometry.iloc[2].x == pytest.approx(114.03)


def test_vector_in_projected_crs_is_reprojected(tmp_path):
    path = tmp_path / "p.gpkg"
    points_layer().to_crs("EPSG:3857").to_file(path, engine="pyogrio")
    gdf = gio.read_points(path, role="facilities")
    assert gdf.crs.to_epsg() == 4326 and gdf.geometry.iloc[0].x == pytest.approx(114.055, abs=1e-9)
    assert len(gio.read_points(path, role="facilities", crs="EPSG:3857")) == 3
    err = raises(gio.read_points, path, role="facilities", crs="EPSG:32650")
    assert "p.gpkg" in str(err) and "EPSG:3857" in str(err) and "leave out --crs" in str(err)


def test_shapefile_without_cpg_in_gbk(tmp_path):
    path = tmp_path / "gbk.shp"
    points_layer().to_file(path, engine="pyogrio", encoding="GBK")
    (tmp_path / "gbk.cpg").unlink()
    gdf = gio.read_points(path, role="facilities")
    assert list(gdf["name"]) == [r[1] for r in ROWS]


def test_read_table_row_numbers(tmp_path):
    df = gio.read_table(facilities_csv(tmp_path))
    assert list(df.index) == [2, 3, 4] and list(df["编号"]) == ["A1", "A2", "A3"]
    path = write_xlsx(tmp_path / "t.xlsx", ["a", "b"], [(1, 2), (None, None), (3, 4)])
    assert list(gio.read_table(path).index) == [2, 4]
    path = tmp_path / "t.geojson"
    points_layer().to_file(path, engine="pyogrio")
    assert list(gio.read_table(path).index) == [1, 2, 3]


def test_find_columns_aliases():
    found = gio.find_columns(
        [
            "编号",
            "人口（人）",
            "户数",
            "泊位数",
            "缺口",
            "权重",
            "开放时段",
            "时段",
            "用地类型",
            "价格",
            "保留车位",
            "lng",
            "Latitude",
        ]
    )
    assert found == {
        "id": "编号",
        "population": "人口（人）",
        "households": "户数",
        "capacity": "泊位数",
        "demand": "缺口",
        "weight": "权重",
        "open": "开放时段",
        "window": "时段",
        "land_use": "用地类型",
        "price": "价格",
        "reserved": "保留车位",
        "lon": "lng",
        "lat": "Latitude",
    }
    assert gio.find_columns(["X", "Y", "lat"]) == {"lat": "lat"}  # x/y never mix with lon/lat
    assert gio.find_columns(["经度", "lon"])["lon"] == "lon"  # the exact name wins


# --------------------------------------------------------------------------
# coordinate systems


@pytest.mark.parametrize("crs, forward", [("gcj02", gc.wgs84_to_gcj02), ("bd09", gc.wgs84_to_bd09)])
def test_shifted_csv_input_lands_on_wgs84_truth(tmp_path, crs, forward):
    lon = np.linspace(113.8, 114.6, 20)
    lat = np.linspace(22.45, 22.85, 20)
    sx, sy = forward(lon, lat)
    lines = ["id,lng,lat"] + [f"p{i},{float(x)!r},{float(y)!r}" for i, (x, y) in enumerate(zip(sx, sy))]
    gdf = gio.read_points(write_csv(tmp_path / f"{crs}.csv", lines), role="candidates", crs=crs)
    err = haversine_m(lon, lat, gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy())
    assert err.max() < 0.5
    raw = gio.read_points(tmp_path / f"{crs}.csv", role="candidates")  # read as WGS84: off by ~600 m
    assert haversine_m(lon, lat, raw.geometry.x.to_numpy(), raw.geometry.y.to_numpy()).min() > 300


def test_gcj02_geojson_input(tmp_path):
    wgs = points_layer()
    path = tmp_path / "amap.geojson"
    gc.geometry_from_wgs84(wgs, "gcj02").to_file(path, engine="pyogrio")
    gdf = gio.read_points(path, role="facilities", crs="gcj-02")
    err = haversine_m(wgs.geometry.x, wgs.geometry.y, gdf.geometry.x, gdf.geometry.y)
    assert np.max(err) < 0.5


# --------------------------------------------------------------------------
# file-level errors


def test_missing_file(tmp_path):
    err = raises(gio.read_table, tmp_path / "nope.csv")
    assert str(err).startswith("nope.csv: file not found")


@pytest.mark.parametrize("ext", [".csv", ".xlsx", ".geojson", ".gpkg", ".shp"])
def test_zero_byte_file(tmp_path, ext):
    path = tmp_path / f"empty{ext}"
    path.write_bytes(b"")
    assert str(raises(gio.read_table, path)) == f"empty{ext}: the file is empty (0 bytes)"


def test_header_only_and_no_features(tmp_path):
    err = raises(gio.read_points, write_csv(tmp_path / "h.csv", [HEADER_ZH]), role="facilities")
    assert str(err) == "h.csv: has a header but no data rows"
    path = write_xlsx(tmp_path / "h.xlsx", ["编号", "经度", "纬度"], [])
    assert str(raises(gio.read_table, path)) == "h.xlsx: has a header but no data rows"
    path = tmp_path / "e.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    assert str(raises(gio.read_table, path)) == "e.geojson: has no features"


@pytest.mark.parametrize("name", ["data.txt", "data.xls", "data.kml"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    err = raises(gio.read_table, path)
    assert str(err).startswith(f"{name}: unsupported file type") and ".xlsx" in str(err)


def test_files_that_are_not_what_their_extension_says(tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 4)
    assert str(raises(gio.read_table, junk)).startswith("junk.csv: is not a text CSV file")

    xlsx_as_csv = write_xlsx(tmp_path / "book.xlsx", ["a"], [(1,)]).rename(tmp_path / "book.csv")
    assert "Excel" in str(raises(gio.read_table, xlsx_as_csv))

    text = tmp_path / "text.xlsx"
    text.write_text("id,lon,lat\n1,114,22\n")
    err = str(raises(gio.read_table, text))
    assert err.startswith("text.xlsx: is not an Excel workbook") and "CSV" in err

    bad_json = tmp_path / "bad.geojson"
    bad_json.write_text('{"type": "FeatureCollection",\n "features": [}')
    err = str(raises(gio.read_table, bad_json))
    assert err.startswith("bad.geojson: is not valid JSON") and "line 2" in err

    not_geo = tmp_path / "list.json"
    not_geo.write_text("[1, 2, 3]")
    assert "not GeoJSON" in str(raises(gio.read_table, not_geo))

    binary_json = tmp_path / "bin.geojson"
    binary_json.write_bytes(b"\xff\xfe\x00\x01garbage")
    assert "bin.geojson: is not GeoJSON" in str(raises(gio.read_table, binary_json))

    fake_gpkg = tmp_path / "fake.gpkg"
    fake_gpkg.write_text("hello")
    assert str(raises(gio.read_table, fake_gpkg)).startswith("fake.gpkg: is not a GeoPackage")

    fake_shp = tmp_path / "fake.shp"
    fake_shp.write_text("hello")
    assert str(raises(gio.read_table, fake_shp)).startswith("fake.shp: is not a shapefile")


def test_shapefile_missing_dbf(tmp_path):
    path = tmp_path / "p.shp"
    points_layer().to_file(path, engine="pyogrio")
    (tmp_path / "p.dbf").unlink()
    err = str(raises(gio.read_table, path))
    assert err.startswith("p.shp: is missing its companion file(s) .dbf")


def test_ragged_csv_row(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["id,lon,lat", "a,114.05,22.54", "b,114,06,22.55"])
    err = raises(gio.read_table, path)
    assert err.row == 3 and str(err).startswith("r.csv, row 3: has 4 values but the header has 3 columns")


# --------------------------------------------------------------------------
# coordinate errors


def test_missing_coordinate_columns(tmp_path):
    path = write_csv(tmp_path / "nocoord.csv", ["编号,名称,类型", "A1,x,公园"])
    err = str(raises(gio.read_points, path, role="facilities"))
    assert err.startswith("nocoord.csv: has no longitude or latitude column; found '编号', '名称', '类型'")
    assert "经度" in err and "纬度" in err and "lng" in err
    path = write_csv(tmp_path / "nolat.csv", ["id,lon,height", "A1,114,3"])
    assert "has no latitude column" in str(raises(gio.read_points, path, role="candidates"))


def test_non_numeric_coordinate(tmp_path):
    rows = [ROWS[0], ("A2", "公园", "公园", 114.05, "abc"), ROWS[2]]
    err = raises(gio.read_points, facilities_csv(tmp_path, rows), role="facilities")
    assert str(err) == "facilities.csv, row 3, column '纬度': value 'abc' is not a number"
    assert (err.row, err.column) == (3, "纬度")


def test_empty_and_nan_coordinates(tmp_path):
    rows = [ROWS[0], ROWS[1], ("A3", "x", "公园", "", 22.5)]
    err = raises(gio.read_points, facilities_csv(tmp_path, rows), role="facilities")
    assert str(err).startswith("facilities.csv, row 4, column '经度': is empty")
    rows = [ROWS[0], ("A2", "x", "公园", 114.0, "NaN")]
    err = raises(gio.read_points, facilities_csv(tmp_path, rows, name="nan.csv"), role="facilities")
    assert (err.file, err.row, err.column) == ("nan.csv", 3, "纬度")


def test_swapped_coordinates(tmp_path):
    rows = [("A1", "x", "公园", 22.54, 114.05)]
    err = raises(gio.read_points, facilities_csv(tmp_path, rows), role="facilities")
    assert str(err).startswith("facilities.csv, row 2, column '纬度'") and "looks swapped" in str(err)
    # Xinjiang: both values are valid latitudes/longitudes, only China tells them apart
    path = write_csv(tmp_path / "xj.csv", ["id,lon,lat", "a,43.8,87.6", "b,39.5,76.0"])
    assert "looks swapped" in str(raises(gio.read_points, path, role="candidates"))


def test_out_of_range_coordinates(tmp_path):
    path = write_csv(tmp_path / "o.csv", ["id,lon,lat", "a,114.05,22.54", "b,214.05,22.54"])
    err = raises(gio.read_points, path, role="candidates")
    assert str(err).startswith("o.csv, row 3, column 'lon': value 214.05 is out of range for a longitude")
    path = write_csv(tmp_path / "m.csv", ["id,lon,lat", "a,12696556,2575870"])
    err = str(raises(gio.read_points, path, role="candidates"))
    assert "out of range" in err and "--crs EPSG:<code>" in err
    path = write_csv(tmp_path / "z.csv", ["id,lon,lat", "a,114.05,22.54", "b,0,0"])
    assert "placeholder" in str(raises(gio.read_points, path, role="candidates"))


# --------------------------------------------------------------------------
# ids, kinds and numbers


def test_duplicate_ids_name_both_rows(tmp_path):
    rows = [ROWS[0], ROWS[1], ("A1", "x", "公园", 114.0, 22.5)]
    err = raises(gio.read_points, facilities_csv(tmp_path, rows), role="facilities")
    assert str(err) == "facilities.csv, row 4, column '编号': id 'A1' is used twice: rows 2 and 4"


def test_empty_id_cell(tmp_path):
    rows = [ROWS[0], ("", "x", "公园", 114.0, 22.5)]
    err = raises(gio.read_points, facilities_csv(tmp_path, rows), role="facilities")
    assert (err.row, err.column) == (3, "编号") and "id is empty" in str(err)


def test_missing_kind_column_and_default(tmp_path):
    path = write_csv(tmp_path / "k.csv", ["id,lon,lat", "a,114.05,22.54"])
    err = str(raises(gio.read_points, path, role="facilities"))
    assert err.startswith("k.csv: has no kind column") and "park (公园)" in err
    gdf = gio.read_points(path, role="facilities", kinds_default="社康中心")
    assert list(gdf["kind"]) == ["clinic"]
    with pytest.raises(ValueError, match="unknown default kind"):
        gio.read_points(path, role="facilities", kinds_default="bookshop")  # not a built-in kind


def test_unknown_kind_and_custom_registry(tmp_path):
    rows = [ROWS[0], ("A2", "书店", "bookshop", 114.0, 22.5)]  # not a built-in kind
    path = facilities_csv(tmp_path, rows)
    err = raises(gio.read_points, path, role="facilities")
    msg = str(err)
    assert msg.startswith("facilities.csv, row 3, column '类型': unknown kind 'bookshop': known kinds are ")
    assert "party_center (党群服务中心)" in msg and "clinic (社康中心)" in msg and "--kinds" in msg
    gdf = gio.read_points(path, role="facilities", kinds=KindRegistry(["bookshop"]))
    assert list(gdf["kind"]) == ["party_center", "bookshop"]


def test_kind_not_required_for_other_roles(tmp_path):
    gdf = gio.read_points(write_csv(tmp_path / "c.csv", ["id,lon,lat", "a,114.05,22.54"]), role="candidates")
    assert "kind" not in gdf.columns


@pytest.mark.parametrize(
    "value, reason",
    [
        ("many", "value 'many' is not a number"),
        ("-3", "value '-3' is negative: capacity cannot be below 0"),
        ("2.5", "value '2.5' is not a whole number (capacity counts parking spaces)"),
    ],
)
def test_bad_capacity(tmp_path, value, reason):
    path = write_csv(tmp_path / "lots.csv", ["编号,经度,纬度,泊位数", "L1,114.05,22.54,10", f"L2,114.06,22.55,{value}"])
    err = raises(gio.read_points, path, role="lots")
    assert str(err) == f"lots.csv, row 3, column '泊位数': {reason}"


@pytest.mark.parametrize(
    "header, value, role, reason",
    [
        ("人口", "很多", "demand", "value '很多' is not a number"),
        ("缺口", "1.5", "residences", "value '1.5' is not a whole number (demand counts cars)"),
        ("保留车位", "-1", "candidates", "value '-1' is negative: reserved cannot be below 0"),
        ("价格", "free", "candidates", "value 'free' is not a number"),
        ("户数", "-2", "demand", "value '-2' is negative: households cannot be below 0"),
    ],
)
def test_bad_numeric_fields(tmp_path, header, value, role, reason):
    path = write_csv(tmp_path / "n.csv", [f"id,lon,lat,{header}", "a,114.05,22.54,1", f"b,114.06,22.55,{value}"])
    assert str(raises(gio.read_points, path, role=role)) == f"n.csv, row 3, column '{header}': {reason}"


def test_xlsx_errors_use_spreadsheet_rows(tmp_path):
    path = write_xlsx(
        tmp_path / "sites.xlsx",
        ["编号", "名称", "类型", "经度", "纬度"],
        [("A1", "甲", "公园", 114.05, 22.54), ("A2", "乙", "公园", "东经114度", 22.55)],
    )
    err = raises(gio.read_points, path, role="facilities")
    assert str(err) == "sites.xlsx, row 3, column '经度': value '东经114度' is not a number"


def test_gbk_csv_error_names_chinese_column(tmp_path):
    rows = [ROWS[0], ("A2", "公园", "公园", 114.05, "北纬22度")]
    err = raises(gio.read_points, facilities_csv(tmp_path, rows, encoding="gbk"), role="facilities")
    assert str(err) == "facilities.csv, row 3, column '纬度': value '北纬22度' is not a number"


def test_shapefile_feature_errors(tmp_path):
    gdf = points_layer()
    gdf["类型"] = ["公园", "公园", "书店"]  # not a built-in kind
    path = tmp_path / "f.shp"
    gdf.to_file(path, engine="pyogrio")
    err = raises(gio.read_points, path, role="facilities")
    assert str(err).startswith("f.shp, feature 3, column '类型': unknown kind '书店'")


def test_lots_and_residences(tmp_path):
    path = write_csv(
        tmp_path / "lots.csv",
        [
            "编号,经度,纬度,泊位数,开放时段,用地类型,价格,保留车位",
            "L1,114.05,22.54,120,19:00-08:00,office,5,10",
            'L2,114.06,22.55,"1,200",,mall,,',
        ],
    )
    lots = gio.read_points(path, role="lots")
    assert lots["capacity"].dtype == np.int64 and list(lots["capacity"]) == [120, 1200]
    assert list(lots["open"]) == ["19:00-08:00", ""] and math.isnan(lots["price"].iloc[1])
    assert list(lots.columns) == ["id", "capacity", "price", "reserved", "open", "land_use", "geometry"]
    res = write_csv(tmp_path / "res.csv", ["id,lon,lat,缺口,时段", "R1,114.05,22.54,30,19:00-07:30"])
    gdf = gio.read_points(res, role="residences")
    assert list(gdf["demand"]) == [30] and list(gdf["window"]) == ["19:00-07:30"]
    err = raises(gio.read_points, write_csv(tmp_path / "nocap.csv", ["id,lon,lat", "a,114,22.5"]), role="lots")
    assert str(err).startswith("nocap.csv: has no capacity column")
    err = raises(
        gio.read_points, write_csv(tmp_path / "blank.csv", ["id,lon,lat,demand", "a,114,22.5,"]), role="residences"
    )
    assert (err.row, err.column) == (2, "demand") and "is empty" in str(err)


def test_negative_population(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["id,lon,lat,人口", "a,114,22.5,100", "b,114,22.6,-5"])
    err = raises(gio.read_demand, path)
    assert str(err) == "d.csv, row 3, column '人口': value '-5' is negative: population cannot be below 0"


# --------------------------------------------------------------------------
# vector geometry errors


def test_polygon_facility_is_rejected(tmp_path):
    gdf = points_layer()
    gdf.loc[1, "geometry"] = Point(114.05, 22.55).buffer(0.001)
    path = tmp_path / "f.geojson"
    gdf.to_file(path, engine="pyogrio")
    err = raises(gio.read_points, path, role="facilities")
    assert str(err) == "f.geojson, feature 2, column 'geometry': is a Polygon: facilities must be points"


def test_missing_geometry(tmp_path):
    path = tmp_path / "g.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": "a"},
                        "geometry": {"type": "Point", "coordinates": [114, 22.5]},
                    },
                    {"type": "Feature", "properties": {"id": "b"}, "geometry": None},
                ],
            }
        )
    )
    err = raises(gio.read_points, path, role="candidates")
    assert str(err) == "g.geojson, feature 2, column 'geometry': has no geometry"


def test_duplicate_ids_in_vector_file(tmp_path):
    gdf = points_layer()
    gdf["编号"] = ["A1", "A2", "A1"]
    path = tmp_path / "dup.gpkg"
    gdf.to_file(path, engine="pyogrio")
    err = raises(gio.read_points, path, role="facilities")
    assert str(err) == "dup.gpkg, feature 3, column '编号': id 'A1' is used twice: features 1 and 3"


# --------------------------------------------------------------------------
# demand and boundaries


def _zones() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["z1", "z2", "z3"], "人口（人）": [1000.0, 2500.0, 300.0], "户数": [300, 800, 100]},
        geometry=[Point(114.05 + i / 100, 22.54).buffer(0.004) for i in range(3)],
        crs="EPSG:4326",
    )


def test_read_demand_polygons_with_population(tmp_path):
    path = tmp_path / "zones.geojson"
    _zones().to_file(path, engine="pyogrio")
    gdf = gio.read_demand(path)
    assert list(gdf.columns[:2]) == ["id", "weight"] and list(gdf["weight"]) == [1000.0, 2500.0, 300.0]
    assert gdf.attrs["weight_column"] == "population" and gdf.attrs["weight_source"] == "人口（人）"
    assert set(gdf.geom_type) == {"Polygon"} and list(gdf["id"]) == ["D1", "D2", "D3"]


def test_read_demand_weight_choices(tmp_path):
    path = write_csv(tmp_path / "hh.csv", ["id,lon,lat,户数", "a,114,22.5,30", "b,114.01,22.5,40"])
    gdf = gio.read_demand(path)
    assert list(gdf["weight"]) == [30.0, 40.0] and gdf.attrs["weight_column"] == "households"
    path = write_csv(tmp_path / "none.csv", ["id,lon,lat", "a,114,22.5"])
    gdf = gio.read_demand(path, count_rows=True)
    assert list(gdf["weight"]) == [1.0] and gdf.attrs["weight_column"] is None
    err = raises(gio.read_demand, path)  # without the opt-in: the one weight rule refuses it
    assert str(err).startswith("none.csv, column 'population': has no population column")
    path = write_csv(tmp_path / "blank.csv", ["id,lon,lat,population", "a,114,22.5,10", "b,114.01,22.5,"])
    with pytest.warns(UserWarning, match="blank for 1 unit"):
        gdf = gio.read_demand(path)
    assert list(gdf["weight"]) == [10.0, 0.0]


def test_read_demand_rejects_lines(tmp_path):
    gdf = _zones()
    gdf.loc[2, "geometry"] = LineString([(114, 22.5), (114.01, 22.51)])
    path = tmp_path / "z.gpkg"
    gdf.to_file(path, engine="pyogrio")
    err = raises(gio.read_demand, path)
    assert str(err) == "z.gpkg, feature 3, column 'geometry': is a LineString: demand must be points or polygons"


def test_read_boundaries(tmp_path):
    bowtie = Polygon([(114.0, 22.5), (114.02, 22.52), (114.02, 22.5), (114.0, 22.52)])
    gdf = gpd.GeoDataFrame(
        {"qh": ["福田", "南山"], "code": [1, 2]}, geometry=[Point(114.05, 22.54).buffer(0.01), bowtie], crs="EPSG:4326"
    )
    path = tmp_path / "b.gpkg"
    gdf.to_file(path, engine="pyogrio")
    out = gio.read_boundaries(path)
    assert list(out["name"]) == ["福田", "南山"] and list(out["id"]) == ["B1", "B2"]
    assert out.geometry.is_valid.all() and set(out.geom_type) <= {"Polygon", "MultiPolygon"}
    assert out.geometry.iloc[1].area > 0
    assert list(gio.read_boundaries(path, name_column="code")["name"]) == ["1", "2"]
    err = raises(gio.read_boundaries, path, name_column="街道名")
    assert str(err).startswith("b.gpkg, column '街道名': has no column '街道名'; found 'qh', 'code'")


def test_read_boundaries_rejects_points_and_tables(tmp_path):
    path = tmp_path / "p.geojson"
    points_layer().to_file(path, engine="pyogrio")
    err = raises(gio.read_boundaries, path)
    assert str(err) == "p.geojson, feature 1, column 'geometry': is a Point: boundaries must be polygons"
    err = raises(gio.read_boundaries, facilities_csv(tmp_path))
    assert "boundaries must be polygons" in str(err)


def test_read_boundaries_gcj02(tmp_path):
    wgs = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(114.05, 22.54).buffer(0.01)], crs="EPSG:4326")
    path = tmp_path / "amap.geojson"
    gc.geometry_from_wgs84(wgs, "gcj02").to_file(path, engine="pyogrio")
    out = gio.read_boundaries(path, crs="gcj02")
    assert out.geometry.iloc[0].symmetric_difference(wgs.geometry.iloc[0]).area < 1e-10


# --------------------------------------------------------------------------
# writers


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out" / "result.geojson"
    with pytest.raises(RuntimeError):
        with gio.atomic_path(target) as tmp:
            tmp.write_text('{"type": "FeatureCo')
            raise RuntimeError("crash mid-write")
    assert not target.exists() and list(target.parent.iterdir()) == []
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with gio.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and list(target.parent.iterdir()) == [target]


def test_write_geojson_fails_cleanly(tmp_path):
    gdf = points_layer()
    gdf["bad"] = [object(), object(), object()]
    target = tmp_path / "x.geojson"
    target.write_text("old")
    with pytest.raises(ValueError):
        gio.write_geojson(gdf, target, out_crs="EPSG:3857")
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_write_geojson_wgs84(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"id": ["a", "b"], "n": np.array([1, 2], dtype=np.int64), "share": [0.5, np.nan], "名称": ["福田", None]},
        geometry=[Point(114.123456789, 22.5), Polygon([(114, 22), (114, 22.1), (114.1, 22.1)])],  # clockwise
        crs="EPSG:4326",
    )
    path = gio.write_geojson(gdf, tmp_path / "out.geojson", metadata={"tiers": np.array([300, 1000])})
    assert path == tmp_path / "out.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and doc["lifecircle"] == {"crs": "WGS84", "tiers": [300, 1000]}
    f0, f1 = doc["features"]
    assert f0["properties"] == {"id": "a", "n": 1, "share": 0.5, "名称": "福田"}
    assert f1["properties"]["share"] is None and f1["properties"]["名称"] is None
    assert f0["geometry"]["coordinates"] == [114.1234568, 22.5]
    ring = np.array(f1["geometry"]["coordinates"][0])
    signed = np.sum(ring[:-1, 0] * ring[1:, 1] - ring[1:, 0] * ring[:-1, 1])
    assert signed > 0  # RFC 7946: exterior rings counter-clockwise
    assert "福田" in path.read_text(encoding="utf-8")  # not \u-escaped
    back = gpd.read_file(path)
    assert list(back["id"]) == ["a", "b"]


def test_write_geojson_reprojects(tmp_path):
    gdf = points_layer().to_crs("EPSG:32650")
    doc = json.loads(gio.write_geojson(gdf, tmp_path / "p.geojson").read_text())
    assert doc["features"][0]["geometry"]["coordinates"] == pytest.approx([114.055, 22.54], abs=1e-7)


def test_write_geojson_gcj02_name_and_metadata(tmp_path):
    gdf = points_layer()
    path = gio.write_geojson(gdf, tmp_path / "areas.geojson", out_crs="gcj02", metadata={"tool": "lifecircle"})
    assert path == tmp_path / "areas.gcj02.geojson" and path.exists()
    assert not (tmp_path / "areas.geojson").exists()
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["lifecircle"] == {"crs": "GCJ-02", "tool": "lifecircle"}
    x, y = doc["features"][0]["geometry"]["coordinates"]
    gx, gy = gc.wgs84_to_gcj02(114.055, 22.54)
    assert x == pytest.approx(gx, abs=1e-7) and y == pytest.approx(gy, abs=1e-7)
    # a name that already says so is kept; reading it back with --crs gcj02 gives WGS84
    path2 = gio.write_geojson(gdf, tmp_path / "amap_gcj02.geojson", out_crs="GCJ-02")
    assert path2 == tmp_path / "amap_gcj02.geojson"
    back = gio.read_points(path2, role="facilities", crs="gcj02")
    assert haversine_m(gdf.geometry.x, gdf.geometry.y, back.geometry.x, back.geometry.y).max() < 0.05
    with pytest.raises(ValueError, match="out-crs"):
        gio.write_geojson(gdf, tmp_path / "b.geojson", out_crs="bd09")


def test_write_geojson_100k_points(tmp_path):
    rng = np.random.default_rng(0)
    n = 100_000
    gdf = gpd.GeoDataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "weight": rng.random(n),
            "dist_any": np.where(rng.random(n) < 0.1, np.nan, 1.0),
        },
        geometry=shapely.points(rng.uniform(113.75, 114.65, n), rng.uniform(22.4, 22.9, n)),
        crs="EPSG:4326",
    )
    path = gio.write_geojson(gdf, tmp_path / "big.geojson")
    doc = json.loads(path.read_text())
    assert len(doc["features"]) == n
    assert doc["features"][5]["properties"]["id"] == "p5"
    assert [p["properties"]["dist_any"] is None for p in doc["features"]] == list(np.isnan(gdf["dist_any"]))


def test_write_json(tmp_path):
    obj = {
        "tiers": (300.0, 1000.0),
        "share": np.float64("nan"),
        "n": np.int64(3),
        "名称": "福田",
        "arr": np.array([1.5, np.inf]),
        "path": tmp_path / "x",
    }
    path = gio.write_json(obj, tmp_path / "s.json")
    text = path.read_text(encoding="utf-8")
    assert "福田" in text and "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {
        "tiers": [300.0, 1000.0],
        "share": None,
        "n": 3,
        "名称": "福田",
        "arr": [1.5, None],
        "path": str(tmp_path / "x"),
    }


@pytest.mark.parametrize("ext", [".csv", ".xlsx"])
def test_write_table(tmp_path, ext):
    df = pd.DataFrame({"编号": ["A1", "A2"], "名称": ["福田", "南山"], "人口": [10, 20]})
    path = gio.write_table(df, tmp_path / f"t{ext}")
    if ext == ".csv":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    back = gio.read_table(path)
    assert list(back["名称"]) == ["福田", "南山"] and list(back["人口"]) == [10, 20]
    gpath = gio.write_table(points_layer(), tmp_path / f"pts{ext}")
    again = gio.read_points(gpath, role="facilities")
    assert list(again["id"]) == ["A1", "A2", "A3"] and again.geometry.iloc[0].x == pytest.approx(114.055)
    with pytest.raises(ValueError):
        gio.write_table(df, tmp_path / "t.parquet")


def test_round_trip_through_geojson(tmp_path):
    gdf = gio.read_points(facilities_csv(tmp_path), role="facilities")
    path = gio.write_geojson(gdf, tmp_path / "f.geojson")
    back = gio.read_points(path, role="facilities")
    assert list(back["id"]) == list(gdf["id"]) and list(back["kind"]) == list(gdf["kind"])
    assert np.allclose(shapely.get_coordinates(back.geometry.values), shapely.get_coordinates(gdf.geometry.values))


# --------------------------------------------------------------------------
# real data


@needs_shared
def test_real_taz_and_stations():
    zones = gio.read_demand(SHARED / "shenzhenbuscorr" / "sz_taz_491.geojson", count_rows=True)
    assert len(zones) == 491 and zones.crs.to_epsg() == 4326
    stations = gio.read_points(SHARED / "st_evcdp" / "stations.csv", role="candidates", crs="gcj02")
    assert len(stations) == 1706 and stations["id"].is_unique
    shp = gio.read_demand(SHARED / "st_evcdp" / "SZ_districts.shp", count_rows=True)  # EPSG:3857 on disk
    assert len(shp) == 491 and 113.7 < shp.total_bounds[0] < 113.8


@needs_shared
def test_real_boundaries_gcj02_vs_wgs84():
    wgs = gio.read_boundaries(SHARED / "transbigdata" / "sz_districts.json")
    assert "福田" in set(wgs["name"])
    gcj = gio.read_boundaries(SHARED / "datav" / "440300_full.json", crs="gcj02")
    futian = gcj[gcj["name"] == "福田区"].to_crs("EPSG:32650").geometry.iloc[0]
    truth = wgs[wgs["name"] == "福田"].to_crs("EPSG:32650").geometry.iloc[0]
    assert futian.symmetric_difference(truth).area / truth.area < 0.02


def test_row_provenance_follows_derived_frames_and_is_shared(tmp_path):
    import copy

    lines = [
        "id,lon,lat,population",
        "a,114.00,22.50,1",
        ",,,",
        "b,114.01,22.50,2",
        "c,114.02,22.50,3",
        ",,,",
        "d,114.03,22.50,4",
    ]
    gdf = gio.read_demand(write_csv(tmp_path / "d.csv", lines))
    file_rows = {"a": 2, "b": 4, "c": 5, "d": 7}  # spreadsheet rows: the header is row 1, blanks skipped
    assert list(gio.source_rows(gdf)) == [file_rows[i] for i in gdf["id"]]
    picked = gdf[gdf["population"] > 1].iloc[::-1]  # a subset, reordered
    assert list(gio.source_rows(picked)) == [file_rows[i] for i in picked["id"]]
    assert [gio.source_row(picked, k) for k in range(len(picked))] == [file_rows[i] for i in picked["id"]]
    assert gdf.attrs["row_label"] == "row"
    # shared, never copied: every derived frame holds the same read-only object
    rows = gdf.attrs["rows"]
    assert picked.attrs["rows"] is rows and gdf["id"].attrs["rows"] is rows
    assert copy.deepcopy(gdf.attrs)["rows"] is rows
    with pytest.raises(ValueError):
        rows.rows[0] = 99
    # a frame built in Python has no file rows
    assert gio.source_rows(gdf.reset_index(drop=True).set_index("id")) is None
    boundaries = gpd.GeoDataFrame(
        {"name": ["x", "y"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs="EPSG:4326"
    )
    boundaries.to_file(tmp_path / "b.geojson", driver="GeoJSON")
    assert list(gio.source_rows(gio.read_boundaries(tmp_path / "b.geojson"))) == [1, 2]  # feature numbers


def test_reading_points_leaves_the_collector_as_it_was(tmp_path):
    """The reader pauses garbage collection while it makes the points, and only then."""
    import gc as collector

    path = tmp_path / "homes.csv"
    path.write_text("id,population,lon,lat\nR1,3,114.05,22.54\nR2,0,114.06,22.55\n", encoding="utf-8")
    was = collector.isenabled()
    try:
        for enabled in (True, False):
            (collector.enable if enabled else collector.disable)()
            got = gio.read_demand(path)
            assert collector.isenabled() is enabled
            assert shapely.equals(got.geometry.values, shapely.points([[114.05, 22.54], [114.06, 22.55]])).all()
    finally:
        (collector.enable if was else collector.disable)()
