"""The compiled GeoJSON writer (geo.io.streaming) against json/geopandas references, and .parquet/.gpkg outputs."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.io import streaming, write_geojson


def _layer(n: int, seed: int = 11) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    d = np.round(rng.uniform(0, 1000, n), 1)
    d[::3] = np.nan
    d[1::7] = np.inf
    names = [f"楼{i % 5}" for i in range(n)]
    names[2] = 'a/b "c"\n\\d'
    names[4] = None
    return gpd.GeoDataFrame(
        {
            "id": [f"R{i}" for i in range(n)],
            "name": names,
            "weight": rng.integers(0, 4, n).astype(float) / 3.0,
            "count": rng.integers(-5, 5, n),
            "dist_any": d,
            "reachable": rng.random(n) > 0.3,
            "mixed": [[1, True, 1.0, "1", None][i % 5] for i in range(n)],
        },
        geometry=gpd.points_from_xy(
            np.round(rng.uniform(-0.0002, 0.0002, n), 7), 22.5 + np.round(rng.uniform(0, 0.1, n), 7)
        ),
        crs="EPSG:4326",
    )


def _reference_properties(frame: gpd.GeoDataFrame) -> list[dict]:
    """Each row's properties as Python's json would write them (NaN/inf -> null, floats to 10 decimals), parsed back."""
    rows = []
    for rec in pd.DataFrame(frame.drop(columns="geometry")).astype(object).to_dict("records"):
        out = {}
        for k, v in rec.items():
            if isinstance(v, (float, np.floating)) and not np.isfinite(v):
                v = None
            elif isinstance(v, np.generic):
                v = v.item()
            if type(v) is float:
                v = round(v, 10)
            out[k] = v
        rows.append(json.loads(json.dumps(out, ensure_ascii=False)))
    return rows


@pytest.mark.parametrize("chunk", [1, 7, 100_000])
def test_features_equal_python_json_value_for_value(tmp_path, monkeypatch, chunk):
    frame = _layer(61)
    monkeypatch.setattr(streaming, "CHUNK_ROWS", chunk)
    path = write_geojson(frame, tmp_path / "x.geojson", metadata={"k": 1})
    lines = path.read_text(encoding="utf-8").split("\n")
    features = json.loads("\n".join(lines))["features"]
    assert len(lines) == len(frame) + 3  # header, one line per feature, footer, final newline
    ref = _reference_properties(frame)
    for got, want, geom in zip(features, ref, frame.geometry.values):
        assert got["properties"] == want
        assert [type(v) for v in got["properties"].values()] == [type(v) for v in want.values()]  # 1 vs 1.0 vs True
        assert got["geometry"] == {"type": "Point", "coordinates": [round(geom.x, 7), round(geom.y, 7)]}


def test_string_columns_joined_from_several_frames(tmp_path):
    # pandas keeps a concatenated Arrow string column in several chunks (the app's service areas)
    parts = [_layer(13, seed=1), _layer(8, seed=2)]
    frame = gpd.GeoDataFrame(pd.concat([p.drop(columns="mixed") for p in parts], ignore_index=True), crs="EPSG:4326")
    frame["plain"] = pd.concat([pd.Series([f"x{i}" for i in range(13)]), pd.Series(["y"] * 8)], ignore_index=True)
    path = write_geojson(frame, tmp_path / "c.geojson")
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    assert [f["properties"] for f in features] == _reference_properties(frame)


def test_coordinates_are_written_as_repr():
    values = np.round(np.random.default_rng(3).uniform(-180, 180, 5000), 7)
    values[:6] = [0.0, -0.0, 1e-5, -4.29e-05, 0.0001, 179.9999999]
    assert streaming.coordinate_json(values) == [repr(v) for v in values.tolist()]


def test_arrow_coordinates_are_written_as_repr():
    """Arrow's cast is used for coordinates; whole numbers, tiny ones and non-finite ones go the other way."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(5)
    values = np.round(np.concatenate([rng.uniform(-180, 180, 20_000), 10.0 ** rng.uniform(-6, 6, 5000)]), 7)
    values[:10] = [0.0, -0.0, 1e-5, -4.29e-05, 0.0001, 179.9999999, 118.0, -86.0, 9999.9999999, 1e4]
    got = streaming._arrow_coordinates(values, pa, pc).to_pylist()
    lonlat = np.abs(values) <= 180
    assert np.array_equal(np.array(got)[lonlat], [repr(v) for v in values[lonlat].tolist()])
    assert got == streaming.coordinate_json(values)  # and what the writer wrote before, whatever the size
    odd = np.array([np.nan, np.inf, 1.5])
    assert streaming._arrow_coordinates(odd, pa, pc).to_pylist() == ["null", "null", "1.5"]


def test_without_pyarrow_the_same_bytes(tmp_path, monkeypatch):
    frame = _layer(45)
    frame_poly = frame.set_geometry(frame.geometry.buffer(0.001))
    fast = [write_geojson(f, tmp_path / f"fast{i}.geojson").read_bytes() for i, f in enumerate((frame, frame_poly))]
    monkeypatch.setattr(streaming, "_arrow", lambda: None)  # the writer's path when pyarrow is not installed
    slow = [write_geojson(f, tmp_path / f"slow{i}.geojson").read_bytes() for i, f in enumerate((frame, frame_poly))]
    assert fast == slow


def test_polygons_and_empty_layers(tmp_path):
    frame = _layer(9).drop(columns="mixed")
    frame = frame.set_geometry(frame.geometry.buffer(0.001))
    frame.loc[3, "geometry"] = None
    back = json.loads(write_geojson(frame, tmp_path / "p.geojson").read_text(encoding="utf-8"))["features"]
    assert back[3]["geometry"] is None
    for i in (0, 5):
        got = shapely.from_geojson(json.dumps(back[i]["geometry"]))
        assert shapely.hausdorff_distance(got, frame.geometry.values[i]) <= 1e-7
    empty = json.loads(write_geojson(frame.iloc[:0], tmp_path / "e.geojson").read_text(encoding="utf-8"))
    assert empty["features"] == []
    bare = gpd.GeoDataFrame(geometry=frame.geometry.values[:3], crs="EPSG:4326")
    feats = json.loads(write_geojson(bare, tmp_path / "b.geojson").read_text(encoding="utf-8"))["features"]
    assert [f["properties"] for f in feats] == [{}, {}, {}]


def _row_texts(texts_codes) -> list[str]:
    texts, codes = texts_codes
    return [texts[c] for c in codes.tolist()]


@pytest.mark.parametrize(
    "values",
    [
        np.round(np.random.default_rng(3).uniform(0, 1000, 5000), 1),  # distances to 0.1 m
        np.where(np.arange(3000) % 4 == 0, np.nan, np.round(np.random.default_rng(4).uniform(-50, 50, 3000), 2)),
        np.where(np.arange(3000) % 5 == 0, np.inf, np.round(np.random.default_rng(5).random(3000), 4)),  # shares
        (np.random.default_rng(6).random(1000) > 0.5).astype(float),  # 0.0 / 1.0
        np.array([np.nan, np.nan]),
        np.array([7.0]),
    ],
)
def test_grid_codes_write_what_json_writes(values):
    """A float column on a decimal grid: each row's text is Python's json text of the value (null for NaN/inf)."""
    got = streaming._grid_codes(pd.Series(values))
    if not np.isfinite(values).any():
        assert got is None
        return
    assert got is not None
    want = [json.dumps(float(v)) if np.isfinite(v) else "null" for v in values]
    assert _row_texts(got) == want


@pytest.mark.parametrize(
    "values",
    [
        np.array([0.1234567, 1.0]),  # off every grid
        np.array([-0.0, 1.0]),  # a negative zero keeps the general path
        np.array([0.0, 1e9]),  # a span far wider than the column
        np.array([1, 2, 3]),  # not floats
    ],
)
def test_grid_codes_leave_other_columns_to_factorize(values):
    assert streaming._grid_codes(pd.Series(values)) is None
    # and the general path still writes them as json does
    texts = _row_texts(streaming._distinct_json(pd.Series(values), str))
    assert [json.loads(t) for t in texts] == [float(v) if values.dtype.kind == "f" else int(v) for v in values]


def test_grid_texts_kept_between_chunks_are_json_texts(monkeypatch):
    """The kept texts (grown, sliced, and past the kept range) are Python's json text of k / scale."""
    monkeypatch.setattr(streaming, "_GRID_TEXTS", {})
    monkeypatch.setattr(streaming, "_GRID_KEEP", 5000)
    for lo, hi in [(3, 40), (0, 2000), (1500, 4999), (4990, 5010), (-20, 5)]:
        got = streaming._grid_texts(10.0, lo, hi)
        assert got == [json.dumps(k / 10.0) for k in range(lo, hi + 1)]


def test_bool_columns_write_true_false():
    values = pd.Series(np.random.default_rng(8).random(500) > 0.5)
    assert _row_texts(streaming._distinct_json(values, str)) == [json.dumps(bool(v)) for v in values]


def test_an_empty_point_among_points_takes_the_general_path(tmp_path):
    frame = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"]}, geometry=[shapely.Point(1.123456789, 2.0), shapely.Point(), shapely.Point(3, 4)]
    )
    assert streaming._point_coords(np.asarray(frame.geometry.values)) is None
    features = json.loads(write_geojson(frame, tmp_path / "p.geojson").read_text(encoding="utf-8"))["features"]
    assert features[0]["geometry"] == {"type": "Point", "coordinates": [1.1234568, 2.0]}
    assert features[2]["geometry"] == {"type": "Point", "coordinates": [3.0, 4.0]}
    assert features[1]["geometry"] in (None, {"type": "Point", "coordinates": []})


@pytest.mark.parametrize(
    "values",
    [
        [0.0, 1.0, 1.0, 0.0],
        [1.0, 1.0],
        [0.0, -0.0, 1.0],  # a negative zero is written as json writes it
        [1.0, np.nan, 0.0],
        [0.0, 0.5, 1.0],
    ],
)
def test_zero_one_columns_write_what_json_writes(values):
    values = np.array(values)
    got = _row_texts(streaming._distinct_json(pd.Series(values), str))
    assert [json.loads(t) for t in got] == [float(v) if np.isfinite(v) else None for v in values]
    assert [type(json.loads(t)) for t in got] == [float if np.isfinite(v) else type(None) for v in values]


def _polygons(seed: int = 21) -> np.ndarray:
    """Valid polygons and multipolygons, holes and both orientations, about Shenzhen and about 0/0
    (whole numbers, coordinates under 1e-4 and negative ones)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(60):
        c = np.array([114.0, 22.5]) + rng.uniform(-0.1, 0.1, 2) if i % 3 else rng.uniform(-1e-3, 1e-3, 2)
        outer = shapely.Point(c).buffer(float(rng.uniform(2e-4, 1e-3)), quad_segs=int(rng.integers(1, 6)))
        hole = shapely.Point(c).buffer(float(outer.length / 40), quad_segs=2)
        poly = outer.difference(hole) if i % 2 else outer
        if i % 4 == 1:
            poly = shapely.reverse(poly)  # exterior clockwise, holes anticlockwise: must be reoriented
        if i % 5 == 0:
            poly = shapely.MultiPolygon([poly, shapely.box(c[0] + 0.01, c[1], c[0] + 0.012, c[1] + 1)])
        out.append(poly)
    out.append(shapely.box(0, 0, 1, 1))  # whole numbers
    return np.array(out, dtype=object)


@pytest.mark.parametrize("batch", [500_000, 50])
def test_polygon_texts_equal_shapely_writer_of_oriented_polygons(monkeypatch, batch):
    monkeypatch.setattr(streaming, "POLYGON_BATCH_COORDS", batch)  # 50: many Arrow passes
    geoms = _polygons()
    got = streaming.polygon_json(geoms)
    ref = shapely.to_geojson(shapely.orient_polygons(shapely.transform(geoms, lambda xy: np.round(xy, 7))))
    assert [json.loads(t) for t in got] == [json.loads(t) for t in ref]
    for text in got:  # RFC 7946: exterior rings anticlockwise, holes clockwise
        shape = shapely.from_geojson(text)
        for poly in shapely.get_parts(shape):
            assert poly.exterior.is_ccw and not any(r.is_ccw for r in poly.interiors)
    monkeypatch.setattr(streaming, "_arrow", lambda: None)
    assert streaming.polygon_json(geoms) == got  # joined in Python: the same texts


def test_polygon_texts_leave_other_geometries_to_shapely():
    assert streaming.polygon_json(np.array([shapely.box(0, 0, 1, 1), shapely.Point(0, 0)])) is None
    assert streaming.polygon_json(np.array([shapely.box(0, 0, 1, 1), shapely.Polygon()])) is None
    assert streaming.polygon_json(np.empty(0, dtype=object)) is None
