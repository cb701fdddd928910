"""SAR-like images from optical ones, so that the whole pipeline runs without real SAR data.

A crude but honest model of what separates a SAR image from its optical twin:
- one band, no colour: the optical luminance stands in for backscatter;
- multiplicative speckle: fully developed speckle of an L-look intensity image is
  Gamma(shape=L, scale=1/L) (mean 1, variance 1/L), multiplied into the intensity;
- imperfect co-registration: the SAR image is shifted by a few random pixels;
- sensor sample types: written as 16-bit amplitude (√intensity scaled to the uint16
  range) or float32 linear intensity (train those with `data.sar.to_db=True`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from segearth_ov.utils.files import atomic_path
from segearth_ov.utils.images import read_image

LUMA = np.array([0.299, 0.587, 0.114])   # ITU-R BT.601 weights
FLOOR = 0.02                              # dark pixels still scatter a little
AMPLITUDE_SCALE = 20000.0                 # amplitude 1.0 → uint16 20000


def speckle(shape, looks: float, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative intensity speckle of `looks` looks: Gamma(L, 1/L), mean 1, var 1/L."""
    if looks <= 0:
        raise ValueError(f'looks must be > 0, got {looks}')
    return rng.gamma(looks, 1.0 / looks, size=shape)


def shift_image(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Content moved by (dy, dx) pixels; the uncovered border repeats the edge pixels."""
    h, w = img.shape[:2]
    ys = np.clip(np.arange(h) - dy, 0, h - 1)
    xs = np.clip(np.arange(w) - dx, 0, w - 1)
    return img[ys][:, xs]


def sar_like(rgb: np.ndarray, rng: np.random.Generator, looks: float | None = 4,
             max_shift: int = 4, dtype: str = 'uint16') -> tuple[np.ndarray, tuple[int, int]]:
    """(1-band H×W SAR-like image, (dy, dx) misregistration) from a uint8 RGB image.

    `looks=None` leaves out the speckle (for checks). dtype 'uint16': amplitude ×
    AMPLITUDE_SCALE; 'float32': linear intensity.
    """
    if dtype not in ('uint16', 'float32'):
        raise ValueError(f"dtype must be 'uint16' (amplitude) or 'float32' (linear intensity), "
                         f'got {dtype!r}')
    intensity = FLOOR + (1 - FLOOR) * (rgb[..., :3].astype(np.float64) / 255.0) @ LUMA
    if looks is not None:
        intensity = intensity * speckle(intensity.shape, looks, rng)
    dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
    intensity = shift_image(intensity, dy, dx)
    if dtype == 'float32':
        return intensity.astype(np.float32), (dy, dx)
    amplitude = np.sqrt(intensity) * AMPLITUDE_SCALE
    return np.clip(np.rint(amplitude), 0, 65535).astype(np.uint16), (dy, dx)


def tiles(rgb: np.ndarray, size: int | None):
    """Non-overlapping size×size tiles (row-major); the whole image if size is None."""
    if not size:
        yield 0, 0, rgb
        return
    h, w = rgb.shape[:2]
    if h < size or w < size:
        raise ValueError(f'image of {w}×{h} pixels is smaller than --tile {size}')
    for y in range(0, h - size + 1, size):
        for x in range(0, w - size + 1, size):
            yield y, x, rgb[y:y + size, x:x + size]


def _write_atomic(path: Path, write) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def make_pairs(optical_images, out_dir: str | Path, tile: int | None = 224, looks: float = 4,
               max_shift: int = 4, dtype: str = 'uint16', seed: int = 0,
               overwrite: bool = False) -> Path:
    """Write out_dir/{optical/*.png, sar/*.tif, pairs.txt}; return the pairs file.

    Each optical image (any format `read_image` reads) is cut into tiles; each tile gets a
    SAR-like twin. Refuses to write into a folder that already holds a pairs.txt unless
    `overwrite`, so an earlier set is never mixed or clobbered by accident.
    """
    import cv2
    import tifffile
    out_dir = Path(out_dir)
    pairs_file = out_dir / 'pairs.txt'
    if pairs_file.exists() and not overwrite:
        raise FileExistsError(f'{pairs_file} exists: choose another --out, or pass --overwrite')
    (out_dir / 'optical').mkdir(parents=True, exist_ok=True)
    (out_dir / 'sar').mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines, names = [], set()
    for src in tqdm(list(optical_images), desc='synthetic pairs', unit='image'):
        src = Path(src)
        rgb = read_image(src)
        for y, x, crop in tiles(rgb, tile):
            name = f'{src.stem}_{y}_{x}' if tile else src.stem
            if name in names:
                raise ValueError(f'two optical images give the output name {name!r}: give '
                                 'images with different file names')
            names.add(name)
            sar, _ = sar_like(crop, rng, looks, max_shift, dtype)
            opt_path, sar_path = out_dir / 'optical' / f'{name}.png', out_dir / 'sar' / f'{name}.tif'
            _write_atomic(opt_path, lambda p, c=crop: cv2.imwrite(str(p), c[..., ::-1].copy()))
            _write_atomic(sar_path, lambda p, s=sar: tifffile.imwrite(p, s))
            lines.append(f'optical/{name}.png\tsar/{name}.tif')
    _write_atomic(pairs_file, lambda p: p.write_text('\n'.join(lines) + '\n'))
    return pairs_file
