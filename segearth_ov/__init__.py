"""SegEarth-OV: training-free open-vocabulary semantic segmentation of remote-sensing images.

Importing the package registers `SegEarthSegmentation` in mmseg's MODELS registry.
"""
__version__ = '0.1.0'

from . import models  # noqa: E402,F401
from .models import SegEarthSegmentation  # noqa: E402,F401
from . import datasets  # noqa: E402,F401  (registers the dataset classes and LoadSARImageFromFile)
