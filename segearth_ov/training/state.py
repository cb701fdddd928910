"""Training states that survive a kill and load with `torch.load(weights_only=True)`.

A state is a dict of tensors, numbers, strings, bytes, lists and dicts only (no pickled
objects), so it loads under torch's safe unpickler without allow-listing anything. It is
written to a temporary file of its own and moved into place, so a kill while saving leaves
the previous state whole.

Random generator states are kept as plain Python values (bytes and ints), not tensors:
`torch.load(map_location=<cuda>)` cannot move them to a GPU, and restoring them needs CPU
values anyway. Under torchrun every rank's states are saved (`gather_rng`) and each rank
restores its own (`restore_rank_rng`). Of CUDA, a process saves and restores the generator
of its own GPU only (the current device, which `init_distributed` set): the other visible
GPUs are other ranks' (or unused), and a resume may see fewer of them.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..utils.files import atomic_path

logger = logging.getLogger('segearth_ov')


class TrainingStateError(RuntimeError):
    """A training state that cannot be used; the message says which file and what to do."""


def _as_bytes(value) -> bytes:
    """A generator state as bytes, also from a tensor on any device (states saved earlier)."""
    if isinstance(value, torch.Tensor):
        return bytes(value.detach().to('cpu', torch.uint8).numpy())
    return bytes(value)


def _as_ints(value) -> list[int]:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    return [int(v) for v in value]


def capture_rng() -> dict:
    """Python, NumPy (legacy global), torch CPU and this process's GPU generator states, as
    plain values."""
    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        'python': [py[0], list(py[1]), py[2]],
        'numpy': {'keys': np_state[1].astype(np.int64).tolist(), 'pos': int(np_state[2]),
                  'has_gauss': int(np_state[3]), 'cached_gaussian': float(np_state[4])},
        'torch': _as_bytes(torch.get_rng_state()),
    }
    if torch.cuda.is_initialized():       # a GPU in use by this process
        state['cuda_device'] = _as_bytes(torch.cuda.get_rng_state(torch.cuda.current_device()))
    return state


def _cpu_bytes_tensor(value) -> torch.Tensor:
    return torch.frombuffer(bytearray(_as_bytes(value)), dtype=torch.uint8)


def restore_rng(state: dict) -> None:
    """Restore what `capture_rng` captured (tensors on any device accepted: older states)."""
    py = state['python']
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state['numpy']
    np.random.set_state(('MT19937', np.array(_as_ints(n['keys']), dtype=np.uint32), int(n['pos']),
                         int(n['has_gauss']), float(n['cached_gaussian'])))
    torch.set_rng_state(_cpu_bytes_tensor(state['torch']))
    if not torch.cuda.device_count() or not (state.get('cuda_device') or state.get('cuda')):
        return
    device = torch.cuda.current_device()
    own = state.get('cuda_device')
    if own is None:                 # older states: every visible GPU's, by index
        older = state['cuda']
        own = older[device] if device < len(older) else None
    if own is not None:
        torch.cuda.set_rng_state(_cpu_bytes_tensor(own), device)


def gather_rng(world_size: int = 1) -> list[dict]:
    """Every rank's generator states, in rank order, on every rank (collective under DDP)."""
    mine = capture_rng()
    if world_size == 1 or not (dist.is_available() and dist.is_initialized()):
        return [mine]
    states = [None] * world_size
    dist.all_gather_object(states, mine)
    return states


def restore_rank_rng(saved, rank: int, world_size: int, path='the training state') -> None:
    """Restore this rank's generators from `gather_rng`'s list.

    A state of another world size is refused with the fix named (the trainers check this
    first, with their own words). States of older versions hold one dict, rank 0's: rank 0
    restores it and the other ranks keep their freshly seeded generators.
    """
    if isinstance(saved, dict):
        if rank == 0:
            restore_rng(saved)
        else:
            logger.warning('%s holds the random state of rank 0 only (an older format): rank %d '
                           'continues with a fresh seed', path, rank)
        return
    if len(saved) != world_size:
        raise TrainingStateError(
            f'{path} was saved by {len(saved)} process(es), this run has {world_size}: resume '
            f'with {len(saved)} (torchrun --nproc_per_node {len(saved)}), or start a new work dir')
    restore_rng(saved[rank])


def save_training_state(path: str | Path, state: dict) -> Path:
    """Write `state` atomically: a temporary file of this call's own, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, 'xb') as f:
        torch.save(state, f)
    return path


def load_training_state(path: str | Path, map_location='cpu') -> dict:
    """Load a state written by `save_training_state`, with torch's safe unpickler."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'no training state at {path}: give the work dir of an earlier '
                                'run (its latest state is what --resume continues from)')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TrainingStateError(
            f'{path} is truncated or corrupt, not a readable training state ({reason[:200]}): '
            'delete it and start the run again, or resume from an earlier copy of it') from None
