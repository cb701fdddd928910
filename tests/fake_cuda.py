"""Check CUDA code paths for device mistakes on a machine without a GPU.

    from fake_cuda import fake_cuda, FakeTensorDeviceMismatchError

    model = build_model()                    # build on the CPU, as real runs do
    with fake_cuda() as device:              # device == 'cuda'
        model = model.to(device)             # move it inside the block
        out = model(torch.randn(1, 3, 8, 8, device=device))
        assert out.device.type == 'cuda'

Inside the block torch's FakeTensorMode is active: tensors on 'cuda' carry shapes, dtypes and
devices but no data, every PyTorch op runs its shape logic, and an op that mixes a cuda and a
cpu tensor raises `FakeTensorDeviceMismatchError`, as it would on a real GPU. CUDA autocast is
switched on as on a GPU (torch otherwise disables it when no GPU is present), so fp16 paths
are checked too. What cannot run in the block: anything that reads values (`.item()`,
`.numpy()`, `.tolist()`, data-dependent shapes), C kernels through `data_ptr()`, and threads
(the fake mode is thread-local). A module built inside the block cannot be moved (its
parameters are already fake); modules moved to 'cuda' in the block hold fake tensors
afterwards: build a fresh model for each block.
"""
from __future__ import annotations

import contextlib
from unittest import mock

from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode
from torch._subclasses.fake_tensor import FakeTensorDeviceMismatchError  # noqa: F401

__all__ = ['fake_cuda', 'is_fake', 'FakeTensorDeviceMismatchError']


@contextlib.contextmanager
def fake_cuda():
    """A FakeTensorMode in which 'cuda' works without a GPU; yields the device string."""
    # torch.autocast('cuda') disables itself with a warning when no GPU is present; it asks
    # this function (torch/amp/autocast_mode.py), so only autocast is told otherwise.
    with FakeTensorMode(allow_non_fake_inputs=True), \
            mock.patch('torch.cuda.amp.common.amp_definitely_not_available', return_value=False):
        yield 'cuda'


def is_fake(t) -> bool:
    """Whether `t` is a fake tensor (made inside `fake_cuda`)."""
    return isinstance(t, FakeTensor)


class FakeGPUGenerators:
    """`count` GPUs' random generators, each a CPU `torch.Generator`, put in `torch.cuda`
    (through pytest's monkeypatch) for the code that saves and restores generator states:
    `get_rng_state(device)`, `set_rng_state(state, device)` (an index past the last GPU
    raises IndexError, as torch's `default_generators[i]` does), the `_all` variants,
    `current_device` (`current`, as `set_device` left it), `device_count` and
    `is_initialized`. `is_available()` stays False: torch's own code (the optimisers' CUDA
    graph check) would reach for the absent driver."""

    def __init__(self, monkeypatch, count: int, current: int = 0):
        import torch
        self.generators = [torch.Generator().manual_seed(1000 + i) for i in range(count)]
        self.current = current
        cuda = torch.cuda
        for name, fn in (('get_rng_state', self.get_rng_state),
                         ('set_rng_state', self.set_rng_state),
                         ('get_rng_state_all', lambda: [g.get_state() for g in self.generators]),
                         ('set_rng_state_all', self.set_rng_state_all),
                         ('current_device', lambda: self.current),
                         ('device_count', lambda: len(self.generators)),
                         ('is_initialized', lambda: True)):
            monkeypatch.setattr(cuda, name, fn)

    def _index(self, device) -> int:
        import torch
        if isinstance(device, int):
            return device
        device = torch.device(device)
        return self.current if device.index is None else device.index

    def get_rng_state(self, device='cuda'):
        return self.generators[self._index(device)].get_state()

    def set_rng_state(self, state, device='cuda'):
        self.generators[self._index(device)].set_state(state)

    def set_rng_state_all(self, states):
        for i, state in enumerate(states):
            self.set_rng_state(state, i)
