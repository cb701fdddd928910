"""UDD5 and VDD (UAV sets of the same authors' family) → the `cfg_udd5` / `cfg_vdd` layout.

    python tools/dataset_converters/udd5_vdd.py --dataset udd5 --src /downloads/UDD5 --out data/UDD5
    python tools/dataset_converters/udd5_vdd.py --dataset vdd  --src /downloads/VDD  --out data/VDD

The configs read the official folder names (`<split>/src` images, `<split>/gt` labels).
The official `gt` PNGs are class indices (UDD5: 0 vegetation, 1 building, 2 road, 3 vehicle,
4 other, per github.com/MarcWong/UDD; VDD: 0 other, 1 wall, 2 road, 3 vegetation, 4 vehicle,
5 roof, 6 water, per github.com/RussRobin/VDD), possibly saved as palette PNGs: they are
kept (palette images by their indices). A colour (RGB) label (e.g. a visualisation) is
mapped through the dataset's palette instead. A value or colour outside the coding is an
error past --max-unknown of a file's pixels (below it: 255, listed in the closing
summary). This copies the evaluated split.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import common as C  # noqa: E402


@dataclass(frozen=True)
class Spec:
    source: str
    split: str
    classes: tuple
    palette: tuple   # RGB per class, label-value order (= segearth_ov/datasets/table.py)


SPECS = {
    'udd5': Spec(
        source='UDD5, Urban Drone Dataset (Chen et al. 2018, PKU), '
               'https://github.com/MarcWong/UDD',
        split='val',
        classes=('vegetation', 'building', 'road', 'vehicle', 'other'),
        palette=((107, 142, 35), (102, 102, 156), (128, 64, 128), (0, 0, 142), (0, 0, 0))),
    'vdd': Spec(
        source='VDD, Varied Drone Dataset (Cai et al. 2023), https://github.com/RussRobin/VDD',
        split='test',
        classes=('other', 'wall', 'road', 'vegetation', 'vehicle', 'roof', 'water'),
        palette=((0, 0, 0), (102, 102, 156), (128, 64, 128), (107, 142, 35), (0, 0, 142),
                 (70, 70, 70), (0, 0, 255))),
}


def layout(name: str) -> str:
    s = SPECS[name]
    return (f'<src> = the unpacked {name.upper()} release:\n'
            f'  <src>/{s.split}/src/<name>.JPG\n'
            f'  <src>/{s.split}/gt/<name>.png   (class indices 0..{len(s.classes) - 1}; '
            'colour labels are also accepted)')


def to_index(label: np.ndarray, spec: Spec) -> tuple[np.ndarray, dict]:
    """Class-index label of an official label array; (labels, {unmapped code: pixels})."""
    if label.ndim == 3 and label.shape[2] >= 3 and not (
            np.array_equal(label[..., 0], label[..., 1]) and
            np.array_equal(label[..., 0], label[..., 2])):
        return C.rgb_to_index(label[..., :3], spec.palette)
    if label.ndim == 3:
        label = label[..., 0]
    return C.values_to_index(label, len(spec.classes))


def convert(dataset: str, src, out, max_unknown=C.MAX_UNKNOWN) -> dict:
    spec = SPECS[dataset]
    lay = layout(dataset)
    src = C.require_dir(src, lay)
    img_in = C.require_dir(src / spec.split / 'src', lay)
    gt_in = C.require_dir(src / spec.split / 'gt', lay)
    out = Path(out)
    img_out, gt_out = out / spec.split / 'src', out / spec.split / 'gt'
    C.check_output(img_out, img_in, gt_in)
    C.check_output(gt_out, img_in, gt_in)
    images = {p.stem: p for p in C.list_images(img_in)}
    labels = C.list_images(gt_in)
    if not labels:
        raise C.ConverterError(f'no label images in {gt_in}\nexpected:\n{lay}')
    log = C.LabelSummary(dataset, spec.classes, max_unknown)
    for lp in C.progress(labels, dataset):
        ip = images.get(lp.stem)
        if ip is None:
            log.skip(lp, f'no image {lp.stem}.* in {img_in}')
            continue
        label, unknown = to_index(C.read_label(lp), spec)
        log.check(lp, unknown, label.size)
        log.save(label, gt_out / f'{lp.stem}.png', lp)
        C.convert_image(ip, img_out / f'{ip.stem}.JPG')
    counts = log.finish()
    print(f'{dataset}: {counts["files"]} pairs → {img_out} / {gt_out}')
    return counts


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog='\n'.join(f'{n}: {s.source}\n  --out data/{n.upper()}\n  ' +
                         layout(n).replace('\n', '\n  ') for n, s in SPECS.items()) +
        '\n\n' + __doc__.split('\n\n', 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', required=True, choices=sorted(SPECS))
    p.add_argument('--src', required=True, help='the unpacked official release folder')
    p.add_argument('--out', required=True, help='output folder, e.g. data/UDD5 or data/VDD')
    C.add_max_unknown(p)
    a = p.parse_args(argv)
    convert(a.dataset, a.src, a.out, a.max_unknown)


if __name__ == '__main__':
    C.run_main(main)
