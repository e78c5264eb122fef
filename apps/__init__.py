"""The Panel app and the command line."""

if __name__ == "apps":  # imported by its short name from a checkout: be lifecircle.apps
    import sys as _sys

    from lifecircle import _alias

    _sys.modules[__name__] = _alias.become("apps")
else:
    __all__ = ["cli", "web"]
