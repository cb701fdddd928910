"""Command line of the predictor (`tools/predict.py`; `demo.py` is a thin wrapper of it).

    python tools/predict.py scene.tif more/*.tif folder/ \\
        --classes "building,roof,house;road;water,river;tree" --out work_dirs/predict

Every setting of the segmentor can be given (`--clip-type`, `--vit-type`, `--model-type`,
`--pretrained`, `--model-cfg`, `--upsampler`, `--upsampler-ckpt`, `--cls-lambda`,
`--prob-thd`, `--slide-crop`, … and `--set key=value` for any other keyword), or an mmseg
config with `--config` (the flags then override it).
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import replace
from pathlib import Path

from ..utils import advice
from ..utils.runtime import cli_logging
from ..utils.images import RASTER_SUFFIXES, ImageReadError, parse_bands
from ..utils.precision import HELP as PRECISION_HELP, PRECISIONS
from . import predictor, progress
from .sources import as_input, is_url, stem_of
from .stac import band_names, is_stac, stac_sources

EXAMPLES = """\
examples:
  python tools/predict.py scene.tif --classes "building,roof,house;road;water,river;tree"
  python tools/predict.py tiles/ --classes-file classes.txt --gsd 1.0 --save-probs
  python tools/predict.py s1_vv.tif --classes "water;building;farmland" \\
      --clip-type AlignEarth --model-type SCLIP --linear-sar
  python tools/predict.py big.tif --classes "road;building" --dry-run
  python tools/predict.py scene.tif --classes "background;building;road" --vector gpkg \\
      --vector-classes "building;road" --vector-min-area 20 --vector-simplify 0.5
  python tools/predict.py https://example.org/cog.tif s3://bucket/scene.tif --classes "road;tree"
  python tools/predict.py search.json --asset visual --region --classes "road;tree" --out DIR
      (URLs are read window by window; a STAC Item/ItemCollection/catalogue: one scene per
      item, named by its id; --bands red,green,blue by common name: docs/cloud.md)

outputs per input (in --out): <stem>_labels.tif (class map: input's CRS and transform, nodata
255, colour table and class names; .png for plain images), <stem>_probs.tif (--save-probs),
<stem>_overlay.png, <stem>_summary.json (class areas in pixels and m²), <stem>_classes.txt,
<stem>_polygons.gpkg|geojson|fgb (--vector). GeoTIFFs are Cloud-Optimized GeoTIFFs.

region mode (README "Mapping a region"): many scenes as one resumable job, with a manifest, a
VRT mosaic and a STAC catalogue; in one process with --region, or shared among processes
and machines with torchrun. Its options: python tools/predict.py --region --help
  python tools/predict.py scenes/ --classes "road;building" --region --out DIR
  torchrun --nproc_per_node 4 tools/predict.py scenes/ --classes "road;building" --out DIR
"""


def _bands(text: str):
    """Band numbers (3,2,1), or common names of a STAC item's bands (red,green,blue)."""
    names = [b.strip() for b in text.split(',')]
    if all(re.fullmatch(r'[A-Za-z][A-Za-z0-9_]*', b) for b in names):
        return tuple(b.lower() for b in names)
    try:
        return parse_bands(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f'{err}, or common names of STAC bands, e.g. '
                                         'red,green,blue') from None


def _positive_int(flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f'{flag} {text!r}: give a whole number of at '
                                              'least 1, e.g. 16')
        return value
    return parse


def build_parser(prog: str | None = None, inputs: bool = True,
                 description: str | None = None, epilog: str = EXAMPLES) -> argparse.ArgumentParser:
    """The predictor's options; inputs=False leaves out the inputs and the outputs group
    (the web UI, tools/webui.py, reuses the model, conversion and tile options)."""
    p = argparse.ArgumentParser(prog=prog, description=description or __doc__.split('\n')[0],
                                epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    if not inputs:
        _model_options(p)
        return p
    p.add_argument('inputs', nargs='+', metavar='INPUT',
                   help='image files (GeoTIFF/TIFF, PNG, JPEG), folders, glob patterns, URLs '
                   '(https://, s3://, gs://, az://: read window by window) or STAC JSON '
                   '(an Item, ItemCollection or catalogue, file or URL: one scene per item)')
    _model_options(p)
    p.add_argument_group('STAC inputs (docs/cloud.md)').add_argument(
        '--asset', help="the items' asset to read (default: the visual/RGB one; with --bands "
        'red,green,blue: the asset holding those bands, else one asset per band)')
    _output_options(p)
    return p


def _model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('classes')
    g.add_argument('--classes', help='classes separated by ";", synonyms by ",": '
                   '"building,roof,house;road;water,river" (or a class-name file)')
    g.add_argument('--classes-file', help='class-name file: one class per line, synonyms '
                   'separated by commas')

    g = p.add_argument_group('model (defaults: CLIP ViT-B/16, SegEarth attention, JBU_One, λ=-0.3)')
    g.add_argument('--config', help='mmseg config whose `model` is used (flags override it)')
    g.add_argument('--checkpoint', help='weights of a trained model (HG-RSOVSSeg, SAR-OVSeg: '
                   'a tools/train.py checkpoint), built from --config')
    g.add_argument('--clip-type', help='backbone preset: CLIP, OpenCLIP, MetaCLIP, RemoteCLIP, '
                   'GeoRSCLIP, SkyCLIP, FarSLIP, LRSCLIP, AlignEarth')
    g.add_argument('--vit-type', help='ViT-B/16, ViT-B/32, ViT-L/14')
    g.add_argument('--model-type', help='last-block attention: vanilla, MaskCLIP, SCLIP, '
                   'ClearCLIP, SegEarth, NACLIP, GEM')
    g.add_argument('--pretrained', help="CLIP weights replacing the preset's (path or hf-hub:…)")
    g.add_argument('--model-cfg', help='open_clip model-config JSON (custom architectures)')
    g.add_argument('--upsampler', help='jbu_one, jbu_stack, bilinear or none')
    g.add_argument('--upsampler-ckpt', help='SimFeatUp checkpoint')
    g.add_argument('--cls-lambda', type=float, help='global bias alleviation λ (default -0.3)')
    g.add_argument('--prob-thd', type=float, help='pixels whose best probability is lower get '
                   'the background class (--bg-idx)')
    g.add_argument('--bg-idx', type=int)
    g.add_argument('--logit-scale', type=float)
    g.add_argument('--slide-crop', type=int, help='slide window (default 224; 0: whole tile)')
    g.add_argument('--slide-stride', type=int, help='slide stride (default 112)')
    g.add_argument('--window-batch', type=_positive_int('--window-batch'),
                   help='windows per ViT forward (default 16)')
    g.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='any other keyword of SegEarthSegmentation, e.g. --set ssa_last_n_layers=2')
    g.add_argument('--device', help='cpu, cuda or cuda:N (default: cuda if present; under '
                   "torchrun each rank takes its LOCAL_RANK's GPU)")
    g.add_argument('--precision', choices=PRECISIONS, help=PRECISION_HELP)
    g.add_argument('--threads', type=int, help='torch CPU threads (default: one per core)')

    g = p.add_argument_group('input conversion')
    g.add_argument('--bands', type=_bands, help='band numbers (from 1) used as R,G,B, or one '
                   'band, e.g. 3,2,1 or 1; for STAC items also common names, e.g. red,green,blue')
    g.add_argument('--sar', action='store_true', help='SAR input: the AlignEarth conversion '
                   '(chosen automatically with --clip-type AlignEarth)')
    g.add_argument('--linear-sar', action='store_true', help='SAR values are linear '
                   'power/intensity: 10·log10 before the stretch (implies --sar)')
    g.add_argument('--nodata', type=float, help="no-data value (default: the file's)")
    g.add_argument('--percentiles', type=float, nargs=2, default=(2, 98), metavar=('LOW', 'HIGH'),
                   help='stretch of 16-bit/float data to 8 bits (default 2 98)')

    g = p.add_argument_group('scale and tiles')
    s = g.add_mutually_exclusive_group()
    s.add_argument('--resize-long-side', type=int, metavar='N',
                   help='the model sees the scene with this long side (outputs stay at the '
                   "input's resolution)")
    s.add_argument('--gsd', type=float, metavar='M',
                   help='the model sees the scene at M metres per pixel (projected CRS)')
    g.add_argument('--tile', type=int,
                   help='tile side in model pixels (default 448, or the slide window of a '
                   "--config's test_cfg when larger); with slide inference the result does "
                   'not depend on it, the memory does')
    g.add_argument('--overlap', type=int, default=128, help='tile overlap (default 128)')


def _output_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('outputs')
    g.add_argument('--out', default='work_dirs/predict', help='output folder')
    g.add_argument('--format', choices=('auto', 'tif', 'png'), default='auto',
                   help='class map format (auto: tif for georeferenced inputs, else png)')
    g.add_argument('--save-probs', action='store_true', help='also write class probabilities')
    g.add_argument('--probs-dtype', choices=('uint8', 'float32'), default='uint8',
                   help='uint8: probability × 255 (default), float32: as is')
    g.add_argument('--no-overlay', action='store_true', help='skip the PNG overlay')
    _vector_options(p)
    g.add_argument('--dry-run', action='store_true',
                   help='print the tiling plan and estimated memory; segment nothing')
    g.add_argument('--quiet', action='store_true', help='no progress bars')
    g.add_argument('--progress', choices=progress.MODES, default='bar',
                   help='bar: progress bars (default); json: JSON lines on stdout for programs '
                   'that run the predictor (the QGIS plugin), the text goes to stderr')


def _vector_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('polygons (--vector)')
    g.add_argument('--vector', choices=('gpkg', 'geojson', 'fgb'),
                   help='also write <stem>_polygons.<format>: one polygon per region of one '
                   "class, with class_name, class_index, pixels, area_m2 (area_px without a "
                   "projected CRS) and mean_prob, in the input's CRS")
    g.add_argument('--vector-min-area', type=float, default=0.0, metavar='A',
                   help='drop polygons smaller than A (m² in a projected CRS, else pixels)')
    g.add_argument('--vector-simplify', type=float, default=0.0, metavar='PX',
                   help='simplification tolerance in pixels; each shared edge is simplified '
                   'once, so neighbours stay edge to edge (default 0: exact pixel edges)')
    g.add_argument('--vector-classes', metavar='NAMES',
                   help='classes to keep, by name or index, separated by ";" (e.g. '
                   '"building;road"; default: all)')
    g.add_argument('--no-vector-merge', action='store_true',
                   help='leave polygons cut at the borders of the blocks of rows they are '
                   'traced in (default: merged)')
    g.add_argument('--vector-block-rows', type=int, default=1024, metavar='N',
                   help='rows traced at once (memory: N × width × 4 bytes; default 1024)')


def vector_options(args):
    """The VectorOptions of --vector (None without it); ValueError names a bad option."""
    if not getattr(args, 'vector', None):
        return None
    from .vectors import VectorOptions
    classes = None
    if args.vector_classes:
        classes = tuple(c.strip() for c in args.vector_classes.split(';') if c.strip())
    return VectorOptions(format=args.vector, min_area=args.vector_min_area,
                         simplify=args.vector_simplify, classes=classes,
                         merge=not args.no_vector_merge, block_rows=args.vector_block_rows)


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def model_settings(args) -> dict:
    """The segmentor keywords given on the command line (unset flags are left out)."""
    flags = dict(clip_type=args.clip_type, vit_type=args.vit_type, model_type=args.model_type,
                 pretrained=args.pretrained, model_cfg=args.model_cfg,
                 upsampler_ckpt=args.upsampler_ckpt, cls_token_lambda=args.cls_lambda,
                 prob_thd=args.prob_thd, bg_idx=args.bg_idx, logit_scale=args.logit_scale,
                 slide_crop=args.slide_crop, slide_stride=args.slide_stride,
                 window_batch=args.window_batch, device=args.device,
                 precision=args.precision)
    settings = {k: v for k, v in flags.items() if v is not None}
    if args.upsampler is not None:
        settings['upsampler'] = None if args.upsampler.lower() == 'none' else args.upsampler
    for item in args.set:
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            raise ValueError(f'--set {item!r}: write KEY=VALUE, e.g. --set ssa_last_n_layers=2')
        settings[key.strip()] = _literal(value.strip())
    if args.config is not None:
        settings['config'] = args.config
    if getattr(args, 'checkpoint', None) is not None:
        settings['checkpoint'] = args.checkpoint
    return settings


def scene_options(args):
    """SceneOptions of the flags (band names are the STAC inputs', resolved per item)."""
    bands = None if band_names(args.bands) else args.bands
    if bands is None and args.bands and not hasattr(args, 'inputs'):     # the map page's
        raise ValueError(f'--bands {",".join(args.bands)}: names choose bands of STAC items, '
                         'inputs of tools/predict.py; here give band numbers, e.g. 3,2,1')
    return predictor.SceneOptions(bands=bands, sar=args.sar or args.linear_sar,
                                  linear_sar=args.linear_sar, nodata=args.nodata,
                                  percentiles=tuple(args.percentiles),
                                  resize_long_side=args.resize_long_side, gsd=args.gsd,
                                  tile=args.tile, overlap=args.overlap)


def parsed_inputs(args):
    """(classes, model settings, scene options, input paths) of the command line; a
    ValueError / FileNotFoundError names what is wrong. Shared with region mode."""
    if args.classes and args.classes_file:
        raise ValueError('give --classes or --classes-file, not both')
    if args.classes_file:       # a file, never a class name (parse_classes would take it as one)
        if not Path(args.classes_file).is_file():
            raise FileNotFoundError(f'--classes-file {args.classes_file}: no such file; give a '
                                    'class-name file (one class per line, synonyms separated '
                                    'by commas, e.g. configs/cls_openearthmap.txt) or --classes')
        from ..models.text.embeddings import load_class_names
        classes = load_class_names(args.classes_file)
    else:
        classes = predictor.parse_classes(args.classes)
    check_out_folder(args.out)
    paths = expand_inputs(args.inputs, args.asset, args.bands)
    return classes, model_settings(args), scene_options(args), paths


def expand_inputs(inputs, asset: str | None = None, bands=None) -> list:
    """Files, folders (their images, sorted), glob patterns, URLs and STAC documents (one
    `sources.Source` per item: `asset`, or `bands` by common name) → inputs, in order.
    `bands` names are only for STAC items; `asset` only with STAC inputs."""
    import glob
    paths = []
    stac_given = any(is_stac(i) for i in inputs)
    if (asset or band_names(bands)) and not stac_given:
        raise ValueError(('--asset' if asset else f'--bands {",".join(bands)}') + ' chooses '
                         'among the assets or bands of STAC items, and no input is STAC JSON'
                         + ('' if asset else '; for a file give band numbers, e.g. 3,2,1'))
    for item in inputs:
        item = str(item) if isinstance(item, Path) else item
        if is_stac(item):
            paths += stac_sources(item, asset, bands)
            continue
        if is_url(item):
            paths.append(as_input(item))
            continue
        p = Path(item)
        if p.is_dir():
            paths += sorted(q for q in p.iterdir()
                            if q.suffix.lower() in RASTER_SUFFIXES and not q.name.startswith('.'))
        elif any(ch in str(item) for ch in '*?['):
            matches = sorted(glob.glob(str(item), recursive=True))
            if not matches:
                raise ImageReadError(f'no file matches {item!r}')
            paths += [Path(m) for m in matches if Path(m).is_file()]
        else:
            paths.append(p)
    if not paths:
        raise ImageReadError(f'no image found in {", ".join(map(str, inputs))}')
    stems = {}
    for p in paths:
        stems.setdefault(stem_of(p), []).append(str(p))
    same = [names for names in stems.values() if len(names) > 1]
    if same:   # outputs are named after the stem: the second would replace the first's
        raise ValueError(f'inputs {" and ".join(same[0])} have the same name, so their outputs '
                         'would overwrite each other: segment them into different --out folders')
    return paths


def check_out_folder(out) -> None:
    """--out must be a folder or creatable as one: said before the model is built. A new
    folder named like a raster (result.tif) is refused: the outputs are files inside it."""
    path = Path(out)
    if path.suffix.lower() in RASTER_SUFFIXES and not path.is_dir():
        raise ValueError(f'--out {out}: a file name, but --out is the output folder (each input '
                         f'writes <out>/<stem>_labels.tif, …); give a folder, e.g. --out '
                         f'{path.with_suffix("")}')
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = '' if p == path else f'its parent {p} '
                raise ValueError(f'--out {out}: {what}is a file, not a folder; give a folder '
                                 '(created if missing)')
            return


@advice.using(advice.PREDICT_CLI)
def main(argv=None, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    with progress.reporter(args.progress) as events:
        return events.end(_run(args, events))


def _run(args, events) -> int:
    cli_logging()
    from ..models.backbones import WeightsNotFoundError

    try:
        classes, settings, options, paths = parsed_inputs(args)
    except (ValueError, FileNotFoundError, ImageReadError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    if args.dry_run:
        return _dry_run(paths, classes, settings, options, args)

    import time
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    try:
        vector = vector_options(args)
        t0 = time.perf_counter()
        events.stage('model')
        model = predictor.build_model(classes, **settings)
        if vector is not None:
            from .vectors import kept_classes
            kept_classes(model.class_names.names, vector.classes)
        print(f'model built in {time.perf_counter() - t0:.1f}s '
              f'({model.clip_type} {model.vit_type}, {model.model_type}, '
              f'{plural(model.num_classes, "class")}, device {model.device})')
    except (WeightsNotFoundError, FileNotFoundError, ValueError, KeyError, TypeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    from tqdm import tqdm
    failed = 0
    for k, path in enumerate(tqdm(paths, desc='files', unit='file',
                                  disable=args.quiet or len(paths) < 2 or events.active), 1):
        try:
            result = predictor.predict_file(
                path, model, args.out, options=replace(options), fmt=args.format,
                save_probs=args.save_probs, probs_dtype=args.probs_dtype,
                overlay=not args.no_overlay, vector=vector,
                progress=events.tiles(path, k, len(paths)) or not args.quiet)
        except (ImageReadError, ValueError, OSError) as err:
            failed += 1
            print(error_line(path, err), file=sys.stderr)
            continue
        except Exception as err:    # noqa: BLE001  one input's failure must not end the batch
            failed += 1
            import traceback
            traceback.print_exc()
            print(f'error: {path}: {type(err).__name__}: {err} (traceback above; the other '
                  'inputs go on)', file=sys.stderr)
            continue
        _report(result)
        events.output(result)
    if failed:
        print(f'{failed} of {len(paths)} input(s) failed', file=sys.stderr)
        return 1
    return 0


def error_line(path, err) -> str:
    """'error: <path>: <message>', the path once (most messages name it already)."""
    text = str(err)
    return f'error: {text}' if text.startswith(str(path)) else f'error: {path}: {text}'


def plural(n: int, word: str) -> str:
    """'1 class', '3 classes'."""
    return f'{n} {word}' if n == 1 else f'{n} {word}es' if word.endswith('s') else f'{n} {word}s'


def _report(result: dict) -> None:
    print(f'{result["input"]}: {result["width"]} × {result["height"]} px, '
          f'{result["plan"]["tiles"]} tile(s), {result["seconds"]:.1f}s'
          + ('' if result['crs'] else ' (no CRS: outputs not georeferenced)'))
    for c in result['classes']:
        area = f'  {c["area_m2"] / 1e4:10.2f} ha' if c['area_m2'] is not None else ''
        print(f'  {c["index"]:2d} {c["name"]:<24s} {100 * c["fraction"]:5.1f}%{area}')
    if result['nodata_pixels']:
        print(f'     (no data: {result["nodata_pixels"]} px)')
    print('wrote ' + ', '.join(result['outputs']))


def _dry_run(paths, classes, settings, options, args) -> int:
    from .estimates import dry_run_lines, settings_memory_bytes
    from .raster_io import opened
    slide = predictor.slide_settings(settings=settings)
    try:
        model_bytes = settings_memory_bytes(settings)
    except (FileNotFoundError, ValueError) as err:      # a --model-cfg missing or not JSON
        print(f'error: {err}', file=sys.stderr)
        return 2
    status = 0
    print(f'{plural(len(classes.classes), "class")} ({plural(len(classes.queries), "name")}): '
          + '; '.join(','.join(s) for s in classes.classes))
    for path in paths:
        try:
            with opened(path) as src:
                lines = dry_run_lines(path, src, options, slide, len(classes.classes),
                                      len(classes.queries), model_bytes, args.save_probs)
        except (ImageReadError, ValueError) as err:
            print(error_line(path, err), file=sys.stderr)
            status = 1
            continue
        print('\n'.join(lines))
    return status


if __name__ == '__main__':
    sys.exit(main())
