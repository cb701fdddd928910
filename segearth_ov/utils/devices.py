"""Waiting for a device and reading its peak memory, always naming the device.

`torch.cuda.synchronize()` and `torch.cuda.max_memory_allocated()` without an argument act
on the *current* CUDA device (cuda:0 unless `set_device` was called): with the work on
cuda:1 a timing would not wait for its kernels, and the peak would be another GPU's.
"""
from __future__ import annotations

import torch


def synchronize(device) -> None:
    """Wait until `device`'s queued kernels are done (nothing to wait for on the CPU)."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def peak_cuda_mb(device) -> float:
    """The most memory PyTorch allocated on CUDA `device` so far, in MiB."""
    return torch.cuda.max_memory_allocated(torch.device(device)) / 2 ** 20
