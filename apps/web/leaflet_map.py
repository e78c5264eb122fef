"""A Leaflet map as a Panel ReactiveESM component, with no CDN anywhere.

Leaflet's ES module, style sheet and images come from the PyPI package
``django-js-lib-leaflet`` and are served by the app itself under
:data:`LEAFLET_ROUTE` (see :func:`static_dirs`, passed to ``pn.serve``); the
component's own script and styles live in ``apps/web/static``.  Layers are GeoJSON
strings set from Python (at city scale, tile layers, a compact point payload and clusters:
:mod:`apps.web.tiles`); map clicks, candidate drags and removals come back
through :meth:`LeafletMap.on_message`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import param
from panel.custom import ReactiveESM

__all__ = ["LEAFLET_ROUTE", "STATIC_ROUTE", "STATIC_DIR", "leaflet_dir", "static_dirs", "LeafletMap"]

#: URL prefix of Leaflet's files and of the app's own static files.
LEAFLET_ROUTE = "lc-leaflet"
STATIC_ROUTE = "lc-static"
STATIC_DIR = Path(__file__).parent / "static"


def leaflet_dir() -> Path:
    """Return the folder of Leaflet's files in the installed django-js-lib-leaflet package.

    Raises
    ------
    RuntimeError
        When the package is not installed (it is a runtime dependency).
    """
    try:
        import js_lib_leaflet
    except ImportError:  # pragma: no cover - a broken install
        raise RuntimeError(
            "the map needs the package django-js-lib-leaflet: pip install django-js-lib-leaflet"
        ) from None
    folder = Path(js_lib_leaflet.__file__).parent / "static" / "js_lib_leaflet"
    if not (folder / "leaflet-src.esm.js").is_file():  # pragma: no cover
        raise RuntimeError(f"Leaflet's files are missing from {folder}; reinstall django-js-lib-leaflet")
    return folder


def static_dirs() -> dict[str, str]:
    """Return the ``static_dirs`` mapping ``pn.serve`` needs for the map."""
    return {LEAFLET_ROUTE: str(leaflet_dir()), STATIC_ROUTE: str(STATIC_DIR)}


class LeafletMap(ReactiveESM):
    """The planner's map.

    Every layer parameter holds GeoJSON text (WGS84, or GCJ-02 under Amap tiles);
    ``labels``, ``style`` and ``legend`` hold JSON text.  Set
    :attr:`on_message` to receive ``{"type": "add"|"move"|"remove", ...}``.
    """

    streets = param.String(default="", doc="Vector base layer: the network's streets")
    tile_urls = param.String(
        default="{}", doc='City scale: {"streets": url, "areas": url} of tile layers the app serves (JSON)'
    )
    demand_points = param.String(default="", doc="City scale: the drawn residents as a compact payload (JSON)")
    facility_clusters = param.String(default="{}", doc="City scale: per-zoom facility clusters (JSON)")
    boundaries = param.String(default="", doc="街道/社区 outlines with level and name")
    shares = param.String(default="", doc="Communities coloured by coverage share")
    facilities = param.String(default="", doc="Facility points with id, name, kind")
    areas = param.String(default="", doc="Service areas of the selected kind")
    demand = param.String(default="", doc="Demand units with index i, id, name, weight w")
    demand_classes = param.String(default="[]", doc="Distance class of each demand unit (JSON list)")
    demand_distances = param.String(default="[]", doc="Distance of each demand unit in metres (JSON list)")
    demand_missing = param.String(
        default="[]", doc="Complete view: the kinds each demand unit misses (JSON list of text)"
    )
    closed = param.String(default="[]", doc="Ids of the facility points closed in the what-if (JSON list)")
    gaps = param.String(default="", doc="Gap polygons, ranked")
    candidates = param.String(default="", doc="Candidate stations with id and popup rows")
    candidate_areas = param.String(default="", doc="Service areas of the candidates")
    parking = param.String(default="", doc="Parking lots, compounds and matching lines")
    changes = param.String(default="", doc="Scenario comparison: residents who gain or lose (change, w, gained, lost)")
    legend = param.String(default="[]", doc="Legend blocks (JSON)")
    labels = param.String(default="{}", doc="Interface words (JSON)")
    style = param.String(default="{}", doc="Colours and classes (JSON)")
    layers_on = param.List(default=[], doc="Names of the visible layers")
    kinds_on = param.List(default=None, allow_None=True, doc="Facility kinds drawn (None: all)")
    tiers_on = param.List(default=None, allow_None=True, doc="Tiers (m) whose service areas are drawn (None: all)")
    tiles = param.String(default="none", doc="none, osm or amap")
    mode = param.String(default="pan", doc="pan, or add (a click adds a candidate)")
    bounds = param.List(default=[], doc="[west, south, east, north] to fit the view to")

    _esm = STATIC_DIR / "leaflet_map.js"
    _importmap = {"imports": {"leaflet": f"/{LEAFLET_ROUTE}/leaflet-src.esm.js"}}
    _stylesheets = [f"/{LEAFLET_ROUTE}/leaflet.css", f"/{STATIC_ROUTE}/map.css"]

    def __init__(self, **params: Any) -> None:
        params.setdefault("sizing_mode", "stretch_both")
        params.setdefault("min_height", 480)
        super().__init__(**params)
        self.on_message: Callable[[dict], None] | None = None

    def _handle_msg(self, data: Any) -> None:
        if isinstance(data, dict) and self.on_message is not None:
            self.on_message(data)

    def fly_to(self, lon: float, lat: float, zoom: int = 16) -> None:
        """Pan and zoom the map to a point (map coordinates)."""
        self._send_msg({"type": "fly", "lng": float(lon), "lat": float(lat), "zoom": zoom})
