"""Fuzz: bad and awkward files of every format, for every command, end cleanly.

Each case writes one hostile or awkward input (CSV, XLSX, GeoJSON, GPKG, SHP, network and
project files), runs the command in-process and asserts: the exit code; one message naming
the file (and, where it matters, the row, column or what is wrong), no traceback and no
"internal error"; no input file changed; no output (and no temporary file) left behind on
failure, every output present on success.
"""

from __future__ import annotations

import io as _pyio
import json
import os
import zipfile
from pathlib import Path

import pytest

from apps import cli
from tests.robustness_world import World, _at, build_world, snapshot

OK = "ok"
HEAD = "id,name,kind,lon,lat\n"
GOOD_ROW = f"A,站,park,{_at(2, 2)}\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("world"))


def command_args(world: World, command: str, out: Path, files: dict[str, Path], extra: list) -> tuple[list, list[Path]]:
    """The command line of ``command`` on the world, with ``files`` replacing its inputs."""
    f = {
        "network": world.network,
        "facilities": world.facilities,
        "demand": world.demand,
        "candidates": world.candidates,
        "lots": world.lots,
        "residences": world.residences,
        **files,
    }

    def inputs(*keys: str) -> list:
        return [arg for key in keys for arg in (f"--{key}", f[key])]

    if command == "areas":
        outs = [out / "areas.geojson"]
        args = ["areas", *inputs("network", "facilities"), "--tiers", "300", "--out", outs[0]]
    elif command == "coverage":
        outs = [out / "cov.geojson", out / "summary.json", out / "gaps.geojson"]
        args = ["coverage", *inputs("network", "facilities", "demand")]
        args += ["--out", outs[0], "--summary", outs[1], "--gaps", outs[2]]
        if "units" in f:
            args += ["--units", f["units"]]
    elif command == "site":
        outs = [out / "sites.geojson", out / "site.json"]
        args = ["site", *inputs("network", "facilities", "candidates", "demand")]
        args += ["--add", "1", "--radius", "300", "--method", "greedy", "--out", outs[0], "--summary", outs[1]]
    elif command == "parking":
        outs = [out / "match.geojson", out / "parking.json", out / "tables.xlsx"]
        args = ["parking", *inputs("network", "lots", "residences")]
        args += ["--out", outs[0], "--summary", outs[1], "--table-out", outs[2]]
    elif command == "network":
        outs = [out / "net.lcnet"]
        args = ["network", "--osm", f["osm"], "--out", outs[0]]
    elif command == "evaluate":
        outs = [out / "eval.geojson", out / "eval.json", out / "ledger.xlsx"]
        args = ["evaluate", *inputs("network", "facilities", "demand")]
        args += ["--out", outs[0], "--summary", outs[1], "--ledger", outs[2], "--no-remedies"]
        if "standard" in f:
            args += ["--standard", f["standard"]]
    elif command == "standards":
        outs = []
        args = ["standards", f["standard"]]
    elif command == "batch":
        outs = []
        args = ["batch", f["plan"], "--out-dir", out / "batch", "--workers", "1"]
    elif command == "serve":
        outs = []
        args = ["serve", f["project"]]
    else:  # pragma: no cover
        raise KeyError(command)
    return [*args, *extra], outs


def run_clean(world: World, tmp_path: Path, capsys, command: str, files: dict, extra: list, expect) -> str:
    """Run one case and assert the clean-failure (or clean-success) contract; return stderr."""
    out = tmp_path / "out"
    out.mkdir()
    args, outs = command_args(world, command, out, files, extra)
    before_world, before_in = world.snapshot(), snapshot(tmp_path / "in")
    code = cli.main([str(a) for a in args])
    _, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    assert world.snapshot() == before_world and snapshot(tmp_path / "in") == before_in, "an input file changed"
    left = sorted(p.name for p in out.iterdir())
    if expect == OK:
        assert code == 0, err
        assert left == sorted(p.name for p in outs), left
        for p in outs:
            if p.suffix in (".json", ".geojson"):
                json.loads(p.read_text(encoding="utf-8"))
    else:
        assert code == 2, (code, err)
        assert err.count("error:") == 1, err
        assert left == [], f"left behind: {left}"
        for word in expect:
            assert word.lower() in err.lower(), (word, err)
    return err


# --------------------------------------------------------------- file builders
def text(content: str, encoding: str = "utf-8"):
    return lambda path: path.write_bytes(content.encode(encoding))


def raw(content: bytes):
    return lambda path: path.write_bytes(content)


def xlsx_rows(rows: list[list]):
    def build(path: Path) -> None:
        import openpyxl

        wb = openpyxl.Workbook()
        for r in rows:
            wb.active.append(r)
        wb.save(path)

    return build


def xlsx_truncated(path: Path) -> None:
    xlsx_rows([["id", "kind", "lon", "lat"], ["A", "park", *map(float, _at(2, 2).split(","))]])(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def zip_not_xlsx(path: Path) -> None:
    buf = _pyio.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    path.write_bytes(buf.getvalue())


def geojson(features: list | None = None, **extra):
    def build(path: Path) -> None:
        path.write_text(
            json.dumps({"type": "FeatureCollection", "features": features or [], **extra}), encoding="utf-8"
        )

    return build


def point(lon, lat, **props):
    return {
        "type": "Feature",
        "properties": {"id": "A", "kind": "park", **props},
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


LON, LAT = map(float, _at(2, 2).split(","))


def _gdf(rows: list[dict], crs="EPSG:4326"):
    import geopandas as gpd
    import shapely

    return gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k != "xy"} for r in rows],
        geometry=[shapely.Point(*r["xy"]) if r.get("xy") else None for r in rows],
        crs=crs,
    )


def gpkg(rows: list[dict], crs="EPSG:4326"):
    return lambda path: _gdf(rows, crs).to_file(path, driver="GPKG")


def gpkg_truncated(path: Path) -> None:
    gpkg([{"id": "A", "kind": "park", "xy": (LON, LAT)}])(path)
    data = path.read_bytes()
    path.write_bytes(data[:4096])


def empty_sqlite(path: Path) -> None:
    import sqlite3

    con = sqlite3.connect(path)
    con.execute("create table t (a int)")
    con.commit()
    con.close()


def shp(rows: list[dict], drop: tuple[str, ...] = (), crs="EPSG:4326"):
    def build(path: Path) -> None:
        _gdf(rows, crs).to_file(path, driver="ESRI Shapefile", encoding="utf-8")
        for ext in drop:
            path.with_suffix(ext).unlink()

    return build


def shp_truncated(path: Path) -> None:
    shp([{"id": f"A{i}", "kind": "park", "xy": (LON + i * 1e-4, LAT)} for i in range(20)])(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def shp_garbage(path: Path) -> None:
    shp([{"id": "A", "kind": "park", "xy": (LON, LAT)}])(path)
    path.write_bytes(b"\x00garbage" * 20)


def _polys():
    import geopandas as gpd
    import shapely

    box = shapely.box(LON, LAT, LON + 2e-3, LAT + 2e-3)
    return gpd.GeoDataFrame({"id": ["P1"], "population": [300]}, geometry=[box], crs="EPSG:4326")


def nested_json(path: Path) -> None:
    path.write_text(
        '{"type": "FeatureCollection", "features": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8"
    )


GOOD_PT = {"id": "A", "kind": "park", "xy": (LON, LAT)}

# name: (command, role, file name, builder, extra args, expected words or OK)
CASES: dict[str, tuple] = {
    # ---- CSV facilities
    "csv empty": ("areas", "facilities", "f.csv", text(""), [], ["f.csv", "empty"]),
    "csv header only": ("areas", "facilities", "f.csv", text(HEAD), [], ["f.csv", "no"]),
    "csv blank lines only": ("areas", "facilities", "f.csv", text("\n\n  \n"), [], ["f.csv"]),
    "csv png bytes": ("areas", "facilities", "f.csv", raw(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary"), [], ["f.csv"]),
    "csv missing coordinates": (
        "areas",
        "facilities",
        "f.csv",
        text("id,name,kind\nA,站,park\n"),
        [],
        ["f.csv", "lon"],
    ),
    "csv text coordinate": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + "A,站,park,114.05,abc\n"),
        [],
        ["f.csv", "row 2", "lat", "abc"],
    ),
    "csv nan coordinate": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + "A,站,park,nan,22.55\n"),
        [],
        ["f.csv", "row 2", "lon"],
    ),
    "csv inf coordinate": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + "A,站,park,inf,22.55\n"),
        [],
        ["f.csv", "row 2", "lon"],
    ),
    "csv 1e308 coordinate": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + "A,站,park,1e308,22.55\n"),
        [],
        ["f.csv", "row 2"],
    ),
    "csv swapped lat/lon": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + "A,站,park,22.556,114.05\n"),
        [],
        ["f.csv", "row 2", "swapped"],
    ),
    "csv empty coordinate": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + GOOD_ROW + "B,站,park,,22.55\n"),
        [],
        ["f.csv", "row 3", "lon"],
    ),
    "csv duplicate ids": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + GOOD_ROW + GOOD_ROW),
        [],
        ["f.csv", "row 3", "id"],
    ),
    "csv unknown kind": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + f"A,站,spaceport,{_at(2, 2)}\n"),
        [],
        ["f.csv", "row 2", "spaceport", "--kinds"],
    ),
    "csv all far away": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + "A,站,park,116.40,39.90\nB,站,park,116.41,39.91\n"),
        [],
        ["f.csv", "row 2", "network"],
    ),
    "csv gbk behind utf-8 bom": (
        "areas",
        "facilities",
        "f.csv",
        raw(b"\xef\xbb\xbf" + ("编号,名称,类型,经度,纬度\nA,站点,公园," + _at(2, 2) + "\n").encode("gbk")),
        [],
        ["f.csv", "byte-order mark", "GBK"],
    ),
    "csv gbk without bom": (
        "areas",
        "facilities",
        "f.csv",
        text("编号,名称,类型,经度,纬度\nA,站点,公园," + _at(2, 2) + "\n", "gbk"),
        [],
        OK,
    ),
    "csv utf-8 with bom": ("areas", "facilities", "f.csv", text("\ufeff" + HEAD + GOOD_ROW), [], OK),
    "csv utf-16": ("areas", "facilities", "f.csv", text(HEAD + GOOD_ROW, "utf-16"), [], ["f.csv"]),
    "csv nul byte": (
        "areas",
        "facilities",
        "f.csv",
        raw((HEAD + "A,站\x00,park," + _at(2, 2) + "\n").encode()),
        [],
        ["f.csv"],
    ),
    "csv ragged row": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + GOOD_ROW + f"B,站,park,{_at(3, 3)},9,9,9\n"),
        [],
        ["f.csv"],
    ),
    "csv unterminated quote": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + f'A,"站,park,{_at(2, 2)}\n'),
        [],
        ["f.csv", "row 2", "quote"],
    ),
    "csv formula in a name": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + f"A,=cmd|' /C calc'!A0,park,{_at(2, 2)}\n"),
        [],
        OK,
    ),
    "csv 100k-character name": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + f"A,{'长' * 100_000},park,{_at(2, 2)}\n"),
        [],
        OK,
    ),
    "csv semicolons": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD.replace(",", ";") + GOOD_ROW.replace(",", ";")),
        [],
        OK,
    ),
    "csv crlf and trailing blank rows": (
        "areas",
        "facilities",
        "f.csv",
        text((HEAD + GOOD_ROW).replace("\n", "\r\n") + ",,,,\r\n\r\n"),
        [],
        OK,
    ),
    "csv chinese headers": (
        "areas",
        "facilities",
        "f.csv",
        text("编号,名称,类型,经度,纬度\nA,站,公园," + _at(2, 2) + "\n"),
        [],
        OK,
    ),
    "csv latitude out of range": (
        "areas",
        "facilities",
        "f.csv",
        text(HEAD + "A,站,park,114.05,95.0\n"),
        [],
        ["f.csv", "row 2"],
    ),
    "csv wrong extension (.xls)": ("areas", "facilities", "f.xls", text(HEAD + GOOD_ROW), [], ["f.xls", ".xlsx"]),
    "csv unsupported extension (.txt)": ("areas", "facilities", "f.txt", text(HEAD + GOOD_ROW), [], ["f.txt"]),
    "csv missing file": ("areas", "facilities", "missing.csv", None, [], ["missing.csv"]),
    "csv a folder": ("areas", "facilities", "folder.csv", lambda p: p.mkdir(), [], ["folder.csv"]),
    # ---- CSV demand
    "demand negative population": (
        "coverage",
        "demand",
        "d.csv",
        text(f"id,population,lon,lat\nD1,-5,{_at(2, 2)}\n"),
        [],
        ["d.csv", "row 2", "population"],
    ),
    "demand text population": (
        "coverage",
        "demand",
        "d.csv",
        text(f"id,population,lon,lat\nD1,很多,{_at(2, 2)}\n"),
        [],
        ["d.csv", "row 2", "population"],
    ),
    "demand nan population": (
        "coverage",
        "demand",
        "d.csv",
        text(f"id,population,lon,lat\nD1,inf,{_at(2, 2)}\n"),
        [],
        ["d.csv", "row 2", "population"],
    ),
    "demand empty": ("coverage", "demand", "d.csv", text(""), [], ["d.csv"]),
    "demand all far away": (
        "coverage",
        "demand",
        "d.csv",
        text("id,population,lon,lat\nD1,5,116.4,39.9\n"),
        [],
        ["d.csv", "network"],
    ),
    "demand population with thousands separators": (
        "coverage",
        "demand",
        "d.csv",
        text(f'id,population,lon,lat\nD1,"1,200",{_at(2, 2)}\n'),
        [],
        OK,
    ),
    # ---- candidates, lots, residences
    "candidates all off the network": (
        "site",
        "candidates",
        "c.csv",
        text("id,name,lon,lat\nC1,a,116.4,39.9\nC2,b,116.41,39.91\n"),
        [],
        ["c.csv", "row 2", "C1", "candidate"],
    ),
    "candidates duplicate ids": (
        "site",
        "candidates",
        "c.csv",
        text(f"id,name,lon,lat\nC1,a,{_at(1, 1)}\nC1,b,{_at(3, 3)}\n"),
        [],
        ["c.csv", "row 3"],
    ),
    "candidates empty": ("site", "candidates", "c.csv", text("id,name,lon,lat\n"), [], ["c.csv"]),
    "lots negative capacity": (
        "parking",
        "lots",
        "l.csv",
        text(f"id,capacity,lon,lat\nL1,-3,{_at(3, 3)}\n"),
        [],
        ["l.csv", "row 2", "capacity"],
    ),
    "lots fractional capacity": (
        "parking",
        "lots",
        "l.csv",
        text(f"id,capacity,lon,lat\nL1,2.5,{_at(3, 3)}\n"),
        [],
        ["l.csv", "row 2", "capacity"],
    ),
    "lots unreadable open hours": (
        "parking",
        "lots",
        "l.csv",
        text(f"id,capacity,open,lon,lat\nL1,10,sometimes,{_at(3, 3)}\n"),
        [],
        ["l.csv", "row 2", "open"],
    ),
    "lots occupancy over 1": (
        "parking",
        "lots",
        "l.csv",
        text(
            "id,capacity,"
            + ",".join(f"occ_{h:02d}" for h in range(24))
            + f",lon,lat\nL1,10,1.7{',0.5' * 23},{_at(3, 3)}\n"
        ),
        [],
        ["l.csv", "row 2", "occ_00"],
    ),
    "lots some occupancy hours missing": (
        "parking",
        "lots",
        "l.csv",
        text(f"id,capacity,occ_00,lon,lat\nL1,10,0.5,{_at(3, 3)}\n"),
        [],
        ["l.csv", "occ_01"],
    ),
    "lots unknown land use": (
        "parking",
        "lots",
        "l.csv",
        text(f"id,capacity,land_use,lon,lat\nL1,10,volcano,{_at(3, 3)}\n"),
        [],
        ["l.csv", "row 2", "land_use"],
    ),
    "lots closed (not an error)": (
        "parking",
        "lots",
        "l.csv",
        text(f"id,capacity,open,lon,lat\nL1,10,closed,{_at(3, 3)}\n"),
        [],
        OK,
    ),
    "residences negative demand": (
        "parking",
        "residences",
        "r.csv",
        text(f"id,demand,lon,lat\nR1,-2,{_at(3, 3)}\n"),
        [],
        ["r.csv", "row 2", "demand"],
    ),
    "residences bad window": (
        "parking",
        "residences",
        "r.csv",
        text(f"id,demand,window,lon,lat\nR1,2,25:00-99:00,{_at(3, 3)}\n"),
        [],
        ["r.csv", "row 2", "window"],
    ),
    "residences missing demand": (
        "parking",
        "residences",
        "r.csv",
        text(f"id,lon,lat\nR1,{_at(3, 3)}\n"),
        [],
        ["r.csv", "demand"],
    ),
    # ---- XLSX
    "xlsx that is csv text": ("areas", "facilities", "f.xlsx", text(HEAD + GOOD_ROW), [], ["f.xlsx"]),
    "xlsx zip but no workbook": ("areas", "facilities", "f.xlsx", zip_not_xlsx, [], ["f.xlsx"]),
    "xlsx truncated": ("areas", "facilities", "f.xlsx", xlsx_truncated, [], ["f.xlsx"]),
    "xlsx empty sheet": ("areas", "facilities", "f.xlsx", xlsx_rows([]), [], ["f.xlsx"]),
    "xlsx missing lat": (
        "areas",
        "facilities",
        "f.xlsx",
        xlsx_rows([["id", "kind", "lon"], ["A", "park", LON]]),
        [],
        ["f.xlsx", "lat"],
    ),
    "xlsx text coordinate": (
        "areas",
        "facilities",
        "f.xlsx",
        xlsx_rows([["id", "kind", "lon", "lat"], ["A", "park", LON, "north"]]),
        [],
        ["f.xlsx", "row 2", "lat"],
    ),
    "xlsx numbers as text": (
        "areas",
        "facilities",
        "f.xlsx",
        xlsx_rows([["id", "kind", "lon", "lat"], ["A", "park", str(LON), str(LAT)]]),
        [],
        OK,
    ),
    "xlsx demand negative": (
        "coverage",
        "demand",
        "d.xlsx",
        xlsx_rows([["id", "population", "lon", "lat"], ["D", -1, LON, LAT]]),
        [],
        ["d.xlsx", "row 2", "population"],
    ),
    # ---- GeoJSON
    "geojson truncated": (
        "areas",
        "facilities",
        "f.geojson",
        raw(b'{"type": "FeatureCollection", "features": [ {'),
        [],
        ["f.geojson"],
    ),
    "geojson not json": ("areas", "facilities", "f.geojson", text("hello, I am not JSON"), [], ["f.geojson"]),
    "geojson a bare array": ("areas", "facilities", "f.geojson", text("[]"), [], ["f.geojson"]),
    "geojson no features": ("areas", "facilities", "f.geojson", geojson([]), [], ["f.geojson"]),
    "geojson null geometry": (
        "areas",
        "facilities",
        "f.geojson",
        geojson([{**point(LON, LAT), "geometry": None}]),
        [],
        ["f.geojson", "feature 1"],
    ),
    "geojson polygon facilities": (
        "areas",
        "facilities",
        "f.geojson",
        geojson(
            [
                {
                    "type": "Feature",
                    "properties": {"id": "A", "kind": "clinic"},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[LON, LAT], [LON + 1e-3, LAT], [LON, LAT + 1e-3], [LON, LAT]]],
                    },
                }
            ]
        ),
        [],
        ["f.geojson", "feature 1"],
    ),
    "geojson string coordinates": (
        "areas",
        "facilities",
        "f.geojson",
        geojson([point("114.05", "22.54")]),
        [],
        ["f.geojson"],
    ),
    "geojson lon 500": (
        "areas",
        "facilities",
        "f.geojson",
        geojson([point(500.0, LAT)]),
        [],
        ["f.geojson", "feature 1"],
    ),
    "geojson 100k-deep nesting": ("areas", "facilities", "f.geojson", nested_json, [], ["f.geojson"]),
    "geojson unknown kind": (
        "areas",
        "facilities",
        "f.geojson",
        geojson([point(LON, LAT, kind="volcano")]),
        [],
        ["f.geojson", "feature 1", "volcano"],
    ),
    "geojson duplicate ids": (
        "areas",
        "facilities",
        "f.geojson",
        geojson([point(LON, LAT), point(LON + 1e-4, LAT)]),
        [],
        ["f.geojson", "feature 2"],
    ),
    "geojson empty object": ("areas", "facilities", "f.geojson", text("{}"), [], ["f.geojson"]),
    "geojson zero bytes": ("areas", "facilities", "f.geojson", text(""), [], ["f.geojson"]),
    "geojson with a bom": (
        "areas",
        "facilities",
        "f.geojson",
        lambda p: p.write_bytes(
            b"\xef\xbb\xbf" + json.dumps({"type": "FeatureCollection", "features": [point(LON, LAT)]}).encode()
        ),
        [],
        OK,
    ),
    "geojson single feature": ("areas", "facilities", "f.geojson", text(json.dumps(point(LON, LAT))), [], OK),
    "geojson units that are points": (
        "coverage",
        "units",
        "u.geojson",
        geojson([point(LON, LAT)]),
        [],
        ["u.geojson", "feature 1"],
    ),
    "geojson units empty": ("coverage", "units", "u.geojson", geojson([]), [], ["u.geojson"]),
    "geojson demand bow-tie polygon": (
        "coverage",
        "demand",
        "d.geojson",
        geojson(
            [
                {
                    "type": "Feature",
                    "properties": {"id": "D", "population": 10},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[LON, LAT], [LON + 2e-3, LAT + 2e-3], [LON + 2e-3, LAT], [LON, LAT + 2e-3], [LON, LAT]]
                        ],
                    },
                }
            ]
        ),
        [],
        OK,
    ),
    # ---- GPKG
    "gpkg random bytes": ("areas", "facilities", "f.gpkg", raw(b"not a geopackage" * 10), [], ["f.gpkg"]),
    "gpkg empty sqlite": ("areas", "facilities", "f.gpkg", empty_sqlite, [], ["f.gpkg"]),
    "gpkg truncated": ("areas", "facilities", "f.gpkg", gpkg_truncated, [], ["f.gpkg"]),
    "gpkg null geometry": (
        "areas",
        "facilities",
        "f.gpkg",
        gpkg([GOOD_PT, {"id": "B", "kind": "park", "xy": None}]),
        [],
        ["f.gpkg", "feature 2"],
    ),
    "gpkg unknown kind": (
        "areas",
        "facilities",
        "f.gpkg",
        gpkg([{**GOOD_PT, "kind": "volcano"}]),
        [],
        ["f.gpkg", "volcano"],
    ),
    "gpkg in web mercator": (
        "areas",
        "facilities",
        "f.gpkg",
        lambda p: _gdf([GOOD_PT]).to_crs("EPSG:3857").to_file(p, driver="GPKG"),
        [],
        OK,
    ),
    # ---- SHP
    "shp without dbf": ("areas", "facilities", "f.shp", shp([GOOD_PT], drop=(".dbf",)), [], ["f.shp", ".dbf"]),
    "shp without shx": ("areas", "facilities", "f.shp", shp([GOOD_PT], drop=(".shx",)), [], ["f.shp"]),
    "shp garbage": ("areas", "facilities", "f.shp", shp_garbage, [], ["f.shp"]),
    "shp truncated": ("areas", "facilities", "f.shp", shp_truncated, [], ["f.shp"]),
    "shp unknown kind": (
        "areas",
        "facilities",
        "f.shp",
        shp([{**GOOD_PT, "kind": "volcano"}]),
        [],
        ["f.shp", "volcano"],
    ),
    "shp without prj (wgs84 assumed)": ("areas", "facilities", "f.shp", shp([GOOD_PT], drop=(".prj",)), [], OK),
    # ---- networks
    "network random bytes .lcnet": ("areas", "network", "n.lcnet", raw(b"\x00\x01garbage" * 50), [], ["n.lcnet"]),
    "network truncated .lcnet": ("areas", "network", "n.lcnet", "truncated world network", [], ["n.lcnet"]),
    "network graphml garbage": ("areas", "network", "n.graphml", text("<graphml><oops"), [], ["n.graphml"]),
    "network osm malformed xml": ("network", "osm", "n.osm", text("<osm><node id='1' lat='x'"), [], ["n.osm"]),
    "network osm without ways": (
        "network",
        "osm",
        "n.osm",
        text("<?xml version='1.0'?><osm version='0.6'><node id='1' version='1' lat='22.5' lon='114.0'/></osm>"),
        [],
        ["n.osm"],
    ),
    "network osm only motorways": (
        "network",
        "osm",
        "n.osm",
        text(
            "<?xml version='1.0'?><osm version='0.6'><node id='1' version='1' lat='22.5' lon='114.0'/><node id='2' version='1' lat='22.501' lon='114.0'/><way id='9' version='1'><nd ref='1'/><nd ref='2'/><tag k='highway' v='motorway'/></way></osm>"
        ),
        [],
        ["n.osm"],
    ),
    "network unknown extension": ("areas", "network", "n.shp.zip", text("PK"), [], ["n.shp.zip"]),
    "network missing file": ("areas", "network", "gone.lcnet", None, [], ["gone.lcnet"]),
    # ---- hostile paths
    "input is a fifo": (
        "areas",
        "facilities",
        "f.csv",
        lambda p: os.mkfifo(p),
        [],
        ["--facilities", "f.csv", "not a regular file"],
    ),
    "input is /dev/zero": (
        "coverage",
        "demand",
        "zero.csv",
        lambda p: os.symlink("/dev/zero", p),
        [],
        ["--demand", "zero.csv", "not a regular file"],
    ),
    "input is a symlink loop": (
        "areas",
        "facilities",
        "loop.csv",
        lambda p: os.symlink(p, p),
        [],
        ["loop.csv", "symbolic link"],
    ),
    "input is a dangling symlink": (
        "areas",
        "facilities",
        "gone.csv",
        lambda p: os.symlink(p.parent / "nothing.csv", p),
        [],
        ["gone.csv", "nothing.csv"],
    ),
    "input is a symlink to a good file": (
        "areas",
        "facilities",
        "link.csv",
        lambda p: (
            (p.parent / "real.csv").write_text(HEAD + GOOD_ROW, encoding="utf-8"),
            os.symlink(p.parent / "real.csv", p),
        ),
        [],
        OK,
    ),
    "input name with spaces and 中文": ("areas", "facilities", "设施 清单 (v2).csv", text(HEAD + GOOD_ROW), [], OK),
    "csv only an id column": ("areas", "facilities", "f.csv", text("id\nA\nB\n"), [], ["f.csv", "lon"]),
    "xlsx demand": (
        "coverage",
        "demand",
        "d.xlsx",
        xlsx_rows([["编号", "人口", "经度", "纬度"], ["D1", 120, LON, LAT]]),
        [],
        OK,
    ),
    "gpkg demand polygons": ("coverage", "demand", "d.gpkg", lambda p: _polys().to_file(p, driver="GPKG"), [], OK),
    "shp demand polygons": (
        "coverage",
        "demand",
        "d.shp",
        lambda p: _polys().to_file(p, driver="ESRI Shapefile", encoding="utf-8"),
        [],
        OK,
    ),
    "shp with a gbk .cpg": (
        "areas",
        "facilities",
        "f.shp",
        lambda p: _gdf([{**GOOD_PT, "name": "党群服务中心"}]).to_file(p, driver="ESRI Shapefile", encoding="gbk"),
        [],
        OK,
    ),
    "geojson legacy crs member (EPSG:3857)": (
        "areas",
        "facilities",
        "f.geojson",
        geojson([point(12_696_000.0, 2_577_000.0)], crs={"type": "name", "properties": {"name": "EPSG:3857"}}),
        [],
        OK,
    ),
    # ---- evaluate, standards, batch
    "evaluate standard pack not toml": ("evaluate", "standard", "pack.toml", text("[[[ not toml"), [], ["pack.toml"]),
    "evaluate standard pack empty": ("evaluate", "standard", "pack.toml", text(""), [], ["pack.toml"]),
    "evaluate standard pack with unknown kind": (
        "evaluate",
        "standard",
        "pack.toml",
        text('name = "x"\n[[tiers]]\nmetres = 300\nkinds = ["volcano"]\n'),
        [],
        ["pack.toml"],
    ),
    "evaluate missing standard file": ("evaluate", "standard", "gone.toml", None, [], ["gone.toml"]),
    "evaluate facilities garbage": ("evaluate", "facilities", "f.geojson", text("{oops"), [], ["f.geojson"]),
    "evaluate demand negative": (
        "evaluate",
        "demand",
        "d.csv",
        text(f"id,population,lon,lat\nD1,-5,{_at(2, 2)}\n"),
        [],
        ["d.csv", "row 2", "population"],
    ),
    "standards pack not toml": ("standards", "standard", "pack.toml", text("= = ="), [], ["pack.toml"]),
    "batch plan not toml": ("batch", "plan", "plan.toml", text("[[areas]\nname="), [], ["plan.toml"]),
    "batch plan missing": ("batch", "plan", "plan.toml", None, [], ["plan.toml"]),
    "batch plan without areas": ("batch", "plan", "plan.toml", text('[defaults]\ntiers = "300"\n'), [], ["plan.toml"]),
    # ---- project files (serve)
    "project missing": ("serve", "project", "p.toml", None, [], ["p.toml"]),
    "project invalid toml": ("serve", "project", "p.toml", text("title = \n[[["), [], ["p.toml"]),
    "project names a missing file": (
        "serve",
        "project",
        "p.toml",
        text('title = "x"\nnetwork = "gone.lcnet"\nfacilities = "f.csv"\ndemand = "d.csv"\n'),
        [],
        ["gone.lcnet"],
    ),
}


def _truncated_lcnet(world: World):
    def build(path: Path) -> None:
        path.write_bytes(world.network.read_bytes()[:500])

    return build


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_or_awkward_file(case, world, tmp_path, capsys):
    command, role, name, build, extra, expect = CASES[case]
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / name
    if build == "truncated world network":
        build = _truncated_lcnet(world)
    if build is not None:
        build(path)
    run_clean(world, tmp_path, capsys, command, {role: path}, extra, expect)
