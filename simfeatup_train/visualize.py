"""A picture to check training by eye: image | low-res features | upsampled | CRN's image.

Features are shown as their 3 main principal components (fitted on the upsampled map, the
low-res map projected on the same directions, so equal colours mean equal features).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from segearth_ov.utils.files import atomic_path

from .modules import pca_basis


def _to_rgb(comps: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> np.ndarray:
    x = ((comps - lo[:, None, None]) / (hi - lo).clamp_min(1e-6)[:, None, None]).clamp(0, 1)
    return (x.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)


def feature_pictures(lr: torch.Tensor, hr: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(low-res C×h×w, high-res C×H×W) → two H×W×3 uint8 PCA pictures in shared colours."""
    c, h, w = hr.shape
    flat = hr.reshape(c, -1).float()
    mean, basis = pca_basis(flat)
    hr_c = (basis.T @ (flat - mean[:, None])).reshape(3, h, w)
    lr_c = (basis.T @ (lr.reshape(c, -1).float() - mean[:, None])).reshape(3, *lr.shape[-2:])
    lr_c = F.interpolate(lr_c[None], size=(h, w), mode='nearest')[0]
    lo = torch.quantile(hr_c.reshape(3, -1), 0.01, dim=1)
    hi = torch.quantile(hr_c.reshape(3, -1), 0.99, dim=1)
    return _to_rgb(lr_c, lo, hi), _to_rgb(hr_c, lo, hi)


def save_picture(path: str | Path, img_uint8: torch.Tensor, lr: torch.Tensor, hr: torch.Tensor,
                 recon: torch.Tensor) -> Path:
    """Write image | PCA(low-res) | PCA(upsampled) | CRN reconstruction side by side (PNG)."""
    from PIL import Image
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = img_uint8.permute(1, 2, 0).cpu().numpy()
    lr_rgb, hr_rgb = feature_pictures(lr, hr)
    rec = ((recon.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    gap = np.full((image.shape[0], 4, 3), 255, np.uint8)
    row = np.concatenate([image, gap, lr_rgb, gap, hr_rgb, gap, rec], axis=1)
    with atomic_path(path) as tmp:
        Image.fromarray(row).save(tmp, format='PNG')
    return path
