"""SAR training augmentations as mmseg transforms (SAR-OVSeg's trained model).

SAR images differ from optical ones in how they vary between sensors and passes: speckle
(multiplicative noise whose strength depends on the number of looks L) and the absolute
radiometric level (calibration, incidence angle) change, while the scene does not. The
transforms below make a model see those variations in training:

- `GammaSpeckle`: multiplies each pixel by n ~ Gamma(shape=L, scale=1/L), i.e. mean 1 and
  variance 1/L, the fully developed speckle of an L-look intensity image (`domain='amplitude'`
  multiplies by sqrt(n), for amplitude images). One multiplier per pixel, shared by the bands
  (a 1-band SAR image replicated into 3 stays grey).
- `RandomGainDB`: one gain g (dB) uniform in `gain_db`, the image × 10^(g/10) (intensity) or
  × 10^(g/20) (amplitude).
- `RandomRotate90`: k × 90° (k uniform in 0..3) of image and labels; with mmseg's RandomFlip
  (horizontal and vertical) and RandomCrop it gives SAR's viewing-geometry-free symmetries.

uint8 images stay uint8 (rounded, clipped to 0..255); float images stay float.
"""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

DOMAINS = ('intensity', 'amplitude')


def gamma_speckle_multiplier(shape, looks: float, rng: np.random.Generator) -> np.ndarray:
    """Speckle multipliers n ~ Gamma(L, 1/L): E[n] = 1, Var[n] = 1/L."""
    if looks <= 0:
        raise ValueError(f'looks must be > 0, got {looks}')
    return rng.gamma(shape=looks, scale=1.0 / looks, size=shape).astype(np.float32)


def _check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f'domain must be one of {DOMAINS}, got {domain!r}')


def _scaled(img: np.ndarray, factor) -> np.ndarray:
    """img × factor (broadcast over bands), back in img's dtype."""
    out = img.astype(np.float32) * factor
    if img.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(img.dtype)


class _RandomTransform(BaseTransform):
    def __init__(self, prob: float = 0.5, seed: int | None = None):
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob
        self.rng = np.random.default_rng(seed)


@TRANSFORMS.register_module()
class GammaSpeckle(_RandomTransform):
    """Multiplicative Gamma speckle with L looks (see the module docstring).

    Args:
        looks: L, or (low, high) to draw L uniformly per image (e.g. (1, 8)).
        domain: 'intensity' (× n) or 'amplitude' (× sqrt(n)).
        prob: chance of applying it to an image.
    """

    def __init__(self, looks=(1.0, 8.0), domain: str = 'intensity', prob: float = 0.5,
                 seed: int | None = None):
        super().__init__(prob, seed)
        _check_domain(domain)
        lo, hi = (looks, looks) if np.isscalar(looks) else tuple(looks)
        if not 0 < lo <= hi:
            raise ValueError(f'looks must be > 0 (and low <= high), got {looks}')
        self.looks, self.domain = (float(lo), float(hi)), domain

    def transform(self, results: dict) -> dict:
        if self.rng.random() >= self.prob:
            return results
        img = results['img']
        looks = self.rng.uniform(*self.looks)
        n = gamma_speckle_multiplier(img.shape[:2], looks, self.rng)
        if self.domain == 'amplitude':
            n = np.sqrt(n)
        results['img'] = _scaled(img, n[..., None] if img.ndim == 3 else n)
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(looks={self.looks}, domain={self.domain!r}, prob={self.prob})'


@TRANSFORMS.register_module()
class RandomGainDB(_RandomTransform):
    """A random radiometric gain in dB, uniform in `gain_db` (default ±3 dB)."""

    def __init__(self, gain_db=(-3.0, 3.0), domain: str = 'intensity', prob: float = 0.5,
                 seed: int | None = None):
        super().__init__(prob, seed)
        _check_domain(domain)
        self.gain_db, self.domain = (float(gain_db[0]), float(gain_db[1])), domain

    def factor(self, gain_db: float) -> float:
        return 10.0 ** (gain_db / (10.0 if self.domain == 'intensity' else 20.0))

    def transform(self, results: dict) -> dict:
        if self.rng.random() >= self.prob:
            return results
        g = self.rng.uniform(*self.gain_db)
        results['img'] = _scaled(results['img'], self.factor(g))
        results['gain_db'] = g
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(gain_db={self.gain_db}, domain={self.domain!r}, prob={self.prob})'


@TRANSFORMS.register_module()
class RandomRotate90(_RandomTransform):
    """Rotate image and every segmentation map by the same k × 90°, k uniform in 0..3."""

    def transform(self, results: dict) -> dict:
        if self.rng.random() >= self.prob:
            return results
        k = int(self.rng.integers(0, 4))
        results['img'] = np.ascontiguousarray(np.rot90(results['img'], k, axes=(0, 1)))
        for key in results.get('seg_fields', []):
            results[key] = np.ascontiguousarray(np.rot90(results[key], k, axes=(0, 1)))
        results['img_shape'] = results['img'].shape[:2]
        results['rot90_k'] = k
        return results
