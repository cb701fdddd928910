"""Small building blocks shared by the HG-RSOVSSeg decoder modules."""
from __future__ import annotations

from torch import nn


def group_count(channels: int, max_groups: int = 32) -> int:
    """The largest divisor of `channels` that is ≤ max_groups (GroupNorm needs a divisor)."""
    for g in range(min(max_groups, channels), 0, -1):
        if channels % g == 0:
            return g
    return 1


def conv_norm_act(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Conv → GroupNorm → ReLU.

    The paper names only the convolutions. GroupNorm is our choice: the class axis is
    folded into the batch (B·N samples), so BatchNorm statistics would mix classes and
    depend on N; GroupNorm is per sample and keeps the weights independent of N.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.GroupNorm(group_count(out_channels), out_channels),
        nn.ReLU(inplace=True))
