"""The command line never loses data: options checked first, outputs all or none, clean failures.

Options out of range and outputs that collide with inputs (or each other) are refused before
any work, exit 2, one message naming the option(s); write failures of every kind name the file;
SIGTERM, SIGHUP and SIGINT remove temporary files; a SIGKILLed run's temporary file is never
taken for output and is removed by the next run; two processes building the same network cache
both succeed.  Each case asserts the exit code, the message and the files before and after.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from apps import cli
from tests.robustness_world import World, build_world, snapshot

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("world"))


def command(name: str, world: World, inputs: str, out, *extra, settings=(), **given) -> list:
    """``name --<input> <file>`` for each of ``inputs`` (the world's file unless ``given``), ``settings``, ``--out``."""
    args = [name]
    for key in inputs.split():
        args += [f"--{key}", given[key] if key in given else getattr(world, key)]
    return [*args, *settings, "--out", out, *extra]


def areas(world: World, out, *extra) -> list:
    return command("areas", world, "network facilities", out, *extra, settings=("--tiers", "300"))


def coverage(world: World, out, *extra) -> list:
    return command("coverage", world, "network facilities demand", out, *extra)


def site(world: World, out, *extra) -> list:
    settings = ("--radius", "300", "--method", "greedy")
    return command("site", world, "network facilities candidates demand", out, *extra, settings=settings)


def parking(world: World, out, *extra) -> list:
    return command("parking", world, "network lots residences", out, *extra)


def run(args: list, capsys) -> tuple[int, str]:
    code = cli.main([str(a) for a in args])
    _, err = capsys.readouterr()
    return code, err


def assert_refused(code: int, err: str, words, folder: Path, before: dict, world: World, world_before: dict) -> None:
    assert code == 2, (code, err)
    assert "Traceback" not in err and "internal error" not in err and err.count("error:") == 1, err
    for word in words:
        assert word.lower() in err.lower(), (word, err)
    assert snapshot(folder) == before, "files changed in the output folder"
    assert world.snapshot() == world_before, "an input file changed"
    assert not list(folder.rglob("*.lctmp")), "a temporary file was left behind"


# ------------------------------------------------------------------ options
OPTION_CASES = {
    # name: (command builder, extra args, words)
    "--speed 0": (areas, ["--tiers", "5", "--speed", "0"], ["--speed", "positive"]),
    "--speed negative": (areas, ["--tiers", "5", "--speed", "-50"], ["--speed"]),
    "--speed nan": (coverage, ["--tiers", "5", "--speed", "nan"], ["--speed"]),
    "--snap-limit negative": (areas, ["--snap-limit", "-1"], ["--snap-limit"]),
    "--snap-limit negative (coverage)": (coverage, ["--snap-limit", "-10"], ["--snap-limit"]),
    "--snap-limit negative (site)": (site, ["--add", "1", "--snap-limit", "-10"], ["--snap-limit"]),
    "--snap-limit negative (parking)": (parking, ["--snap-limit", "-10"], ["--snap-limit"]),
    "--buffer 0": (areas, ["--buffer", "0"], ["--buffer", "50"]),
    "--buffer 60": (areas, ["--buffer", "60"], ["--buffer", "50"]),
    "--buffer negative": (areas, ["--buffer", "-5"], ["--buffer"]),
    "--buffer inf": (areas, ["--buffer", "inf"], ["--buffer"]),
    "--kinds ,,,": (areas, ["--kinds", ",,,"], ["--kinds"]),
    "--kinds ,,, (coverage)": (coverage, ["--kinds", ",,,"], ["--kinds"]),
    "--gap-tier not a tier": (
        coverage,
        ["--tiers", "300,1000", "--gaps", "GAPS", "--gap-tier", "5000"],
        ["--gap-tier", "5000", "300", "1000"],
    ),
    "--gap-kind absent": (coverage, ["--gaps", "GAPS", "--gap-kind", "library"], ["--gap-kind", "library"]),
    "--tiers text": (areas, ["--tiers", "abc"], ["--tiers", "abc"]),
    "--tiers zero": (areas, ["--tiers", "0"], ["--tiers"]),
    "--tiers negative": (areas, ["--tiers=-300"], ["--tiers"]),
    "--tiers empty": (areas, ["--tiers", ","], ["--tiers"]),
    "--crs unknown": (areas, ["--crs", "mars"], ["mars", "gcj02"]),
    "--radius 0": (site, ["--add", "1", "--radius", "0"], ["--radius"]),
    "--add 0": (site, ["--add", "0"], ["--add 0", "nothing to add"]),
    "--add negative": (site, ["--add", "-2"], ["--add"]),
    "--add more than candidates": (site, ["--add", "50"], ["--add 50", "10 candidate"]),
    "--add with --lscp": (site, ["--add", "1", "--lscp"], ["--lscp", "--add"]),
    "--time-limit 0": (site, ["--add", "1", "--time-limit", "0"], ["--time-limit"]),
    "--capacity negative": (site, ["--add", "1", "--capacity", "-5"], ["--capacity"]),
    "--candidate-spacing 0": (site, ["--add", "1", "--candidate-spacing", "0"], ["--candidate-spacing"]),
    "--candidate-min-distance negative": (
        site,
        ["--add", "1", "--candidate-min-distance", "-1"],
        ["--candidate-min-distance"],
    ),
    "--station-kinds unknown": (site, ["--add", "1", "--station-kinds", "volcano"], ["--station-kinds", "volcano"]),
    "--max-walk 0": (parking, ["--max-walk", "0"], ["--max-walk"]),
    "--fairness 1.5": (parking, ["--fairness", "1.5"], ["--fairness"]),
    "--price-limit negative": (parking, ["--price-limit", "-1"], ["--price-limit"]),
    "--lot-cap negative": (parking, ["--lot-cap", "-1"], ["--lot-cap"]),
    "--window unreadable": (parking, ["--window", "25:00-99:00"], ["--window"]),
    "--time-limit 0 (parking)": (parking, ["--time-limit", "0"], ["--time-limit"]),
    "--out suffix": (lambda w, out, *e: areas(w, out.with_suffix(".txt"), *e), [], ["--out", ".geojson"]),
    "--out folder missing": (
        lambda w, out, *e: areas(w, out.parent / "nowhere" / "a.geojson", *e),
        [],
        ["--out", "does not exist"],
    ),
    "--summary suffix": (coverage, ["--summary", "SUMMARY.txt"], ["--summary", ".json"]),
    "--table-out suffix": (parking, ["--table-out", "TABLE.pdf"], ["--table-out", ".csv", ".xlsx"]),
}


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_bad_option_is_refused_before_any_work(case, world, tmp_path, capsys):
    build, extra, words = OPTION_CASES[case]
    out = tmp_path / "out.geojson"
    extra = [
        str(tmp_path / "gaps.geojson")
        if a == "GAPS"
        else str(tmp_path / "s.txt")
        if a == "SUMMARY.txt"
        else str(tmp_path / "t.pdf")
        if a == "TABLE.pdf"
        else a
        for a in extra
    ]
    before, world_before = snapshot(tmp_path), world.snapshot()
    code, err = run(build(world, out, *extra), capsys)
    assert_refused(code, err, words, tmp_path, before, world, world_before)
    assert "building" not in err and "service areas:" not in err  # refused before any work


def test_speed_with_minutes_still_works(world, tmp_path, capsys):
    out = tmp_path / "a.geojson"
    code, err = run(
        command("areas", world, "network facilities", out, settings=("--tiers", "6", "--speed", "50")),
        capsys,
    )
    assert code == 0, err
    import json

    assert json.loads(out.read_text(encoding="utf-8"))["lifecircle"]["tiers_m"] == [300.0]


def test_network_help_lists_only_its_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["network", "--help"])
    text = capsys.readouterr().out
    for used in ("--place", "--bbox", "--osm", "--out", "--demo", "--quiet"):
        assert used in text
    for unused in ("--crs", "--out-crs", "--tiers", "--snap-limit", "--facilities"):
        assert unused not in text


def test_defaults_come_from_settings():
    from geo import settings

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    defaults = {name: {a.dest: a.default for a in p._actions} for name, p in sub.items()}
    assert defaults["areas"]["snap_limit"] == settings.DEFAULT_SNAP_LIMIT_M
    assert defaults["areas"]["buffer"] == settings.DEFAULT_BUFFER_M
    assert defaults["site"]["radius"] == settings.DEFAULT_RADIUS_M
    assert defaults["site"]["time_limit"] == settings.DEFAULT_TIME_LIMIT_S
    assert defaults["site"]["candidate_min_distance"] == settings.DEFAULT_CANDIDATE_MIN_DISTANCE_M
    assert defaults["site"]["station_kinds"] == settings.DEFAULT_STATION_KINDS
    assert defaults["parking"]["max_walk"] == settings.DEFAULT_MAX_WALK_M
    assert defaults["parking"]["fairness"] == settings.DEFAULT_FAIRNESS
    assert defaults["coverage"]["snap_limit"] == defaults["parking"]["snap_limit"] == settings.DEFAULT_SNAP_LIMIT_M
    assert defaults["demo"]["port"] == defaults["serve"]["port"] == settings.DEFAULT_PORT
    assert defaults["serve"]["host"] == settings.DEFAULT_HOST


# ---------------------------------------------------------------- collisions
def _geojson_facilities(world: World, folder: Path, name: str = "facilities.geojson") -> Path:
    path = folder / name
    shutil.copy(world.formats["geojson"], path)
    return path


def _out_linked_to_facilities(link, world: World, folder: Path, name: str) -> list:
    """``areas`` whose --out is ``name``, made by ``link`` to the --facilities file."""
    link(_geojson_facilities(world, folder), folder / name)
    return command("areas", world, "network facilities", folder / name, facilities=folder / "facilities.geojson")


COLLISIONS = {
    # name: (args builder (world, folder) -> args, the two options named)
    "areas --out is --facilities": (
        lambda w, d: command(
            "areas", w, "network facilities", d / "facilities.geojson", facilities=_geojson_facilities(w, d)
        ),
        ["--out", "--facilities"],
    ),
    "areas --out (gcj02 name) is --facilities": (
        lambda w, d: command(
            "areas",
            w,
            "network facilities",
            d / "f.geojson",
            "--out-crs",
            "gcj02",
            facilities=_geojson_facilities(w, d, "f.gcj02.geojson"),
        ),
        ["--out", "--facilities"],
    ),
    "areas --out via a symlink to --facilities": (
        lambda w, d: _out_linked_to_facilities(os.symlink, w, d, "link.geojson"),
        ["--out", "--facilities"],
    ),
    "areas --out via a hard link to --facilities": (
        lambda w, d: _out_linked_to_facilities(os.link, w, d, "hard.geojson"),
        ["--out", "--facilities"],
    ),
    "areas --out spelled differently": (
        lambda w, d: (
            command(
                "areas",
                w,
                "network facilities",
                d / "sub" / ".." / "facilities.geojson",
                facilities=_geojson_facilities(w, d),
            )
            if (d / "sub").mkdir() is None
            else []
        ),
        ["--out", "--facilities"],
    ),
    "coverage --gaps is --out": (
        lambda w, d: coverage(w, d / "same.geojson", "--gaps", d / "same.geojson"),
        ["--out", "--gaps"],
    ),
    "coverage --summary is --out": (
        lambda w, d: coverage(w, d / "same.json", "--summary", d / "same.json"),
        ["--out", "--summary"],
    ),
    "coverage --out is --units": (
        lambda w, d: coverage(w, Path(shutil.copy(w.units, d / "units.geojson")), "--units", d / "units.geojson"),
        ["--out", "--units"],
    ),
    "coverage --out is --demand": (
        lambda w, d: command(
            "coverage",
            w,
            "network facilities demand",
            d / "d.geojson",
            demand=Path(shutil.copy(w.units, d / "d.geojson")),
        ),
        ["--out", "--demand"],
    ),
    "site --summary is --out": (
        lambda w, d: site(w, d / "s.json", "--add", "1", "--summary", d / "s.json"),
        ["--out", "--summary"],
    ),
    "site --out is --candidates": (
        lambda w, d: command(
            "site",
            w,
            "network facilities demand",
            d / "c.geojson",
            settings=("--add", "1", "--candidates", Path(shutil.copy(w.formats["geojson"], d / "c.geojson"))),
        ),
        ["--out", "--candidates"],
    ),
    "parking --summary is --out": (
        lambda w, d: parking(w, d / "m.json", "--summary", d / "m.json"),
        ["--out", "--summary"],
    ),
    "parking --table-out is --lots": (
        lambda w, d: command(
            "parking",
            w,
            "network residences",
            d / "m.geojson",
            "--lots",
            Path(shutil.copy(w.lots, d / "lots.csv")),
            "--table-out",
            d / "lots.csv",
        ),
        ["--table-out", "--lots"],
    ),
    "parking --table-out companion is --lots": (
        lambda w, d: command(
            "parking",
            w,
            "network residences",
            d / "m.geojson",
            "--lots",
            Path(shutil.copy(w.lots, d / "t_lots.csv")),
            "--table-out",
            d / "t.csv",
        ),
        ["--table-out", "--lots"],
    ),
    "parking --tables folder holds --lots": (
        lambda w, d: command(
            "parking",
            w,
            "network residences",
            d / "m.geojson",
            "--lots",
            Path(shutil.copy(w.lots, d / "lots.csv")),
            "--tables",
            d,
        ),
        ["--tables", "--lots"],
    ),
    "parking --tables and --table-out name the same file": (
        lambda w, d: parking(w, d / "m.geojson", "--tables", d, "--table-out", d / "pairs.csv"),
        ["--tables", "--table-out"],
    ),
    "evaluate --out is one of the --facilities": (
        lambda w, d: command(
            "evaluate",
            w,
            "network demand facilities",
            d / "facilities.geojson",
            settings=("--facilities", _geojson_facilities(w, d)),
        ),
        ["--out", "--facilities"],
    ),
    "evaluate --ledger is --out": (
        lambda w, d: command("evaluate", w, "network demand facilities", d / "e.geojson", "--ledger", d / "e.geojson"),
        ["--out", "--ledger"],
    ),
    "evaluate --report is --demand": (
        lambda w, d: command(
            "evaluate",
            w,
            "network facilities demand",
            d / "e.geojson",
            "--report",
            d / "d.html",
            demand=Path(shutil.copy(w.demand, d / "d.html")),
        ),
        ["--report", "--demand"],
    ),
    "network --out is --osm (a .lcnet)": (
        lambda w, d: ["network", "--osm", Path(shutil.copy(w.network, d / "n.lcnet")), "--out", d / "n.lcnet"],
        ["--out", "--osm"],
    ),
}


@pytest.mark.parametrize("case", sorted(COLLISIONS))
def test_output_colliding_with_an_input_or_another_output(case, world, tmp_path, capsys):
    build, options = COLLISIONS[case]
    args = build(world, tmp_path)
    before, world_before = snapshot(tmp_path), world.snapshot()
    code, err = run(args, capsys)
    assert_refused(code, err, options, tmp_path, before, world, world_before)
    assert "service areas:" not in err and "building" not in err


# ------------------------------------------------------------ write failures
@contextlib.contextmanager
def immutable(path: Path):
    """chattr +i for the block (root cannot write into an immutable folder either)."""
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_output_is_a_directory(world, tmp_path, capsys):
    (tmp_path / "cov.geojson").mkdir()
    before, wb = snapshot(tmp_path), world.snapshot()
    code, err = run(coverage(world, tmp_path / "cov.geojson"), capsys)
    assert_refused(code, err, ["--out", "cov.geojson", "folder"], tmp_path, before, world, wb)


def test_second_output_is_a_directory_nothing_written(world, tmp_path, capsys):
    (tmp_path / "s.json").mkdir()
    before, wb = snapshot(tmp_path), world.snapshot()
    code, err = run(coverage(world, tmp_path / "c.geojson", "--summary", tmp_path / "s.json"), capsys)
    assert_refused(code, err, ["--summary", "s.json", "folder"], tmp_path, before, world, wb)
    assert not (tmp_path / "c.geojson").exists()


def test_device_as_output_is_refused(world, tmp_path, capsys):
    before, wb = snapshot(tmp_path), world.snapshot()
    code, err = run(areas(world, "/dev/full"), capsys)
    assert code == 2 and "/dev/full" in err and "regular file" in err and "Traceback" not in err, err
    assert snapshot(tmp_path) == before and world.snapshot() == wb
    assert Path("/dev/full").is_char_device()


def test_immutable_folder(world, tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    before, wb = snapshot(tmp_path), world.snapshot()
    with immutable(folder):
        code, err = run(coverage(world, folder / "c.geojson", "--summary", folder / "s.json"), capsys)
        assert_refused(code, err, ["cannot write", "c.geojson", "not permitted"], tmp_path, before, world, wb)
        assert list(folder.iterdir()) == []


def test_later_output_fails_earlier_outputs_are_not_left(world, tmp_path, capsys):
    """--summary goes into an immutable folder: the coverage GeoJSON written first is taken back."""
    locked = tmp_path / "locked"
    locked.mkdir()
    before, wb = snapshot(tmp_path), world.snapshot()
    with immutable(locked):
        code, err = run(
            coverage(world, tmp_path / "c.geojson", "--gaps", tmp_path / "g.geojson", "--summary", locked / "s.json"),
            capsys,
        )
    assert_refused(code, err, ["s.json"], tmp_path, before, world, wb)
    assert not (tmp_path / "c.geojson").exists() and not (tmp_path / "g.geojson").exists()


def test_existing_immutable_output_keeps_every_old_file(world, tmp_path, capsys):
    """Rerun over last week's outputs, one of them immutable: every old file stays as it was."""
    out, summary = tmp_path / "c.geojson", tmp_path / "s.json"
    out.write_text("old coverage", encoding="utf-8")
    summary.write_text("old summary", encoding="utf-8")
    before, wb = snapshot(tmp_path), world.snapshot()
    with immutable(summary):
        code, err = run(coverage(world, out, "--summary", summary), capsys)
    assert_refused(code, err, ["s.json"], tmp_path, before, world, wb)
    assert out.read_text(encoding="utf-8") == "old coverage"


def test_parking_tables_all_or_none(world, tmp_path, capsys):
    """--table-out .csv writes three files; the third is blocked: none of the outputs appear."""
    blocker = tmp_path / "t_pairs.csv"
    blocker.write_text("keep me", encoding="utf-8")
    before, wb = snapshot(tmp_path), world.snapshot()
    with immutable(blocker):
        code, err = run(
            parking(world, tmp_path / "m.geojson", "--summary", tmp_path / "m.json", "--table-out", tmp_path / "t.csv"),
            capsys,
        )
    assert_refused(code, err, ["t_pairs.csv"], tmp_path, before, world, wb)
    assert blocker.read_text(encoding="utf-8") == "keep me"


def test_parking_tables_folder_is_not_left_behind(world, tmp_path, capsys):
    out = tmp_path / "locked"
    out.mkdir()
    before, wb = snapshot(tmp_path), world.snapshot()
    with immutable(out):
        code, err = run(
            parking(world, tmp_path / "m.geojson", "--tables", tmp_path / "tables", "--summary", out / "m.json"), capsys
        )
    assert_refused(code, err, ["m.json"], tmp_path, before, world, wb)
    assert not (tmp_path / "tables").exists()


@pytest.mark.parametrize("name", ["a" * (255 - len(".geojson")) + ".geojson", "长" * 82 + ".geojson"])
def test_longest_valid_name_works(world, tmp_path, capsys, name):
    assert len(name.encode()) <= 255
    code, err = run(areas(world, tmp_path / name), capsys)
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_name_over_the_limit_is_refused_before_work(world, tmp_path, capsys):
    name = "a" * 250 + ".geojson"
    before, wb = snapshot(tmp_path), world.snapshot()
    code, err = run(areas(world, tmp_path / name), capsys)
    assert_refused(code, err, ["--out", "255 bytes"], tmp_path, before, world, wb)


def _subprocess(args: list, *, env=None, preexec=None, timeout=120, stdout=subprocess.PIPE, **kw):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "lifecircle", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=preexec,
        timeout=timeout,
        cwd=REPO,
        **kw,
    )


def test_full_disk(world, tmp_path):
    """A file-size limit makes the write fail as a full disk does: one message naming the file."""

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    before, wb = snapshot(tmp_path), world.snapshot()
    proc = _subprocess(coverage(world, tmp_path / "c.geojson", "--summary", tmp_path / "s.json", "-q"), preexec=limit)
    assert proc.returncode == 2, proc.stderr
    assert "c.geojson" in proc.stderr and ("disk is full" in proc.stderr or "larger than" in proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(tmp_path) == before and world.snapshot() == wb


def test_no_permission(world, tmp_path, capsys):
    """As an ordinary user writing into a folder that is not theirs: one message naming the file."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as the nobody user")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="lc-perm-"))
    try:
        base.chmod(0o755)
        inputs = base / "in"
        shutil.copytree(world.dir, inputs)
        for p in [inputs, *inputs.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        theirs = base / "theirs"
        theirs.mkdir(mode=0o755)
        args = [
            "areas",
            "--network",
            inputs / "grid.lcnet",
            "--facilities",
            inputs / "facilities.csv",
            "--tiers",
            "300",
            "--out",
            theirs / "a.geojson",
        ]
        assert run(args[:-1] + [base / "warm.geojson"], capsys)[0] == 0  # every module imported as root first
        (base / "warm.geojson").unlink()
        before = snapshot(base)
        os.seteuid(65534)
        try:
            code, err = run(args, capsys)
        finally:
            os.seteuid(0)
        assert code == 2, err
        assert "a.geojson" in err and "permission denied" in err.lower() and "Traceback" not in err, err
        assert list(theirs.iterdir()) == [] and snapshot(base) == before
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------ signals
SLOW_WRITER = textwrap.dedent("""
    import contextlib, sys, time
    from lifecircle.geo import atomic, io
    from lifecircle.geo.io import writers
    real = atomic.atomic_path

    @contextlib.contextmanager
    def slow(path):
        with real(path) as tmp:
            yield tmp
            print("WRITING", tmp, flush=True)
            time.sleep(60)

    for module in (atomic, io, writers):
        module.atomic_path = slow
    from lifecircle.apps.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _start_slow(args: list, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    script = tmp_path.parent / f"{tmp_path.name}_slow.py"
    script.write_text(SLOW_WRITER, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    line = proc.stdout.readline()
    assert line.startswith("WRITING"), (line, proc.stderr.read() if proc.poll() is not None else "")
    tmp = Path(line.split(" ", 1)[1].strip())
    assert tmp.exists() and tmp.name.endswith(".lctmp") and tmp.name.startswith(".")
    return proc, tmp


@pytest.mark.parametrize(
    "sig, code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGHUP, 128 + signal.SIGHUP), (signal.SIGINT, 130)]
)
def test_signal_mid_write_leaves_nothing(world, tmp_path, sig, code):
    out, summary = tmp_path / "c.geojson", tmp_path / "s.json"
    before, wb = snapshot(tmp_path), world.snapshot()
    proc, tmp = _start_slow(coverage(world, out, "--summary", summary, "-q"), tmp_path)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "no output written" in err, err
    assert snapshot(tmp_path) == before and world.snapshot() == wb
    assert not tmp.exists()


def test_sigkill_leaves_a_stale_temp_the_next_run_removes(world, tmp_path, capsys):
    out = tmp_path / "a.geojson"
    proc, tmp = _start_slow(areas(world, out, "-q"), tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert tmp.exists() and not out.exists()  # never mistaken for output: hidden, ends in .lctmp
    assert not list(tmp_path.glob("*.geojson"))
    code, err = run(areas(world, out), capsys)
    assert code == 0, err
    assert not tmp.exists() and [p.name for p in tmp_path.iterdir()] == ["a.geojson"]


def test_stale_temp_of_a_live_process_is_left_alone(world, tmp_path, capsys):
    from geo.atomic import temp_name

    out = tmp_path / "a.geojson"
    live = temp_name(out).name.replace(f".{os.getpid()}-", f".{os.getppid()}-")  # our parent: alive
    (tmp_path / live).write_text("someone else's write in progress", encoding="utf-8")
    code, err = run(areas(world, out), capsys)
    assert code == 0, err
    assert (tmp_path / live).exists() and out.exists()


# -------------------------------------------------------------------- cache
def test_two_processes_build_the_same_cache(world, tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "LIFECIRCLE_CACHE": str(cache), "PYTHONDONTWRITEBYTECODE": "1"}
    procs = []
    for k in range(2):
        out = tmp_path / f"a{k}.geojson"
        args = command("areas", world, "network facilities", out, "-q", settings=("--tiers", "300"), network=world.osm)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "lifecircle", *map(str, args)],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err
    a0, a1 = ((tmp_path / f"a{k}.geojson").read_text(encoding="utf-8") for k in range(2))
    assert a0 == a1
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert [p.suffix for p in files] == [".lcnet"], files  # one cache file, no temporary left
    from geo import network

    assert network.load_network(files[0]).n_nodes == network.load_network(world.network).n_nodes
