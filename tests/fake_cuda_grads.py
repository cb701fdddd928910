"""Gradients for `fake_cuda` blocks, where the autograd engine cannot run.

Without a GPU, `loss.backward()` on fake 'cuda' tensors fails inside the engine (it asks
the CUDA driver about device 0), so a training step's backward is replaced by zero
gradients, made on each parameter's own device: the forward and the optimiser step (and
everything between, e.g. gradient clipping and AMP scaling) still run the trainer's code.
"""
from __future__ import annotations

import contextlib
from unittest import mock

import torch


@contextlib.contextmanager
def zero_grad_backward(parameters):
    """Inside the block, `tensor.backward()` checks the loss is on CUDA and gives every
    parameter that requires grad a zero gradient on its own device. Yields the losses seen."""
    params = [p for p in parameters if p.requires_grad]
    seen = []

    def backward(self, *args, **kwargs):
        seen.append(self)
        for p in params:
            grad = torch.zeros_like(p)
            p.grad = grad if p.grad is None else p.grad + grad

    with mock.patch.object(torch.Tensor, 'backward', backward):
        yield seen
