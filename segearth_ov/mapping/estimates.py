"""What --dry-run prints before anything is computed: the plan, peak memory, time.

The figures that are not computed from the plan were measured, and live here, in one place,
so that they are not mistaken for the predictor's logic and can be re-measured together:
`tools/benchmark_scene.py --model full` (ViT-B/16 + JBU_One, random weights, CPU) prints a
scene's time and peak resident memory beside this module's estimate of it.
"""
from __future__ import annotations

from . import raster_io
from .predictor import SceneOptions, plan_scene
from .raster_io import band_nodata, crs_name, pixel_size_m, select_bands
from .sources import remote_setting
from .tiling import chunk_rows_for

# ---- measured on the project's CPU machine (ViT-B/16 + JBU_One, slide 224/112)
# model weights before the model is built, by ViT size (a built model is counted exactly)
WEIGHTS_GB = {'ViT-B': 0.6, 'ViT-L': 1.7}
# the model's working set for one 448 px tile; it grows with the tile's area
MODEL_WORKING_SET_GB_448 = 0.6
# torch, mmseg and GDAL once imported (the baseline resident memory of tools/benchmark_scene.py)
LIBRARIES_GB = 0.85
# CPU seconds per 448² tile (region --dry-run's time estimate; far less on a GPU)
SECONDS_PER_TILE_CPU = 6.3


def model_memory_bytes(model=None, vit_type: str = 'ViT-B/16', model_cfg=None) -> int:
    """Weights of the model (exact when built; for a `model_cfg` JSON its architecture's
    float32 parameters; else a figure for the ViT size)."""
    if model is not None:
        return sum(t.numel() * t.element_size() for t in model.state_dict().values()) + \
            sum(p.numel() * p.element_size() for p in model._embedder.model.parameters())
    if model_cfg:
        from ..models.backbones.builder import architecture_parameters
        return 4 * architecture_parameters(model_cfg)
    size = 'ViT-L' if 'L' in vit_type.split('/')[0] else 'ViT-B'
    return int(WEIGHTS_GB[size] * 2 ** 30)


def settings_memory_bytes(settings: dict) -> int:
    """`model_memory_bytes` of the model `build_model(**settings)` will build."""
    return model_memory_bytes(vit_type=settings.get('vit_type', 'ViT-B/16'),
                              model_cfg=settings.get('model_cfg'))


def tile_seconds_cpu(tile: int) -> float:
    """Estimated CPU seconds of one tile of `tile` px."""
    return SECONDS_PER_TILE_CPU * (tile / 448) ** 2


def peak_memory(src, options: SceneOptions, slide: tuple, num_classes: int,
                num_queries: int, model_bytes: int, save_probs: bool = False):
    """(the tiling plan, the estimated peak memory of predicting one input by part, bytes)."""
    plan = plan_scene(src, options, slide)
    chunk = chunk_rows_for(plan.width, num_queries)
    parts = plan.memory_bytes(num_classes, num_queries, chunk, save_probs)
    parts['model weights'] = model_bytes
    parts['model working set'] = int(MODEL_WORKING_SET_GB_448 * 2 ** 30
                                     * max(1.0, (plan.tile_size / 448) ** 2))
    parts['libraries (torch, mmseg, GDAL)'] = int(LIBRARIES_GB * 2 ** 30)
    parts['GDAL block cache (max)'] = raster_io.GDAL_CACHE_MB * 2 ** 20
    return plan, parts


def dry_run_lines(path, src, options: SceneOptions, slide: tuple, num_classes: int,
                  num_queries: int, model_bytes: int, save_probs: bool = False) -> list[str]:
    """The tiling plan and the estimated peak memory of one input, as printed by --dry-run."""
    bands, alpha = select_bands(src, options.bands, options.sar, str(path))
    plan, parts = peak_memory(src, options, slide, num_classes, num_queries, model_bytes,
                              save_probs)
    if getattr(path, 'remote', False):      # a URL: the ranges GDAL keeps downloaded
        parts['GDAL remote range cache (max)'] = int(remote_setting('CPL_VSIL_CURL_CACHE_SIZE'))
    crs = crs_name(src.crs) if src.crs is not None else 'none (outputs not georeferenced)'
    size = pixel_size_m(src.crs, src.transform)
    lines = [f'{path}: {src.count} band(s) {src.dtypes[0]}, using {bands}'
             + (f' (alpha band {alpha} as mask)' if alpha else '')
             + f', nodata {band_nodata_text(src, bands, options.nodata)}',
             f'  CRS {crs}' + (f', pixel {size[0]:.3g} × {size[1]:.3g} m' if size else '')]
    lines += ['  ' + ln for ln in plan.describe()]
    lines.append('  estimated peak memory ~{:.2f} GB: '.format(sum(parts.values()) / 2 ** 30)
                 + ', '.join(f'{k} {v / 2 ** 20:.0f} MB' for k, v in parts.items()))
    return lines


def band_nodata_text(src, bands, nodata) -> str:
    v = band_nodata(src, bands, nodata)
    return 'none' if v is None else f'{v:g}'
