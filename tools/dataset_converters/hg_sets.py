"""The four datasets HG-RSOVSSeg adds (paper §4.1): Globe230k, GID Large, FLAIR #1, LandCover.ai.

    python tools/dataset_converters/hg_sets.py --dataset gid_large --src /downloads/GID --out data/GID_Large

Each writes `<out>/img_dir/<split>/<name>.png` (RGB) and `<out>/ann_dir/<split>/<name>.png`
(single-band class indices, background = 0, which the HG configs ignore), the layout of the
`configs/hg_rsovsseg/` dataset files. Images keep only their red, green and blue bands
(§4.1). Large scenes are cut into 512×512 tiles (GID Large: non-overlapping, the last
row/column shifted back to end at the border; LandCover.ai: the official split.py's tiling,
edge remainders dropped and tiles numbered row by row, so the official split lists apply).
The download folders are only read.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

TILE = 512

# GID-5 colour labels → class index (black: unlabelled → background 0)
GID_COLOURS = {(0, 0, 0): 0, (255, 0, 0): 1, (0, 255, 0): 2, (0, 255, 255): 3,
               (255, 255, 0): 4, (0, 0, 255): 5}
FLAIR_KEPT = 12        # FLAIR #1 mask codes 1..12 are the paper's classes; 13..19 → background
GLOBE_CLASSES = 10     # Globe230k: 0 background, 1..10 classes

SETS = {
    'globe230k': ('Globe230k (Shi et al. 2023, Journal of Remote Sensing), Zenodo release',
                  '''<src>/images/<name>.<ext>      (512×512 RGB tiles)
  <src>/labels/<name>.png       (class indices 0..10, 0 = background)
  <src>/train.txt, <src>/val.txt and/or <src>/test.txt (one name per line, without suffix)'''),
    'gid_large': ('GID Large / GID-5 (Tong et al. 2020), https://x-ytong.github.io/project/GID.html',
                  '''<src>/image_RGB/<scene>.tif               (150 Gaofen-2 scenes, 7200×6800)
  <src>/label_5classes/<scene>_label.tif     (RGB colour labels)'''),
    'flair1': ('FLAIR #1 (Garioud et al. 2023, IGN), https://ignf.github.io/FLAIR/',
               '''<src>/**/IMG_<id>.tif   (5 bands: R, G, B, NIR, elevation; 512×512)
  <src>/**/MSK_<id>.tif   (codes 1..19); folders whose path contains "test" are the test split'''),
    'landcover_ai': ('LandCover.ai v1 (Boguszewski et al. 2021), https://landcover.ai.linuxpolska.com/',
                     '''<src>/images/<name>.tif, <src>/masks/<name>.tif (codes 0..4)
  <src>/train.txt, <src>/val.txt, <src>/test.txt (the official tile lists, e.g. M-33-20-D-c-4-2_0)'''),
}


def read_rgb_bands(path) -> np.ndarray:
    """The first three bands of an image as H×W×3 uint8 (rasterio for multi-band GeoTIFFs)."""
    path = Path(path)
    if path.suffix.lower() in ('.tif', '.tiff'):
        import rasterio
        with rasterio.open(path) as src:
            if src.count < 3:
                raise C.ConverterError(f'{path}: {src.count} band(s), expected ≥ 3 (R, G, B first)')
            arr = src.read([1, 2, 3])
        if arr.dtype != np.uint8:
            raise C.ConverterError(f'{path}: {arr.dtype} samples; expected 8-bit RGB')
        return np.ascontiguousarray(arr.transpose(1, 2, 0))
    return C.read_rgb(path)


def read_index(path) -> np.ndarray:
    arr = C.read_label(path)
    if arr.ndim == 3:
        raise C.ConverterError(f'{path}: an RGB label; expected single-band class indices')
    return arr


def save_rgb(arr: np.ndarray, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(dst)


def tiles(h: int, w: int, size: int = TILE):
    """Non-overlapping size×size windows; the last row/column shifted back to the border."""
    return C.crop_boxes(h, w, size, size)


def official_landcover_tiles(h: int, w: int, size: int = TILE):
    """LandCover.ai split.py: row-major size×size tiles, incomplete edge tiles dropped."""
    return [(x, y, x + size, y + size) for y in range(0, h - size + 1, size)
            for x in range(0, w - size + 1, size)]


def _write(out: Path, split: str, name: str, img: np.ndarray, lab: np.ndarray) -> None:
    save_rgb(img, out / 'img_dir' / split / f'{name}.png')
    C.save_label(lab, out / 'ann_dir' / split / f'{name}.png')


def _read_list(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


# ------------------------------------------------------------------ converters
def convert_gid_large(src, out, val_list=None, every=5) -> dict:
    """GID Large: 512² tiles; 30 of the 150 scenes for validation (paper §4.1).

    The paper does not list its 30 scenes: by default every `every`-th scene in name order
    (indices 4, 9, …) is validation; `val_list` (one scene name per line) overrides.
    """
    src = C.require_dir(src, SETS['gid_large'][1])
    out = C.check_output(out, src)
    images = C.list_images(C.require_dir(src / 'image_RGB', SETS['gid_large'][1]), ('.tif',))
    labels = src / 'label_5classes'
    names = [p.stem for p in images]
    val = set(_read_list(Path(val_list))) if val_list else \
        {n for i, n in enumerate(names) if i % every == every - 1}
    counts = dict(train=0, val=0, unknown_colour_pixels=0)
    for path in C.progress(images, 'GID Large'):
        lab_path = labels / f'{path.stem}_label.tif'
        if not lab_path.is_file():
            raise C.ConverterError(f'label not found for {path.name}: {lab_path}')
        img = read_rgb_bands(path)
        lab, unknown = C.rgb_to_index(read_rgb_bands(lab_path), GID_COLOURS, unknown=0)
        counts['unknown_colour_pixels'] += unknown
        split = 'val' if path.stem in val else 'train'
        for x0, y0, x1, y1 in tiles(*lab.shape):
            _write(out, split, f'{path.stem}_{y0}_{x0}', img[y0:y1, x0:x1], lab[y0:y1, x0:x1])
            counts[split] += 1
    print(f'GID Large: {counts["train"]} train / {counts["val"]} val tiles → {out}')
    return counts


def convert_flair1(src, out) -> dict:
    """FLAIR #1: RGB of IMG_*.tif; MSK codes 1..12 kept, 13..19 (and 0) → background 0."""
    src = C.require_dir(src, SETS['flair1'][1])
    out = C.check_output(out, src)
    masks = {p.stem[4:]: p for p in src.rglob('MSK_*.tif')}
    images = sorted(src.rglob('IMG_*.tif'))
    if not images:
        raise C.ConverterError(f'no IMG_*.tif under {src}\nexpected:\n{SETS["flair1"][1]}')
    counts = dict(train=0, val=0, missing_masks=0)
    for path in C.progress(images, 'FLAIR #1'):
        ident = path.stem[4:]
        if ident not in masks:
            counts['missing_masks'] += 1
            continue
        code = _read_tif_band(masks[ident])
        lab = np.where(code <= FLAIR_KEPT, code, 0).astype(np.uint8)
        split = 'val' if 'test' in str(path.relative_to(src)).lower() else 'train'
        _write(out, split, path.stem, read_rgb_bands(path), lab)
        counts[split] += 1
    print(f'FLAIR #1: {counts["train"]} train / {counts["val"]} test images → {out}; '
          f'{counts["missing_masks"]} without a mask')
    return counts


def _read_tif_band(path) -> np.ndarray:
    import rasterio
    with rasterio.open(path) as src:
        return src.read(1)


def convert_landcover_ai(src, out) -> dict:
    """LandCover.ai: the official tiles and split lists; mask codes 0..4 kept."""
    src = C.require_dir(src, SETS['landcover_ai'][1])
    out = C.check_output(out, src)
    lists = {s: set(_read_list(src / f'{s}.txt')) for s in ('train', 'val', 'test')
             if (src / f'{s}.txt').is_file()}
    if not lists:
        raise C.ConverterError(f'no train.txt/val.txt/test.txt in {src}')
    counts = {s: 0 for s in lists}
    for path in C.progress(C.list_images(src / 'images', ('.tif',)), 'LandCover.ai'):
        img = read_rgb_bands(path)
        lab = _read_tif_band(src / 'masks' / path.name)
        for k, (x0, y0, x1, y1) in enumerate(official_landcover_tiles(*lab.shape)):
            name = f'{path.stem}_{k}'
            for split, names in lists.items():
                if name in names:
                    _write(out, split, name, img[y0:y1, x0:x1], lab[y0:y1, x0:x1])
                    counts[split] += 1
    print('LandCover.ai: ' + ', '.join(f'{v} {k}' for k, v in counts.items()) + f' tiles → {out}')
    return counts


def convert_globe230k(src, out) -> dict:
    """Globe230k: 512² tiles copied as PNG; label values above 10 → 255 (ignored), counted."""
    src = C.require_dir(src, SETS['globe230k'][1])
    out = C.check_output(out, src)
    lists = {s: _read_list(src / f'{s}.txt') for s in ('train', 'val', 'test')
             if (src / f'{s}.txt').is_file()}
    if not lists:
        raise C.ConverterError(f'no train.txt/val.txt/test.txt in {src}\nexpected:\n'
                               f'{SETS["globe230k"][1]}')
    by_stem = {p.stem: p for p in C.list_images(src / 'images')}
    counts = {s: 0 for s in lists} | {'missing': 0, 'out_of_range_pixels': 0}
    for split, names in lists.items():
        for name in C.progress(names, f'Globe230k {split}'):
            img_path, lab_path = by_stem.get(name), src / 'labels' / f'{name}.png'
            if img_path is None or not lab_path.is_file():
                counts['missing'] += 1
                continue
            lab = read_index(lab_path).copy()
            bad = lab > GLOBE_CLASSES
            lab[bad] = C.IGNORE
            counts['out_of_range_pixels'] += int(bad.sum())
            _write(out, split, name, read_rgb_bands(img_path), lab)
            counts[split] += 1
    print('Globe230k: ' + ', '.join(f'{v} {k}' for k, v in counts.items()) + f' → {out}')
    return counts


def main(argv=None, dataset=None):
    names = [dataset] if dataset else sorted(SETS)
    doc = __doc__ if dataset is None else f'{dataset} → HG-RSOVSSeg layout.\n\n' + __doc__
    src_doc = '; '.join(SETS[n][0] for n in names)
    p = C.parser(doc, src_doc, '\n'.join(f'{n}:\n  {SETS[n][1]}' for n in names))
    if dataset is None:
        p.add_argument('--dataset', required=True, choices=sorted(SETS))
    p.add_argument('--src', required=True, help='the unpacked official download')
    p.add_argument('--out', required=True, help='output folder, e.g. data/GID_Large')
    if dataset in (None, 'gid_large'):
        p.add_argument('--val-list', help='GID Large: scene names for validation (default: '
                       'every 5th scene in name order, 30 of 150)')
    a = p.parse_args(argv)
    name = dataset or a.dataset
    if name == 'gid_large':
        return convert_gid_large(a.src, a.out, getattr(a, 'val_list', None))
    return {'flair1': convert_flair1, 'landcover_ai': convert_landcover_ai,
            'globe230k': convert_globe230k}[name](a.src, a.out)


if __name__ == '__main__':
    C.run_main(main)
