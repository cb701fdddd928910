from . import backbones, segmentors, text, upsamplers  # noqa: F401
from .segmentors import SegEarthSegmentation  # noqa: F401
