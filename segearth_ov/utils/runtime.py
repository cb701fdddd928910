"""Process settings PyTorch reads once, set by whoever starts the work (no torch import here).

`use_huge_pages()`: PyTorch's transparent-huge-page allocation for CPU buffers ≥ 2 MB.
SimFeatUp's full-size maps (40 MB per window) otherwise cost ~0.5 ms per MB in page faults
each time they are allocated (≈ 10 % of a 448² image). PyTorch reads `THP_MEM_ALLOC_ENABLE`
at its first CPU allocation (not at `import torch`), so it is set where the work starts,
before any tensor exists: at the top of the entry points (demo.py, eval.py, eval_all.py,
tools/*.py) and first thing in `SegEarthSegmentation.__init__` (the Python API and the
predictor build one before making tensors). A process that allocated tensors earlier keeps
PyTorch's default; a value set by the user (0 turns it off) is never overridden.
Importing segearth_ov changes no setting.
"""
from __future__ import annotations

import os

HUGE_PAGES_ENV = 'THP_MEM_ALLOC_ENABLE'


def use_huge_pages() -> None:
    """Turn on PyTorch's huge-page CPU allocation for this process, unless the user set it."""
    os.environ.setdefault(HUGE_PAGES_ENV, '1')


def cli_logging() -> None:
    """Console logging for the command-line tools: SegEarth-OV's progress messages (INFO),
    other libraries' warnings only (open_clip and mmengine are chatty at INFO)."""
    import logging
    logging.basicConfig(level=logging.WARNING, format='%(message)s')
    logging.getLogger('segearth_ov').setLevel(logging.INFO)
