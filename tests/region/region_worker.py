"""One rank of a region run with the per-pixel stub model (tools/benchmark_scene.py), for
tests/region: started by torchrun (2 ranks, gloo) or plainly (one process).

    python region_worker.py OUT SLIDE_CROP MAX_UNITS INPUT...   (MAX_UNITS -1: all)

INPUT: files, URLs or STAC documents, expanded as tools/predict.py expands them.

$REGION_TEST_KILL_AFTER_UNITS=N: the process SIGKILLs itself in the middle of a run, at the
second tile after N unit records exist (a kill at a known point, not wherever a test polling
the records happens to look).
"""
import importlib.util
import os
import signal
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def stub(slide_crop: int):
    spec = importlib.util.spec_from_file_location('benchmark_scene', ROOT / 'tools' / 'benchmark_scene.py')
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    class ContextStub(bench.PixelwiseSegmentor):
        """Per-pixel logits plus the tile's mean colour: the result depends on which tiles
        cover a pixel, so a block missing an overlapping tile would differ."""

        def image_logits(self, img):
            return super().image_logits(img) + 2 * super().image_logits(
                img.mean(dim=(2, 3), keepdim=True))

    model = ContextStub(['water,river', 'field', 'town'])
    if slide_crop:      # plan tiles along slide windows (the stub's result cannot depend on it)
        model.slide_crop, model.slide_stride = slide_crop, slide_crop // 2
    return model


def killed_after_units(model, out: Path, n: int):
    """`model`, whose second tile after `n` finished units SIGKILLs this process."""
    records = out / '.region' / 'units'      # a unit's record: written last, atomically
    real, tiles = model.image_logits, []

    def image_logits(img):
        if len([p for p in records.glob('*.json') if not p.name.startswith('.')]) >= n:
            tiles.append(img.shape)
            if len(tiles) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(img)
    model.image_logits = image_logits
    return model


def job(out, paths, max_units=None, **kw):
    """The job of `paths` (files, URLs or STAC documents, as tools/predict.py takes them)."""
    from segearth_ov.mapping import cli, predictor, region
    options = predictor.SceneOptions(tile=64, overlap=16)
    return region.RegionJob(paths=cli.expand_inputs([str(p) for p in paths]), out=Path(out),
                            options=options,
                            key='test', split_pixels=20_000, max_units=max_units, progress=False,
                            overlay=False, **kw)


if __name__ == '__main__':
    torch.set_num_threads(1)
    from segearth_ov.mapping import region
    from segearth_ov.utils.distributed import init_distributed
    out, crop, max_units, *paths = sys.argv[1:]
    ctx = init_distributed('cpu')
    try:
        limit = None if int(max_units) < 0 else int(max_units)
        model = stub(int(crop))
        kill_after = os.environ.get('REGION_TEST_KILL_AFTER_UNITS')
        if kill_after:
            model = killed_after_units(model, Path(out), int(kill_after))
        region.run_region(model, job(out, paths, limit), ctx.rank, ctx.world_size)
    finally:       # a test must tear down what it starts, also when the run fails
        import torch.distributed as dist
        if dist.is_initialized():
            dist.destroy_process_group()
