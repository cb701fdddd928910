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
  config's (YESeg-OPT-SAR: official 1…6 → 0…5, 0 background and 7 other → 255). Colour
  (RGB) labels are mapped through the dataset's official colours (FUSAR-Map: the release's
  own coding, black other, blue water, yellow road, red building, green vegetation; the
  others: the class palette of segearth_ov/datasets/table.py). A colour or value outside
  the coding is an error past --max-unknown of a file's pixels (below it: 255, listed in
  the summary). SAR images are copied; nested `<region>/<name>` files are flattened to
  `<region>_<name>`. The split list is read from the download (one name per line, or
  DDHRNet's `valM_list.txt` lines "GF2/x.jpg GF3/x.jpg label/x.png": the label's name is
  taken) and written as one name per line, or written from all converted names when the
  download has none (FUSAR-Map ships no split: all 610 pairs become the test list).
Folder names: the defaults are the config's own folders; where the official release names
them differently (DDHRNet: `GF3` for the SAR images, `valM_list.txt`), those are used when the
config's are absent. --img-dir / --lbl-dir / --split point at any other names.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

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
    colours: tuple = ()     # (official colour, class) pairs where they differ from palette
    img_dir_in: str = ''    # the only SAR folder of the release, when it is not img_dir
    root: str = ''          # the release's top folder, entered when --src holds it
    pair: tuple = ()        # (label token, SAR token): label name → its SAR image's name
    note: str = ''          # said under the layout in --help


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
    # FUSAR-Map release (fudanxu/FUSAR-Map, "数据集说明文档.pdf" §6.1, §6.3): Datasets/
    # sar_1024/<loc>_SAR_<n>.tif (1024² uint8) and lab_1024/<loc>_Label_<n>.tif (1024²×3
    # uint8: red building, green vegetation, blue water, yellow road; black = other, as in
    # the repo's Model/FUSAR-Map/Unet_whole.py); no split file. The table's palette
    # (white road) is SegEarth-OV-2's display palette, not the release's coding.
    'fusar_sar': Spec('FUSAR-Map (Shi et al. 2021, Fudan Univ.), Gaofen-3 SAR, '
                      'https://github.com/fudanxu/FUSAR-Map', 'sar', 'lab_1024', 'label',
                      'test.txt', '.tif', '.png',
                      (BLACK, (0, 0, 255), WHITE, (255, 0, 0), (0, 255, 0)),
                      colours=((BLACK, 0), ((0, 0, 255), 1), ((255, 255, 0), 2),
                               ((255, 0, 0), 3), ((0, 255, 0), 4)),
                      img_dir_in='sar_1024', root='Datasets', pair=('_Label_', '_SAR_'),
                      note='no split file in the release: every pair goes into test.txt '
                           '(the split SegEarth-OV-2 evaluated is not public)'),
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
                      index_map=((0, C.IGNORE), (1, 0), (2, 1), (3, 2), (4, 3), (5, 4),
                                 (6, 5), (7, C.IGNORE))),
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
    top = f'<src>/[{s.root}/]' if s.root else '<src>/'
    if s.pair:
        lab, sar = s.pair
        return '\n'.join([
            f'<src> = the unpacked {name} download:',
            f'  {top}{img_dir or s.img_dir_in}/<loc>{sar}<n>{s.img_ext}   (SAR images)',
            f'  {top}{lbl_dir or s.lbl_dir_in}/<loc>{lab}<n>.tif   (colour labels)',
            f'  ({s.note})' if s.note else ''])
    img = img_dir or s.img_dir_in or s.img_dir + (f' (or {s.img_dir_alt})' if s.img_dir_alt else '')
    lines = [f'<src> = the unpacked {name} download:',
             f'  {top}{img}/[<region>/]<name>{s.img_ext}   (SAR images)',
             f'  {top}{lbl_dir or s.lbl_dir_in}/[<region>/]<name>{s.lbl_ext}   '
             '(index or colour labels)']
    if s.split:
        alt = f' (or {s.split_alt})' if s.split_alt and not split else ''
        lines.append(f'  {top}{split or s.split}{alt}   (optional split list)')
    if s.note:
        lines.append(f'  ({s.note})')
    return '\n'.join(lines)


def to_index(label: np.ndarray, spec: Spec) -> tuple[np.ndarray, dict]:
    """Class indices of an official label array; (labels, {unmapped colour/value: pixels}).

    Colour (RGB) labels go through the official colours (`spec.colours`, else the palette;
    a dataset with official colours has no grey index labels: every 3-band label is a
    colour label); index labels through `index_map` (official value → class) when given,
    else values 0…classes-1 are kept."""
    colours = dict(spec.colours) if spec.colours else spec.palette
    if label.ndim == 3 and label.shape[2] >= 3 and (spec.colours or not (
            np.array_equal(label[..., 0], label[..., 1]) and
            np.array_equal(label[..., 0], label[..., 2]))):
        return C.rgb_to_index(label[..., :3], colours)
    if label.ndim == 3:
        label = label[..., 0]
    return C.values_to_index(label, dict(spec.index_map) if spec.index_map else
                             len(spec.palette))


# class names per label value, for the summary (= segearth_ov/datasets/table.py, tested)
CLASSES = {
    'ddhrnet_korea_sar': ('building', 'road', 'greenery', 'water', 'farmland'),
    'ddhrnet_shandong_sar': ('farmland', 'greenery', 'road', 'building', 'water'),
    'ddhrnet_xian_sar': ('building', 'road', 'farmland', 'greenery', 'water'),
    'fusar_sar': ('background', 'water', 'road', 'building', 'vegetation'),
    'pie_sar': ('background', 'city', 'road', 'water', 'forest', 'farmland'),
    'yeseg_sar': ('bareground', 'grass', 'tree', 'house', 'water', 'road'),
    'openearthmap_sar': ('background', 'bareland', 'grass', 'pavement', 'road', 'tree',
                         'water', 'cropland', 'building'),
}


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


def image_name(label_name: str, spec: Spec) -> str:
    """The SAR image's name of a label: the same name, or FUSAR-Map's `…_Label_001` →
    `…_SAR_001` (the last occurrence of the token)."""
    if spec.pair and spec.pair[0] in label_name:
        head, _, tail = label_name.rpartition(spec.pair[0])
        return head + spec.pair[1] + tail
    return label_name


def convert_palette_set(dataset, src, out, img_dir=None, lbl_dir=None, split=None,
                        max_unknown=C.MAX_UNKNOWN) -> dict:
    spec = SPECS[dataset]
    lay = layout(dataset, img_dir, lbl_dir, split)
    src = C.require_dir(src, lay)
    if spec.root and src.name != spec.root and (src / spec.root).is_dir():
        src = src / spec.root
    img_in = C.require_dir(src / (img_dir or spec.img_dir_in or
                                  _pick(src, None, spec.img_dir, spec.img_dir_alt)), lay)
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
    log = C.LabelSummary(dataset, classes=CLASSES[dataset], max_unknown=max_unknown)
    names = []
    for lp in C.progress(labels, dataset):
        name = image_name(flat_name(lp, lbl_in), spec)
        ip = images.get(name)
        if ip is None:
            log.skip(lp, f'no SAR image {name}{spec.img_ext} in {img_in}')
            continue
        label, unknown = to_index(C.read_label(lp), spec)
        log.check(lp, unknown, label.size)
        log.save(label, lbl_out / f'{name}{spec.lbl_ext}', lp)
        if not in_place:
            C.convert_image(ip, img_out / f'{name}{spec.img_ext}')
        names.append(name)
    counts = log.finish()
    if spec.split:
        split_in = src / _pick(src, split, spec.split, spec.split_alt)
        split_out = out / spec.split
        if split_in.is_file():
            wanted = read_split_names(split_in)
            missing = sorted(set(wanted) - set(names))
            if missing:
                print(f'warning: {len(missing)} names of {split_in} were not converted, '
                      f'e.g. {missing[0]}', file=sys.stderr)
                counts['split_missing'] = len(missing)
            if split_in.resolve() != split_out.resolve():
                C.write_split(wanted, split_out)
            counts['split'] = f'from {split_in.name}'
        else:
            C.write_split(names, split_out)
            counts['split'] = 'all converted names'
    print(f'{dataset}: labels → {lbl_out}; split list: {counts.get("split", "none")}')
    return counts


WHU_SAR_CODING = {10 * k: k for k in range(8)}   # 0 no label (kept: reduce_zero_label)
WHU_SAR_CLASSES = ('no label', 'farmland', 'city', 'village', 'water', 'forest', 'road',
                   'others')


def convert_whu_sar(src, out, split='test', scenes=None, crop=512,
                    max_unknown=C.MAX_UNKNOWN) -> dict:
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
    log = C.LabelSummary('WHU-OPT-SAR', classes=WHU_SAR_CLASSES, max_unknown=max_unknown)
    scenes_done = 0
    sar_out.mkdir(parents=True, exist_ok=True)
    ann_out.mkdir(parents=True, exist_ok=True)
    for lp in C.progress(labels, 'WHU-OPT-SAR'):
        sp = sar_in / lp.name
        if not sp.is_file():
            log.skip(lp, f'no SAR scene {sp}')
            continue
        label, unknown = C.values_to_index(C.read_gray(lp), WHU_SAR_CODING)
        log.check(lp, unknown, label.size)
        with Image.open(sp) as im:
            sar = np.asarray(im)
        for x0, y0, x1, y1 in C.crop_boxes(*label.shape, crop, crop):
            name = f'{lp.stem}_{x0}_{y0}.tif'
            Image.fromarray(np.ascontiguousarray(sar[y0:y1, x0:x1])).save(sar_out / name)
            log.save(label[y0:y1, x0:x1], ann_out / name)
        scenes_done += 1
    counts = log.finish()
    counts['scenes'] = scenes_done
    print(f'WHU-OPT-SAR: {scenes_done} scenes → {counts["files"]} crops in {base}')
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
    C.add_max_unknown(p)
    a = p.parse_args(argv)
    if a.dataset == 'whu_sar':
        convert_whu_sar(a.src, a.out, scenes=a.scenes, crop=a.crop, max_unknown=a.max_unknown)
    else:
        convert_palette_set(a.dataset, a.src, a.out, a.img_dir, a.lbl_dir, a.split,
                            max_unknown=a.max_unknown)


if __name__ == '__main__':
    C.run_main(main)
