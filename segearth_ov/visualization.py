"""Pictures of label maps: a fixed palette, colour overlays with a legend."""
from __future__ import annotations

import numpy as np

# 20 well-separated colours (Tableau-like); cycled for more classes.
PALETTE = np.array([
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
    [174, 199, 232], [255, 187, 120], [152, 223, 138], [255, 152, 150], [197, 176, 213],
    [196, 156, 148], [247, 182, 210], [199, 199, 199], [219, 219, 141], [158, 218, 229],
], dtype=np.uint8)


def palette(n: int) -> np.ndarray:
    return PALETTE[np.arange(n) % len(PALETTE)]


def colorize(pred: np.ndarray, n_classes: int) -> np.ndarray:
    """H×W labels → H×W×3 RGB."""
    return palette(n_classes)[pred]


def save_overlay(path, image: np.ndarray, pred: np.ndarray, class_names: list[str],
                 alpha: float = 0.5, title: str | None = None) -> None:
    """Save image | colour overlay side by side, with a legend of the classes present."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colours = palette(len(class_names))
    blend = (image.astype(np.float32) * (1 - alpha) + colours[pred] * alpha).astype(np.uint8)
    h, w = pred.shape
    fig, axes = plt.subplots(1, 2, figsize=(12, 6 * h / w + 0.8), dpi=100)
    for ax, im, t in zip(axes, (image, blend), ('image', 'prediction')):
        ax.imshow(im)
        ax.set_title(t)
        ax.axis('off')
    counts = np.bincount(pred.ravel(), minlength=len(class_names))
    handles = [Patch(color=colours[i] / 255.0, label=f'{name} ({100 * counts[i] / pred.size:.1f}%)')
               for i, name in enumerate(class_names) if counts[i]]
    fig.legend(handles=handles, loc='lower center', ncol=min(len(handles), 5), frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path)
    plt.close(fig)
