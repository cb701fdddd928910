"""The one place a process group is started and a rank's device chosen.

Used by the plain-PyTorch trainers and the region predictor (`init_distributed`, under
torchrun or as one process) and by mmengine's Runner (`init_mmengine_distributed`, for
`launcher='pytorch'` on a machine without a GPU). Runs as a single CPU or GPU process too.
"""
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


def init_distributed(device: str | None = None, *, alone_too: bool = False) -> DistContext:
    """Read torchrun's environment; start the process group (nccl on GPU, gloo on CPU).

    The one place a rank's device is chosen: under torchrun (several processes) each rank
    takes its LOCAL_RANK's GPU, also when an index is given (`--device cuda:1` on every
    rank would put all ranks on one GPU; CUDA_VISIBLE_DEVICES chooses the GPUs). One
    process keeps an explicit index. The group is started when there are several processes,
    or always with `alone_too` (mmengine needs a running group of one under its launcher).
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
    if (world > 1 or alone_too) and not dist.is_initialized():
        dist.init_process_group('nccl' if dev.type == 'cuda' else 'gloo')
    return DistContext(rank, world, local, dev)


def init_mmengine_distributed(cfg) -> None:
    """For an mmengine config with `launcher='pytorch'` and no GPU: use gloo, started here.

    mmengine's own start calls `torch.cuda.set_device`, which fails on a machine without a
    GPU; started here, mmengine sees the group running and uses it. With GPUs mmengine
    starts it itself with `env_cfg.dist_cfg.backend` (nccl), one GPU per LOCAL_RANK.
    Training (no `model_wrapper_cfg`): mmengine's DistributedDataParallel is given no
    `device_ids`, which torch refuses for a CPU model (mmengine passes [LOCAL_RANK]).
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    init_distributed('cpu', alone_too=True)
