from .segearth import SegEarthSegmentation  # noqa: F401
