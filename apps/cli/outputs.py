"""A command's outputs, written all together or not at all (see :func:`geo.atomic.all_or_none`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Outputs"]


class Outputs:
    """Collect a command's writes; on leaving the ``with`` block all appear, or none on error.

    Examples
    --------
    >>> with Outputs() as out:                       # doctest: +SKIP
    ...     out.geojson(frame, args.out, out_crs=args.out_crs, metadata=meta)
    ...     out.json(summary, args.summary)
    >>> out.written                                  # doctest: +SKIP
    [PosixPath('cov.geojson'), PosixPath('s.json')]
    """

    def __init__(self) -> None:
        self.written: list[Path] = []
        self._cm = None

    def __enter__(self) -> Outputs:
        from lifecircle.geo.atomic import all_or_none

        self._cm = all_or_none()
        self._cm.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        cm, self._cm = self._cm, None
        return bool(cm.__exit__(*exc))

    def add(self, writer: Callable[..., Path], *args: Any, **kwargs: Any) -> Path:
        """Call an ``io`` writer (it returns the path it wrote) and record the path."""
        path = Path(writer(*args, **kwargs))
        self.written.append(path)
        return path

    def geojson(self, frame, path, **kwargs: Any) -> Path:
        """:func:`geo.io.write_geojson`."""
        from lifecircle.geo import io

        return self.add(io.write_geojson, frame, path, **kwargs)

    def json(self, obj, path) -> Path:
        """:func:`geo.io.write_json`."""
        from lifecircle.geo import io

        return self.add(io.write_json, obj, path)

    def table(self, frame, path) -> Path:
        """:func:`geo.io.write_table` (.csv or .xlsx)."""
        from lifecircle.geo import io

        return self.add(io.write_table, frame, path)
