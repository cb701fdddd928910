"""SegEarth-OV: training-free open-vocabulary semantic segmentation of remote-sensing images.

Importing the package registers `SegEarthSegmentation` in mmseg's MODELS registry.
"""
__version__ = '0.1.0'

from . import models  # noqa: E402,F401
from .models import SegEarthSegmentation  # noqa: E402,F401
from . import datasets  # noqa: E402,F401  (registers the dataset classes and LoadSARImageFromFile)


def __getattr__(name):
    # `segearth_ov.predict(image, classes, **options)`, imported on first use so that
    # `import segearth_ov` does not load rasterio (segearth_ov/apis/predict.py).
    if name == 'predict':
        from .apis.predict import predict
        return predict
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
