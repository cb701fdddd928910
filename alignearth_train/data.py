"""Paired optical/SAR images: finding the pairs, and turning each pair into model inputs.

Both images go through `segearth_ov.utils.images.read_image` — the one raster conversion of
this package, also used at inference and evaluation — so the SAR encoder is trained on
exactly the kind of input it will be given later (1 band replicated to 3; 8-bit as it is;
16-bit/float: optional linear→dB, then a per-band percentile stretch over valid pixels).
"""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from segearth_ov.models.backbones.constants import CLIP_MEAN, CLIP_STD
from segearth_ov.utils.images import IMAGE_SUFFIXES
from segearth_ov.utils.images import read_image

Pair = tuple[Path, Path]


def read_pairs_file(path: str | Path) -> list[Pair]:
    """Lines `optical_path  sar_path` (whitespace, tab or comma separated; '#' comments).

    Relative paths are relative to the pairs file's folder.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'pairs file not found: {path} (one "optical_path sar_path" '
                                'per line)')
    pairs = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        parts = [p for p in re.split(r'[,\t]|\s+', line) if p]
        if len(parts) != 2:
            raise ValueError(f'{path}:{n}: expected "optical_path sar_path", got {line!r} '
                             '(paths with spaces: separate the two with a tab or a comma)')
        pairs.append(tuple(Path(p) if Path(p).is_absolute() else path.parent / p
                           for p in parts))
    return _checked(pairs, str(path))


def _images_by_stem(folder: Path) -> dict[str, Path]:
    files = [p for p in sorted(folder.rglob('*'))
             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return {str(p.relative_to(folder).with_suffix('')): p for p in files}


def match_folders(optical_dir: str | Path, sar_dir: str | Path) -> list[Pair]:
    """Pairs of two folders matched by relative path without extension (a.png ↔ a.tif)."""
    optical_dir, sar_dir = Path(optical_dir), Path(sar_dir)
    for d in (optical_dir, sar_dir):
        if not d.is_dir():
            raise FileNotFoundError(f'folder not found: {d}')
    opt, sar = _images_by_stem(optical_dir), _images_by_stem(sar_dir)
    only_opt, only_sar = sorted(set(opt) - set(sar)), sorted(set(sar) - set(opt))
    if only_opt or only_sar:
        raise ValueError(
            f'{len(only_opt)} optical image(s) without a SAR twin (e.g. {only_opt[:3]}) and '
            f'{len(only_sar)} SAR image(s) without an optical twin (e.g. {only_sar[:3]}): the '
            f'folders {optical_dir} and {sar_dir} must hold the same names (extensions may '
            'differ), or list the pairs in a pairs file')
    return _checked([(opt[k], sar[k]) for k in sorted(opt)], f'{optical_dir} + {sar_dir}')


def _checked(pairs: list[Pair], source: str) -> list[Pair]:
    if not pairs:
        raise ValueError(f'no image pairs found in {source}')
    missing = [str(p) for pair in pairs for p in pair if not p.is_file()]
    if missing:
        raise FileNotFoundError(f'{len(missing)} image(s) listed in {source} do not exist, '
                                f'e.g. {missing[:3]}')
    return pairs


def find_pairs(pairs=None, optical_dir=None, sar_dir=None, what: str = 'data') -> list[Pair]:
    """Pairs from a pairs file, or from two folders matched by name (exactly one of them)."""
    if pairs and (optical_dir or sar_dir):
        raise ValueError(f'{what}: give either a pairs file or optical_dir + sar_dir, not both')
    if pairs:
        return read_pairs_file(pairs)
    if optical_dir and sar_dir:
        return match_folders(optical_dir, sar_dir)
    raise ValueError(f'{what}: no pairs given. Set {what}.pairs=PAIRS.txt (lines "optical sar") '
                     f'or {what}.optical_dir=DIR and {what}.sar_dir=DIR (matched by file name)')


def split_pairs(pairs: list[Pair], val_fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """A seeded random hold-out of `val_fraction` of the pairs (at least one if > 0)."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f'data.val_fraction must be in [0, 1), got {val_fraction}')
    n_val = max(1, round(len(pairs) * val_fraction)) if val_fraction > 0 else 0
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
    val = sorted(order[:n_val])
    train = sorted(order[n_val:])
    return [pairs[i] for i in train], [pairs[i] for i in val]


def normalise(rgb: np.ndarray) -> torch.Tensor:
    """uint8 H×W×3 RGB → float 3×H×W with the segmentor's CLIP mean/std."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float()
    return (t - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None]


class PairDataset(Dataset):
    """(optical 3×S×S, SAR 3×S×S, index) from a list of pairs.

    Both images are read through `read_image` (with `optical` / `sar` conversion options),
    cropped to the same relative window and resized to S×S, and flipped together. The
    random choices come from a generator seeded by (seed, epoch, index), so they do not
    depend on workers or on where a run was resumed.
    """

    def __init__(self, pairs: list[Pair], image_size: int = 224, optical: dict | None = None,
                 sar: dict | None = None, hflip: float = 0.0, crop_scale=(1.0, 1.0),
                 seed: int = 0, augment: bool = True):
        self.pairs = pairs
        self.size = image_size
        self.optical, self.sar = dict(optical or {}), dict(sar or {})
        self.hflip, self.crop_scale = hflip, tuple(crop_scale)
        if not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ValueError(f'data.crop_scale must satisfy 0 < low <= high <= 1, got {crop_scale}')
        self.seed, self.epoch, self.augment = seed, 0, augment

    def __len__(self) -> int:
        return len(self.pairs)

    def _window(self, g: torch.Generator) -> tuple[float, float, float]:
        lo, hi = self.crop_scale
        side = lo + (hi - lo) * torch.rand((), generator=g).item()
        return side, (1 - side) * torch.rand((), generator=g).item(), \
            (1 - side) * torch.rand((), generator=g).item()

    def _prepare(self, rgb: np.ndarray, window, flip: bool) -> torch.Tensor:
        side, y0, x0 = window
        h, w = rgb.shape[:2]
        top, left = int(round(y0 * h)), int(round(x0 * w))
        rgb = rgb[top:top + max(1, int(round(side * h))), left:left + max(1, int(round(side * w)))]
        rgb = cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        if flip:
            rgb = rgb[:, ::-1]
        return normalise(rgb)

    def __getitem__(self, index: int):
        opt_path, sar_path = self.pairs[index]
        optical = read_image(opt_path, **self.optical)
        sar = read_image(sar_path, **self.sar)
        window, flip = (1.0, 0.0, 0.0), False
        if self.augment:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 10_000_019
                                              + index)
            window = self._window(g)
            flip = torch.rand((), generator=g).item() < self.hflip
        return self._prepare(optical, window, flip), self._prepare(sar, window, flip), index
