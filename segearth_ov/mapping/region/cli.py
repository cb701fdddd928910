"""`tools/predict.py` in region mode: the predictor's options plus the region's, in one
process (`--region`) or on each torchrun rank (README "Mapping a region")."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .. import predictor
from ...utils import advice
from ...utils.runtime import cli_logging
from ...utils.images import ImageReadError
from ..estimates import settings_memory_bytes
from .execution import RegionJob, run_region
from .planning import SPLIT_PIXELS, dry_run_lines, plan_region
from .catalogue import check_same_crs
from .records import run_key
from ..stac import band_names


REGION_FLAGS = ('--region', '--ranks', '--split-pixels', '--max-units', '--target-crs', '--no-mosaic')


def wanted(argv) -> bool:
    """Region mode: under torchrun with several processes, or asked for by a region flag."""
    return int(os.environ.get('WORLD_SIZE', '1')) > 1 or \
        any(a.split('=')[0] in REGION_FLAGS for a in argv)


def build_parser(prog=None):
    """The predictor's parser plus the region options."""
    from ..cli import build_parser as predictor_parser
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
    from ..cli import parsed_inputs, vector_options
    args = build_parser(prog).parse_args(argv)
    cli_logging()
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    try:
        if args.progress != 'bar':
            raise ValueError(f'--progress {args.progress} is for one scene at a time; region '
                             'mode records its progress in the manifest: leave --progress out')
        classes, settings, options, paths = parsed_inputs(args)
        vector = vector_options(args)
        if vector is not None:
            from ..vectors import kept_classes
            kept_classes([syn[0] for syn in classes.classes], vector.classes)
        slide = predictor.slide_settings(settings=settings)
        if args.dry_run and args.ranks:
            world = args.ranks
        units = plan_region(paths, options, slide, world, int(args.split_pixels))
        model_bytes = settings_memory_bytes(settings) if args.dry_run else 0
        if not args.no_mosaic and args.target_crs is None:
            check_same_crs(paths, skip={u.stem for u in units if u.error})
    except (ValueError, FileNotFoundError, ImageReadError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if args.dry_run:
        if rank == 0:
            print('\n'.join(dry_run_lines(
                units, world, len(classes.classes), len(classes.queries),
                model_bytes, options, slide, args.save_probs, paths)))
        return 0
    from ...utils.distributed import check_same_start, file_listing, init_distributed
    try:
        ctx = init_distributed(args.device)
    except ValueError as err:
        print(f'error: rank {rank}: {err}', file=sys.stderr)
        return 2
    try:
        try:     # every node must plan the same units from the same inputs
            check_same_start(dict({f"--{k.replace('_', '-')}": v for k, v in vars(args).items()},
                                  data=file_listing(paths)))
        except ValueError as err:
            print(f'error: {err}', file=sys.stderr)
            return 2
        return _run(args, classes, settings, options, paths, ctx, vector)
    finally:        # also after an error or Ctrl-C: the group must not outlive the run
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def _run(args, classes, settings: dict, options, paths, ctx, vector) -> int:
    """Build the model on this rank's device and run this rank's part of the region."""
    import torch
    from ...models.backbones import WeightsNotFoundError
    world = ctx.world_size
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) //
                                              int(os.environ.get('LOCAL_WORLD_SIZE', world))))
    settings['device'] = str(ctx.device)      # chosen per rank by init_distributed
    try:
        model = predictor.build_model(classes, **settings)
    except (WeightsNotFoundError, FileNotFoundError, ValueError, KeyError, TypeError) as err:
        print(f'error: rank {ctx.rank}: {err}', file=sys.stderr)
        return 2
    keyed = {k: v for k, v in settings.items() if k != 'device'}
    if args.asset or band_names(args.bands):      # what a STAC item's scene is read from
        keyed.update(asset=args.asset, bands=args.bands)
    key = run_key(classes, keyed, options,
                  args.save_probs, args.probs_dtype, args.format, not args.no_overlay, vector)
    job = RegionJob(paths=paths, out=Path(args.out), options=options, key=key, fmt=args.format,
                    save_probs=args.save_probs, probs_dtype=args.probs_dtype,
                    overlay=not args.no_overlay, split_pixels=int(args.split_pixels),
                    max_units=args.max_units, target_crs=args.target_crs,
                    mosaic=not args.no_mosaic, progress=not args.quiet, vector=vector)
    result = run_region(model, job, ctx.rank, ctx.world_size)
    return 1 if result.get('failed') or any(s['failed'] for s in result['stats']) else 0
