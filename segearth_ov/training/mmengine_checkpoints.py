"""Moved: the mmengine checkpoint allow-list lives in segearth_ov/utils/checkpoints.py, as the
scoped `mmengine_checkpoints_allowed()` context. These names stay importable until the last
importers are switched; `allow_mmengine_checkpoints` widens the allow-list for the whole
process and is kept for them only."""
from __future__ import annotations

import torch

from ..utils.checkpoints import (HISTORY_BUFFER_STATISTICS as STATISTICS,  # noqa: F401
                                 history_buffer_method, mmengine_checkpoint_globals,
                                 mmengine_checkpoints_allowed)


def allow_mmengine_checkpoints() -> None:
    """Allow-list those types for `torch.load(weights_only=True)`, process-wide (idempotent);
    prefer `with mmengine_checkpoints_allowed():` around the load."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
