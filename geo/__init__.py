"""lifecircle's computation core: networks, reach, coverage, siting and parking.

Nothing here imports Panel or folium; ``layers`` and ``apps`` build on it.
"""

__all__ = ["errors", "settings", "crs", "io", "network", "reach", "coverage", "siting", "parking", "standards", "demo"]
