"""Synthetic SAR sources in their converted on-disk layouts (tests of SAR-OVSeg)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image
from conftest import load_script

ROOT = Path(__file__).resolve().parents[2]


def load_builder():
    """tools/sar_ovseg/build.py as a module."""
    return load_script('tools/sar_ovseg/build.py')


def _label(rng, shape, values):
    return rng.choice(np.asarray(values, np.uint8), size=shape)


def write_sources(data_root: Path, seed: int = 0) -> dict:
    """Three sources: PIE-SAR (8-bit 3-band tif, val.txt, labels 0..5), WHU-SAR (1-band float
    dB tif in a test folder, labels 0..7 with 0 = no label; one extra image 600×700 to cut into
    tiles), YESeg-SAR (8-bit png, test.txt, labels 0..5). Returns {source: {name: label}}."""
    rng = np.random.RandomState(seed)
    labels = {}
    pie = data_root / 'PIE-RGB-SAR'
    (pie / 'sar').mkdir(parents=True)
    (pie / 'label').mkdir()
    labels['pie_sar'] = {}
    for i in range(6):
        name = f'pie_{i}'
        tifffile.imwrite(pie / 'sar' / f'{name}.tif',
                         rng.randint(0, 256, (40, 48, 3)).astype(np.uint8))
        lab = _label(rng, (40, 48), range(6))
        tifffile.imwrite(pie / 'label' / f'{name}.tif', lab)
        labels['pie_sar'][name] = lab
    (pie / 'val.txt').write_text('pie_0\npie_1\n')
    whu = data_root / 'whu-opt-sar' / 'crop512' / 'test'
    (whu / 'sar_dir').mkdir(parents=True)
    (whu / 'ann_dir').mkdir()
    labels['whu_sar'] = {}
    for name, shape in (('whu_a', (32, 32)), ('whu_big', (600, 700))):
        tifffile.imwrite(whu / 'sar_dir' / f'{name}.tif',
                         rng.normal(-12, 4, shape).astype(np.float32))
        lab = _label(rng, shape, range(8))
        tifffile.imwrite(whu / 'ann_dir' / f'{name}.tif', lab)
        labels['whu_sar'][name] = lab
    ye = data_root / 'YESeg-OPT-SAR'
    (ye / 'sar').mkdir(parents=True)
    (ye / 'cvt_label').mkdir()
    labels['yeseg_sar'] = {}
    for i in range(5):
        name = f'ye_{i}'
        Image.fromarray(rng.randint(0, 256, (24, 24)).astype(np.uint8)).save(
            ye / 'sar' / f'{name}.png')
        lab = _label(rng, (24, 24), list(range(6)) + [255])
        Image.fromarray(lab).save(ye / 'cvt_label' / f'{name}.png')
        labels['yeseg_sar'][name] = lab
    (ye / 'test.txt').write_text('ye_0\n')
    return labels


def tree_digest(folder: Path) -> dict:
    """{relative path: (sha1, mtime_ns)} of every file under `folder`."""
    return {str(p.relative_to(folder)): (hashlib.sha1(p.read_bytes()).hexdigest(),
                                         p.stat().st_mtime_ns)
            for p in sorted(folder.rglob('*')) if p.is_file()}


# level-2 class → mean intensity of the synthetic SAR image (learnable from brightness)
MEANS = {'water': 25, 'grass': 70, 'cropland': 95, 'tree': 120, 'bare land': 155, 'road': 185,
         'urban area': 215, 'building': 240}


def write_learnable_sources(data_root: Path, n: int = 8, size: int = 64, seed: int = 0):
    """YESeg-SAR (8-bit png) and PIE-SAR (8-bit tif) whose classes differ in brightness,
    with 4-look Gamma speckle: label blocks of 16×16 pixels."""
    from segearth_ov.datasets.sar_augment import gamma_speckle_multiplier
    from segearth_ov.datasets.sar_ovseg import load_taxonomy
    rng = np.random.default_rng(seed)
    tax = load_taxonomy()
    layouts = {'yeseg_sar': ('YESeg-OPT-SAR', 'sar', 'cvt_label', '.png', '.png', 'test.txt'),
               'pie_sar': ('PIE-RGB-SAR', 'sar', 'label', '.tif', '.tif', 'val.txt')}
    for key, (root, idir, ldir, ie, le, split) in layouts.items():
        classes = [c for c in tax.sources[key]['classes'] if c['level2'] in MEANS]
        (data_root / root / idir).mkdir(parents=True)
        (data_root / root / ldir).mkdir(parents=True)
        for i in range(n):
            blocks = rng.integers(0, len(classes), (size // 16, size // 16))
            pick = np.kron(blocks, np.ones((16, 16), int))
            lab = np.array([c['value'] for c in classes], np.uint8)[pick]
            mean = np.array([MEANS[c['level2']] for c in classes], np.float32)[pick]
            img = np.clip(mean * gamma_speckle_multiplier(mean.shape, 16, rng), 0, 255)
            img = img.astype(np.uint8)
            if ie == '.tif':
                tifffile.imwrite(data_root / root / idir / f'{key}{i}{ie}', img)
                tifffile.imwrite(data_root / root / ldir / f'{key}{i}{le}', lab)
            else:
                Image.fromarray(img).save(data_root / root / idir / f'{key}{i}{ie}')
                Image.fromarray(lab).save(data_root / root / ldir / f'{key}{i}{le}')
        (data_root / root / split).write_text(''.join(f'{key}{i}\n' for i in range(n // 2)))
