"""Random views of an image and of its high-resolution features (FeatUp's multi-view jitter).

The same view is applied to the image and to the upsampled features, so the downsampled
jittered features can be compared with the CLIP features of the jittered image.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class Jitter(NamedTuple):
    """Reflect-pad by `pad`, zoom (bilinear) by `zoom`, crop at (top, left), then maybe flip."""
    pad: int
    zoom: float
    top: int
    left: int
    flip: bool


def identity_jitter(pad: int) -> Jitter:
    """The view that gives back the input: no zoom, the crop at the padding offset, no flip."""
    return Jitter(pad, 1.0, pad, pad, False)


def sample_jitter(height: int, width: int, max_pad: int = 20, max_zoom: float = 2.0,
                  zoom_prob: float = 0.5, flip_prob: float = 0.5,
                  generator: torch.Generator | None = None) -> Jitter:
    """Draw a view for an image of `height`×`width` (zoom in [1, max_zoom] with `zoom_prob`).

    Draws from torch's CPU generator, whose state a training state captures, so a resumed run
    draws the views an uninterrupted one would.
    """
    u = torch.rand(3, generator=generator).tolist()
    flip = u[0] < flip_prob
    zoom = 1.0 + u[2] * (max_zoom - 1.0) if u[1] < zoom_prob else 1.0
    span_h = int((height + 2 * max_pad) * zoom) - height + 1
    span_w = int((width + 2 * max_pad) * zoom) - width + 1
    top = int(torch.randint(0, span_h, (), generator=generator))
    left = int(torch.randint(0, span_w, (), generator=generator))
    return Jitter(max_pad, zoom, top, left, flip)


def apply_jitter(x: torch.Tensor, jitter: Jitter) -> torch.Tensor:
    """The view `jitter` of a B×C×H×W tensor (image or features), same size as `x`."""
    h, w = x.shape[-2:]
    out = F.pad(x, [jitter.pad] * 4, mode='reflect') if jitter.pad else x
    if jitter.zoom > 1.0:
        out = F.interpolate(out, scale_factor=jitter.zoom, mode='bilinear', align_corners=False)
    out = out[:, :, jitter.top:jitter.top + h, jitter.left:jitter.left + w]
    if out.shape[-2:] != (h, w):
        raise ValueError(f'jitter {jitter} does not fit a {w}×{h} input (crop out of range)')
    return torch.flip(out, [3]) if jitter.flip else out
