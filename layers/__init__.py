"""Map layers: styled GeoJSON, legends and colour scales built from geo results."""

if __name__ == "layers":  # imported by its short name from a checkout: be lifecircle.layers
    import sys as _sys

    from lifecircle import _alias

    _sys.modules[__name__] = _alias.become("layers")
else:
    __all__ = ["geojson", "maplayers", "report", "style"]
