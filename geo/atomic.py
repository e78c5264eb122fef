"""Atomic writes: a file appears complete or not at all, and several files appear together or not.

Every writer of lifecircle goes through :func:`atomic_path`: it yields a temporary name beside
the final file, and renames it over the final name only when the writing succeeded.  The
temporary name

* is hidden and ends in ``.lctmp`` (``.areas.geojson.4711-9f3a0c.lctmp``), so no glob for
  ``*.geojson`` or ``*.csv`` can take it for output;
* carries the writing process's id, so a later run that writes the same file removes the stale
  temporary files of runs that were killed (SIGKILL, power loss) and leaves those of a live
  process alone;
* never exceeds the file system's 255-byte name limit: a valid long final name keeps working
  (the final name's part inside the temporary name is shortened instead).

:func:`all_or_none` groups writes: inside it, :func:`atomic_path` keeps every finished
temporary file and the renames happen together when the block ends; an error (or a signal that
raises, as the command line arranges for SIGINT, SIGTERM and SIGHUP) removes them all, so a
command with several outputs writes all of them or none.

Failures to write raise :class:`OutputError` (a :class:`~geo.errors.LifecircleError`) naming
the file and what the system said, never a bare ``OSError``.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputError

__all__ = [
    "OutputError",
    "atomic_path",
    "all_or_none",
    "temp_name",
    "remove_stale",
    "pid_alive",
    "TEMP_SUFFIX",
    "MAX_NAME_BYTES",
]

#: Ending of every temporary file lifecircle writes.
TEMP_SUFFIX = ".lctmp"
#: Longest file name (bytes) the common file systems accept (ext4, xfs, btrfs, APFS, NTFS in UTF-16 units).
MAX_NAME_BYTES = 255

_STAGED: contextvars.ContextVar[list | None] = contextvars.ContextVar("lifecircle_staged_writes", default=None)


_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EFBIG: "the file is larger than this system allows (disk full or file size limit)",
    errno.EACCES: "permission denied (the folder or file is not writable by you)",
    errno.EPERM: "operation not permitted (the folder or file is read-only or immutable)",
    errno.EROFS: "the file system is read-only",
    errno.EISDIR: "a folder of that name is in the way",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENAMETOOLONG: "the file name is too long for this file system",
    errno.ENOENT: "the folder does not exist",
}


def describe(exc: OSError) -> str:
    """A short, planner-readable reason for an ``OSError``."""
    reason = _REASONS.get(exc.errno) if exc.errno is not None else None
    return reason or exc.strerror or str(exc)


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (this process included); a temp file of a dead one is stale."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clip(text: str, budget: int) -> str:
    """``text`` shortened to at most ``budget`` UTF-8 bytes, on a character boundary."""
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) <= budget:
        return text
    return raw[: max(budget, 0)].decode("utf-8", "ignore")


def _prefix(final: Path) -> str:
    """The part of a temporary name before the process id: ``.<final name, shortened>.``."""
    tag_bytes = len(f".{'9' * 10}-{'f' * 6}{TEMP_SUFFIX}")
    return "." + _clip(final.name, MAX_NAME_BYTES - 1 - tag_bytes)


def temp_name(final: str | os.PathLike) -> Path:
    """A fresh temporary name beside ``final`` (at most 255 bytes, hidden, ending in ``.lctmp``)."""
    final = Path(final)
    return final.with_name(f"{_prefix(final)}.{os.getpid()}-{secrets.token_hex(3)}{TEMP_SUFFIX}")


def remove_stale(final: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of dead processes that were writing ``final``; return them."""
    final = Path(final)
    folder = final.parent if str(final.parent) else Path(".")
    pattern = re.compile(re.escape(_prefix(final)) + r"\.(\d+)-[0-9a-f]{6}" + re.escape(TEMP_SUFFIX) + "$")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if m and not pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _check_target(final: Path) -> None:
    if final.is_dir():
        raise OutputError(final, "a folder of that name is in the way; give a file name")
    if final.exists() and not final.is_file():
        raise OutputError(final, "it exists and is not a regular file (a device or a pipe); give a file name")
    if len(final.name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise OutputError(final, f"the file name is longer than {MAX_NAME_BYTES} bytes")


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    The temporary file is removed on any exception (signals the command line turns into
    exceptions included), leaving nothing half-written; stale temporary files of killed runs
    writing the same file are removed first.  The parent folder is created when missing.
    Inside :func:`all_or_none` the rename waits for the end of that block.

    Parameters
    ----------
    path
        The final file.

    Yields
    ------
    pathlib.Path
        Where to write (the final name is not the temporary name's ending: writers that pick
        a format from the extension must be told the format).

    Raises
    ------
    OutputError
        When the folder or file cannot be written (full disk, no permission, read-only,
        a folder in the way, a name too long).
    """
    final = Path(path)
    _check_target(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(final, f"cannot create its folder {final.parent}: {describe(exc)}") from None
    remove_stale(final)
    tmp = temp_name(final)
    staged = _STAGED.get()
    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(final, "the writer produced no file")
        if staged is None:
            os.replace(tmp, final)
        else:
            staged.append((tmp, final))
    except OSError as exc:
        _unlink(tmp)
        raise OutputError(final, describe(exc)) from None
    except BaseException:
        _unlink(tmp)
        raise


@contextlib.contextmanager
def all_or_none() -> Iterator[list[tuple[Path, Path]]]:
    """Group writes: every :func:`atomic_path` inside appears when the block ends, or none does.

    Yields
    ------
    list of (temporary, final) paths
        The writes staged so far (read-only for the caller).

    Examples
    --------
    >>> with all_or_none():                                   # doctest: +SKIP
    ...     write_geojson(areas, "areas.geojson")
    ...     write_json(summary, "summary.json")               # fails -> areas.geojson not written
    """
    outer = _STAGED.get()
    if outer is not None:  # nested: the outermost block decides
        yield outer
        return
    staged: list[tuple[Path, Path]] = []
    token = _STAGED.set(staged)
    try:
        yield staged
    except BaseException:
        for tmp, _ in staged:
            _unlink(tmp)
        raise
    finally:
        _STAGED.reset(token)
    _commit(staged)


def _backup(final: Path) -> Path | None:
    """A hard link (or copy) of an existing ``final``, to put back if a later rename fails."""
    if not final.exists():
        return None
    bak = temp_name(final)
    try:
        os.link(final, bak)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES, errno.EROFS):  # an immutable or read-only file
            raise
        import shutil

        shutil.copy2(final, bak)
    return bak


def _commit(staged: list[tuple[Path, Path]]) -> None:
    """Rename every staged file over its final name; on any failure put the old files back."""
    backups: list[Path | None] = []
    done: list[int] = []
    try:
        for _, final in staged:  # first make sure every existing final can be replaced
            try:
                backups.append(_backup(final))
            except OSError as exc:
                raise OutputError(final, describe(exc)) from None
        for i, (tmp, final) in enumerate(staged):
            try:
                os.replace(tmp, final)
            except OSError as exc:
                raise OutputError(final, describe(exc)) from None
            done.append(i)
    except BaseException:
        for i in reversed(done):  # take back what was renamed: the old file, or nothing
            _, final = staged[i]
            bak = backups[i]
            if bak is not None:
                with contextlib.suppress(OSError):
                    os.replace(bak, final)
            else:
                _unlink(final)
        for tmp, _ in staged:
            _unlink(tmp)
        for bak in backups:
            if bak is not None:
                _unlink(bak)
        raise
    for bak in backups:
        if bak is not None:
            _unlink(bak)
