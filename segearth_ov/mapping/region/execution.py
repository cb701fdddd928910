"""A rank's run of the region: its units, the assembly of split scenes, and on rank 0 the
manifest, the VRT mosaic and the STAC catalogue.

Each output is written exactly once, by one process, under a temporary name renamed into
place (`raster_io.atomic_path`); ranks meet only at barriers (`RankSync`).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from .. import predictor
from ...utils.files import write_text_atomic
from ...utils.images import ImageReadError
from ..predictor import SceneOptions
from .blocks import assemble_scene, run_block
from .catalogue import check_same_crs, reproject_labels, write_stac, write_vrt
from .planning import SPLIT_PIXELS, assembler, by_stem, plan_region
from .records import STATE, Records, remove_partials, scene_files

logger = logging.getLogger('segearth_ov')


@dataclass
class RegionJob:
    """Everything a rank needs besides the model."""
    paths: list
    out: Path
    options: SceneOptions
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


class RankSync:
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
    units = plan_region(job.paths, job.options, predictor.slide_settings(model), world_size,
                        job.split_pixels)
    if job.mosaic and job.target_crs is None:
        check_same_crs(job.paths, skip={u.stem for u in units if u.error})
    inputs = by_stem(job.paths)       # a unit's scene, opened from its path, URL or Source
    records = Records(out, job.key)
    sync = RankSync(world_size)
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
            if u.error:
                raise ImageReadError(u.error)
            if u.block is None:
                result = predictor.predict_file(
                    inputs[u.stem], model, out, options=job.options, fmt=job.fmt,
                    save_probs=job.save_probs, probs_dtype=job.probs_dtype,
                    overlay=job.overlay, progress=False, vector=job.vector)
                records.write(u.id, scene_files(result, out), rank=rank,
                              seconds=time.perf_counter() - t0)
            else:
                files = run_block(model, u, inputs[u.stem], records, job.options,
                                  job.save_probs, job.vector is not None)
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
        result = assemble_scene(model, blocks, inputs[stem], records, out, job.options,
                                job.fmt, job.save_probs, job.probs_dtype, job.overlay, secs,
                                job.vector)
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
