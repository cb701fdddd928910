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
    Training: mmengine wraps the model in DDP with `device_ids=[LOCAL_RANK]`, which DDP
    refuses for a CPU model; on CPU the wrapper gets no device ids.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                     broadcast_buffers=False,
                                     find_unused_parameters=cfg.get('find_unused_parameters',
                                                                    False))
    init_distributed('cpu', alone_too=True)


class StartMismatch(ValueError):
    """The ranks of one job were started with different options or data."""


def flatten(settings: dict, prefix: str = '') -> dict:
    """{'a': {'b': 1}} → {'a.b': 1}: a nested config as the dotted keys --cfg-options uses."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def file_listing(paths) -> list:
    """[relative path, bytes] of every file under `paths` (files or folders), sorted: what
    two nodes compare to know they read the same data (names and sizes, not contents)."""
    listing = []
    for path in map(str, paths):
        if os.path.isfile(path):
            listing.append([path, os.path.getsize(path)])
        for folder, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(folder, name)
                listing.append([full, os.path.getsize(full)])
    return sorted(listing)


def _difference(key: str, ours, theirs, here: str, there: str) -> str:
    """One difference between node `here`'s value (`ours`) and node `there`'s."""
    if key == 'data' and isinstance(ours, list) and isinstance(theirs, list):
        a, b = dict(map(tuple, ours)), dict(map(tuple, theirs))
        only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
        sizes = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
        parts = [f'{len(b)} files against {len(a)}']
        if only_a:
            parts.append(f'{only_a[0]} missing' + (f' (and {len(only_a) - 1} more)'
                                                   if len(only_a) > 1 else ''))
        if only_b:
            parts.append(f'{only_b[0]} only there' + (f' (and {len(only_b) - 1} more)'
                                                      if len(only_b) > 1 else ''))
        if sizes:
            parts.append(f'{sizes[0]} is {b[sizes[0]]} bytes against {a[sizes[0]]}')
        return f'data: node {there} has ' + ', '.join(parts)
    return f'{key} is {theirs!r} on node {there}, {ours!r} on node {here}'


def check_same_start(facts: dict) -> None:
    """Raise StartMismatch on every rank unless all ranks have equal `facts` (options and
    data listings, JSON-able): a multi-node job is the same command on every machine, and a
    node started otherwise would compute another plan or model and deadlock or mix results.
    The message names the node and the first differences. One process: nothing to do."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    import json
    mine = json.dumps(dict(node=os.environ.get('GROUP_RANK', '0'), rank=dist.get_rank(),
                           facts=facts), sort_keys=True, default=str)
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    first = json.loads(everyone[0])
    for text in everyone[1:]:
        other = json.loads(text)
        a, b = first['facts'], other['facts']
        keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if keys:
            shown = '; '.join(_difference(k, a.get(k), b.get(k), first['node'], other['node'])
                              for k in keys[:3])
            more = f' (and {len(keys) - 3} more)' if len(keys) > 3 else ''
            raise StartMismatch(
                f"node {other['node']} (rank {other['rank']}) was started with other options "
                f"or data than node {first['node']} (rank 0): {shown}{more}. Start the same "
                'command, with the same data, on every node')
