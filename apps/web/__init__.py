"""The planner's map: a Panel app over :mod:`geo` results drawn by :mod:`layers`.

``state`` holds the session's state (``param.Parameterized``), ``workspace`` the data shared by
all sessions, ``app`` the thin layout, ``leaflet_map`` the map component and its static files.
"""

__all__ = [
    "app",
    "complete",
    "complete_view",
    "exports",
    "i18n",
    "leaflet_map",
    "parking_view",
    "project",
    "scenarios_panel",
    "server",
    "state",
    "upload",
    "views",
    "workspace",
]
