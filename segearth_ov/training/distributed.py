"""Feature gathering across DDP ranks for the trainers (the process group itself is started by
segearth_ov/utils/distributed.py)."""
from __future__ import annotations

import torch
import torch.distributed as dist


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` from every rank along dim 0; gradients flow back to this rank's part."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.detach().contiguous())
    parts[dist.get_rank()] = x
    return torch.cat(parts, 0)


def gather_shards(x: torch.Tensor, total: int) -> torch.Tensor:
    """Reassemble rows sharded as `range(rank, total, world)` (each rank's rows in order).

    Every rank gets the `total` rows in their original order. Shards differ in length by at
    most one; they are padded for `all_gather` and the padding is dropped.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    world = dist.get_world_size()
    per = -(-total // world)
    if x.shape[0] < per:
        x = torch.cat([x, x.new_zeros(per - x.shape[0], *x.shape[1:])])
    parts = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(parts, x.contiguous())
    # row k of rank r is item k·world + r
    return torch.stack(parts, 1).reshape(per * world, *x.shape[1:])[:total]
