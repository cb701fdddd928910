"""SAR benchmark sets → the layouts of the `cfg_*_sar` configs.

    python tools/dataset_converters/sar_sets.py --dataset yeseg_sar --src /downloads/YESeg-OPT-SAR --out data/YESeg-OPT-SAR
    python tools/dataset_converters/sar_sets.py --dataset whu_sar --src /downloads/whu-opt-sar --out data/whu-opt-sar

Two kinds of conversion:
- `whu_sar` (WHU-OPT-SAR): the official labels code the classes as 10, 20, …, 70
  (farmland, city, village, water, forest, road, others); they become 1…7 (0 stays "no
  label", the config uses reduce_zero_label) and the 5556x3704 scenes are cut into 512x512
  crops (`<scene>_<x0>_<y0>.tif`, last row/column shifted back to the border) of the SAR
  image and of the label, into `crop512/<split>/sar_dir` and `crop512/<split>/ann_dir`.
  Which scenes form the test split is given by `--scenes FILE` (one scene name per line);
  without it every scene is converted.
- the others (colour or index label images): colour labels are mapped through the class
  palette of the dataset (segearth_ov/datasets/table.py; unknown colours → 255, counted),
  single-band labels are kept (values ≥ the class count → 255). SAR images are copied and
  the split list is copied from the download (or written from all converted names).
The official folder names of these releases vary between versions: the defaults below are
the folders the config reads; point --img-dir / --lbl-dir / --split at the download's own.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

BLACK, WHITE = (0, 0, 0), (255, 255, 255)


@dataclass(frozen=True)
class Spec:
    source: str
    img_dir: str        # SAR images, relative to --src and (output) to --out
    lbl_dir_in: str     # labels in the download, relative to --src
    lbl_dir: str        # labels the config reads, relative to --out
    split: str          # split list relative to --src / --out ('' = none)
    img_ext: str
    lbl_ext: str
    palette: tuple      # colour per class, label order (= the dataset table)


_DDHR_K = ((255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 0, 255), (255, 195, 128))
_DDHR_S = ((255, 195, 128), (0, 255, 0), (255, 255, 0), (255, 0, 0), (0, 0, 255))
_DDHR_X = ((255, 0, 0), (255, 255, 0), (255, 195, 128), (0, 255, 0), (0, 0, 255))
_DDHR_SRC = 'DDHRNet SAR-optical fusion dataset (Ren et al. 2022), https://github.com/XD-MG/DDHRNet'
_OEM = (BLACK, (128, 0, 0), (0, 255, 36), (148, 148, 148), WHITE, (34, 97, 38), (0, 69, 255),
        (75, 181, 73), (222, 31, 7))

SPECS = {
    'ddhrnet_korea_sar': Spec(_DDHR_SRC + ' – Korea, no_cloud', 'korea/no_cloud/sar',
                              'korea/no_cloud/label', 'korea/no_cloud/label',
                              'korea/no_cloud/val.txt', '.jpg', '.png', _DDHR_K),
    'ddhrnet_shandong_sar': Spec(_DDHR_SRC + ' – Shandong', 'shandong/sar', 'shandong/label',
                                 'shandong/label', 'shandong/val.txt', '.jpg', '.png', _DDHR_S),
    'ddhrnet_xian_sar': Spec(_DDHR_SRC + ' – Xi\'an, no_cloud', 'xian/no_cloud/sar',
                             'xian/no_cloud/label', 'xian/no_cloud/label',
                             'xian/no_cloud/val.txt', '.jpg', '.png', _DDHR_X),
    'fusar_sar': Spec('FUSAR-Map (Shi et al. 2021, Fudan Univ.), Gaofen-3 SAR, '
                      'https://github.com/fudanxu/FUSAR-Map', 'sar', 'label', 'label',
                      'test.txt', '.tif', '.png',
                      (BLACK, (0, 0, 255), WHITE, (255, 0, 0), (0, 255, 0))),
    'pie_sar': Spec('PIE-RGB-SAR (Zhang et al.), https://github.com/whu-pzhang/PIE-RGB-SAR',
                    'sar', 'label', 'label', 'val.txt', '.tif', '.tif',
                    (BLACK, (255, 0, 0), (255, 255, 0), (0, 0, 255), (0, 128, 0),
                     (255, 195, 128))),
    'yeseg_sar': Spec('YESeg-OPT-SAR (Yellow River Estuary optical-SAR set), '
                      'https://github.com/yeyuanxin110/YESeg-OPT-SAR', 'sar', 'label',
                      'cvt_label', 'test.txt', '.png', '.png',
                      ((159, 129, 183), (0, 255, 0), (0, 128, 0), (255, 0, 0), (0, 0, 255),
                       (255, 255, 0))),
    'openearthmap_sar': Spec('OpenEarthMap-SAR (DFC2025 track 1), '
                             'https://zenodo.org/records/14622048', 'test/sar_images',
                             'test/labels', 'test/labels', '', '.tif', '.tif', _OEM),
}

WHU_SAR_SOURCE = ('WHU-OPT-SAR (Li et al. 2022, MCANet), '
                  'https://github.com/AmberHen/WHU-OPT-SAR-dataset')
WHU_SAR_LAYOUT = '''<src> = the unpacked WHU-OPT-SAR release:
  <src>/sar/<scene>.tif   (single-band SAR, 5556x3704)
  <src>/lbl/<scene>.tif   (10 farmland, 20 city, 30 village, 40 water, 50 forest,
                           60 road, 70 others; 0 no label)'''


def layout(name: str, img_dir=None, lbl_dir=None, split=None) -> str:
    s = SPECS[name]
    lines = [f'<src> = the unpacked {name} download:',
             f'  <src>/{img_dir or s.img_dir}/<name>{s.img_ext}   (SAR images)',
             f'  <src>/{lbl_dir or s.lbl_dir_in}/<name>{s.lbl_ext}   (colour or index labels)']
    if s.split:
        lines.append(f'  <src>/{split or s.split}   (optional split list, one name a line)')
    return '\n'.join(lines)


def to_index(label: np.ndarray, n_classes: int, palette) -> tuple[np.ndarray, int]:
    if label.ndim == 3 and label.shape[2] >= 3 and not (
            np.array_equal(label[..., 0], label[..., 1]) and
            np.array_equal(label[..., 0], label[..., 2])):
        return C.rgb_to_index(label[..., :3], palette)
    if label.ndim == 3:
        label = label[..., 0]
    out = label.astype(np.uint8).copy()
    bad = label >= n_classes
    out[bad] = C.IGNORE
    return out, int(bad.sum())


def convert_palette_set(dataset, src, out, img_dir=None, lbl_dir=None, split=None) -> dict:
    spec = SPECS[dataset]
    lay = layout(dataset, img_dir, lbl_dir, split)
    src = C.require_dir(src, lay)
    img_in = C.require_dir(src / (img_dir or spec.img_dir), lay)
    lbl_in = C.require_dir(src / (lbl_dir or spec.lbl_dir_in), lay)
    out = Path(out)
    img_out, lbl_out = out / spec.img_dir, out / spec.lbl_dir
    C.check_output(lbl_out, img_in, lbl_in)
    in_place = img_out.resolve() == img_in.resolve()
    if not in_place:
        C.check_output(img_out, img_in, lbl_in)
    images = {p.stem: p for p in C.list_images(img_in)}
    labels = C.list_images(lbl_in)
    if not labels:
        raise C.ConverterError(f'no label images in {lbl_in}\nexpected:\n{lay}')
    counts = dict(labels=0, unknown_pixels=0, unpaired=0)
    names = []
    for lp in C.progress(labels, dataset):
        ip = images.get(lp.stem)
        if ip is None:
            counts['unpaired'] += 1
            print(f'warning: no SAR image for {lp.name}; skipped', file=sys.stderr)
            continue
        with Image.open(lp) as im:
            arr = np.asarray(im.convert('RGB') if im.mode in ('P', 'RGBA') else im)
        label, unknown = to_index(arr, len(spec.palette), spec.palette)
        counts['unknown_pixels'] += unknown
        C.save_label(label, lbl_out / f'{lp.stem}{spec.lbl_ext}', lp)
        if not in_place:
            C.convert_image(ip, img_out / f'{lp.stem}{spec.img_ext}')
        counts['labels'] += 1
        names.append(lp.stem)
    if spec.split:
        split_in, split_out = src / (split or spec.split), out / spec.split
        if split_in.is_file():
            if split_in.resolve() != split_out.resolve():
                split_out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(split_in, split_out)
            counts['split'] = 'copied'
        else:
            C.write_split(names, split_out)
            counts['split'] = 'all converted names'
    print(f'{dataset}: {counts["labels"]} labels → {lbl_out}; {counts["unknown_pixels"]} '
          f'unknown pixels set to 255; split list: {counts.get("split", "none")}')
    return counts


def convert_whu_sar(src, out, split='test', scenes=None, crop=512) -> dict:
    src = C.require_dir(src, WHU_SAR_LAYOUT)
    sar_in = C.require_dir(src / 'sar', WHU_SAR_LAYOUT)
    lbl_in = C.require_dir(src / 'lbl', WHU_SAR_LAYOUT)
    base = Path(out) / f'crop{crop}' / split
    sar_out, ann_out = base / 'sar_dir', base / 'ann_dir'
    C.check_output(sar_out, sar_in, lbl_in)
    C.check_output(ann_out, sar_in, lbl_in)
    wanted = None
    if scenes:
        wanted = {Path(n.strip()).stem for n in Path(scenes).read_text().splitlines()
                  if n.strip()}
    labels = [p for p in C.list_images(lbl_in) if wanted is None or p.stem in wanted]
    if not labels:
        raise C.ConverterError(f'no label scenes in {lbl_in}\nexpected:\n{WHU_SAR_LAYOUT}')
    counts = dict(scenes=0, crops=0, unknown_pixels=0)
    sar_out.mkdir(parents=True, exist_ok=True)
    ann_out.mkdir(parents=True, exist_ok=True)
    for lp in C.progress(labels, 'WHU-OPT-SAR'):
        sp = sar_in / lp.name
        if not sp.is_file():
            print(f'warning: no SAR scene for {lp.name}; skipped', file=sys.stderr)
            continue
        raw = C.read_gray(lp).astype(np.int64)
        label = np.full(raw.shape, C.IGNORE, np.uint8)
        valid = (raw % 10 == 0) & (raw <= 70)
        label[valid] = (raw[valid] // 10).astype(np.uint8)
        counts['unknown_pixels'] += int((~valid).sum())
        with Image.open(sp) as im:
            sar = np.asarray(im)
        for x0, y0, x1, y1 in C.crop_boxes(*label.shape, crop, crop):
            name = f'{lp.stem}_{x0}_{y0}.tif'
            Image.fromarray(np.ascontiguousarray(sar[y0:y1, x0:x1])).save(sar_out / name)
            C.save_label(label[y0:y1, x0:x1], ann_out / name)
            counts['crops'] += 1
        counts['scenes'] += 1
    print(f'WHU-OPT-SAR: {counts["scenes"]} scenes → {counts["crops"]} crops in {base}')
    return counts


def main(argv=None):
    p = argparse.ArgumentParser(
        description='Convert the SAR segmentation sets to the layouts of the SAR configs.',
        epilog='\n'.join(f'{n}: {s.source}\n  --out data/<the config\'s root>\n  ' +
                         layout(n).replace('\n', '\n  ') for n, s in SPECS.items()) +
        f'\nwhu_sar: {WHU_SAR_SOURCE}\n  --out data/whu-opt-sar\n  ' +
        WHU_SAR_LAYOUT.replace('\n', '\n  ') + '\n\n' + __doc__.split('\n\n', 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', required=True, choices=sorted(SPECS) + ['whu_sar'])
    p.add_argument('--src', required=True, help='the unpacked official download')
    p.add_argument('--out', required=True, help='output root (the config\'s data root)')
    p.add_argument('--img-dir', help='SAR image folder relative to --src')
    p.add_argument('--lbl-dir', help='label folder relative to --src')
    p.add_argument('--split', help='split list relative to --src')
    p.add_argument('--scenes', help='whu_sar: file listing the scenes of the split')
    p.add_argument('--crop', type=int, default=512, help='whu_sar: crop size (default 512)')
    a = p.parse_args(argv)
    if a.dataset == 'whu_sar':
        convert_whu_sar(a.src, a.out, scenes=a.scenes, crop=a.crop)
    else:
        convert_palette_set(a.dataset, a.src, a.out, a.img_dir, a.lbl_dir, a.split)


if __name__ == '__main__':
    C.run_main(main)
