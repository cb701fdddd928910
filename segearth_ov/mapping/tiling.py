"""Tiles over a scene, and the streaming blend of their logits.

Why tiles: a 10,000 × 10,000 scene cannot go through the model at once (its Q×H×W
logits alone would be gigabytes). The model sees overlapping tiles; their logits are
summed and divided by the number of windows (or tiles) covering each pixel — the overlap
averaged exactly as slide inference averages its windows within an image. With slide
inference the tiles are cut along the windows (`window_tiles`), so the tiled result *is*
the untiled one (to float rounding): there is nothing from which a seam could come.

Why streaming: tile rows are processed top to bottom; once a tile row is done, every
model row above the next tile row's start is final and is handed out, so only one band
of tile height × scene width is held (`LogitBlender`), never the whole scene.
`RowResampler` then brings finished rows from the model grid back to the scene's pixel
grid (when the model sees the scene resized) in small row chunks, bilinearly, as the
segmentor resizes its logits to the image's shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..models.segmentors.windows import slide_starts


@dataclass
class AxisTiles:
    """The tiles along one axis: extents, and per tile the weight of each position.

    A tile's logits (an average over its windows) times its weight is its share of the
    sum; `total` is the sum of all weights, so share sums / total are the blended logits.
    """
    spans: list          # (start, end) per tile
    weights: list        # float32 array of end - start per tile
    total: np.ndarray    # float32 array of n, ≥ 1 everywhere


def window_tiles(n: int, tile: int, crop: int, stride: int) -> AxisTiles:
    """Tiles made of whole slide windows: each window of the whole image belongs to
    exactly one tile, and a tile's own slide windows are exactly those windows.

    A tile holds k = (tile − crop) // stride + 1 consecutive windows, so it is at most
    `tile` long and overlaps the next by crop − stride. Weighting each tile's average
    logits by its window count and dividing the sums by the image's window count gives
    the untiled slide inference itself: no seams, whatever the tile size.
    """
    starts = slide_starts(n, crop, stride)
    k = max(1, (tile - crop) // stride + 1)
    spans, weights = [], []
    total = np.zeros(n, np.float32)
    for g in range(0, len(starts), k):
        group = starts[g:g + k]
        a, b = group[0], min(group[-1] + crop, n)
        w = np.zeros(b - a, np.float32)
        for s in group:
            w[s - a:s - a + crop] += 1
        spans.append((a, b))
        weights.append(w)
        total[a:b] += w
    return AxisTiles(spans, weights, total)


def overlap_tiles(n: int, tile: int, overlap: int) -> AxisTiles:
    """Tiles of `tile` px every tile − overlap px (the last moved back to end at n), each of
    weight 1: for whole-image inference per tile, the overlaps are plainly averaged."""
    if n <= tile:
        starts = [0]
    else:
        starts = list(range(0, n - tile, tile - overlap)) + [n - tile]
    spans = [(s, min(s + tile, n)) for s in starts]
    weights = [np.ones(b - a, np.float32) for a, b in spans]
    total = np.zeros(n, np.float32)
    for (a, b), w in zip(spans, weights):
        total[a:b] += w
    return AxisTiles(spans, weights, total)


@dataclass
class TilePlan:
    """Where the tiles of one scene go.

    The scene (height × width source pixels) is seen by the model as a grid of
    model_height × model_width pixels (the same grid when no resize is asked). With slide
    inference (crop > 0) tiles are made of whole windows (`window_tiles`; `overlap` is then
    crop − stride); with whole-image inference (crop = 0) tiles of `tile` px overlap by
    `overlap` and are averaged (`overlap_tiles`).
    """
    height: int
    width: int
    model_height: int
    model_width: int
    tile: int
    overlap: int
    crop: int = 0
    stride: int = 1
    rows: AxisTiles = field(init=False)
    cols: AxisTiles = field(init=False)

    def __post_init__(self):
        if self.model_height < 1 or self.model_width < 1:
            raise ValueError(f'the model would see {self.model_width}×{self.model_height} '
                             'pixels: use a larger --resize-long-side or a smaller --gsd')
        if self.crop > 0:
            if self.tile < self.crop:
                raise ValueError(f'tile {self.tile} is smaller than the slide window '
                                 f'{self.crop}: use --tile {self.crop} or more (default 448)')
            axis = lambda n: window_tiles(n, self.tile, self.crop, self.stride)  # noqa: E731
        else:
            if self.tile < 32:
                raise ValueError(f'tile {self.tile} is too small: use at least 32 (default 448)')
            if not 0 <= self.overlap <= self.tile // 2:
                raise ValueError(f'overlap {self.overlap} must be between 0 and half the tile '
                                 f'({self.tile // 2})')
            axis = lambda n: overlap_tiles(n, self.tile, self.overlap)  # noqa: E731
        self.rows, self.cols = axis(self.model_height), axis(self.model_width)

    @property
    def resized(self) -> bool:
        return (self.model_height, self.model_width) != (self.height, self.width)

    @property
    def n_tiles(self) -> int:
        return len(self.rows.spans) * len(self.cols.spans)

    @property
    def tile_size(self) -> int:
        """The longest tile side actually used."""
        return max(b - a for a, b in self.rows.spans + self.cols.spans)

    @property
    def effective_overlap(self) -> int:
        spans = self.rows.spans if len(self.rows.spans) > 1 else self.cols.spans
        return spans[0][1] - spans[1][0] if len(spans) > 1 else 0

    def source_window(self, y0: int, y1: int, x0: int, x1: int):
        """The (fractional) source-pixel window of a model-grid tile."""
        from rasterio.windows import Window
        fy, fx = self.height / self.model_height, self.width / self.model_width
        return Window(x0 * fx, y0 * fy, (x1 - x0) * fx, (y1 - y0) * fy)

    def memory_bytes(self, num_classes: int, num_queries: int, chunk_rows: int,
                     probs_out: bool = False) -> dict:
        """What the streaming holds at its peak, by part (bytes; the model comes on top)."""
        th = max(b - a for a, b in self.rows.spans)
        tw = max(b - a for a, b in self.cols.spans)
        band = num_queries * th * self.model_width * 4
        q, c = num_queries, num_classes
        return {
            # the band of logit sums (reused from tile row to tile row)
            'blend band': band,
            # a tile: RGB, summed and counted logits, window logits, weighted copy
            'tile': th * tw * (3 + 4 * 4 * q + 4),
            # a chunk of finished rows at the scene's resolution: logits (and their
            # resampling), softmax, class probabilities, labels, validity
            'output chunk': chunk_rows * self.width * (
                4 * q * (3 if self.resized else 1) + 4 * q + 4 * 2 * c + 8 + 2
                + (c if probs_out else 0)),
        }

    def describe(self) -> list[str]:
        lines = [f'scene {self.width} × {self.height} px (width × height)']
        if self.resized:
            lines.append(f'model grid {self.model_width} × {self.model_height} px '
                         f'(scale {self.model_height / self.height:.4g})')
        how = (f'whole slide windows ({self.crop}/{self.stride}): same result as untiled'
               if self.crop > 0 else 'whole-image inference per tile, overlaps averaged')
        lines.append(f'tiles {len(self.cols.spans)} × {len(self.rows.spans)} = {self.n_tiles} '
                     f'of up to {self.tile_size} px, overlap {self.effective_overlap} px ({how})')
        return lines


class LogitBlender:
    """Sums weighted tile logits in one band of model rows; hands out finished rows.

    The band is allocated once (tile height × scene width) and reused: when a tile row
    starts, the rows the previous tile row shares with it move to the top and the rest is
    cleared. The weight of a pixel is the product of its row and column weights (the tiles
    form a grid, and slide windows a grid within), so no count map is stored.
    """

    def __init__(self, plan: TilePlan, num_queries: int):
        self.plan = plan
        height = max(b - a for a, b in plan.rows.spans)
        self.acc = np.zeros((num_queries, height, plan.model_width), np.float32)
        self.top = 0            # model row held in acc[:, 0]

    def start_row(self, i: int) -> None:
        """Make the band start at tile row i (the rows handed out before are reused)."""
        y0, _ = self.plan.rows.spans[i]
        if i == 0 or y0 == self.top:
            return
        _, prev_end = self.plan.rows.spans[i - 1]
        shift, keep = y0 - self.top, max(prev_end - y0, 0)
        # move the carried rows up in blocks of `shift` rows: source and destination of a
        # block never overlap, so numpy needs no temporary copy of the band
        for a in range(0, keep, shift):
            b = min(a + shift, keep)
            self.acc[:, a:b] = self.acc[:, a + shift:b + shift]
        self.acc[:, keep:] = 0
        self.top = y0

    def add(self, logits: np.ndarray, i: int, j: int) -> None:
        """Add tile (i, j)'s Q×h×w average logits, weighted by its window counts."""
        (y0, y1), (x0, x1) = self.plan.rows.spans[i], self.plan.cols.spans[j]
        wy, wx = self.plan.rows.weights[i], self.plan.cols.weights[j]
        logits *= wy[:, None] * wx[None, :]
        self.acc[:, y0 - self.top:y1 - self.top, x0:x1] += logits

    def finish_row(self, i: int) -> tuple[int, np.ndarray]:
        """(first row, Q×n×W blended logits) of the rows no later tile touches.

        The array is a view into the band: use it before the next `start_row`.
        """
        plan = self.plan
        spans = plan.rows.spans
        end = spans[i + 1][0] if i + 1 < len(spans) else plan.model_height
        out = self.acc[:, :end - self.top]
        out /= plan.rows.total[self.top:end, None] * plan.cols.total[None, :]
        return self.top, out


class RowResampler:
    """Model-grid logit rows → scene-grid rows, fed and handed out in row order.

    Bilinear with half-pixel centres (F.interpolate's align_corners=False, the resize the
    segmentor applies to its logits), done one axis at a time so that each output row needs
    two input rows only. Identity (just chunking) when the grids are the same.
    """

    def __init__(self, plan: TilePlan, chunk_rows: int):
        self.hm, self.wm = plan.model_height, plan.model_width
        self.h, self.w = plan.height, plan.width
        self.chunk = max(1, chunk_rows)
        self.identity = not plan.resized
        src = np.maximum((np.arange(self.h) + 0.5) * (self.hm / self.h) - 0.5, 0.0)
        self.i0 = np.minimum(np.floor(src).astype(np.int64), self.hm - 1)
        self.i1 = np.minimum(self.i0 + 1, self.hm - 1)
        self.w1 = (src - self.i0).astype(np.float32)
        self.buf = None
        self.buf_top = 0
        self.next_row = 0

    def push(self, row0: int, rows: np.ndarray):
        """Feed finished model rows row0.. (Q×n×Wm); yields (r0, Q×m×W) scene rows."""
        if self.identity:
            for a in range(0, rows.shape[1], self.chunk):
                yield row0 + a, rows[:, a:a + self.chunk]
            return
        if self.buf is None:
            self.buf, self.buf_top = rows, row0
        else:
            self.buf = np.concatenate([self.buf, rows], axis=1)
        end = row0 + rows.shape[1]
        ready = self.h if end >= self.hm else int(np.searchsorted(self.i1, end, side='left'))
        for r in range(self.next_row, ready, self.chunk):
            r1 = min(r + self.chunk, ready)
            a = self.buf[:, self.i0[r:r1] - self.buf_top]
            b = self.buf[:, self.i1[r:r1] - self.buf_top]
            w1 = self.w1[r:r1, None]
            v = torch.from_numpy(a * (1 - w1) + b * w1)
            c, m, _ = v.shape
            if self.wm != self.w:
                v = F.interpolate(v.reshape(1, c * m, self.wm), size=self.w, mode='linear',
                                  align_corners=False).reshape(c, m, self.w)
            yield r, v.numpy()
        self.next_row = max(self.next_row, ready)
        if self.next_row < self.h:
            keep = int(self.i0[self.next_row]) - self.buf_top
            self.buf, self.buf_top = self.buf[:, keep:].copy(), self.buf_top + keep


def chunk_rows_for(width: int, channels: int, budget_bytes: float = 32e6) -> int:
    """Rows per output chunk so that a chunk of float logits stays near the budget."""
    return max(8, min(1024, math.floor(budget_bytes / (4 * channels * max(width, 1)))))
