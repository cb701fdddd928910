"""Image lists and a sampler that resumes mid-epoch without repeating or skipping data."""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Sampler

from ..utils.images import IMAGE_SUFFIXES


def list_images(source: str | Path) -> list[Path]:
    """Images of a folder (recursive, sorted) or the lines of a list file (relative to it)."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob('*')
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    elif source.is_file():
        lines = [ln.strip() for ln in source.read_text().splitlines()]
        files = [Path(ln) if Path(ln).is_absolute() else source.parent / ln
                 for ln in lines if ln and not ln.startswith('#')]
    else:
        raise FileNotFoundError(f'{source} is neither a folder of images nor a list file')
    if not files:
        raise ValueError(f'no images found in {source} (looked for {", ".join(IMAGE_SUFFIXES)})')
    return files


class ResumableSampler(Sampler[int]):
    """A seeded permutation per epoch, split over ranks, that can start part-way through.

    The order depends only on (seed, epoch), so a resumed run that calls
    `set_epoch(epoch, start=samples_already_seen_per_rank)` sees exactly the samples an
    uninterrupted run would have seen next. Ranks take interleaved slices of one permutation
    (padded by wrapping so every rank has the same count, as DistributedSampler does).
    """

    def __init__(self, size: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True):
        self.size, self.seed, self.rank, self.world = size, seed, rank, world_size
        self.shuffle = shuffle
        self.epoch, self.start = 0, 0
        self.per_rank = -(-size // world_size)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.size, generator=g).tolist()
        else:
            order = list(range(self.size))
        total = self.per_rank * self.world
        order = (order * (-(-total // self.size)))[:total]
        mine = order[self.rank::self.world]
        return iter(mine[self.start:])

    def __len__(self) -> int:
        return self.per_rank - self.start
