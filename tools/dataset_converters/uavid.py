"""UAVid → the `cfg_uavid` layout: RGB colour labels → class indices, cut into patches.

    python tools/dataset_converters/uavid.py --src /downloads/UAVid/test_gt --out data/UAVid

Every `<seq>/Images/<frame>.png` with its `<seq>/Labels/<frame>.png` (found recursively
under --src) is cut into PATCH_H x PATCH_W patches (default 1080 x 1280, no overlap, the
last row/column shifted back to end at the border; smaller images are padded: image 0,
label 255) written as `img_dir/test/<seq>_<frame>_<y0>_<y1>_<x0>_<x1>.png` and the same
name under `ann_dir/test`. Colours: clutter 0, building 1, road 2, static and moving car 3,
tree 4, low vegetation 5, human 6; another colour is an error past --max-unknown of a
frame's pixels (below it: 255, ignored, listed in the closing summary).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import common as C  # noqa: E402

SOURCE = 'UAVid semantic segmentation dataset (Lyu et al. 2020), https://uavid.nl/'
LAYOUT = '''<src> = the UAVid split with ground truth (e.g. uavid_val, or the test_gt release):
  <src>/seq<N>/Images/<frame>.png   (RGB frames, 3840x2160 or 4096x2160)
  <src>/seq<N>/Labels/<frame>.png   (RGB colour labels)'''

# official colour → class index of UAVidDataset (segearth_ov/datasets/table.py)
PALETTE = {
    (0, 0, 0): 0,         # background clutter
    (128, 0, 0): 1,       # building
    (128, 64, 128): 2,    # road
    (192, 0, 192): 3,     # static car
    (64, 0, 128): 3,      # moving car → car
    (0, 128, 0): 4,       # tree
    (128, 128, 0): 5,     # low vegetation
    (64, 64, 0): 6,       # human
}


def patch_boxes(h: int, w: int, ph: int, pw: int, overlap: int = 0):
    """(y0, y1, x0, x1) patches of an (already padded to ≥ ph x pw) h x w image."""
    def starts(n, p):
        s = list(range(0, n, p - overlap))
        return sorted({min(v, n - p) for v in s})
    return [(y, y + ph, x, x + pw) for x in starts(w, pw) for y in starts(h, ph)]


def pad_to(arr: np.ndarray, ph: int, pw: int, value: int) -> np.ndarray:
    h, w = arr.shape[:2]
    if h >= ph and w >= pw:
        return arr
    pad = [(0, max(0, ph - h)), (0, max(0, pw - w))] + [(0, 0)] * (arr.ndim - 2)
    return np.pad(arr, pad, constant_values=value)


CLASSES = ('clutter', 'building', 'road', 'car', 'tree', 'low vegetation', 'human')


def convert(src, out, split='test', patch_h=1080, patch_w=1280, overlap=0,
            max_unknown=C.MAX_UNKNOWN) -> dict:
    src = C.require_dir(src, LAYOUT)
    out = Path(out)
    img_out, ann_out = out / 'img_dir' / split, out / 'ann_dir' / split
    C.check_output(img_out, src)
    C.check_output(ann_out, src)
    labels = [p for p in C.list_images(src, recursive=True) if p.parent.name == 'Labels']
    if not labels:
        raise C.ConverterError(f'no */Labels/*.png under {src}\nexpected:\n{LAYOUT}')
    log = C.LabelSummary('UAVid', CLASSES, max_unknown)
    frames = 0
    img_out.mkdir(parents=True, exist_ok=True)
    ann_out.mkdir(parents=True, exist_ok=True)
    for lp in C.progress(labels, 'UAVid'):
        ip = lp.parent.parent / 'Images' / lp.name
        if not ip.is_file():
            log.skip(lp, f'no image {ip}')
            continue
        label, unknown = C.rgb_to_index(C.read_rgb(lp), PALETTE)
        log.check(lp, unknown, label.size)
        img = C.read_rgb(ip)
        label = pad_to(label, patch_h, patch_w, C.IGNORE)
        img = pad_to(img, patch_h, patch_w, 0)
        seq = lp.parent.parent.name
        for y0, y1, x0, x1 in patch_boxes(*label.shape, patch_h, patch_w, overlap):
            name = f'{seq}_{lp.stem}_{y0}_{y1}_{x0}_{x1}.png'
            Image.fromarray(np.ascontiguousarray(img[y0:y1, x0:x1])).save(img_out / name)
            log.save(label[y0:y1, x0:x1], ann_out / name)
        frames += 1
    counts = log.finish() | dict(frames=frames)
    print(f'UAVid: {frames} frames → {counts["files"]} patches in {img_out} / {ann_out}')
    return counts


def main(argv=None):
    p = C.parser(__doc__, SOURCE, LAYOUT)
    p.add_argument('--src', required=True, help='UAVid split folder holding seq*/Images, Labels')
    p.add_argument('--out', required=True, help='output folder, e.g. data/UAVid')
    p.add_argument('--split', default='test', help='sub-folder name of img_dir/ann_dir')
    p.add_argument('--patch-h', type=int, default=1080)
    p.add_argument('--patch-w', type=int, default=1280)
    p.add_argument('--overlap', type=int, default=0)
    C.add_max_unknown(p)
    a = p.parse_args(argv)
    convert(a.src, a.out, a.split, a.patch_h, a.patch_w, a.overlap, a.max_unknown)


if __name__ == '__main__':
    C.run_main(main)
