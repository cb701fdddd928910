"""Let mmengine resume its own checkpoints under torch's safe unpickler.

mmengine 0.10.7 calls `torch.load` without `weights_only`; since torch 2.6 that means
`weights_only=True`, which refuses the non-tensor objects an mmengine checkpoint holds
(the message hub's `HistoryBuffer`s, NumPy scalars and arrays, …), so `--resume` fails with
`UnpicklingError`. Instead of turning the safe loader off, the few types these checkpoints
are made of are allow-listed here, once, for the whole process.
"""
from __future__ import annotations

import collections
import pickle

import numpy as np
import torch


def _numpy_globals() -> list:
    """NumPy's array/scalar reconstructors and dtype classes, wherever this NumPy keeps them."""
    out = [np.ndarray, np.dtype]
    try:
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # NumPy 2 moved them
        from numpy._core.multiarray import _reconstruct, scalar
    out += [_reconstruct, scalar]
    for name in ('Float64DType', 'Float32DType', 'Int64DType', 'Int32DType', 'UInt8DType',
                 'BoolDType', 'Float16DType', 'UInt32DType', 'Int8DType', 'Int16DType',
                 'UInt16DType', 'UInt64DType'):
        cls = getattr(np.dtypes, name, None)
        if cls is not None:
            out.append(cls)
    return out


STATISTICS = ('min', 'max', 'current', 'mean')


def history_buffer_method(owner, name: str):
    """Stands in for `getattr` while unpickling, and only returns HistoryBuffer's statistics.

    A `HistoryBuffer` pickles its method table as `getattr(HistoryBuffer, 'min')` etc.;
    allow-listing the real `getattr` would let a checkpoint reach any attribute of any
    allowed object, so anything else is refused.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if owner is HistoryBuffer and name in STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for {getattr(owner, "__name__", owner)!r}.{name}: only '
        f'HistoryBuffer.{"/".join(STATISTICS)} are allowed in mmengine checkpoints')


def mmengine_checkpoint_globals() -> list:
    """The types found in checkpoints written by mmengine's Runner (iteration-based)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer, collections.OrderedDict, collections.defaultdict,
            (history_buffer_method, '__builtin__.getattr'),
            (history_buffer_method, 'builtins.getattr'),
            *_numpy_globals()]


def allow_mmengine_checkpoints() -> None:
    """Allow-list those types for `torch.load(weights_only=True)` (idempotent)."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
