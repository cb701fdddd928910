"""SegEarth-OV: training-free open-vocabulary semantic segmentation of remote-sensing images.

Importing the package registers `SegEarthSegmentation` in mmseg's MODELS registry.
"""
__version__ = '0.1.0'

import os

# PyTorch's transparent-huge-page allocation for CPU buffers ≥ 2 MB: SimFeatUp's full-size maps
# (40 MB per window) otherwise cost ~0.5 ms per MB in page faults each time they are
# allocated (≈ 10 % of a 448² image, measured). torch reads it at its first allocation, so it
# takes effect when segearth_ov is imported before tensors are made; 0 turns it off.
os.environ.setdefault('THP_MEM_ALLOC_ENABLE', '1')

from . import models  # noqa: E402,F401
from .models import SegEarthSegmentation  # noqa: E402,F401
from . import datasets  # noqa: E402,F401  (registers the dataset classes and LoadSARImageFromFile)


def __getattr__(name):
    # `segearth_ov.predict(image, classes, **options)`, imported on first use so that
    # `import segearth_ov` does not load rasterio (segearth_ov/mapping/predictor.py).
    if name == 'predict':
        from .mapping.predictor import predict
        return predict
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
