"""Checks every command gets before any work: no output may overwrite an input or another output."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .base import UsageError

__all__ = ["check_collisions", "effective_outputs"]

#: Output options written as GeoJSON (``--out-crs gcj02`` inserts ".gcj02" into their names).
_GEOJSON_OUTPUTS = ("out", "gaps")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    if os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b)):
        return True
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def effective_outputs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(option, file) for every file the command will write, with the names the writers use."""
    found: list[tuple[str, Path]] = []
    gcj = getattr(args, "out_crs", "wgs84") == "gcj02"
    for name in getattr(args, "outputs", ()):
        value = getattr(args, name, None)
        if not value:
            continue
        path = Path(value)
        if gcj and name in _GEOJSON_OUTPUTS and path.suffix.lower() in (".geojson", ".json"):
            from lifecircle.geo.io import output_path  # the writer's own naming rule

            path = output_path(path, "gcj02")
        found.append((_option(name), path))
    extra = getattr(args, "extra_outputs", None)
    if extra is not None:
        found.extend(extra(args))
    return found


def check_collisions(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output that is an input or that another output also names."""
    from lifecircle.geo.atomic import MAX_NAME_BYTES

    outputs = effective_outputs(args)
    _check_inputs(args)
    for opt, path in outputs:
        if len(path.name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise UsageError(
                f"{opt} {path}: the file name is longer than {MAX_NAME_BYTES} bytes, the file system's limit"
            )
    inputs = _input_paths(args)
    for i, (opt, path) in enumerate(outputs):
        for in_opt, in_path in inputs:
            if _same(path, in_path):
                raise UsageError(
                    f"{opt} {path} is the {in_opt} input file: refusing to overwrite an input; "
                    f"give {opt} another file name"
                )
            companions = _companions(in_path)
            if any(_same(path, c) for c in companions):
                raise UsageError(
                    f"{opt} {path} is part of the {in_opt} input ({in_path.name}): refusing to overwrite an input; "
                    f"give {opt} another file name"
                )
        for other_opt, other in outputs[:i]:
            if _same(path, other):
                raise UsageError(f"{other_opt} and {opt} both name {path}: give each output its own file name")


def _input_paths(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(option, file) of every input named on the command line (options given several times included)."""
    found = []
    for name in getattr(args, "inputs", ()):
        value = getattr(args, name, None)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item:
                found.append((_option(name), Path(item)))
    return found


def _check_inputs(args: argparse.Namespace) -> None:
    """An input that is a device or a pipe (``/dev/zero``, a FIFO) would be read forever: refuse it."""
    for option, path in _input_paths(args):
        try:
            odd = path.exists() and not path.is_file() and not path.is_dir()
        except OSError:  # a symlink loop, a name too long: the reader says so with the file's name
            continue
        if odd:
            raise UsageError(f"{option} {path}: this is not a regular file (a device or a pipe); give a data file")


def _companions(path: Path) -> list[Path]:
    """A shapefile's .dbf/.shx/.prj/.cpg beside it (an output must not replace them either)."""
    if path.suffix.lower() != ".shp":
        return []
    return [path.with_suffix(ext) for ext in (".dbf", ".shx", ".prj", ".cpg", ".DBF", ".SHX", ".PRJ", ".CPG")]
