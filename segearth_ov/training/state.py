"""Training states that survive a kill and load with `torch.load(weights_only=True)`.

A state is a dict of tensors, numbers, strings, lists and dicts only (no pickled objects), so
it loads under torch's safe unpickler without allow-listing anything. It is written to a
temporary file and moved into place, so a kill while saving leaves the previous state whole.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch


def capture_rng() -> dict:
    """Python, NumPy (legacy global) and torch (CPU and CUDA) generator states, safe-loadable."""
    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        'python': [py[0], list(py[1]), py[2]],
        'numpy': {'keys': torch.from_numpy(np_state[1].astype(np.int64)), 'pos': int(np_state[2]),
                  'has_gauss': int(np_state[3]), 'cached_gaussian': float(np_state[4])},
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    py = state['python']
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state['numpy']
    np.random.set_state(('MT19937', n['keys'].numpy().astype(np.uint32), n['pos'],
                         n['has_gauss'], n['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def save_training_state(path: str | Path, state: dict) -> Path:
    """Write `state` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp')
    torch.save(state, tmp)
    os.replace(tmp, path)
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
        raise RuntimeError(f'{path} is not a readable training state ({err}); the file may be '
                           'truncated — earlier states in the same folder are left untouched') from err
