"""The four datasets HG-RSOVSSeg adds (paper §4.1): Globe230k, GID Large, FLAIR #1, LandCover.ai.

    python tools/dataset_converters/hg_sets.py --dataset gid_large --src /downloads/GID --out data/GID_Large

Each writes `<out>/img_dir/<split>/<name>.png` (RGB) and `<out>/ann_dir/<split>/<name>.png`
(single-band class indices, background = 0, which the HG configs ignore), the layout of the
`configs/hg_rsovsseg/` dataset files. Images keep only their red, green and blue bands
(§4.1). Large scenes are cut into 512×512 tiles (GID Large: non-overlapping, the last
row/column shifted back to end at the border; LandCover.ai: the official split.py's tiling,
so the official split lists apply: 512×512 windows row by row, numbered by a counter that
advances for *every* window, incomplete edge windows included, which are then dropped).
A colour or value that maps to no class is an error past --max-unknown of a file's pixels;
every run ends with a summary (files written, pixels per class, files skipped and why).
The download folders are only read.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import common as C  # noqa: E402

TILE = 512

# GID-5 colour labels → class index (black: unlabelled → background 0)
GID_COLOURS = {(0, 0, 0): 0, (255, 0, 0): 1, (0, 255, 0): 2, (0, 255, 255): 3,
               (255, 255, 0): 4, (0, 0, 255): 5}
FLAIR_KEPT = 12        # FLAIR #1 mask codes 1..12 are the paper's classes; 13..19 → background
GLOBE_CLASSES = 10     # Globe230k: 0 background, 1..10 classes
FLAIR_CODES = 19       # FLAIR #1 masks: codes 1..19
LANDCOVER_CLASSES = ('background', 'building', 'woodland', 'water', 'road')   # codes 0..4
GID_CLASSES = ('background', 'built-up', 'farmland', 'forest', 'meadow', 'water')

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
    """LandCover.ai's split.py (shipped in landcover.ai.v1.zip): (k, (x0, y0, x1, y1)) of
    the tiles it writes as `<image>_<k>`. It walks size×size windows row by row from (0, 0)
    and advances k for every window, then keeps only complete ones — so the k of a tile
    skips the incomplete window at the end of each row (and the last row's)."""
    k, out = 0, []
    for y in range(0, h, size):
        for x in range(0, w, size):
            if y + size <= h and x + size <= w:
                out.append((k, (x, y, x + size, y + size)))
            k += 1
    return out


def _write(out: Path, split: str, name: str, img: np.ndarray, lab: np.ndarray,
           log: C.LabelSummary) -> None:
    save_rgb(img, out / 'img_dir' / split / f'{name}.png')
    log.save(lab, out / 'ann_dir' / split / f'{name}.png')


def _read_list(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


# ------------------------------------------------------------------ converters
def convert_gid_large(src, out, val_list=None, every=5, max_unknown=C.MAX_UNKNOWN) -> dict:
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
    log = C.LabelSummary('GID Large', GID_CLASSES, max_unknown)
    counts = dict(train=0, val=0)
    for path in C.progress(images, 'GID Large'):
        lab_path = labels / f'{path.stem}_label.tif'
        if not lab_path.is_file():
            raise C.ConverterError(f'label not found for {path.name}: {lab_path}')
        img = read_rgb_bands(path)
        lab, unknown = C.rgb_to_index(read_rgb_bands(lab_path), GID_COLOURS)
        log.check(lab_path, unknown, lab.size)
        split = 'val' if path.stem in val else 'train'
        for x0, y0, x1, y1 in tiles(*lab.shape):
            _write(out, split, f'{path.stem}_{y0}_{x0}', img[y0:y1, x0:x1], lab[y0:y1, x0:x1],
                   log)
            counts[split] += 1
    counts |= log.finish()
    print(f'GID Large: {counts["train"]} train / {counts["val"]} val tiles → {out}')
    return counts


def convert_flair1(src, out, max_unknown=C.MAX_UNKNOWN) -> dict:
    """FLAIR #1: RGB of IMG_*.tif; MSK codes 1..12 kept, 13..19 → background 0."""
    src = C.require_dir(src, SETS['flair1'][1])
    out = C.check_output(out, src)
    masks = {p.stem[4:]: p for p in src.rglob('MSK_*.tif')}
    images = sorted(src.rglob('IMG_*.tif'))
    if not images:
        raise C.ConverterError(f'no IMG_*.tif under {src}\nexpected:\n{SETS["flair1"][1]}')
    log = C.LabelSummary('FLAIR #1', max_unknown=max_unknown)
    coding = {c: (c if c <= FLAIR_KEPT else 0) for c in range(1, FLAIR_CODES + 1)}
    counts = dict(train=0, val=0)
    for path in C.progress(images, 'FLAIR #1'):
        ident = path.stem[4:]
        if ident not in masks:
            log.skip(path, f'no mask MSK_{ident}.tif')
            continue
        lab, unknown = C.values_to_index(_read_tif_band(masks[ident]), coding)
        log.check(masks[ident], unknown, lab.size)
        split = 'val' if 'test' in str(path.relative_to(src)).lower() else 'train'
        _write(out, split, path.stem, read_rgb_bands(path), lab, log)
        counts[split] += 1
    counts |= log.finish()
    print(f'FLAIR #1: {counts["train"]} train / {counts["val"]} test images → {out}')
    return counts


def _read_tif_band(path) -> np.ndarray:
    import rasterio
    with rasterio.open(path) as src:
        return src.read(1)


def convert_landcover_ai(src, out, max_unknown=C.MAX_UNKNOWN) -> dict:
    """LandCover.ai: the official tiles and split lists; mask codes 0..4 kept."""
    src = C.require_dir(src, SETS['landcover_ai'][1])
    out = C.check_output(out, src)
    lists = {s: set(_read_list(src / f'{s}.txt')) for s in ('train', 'val', 'test')
             if (src / f'{s}.txt').is_file()}
    if not lists:
        raise C.ConverterError(f'no train.txt/val.txt/test.txt in {src}')
    log = C.LabelSummary('LandCover.ai', LANDCOVER_CLASSES, max_unknown)
    counts = {s: 0 for s in lists}
    for path in C.progress(C.list_images(src / 'images', ('.tif',)), 'LandCover.ai'):
        mask = src / 'masks' / path.name
        if not mask.is_file():
            log.skip(path, f'no mask {mask}')
            continue
        img = read_rgb_bands(path)
        lab, unknown = C.values_to_index(_read_tif_band(mask), len(LANDCOVER_CLASSES))
        log.check(mask, unknown, lab.size)
        for k, (x0, y0, x1, y1) in official_landcover_tiles(*lab.shape):
            name = f'{path.stem}_{k}'
            for split, names in lists.items():
                if name in names:
                    _write(out, split, name, img[y0:y1, x0:x1], lab[y0:y1, x0:x1], log)
                    counts[split] += 1
    counts |= log.finish()
    print('LandCover.ai: ' + ', '.join(f'{counts[s]} {s}' for s in lists) + f' tiles → {out}')
    return counts


def convert_globe230k(src, out, max_unknown=C.MAX_UNKNOWN) -> dict:
    """Globe230k: 512² tiles copied as PNG; label values 0..10 kept."""
    src = C.require_dir(src, SETS['globe230k'][1])
    out = C.check_output(out, src)
    lists = {s: _read_list(src / f'{s}.txt') for s in ('train', 'val', 'test')
             if (src / f'{s}.txt').is_file()}
    if not lists:
        raise C.ConverterError(f'no train.txt/val.txt/test.txt in {src}\nexpected:\n'
                               f'{SETS["globe230k"][1]}')
    by_stem = {p.stem: p for p in C.list_images(src / 'images')}
    log = C.LabelSummary('Globe230k', max_unknown=max_unknown)
    counts = {s: 0 for s in lists}
    for split, names in lists.items():
        for name in C.progress(names, f'Globe230k {split}'):
            img_path, lab_path = by_stem.get(name), src / 'labels' / f'{name}.png'
            if img_path is None or not lab_path.is_file():
                log.skip(name, f'listed in {split}.txt, but no image or no labels/{name}.png')
                continue
            lab, unknown = C.values_to_index(read_index(lab_path), GLOBE_CLASSES + 1)
            log.check(lab_path, unknown, lab.size)
            _write(out, split, name, read_rgb_bands(img_path), lab, log)
            counts[split] += 1
    counts |= log.finish()
    print('Globe230k: ' + ', '.join(f'{counts[s]} {s}' for s in lists) + f' → {out}')
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
    C.add_max_unknown(p)
    if dataset in (None, 'gid_large'):
        p.add_argument('--val-list', help='GID Large: scene names for validation (default: '
                       'every 5th scene in name order, 30 of 150)')
    a = p.parse_args(argv)
    name = dataset or a.dataset
    if name == 'gid_large':
        return convert_gid_large(a.src, a.out, getattr(a, 'val_list', None),
                                 max_unknown=a.max_unknown)
    return {'flair1': convert_flair1, 'landcover_ai': convert_landcover_ai,
            'globe230k': convert_globe230k}[name](a.src, a.out, max_unknown=a.max_unknown)


if __name__ == '__main__':
    C.run_main(main)
