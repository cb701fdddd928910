"""The small public Python API: what the README and docs/ examples import.

    from segearth_ov.apis import init_segmentor, inference_image      # one image, as evaluated
    from segearth_ov.apis import predict, predict_file, SceneOptions  # any raster, any size
    from segearth_ov.apis import stac_sources       # STAC items → inputs of the above

`inference.py` builds the segmentor and runs one image; the scene functions come from
`segearth_ov.mapping` (raster I/O, tiling, the scene predictor, polygons, region mode) and
are imported on first use, so that this import stays light and does not load rasterio.
"""
from .inference import inference_image, init_segmentor  # noqa: F401

# name → module of segearth_ov.mapping that defines it
_MAPPING = dict(predict='predictor', predict_file='predictor', build_model='predictor',
                parse_classes='predictor', SceneOptions='predictor',
                vectorize='vectors', VectorOptions='vectors',
                RegionJob='region', run_region='region', stac_sources='stac')

__all__ = ['init_segmentor', 'inference_image', *_MAPPING]


def __getattr__(name):
    if name in _MAPPING:
        from importlib import import_module
        return getattr(import_module(f'..mapping.{_MAPPING[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
