"""Tests for geo.crs: GCJ-02 / BD-09 conversions, the --crs vocabulary, metric CRS."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, Polygon

from geo import crs as gc
from tests.conftest import SHARED_DATA

SHARED = SHARED_DATA  # ../shared/data, or $LIFECIRCLE_SHARED_DATA
DATAV = SHARED / "datav" / "440300_full.json"
SZ_WGS84 = SHARED / "transbigdata" / "sz_districts.json"

# A grid across Shenzhen.
LON, LAT = (a.ravel() for a in np.meshgrid(np.linspace(113.75, 114.65, 37), np.linspace(22.4, 22.9, 21)))


# --------------------------------------------------------------------------
# an independent reference: the published formulas, written out with math


def _ref_wgs_to_gcj(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 -> GCJ-02 as published (scalar, no numpy)."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * math.sqrt(abs(x))
        + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
        + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
        + (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * math.sqrt(abs(x))
        + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
        + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
        + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(rad) ** 2
    sq = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sq) * math.pi)
    dlon = (dlon * 180.0) / (a / sq * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


def _ref_gcj_to_bd(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> BD-09 as published."""
    x_pi = math.pi * 3000.0 / 180.0
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * x_pi)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * x_pi)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _ref(func, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    pairs = [func(float(x), float(y)) for x, y in zip(lon, lat)]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(h))


# --------------------------------------------------------------------------
# forward formulas agree with the reference


def test_forward_gcj02_matches_published_formula():
    gx, gy = gc.wgs84_to_gcj02(LON, LAT)
    rx, ry = _ref(_ref_wgs_to_gcj, LON, LAT)
    assert np.abs(gx - rx).max() < 1e-12 and np.abs(gy - ry).max() < 1e-12


def test_forward_bd09_matches_published_formula():
    bx, by = gc.wgs84_to_bd09(LON, LAT)
    gx, gy = _ref(_ref_wgs_to_gcj, LON, LAT)
    rx, ry = _ref(_ref_gcj_to_bd, gx, gy)
    assert np.abs(bx - rx).max() < 1e-12 and np.abs(by - ry).max() < 1e-12


# --------------------------------------------------------------------------
# exact inverses


def test_gcj02_round_trip_under_half_a_metre():
    rx, ry = _ref(_ref_wgs_to_gcj, LON, LAT)
    wx, wy = gc.gcj02_to_wgs84(rx, ry)
    assert haversine_m(LON, LAT, wx, wy).max() < 0.5
    assert haversine_m(LON, LAT, wx, wy).max() < 1e-3  # exact, not merely good enough


def test_bd09_round_trip_under_half_a_metre():
    gx, gy = _ref(_ref_wgs_to_gcj, LON, LAT)
    bx, by = _ref(_ref_gcj_to_bd, gx, gy)
    wx, wy = gc.bd09_to_wgs84(bx, by)
    assert haversine_m(LON, LAT, wx, wy).max() < 1e-3
    cx, cy = gc.bd09_to_gcj02(bx, by)
    assert haversine_m(gx, gy, cx, cy).max() < 1e-3


@pytest.mark.parametrize(
    "forward, inverse",
    [
        (gc.wgs84_to_gcj02, gc.gcj02_to_wgs84),
        (gc.gcj02_to_bd09, gc.bd09_to_gcj02),
        (gc.wgs84_to_bd09, gc.bd09_to_wgs84),
    ],
)
def test_inverse_is_exact_both_ways(forward, inverse):
    # inverse(forward(x)) == x
    fx, fy = forward(LON, LAT)
    ix, iy = inverse(fx, fy)
    assert np.abs(ix - LON).max() < 1e-9 and np.abs(iy - LAT).max() < 1e-9
    # forward(inverse(g)) == g: the defining property of the iteration
    ix, iy = inverse(LON, LAT)
    fx, fy = forward(ix, iy)
    assert np.abs(fx - LON).max() < 1e-9 and np.abs(fy - LAT).max() < 1e-9


def test_exact_inverse_beats_one_step_approximation():
    gx, gy = gc.wgs84_to_gcj02(LON, LAT)
    ax, ay = gc.wgs84_to_gcj02(gx, gy)
    one_step = haversine_m(LON, LAT, 2 * gx - ax, 2 * gy - ay).max()
    exact = haversine_m(LON, LAT, *gc.gcj02_to_wgs84(gx, gy)).max()
    assert one_step > 0.5  # the shortcut misses by metres here
    assert exact < 1e-3


def test_futian_gcj_shift_is_about_600_m():
    lon, lat = 114.055, 22.540  # Futian CBD
    glon, glat = gc.wgs84_to_gcj02(lon, lat)
    assert 500 < haversine_m(lon, lat, glon, glat) < 700
    assert 0.004 < glon - lon < 0.006 and -0.0035 < glat - lat < -0.002


def test_outside_china_and_nan_pass_through():
    lon, lat = np.array([24.94, -74.0, np.nan]), np.array([60.17, 40.7, 22.5])
    for func in (gc.wgs84_to_gcj02, gc.gcj02_to_wgs84, gc.wgs84_to_bd09, gc.bd09_to_wgs84):
        x, y = func(lon, lat)
        np.testing.assert_array_equal(x, lon)
        np.testing.assert_array_equal(y, lat)


def test_scalar_and_array_types():
    x, y = gc.wgs84_to_gcj02(114.0, 22.5)
    assert type(x) is float and type(y) is float
    x, y = gc.gcj02_to_wgs84([114.0, 114.1], 22.5)  # broadcasting
    assert x.dtype == np.float64 and x.shape == (2,) and y.shape == (2,)
    x, y = gc.bd09_to_wgs84(np.array([[114.0]]), np.array([[22.5]]))
    assert x.shape == (1, 1)


# --------------------------------------------------------------------------
# the --crs vocabulary


@pytest.mark.parametrize(
    "text, expected",
    [
        ("wgs84", "wgs84"),
        ("WGS84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("4326", "wgs84"),
        ("epsg:4326", "wgs84"),
        (" wgs-84 ", "wgs84"),
        ("gcj02", "gcj02"),
        ("gcj-02", "gcj02"),
        ("GCJ02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("bd09", "bd09"),
        ("bd-09", "bd09"),
        ("BD09", "bd09"),
        ("EPSG:3857", "EPSG:3857"),
        ("epsg:32650", "EPSG:32650"),
        ("EPSG:4490", "EPSG:4490"),
    ],
)
def test_parse_crs_accepts(text, expected):
    assert gc.parse_crs(text) == expected


@pytest.mark.parametrize("text", ["", "mars", "EPSG:999999", "EPSG:", "EPSG:abc", "3857", "utm50", None])
def test_parse_crs_rejects(text):
    with pytest.raises(ValueError) as info:
        gc.parse_crs(text)
    assert str(info.value) == f"unknown --crs value '{text}': use wgs84, gcj02, bd09 or EPSG:<code>"


def test_parse_crs_rejects_vertical_crs():
    with pytest.raises(ValueError, match="unknown --crs value"):
        gc.parse_crs("EPSG:5773")  # EGM96 height: not a horizontal CRS


# --------------------------------------------------------------------------
# lon/lat helpers


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09", "EPSG:3857", "EPSG:32650", "EPSG:4490"])
def test_from_and_to_wgs84_round_trip(crs):
    x, y = gc.from_wgs84_lonlat(LON, LAT, crs)
    lon, lat = gc.to_wgs84_lonlat(x, y, crs)
    assert haversine_m(LON, LAT, lon, lat).max() < 1e-3


def test_to_wgs84_lonlat_projected_and_shifted():
    lon, lat = gc.to_wgs84_lonlat(12696556.0, 2575870.0, "EPSG:3857")  # x first (always_xy)
    assert 114.0 < lon < 114.1 and 22.4 < lat < 22.6
    glon, glat = gc.wgs84_to_gcj02(114.05, 22.54)
    assert haversine_m(114.05, 22.54, *gc.to_wgs84_lonlat(glon, glat, "gcj-02")) < 1e-3
    with pytest.raises(ValueError, match="unknown --crs value 'foo'"):
        gc.to_wgs84_lonlat(1, 2, "foo")


# --------------------------------------------------------------------------
# geometries


def _layer() -> gpd.GeoDataFrame:
    square = Polygon([(114.05, 22.53), (114.06, 22.53), (114.06, 22.54), (114.05, 22.54)])
    return gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[square, Point(114.02, 22.52)], crs="EPSG:4326")


def test_geometry_from_and_to_wgs84_gcj02():
    wgs = _layer()
    gcj = gc.geometry_from_wgs84(wgs, "gcj02")
    assert gcj.crs.to_epsg() == 4326 and gcj.attrs["coordinate_system"] == "GCJ-02"
    assert list(gcj["id"]) == ["a", "b"]
    xy0, xy1 = shapely.get_coordinates(wgs.geometry.values), shapely.get_coordinates(gcj.geometry.values)
    shift = haversine_m(xy0[:, 0], xy0[:, 1], xy1[:, 0], xy1[:, 1])
    assert (shift > 500).all() and (shift < 700).all()
    back = gc.geometry_to_wgs84(gcj, "gcj02")
    xy2 = shapely.get_coordinates(back.geometry.values)
    assert haversine_m(xy0[:, 0], xy0[:, 1], xy2[:, 0], xy2[:, 1]).max() < 1e-3
    assert back.attrs["coordinate_system"] == "WGS84"
    # the note in attrs is enough to undo it
    again = gc.geometry_to_wgs84(gcj)
    assert np.allclose(shapely.get_coordinates(again.geometry.values), xy2)
    assert wgs.geometry.iloc[1].x == 114.02  # input untouched


def test_geometry_helpers_on_geoseries_and_epsg():
    series = _layer().geometry
    bd = gc.geometry_from_wgs84(series, "bd09")
    assert isinstance(bd, gpd.GeoSeries) and bd.attrs["coordinate_system"] == "BD-09"
    back = gc.geometry_to_wgs84(bd, "bd09")
    assert np.allclose(shapely.get_coordinates(back.values), shapely.get_coordinates(series.values), atol=1e-9)
    utm = gc.geometry_from_wgs84(series, "EPSG:32650")
    assert utm.crs.to_epsg() == 32650
    assert gc.geometry_to_wgs84(utm).crs.to_epsg() == 4326
    # coordinates labelled by the caller
    raw = gpd.GeoSeries(utm.values, crs=None)
    assert np.allclose(gc.geometry_to_wgs84(raw, "EPSG:32650").iloc[1].x, 114.02)


def test_gcj02_layer_in_web_mercator_is_unprojected_first():
    gcj = gc.geometry_from_wgs84(_layer(), "gcj02").to_crs("EPSG:3857")
    back = gc.geometry_to_wgs84(gcj, "gcj02")
    assert back.crs.to_epsg() == 4326
    assert abs(back.geometry.iloc[1].x - 114.02) < 1e-8 and abs(back.geometry.iloc[1].y - 22.52) < 1e-8


# --------------------------------------------------------------------------
# metric CRS


def test_local_metric_crs():
    assert gc.local_metric_crs(LON, LAT) == "EPSG:32650"
    assert gc.local_metric_crs(114.05, 22.54) == "EPSG:32650"
    assert gc.local_metric_crs([24.94, np.nan], [60.17, 1.0]) == "EPSG:32635"  # Helsinki, NaN ignored
    assert gc.local_metric_crs(151.2, -33.9) == "EPSG:32756"  # Sydney: south
    with pytest.raises(ValueError):
        gc.local_metric_crs([np.nan], [np.nan])


# --------------------------------------------------------------------------
# real data: DataV's GCJ-02 outline of Futian against the WGS84 one


@pytest.mark.skipif(
    not (DATAV.exists() and SZ_WGS84.exists()),
    reason=f"shared Shenzhen data not found in {SHARED} (see DESIGN.md, 'Data for tests')",
)
def test_datav_futian_outline_lands_on_wgs84_outline():
    datav = gpd.read_file(DATAV)
    wgs = gpd.read_file(SZ_WGS84)
    futian_gcj = datav[datav["name"] == "福田区"]
    futian_wgs = wgs[wgs["qh"] == "福田"]
    assert len(futian_gcj) == 1 and len(futian_wgs) == 1
    boundary = futian_wgs.to_crs("EPSG:32650").geometry.iloc[0].boundary

    def median_distance(layer: gpd.GeoDataFrame) -> float:
        vertices = shapely.points(shapely.get_coordinates(layer.to_crs("EPSG:32650").geometry.values))
        return float(np.median(shapely.distance(vertices, boundary)))

    assert median_distance(futian_gcj) > 300
    assert median_distance(gc.geometry_to_wgs84(futian_gcj, "gcj02")) < 10
