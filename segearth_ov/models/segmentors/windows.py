"""Where the slide-inference windows go: one placement for the segmentor and the scene tiler.

mmseg's slide inference puts a `crop`-sized window every `stride` pixels along each axis
and moves the last one back so that it ends at the border (one window [0, n) when the
image is not longer than the crop). The segmentors cut their windows with it, and the
scene predictor (`mapping/tiling.py`) cuts its tiles along the same windows, so that a
tiled scene gives the untiled result.
"""
from __future__ import annotations


def slide_starts(n: int, crop: int, stride: int) -> list[int]:
    """Starts of the slide windows along one axis (each ends at min(start + crop, n))."""
    count = max(n - crop + stride - 1, 0) // stride + 1
    return [max(min(m * stride + crop, n) - crop, 0) for m in range(count)]


def slide_windows(h: int, w: int, crop: int, stride: int):
    """mmseg's slide-inference windows (y1, y2, x1, x2), row by row, clipped to end inside
    the image."""
    xs = slide_starts(w, crop, stride)
    for y1 in slide_starts(h, crop, stride):
        for x1 in xs:
            yield y1, min(y1 + crop, h), x1, min(x1 + crop, w)
