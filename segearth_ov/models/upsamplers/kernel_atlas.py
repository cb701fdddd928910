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

from functools import partial

import torch
import torch.nn.functional as F

from ...utils.parallel import parallel_map


# Above this many image pixels the whole-image kernels (≈ 650 bytes a pixel for D = 11, plus
# the cuts: +1.3 GB peak measured at 1008²) cost more memory than they save time; windows
# are then computed one by one. 512² covers the benchmarks' 448² images (+≈ 170 MB).
MAX_ATLAS_PIXELS = 512 * 512


class KernelAtlas:
    def __init__(self, chain, img: torch.Tensor, window_hw: tuple[int, int], patch_size: int,
                 windows=()):
        """chain: a JBU chain (`steps()`); img: 1×3×H×W normalised image (the guidance);
        window_hw: the slide windows' size, a multiple of `patch_size`; windows: their
        (y1, y2, x1, x2), whose border bands are then computed up front, in one batched call
        per step and side (others are computed when asked for)."""
        self.steps = chain.steps()
        self.image_hw = tuple(img.shape[-2:])
        self.window_hw = window_hw
        wh, ww = window_hw
        gh, gw = wh // patch_size, ww // patch_size
        self.factors, self.grids, self.guides, self.kernels = [], [], [], []
        jobs = []        # every step's bands of rows, then the windows' border bands
        for up in self.steps:
            gh, gw = 2 * gh, 2 * gw
            fy, fx = wh // gh, ww // gw
            guide = (F.avg_pool2d(img, (fy, fx)) if (fy, fx) != (1, 1) else img).contiguous()
            self.factors.append((fy, fx))
            self.grids.append((gh, gw))
            self.guides.append(guide)
            kernel, fill = up.kernel_band_jobs(guide)
            self.kernels.append(kernel)
            jobs += fill
        corners = [(y1, x1) for y1, _, x1, _ in windows if self._aligned(y1, x1)]
        sides = [(s, side, [c for c in corners if side in self._inner_sides(*c)])
                 for s in range(len(self.steps)) for side in SIDES]
        jobs += [partial(self._side_bands, job) for job in sides]
        done = parallel_map(lambda job: job(), jobs, img.device)
        self._bands = {}
        for (s, side, group), bands in zip(sides, done[len(done) - len(sides):]):
            for corner, band in zip(group, bands):
                self._bands[corner, s, side] = band

    @staticmethod
    def applies(windows: list, img_hw: tuple[int, int], patch_size: int) -> bool:
        """Worth building for these windows: several, of one patch-multiple size, image not huge."""
        if len(windows) < 2 or img_hw[0] * img_hw[1] > MAX_ATLAS_PIXELS:
            return False
        sizes = {(y2 - y1, x2 - x1) for y1, y2, x1, x2 in windows}
        return len(sizes) == 1 and all(n % patch_size == 0 for n in next(iter(sizes)))

    def _aligned(self, y1: int, x1: int) -> bool:
        return not any(y1 % fy or x1 % fx for fy, fx in self.factors)

    def _inner_sides(self, y1: int, x1: int) -> list[str]:
        """The window's edges that lie inside the image, where its own reflection differs."""
        (H, W), (wh, ww) = self.image_hw, self.window_hw
        inner = dict(top=y1 > 0, bottom=y1 + wh < H, left=x1 > 0, right=x1 + ww < W)
        return [side for side in SIDES if inner[side]]

    def _band_region(self, s: int, side: str) -> tuple[int, int, int, int]:
        """The pixels of step s recomputed for one inner side: the `radius` rows or columns
        next to it, left/right bands widened to `MIN_COLUMNS` (past the radius the window's
        kernels equal the atlas's, so recomputing more changes nothing)."""
        (gh, gw), r = self.grids[s], self.steps[s].radius
        c = max(r, MIN_COLUMNS)
        return dict(top=(0, min(r, gh), 0, gw), bottom=(max(gh - r, 0), gh, 0, gw),
                    left=(0, gh, 0, min(c, gw)), right=(0, gh, max(gw - c, 0), gw))[side]

    def _local_guide(self, s: int, y1: int, x1: int) -> torch.Tensor:
        (fy, fx), (gh, gw) = self.factors[s], self.grids[s]
        oy, ox = y1 // fy, x1 // fx
        return self.guides[s][..., oy:oy + gh, ox:ox + gw]

    def _side_bands(self, job) -> list[torch.Tensor]:
        """One side's band kernels of step s for a group of windows, as one batch."""
        s, side, group = job
        if not group:
            return []
        band = self._band_region(s, side)
        guides = torch.cat([self._local_guide(s, y1, x1) for y1, x1 in group])
        return list(_band_kernel(self.steps[s], guides, band).split(1))

    def window(self, y1: int, x1: int) -> list[torch.Tensor] | None:
        """The steps' kernels (1×D²×h×w each) of the window at (y1, x1), or None if unaligned."""
        if not self._aligned(y1, x1):
            return None
        sides = self._inner_sides(y1, x1)
        out = []
        for s, ((fy, fx), (gh, gw), kernel) in enumerate(zip(self.factors, self.grids,
                                                             self.kernels)):
            oy, ox = y1 // fy, x1 // fx
            k = kernel[..., oy:oy + gh, ox:ox + gw]
            k = torch.empty(k.shape, dtype=k.dtype, device=k.device, memory_format=(
                torch.channels_last if kernel.is_contiguous(memory_format=torch.channels_last)
                else torch.contiguous_format)).copy_(k)   # the window's own, in the atlas layout
            for side in sides:
                by0, by1, bx0, bx1 = self._band_region(s, side)
                band = self._bands.get(((y1, x1), s, side))
                if band is None:
                    band = _band_kernel(self.steps[s], self._local_guide(s, y1, x1),
                                        (by0, by1, bx0, bx1))
                k[..., by0:by1, bx0:bx1] = band
            out.append(k)
        return out


SIDES = ('top', 'bottom', 'left', 'right')
# The compiled neighbour dot products take 8 pixels of a row per vector: narrower column bands
# would take its scalar path, several times slower per pixel.
MIN_COLUMNS = 8


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
