"""`FractionDataset`: a seeded random share of a dataset (the paper's 10/30/50/100 % runs, §4.5.3).

Registered in mmseg's DATASETS; wrap any dataset config:
    dataset=dict(type='FractionDataset', fraction=0.1, seed=0, dataset=dict(type=..., ...))
The same seed always selects the same images, so runs with one fraction are comparable.
"""
from __future__ import annotations

import numpy as np
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class FractionDataset:
    """The first ⌈fraction·len⌉ indices of a seeded permutation of `dataset`."""

    def __init__(self, dataset, fraction: float = 1.0, seed: int = 0, lazy_init: bool = False):
        if not 0 < fraction <= 1:
            raise ValueError(f'fraction must be in (0, 1], got {fraction} (e.g. 0.1 for 10 %)')
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.fraction, self.seed = fraction, seed
        n = len(self.dataset)
        keep = max(1, int(np.ceil(fraction * n)))
        self.indices = np.sort(np.random.default_rng(seed).permutation(n)[:keep]).tolist()

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        if isinstance(self.dataset, BaseDataset):
            self.dataset.full_init()

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: int):
        return self.dataset[self.indices[idx]]
