"""Tiles over a scene, and the streaming blend of their class probabilities.

Why tiles: a 10,000 × 10,000 scene cannot go through the model at once (its Q×H×W
logits alone would be gigabytes). The model sees overlapping tiles; their class
probabilities are summed and divided by the number of tiles covering each pixel — the
overlap averaged, as slide inference averages windows within a tile — so no seams appear.

Why streaming: tile rows are processed top to bottom; once a tile row is done, every
model row above the next tile row's start is final and is handed out, so only one band
of tile height × scene width is held (`ProbabilityBlender`), never the whole scene.
`RowResampler` then brings finished rows from the model grid back to the scene's pixel
grid (when the model sees the scene resized) in small row chunks.

Tile starts are multiples of the segmentor's slide stride, so the slide windows of a tile
are windows of the whole image: away from tile borders the tiled result is the untiled one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F


def axis_starts(n: int, tile: int, overlap: int, unit: int = 1) -> list[int]:
    """Tile starts along one axis of length n.

    Starts are multiples of the stride (tile - overlap, rounded down to a multiple of
    `unit`); the last tile is moved back — to a multiple of `unit` — so that it ends at n.
    Every tile is at most `tile` long; one tile when n ≤ tile.
    """
    if n <= tile:
        return [0]
    stride = (tile - overlap) // unit * unit
    if stride <= 0:
        raise ValueError(f'tile {tile} − overlap {overlap} must be at least the slide stride '
                         f'{unit}: use a larger tile or a smaller overlap')
    starts = list(range(0, n - tile, stride))
    starts.append(-(-(n - tile) // unit) * unit)
    return starts


def coverage(n: int, starts: list[int], tile: int) -> np.ndarray:
    """How many tiles cover each position of an axis (always ≥ 1)."""
    count = np.zeros(n, np.float32)
    for s in starts:
        count[s:s + tile] += 1
    return count


@dataclass
class TilePlan:
    """Where the tiles of one scene go.

    The scene (height × width source pixels) is seen by the model as a grid of
    model_height × model_width pixels (the same grid when no resize is asked); tiles of
    `tile` × `tile` model pixels overlap by at least `overlap`.
    """
    height: int
    width: int
    model_height: int
    model_width: int
    tile: int
    overlap: int
    unit: int = 1
    row_starts: list = field(init=False)
    col_starts: list = field(init=False)

    def __post_init__(self):
        if self.tile < 32:
            raise ValueError(f'tile {self.tile} is too small: use at least 32 (default 1024)')
        if not 0 <= self.overlap < self.tile:
            raise ValueError(f'overlap {self.overlap} must be in [0, tile={self.tile})')
        if self.model_height < 1 or self.model_width < 1:
            raise ValueError(f'the model would see {self.model_height}×{self.model_width} '
                             'pixels: use a larger --resize-long-side or a smaller --gsd')
        self.row_starts = axis_starts(self.model_height, self.tile, self.overlap, self.unit)
        self.col_starts = axis_starts(self.model_width, self.tile, self.overlap, self.unit)

    @property
    def resized(self) -> bool:
        return (self.model_height, self.model_width) != (self.height, self.width)

    @property
    def n_tiles(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    @property
    def effective_overlap(self) -> int:
        if len(self.row_starts) > 1 or len(self.col_starts) > 1:
            starts = self.row_starts if len(self.row_starts) > 1 else self.col_starts
            return self.tile - (starts[1] - starts[0])
        return 0

    def row_span(self, i: int) -> tuple[int, int]:
        y0 = self.row_starts[i]
        return y0, min(y0 + self.tile, self.model_height)

    def col_span(self, j: int) -> tuple[int, int]:
        x0 = self.col_starts[j]
        return x0, min(x0 + self.tile, self.model_width)

    def source_window(self, y0: int, y1: int, x0: int, x1: int):
        """The (fractional) source-pixel window of a model-grid tile."""
        from rasterio.windows import Window
        fy, fx = self.height / self.model_height, self.width / self.model_width
        return Window(x0 * fx, y0 * fy, (x1 - x0) * fx, (y1 - y0) * fy)

    def memory_bytes(self, num_classes: int, num_queries: int, chunk_rows: int,
                     probs_out: bool = False) -> dict:
        """What the streaming holds at its peak, by part (bytes; the model comes on top)."""
        t = min(self.tile, self.model_height) * min(self.tile, self.model_width)
        band = num_classes * min(self.tile, self.model_height) * self.model_width * 4
        return {
            # the band, its carried-over rows when the next tile row starts, a finished slice
            'blend band': 2 * band + num_classes * self.model_width * 4 * min(
                self.tile, self.model_height),
            # a tile: RGB, summed and counted logits, window logits, softmax, class probs
            'tile': t * (3 + 4 * 3 * num_queries + 4 * 2 * num_classes + 4),
            # a chunk of finished rows at the scene's resolution: probs, labels, validity
            'output chunk': chunk_rows * self.width * (
                num_classes * 4 * (3 if self.resized else 1) + 8 + 2
                + (num_classes if probs_out else 0)),
        }

    def describe(self) -> list[str]:
        lines = [f'scene {self.height} × {self.width} px']
        if self.resized:
            lines.append(f'model grid {self.model_height} × {self.model_width} px '
                         f'(scale {self.model_height / self.height:.4g})')
        lines.append(f'tiles {len(self.row_starts)} × {len(self.col_starts)} = {self.n_tiles} '
                     f'of up to {self.tile} px, overlap ≥ {self.overlap} px '
                     f'(effective {self.effective_overlap}, starts on multiples of {self.unit})')
        return lines


class ProbabilityBlender:
    """Sums tile probabilities in a band of model rows; hands out finished rows averaged.

    The number of tiles covering a pixel is the product of the row and column coverage
    (the tiles form a grid), so no count map is stored.
    """

    def __init__(self, plan: TilePlan, num_classes: int):
        self.plan = plan
        self.cy = coverage(plan.model_height, plan.row_starts, plan.tile)
        self.cx = coverage(plan.model_width, plan.col_starts, plan.tile)
        self.top = 0
        self.acc = np.zeros((num_classes, 0, plan.model_width), np.float32)

    def start_row(self, i: int) -> None:
        """Grow the band down to the end of tile row i."""
        _, y1 = self.plan.row_span(i)
        grow = y1 - (self.top + self.acc.shape[1])
        if grow > 0:
            extra = np.zeros((self.acc.shape[0], grow, self.acc.shape[2]), np.float32)
            self.acc = np.concatenate([self.acc, extra], axis=1)

    def add(self, probs: np.ndarray, y0: int, x0: int) -> None:
        """Add a tile's C×h×w class probabilities at model position (y0, x0)."""
        h, w = probs.shape[1:]
        self.acc[:, y0 - self.top:y0 - self.top + h, x0:x0 + w] += probs

    def finish_row(self, i: int) -> tuple[int, np.ndarray]:
        """(first row, C×n×W averaged probabilities) of the rows no later tile touches."""
        plan = self.plan
        end = plan.row_starts[i + 1] if i + 1 < len(plan.row_starts) else plan.model_height
        n = end - self.top
        out = self.acc[:, :n]
        out /= self.cy[self.top:end, None] * self.cx[None, :]
        row0 = self.top
        self.acc = self.acc[:, n:].copy()
        self.top = end
        return row0, out


class RowResampler:
    """Model-grid probability rows → scene-grid rows, fed and handed out in row order.

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
        """Feed finished model rows row0.. (C×n×Wm); yields (r0, C×m×W) scene rows."""
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


def chunk_rows_for(width: int, num_classes: int, budget_bytes: float = 32e6) -> int:
    """Rows per output chunk so that a chunk of float probabilities stays near the budget."""
    return max(8, min(1024, math.floor(budget_bytes / (4 * num_classes * max(width, 1)))))
