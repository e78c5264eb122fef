"""Files uploaded in the page: read exactly as the command line reads them (:mod:`geo.io`).

The bytes are written under the file's own name in a private temporary folder and read with
:func:`geo.io.read_points`, so a bad file gives the command line's message (file, row and
column), naming the file as the planner called it.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import geopandas as gpd

from lifecircle.geo import io as gio
from lifecircle.geo.errors import InputError

__all__ = ["read_upload", "MAX_UPLOAD_BYTES", "ROLES"]

#: Roles an uploaded file may have.
ROLES = ("candidates", "facilities")
#: Largest upload read (bytes).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_SUFFIXES = (".csv", ".xlsx", ".xls", ".geojson", ".json", ".txt")


def _safe_name(name: str) -> str:
    base = Path(str(name).replace("\\", "/")).name.strip() or "upload.csv"
    base = re.sub(r"[\x00-\x1f/]", "_", base)[:120]
    return base


def read_upload(data: bytes, name: str, role: str, ws, *, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """Read an uploaded candidate-sites or facilities file.

    Parameters
    ----------
    data, name
        The file's bytes and its name as uploaded.
    role
        ``"candidates"`` or ``"facilities"``.
    ws
        The workspace (its kinds for facilities).
    crs
        Coordinates of a table (``wgs84``, ``gcj02``, ``bd09``).

    Raises
    ------
    InputError
        Anything wrong with the file, naming it, the row and the column.
    """
    if role not in ROLES:
        raise InputError(name, f"unknown role {role!r}")
    safe = _safe_name(name)
    if not safe.lower().endswith(_SUFFIXES):
        raise InputError(safe, f"is not a table or GeoJSON file: give {', '.join(_SUFFIXES[:5])}")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(safe, f"is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    with tempfile.TemporaryDirectory(prefix="lc-upload-") as folder:
        path = Path(folder) / safe
        path.write_bytes(data)
        try:
            kw = {"kinds": ws.kinds} if role == "facilities" else {}
            frame = gio.read_points(path, role=role, crs=crs, **kw)
        except InputError as exc:
            reason = str(getattr(exc, "reason", exc)).replace(str(path), safe)
            raise InputError(
                safe,
                reason,
                row=getattr(exc, "row", None),
                column=getattr(exc, "column", None),
                row_label=getattr(exc, "row_label", "row"),
            ) from None
    frame.attrs.pop("source_file", None)
    return frame
