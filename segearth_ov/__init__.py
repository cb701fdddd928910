"""SegEarth-OV: training-free open-vocabulary semantic segmentation of remote-sensing images.

Importing the package registers `SegEarthSegmentation` in mmseg's MODELS registry; it changes
no process setting (PyTorch's huge-page allocation is turned on where the work starts:
segearth_ov/utils/runtime.py).
"""
__version__ = '0.1.0'

from . import models  # noqa: F401
from .models import SegEarthSegmentation  # noqa: F401
from . import datasets  # noqa: F401  (registers the dataset classes and LoadSARImageFromFile)


def __getattr__(name):
    # `segearth_ov.predict(image, classes, **options)`, imported on first use so that
    # `import segearth_ov` does not load rasterio (segearth_ov/mapping/predictor.py).
    if name == 'predict':
        from .mapping.predictor import predict
        return predict
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
