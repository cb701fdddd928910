"""SAR benchmark sets → the layouts of the `cfg_*_sar` configs.

    python tools/dataset_converters/sar_sets.py --dataset yeseg_sar --src /downloads/YESeg-OPT-SAR --out data/YESeg-OPT-SAR
    python tools/dataset_converters/sar_sets.py --dataset whu_sar --src /downloads/whu-opt-sar --out data/whu-opt-sar

Two kinds of conversion:
- `whu_sar` (WHU-OPT-SAR): the official labels code the classes as 10, 20, …, 70
  (farmland, city, village, water, forest, road, others); they become 1…7 (0 stays "no
  label", the config uses reduce_zero_label) and the 5556x3704 scenes are cut into 512x512
  crops (`<scene>_<x0>_<y0>.tif`, last row/column shifted back to the border) of the SAR
  image and of the label, into `crop512/<split>/sar_dir` and `crop512/<split>/ann_dir`.
  The scenes converted are those of `--scenes FILE` (one scene name per line); the default
  is the shipped `whu_sar_test_scenes.txt` (the 20 test scenes of the published 80/20
  split); `--scenes all` converts all 100.
- the others (index or colour label images): index labels (single-band, or palette PNGs,
  read by their indices) are kept, or remapped where the official coding differs from the
  config's (YESeg-OPT-SAR: official 1…6 → 0…5, 0 background and 7 other → 255); values
  outside the classes → 255. Colour (RGB) labels are mapped through the class palette of
  the dataset (segearth_ov/datasets/table.py; unknown colours → 255, counted). SAR images
  are copied; nested `<region>/<name>` files are flattened to `<region>_<name>`. The split
  list is read from the download (one name per line, or DDHRNet's `valM_list.txt` lines
  "GF2/x.jpg GF3/x.jpg label/x.png": the label's name is taken) and written as one name per
  line, or written from all converted names when the download has none.
Folder names: the defaults are the config's own folders; where the official release names
them differently (DDHRNet: `GF3` for the SAR images, `valM_list.txt`), those are used when the
config's are absent. --img-dir / --lbl-dir / --split point at any other names.
"""
from __future__ import annotations

import argparse
import os
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
    img_dir_alt: str = ''   # the official release's SAR folder when it is not img_dir
    split_alt: str = ''     # the official release's split list when it is not split
    index_map: tuple = ()   # (official value, class) pairs where the coding differs


_DDHR_K = ((255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 0, 255), (255, 195, 128))
_DDHR_S = ((255, 195, 128), (0, 255, 0), (255, 255, 0), (255, 0, 0), (0, 0, 255))
_DDHR_X = ((255, 0, 0), (255, 255, 0), (255, 195, 128), (0, 255, 0), (0, 0, 255))
_DDHR_SRC = 'DDHRNet SAR-optical fusion dataset (Ren et al. 2022), https://github.com/XD-MG/DDHRNet'
_OEM = (BLACK, (128, 0, 0), (0, 255, 36), (148, 148, 148), WHITE, (34, 97, 38), (0, 69, 255),
        (75, 181, 73), (222, 31, 7))


def _ddhr(region: str, palette: tuple) -> Spec:
    """DDHRNet: official `<region>/{GF2,GF3,label}` + `valM_list.txt`; the config reads
    `<region>/sar`, `<region>/label`, `<region>/val.txt`."""
    return Spec(f'{_DDHR_SRC} – {region}', f'{region}/sar', f'{region}/label',
                f'{region}/label', f'{region}/val.txt', '.jpg', '.png', palette,
                img_dir_alt=f'{region}/GF3', split_alt=f'{region}/valM_list.txt')


SPECS = {
    'ddhrnet_korea_sar': _ddhr('korea/no_cloud', _DDHR_K),
    'ddhrnet_shandong_sar': _ddhr('shandong', _DDHR_S),
    'ddhrnet_xian_sar': _ddhr('xian/no_cloud', _DDHR_X),
    'fusar_sar': Spec('FUSAR-Map (Shi et al. 2021, Fudan Univ.), Gaofen-3 SAR, '
                      'https://github.com/fudanxu/FUSAR-Map', 'sar', 'label', 'label',
                      'test.txt', '.tif', '.png',
                      (BLACK, (0, 0, 255), WHITE, (255, 0, 0), (0, 255, 0))),
    'pie_sar': Spec('PIE-RGB-SAR (Zhang et al.), https://github.com/whu-pzhang/PIE-RGB-SAR',
                    'sar', 'label', 'label', 'val.txt', '.tif', '.tif',
                    (BLACK, (255, 0, 0), (255, 255, 0), (0, 0, 255), (0, 128, 0),
                     (255, 195, 128))),
    # official labels: 0 background, 1 bare ground, 2 low vegetation, 3 trees, 4 houses,
    # 5 water, 6 roads, 7 other (github.com/yeyuanxin110/YESeg-OPT-SAR README); the
    # config's 6 classes are 1…6, its folder is named cvt_label.
    'yeseg_sar': Spec('YESeg-OPT-SAR (Yellow River Estuary optical-SAR set), '
                      'https://github.com/yeyuanxin110/YESeg-OPT-SAR', 'sar', 'label',
                      'cvt_label', 'test.txt', '.png', '.png',
                      ((159, 129, 183), (0, 255, 0), (0, 128, 0), (255, 0, 0), (0, 0, 255),
                       (255, 255, 0)),
                      index_map=((1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5))),
    'openearthmap_sar': Spec('OpenEarthMap-SAR (DFC2025 track 1), '
                             'https://zenodo.org/records/14622048', 'test/sar_images',
                             'test/labels', 'test/labels', '', '.tif', '.tif', _OEM),
}

WHU_SAR_SCENES = Path(__file__).resolve().parent / 'whu_sar_test_scenes.txt'
WHU_SAR_SOURCE = ('WHU-OPT-SAR (Li et al. 2022, MCANet), '
                  'https://github.com/AmberHen/WHU-OPT-SAR-dataset')
WHU_SAR_LAYOUT = '''<src> = the unpacked WHU-OPT-SAR release (100 scenes; optical/ is not used):
  <src>/sar/<scene>.tif   (single-band SAR, 5556x3704)
  <src>/lbl/<scene>.tif   (10 farmland, 20 city, 30 village, 40 water, 50 forest,
                           60 road, 70 others; 0 no label)'''


def layout(name: str, img_dir=None, lbl_dir=None, split=None) -> str:
    s = SPECS[name]
    img = img_dir or s.img_dir + (f' (or {s.img_dir_alt})' if s.img_dir_alt else '')
    lines = [f'<src> = the unpacked {name} download:',
             f'  <src>/{img}/[<region>/]<name>{s.img_ext}   (SAR images)',
             f'  <src>/{lbl_dir or s.lbl_dir_in}/[<region>/]<name>{s.lbl_ext}   '
             '(index or colour labels)']
    if s.split:
        alt = f' (or {s.split_alt})' if s.split_alt and not split else ''
        lines.append(f'  <src>/{split or s.split}{alt}   (optional split list)')
    return '\n'.join(lines)


def to_index(label: np.ndarray, n_classes: int, palette, index_map=()) -> tuple[np.ndarray, int]:
    """Class indices of an official label array; (labels, count of pixels set to 255).

    Colour (RGB) labels go through `palette`; index labels through `index_map` (official
    value → class) when given, else are kept; anything outside the classes → 255."""
    if label.ndim == 3 and label.shape[2] >= 3 and not (
            np.array_equal(label[..., 0], label[..., 1]) and
            np.array_equal(label[..., 0], label[..., 2])):
        return C.rgb_to_index(label[..., :3], palette)
    if label.ndim == 3:
        label = label[..., 0]
    if index_map:
        out = np.full(label.shape, C.IGNORE, np.uint8)
        for value, cls in index_map:
            out[label == value] = cls
        return out, int((out == C.IGNORE).sum())
    out = label.astype(np.uint8).copy()
    bad = label >= n_classes
    out[bad] = C.IGNORE
    return out, int(bad.sum())


def flat_name(path: Path, root: Path) -> str:
    """`<region>/<name>.png` under root → `<region>_<name>` (a flat file: `<name>`)."""
    rel = path.relative_to(root).with_suffix('')
    return '_'.join(rel.parts)


def read_split_names(path: Path) -> list[str]:
    """Image names of a split list: one name per line, or lines of several paths (DDHRNet's
    `GF2/x.jpg GF3/x.jpg label/x.png`), whose last path gives the name."""
    names = []
    for line in path.read_text().splitlines():
        if line.strip():
            names.append(Path(line.split()[-1]).stem)
    return names


def _pick(src: Path, given, default: str, alt: str) -> str:
    """The folder/file to read: the one given, else the config's name, else the official."""
    if given:
        return given
    if alt and not (src / default).exists() and (src / alt).exists():
        return alt
    return default


def convert_palette_set(dataset, src, out, img_dir=None, lbl_dir=None, split=None) -> dict:
    spec = SPECS[dataset]
    lay = layout(dataset, img_dir, lbl_dir, split)
    src = C.require_dir(src, lay)
    img_in = C.require_dir(src / _pick(src, img_dir, spec.img_dir, spec.img_dir_alt), lay)
    lbl_in = C.require_dir(src / (lbl_dir or spec.lbl_dir_in), lay)
    out = Path(out)
    img_out, lbl_out = out / spec.img_dir, out / spec.lbl_dir
    C.check_output(lbl_out, img_in, lbl_in)
    in_place = img_out.resolve() == img_in.resolve()
    if not in_place:
        C.check_output(img_out, img_in, lbl_in)
    images = {flat_name(p, img_in): p for p in C.list_images(img_in, recursive=True)}
    labels = C.list_images(lbl_in, recursive=True)
    if not labels:
        raise C.ConverterError(f'no label images in {lbl_in}\nexpected:\n{lay}')
    if in_place and any(p.parent != img_in for p in images.values()):
        raise C.ConverterError(f'the SAR images in {img_in} are in sub-folders and must be '
                               'written flat: pick another --out')
    counts = dict(labels=0, unknown_pixels=0, unpaired=0)
    names = []
    for lp in C.progress(labels, dataset):
        name = flat_name(lp, lbl_in)
        ip = images.get(name)
        if ip is None:
            counts['unpaired'] += 1
            print(f'warning: no SAR image for {lp.name}; skipped', file=sys.stderr)
            continue
        label, unknown = to_index(C.read_label(lp), len(spec.palette), spec.palette,
                                  spec.index_map)
        counts['unknown_pixels'] += unknown
        C.save_label(label, lbl_out / f'{name}{spec.lbl_ext}', lp)
        if not in_place:
            C.convert_image(ip, img_out / f'{name}{spec.img_ext}')
        counts['labels'] += 1
        names.append(name)
    if spec.split:
        split_in = src / _pick(src, split, spec.split, spec.split_alt)
        split_out = out / spec.split
        if split_in.is_file():
            wanted = read_split_names(split_in)
            missing = sorted(set(wanted) - set(names))
            if missing:
                print(f'warning: {len(missing)} names of {split_in} were not converted, '
                      f'e.g. {missing[0]}', file=sys.stderr)
            if split_in.resolve() != split_out.resolve():
                C.write_split(wanted, split_out)
            counts['split'] = f'from {split_in.name}'
        else:
            C.write_split(names, split_out)
            counts['split'] = 'all converted names'
    print(f'{dataset}: {counts["labels"]} labels → {lbl_out}; {counts["unknown_pixels"]} '
          f'pixels set to 255 (unknown colour or value); split list: '
          f'{counts.get("split", "none")}')
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
    if scenes is None:
        scenes = WHU_SAR_SCENES
    if str(scenes) != 'all':
        if not Path(scenes).is_file():
            raise C.ConverterError(f'scene list not found: {scenes} (one scene name per '
                                   'line, or --scenes all)')
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
    p.add_argument('--scenes', help='whu_sar: file listing the scenes to convert (default: '
                                    'the shipped whu_sar_test_scenes.txt; "all": every scene)')
    p.add_argument('--crop', type=int, default=512, help='whu_sar: crop size (default 512)')
    a = p.parse_args(argv)
    if a.dataset == 'whu_sar':
        convert_whu_sar(a.src, a.out, scenes=a.scenes, crop=a.crop)
    else:
        convert_palette_set(a.dataset, a.src, a.out, a.img_dir, a.lbl_dir, a.split)


if __name__ == '__main__':
    C.run_main(main)
