#!/usr/bin/env python
"""Build SAR-OVSeg from the converted SAR sets: remapped labels, tiles, splits, statistics.

    python tools/sar_ovseg/build.py --data-root data --out data/SAR-OVSeg [--tile 512]
                                    [--val-fraction 0.1] [--sources whu_sar,pie_sar]

Reads each source of segearth_ov/datasets/sar_ovseg_taxonomy.json in its converted layout
(tools/dataset_converters/sar_sets.py, hrsid.py) under --data-root; a source that is not
there is skipped with one line saying what is missing. Writes under --out:

    img/<source>/<name>_<y>_<x>.tif        image tiles, the source's own sample type
    ann_l1/<source>/<name>_<y>_<x>.png     labels in the level-1 taxonomy (255 = ignore)
    ann_l2/<source>/<name>_<y>_<x>.png     labels in the level-2 taxonomy
    splits/<source>/{train,val,test}.txt   tiles of each source (`<source>/<tile>` lines)
    splits/all/{train,val,test}.txt        all sources together
    splits/lodo/<source>/{train,val,test}.txt   leave-one-dataset-out: train/val on the
                                           other sources, test on this one's test split
    stats.json, stats.csv, long_tail.png   images and pixels per class and source

Splits: the source's official test list (or its test folder) stays test; its other labelled
images go to train or val by a stable hash of the image name (`--val-fraction`). Tiles keep
the split of their image. Images up to the tile size are kept whole; larger ones are cut into
a grid whose last row/column is shifted back inside the image. Sources are only read; files
whose content would not change are not rewritten, so a second run changes nothing.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


SPLITS = ('train', 'val', 'test')


# ---------------------------------------------------------------- writing
def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` atomically unless `path` already holds exactly it. True if written."""
    if path.exists() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    from segearth_ov.utils.files import write_bytes_atomic
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data)
    return True


def tiff_bytes(img: np.ndarray) -> bytes:
    import tifffile
    buf = io.BytesIO()
    tifffile.imwrite(buf, img, compression='zlib', metadata=None)
    return buf.getvalue()


def png_bytes(label: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(label, mode='L').save(buf, format='PNG', optimize=False)
    return buf.getvalue()


# ---------------------------------------------------------------- reading
def read_raw(path: Path) -> np.ndarray:
    """The file's samples unchanged: all bands at their own bit depth, RGB… order."""
    from segearth_ov.utils.images import decode_unchanged
    arr = decode_unchanged(path.read_bytes(), str(path))
    if arr is None:
        raise ValueError(f'cannot decode {path}; is it an image file?')
    return arr


def read_label(path: Path) -> np.ndarray:
    """A single-band index label (palette PNGs by their indices)."""
    from PIL import Image
    if path.suffix.lower() in ('.tif', '.tiff'):
        import tifffile
        arr = tifffile.imread(path)
    else:
        with Image.open(path) as im:
            arr = np.asarray(im)
    if arr.ndim == 3:
        raise ValueError(f'{path}: label has {arr.shape[2]} bands; SAR-OVSeg reads the '
                         'single-band index labels the converters write '
                         '(tools/dataset_converters/sar_sets.py)')
    return arr


# ---------------------------------------------------------------- sources
def list_names(folder: Path, ext: str) -> list[str]:
    return sorted(p.name[:-len(ext)] for p in folder.iterdir()
                  if p.is_file() and p.name.endswith(ext))


def source_pairs(data_root: Path, key: str, spec: dict):
    """[(name, img path, label path, split)] of one source, or a string saying what is missing."""
    root = data_root / spec['root']
    img_dir, lbl_dir = root / spec['img_dir'], root / spec['lbl_dir']
    for need in (root, img_dir, lbl_dir):
        if not need.is_dir():
            return f'{need} not found'
    ie, le = spec['img_ext'], spec['lbl_ext']
    labelled = set(list_names(lbl_dir, le))
    images = [n for n in list_names(img_dir, ie) if n in labelled]
    if spec['split_file']:
        split_path = root / spec['split_file']
        if not split_path.is_file():
            return f'{split_path} not found'
        test = {ln.strip() for ln in split_path.read_text().splitlines() if ln.strip()}
    else:                                  # a separate test folder: everything here is test
        test = set(images)
    pairs = [(n, img_dir / f'{n}{ie}', lbl_dir / f'{n}{le}',
              'test' if n in test else None) for n in images]
    if spec.get('train_img_dir'):          # a separate training folder (OEM-SAR, WHU-SAR)
        t_img, t_lbl = root / spec['train_img_dir'], root / spec['train_lbl_dir']
        if t_img.is_dir() and t_lbl.is_dir():
            t_labelled = set(list_names(t_lbl, le))
            pairs += [(n, t_img / f'{n}{ie}', t_lbl / f'{n}{le}', None)
                      for n in list_names(t_img, ie) if n in t_labelled and n not in test]
    if not pairs:
        return f'no image with a label in {img_dir} and {lbl_dir}'
    return pairs


def train_or_val(name: str, val_fraction: float) -> str:
    """A stable split of a non-test image: the same name always goes the same way."""
    h = int(hashlib.sha1(name.encode('utf-8')).hexdigest()[:8], 16) / 0xFFFFFFFF
    return 'val' if h < val_fraction else 'train'


def tile_origins(size: int, tile: int) -> list[int]:
    """Tile starts along one axis: a grid of `tile`, the last one shifted back to the border."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile + 1, tile))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


# ---------------------------------------------------------------- build
def build(data_root, out, tile: int = 512, val_fraction: float = 0.1, sources=None,
          taxonomy=None, log=print, progress: bool = True) -> dict:
    """Build SAR-OVSeg; returns the statistics (also written to `out`)."""
    from segearth_ov.datasets.sar_ovseg import load_taxonomy
    tax = taxonomy or load_taxonomy()
    data_root, out = Path(data_root), Path(out)
    if out.resolve() == data_root.resolve():
        raise SystemExit('--out must differ from --data-root (sources are never overwritten)')
    keys = list(tax.sources) if not sources else list(sources)
    unknown = [k for k in keys if k not in tax.sources]
    if unknown:
        raise SystemExit(f'unknown source(s) {", ".join(unknown)}; known: '
                         f'{", ".join(tax.sources)}')
    lists = {k: {s: [] for s in SPLITS} for k in keys}
    stats = {'tile': tile, 'sources': {}, 'skipped': {}}
    built = []
    try:
        from tqdm import tqdm
    except ImportError:            # progress bars are optional
        tqdm = None
    written = 0
    for key in keys:
        pairs = source_pairs(data_root, key, tax.sources[key])
        if isinstance(pairs, str):
            log(f'skip {key}: {pairs} (convert it with tools/dataset_converters/, see '
                'docs/evaluation.md)')
            stats['skipped'][key] = pairs
            continue
        built.append(key)
        luts = {lv: tax.lookup_table(key, lv) for lv in (1, 2)}
        src_stats = {'images': {s: 0 for s in SPLITS}, 'tiles': {s: 0 for s in SPLITS},
                     'pixels': {lv: defaultdict(int) for lv in (1, 2)},
                     'images_with': {lv: defaultdict(int) for lv in (1, 2)}}
        it = pairs if (tqdm is None or not progress) else tqdm(pairs, desc=key, unit='img')
        for name, img_path, lbl_path, split in it:
            split = split or train_or_val(name, val_fraction)
            img, raw = read_raw(img_path), read_label(lbl_path)
            if img.shape[:2] != raw.shape[:2]:
                raise ValueError(f'{img_path} is {img.shape[:2]} but its label {lbl_path} is '
                                 f'{raw.shape[:2]}; re-run the converter for {key}')
            src_stats['images'][split] += 1
            levels = {lv: tax.remap(raw, key, lv) for lv in (1, 2)}
            for lv, lab in levels.items():
                counts = np.bincount(lab.ravel(), minlength=256)
                for idx in np.nonzero(counts[:255])[0]:
                    cls = tax.classes(lv)[idx]
                    src_stats['pixels'][lv][cls] += int(counts[idx])
                    src_stats['images_with'][lv][cls] += 1
            h, w = raw.shape[:2]
            for y in tile_origins(h, tile):
                for x in tile_origins(w, tile):
                    tname = f'{name}_{y}_{x}'
                    win = (slice(y, y + tile), slice(x, x + tile))
                    written += write_if_changed(out / 'img' / key / f'{tname}.tif',
                                                tiff_bytes(np.ascontiguousarray(img[win])))
                    for lv, lab in levels.items():
                        written += write_if_changed(out / f'ann_l{lv}' / key / f'{tname}.png',
                                                    png_bytes(np.ascontiguousarray(lab[win])))
                    lists[key][split].append(f'{key}/{tname}')
                    src_stats['tiles'][split] += 1
        src_stats['finest_level'] = tax.finest_level(key)
        for lv in (1, 2):
            src_stats['pixels'][lv] = dict(src_stats['pixels'][lv])
            src_stats['images_with'][lv] = dict(src_stats['images_with'][lv])
        stats['sources'][key] = src_stats
        log(f'{key}: ' + ', '.join(f'{s} {src_stats["images"][s]} images / '
                                    f'{src_stats["tiles"][s]} tiles' for s in SPLITS))

    def put_list(path: Path, names):
        nonlocal written
        written += write_if_changed(path, ''.join(f'{n}\n' for n in sorted(names)).encode())

    for key in built:
        for s in SPLITS:
            put_list(out / 'splits' / key / f'{s}.txt', lists[key][s])
    if built:
        for s in SPLITS:
            put_list(out / 'splits' / 'all' / f'{s}.txt',
                     [n for k in built for n in lists[k][s]])
        for held in built:
            others = [k for k in built if k != held]
            put_list(out / 'splits' / 'lodo' / held / 'train.txt',
                     [n for k in others for n in lists[k]['train']])
            put_list(out / 'splits' / 'lodo' / held / 'val.txt',
                     [n for k in others for n in lists[k]['val']])
            put_list(out / 'splits' / 'lodo' / held / 'test.txt', lists[held]['test'])
    stats['totals'] = totals(stats, tax)
    written += write_stats(out, stats, tax)
    print_stats(stats, tax, log)
    log(f'{written} file(s) written under {out}' + ('' if written else
                                                     ' (everything was up to date)'))
    stats['files_written'] = written
    return stats


def totals(stats: dict, tax) -> dict:
    out = {}
    for lv in (1, 2):
        pix = {c: sum(s['pixels'][lv].get(c, 0) for s in stats['sources'].values())
               for c in tax.classes(lv)}
        imgs = {c: sum(s['images_with'][lv].get(c, 0) for s in stats['sources'].values())
                for c in tax.classes(lv)}
        out[f'level{lv}'] = {'pixels': pix, 'images': imgs}
    out['images'] = sum(sum(s['images'].values()) for s in stats['sources'].values())
    out['tiles'] = sum(sum(s['tiles'].values()) for s in stats['sources'].values())
    return out


def write_stats(out: Path, stats: dict, tax) -> int:
    """stats.json, stats.csv (one row per source × level × class), long_tail.png."""
    n = write_if_changed(out / 'stats.json',
                         (json.dumps(stats, indent=1, sort_keys=True) + '\n').encode())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    w.writerow(['source', 'level', 'class', 'images', 'pixels'])
    for key, s in stats['sources'].items():
        for lv in (1, 2):
            for c in tax.classes(lv):
                w.writerow([key, lv, c, s['images_with'][lv].get(c, 0),
                            s['pixels'][lv].get(c, 0)])
    n += write_if_changed(out / 'stats.csv', buf.getvalue().encode())
    if stats['sources']:
        n += write_if_changed(out / 'long_tail.png', long_tail_png(stats, tax))
    return n


def long_tail_png(stats: dict, tax) -> bytes:
    """Level-2 pixel counts, sorted descending and stacked by source (log scale)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    pix = stats['totals']['level2']['pixels']
    order = sorted(pix, key=lambda c: -pix[c])
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    bottom = np.zeros(len(order))
    for key, s in stats['sources'].items():
        vals = np.array([s['pixels'][2].get(c, 0) for c in order], float)
        ax.bar(order, vals, bottom=bottom, label=key)
        bottom += vals
    ax.set_yscale('symlog')
    ax.set_ylabel('labelled pixels (level 2)')
    ax.set_title('SAR-OVSeg class distribution')
    ax.tick_params(axis='x', rotation=45)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', metadata={'Software': None})
    plt.close(fig)
    return buf.getvalue()


def print_stats(stats: dict, tax, log=print) -> None:
    t = stats['totals']
    log(f'SAR-OVSeg: {t["images"]} images, {t["tiles"]} tiles from '
        f'{len(stats["sources"])} source(s)')
    for lv in (1, 2):
        log(f'level {lv}: ' + ', '.join(f'{c} {t[f"level{lv}"]["pixels"][c]} px / '
                                        f'{t[f"level{lv}"]["images"][c]} img'
                                        for c in tax.classes(lv)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data-root', default='data', help='where the converted SAR sets are')
    p.add_argument('--out', default='data/SAR-OVSeg', help='the benchmark folder to write')
    p.add_argument('--tile', type=int, default=512, help='tile side in pixels (default 512)')
    p.add_argument('--val-fraction', type=float, default=0.1,
                   help='share of non-test images that go to val (default 0.1)')
    p.add_argument('--sources', default='', help='comma-separated subset of the sources')
    p.add_argument('--no-progress', action='store_true')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.tile < 32:
        raise SystemExit(f'--tile {args.tile} is too small; use 32 or more (default 512)')
    if not 0 <= args.val_fraction < 1:
        raise SystemExit('--val-fraction must be in [0, 1)')
    sources = [s for s in args.sources.split(',') if s] or None
    stats = build(args.data_root, args.out, args.tile, args.val_fraction, sources,
                  progress=not args.no_progress)
    return 0 if stats['sources'] else 1


if __name__ == '__main__':
    sys.exit(main())
