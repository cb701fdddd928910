"""Region-scale prediction: many scenes (or one huge one) shared among torchrun processes.

Why: a province is hundreds of scenes or one 100,000² mosaic; one process takes days and a
crash near the end must not mean starting over. The job is cut into *work units* — whole
scenes, and for scenes above `split_pixels` blocks of tile rows — given to ranks
deterministically (largest first to the least-loaded rank, by pixel count), so every rank
computes the same plan from the inputs alone and no coordinator is needed.

Each output is written exactly once, by one process, under a temporary name renamed into
place (`raster_io.atomic_path`). A finished unit leaves a record in `<out>/.region/units/`
with the SHA-256 of its outputs; a rerun skips units whose record and files agree and
redoes missing or corrupt ones (the manifest is those records). A block computes its
tile rows plus the earlier tile rows that still overlap them, in the same order as the
single-process streaming, so its rows are exactly those of `predict_file`; the rank that
owns block 0 assembles the scene once all blocks exist. At the end rank 0 writes
`region_manifest.json`, a VRT mosaic of the class maps and a STAC catalogue.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

from . import predict as P
from .raster_io import (NODATA_LABEL, ClassMapWriter, SceneReader, atomic_path, gdal_env,
                        is_georeferenced, select_bands, write_text_atomic)
from ..utils import advice
from ..utils.images import ImageReadError
from .tiling import LogitBlender, RowResampler, chunk_rows_for
from .vectors import class_probability

logger = logging.getLogger('segearth_ov')

SPLIT_PIXELS = 64_000_000     # scenes above this (8000² px) are split into blocks
# CPU seconds per 448² tile of ViT-B/16 + JBU_One, slide 224/112 (README "Speed and memory")
SECONDS_PER_TILE_CPU = 6.3
STATE = '.region'


# ----------------------------------------------------------------------------- the plan
@dataclass
class Unit:
    """One piece of work: a whole scene (block None) or block `block` of `blocks`."""
    id: str
    path: str
    stem: str
    block: int | None
    blocks: int
    tile_rows: tuple      # tile rows (i0, i1) whose finished rows this unit writes
    rows: tuple           # source rows (r0, r1) it writes
    width: int
    tiles: int            # tiles it computes (with the earlier overlapping tile rows)
    rank: int = 0

    @property
    def pixels(self) -> int:
        return (self.rows[1] - self.rows[0]) * self.width


def finished_rows(plan, i: int) -> tuple[int, int]:
    """Model rows that `LogitBlender.finish_row(i)` hands out."""
    spans = plan.rows.spans
    top = spans[i][0] if i else 0
    end = spans[i + 1][0] if i + 1 < len(spans) else plan.model_height
    return top, end


def first_overlapping_row(plan, i0: int) -> int:
    """The first tile row whose tiles reach into tile row i0's finished rows."""
    r0 = finished_rows(plan, i0)[0]
    return next(j for j, (_, b) in enumerate(plan.rows.spans) if b > r0 or j == i0)


def scene_units(path: Path, options: P.SceneOptions, slide, split_pixels: int) -> list[Unit]:
    with P.opened(path) as src:
        plan = P.plan_scene(src, options, slide)
    n, w = len(plan.rows.spans), plan.width
    stem = path.stem
    if plan.height * w <= split_pixels or n < 2 or plan.resized:
        # resized scenes stay whole: their rows are resampled across tile-row boundaries
        return [Unit(stem, str(path), stem, None, 1, (0, n), (0, plan.height), w, plan.n_tiles)]
    pitch = plan.height / n
    per = max(1, int(split_pixels // (pitch * w)))
    bounds = list(range(0, n, per)) + [n]
    if len(bounds) < 3:
        return [Unit(stem, str(path), stem, None, 1, (0, n), (0, plan.height), w, plan.n_tiles)]
    units = []
    for b, (i0, i1) in enumerate(zip(bounds[:-1], bounds[1:])):
        j0 = first_overlapping_row(plan, i0)
        units.append(Unit(f'{stem}.block{b:03d}of{len(bounds) - 1:03d}', str(path), stem, b,
                          len(bounds) - 1, (i0, i1),
                          (finished_rows(plan, i0)[0], finished_rows(plan, i1 - 1)[1]), w,
                          (i1 - j0) * len(plan.cols.spans)))
    return units


def assign(units: list[Unit], world_size: int) -> list[Unit]:
    """Largest unit first to the least-loaded rank (ties: lower rank): deterministic."""
    load = [0] * world_size
    for u in sorted(units, key=lambda u: (-u.pixels, u.id)):
        u.rank = min(range(world_size), key=lambda r: (load[r], r))
        load[u.rank] += u.pixels
    return units


def plan_region(paths, options: P.SceneOptions, slide, world_size: int,
                split_pixels: int = SPLIT_PIXELS) -> list[Unit]:
    units = [u for p in paths for u in scene_units(Path(p), options, slide, split_pixels)]
    return assign(units, world_size)


def assembler(units: list[Unit], stem: str) -> int:
    """The rank that assembles a split scene: the owner of its block 0."""
    return next(u.rank for u in units if u.stem == stem and u.block == 0)


def dry_run_lines(units: list[Unit], world_size: int, num_classes: int, num_queries: int,
                  model_bytes: int, options: P.SceneOptions, slide, save_probs=False) -> list[str]:
    """Units per rank with pixels, tiles, an estimated time and the peak memory per rank."""
    lines = [f'{len(units)} work unit(s) over {world_size} rank(s) '
             f'({len({u.stem for u in units})} scene(s))']
    tile_s = SECONDS_PER_TILE_CPU * (options.tile / 448) ** 2
    for r in range(world_size):
        mine = [u for u in units if u.rank == r]
        tiles = sum(u.tiles for u in mine)
        lines.append(f'rank {r}: {len(mine)} unit(s), {sum(u.pixels for u in mine) / 1e6:.1f} '
                     f'Mpx, {tiles} tiles, ~{tiles * tile_s / 3600:.2f} h on one CPU '
                     f'(ViT-B/16 CPU rate; far less on a GPU)')
        for u in mine:
            lines.append(f'  {u.id}: {u.width} × {u.rows[1] - u.rows[0]} px '
                         f'(rows {u.rows[0]}-{u.rows[1]}), {u.tiles} tiles')
    if units:
        big = max(units, key=lambda u: u.width)
        with P.opened(big.path) as src:
            est = P.dry_run_lines(big.path, src, options, slide, num_classes, num_queries,
                                  model_bytes, save_probs)[-1].strip()
        lines.append(f'per rank (widest scene {big.stem}): {est}')
    return lines


# ----------------------------------------------------------------------------- records
def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 22), b''):
            h.update(chunk)
    return h.hexdigest()


class Records:
    """The manifest: one JSON record per finished unit, written once by its rank."""

    def __init__(self, out: Path, key: str):
        self.out, self.key = out, key
        self.dir = out / STATE / 'units'
        self.blocks = out / STATE / 'blocks'

    def path(self, unit_id: str) -> Path:
        return self.dir / f'{unit_id}.json'

    def write(self, unit_id: str, files: list, **extra) -> dict:
        rec = dict(unit=unit_id, key=self.key, **extra,
                   outputs={str(Path(f).relative_to(self.out)): sha256(Path(f)) for f in files})
        self.dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path(unit_id), json.dumps(rec, indent=1) + '\n')
        return rec

    def valid(self, unit_id: str) -> dict | None:
        """The record when it exists, is of this run's settings and every output matches."""
        try:
            rec = json.loads(self.path(unit_id).read_text())
        except (OSError, ValueError):
            return None
        if rec.get('key') != self.key:
            return None
        for name, digest in rec['outputs'].items():
            f = self.out / name
            if not f.is_file() or sha256(f) != digest:
                logger.warning('%s: output %s is missing or corrupt (checksum): redoing it',
                               unit_id, name)
                return None
        return rec

    def done(self, unit: Unit) -> bool:
        if unit.block is None:
            return self.valid(unit.id) is not None
        return self.valid(unit.stem) is not None or self.valid(unit.id) is not None

    def count(self) -> int:
        return len(list(self.dir.glob('*.json'))) if self.dir.is_dir() else 0


def run_key(classes, settings: dict, options: P.SceneOptions, save_probs, probs_dtype,
            fmt, overlay, vector=None) -> str:
    """What the outputs depend on: a record of other settings is not a finished unit
    (a checkpoint retrained at the same path included: its size and time count)."""
    extra = {} if vector is None else dict(vector=asdict(vector))
    settings = dict(settings)
    ckpt = settings.get('checkpoint')
    if ckpt and Path(ckpt).is_file():
        st = Path(ckpt).stat()
        settings['checkpoint_stamp'] = (st.st_size, st.st_mtime_ns)
    text = json.dumps(dict(classes=[list(c) for c in classes.classes], settings=settings,
                           options=asdict(options), save_probs=save_probs,
                           probs_dtype=probs_dtype, fmt=fmt, overlay=overlay, **extra),
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- the work
def segment_block(model, reader, plan, unit: Unit, sink) -> None:
    """sink(r0, logits, valid) for the rows of a block, chunked exactly as `segment_scene`."""
    import torch
    q = P.logit_channels(model)
    i0, i1 = unit.tile_rows
    j0 = first_overlapping_row(plan, i0)
    blender = LogitBlender(plan, q)
    blender.top = plan.rows.spans[j0][0] if j0 else 0
    resampler = RowResampler(plan, chunk_rows_for(plan.width, q))
    r_lo = unit.rows[0]
    with torch.no_grad():
        for i in range(j0, i1):
            blender.start_row(i)
            y0, y1 = plan.rows.spans[i]
            for x0, x1 in plan.cols.spans:
                rgb, valid = reader.model_tile(plan.source_window(y0, y1, x0, x1),
                                               (y1 - y0, x1 - x0))
                if valid is None or valid.any():
                    blender.add(P.tile_logits(model, rgb), i, plan.cols.spans.index((x0, x1)))
            row0, rows = blender.finish_row(i)
            for r0, chunk in resampler.push(row0, rows):
                if r0 >= r_lo:     # rows before the block are another block's (incomplete here)
                    sink(r0, chunk, reader.source_rows_valid(r0, r0 + chunk.shape[1]))


def run_block(model, unit: Unit, records: Records, options: P.SceneOptions,
              save_probs: bool, vector: bool = False) -> list[Path]:
    """Labels (and float32 probabilities; with `vector` the probability of each pixel's
    class, for the polygons' mean) of one block as .npy files under .region/blocks."""
    options = P._sar_default(options, model)
    records.blocks.mkdir(parents=True, exist_ok=True)
    h = unit.rows[1] - unit.rows[0]
    files = [records.blocks / f'{unit.id}.labels.npy']
    if save_probs:
        files.append(records.blocks / f'{unit.id}.probs.npy')
    if vector:
        files.append(records.blocks / f'{unit.id}.conf.npy')
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(P.opened(unit.path))
        tmp_l = stack.enter_context(atomic_path(files[0]))
        tmp_p = stack.enter_context(atomic_path(files[1])) if save_probs else None
        tmp_c = stack.enter_context(atomic_path(files[-1])) if vector else None
        bands, alpha = select_bands(src, options.bands, options.sar, unit.path)
        reader = SceneReader(src, bands, alpha, options.nodata,
                             options.sar and options.linear_sar, options.percentiles, unit.path)
        plan = P.plan_scene(src, options, P.slide_settings(model))
        labels = np.lib.format.open_memmap(tmp_l, 'w+', np.uint8, (h, unit.width))
        probs = np.lib.format.open_memmap(tmp_p, 'w+', np.float32,
                                          (model.num_classes, h, unit.width)) \
            if save_probs else None
        conf = np.lib.format.open_memmap(tmp_c, 'w+', np.float32, (h, unit.width)) \
            if vector else None

        def sink(r0, chunk, valid):
            lab, p = P.classify(model, chunk, valid)
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


def assemble_scene(model, blocks: list[Unit], records: Records, out: Path,
                   options: P.SceneOptions, fmt: str, save_probs: bool, probs_dtype: str,
                   overlay: bool, seconds: float, vector=None) -> dict:
    """Write a split scene's outputs from its block files, as `predict_file` writes them."""
    from ..visualization import class_colours
    options = P._sar_default(options, model)
    path = Path(blocks[0].path)
    names = model.class_names.names
    t0 = time.perf_counter()
    with gdal_env(), P.opened(path) as src:
        georef = is_georeferenced(src)
        fmt = ('tif' if georef else 'png') if fmt == 'auto' else fmt
        files = P.output_paths(path, out, fmt)
        bands, alpha = select_bands(src, options.bands, options.sar, str(path))
        reader = SceneReader(src, bands, alpha, options.nodata,
                             options.sar and options.linear_sar, options.percentiles, str(path))
        plan = P.plan_scene(src, options, P.slide_settings(model))
        summary = P.SceneSummary(len(names), src.height, src.width, reader.overview_hw)
        writer = ClassMapWriter(files['labels'], names, class_colours(model.class_names.classes),
                                src.height,
                                src.width, src.crs if georef else None,
                                src.transform if georef else None,
                                files['probs'] if save_probs else None, probs_dtype, fmt)
        polygons = P._polygon_writer(vector, files, names, src, georef)
        chunk = chunk_rows_for(src.width, P.logit_channels(model))
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
        result = P._summary(path, src, georef, model, options, plan, reader, summary, files,
                            save_probs, overlay, seconds + time.perf_counter() - t0)
    if overlay:
        P._write_overlay(files['overlay'], reader, summary, model.class_names.classes,
                         P.overlay_title(model))
    write_text_atomic(files['classes'], ''.join(
        f'{i}\t{",".join(syn)}\n' for i, syn in enumerate(model.class_names.classes)))
    write_text_atomic(files['summary'], json.dumps(result, indent=2) + '\n')
    return result


def scene_files(result: dict, out: Path) -> list[Path]:
    files = [Path(f) for f in result['outputs']]
    lab = Path(result['outputs'][0])
    if lab.suffix == '.tif':
        files += [Path(f'{lab}.aux.xml'), lab.with_suffix('.qml')]
    return files


# ----------------------------------------------------------------------------- the run
@dataclass
class RegionJob:
    """Everything a rank needs besides the model."""
    paths: list
    out: Path
    options: P.SceneOptions
    key: str
    fmt: str = 'auto'
    save_probs: bool = False
    probs_dtype: str = 'uint8'
    overlay: bool = True
    split_pixels: int = SPLIT_PIXELS
    max_units: int | None = None
    target_crs: str | None = None
    mosaic: bool = True
    progress: bool = True
    vector: object = None         # vectors.VectorOptions: polygons of every scene


class _Sync:
    """Barriers and gathers between ranks on a gloo group with a long timeout (units can
    take hours; the default group's 30 minutes would end the job), or nothing for one rank."""

    def __init__(self, world_size: int):
        self.world = world_size
        self.group = None
        if world_size > 1:
            import torch.distributed as dist
            self.group = dist.new_group(backend='gloo', timeout=timedelta(days=7))

    def barrier(self):
        if self.group is not None:
            import torch.distributed as dist
            dist.barrier(group=self.group)

    def gather(self, obj) -> list:
        if self.group is None:
            return [obj]
        import torch.distributed as dist
        out = [None] * self.world
        dist.all_gather_object(out, obj, group=self.group)
        return out


def run_region(model, job: RegionJob, rank: int = 0, world_size: int = 1) -> dict:
    """Run this rank's units of the region; rank 0 returns the region summary."""
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    units = plan_region(job.paths, job.options, P.slide_settings(model), world_size,
                        job.split_pixels)
    if job.mosaic and job.target_crs is None:
        check_same_crs(job.paths)
    records = Records(out, job.key)
    sync = _Sync(world_size)
    log = rank_logger(out, rank)
    mine = [u for u in units if u.rank == rank]
    todo = [u for u in mine if not records.done(u)]
    log.info('rank %d: %d unit(s), %d to do', rank, len(mine), len(todo))
    if job.max_units is not None:
        todo = todo[:job.max_units]
    from tqdm import tqdm
    bar = tqdm(total=len(units), desc='region', unit='unit', disable=not (job.progress and rank == 0))
    stats = dict(rank=rank, units=0, earlier=len(mine) - len(todo), pixels=0, seconds=0.0,
                 failed=[])
    for u in todo:
        remove_partials(out, records, u.stem if u.block is None else u.id, u.block is not None)
        t0 = time.perf_counter()
        try:
            if u.block is None:
                result = P.predict_file(u.path, model, out, options=job.options, fmt=job.fmt,
                                        save_probs=job.save_probs, probs_dtype=job.probs_dtype,
                                        overlay=job.overlay, progress=False, vector=job.vector)
                records.write(u.id, scene_files(result, out), rank=rank,
                              seconds=time.perf_counter() - t0)
            else:
                files = run_block(model, u, records, job.options, job.save_probs,
                                  job.vector is not None)
                records.write(u.id, files, rank=rank, seconds=time.perf_counter() - t0)
        except Exception as err:     # noqa: BLE001
            # one bad scene must not stop the region: it is reported, the rest goes on
            expected = isinstance(err, (ImageReadError, ValueError, OSError))
            text = str(err) if expected else f'{type(err).__name__}: {err}'
            stats['failed'].append(f'{u.id}: {text}')
            log.error('%s failed: %s', u.id, text, exc_info=not expected)
            logger.error('error: %s: %s', u.id, text, exc_info=not expected)
            continue
        dt = time.perf_counter() - t0
        stats['units'] += 1
        stats['pixels'] += u.pixels
        stats['seconds'] += dt
        log.info('%s done in %.1fs (%d px)', u.id, dt, u.pixels)
        bar.n = min(records.count(), len(units))
        bar.refresh()
    if job.max_units is not None:
        bar.close()
        sync.barrier()
        return dict(stopped=True, stats=sync.gather(stats))
    sync.barrier()                   # every block of every scene now exists
    for stem in sorted({u.stem for u in units if u.block is not None}):
        blocks = [u for u in units if u.stem == stem]
        if assembler(units, stem) != rank or records.valid(stem) is not None:
            continue
        if any(records.valid(b.id) is None for b in blocks):
            continue                 # a block failed: reported with it, rerun to finish
        remove_partials(out, records, stem, False)
        t0 = time.perf_counter()
        secs = sum(json.loads(records.path(b.id).read_text()).get('seconds', 0) for b in blocks)
        result = assemble_scene(model, blocks, records, out, job.options, job.fmt,
                                job.save_probs, job.probs_dtype, job.overlay, secs, job.vector)
        records.write(stem, scene_files(result, out), rank=rank, blocks=len(blocks),
                      seconds=secs + time.perf_counter() - t0)
        for b in blocks:             # the scene's record now stands for its blocks
            for f in records.blocks.glob(f'{b.id}.*.npy'):
                f.unlink()
        stats['seconds'] += time.perf_counter() - t0
        log.info('%s assembled from %d blocks', stem, len(blocks))
    bar.n = len(units)
    bar.close()
    sync.barrier()
    all_stats = sync.gather(stats)
    if rank != 0:
        return dict(stats=all_stats)
    return finish_region(model, units, records, job, all_stats)


def finish_region(model, units, records: Records, job: RegionJob, stats) -> dict:
    """Rank 0: the merged manifest, the VRT mosaic, the STAC catalogue and the summary."""
    out = Path(job.out)
    scenes = sorted({u.stem: u.path for u in units}.items())
    manifest = dict(key=job.key, scenes={}, units=[asdict(u) for u in units], ranks=stats)
    labels, failed = [], []
    for stem, path in scenes:
        rec = records.valid(stem)
        if rec is None:
            failed.append(stem)
            continue
        summary = json.loads((out / f'{stem}_summary.json').read_text())
        manifest['scenes'][stem] = dict(input=path, outputs=rec['outputs'])
        labels.append((stem, out / Path(summary['outputs'][0]).name, summary))
    write_text_atomic(out / 'region_manifest.json', json.dumps(manifest, indent=1) + '\n')
    geo = [(s, f, m) for s, f, m in labels if m['crs'] and f.suffix == '.tif']
    vrt = None
    if job.mosaic and geo:
        files = [f for _, f, _ in geo]
        if job.target_crs:
            files = [reproject_labels(f, job.target_crs) for f in files]
        vrt = write_vrt(out / 'region_labels.vrt', files, model.class_names.names)
        write_stac(out / 'stac', geo, model.class_names.classes, vrt)
    total_px = sum(s['pixels'] for s in stats)
    lines = [f'region: {len(scenes)} scene(s), {len(units)} unit(s)']
    for s in stats:
        rate = s['pixels'] / s['seconds'] if s['seconds'] else 0
        earlier = f' ({s["earlier"]} done by an earlier run)' if s.get('earlier') else ''
        lines.append(f'  rank {s["rank"]}: {s["units"]} unit(s) this run{earlier}, '
                     f'{s["pixels"] / 1e6:.2f} Mpx, {s["seconds"]:.1f}s, {rate:,.0f} px/s')
    if vrt:
        lines.append(f'mosaic {vrt}, catalogue {out / "stac" / "catalog.json"}')
    if failed:
        lines.append(f'{len(failed)} scene(s) failed (errors above and in .region/logs): '
                     f'{", ".join(failed)}; fix them and rerun the same command')
    print('\n'.join(lines), flush=True)
    return dict(scenes=len(scenes) - len(failed), units=len(units), pixels=total_px,
                stats=stats, failed=failed, vrt=str(vrt) if vrt else None)


def remove_partials(out: Path, records: Records, name: str, block: bool) -> None:
    """Temporary files a killed process left for this unit (only its rank writes them)."""
    folder, pattern = (records.blocks, f'.{name}.*.partial-*') if block else \
        (out, f'.{name}_*.partial-*')
    for f in folder.glob(pattern) if folder.is_dir() else []:
        f.unlink(missing_ok=True)


def rank_logger(out: Path, rank: int) -> logging.Logger:
    """A per-rank log file in <out>/.region/logs (appended to across reruns)."""
    log = logging.getLogger(f'segearth_ov.region.rank{rank}')
    path = (out / STATE / 'logs' / f'rank{rank}.log').resolve()
    files = [h for h in log.handlers if isinstance(h, logging.FileHandler)]
    for h in files:                    # a run into another folder in the same process
        if Path(h.baseFilename) != path:
            log.removeHandler(h)
            h.close()
    if not any(isinstance(h, logging.FileHandler) for h in log.handlers):
        path.parent.mkdir(parents=True, exist_ok=True)
        h = logging.FileHandler(path)
        h.setFormatter(logging.Formatter('%(asctime)s %(message)s'))
        log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


# ----------------------------------------------------------------------------- region outputs
def check_same_crs(paths) -> None:
    crss = {}
    for p in paths:
        with P.opened(p) as src:
            if src.crs is not None:
                crss.setdefault(src.crs.to_string(), str(p))
    if len(crss) > 1:
        (a, pa), (b, pb) = list(crss.items())[:2]
        raise ValueError(f'the inputs are in different CRSs ({pa}: {a}; {pb}: {b}), so one '
                         'mosaic cannot hold them: give --target-crs (e.g. EPSG:3857) to '
                         'reproject the class maps for the mosaic, or --no-mosaic')


def reproject_labels(path: Path, crs: str) -> Path:
    """The class map warped (nearest) to `crs`, beside it: `<stem>.<crs>.tif`, written once."""
    import rasterio
    from rasterio.warp import Resampling, calculate_default_transform, reproject
    tag = re.sub(r'[^0-9A-Za-z]+', '', crs)
    target = path.with_name(f'{path.stem}.{tag}.tif')
    with gdal_env(), rasterio.open(path) as src:
        transform, w, h = calculate_default_transform(src.crs, crs, src.width, src.height,
                                                      *src.bounds)
        profile = src.profile | dict(crs=crs, transform=transform, width=w, height=h)
        with atomic_path(target) as tmp, rasterio.open(tmp, 'w', **profile) as dst:
            reproject(rasterio.band(src, 1), rasterio.band(dst, 1), dst_nodata=NODATA_LABEL,
                      resampling=Resampling.nearest)
            dst.write_colormap(1, src.colormap(1))
            dst.update_tags(**src.tags())
    return target


def write_vrt(path: Path, files: list[Path], names: list[str]) -> Path:
    """A GDAL VRT mosaic over the class maps: union of their bounds, finest pixel size."""
    import rasterio
    from xml.sax.saxutils import escape
    infos = []
    for f in files:
        with rasterio.open(f) as src:
            t = src.transform
            if t.b or t.d:
                raise ValueError(f'{f} is rotated; a VRT mosaic needs north-up rasters: '
                                 'use --target-crs to warp them')
            infos.append((f, src.bounds, t.a, -t.e, src.width, src.height, src.crs,
                          src.colormap(1), src.block_shapes[0]))
    left = min(i[1].left for i in infos)
    top = max(i[1].top for i in infos)
    right = max(i[1].right for i in infos)
    bottom = min(i[1].bottom for i in infos)
    rx, ry = min(i[2] for i in infos), min(i[3] for i in infos)
    width, height = round((right - left) / rx), round((top - bottom) / ry)
    cmap = infos[0][7]
    entries = ''.join(f'      <Entry c1="{c[0]}" c2="{c[1]}" c3="{c[2]}" c4="{c[3]}"/>\n'
                      for c in (cmap.get(v, (0, 0, 0, 0)) for v in range(256)))
    cats = ''.join(f'    <Category>{escape(n)}</Category>\n' for n in names)
    sources = ''
    for f, b, sx, sy, w, h, _, _, (by, bx) in infos:
        rel = os.path.relpath(f, path.parent)
        sources += (
            '    <SimpleSource>\n'
            f'      <SourceFilename relativeToVRT="1">{escape(rel)}</SourceFilename>\n'
            '      <SourceBand>1</SourceBand>\n'
            f'      <SourceProperties RasterXSize="{w}" RasterYSize="{h}" DataType="Byte" '
            f'BlockXSize="{bx}" BlockYSize="{by}"/>\n'
            f'      <SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>\n'
            f'      <DstRect xOff="{(b.left - left) / rx:.10g}" yOff="{(top - b.top) / ry:.10g}" '
            f'xSize="{w * sx / rx:.10g}" ySize="{h * sy / ry:.10g}"/>\n'
            f'      <NODATA>{NODATA_LABEL}</NODATA>\n'
            '    </SimpleSource>\n')
    xml = (f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">\n'
           f'  <SRS>{escape(infos[0][6].to_wkt())}</SRS>\n'
           f'  <GeoTransform>{left!r}, {rx!r}, 0.0, {top!r}, 0.0, {-ry!r}</GeoTransform>\n'
           '  <VRTRasterBand dataType="Byte" band="1">\n'
           f'    <NoDataValue>{NODATA_LABEL}</NoDataValue>\n'
           '    <ColorInterp>Palette</ColorInterp>\n'
           f'    <ColorTable>\n{entries}    </ColorTable>\n'
           f'    <CategoryNames>\n{cats}    </CategoryNames>\n'
           f'{sources}  </VRTRasterBand>\n</VRTDataset>\n')
    write_text_atomic(path, xml)
    return path


def scene_assets(summary: dict) -> list[tuple]:
    """(key, media type, roles, title) of a scene's outputs besides the class map, as its
    summary lists them: STAC's media types (COG, GeoPackage, FlatGeobuf, GeoJSON)."""
    from .vectors import MEDIA_TYPES
    assets = [('summary', 'application/json', ['metadata'], 'class areas')]
    for f in summary['outputs'][1:]:
        name = Path(f).name
        if name.endswith('_probs.tif'):
            assets.append(('probs', 'image/tiff; application=geotiff; profile=cloud-optimized',
                           ['data'], 'class probabilities (one band per class)'))
        elif '_polygons.' in name:
            assets.append(('polygons', MEDIA_TYPES[name.rsplit('.', 1)[1]], ['data'],
                           'class polygons (class_name, class_index, pixels, area, mean_prob)'))
        elif name.endswith('_overlay.png'):
            assets.append(('overlay', 'image/png', ['overview'], 'image and class overlay'))
    return assets


def key_file(summary: dict, key: str) -> str:
    """The file name of a scene asset."""
    suffix = {'summary': '_summary.json', 'probs': '_probs.tif', 'overlay': '_overlay.png',
              'polygons': '_polygons.'}[key]
    return next(Path(f).name for f in summary['outputs'] if suffix in Path(f).name)


def write_stac(folder: Path, scenes, classes, vrt: Path | None) -> Path:
    """A self-contained STAC catalogue: one item per scene's class map, with its footprint,
    CRS (projection extension) and classes with colours (classification extension).
    `classes`: the class lines (tuples of synonyms), which decide the colours."""
    from datetime import datetime, timezone

    import pystac
    import rasterio
    from pystac.extensions.classification import Classification, ClassificationExtension
    from pystac.extensions.projection import ProjectionExtension
    from rasterio.warp import transform_geom

    from ..visualization import class_colours
    colours = class_colours(classes)
    names = [syn[0] for syn in classes]
    classes = [Classification.create(value=i, description=n,
                                     name=re.sub(r'[^0-9A-Za-z_-]+', '_', n) or f'class_{i}',
                                     color_hint=f'{c[0]:02X}{c[1]:02X}{c[2]:02X}')
               for i, (n, c) in enumerate(zip(names, colours))]
    catalog = pystac.Catalog(id='segearth-ov-region', description='SegEarth-OV class maps of '
                             'a region: one item per scene')
    for stem, labels, summary in scenes:
        with rasterio.open(labels) as src:
            b = src.bounds
            ring = [[b.left, b.bottom], [b.right, b.bottom], [b.right, b.top],
                    [b.left, b.top], [b.left, b.bottom]]
            geom = transform_geom(src.crs, 'EPSG:4326', dict(type='Polygon', coordinates=[ring]))
            xs = [p[0] for p in geom['coordinates'][0]]
            ys = [p[1] for p in geom['coordinates'][0]]
            epsg, shape, transform = src.crs.to_epsg(), [src.height, src.width], list(src.transform)[:6]
            wkt = None if epsg else src.crs.to_wkt()
        item = pystac.Item(id=stem, geometry=geom, bbox=[min(xs), min(ys), max(xs), max(ys)],
                           datetime=datetime.fromtimestamp(labels.stat().st_mtime, timezone.utc),
                           properties=dict(title=f'{stem} class map',
                                           source=summary['input']))
        proj = ProjectionExtension.ext(item, add_if_missing=True)
        proj.apply(epsg=epsg, wkt2=wkt, shape=shape, transform=transform)
        asset = pystac.Asset(href=str(labels.resolve()), media_type=pystac.MediaType.COG,
                             roles=['data'], title='class map (uint8, nodata 255)')
        item.add_asset('labels', asset)
        ClassificationExtension.ext(asset, add_if_missing=True).classes = classes
        for key, media, roles, title in scene_assets(summary):
            item.add_asset(key, pystac.Asset(href=str((labels.parent / key_file(summary, key))
                                                      .resolve()),
                                             media_type=media, roles=roles, title=title))
        if 'polygons' in item.assets:
            ClassificationExtension.ext(item.assets['polygons'],
                                        add_if_missing=True).classes = classes
        catalog.add_item(item)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f'_{folder.name}_partial_{os.getpid()}')   # no dot: a folder to pystac
    catalog.normalize_hrefs(str(tmp))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    # move the files in (the catalogue is rewritten whole by rank 0 at the end of each run)
    for f in sorted(tmp.rglob('*.json')):
        dest = folder / f.relative_to(tmp)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, dest)
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    return folder / 'catalog.json'


# ----------------------------------------------------------------------------- command line
REGION_FLAGS = ('--region', '--ranks', '--split-pixels', '--max-units', '--target-crs', '--no-mosaic')


def wanted(argv) -> bool:
    """Region mode: under torchrun with several processes, or asked for by a region flag."""
    return int(os.environ.get('WORLD_SIZE', '1')) > 1 or \
        any(a.split('=')[0] in REGION_FLAGS for a in argv)


def build_parser(prog=None):
    """The predictor's parser plus the region options."""
    from .predict_cli import build_parser as predictor_parser
    p = predictor_parser(prog)
    g = p.add_argument_group('region (on under torchrun; README "Mapping a region")')
    g.add_argument('--region', action='store_true', help='region mode in one process: '
                   'resumable manifest, VRT mosaic and STAC catalogue')
    g.add_argument('--split-pixels', type=float, default=SPLIT_PIXELS, metavar='N',
                   help='scenes above N pixels are split into blocks of tile rows shared '
                   'among ranks (default 64e6)')
    g.add_argument('--max-units', type=int, metavar='N', help='stop after N work units per '
                   'rank (rerun the same command to go on)')
    g.add_argument('--target-crs', help='reproject the class maps to this CRS for the mosaic '
                   '(needed when the inputs are in different CRSs), e.g. EPSG:3857')
    g.add_argument('--no-mosaic', action='store_true', help='no VRT mosaic or STAC catalogue')
    g.add_argument('--ranks', type=int, help='with --dry-run: plan for this many processes '
                   '(default: torchrun\'s WORLD_SIZE, or 1)')
    return p


@advice.using(advice.PREDICT_CLI)
def main(argv=None, prog=None) -> int:
    """tools/predict.py in region mode (one process or one torchrun rank)."""
    import sys
    from .predict_cli import parsed_inputs, vector_options
    from ..models.backbones import WeightsNotFoundError
    from ..utils.images import ImageReadError
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='%(message)s')
    logging.getLogger('segearth_ov').setLevel(logging.INFO)
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    try:
        classes, settings, options, paths = parsed_inputs(args)
        vector = vector_options(args)
        if vector is not None:
            from .vectors import kept_classes
            kept_classes([syn[0] for syn in classes.classes], vector.classes)
        slide = P.slide_settings(settings=settings)
        if args.dry_run and args.ranks:
            world = args.ranks
        units = plan_region(paths, options, slide, world, int(args.split_pixels))
        if not args.no_mosaic and args.target_crs is None:
            check_same_crs(paths)
    except (ValueError, FileNotFoundError, ImageReadError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if args.dry_run:
        if rank == 0:
            print('\n'.join(dry_run_lines(
                units, world, len(classes.classes), len(classes.queries),
                P.model_memory_bytes(vit_type=settings.get('vit_type', 'ViT-B/16')), options,
                slide, args.save_probs)))
        return 0
    from ..training.distributed import init_distributed
    try:
        ctx = init_distributed(args.device)
    except ValueError as err:
        print(f'error: rank {rank}: {err}', file=sys.stderr)
        return 2
    try:
        return _run(args, classes, settings, options, paths, ctx, vector)
    finally:        # also after an error or Ctrl-C: the group must not outlive the run
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def _run(args, classes, settings: dict, options, paths, ctx, vector) -> int:
    """Build the model on this rank's device and run this rank's part of the region."""
    import sys

    import torch
    from ..models.backbones import WeightsNotFoundError
    world = ctx.world_size
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) //
                                              int(os.environ.get('LOCAL_WORLD_SIZE', world))))
    settings['device'] = str(ctx.device)      # chosen per rank by init_distributed
    try:
        model = P.build_model(classes, **settings)
    except (WeightsNotFoundError, FileNotFoundError, ValueError, KeyError, TypeError) as err:
        print(f'error: rank {ctx.rank}: {err}', file=sys.stderr)
        return 2
    key = run_key(classes, {k: v for k, v in settings.items() if k != 'device'}, options,
                  args.save_probs, args.probs_dtype, args.format, not args.no_overlay, vector)
    job = RegionJob(paths=paths, out=Path(args.out), options=options, key=key, fmt=args.format,
                    save_probs=args.save_probs, probs_dtype=args.probs_dtype,
                    overlay=not args.no_overlay, split_pixels=int(args.split_pixels),
                    max_units=args.max_units, target_crs=args.target_crs,
                    mosaic=not args.no_mosaic, progress=not args.quiet, vector=vector)
    result = run_region(model, job, ctx.rank, ctx.world_size)
    return 1 if result.get('failed') or any(s['failed'] for s in result['stats']) else 0
