"""Blocks of a split scene: each computed alone (by any rank), then assembled into the scene.

A block computes its tile rows plus the earlier tile rows that still overlap them, in the
same order as the single-process streaming (`predictor.segment_scene`), so its rows are
exactly those of `predict_file`; the rank that owns block 0 writes the scene's outputs from
the blocks' .npy files once all exist.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np

from .. import predictor
from ..outputs import (SceneSummary, class_map_writer, output_paths, overlay_title,
                       polygon_writer, scene_summary, write_scene_files)
from ..predictor import SceneOptions
from ...utils.files import atomic_path
from ..raster_io import NODATA_LABEL, gdal_env, is_georeferenced, opened
from ..tiling import chunk_rows_for
from ..vectors import class_probability
from .planning import Unit, first_overlapping_row
from .records import Records


def segment_block(model, reader, plan, unit: Unit, sink) -> None:
    """sink(r0, logits, valid) for the rows of a block, chunked exactly as `segment_scene`."""
    i0, i1 = unit.tile_rows
    predictor.segment_scene(model, reader, plan, sink,
                            tile_rows=(first_overlapping_row(plan, i0), i1), from_row=unit.rows[0])


def run_block(model, unit: Unit, source, records: Records, options: SceneOptions,
              save_probs: bool, vector: bool = False) -> list[Path]:
    """Labels (and float32 probabilities; with `vector` the probability of each pixel's
    class, for the polygons' mean) of one block as .npy files under .region/blocks."""
    options = predictor.sar_default(options, model)
    records.blocks.mkdir(parents=True, exist_ok=True)
    h = unit.rows[1] - unit.rows[0]
    files = [records.blocks / f'{unit.id}.labels.npy']
    if save_probs:
        files.append(records.blocks / f'{unit.id}.probs.npy')
    if vector:
        files.append(records.blocks / f'{unit.id}.conf.npy')
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(opened(source))
        tmp_l = stack.enter_context(atomic_path(files[0]))
        tmp_p = stack.enter_context(atomic_path(files[1])) if save_probs else None
        tmp_c = stack.enter_context(atomic_path(files[-1])) if vector else None
        reader = predictor.scene_reader(src, options, str(source))
        plan = predictor.plan_scene(src, options, predictor.slide_settings(model))
        labels = np.lib.format.open_memmap(tmp_l, 'w+', np.uint8, (h, unit.width))
        probs = np.lib.format.open_memmap(tmp_p, 'w+', np.float32,
                                          (model.num_classes, h, unit.width)) \
            if save_probs else None
        conf = np.lib.format.open_memmap(tmp_c, 'w+', np.float32, (h, unit.width)) \
            if vector else None

        def sink(r0, chunk, valid):
            lab, p = predictor.classify(model, chunk, valid)
            rows = slice(r0 - unit.rows[0], r0 - unit.rows[0] + lab.shape[0])
            labels[rows] = lab
            if probs is not None:
                probs[:, rows] = p
            if conf is not None:
                conf[rows] = class_probability(lab, p)

        segment_block(model, reader, plan, unit, sink)
        labels.flush()
        del labels
        if probs is not None:
            probs.flush()
            del probs
        if conf is not None:
            conf.flush()
            del conf
    return files


def assemble_scene(model, blocks: list[Unit], path, records: Records, out: Path,
                   options: SceneOptions, fmt: str, save_probs: bool, probs_dtype: str,
                   overlay: bool, seconds: float, vector=None) -> dict:
    """Write a split scene's outputs from its block files, as `predict_file` writes them
    (`path`: the scene's path or Source)."""
    options = predictor.sar_default(options, model)
    names = model.class_names.names
    t0 = time.perf_counter()
    with gdal_env(), opened(path) as src:
        georef = is_georeferenced(src)
        fmt = ('tif' if georef else 'png') if fmt == 'auto' else fmt
        files = output_paths(path, out, fmt)
        reader = predictor.scene_reader(src, options, str(path))
        plan = predictor.plan_scene(src, options, predictor.slide_settings(model))
        summary = SceneSummary(len(names), src.height, src.width, reader.overview_hw)
        writer = class_map_writer(files, model, src, georef, save_probs, probs_dtype, fmt)
        polygons = polygon_writer(vector, files, names, src, georef)
        chunk = chunk_rows_for(src.width, predictor.logit_channels(model))
        with writer, polygons or contextlib.nullcontext():
            for u in sorted(blocks, key=lambda u: u.block):
                lab = np.load(records.blocks / f'{u.id}.labels.npy', mmap_mode='r')
                prob = np.load(records.blocks / f'{u.id}.probs.npy', mmap_mode='r') \
                    if save_probs else None
                conf = np.load(records.blocks / f'{u.id}.conf.npy', mmap_mode='r') \
                    if polygons is not None else None
                for a in range(0, lab.shape[0], chunk):
                    part = np.array(lab[a:a + chunk])
                    r0 = u.rows[0] + a
                    writer.write(r0, part, None if prob is None else np.array(prob[:, a:a + chunk]),
                                 part != NODATA_LABEL)
                    summary.add(r0, part)
                    if polygons is not None:
                        polygons.write(r0, part, np.array(conf[a:a + chunk]))
        result = scene_summary(path, src, georef, model, options, plan, reader, summary, files,
                               save_probs, overlay, seconds + time.perf_counter() - t0)
    write_scene_files(files, result, reader, summary, model.class_names.classes,
                      overlay_title(model) if overlay else None)
    return result
