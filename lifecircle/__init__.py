"""lifecircle: walking life circles for community service planning.

The distribution installs one top-level name, ``lifecircle``, holding the three packages of the
checkout: :mod:`lifecircle.geo` (computation), :mod:`lifecircle.layers` (map layers) and
:mod:`lifecircle.apps` (command line and web app)::

    from lifecircle.geo import demo, coverage
    d = demo.build_demo()
    coverage.compute_coverage(d.network, d.facilities, d.demand).summary()

In a checkout (notebooks, tests, the README's examples run from the repository) the short names
``geo``, ``layers`` and ``apps`` work too, and are the *same* modules: ``import geo.reach`` gives
the module object of ``lifecircle.geo.reach`` (see :mod:`lifecircle._alias`), so classes compare
equal whichever name was used.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.2.0"
__all__ = ["__version__"]

# In a checkout or an editable install the packages sit beside this folder, not inside it.
_ROOT = Path(__file__).resolve().parent.parent
if (_ROOT / "geo" / "__init__.py").is_file() and str(_ROOT) not in __path__:
    __path__.append(str(_ROOT))
