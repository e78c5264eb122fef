"""Make the short package names of a checkout (``geo``, ``layers``, ``apps``) the same modules
as ``lifecircle.geo``, ``lifecircle.layers`` and ``lifecircle.apps``.

A package imported by its short name calls :func:`become`, which puts the ``lifecircle.``
module in its place in :data:`sys.modules` and installs a finder that answers every
``<short>.<sub>`` import with the already-imported (or newly imported) ``lifecircle.<short>.<sub>``
module.  Without it, ``geo.network.WalkNetwork`` and ``lifecircle.geo.network.WalkNetwork``
would be two different classes.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

__all__ = ["become", "SHORT_NAMES"]

#: The packages that may be imported by their short names from a checkout.
SHORT_NAMES: tuple[str, ...] = ("geo", "layers", "apps")


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: types.ModuleType) -> None:  # already executed under its full name
        return None


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Answer ``geo.x`` with ``lifecircle.geo.x``."""

    def find_spec(self, fullname: str, path=None, target=None):  # noqa: ANN001 - importlib's signature
        head = fullname.partition(".")[0]
        if head not in SHORT_NAMES or "." not in fullname:
            return None
        real = "lifecircle." + fullname
        if real not in sys.modules and importlib.util.find_spec(real) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real), is_package=False)


_FINDER = _AliasFinder()


def become(short: str) -> types.ModuleType:
    """Replace the short-named package being imported by its ``lifecircle.`` twin.

    Parameters
    ----------
    short
        ``"geo"``, ``"layers"`` or ``"apps"``.

    Returns
    -------
    module
        The ``lifecircle.<short>`` package, now also ``sys.modules[short]``.
    """
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    real = importlib.import_module("lifecircle." + short)
    sys.modules[short] = real
    return real
