"""Where SegEarth-OV keeps files it did not get from the user: weights and caches.

Both folders can be moved with an environment variable, so a cluster job can point every
process at a shared checkpoint folder or a scratch cache.
"""
from __future__ import annotations

import os
from pathlib import Path


def checkpoints_dir() -> Path:
    """`$SEGEARTH_CHECKPOINTS`, else `checkpoints/` in the current directory."""
    return Path(os.environ.get('SEGEARTH_CHECKPOINTS', 'checkpoints'))


def cache_dir() -> Path:
    """`$SEGEARTH_CACHE`, else ~/.cache/segearth_ov (text embeddings, downloaded weights)."""
    return Path(os.environ.get('SEGEARTH_CACHE', Path.home() / '.cache' / 'segearth_ov'))


def openai_clip_cache() -> Path:
    """Where OpenAI's `clip` package keeps its TorchScript weights (`clip.load`'s default)."""
    return Path(os.environ.get('SEGEARTH_OPENAI_CLIP_CACHE',
                               Path.home() / '.cache' / 'clip'))
