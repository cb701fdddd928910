"""Segment your own images and whole GeoTIFF scenes with class names you type.

    import segearth_ov
    labels = segearth_ov.predict('scene.tif', 'building,roof,house;road;water,river;tree')
    labels, probs = segearth_ov.predict(rgb_array, ['road', 'water'], return_probs=True,
                                        model=model)         # reuse a built segmentor

`predict` returns arrays (a notebook's view); `predict_file` writes the georeferenced
class map, probabilities, overlay and summary of one file (the CLI's view,
`tools/predict.py`). Both run `segment_scene`: the scene is read in tiles (`tiling`), each
tile goes through the segmentor's slide inference, the class probabilities of
overlapping tiles are averaged, and finished rows stream out — memory is bounded by one
band of tiles, whatever the scene's size.
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models.text.embeddings import ClassNames, load_class_names, parse_class_lines
from .outputs import (SceneSummary, class_map_writer, output_paths, overlay_title,
                      polygon_writer, scene_summary, write_scene_files)
from .raster_io import (NODATA_LABEL, SceneReader, crs_name, gdal_env, is_georeferenced,
                        open_raster, pixel_size_m, select_bands)
from .sources import as_input
from .tiling import LogitBlender, RowResampler, TilePlan, chunk_rows_for
from ..utils.paths import find_config
from .vectors import class_probability

logger = logging.getLogger('segearth_ov')


# --------------------------------------------------------------------------- options
@dataclass
class SceneOptions:
    """How a scene is read and tiled (the model's settings are separate).

    bands: 1-based band numbers (1 or 3); sar: SAR conversion (band 1 of multi-band SAR,
    with `linear_sar` 10·log10 of linear power/intensity before the stretch); nodata:
    overrides the file's nodata value; percentiles: the stretch of non-8-bit data;
    resize_long_side / gsd: the model sees the scene rescaled to this long side / ground
    sampling distance in metres (default: as it is); tile / overlap: in model pixels (tile
    None: `tile_side`, 448 or the model's slide window when that is larger).
    """
    bands: tuple | None = None
    sar: bool = False
    linear_sar: bool = False
    nodata: float | None = None
    percentiles: tuple = (2, 98)
    resize_long_side: int | None = None
    gsd: float | None = None
    tile: int | None = None
    overlap: int = 128


def parse_classes(classes) -> ClassNames:
    """Class names from "building,roof;road;water" (classes by ';', synonyms by ','),
    a list of lines, or a class-name file (one class per line)."""
    if isinstance(classes, ClassNames):
        return classes
    if isinstance(classes, (list, tuple)):
        return load_class_names(list(classes))
    text = '' if classes is None else str(classes)
    if ';' not in text and text.strip() and Path(text).is_file():
        return load_class_names(text)
    if looks_like_path(text):
        logger.warning('classes %r: no such file, so it is taken as one class name; for a '
                       'class-name file check the path (or give --classes-file)', text)
    lines = [c.strip() for c in text.split(';')]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        raise ValueError('the class list is empty: give classes separated by ";" and synonyms '
                         'by ",", e.g. "building,roof,house;road;water,river"')
    return parse_class_lines(lines, source=f'--classes {text!r}')


def looks_like_path(text: str) -> bool:
    """A --classes value meant as a file: one item with a folder separator or a text
    file's suffix ('typo/clases.txt', 'classes.txt'), which no class name has."""
    text = text.strip()
    if not text or ';' in text or ',' in text:
        return False
    return '/' in text or '\\' in text or Path(text).suffix.lower() in ('.txt', '.csv', '.names')


def model_scale(src, options: SceneOptions) -> tuple[int, int]:
    """The model grid (height, width) of a scene under `resize_long_side` or `gsd`."""
    h, w = src.height, src.width
    if options.resize_long_side and options.gsd:
        raise ValueError('give either resize_long_side (--resize-long-side) or gsd (--gsd), '
                         'not both')
    if options.resize_long_side:
        s = options.resize_long_side / max(h, w)
        return int(h * s + 0.5), int(w * s + 0.5)     # as mmcv.imrescale rounds
    if options.gsd:
        size = pixel_size_m(src.crs, src.transform)
        if size is None:
            raise ValueError('--gsd needs a north-up raster in a projected CRS (metres); this '
                             'one has ' + ('no CRS' if src.crs is None else f'CRS {crs_name(src.crs)}')
                             + '. Use --resize-long-side instead.')
        return int(h * size[1] / options.gsd + 0.5), int(w * size[0] / options.gsd + 0.5)
    return h, w


def slide_settings(model=None, settings: dict | None = None) -> tuple[int, int]:
    """(slide_crop, slide_stride) of a built model, or of the model `build_model(**settings)`
    will build — its config's geometry included, so that plans made before the model exists
    (--dry-run, region mode's blocks) cut the scene as the model will."""
    if model is not None:
        return int(getattr(model, 'slide_crop', 0)), int(getattr(model, 'slide_stride', 1))
    settings = settings or {}
    crop, stride = settings.get('slide_crop'), settings.get('slide_stride')
    cfg = {}
    if settings.get('config') is not None:
        from mmengine.config import Config
        cfg = Config.fromfile(str(find_config(settings['config']))).model
        if cfg.get('type') != 'SegEarthSegmentation':      # a trained model: its test_cfg
            from ..models.segmentors.hg_rsovsseg import slide_test_cfg, test_cfg_slide
            return test_cfg_slide(cfg.get('test_cfg') if crop is None else
                                  slide_test_cfg(crop, stride))
    return (int(cfg.get('slide_crop', 224) if crop is None else crop),
            int(cfg.get('slide_stride', 112) if stride is None else stride))


DEFAULT_TILE = 448


def tile_side(options: SceneOptions, slide: tuple[int, int]) -> int:
    """The tile asked for, else 448 or the slide window when larger (a trained model's
    test_cfg, e.g. HG-RSOVSSeg's 512 crop, which a 448 tile could not hold)."""
    return options.tile or max(DEFAULT_TILE, slide[0])


def plan_scene(src, options: SceneOptions, slide: tuple[int, int]) -> TilePlan:
    mh, mw = model_scale(src, options)
    return TilePlan(src.height, src.width, mh, mw, tile_side(options, slide), options.overlap,
                    *slide)


def scene_reader(src, options: SceneOptions, name: str) -> SceneReader:
    """The SceneReader of an open raster under `options` (bands, SAR conversion, nodata,
    stretch); ValueError names a band the file lacks."""
    bands, alpha = select_bands(src, options.bands, options.sar, name)
    return SceneReader(src, bands, alpha, options.nodata, options.sar and options.linear_sar,
                       options.percentiles, name)


# --------------------------------------------------------------------------- the core
def logit_channels(model) -> int:
    """Channels of `model.image_logits`: one per query (class name) for the training-free
    segmentor, one per class for a trained decoder (`logit_channels`)."""
    return getattr(model, 'logit_channels', None) or len(model.class_names.queries)


@torch.no_grad()
def tile_logits(model, rgb: np.ndarray) -> np.ndarray:
    """Q×h×w logits of one uint8 RGB tile: the segmentor's slide (or whole) inference."""
    bgr = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1].transpose(2, 0, 1)))
    inputs = model.data_preprocessor(dict(inputs=[bgr]), training=False)['inputs']
    return model.image_logits(inputs)[0].float().cpu().numpy()


@torch.no_grad()
def segment_scene(model, reader: SceneReader, plan: TilePlan, sink, progress=None,
                  tile_rows: tuple[int, int] | None = None, from_row: int = 0) -> None:
    """Run the tiles of `plan` through `model`; call sink(r0, logits Q×n×W, valid) for
    every finished chunk of scene rows, top to bottom.

    tile_rows=(i0, i1): only tile rows i0 to i1 - 1, and from_row: only the chunks from that
    scene row on — a block of a split scene (region mode), which starts at the first earlier
    tile row that still overlaps it, so that its rows are exactly those of one pass."""
    q = logit_channels(model)
    i0, i1 = tile_rows or (0, len(plan.rows.spans))
    blender = LogitBlender(plan, q)
    blender.top = plan.rows.spans[i0][0]
    resampler = RowResampler(plan, chunk_rows_for(plan.width, q))
    for i in range(i0, i1):
        y0, y1 = plan.rows.spans[i]
        blender.start_row(i)
        for j, (x0, x1) in enumerate(plan.cols.spans):
            rgb, valid = reader.model_tile(plan.source_window(y0, y1, x0, x1), (y1 - y0, x1 - x0))
            if valid is None or valid.any():       # tiles of nodata only are skipped
                blender.add(tile_logits(model, rgb), i, j)
            if progress is not None:
                progress.update(1)
        row0, rows = blender.finish_row(i)
        for r0, chunk in resampler.push(row0, rows):
            if r0 >= from_row:     # rows above belong to an earlier block (incomplete here)
                sink(r0, chunk, reader.source_rows_valid(r0, r0 + chunk.shape[1]))
        rows = chunk = None         # views into the band, which the next tile row reuses


@torch.no_grad()
def classify(model, logits: np.ndarray, valid: np.ndarray | None):
    """(uint8 labels n×W, class probabilities C×n×W) of Q×n×W logits, as the segmentor
    turns logits into probabilities and labels; no-data pixels get label 255."""
    probs = model.class_probabilities(torch.from_numpy(logits))
    labels = model.labels(probs)[0].numpy().astype(np.uint8)
    if valid is not None:
        labels[~valid] = NODATA_LABEL
    return labels, probs.numpy()


class _TileCallback(contextlib.nullcontext):
    """`progress=callable`: callable(done, total) after every tile (the web UI's progress;
    an exception it raises, e.g. a cancel, stops the run and no partial output remains)."""

    def __init__(self, fn, total: int):
        super().__init__(self)
        self.fn, self.total, self.done = fn, total, 0
        fn(0, total)

    def update(self, n: int = 1) -> None:
        self.done += n
        self.fn(self.done, self.total)


def _progress(total: int, desc: str, enabled):
    if callable(enabled):
        return _TileCallback(enabled, total)
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit='tile', disable=not enabled, leave=False)


# --------------------------------------------------------------------------- the model
def build_model(classes, config: str | None = None, checkpoint: str | None = None,
                **settings):
    """A segmentor for `classes`: from an mmseg config's `model` (with `settings`
    overriding it), or from `init_segmentor`'s released defaults (λ = -0.3, JBU_One).

    `checkpoint`: the weights of a trained model (e.g. HG-RSOVSSeg from tools/train.py),
    built from `config` and loaded under the safe unpickler.
    """
    class_names = parse_classes(classes)
    lines = [','.join(syn) for syn in class_names.classes]
    if config is None:
        if checkpoint is not None:
            raise ValueError('--checkpoint needs the --config the model was trained with')
        from ..models.segmentors.released import init_segmentor
        return init_segmentor(lines, **_mapping_precision(settings))
    import segearth_ov  # noqa: F401  (registers the segmentor)
    from mmengine.config import Config
    from mmseg.registry import MODELS
    cfg = Config.fromfile(str(find_config(config))).model.to_dict()
    cfg.pop('name_path', None)
    if cfg.get('type') != 'SegEarthSegmentation':
        return _trained_model(MODELS, cfg, lines, checkpoint, settings)
    up = dict(cfg.get('feature_up_cfg') or {})
    if 'upsampler' in settings:
        name = settings.pop('upsampler')
        settings['feature_up'] = name is not None
        if name:
            up['model_name'] = name
    if settings.get('upsampler_ckpt'):
        up['model_path'] = settings.pop('upsampler_ckpt')
    settings.pop('upsampler_ckpt', None)
    settings.setdefault('precision', cfg.get('precision'))
    cfg.update(_mapping_precision(settings), classes=lines, feature_up_cfg=up)
    return MODELS.build(cfg)


def _mapping_precision(settings: dict) -> dict:
    """`settings` with the mapping tools' 'auto' precision resolved: bf16 on a CPU with native
    bf16 (utils/precision.py says why); eval.py keeps the segmentor's own 'auto'."""
    from ..utils.precision import mapping_precision
    return dict(settings, precision=mapping_precision(settings.get('precision'),
                                                      settings.get('device')))


def _trained_model(registry, cfg: dict, lines: list, checkpoint, settings: dict):
    """A trained segmentor (any registered type other than SegEarthSegmentation)."""
    if checkpoint is None:
        raise ValueError(f"the config's model is a trained {cfg.get('type')}: give its "
                         'weights with --checkpoint (a tools/train.py checkpoint)')
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    if settings.get('slide_crop') is not None:     # the predictor's slide flags → test_cfg
        from ..models.segmentors.hg_rsovsseg import slide_test_cfg
        cfg['test_cfg'] = slide_test_cfg(settings.pop('slide_crop'), settings.get('slide_stride'))
    settings.pop('slide_stride', None)
    for key in ('upsampler', 'upsampler_ckpt'):
        settings.pop(key, None)
    # the device is where the model is moved, not a keyword of trained segmentors
    device = settings.pop('device', None) or ('cuda' if torch.cuda.is_available() else 'cpu')
    import inspect
    accepted = inspect.signature(registry.get(cfg['type'])).parameters
    foreign = sorted(k for k in settings if k not in accepted)
    if foreign:
        raise ValueError(f"{', '.join(foreign)}: not a setting of the trained {cfg['type']} "
                         '(they belong to the training-free segmentor): leave these options out')
    cfg.update(settings, classes=lines)
    model = registry.build(cfg)
    from mmengine.runner import load_checkpoint
    from ..utils.checkpoints import mmengine_checkpoints_allowed
    with mmengine_checkpoints_allowed(checkpoint):
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    model.checkpoint_path = str(checkpoint)      # recorded in the outputs (utils/provenance)
    return model.to(device).eval()


def ensure_classes(model, class_names: ClassNames | None):
    """Switch a built model to `class_names` when its classes differ (None: keep them)."""
    if class_names is not None and tuple(model.class_names.classes) != class_names.classes:
        model.set_classes([','.join(syn) for syn in class_names.classes])
    return model


def split_options(kw: dict) -> tuple[SceneOptions, dict]:
    """Split keyword options into SceneOptions and model settings."""
    fields = SceneOptions.__dataclass_fields__
    scene = SceneOptions(**{k: kw.pop(k) for k in list(kw) if k in fields})
    return scene, kw


def sar_default(options: SceneOptions, model) -> SceneOptions:
    """`options` with the SAR conversion on for an AlignEarth (SAR) model."""
    if not options.sar and getattr(model, 'clip_type', '') == 'AlignEarth':
        logger.info('AlignEarth preset: SAR conversion (--sar) chosen')
        options.sar = True
    return options


# --------------------------------------------------------------------------- the API
def predict(image, classes=None, *, model=None, return_probs: bool = False,
            progress: bool = False, **options):
    """Segment an image (a path, a URL — https://, s3://, gs://, az:// — or an H×W /
    H×W×bands array) with typed class names.

    `classes`: "building,roof,house;road;water,river" (classes by ';', synonyms by ','), a
    list of such lines, or a class-name file. `model`: a built SegEarthSegmentation to reuse
    (its classes are switched to `classes` if they differ); otherwise one is built from the
    model settings in `options` (`clip_type`, `vit_type`, `pretrained`, `model_cfg`,
    `upsampler`, `upsampler_ckpt`, `prob_thd`, `config`, … as `build_model` takes them).
    Scene options (`bands`, `sar`, `nodata`, `resize_long_side`, `gsd`, `tile`, `overlap`,
    …) are those of `SceneOptions`.

    Returns the H×W uint8 label map (255 where the input has no data) at the image's
    resolution, and with `return_probs` also the C×H×W float32 class probabilities.
    The whole result is returned in memory; `predict_file` streams large scenes to disk.
    """
    scene_opts, settings = split_options(dict(options))
    class_names = parse_classes(classes) if classes is not None else None
    if model is None:
        if class_names is None:
            raise ValueError('give the classes (e.g. "building;road;water") or a built model')
        model = build_model(class_names, **settings)
    elif settings:
        raise ValueError(f'model settings {sorted(settings)} have no effect on a built model: '
                         'build another one (or set them as attributes, e.g. model.prob_thd)')
    ensure_classes(model, class_names)
    name = str(as_input(image)) if not isinstance(image, np.ndarray) else 'array'
    with gdal_env(), open_raster(image, name) as src:
        scene_opts = sar_default(scene_opts, model)
        reader = scene_reader(src, scene_opts, name)
        plan = plan_scene(src, scene_opts, slide_settings(model))
        labels = np.empty((src.height, src.width), np.uint8)
        probs = np.empty((model.num_classes, src.height, src.width), np.float32) \
            if return_probs else None

        def sink(r0, chunk, valid):
            rows = slice(r0, r0 + chunk.shape[1])
            labels[rows], p = classify(model, chunk, valid)
            if probs is not None:
                probs[:, rows] = p

        with _progress(plan.n_tiles, name.rsplit('/', 1)[-1], progress) as bar:
            segment_scene(model, reader, plan, sink, bar)
    return (labels, probs) if return_probs else labels


def predict_file(path, model, out_dir, *, options: SceneOptions | None = None,
                 fmt: str = 'auto', save_probs: bool = False, probs_dtype: str = 'uint8',
                 overlay: bool = True, progress: bool = True, title: str | None = None,
                 driver: str | None = None, vector=None) -> dict:
    """Segment one image file (or URL, or STAC `sources.Source`) and write its outputs
    into `out_dir`; returns the summary.

    Outputs: `<stem>_labels.tif` (georeferenced uint8 class map, nodata 255, colour table,
    class names; `.png` for plain images or fmt='png'), `<stem>_probs.tif` (save_probs),
    `<stem>_overlay.png` (image | colour overlay with legend), `<stem>_summary.json`
    (class areas in pixels and m²) and `<stem>_classes.txt` (value → class). `driver`: the
    only GDAL driver that may open `path` (the web page's, for files that came from a user).
    `vector`: a `vectors.VectorOptions` (or a format name: gpkg, geojson, fgb) to also write
    `<stem>_polygons.<format>`, the class regions as polygons, streamed with the class map.
    """
    options = sar_default(options or SceneOptions(), model)
    path, out_dir = as_input(path), Path(out_dir)
    names = model.class_names.names
    t0 = time.perf_counter()
    with gdal_env(), open_raster(path, str(path), driver) as src:
        georef = is_georeferenced(src)      # no CRS: outputs without georeference
        fmt = ('tif' if georef else 'png') if fmt == 'auto' else fmt
        files = output_paths(path, out_dir, fmt)
        reader = scene_reader(src, options, str(path))
        plan = plan_scene(src, options, slide_settings(model))
        summary = SceneSummary(len(names), src.height, src.width, reader.overview_hw)
        out_dir.mkdir(parents=True, exist_ok=True)
        writer = class_map_writer(files, model, src, georef, save_probs, probs_dtype, fmt)
        polygons = polygon_writer(vector, files, names, src, georef)

        def sink(r0, chunk, valid):
            labels, probs = classify(model, chunk, valid)
            writer.write(r0, labels, probs if save_probs else None, valid)
            summary.add(r0, labels)
            if polygons is not None:
                polygons.write(r0, labels, class_probability(labels, probs))

        with writer, polygons or contextlib.nullcontext(), \
                _progress(plan.n_tiles, str(path).rsplit('/', 1)[-1], progress) as bar:
            segment_scene(model, reader, plan, sink, bar)
        seconds = time.perf_counter() - t0
        result = scene_summary(path, src, georef, model, options, plan, reader, summary, files,
                               save_probs, overlay, seconds)
    write_scene_files(files, result, reader, summary, model.class_names.classes,
                      (title or overlay_title(model)) if overlay else None)
    return result
