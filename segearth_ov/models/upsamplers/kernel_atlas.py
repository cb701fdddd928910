"""Computing SimFeatUp's guidance kernels once per image instead of once per slide window.

Slide windows overlap (224 windows at stride 112: most pixels lie in four of them), and a
JBU step's kernel at a pixel depends on the pooled guidance in its D×D neighbourhood only.
A window whose offset is a multiple of each step's pooling factor pools exactly the image's
pooled guidance, so its kernels equal the whole image's, except within `radius` of the window
edges that lie inside the image, where the window reflects its own border. `KernelAtlas`
computes every step's kernel on the whole image once and gives each window the matching cut
with those border bands recomputed; windows that are not aligned get None (computed as usual).
The result equals per-window computation up to float summation order.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


# Above this many image pixels the whole-image kernels (≈ 650 bytes a pixel for D = 11, plus
# the cuts: +1.3 GB peak measured at 1008²) cost more memory than they save time; windows
# are then computed one by one. 512² covers the benchmarks' 448² images (+≈ 170 MB).
MAX_ATLAS_PIXELS = 512 * 512


class KernelAtlas:
    def __init__(self, chain, img: torch.Tensor, window_hw: tuple[int, int], patch_size: int):
        """chain: a JBU chain (`steps()`); img: 1×3×H×W normalised image (the guidance);
        window_hw: the slide windows' size, a multiple of `patch_size`."""
        self.steps = chain.steps()
        self.image_hw = tuple(img.shape[-2:])
        self.window_hw = window_hw
        wh, ww = window_hw
        gh, gw = wh // patch_size, ww // patch_size
        self.factors, self.grids, self.guides, self.kernels = [], [], [], []
        for up in self.steps:
            gh, gw = 2 * gh, 2 * gw
            fy, fx = wh // gh, ww // gw
            guide = (F.avg_pool2d(img, (fy, fx)) if (fy, fx) != (1, 1) else img).contiguous()
            self.factors.append((fy, fx))
            self.grids.append((gh, gw))
            self.guides.append(guide)
            self.kernels.append(up.kernel(guide))

    @staticmethod
    def applies(windows: list, img_hw: tuple[int, int], patch_size: int) -> bool:
        """Worth building for these windows: several, of one patch-multiple size, image not huge."""
        if len(windows) < 2 or img_hw[0] * img_hw[1] > MAX_ATLAS_PIXELS:
            return False
        sizes = {(y2 - y1, x2 - x1) for y1, y2, x1, x2 in windows}
        return len(sizes) == 1 and all(n % patch_size == 0 for n in next(iter(sizes)))

    def window(self, y1: int, x1: int) -> list[torch.Tensor] | None:
        """The steps' kernels (1×D²×h×w each) of the window at (y1, x1), or None if unaligned."""
        if any(y1 % fy or x1 % fx for fy, fx in self.factors):
            return None
        (H, W), (wh, ww) = self.image_hw, self.window_hw
        inner = dict(top=y1 > 0, bottom=y1 + wh < H, left=x1 > 0, right=x1 + ww < W)
        out = []
        for up, (fy, fx), (gh, gw), guide, kernel in zip(self.steps, self.factors, self.grids,
                                                         self.guides, self.kernels):
            oy, ox = y1 // fy, x1 // fx
            k = kernel[..., oy:oy + gh, ox:ox + gw]
            r = up.radius
            bands = []
            if inner['top']:
                bands.append((0, min(r, gh), 0, gw))
            if inner['bottom']:
                bands.append((max(gh - r, 0), gh, 0, gw))
            if inner['left']:
                bands.append((0, gh, 0, min(r, gw)))
            if inner['right']:
                bands.append((0, gh, max(gw - r, 0), gw))
            k = torch.empty(k.shape, dtype=k.dtype, device=k.device, memory_format=(
                torch.channels_last if kernel.is_contiguous(memory_format=torch.channels_last)
                else torch.contiguous_format)).copy_(k)   # the window's own, in the atlas layout
            local_guide = guide[..., oy:oy + gh, ox:ox + gw]
            for band in bands:
                y0, y1b, x0, x1b = band
                k[..., y0:y1b, x0:x1b] = _band_kernel(up, local_guide, band)
            out.append(k)
        return out


def _band_kernel(up, guide: torch.Tensor, band) -> torch.Tensor:
    """`up.kernel(guide)` at the pixels of `band`, from the guidance rows/columns it needs.

    The window's guidance is cut to the band widened by the radius (clipped at the window's
    edges, where the window's own reflection applies): a pixel's D×D neighbourhood lies in
    that cut, so the cut's own padding is only ever read at the window's true edges.
    """
    y0, y1, x0, x1 = band
    r = up.radius
    gh, gw = guide.shape[-2:]
    cy0, cy1, cx0, cx1 = max(y0 - r, 0), min(y1 + r, gh), max(x0 - r, 0), min(x1 + r, gw)
    cut = guide[..., cy0:cy1, cx0:cx1].contiguous()
    return up.kernel(cut, (y0 - cy0, y1 - cy0, x0 - cx0, x1 - cx0))
