"""Binary-mask benchmark sets (building / road / water): official 0/255 masks → 0/1 labels.

    python tools/dataset_converters/binary_masks.py --dataset whu_aerial \\
        --src /downloads/WHU/aerial/val --out data/WHU-BD/val

Run with `--dataset NAME --help` ... or just `--help` for the list of sets, their official
source and the official folder layout each expects under `--src`.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import common as C  # noqa: E402

HERE = Path(__file__).resolve().parent
WBS_SI_SPLIT = HERE / 'wbs-si_val.txt'


@dataclass(frozen=True)
class Spec:
    source: str          # official release (name, URL)
    layout: str          # official layout under --src
    out_hint: str        # the folder under data/ the config reads (what --out should be)
    img_in: str          # image folder, relative to --src
    lbl_in: str          # mask folder, relative to --src
    img_out: str         # image folder, relative to --out
    lbl_out: str         # label folder, relative to --out
    img_ext: str         # image suffix the config reads
    lbl_ext: str         # label suffix the config reads
    img_tag: str = ''    # name part stripped from image stems (e.g. '_sat')
    lbl_tag: str = ''    # name part stripped from mask stems (e.g. '_mask')
    threshold: int | None = None  # mask value > threshold → 1; None: auto (see binarize)
    foreground: str = 'foreground'   # what label 1 is (the summary's class name)


SPECS: dict[str, Spec] = {
    'whu_aerial': Spec(
        source='WHU Building Dataset, aerial imagery (Ji et al. 2019), "cropped aerial image '
               'tiles and raster labels", http://gpcv.whu.edu.cn/data/building_dataset.html',
        layout='<src> = the val split of the cropped aerial tiles:\n'
               '  <src>/image/*.tif|png   (512x512 RGB tiles)\n'
               '  <src>/label/*.tif|png   (0 background, 255 building)',
        out_hint='data/WHU-BD/val',
        img_in='image', lbl_in='label', img_out='image', lbl_out='label_cvt',
        foreground='building',
        img_ext='.png', lbl_ext='.png'),
    'whu_sat_II': Spec(
        source='WHU Building Dataset, "Satellite dataset II (East Asia)", cropped tiles, '
               'http://gpcv.whu.edu.cn/data/building_dataset.html',
        layout='<src> = the test split of the cropped East-Asia tiles (1.cropped/test):\n'
               '  <src>/image/*.tif|png\n'
               '  <src>/label/*.tif|png   (0 background, 255 building)',
        out_hint='data/WHU_Sat_II/Satellite_dataset_Ⅱ_East_Asia/1.cropped/test',
        img_in='image', lbl_in='label', img_out='image', lbl_out='label_cvt',
        foreground='building',
        img_ext='.png', lbl_ext='.png'),
    'chn6-cug': Spec(
        source='CHN6-CUG Roads Dataset (Zhu et al. 2021, China University of Geosciences), '
               'http://grzy.cug.edu.cn/zhuqiqi/en/index.htm',
        layout='<src> = CHN6-CUG/val:\n'
               '  <src>/images/<id>_sat.jpg\n'
               '  <src>/gt/<id>_mask.png      (0 background, 255 road)',
        out_hint='data/CHN6-CUG/val',
        img_in='images', lbl_in='gt', img_out='image_cvt', lbl_out='label_cvt',
        foreground='road',
        img_ext='.jpg', lbl_ext='.png', img_tag='_sat', lbl_tag='_mask'),
    'deepglobe_road': Spec(
        source='DeepGlobe Road Extraction Challenge 2018 (Demir et al., '
               'https://competitions.codalab.org/competitions/18467), the 1530-image test split '
               'of its labelled images as packed in GlobalRoadSet '
               '(https://github.com/xiaoyan07/GRNet_GRSet)',
        layout='<src> = GlobalRoadSet_Val/DeepGlobe_test_1530 (official DeepGlobe names):\n'
               '  <src>/img/<id>_sat.jpg\n'
               '  <src>/gt/<id>_mask.png      (0 background, 255 road)',
        out_hint='data/GlobalRoadSet_Val/DeepGlobe_test_1530',
        img_in='img', lbl_in='gt', img_out='image_cvt', lbl_out='label_cvt',
        foreground='road',
        img_ext='.jpg', lbl_ext='.png', img_tag='_sat', lbl_tag='_mask'),
    'massachusetts_road': Spec(
        source='Massachusetts Roads Dataset (Mnih 2013), test split (49 tiles), '
               'https://www.cs.toronto.edu/~vmnih/data/ (as packed in GlobalRoadSet, '
               'https://github.com/xiaoyan07/GRNet_GRSet)',
        layout='<src> = GlobalRoadSet_Val/Massachusetts_test_49:\n'
               '  <src>/img/<id>.jpg\n'
               '  <src>/gt/<id>.png          (0 background, 255 road)\n'
               'or the official release (images re-encoded to .jpg): --src mass_roads/test '
               '--img-dir sat --lbl-dir map\n'
               '  (sat/<id>.tiff, map/<id>.tif; Kaggle copy: --src tiff --img-dir test '
               '--lbl-dir test_labels)',
        out_hint='data/GlobalRoadSet_Val/Massachusetts_test_49',
        img_in='img', lbl_in='gt', img_out='img', lbl_out='label_cvt',
        foreground='road',
        img_ext='.jpg', lbl_ext='.png'),
    'spacenet_road': Spec(
        source='SpaceNet 3 Roads (https://spacenet.ai/spacenet-roads-dataset/), its 567 test '
               'tiles as rasterised in GlobalRoadSet (https://github.com/xiaoyan07/GRNet_GRSet). '
               'The official SpaceNet labels are GeoJSON centre lines: spacenet_road.py '
               'rasterises them (spacenet_geojson.py)',
        layout='<src> = GlobalRoadSet_Val/SpaceNet_test_567:\n'
               '  <src>/img/<id>.jpg\n'
               '  <src>/gt/<id>.png            (0 background, 255 road)',
        out_hint='data/GlobalRoadSet_Val/SpaceNet_test_567',
        img_in='img', lbl_in='gt', img_out='img', lbl_out='label_cvt',
        foreground='road',
        img_ext='.jpg', lbl_ext='.png'),
    'wbs-si': Spec(
        source='Water Body Segmentation in Satellite Images (Kaggle), '
               'https://www.kaggle.com/datasets/shirshmall/water-body-segmentation-in-satellite-images',
        layout='<src> = water-body-segmentation-in-satellite-images/WaterBodiesDatasetPreprocessed/\n'
               '        WaterBodiesDatasetPreprocessed:\n'
               '  <src>/Images/water_body_<n>.jpg\n'
               '  <src>/Masks/water_body_<n>.jpg  (JPEG masks, white = water)',
        out_hint='data/water-body-segmentation-in-satellite-images/WaterBodiesDatasetPreprocessed/'
                 'WaterBodiesDatasetPreprocessed',
        img_in='Images', lbl_in='Masks', img_out='Images', lbl_out='Masks_cvt',
        foreground='water',
        img_ext='.jpg', lbl_ext='.jpg'),
}


def split_val_names(names, fraction: float = 0.2) -> list[str]:
    """Deterministic validation subset: every k-th name of the naturally sorted names.

    Depends only on the set of names (not on file-system order or a random state).
    """
    def natural(n):
        import re
        return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', n)]
    names = sorted(set(names), key=natural)
    if not names:
        return []
    step = max(1, round(1 / fraction))
    return names[::step]


def convert(dataset: str, src, out, img_dir=None, lbl_dir=None, threshold=None,
            split_out=None) -> dict:
    """Convert one set; returns counts {'labels', 'images', 'images_in_place', 'unpaired'}."""
    spec = SPECS[dataset]
    src = C.require_dir(src, spec.layout)
    img_in = C.require_dir(src / (img_dir or spec.img_in), spec.layout)
    lbl_in = C.require_dir(src / (lbl_dir or spec.lbl_in), spec.layout)
    out = Path(out)
    img_out, lbl_out = out / spec.img_out, out / spec.lbl_out
    C.check_output(lbl_out, img_in, lbl_in)
    thr = spec.threshold if threshold is None else threshold

    # Name tags also tell images from masks where both share a folder (DeepGlobe's official
    # train/ folder holds <id>_sat.jpg beside <id>_mask.png).
    images = {C.stem_of(p, spec.img_tag + p.suffix) if spec.img_tag else p.stem: p
              for p in C.list_images(img_in) if p.stem.endswith(spec.img_tag)}
    labels = [p for p in C.list_images(lbl_in) if p.stem.endswith(spec.lbl_tag)]
    if not labels:
        raise C.ConverterError(f'no mask images in {lbl_in}\nexpected:\n{spec.layout}')

    in_place = img_out.resolve() == img_in.resolve()
    if in_place and any(p.suffix != spec.img_ext for p in images.values()):
        raise C.ConverterError(
            f'the images must become {spec.img_ext} in {img_out}, which is the source image '
            f'folder: pick another --out')
    if not in_place:
        C.check_output(img_out, img_in, lbl_in)

    counts = dict(labels=0, images=0, images_in_place=0, unpaired=0)
    log = C.LabelSummary(dataset, ('background', spec.foreground))
    thresholded_px = thresholded_files = 0    # pixels neither 0/1 nor 255, and their masks
    names = []
    for lp in C.progress(labels, f'{dataset} labels'):
        stem = C.stem_of(lp, spec.lbl_tag + lp.suffix) if spec.lbl_tag else lp.stem
        ip = images.get(stem)
        if ip is None:
            counts['unpaired'] += 1
            print(f'warning: no image for mask {lp.name}; skipped', file=sys.stderr)
            continue
        mask = C.read_gray(lp)            # single-band already (RGB masks: max of bands)
        log.save(C.binarize(mask, thr), lbl_out / f'{stem}{spec.lbl_ext}', lp)
        n = int(np.count_nonzero((mask > 1) & (mask < 255)))
        thresholded_px += n
        thresholded_files += bool(n)
        counts['labels'] += 1
        if in_place:
            counts['images_in_place'] += 1
        else:
            C.convert_image(ip, img_out / f'{stem}{spec.img_ext}')
            counts['images'] += 1
        names.append(stem)

    if dataset == 'wbs-si':
        if split_out:           # a generated list, written only where asked
            C.write_split(split_val_names(names), split_out)
            counts['split'] = str(split_out)
        else:                   # the reference's list, shipped: never overwritten
            wanted = set(WBS_SI_SPLIT.read_text().split())
            counts['split'] = str(WBS_SI_SPLIT)
            counts['split_missing'] = len(wanted - set(names))
            if counts['split_missing']:
                print(f'warning: {counts["split_missing"]} of the {len(wanted)} names of '
                      f'{WBS_SI_SPLIT.name} have no converted label', file=sys.stderr)
    print(f'{dataset}: {counts["labels"]} labels → {lbl_out}; images: '
          f'{counts["images"]} written to {img_out}, {counts["images_in_place"]} already in '
          f'place; {counts["unpaired"]} masks without image')
    # the class shares tell an inverted or wrongly coded mask at a glance (e.g. 90 % road)
    counts['pixels'] = log.finish()['pixels']
    counts['thresholded_pixels'] = thresholded_px
    if thresholded_px:
        print(f'  {thresholded_px} px in {thresholded_files} mask(s) were neither 0 nor 255 '
              f'(compression noise, e.g. JPEG or DeepGlobe\'s masks) and were thresholded '
              f'(--threshold; default: > 127)')
    return counts


def build_parser() -> argparse.ArgumentParser:
    lines = [f'  {name}: {s.source}\n    --out {s.out_hint}\n    ' +
             s.layout.replace('\n', '\n    ') for name, s in SPECS.items()]
    p = argparse.ArgumentParser(
        description='Convert the official binary-mask downloads (WHU aerial, WHU Sat II, '
                    'CHN6-CUG, DeepGlobe/Massachusetts/SpaceNet roads, WBS-SI water) to the '
                    'layout the configs read: images (copied or re-encoded) and 0/1 labels in '
                    'the *_cvt folder. The source is never modified.',
        epilog='datasets, official sources and expected layouts:\n' + '\n'.join(lines) +
               '\n\nWBS-SI: the config reads the split list tools/dataset_converters/'
               'wbs-si_val.txt, the reference\'s own list of 499 validation names (shipped, '
               'from github.com/likyoo/SegEarth-OV); the converter checks that they were all '
               'converted. --split-out FILE writes a generated list instead (every 5th name in '
               'natural order). WBS-SI labels keep the .jpg name the config reads but are '
               'PNG-encoded (lossless).',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', required=True, choices=sorted(SPECS))
    p.add_argument('--src', required=True, help='the official download folder (see below)')
    p.add_argument('--out', required=True, help='output folder (the config\'s data folder)')
    p.add_argument('--img-dir', help='image folder relative to --src (default per dataset)')
    p.add_argument('--lbl-dir', help='mask folder relative to --src (default per dataset)')
    p.add_argument('--threshold', type=int,
                   help='mask value > THRESHOLD is foreground (default: auto, >0 for 0/1 masks, '
                        '>127 for 0/255 masks; 0: any positive value)')
    p.add_argument('--split-out', help='WBS-SI only: write a generated split list (every 5th '
                                       'name) to this file instead of using the shipped one')
    return p


def main(argv=None):
    a = build_parser().parse_args(argv)
    convert(a.dataset, a.src, a.out, a.img_dir, a.lbl_dir, a.threshold, a.split_out)


if __name__ == '__main__':
    C.run_main(main)
