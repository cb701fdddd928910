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
