"""torchrun / DDP set-up that also runs as a single CPU or GPU process."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

logger = logging.getLogger('segearth_ov')


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device('cpu')

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str | None = None) -> DistContext:
    """Read torchrun's environment; start the process group (nccl on GPU, gloo on CPU).

    The one place a rank's device is chosen: under torchrun (several processes) each rank
    takes its LOCAL_RANK's GPU, also when an index is given (`--device cuda:1` on every
    rank would put all ranks on one GPU; CUDA_VISIBLE_DEVICES chooses the GPUs). One
    process keeps an explicit index.
    """
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local = int(os.environ.get('LOCAL_RANK', '0'))
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    dev = torch.device(device)
    if dev.type == 'cuda':
        index = local if world > 1 or dev.index is None else dev.index
        if world > 1 and dev.index not in (None, local) and rank == 0:
            logger.warning('--device %s: under torchrun each rank uses its LOCAL_RANK\'s GPU '
                           '(cuda:0, cuda:1, …); choose the GPUs with CUDA_VISIBLE_DEVICES', dev)
        count = torch.cuda.device_count()
        if count == 0:
            raise ValueError(f'--device {device}: no GPU is visible here: use --device cpu')
        if index >= count:
            raise ValueError(
                f'cuda:{index}' + (f' (LOCAL_RANK {local})' if world > 1 else '')
                + f' asked for, but {count} GPU(s) are visible: give --device cuda:N with '
                'N below that, and start at most one process per GPU (torchrun '
                '--nproc_per_node, the GPUS of dist_*.sh)')
        dev = torch.device('cuda', index)
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group('nccl' if dev.type == 'cuda' else 'gloo')
    return DistContext(rank, world, local, dev)


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
