"""The files a segmented scene leaves beside its class map: summary, overlay, class list.

Shared by `predictor.predict_file` (one process streams a scene) and the region's
`blocks.assemble_scene` (a split scene put together from its blocks), so both write the
same files with the same contents.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..utils.files import atomic_path, write_text_atomic
from ..utils.provenance import model_weights, weights_line
from .raster_io import NODATA_LABEL, ClassMapWriter, SceneReader, crs_name, pixel_area_m2
from .sources import provenance, stem_of


class SceneSummary:
    """Class pixel counts and a decimated class map for the preview, filled chunk by chunk."""

    def __init__(self, num_classes: int, height: int, width: int, preview_hw):
        self.counts = np.zeros(num_classes, np.int64)
        self.nodata = 0
        oh, ow = preview_hw
        # nearest-neighbour sample positions, as GDAL picks them for a decimated read
        self.rows = np.minimum(((np.arange(oh) + 0.5) * height / oh).astype(np.int64), height - 1)
        self.cols = np.minimum(((np.arange(ow) + 0.5) * width / ow).astype(np.int64), width - 1)
        self.preview = np.full((oh, ow), NODATA_LABEL, np.uint8)

    def add(self, r0: int, labels: np.ndarray) -> None:
        valid = labels != NODATA_LABEL
        self.counts += np.bincount(labels[valid], minlength=len(self.counts))[:len(self.counts)]
        self.nodata += int((~valid).sum())
        sel = (self.rows >= r0) & (self.rows < r0 + labels.shape[0])
        if sel.any():
            self.preview[sel] = labels[self.rows[sel] - r0][:, self.cols]


def output_paths(image, out_dir: Path, fmt: str) -> dict:
    stem = stem_of(image)         # a file's stem, a URL's file name's, a STAC item's id
    return dict(labels=out_dir / f'{stem}_labels.{fmt}', probs=out_dir / f'{stem}_probs.tif',
                overlay=out_dir / f'{stem}_overlay.png', summary=out_dir / f'{stem}_summary.json',
                classes=out_dir / f'{stem}_classes.txt')


def polygon_writer(vector, files: dict, names, src, georef: bool):
    """The `vectors.PolygonWriter` of `<stem>_polygons.<format>` (None without `vector`)."""
    if vector is None:
        return None
    from .vectors import PolygonWriter, VectorOptions, vector_path
    options = VectorOptions(format=vector) if isinstance(vector, str) else vector
    files['polygons'] = vector_path(files['labels'], options.format)
    return PolygonWriter(files['polygons'], names, src.height, src.width,
                         src.crs if georef else None, src.transform if georef else None,
                         options)


def overlay_title(model) -> str:
    """'CLIP ViT-B/16 · SegEarth · weights <file>@<hash8> · SimFeatUp <file>@<hash8>'."""
    return (f'{model.clip_type} {model.vit_type} · {model.model_type} · '
            f'{weights_line(model_weights(model))}')


def scene_summary(path, src, georef, model, options, plan, reader, summary, files, save_probs,
                  overlay, seconds) -> dict:
    """The record of `<stem>_summary.json`: the input, class areas, the model and its
    weights, the options, the tiling plan and the files written."""
    area = pixel_area_m2(src.crs, src.transform) if georef else None
    valid = int(summary.counts.sum())
    classes = []
    for i, syn in enumerate(model.class_names.classes):
        n = int(summary.counts[i])
        classes.append(dict(index=i, name=syn[0], synonyms=list(syn), pixels=n,
                            fraction=n / valid if valid else 0.0,
                            area_m2=None if area is None else n * area))
    written = [str(files['labels']), str(files['summary']), str(files['classes'])]
    if save_probs:
        written.append(str(files['probs']))
    if 'polygons' in files:
        written.append(str(files['polygons']))
    if overlay:
        written.append(str(files['overlay']))
    return dict(
        input=str(path), **provenance(path),
        height=src.height, width=src.width, bands=reader.bands,
        dtype=src.dtypes[reader.bands[0] - 1], nodata_value=reader.nodata,
        crs=crs_name(src.crs) if georef else None,
        transform=list(src.transform)[:6] if georef else None,
        pixel_area_m2=area, valid_pixels=valid, nodata_pixels=summary.nodata,
        classes=classes, stretch=reader.stretch.describe(),
        model=dict(clip_type=model.clip_type, vit_type=model.vit_type,
                   model_type=model.model_type, prob_thd=getattr(model, 'prob_thd', None),
                   feature_up=getattr(model, 'upsampler', None) is not None,
                   **model_weights(model)),
        options={k: (list(v) if isinstance(v, tuple) else v)
                 for k, v in asdict(options).items()},
        plan=dict(model_height=plan.model_height, model_width=plan.model_width,
                  tiles=plan.n_tiles, tile=plan.tile, overlap=plan.effective_overlap),
        seconds=round(seconds, 3), outputs=written)


def write_overlay(path: Path, reader: SceneReader, summary: SceneSummary, classes, title):
    """Image | overlay preview (decimated for large scenes); no-data shown as a class.
    `classes`: the class lines (tuples of synonyms), coloured as in the class map."""
    from ..visualization import NODATA_COLOUR, class_colours, save_overlay
    rgb = reader.stretch(reader.overview, 'preview')
    pred, shown = summary.preview, [list(syn) for syn in classes]
    colours = class_colours(classes)
    if (pred == NODATA_LABEL).any():
        pred = np.where(pred == NODATA_LABEL, len(classes), pred)
        shown.append(['no data'])
        colours = np.vstack([colours, NODATA_COLOUR])
    with atomic_path(path) as tmp:
        save_overlay(tmp, rgb, pred, shown, title=title, colours=colours)


def write_scene_files(files: dict, result: dict, reader: SceneReader, summary: SceneSummary,
                      classes, overlay_text: str | None) -> None:
    """The overlay (when `overlay_text`, its title, is given), `<stem>_classes.txt` and
    `<stem>_summary.json` of a scene whose class map is written."""
    if overlay_text is not None:
        write_overlay(files['overlay'], reader, summary, classes, overlay_text)
    write_text_atomic(files['classes'], ''.join(
        f'{i}\t{",".join(syn)}\n' for i, syn in enumerate(classes)))
    write_text_atomic(files['summary'], json.dumps(result, indent=2) + '\n')


def class_map_writer(files: dict, model, src, georef: bool, save_probs: bool, probs_dtype: str,
                     fmt: str):
    """The ClassMapWriter of a scene's class map (and probabilities with `save_probs`),
    georeferenced as its input when `georef`."""
    from ..visualization import class_colours
    return ClassMapWriter(files['labels'], model.class_names.names,
                          class_colours(model.class_names.classes), src.height, src.width,
                          src.crs if georef else None, src.transform if georef else None,
                          files['probs'] if save_probs else None, probs_dtype, fmt)
