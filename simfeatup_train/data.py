"""Random square crops of unlabeled images, the same crops again after a resume.

Each crop is drawn from a generator seeded by (seed, epoch, index), not from a worker's
random state, so which crop an image gives depends only on when the sampler serves it.
Images that cannot be read are skipped (the batch is smaller) and reported by the loop.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from segearth_ov.utils.images import ImageReadError, read_image

logger = logging.getLogger('segearth_ov')


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size×size crop of an H×W×3 image at a random place; reflect-padded if smaller."""
    h, w = img.shape[:2]
    ph, pw = max(0, size - h), max(0, size - w)
    if ph or pw:
        mode = 'reflect' if min(h, w) > 1 else 'edge'
        img = np.pad(img, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)), mode=mode)
        h, w = img.shape[:2]
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    return img[top:top + size, left:left + size]


class UnlabeledCrops(Dataset):
    """Item i: {'img': 3×S×S uint8 RGB crop of image i, 'index': i}, or a skip record."""

    def __init__(self, files: list[Path], crop_size: int = 224, seed: int = 0):
        self.files, self.crop_size, self.seed = list(files), crop_size, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        path = self.files[index]
        try:
            img = read_image(path)
        except (ImageReadError, OSError, ValueError) as err:
            return {'index': index, 'skipped': f'{path}: {err}'}
        except Exception as err:   # decoders raise their own types (cv2.error, tifffile…)
            return {'index': index, 'skipped': f'{path}: {type(err).__name__}: {err}'}
        rng = np.random.default_rng([self.seed, self.epoch, index])
        crop = random_crop(img, self.crop_size, rng)
        return {'index': index, 'img': torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))}


def collate_crops(items: list[dict]) -> dict:
    """Stack the readable crops; list the indices served and the files skipped."""
    imgs = [it['img'] for it in items if 'img' in it]
    size = imgs[0].shape[-1] if imgs else 0
    return {'img': torch.stack(imgs) if imgs else torch.empty(0, 3, size, size, dtype=torch.uint8),
            'index': [it['index'] for it in items if 'img' in it],
            'skipped': [it['skipped'] for it in items if 'skipped' in it]}
