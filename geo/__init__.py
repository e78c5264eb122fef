"""lifecircle's computation core: networks, reach, coverage, siting and parking.

Nothing here imports Panel or folium; ``layers`` and ``apps`` build on it.
"""

if __name__ == "geo":  # imported by its short name from a checkout: be lifecircle.geo
    import sys as _sys

    from lifecircle import _alias

    _sys.modules[__name__] = _alias.become("geo")
else:
    __all__ = [
        "errors",
        "settings",
        "crs",
        "io",
        "network",
        "reach",
        "service_areas",
        "coverage",
        "siting",
        "parking",
        "standards",
        "demo",
    ]
