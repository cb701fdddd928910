"""Held-out retrieval accuracy optical↔SAR: does a SAR embedding find its own optical twin?

This is the validation of AlignEarth: no labels are needed, only held-out pairs, and it
measures exactly what the contrastive loss trains for, on pairs it never saw.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def retrieval_accuracy(optical: torch.Tensor, sar: torch.Tensor, ks=(1, 5)) -> dict:
    """Top-k accuracy (in %) of optical→SAR and SAR→optical retrieval by cosine similarity.

    Row i of both N×C inputs is pair i. k larger than N counts as N (always a hit).
    """
    if optical.shape != sar.shape or optical.ndim != 2:
        raise ValueError(f'need two N×C feature tensors of one shape, got {tuple(optical.shape)} '
                         f'and {tuple(sar.shape)}')
    sim = F.normalize(optical.float(), dim=-1) @ F.normalize(sar.float(), dim=-1).t()
    n = sim.shape[0]
    target = torch.arange(n)
    out = {}
    for name, s in (('opt2sar', sim), ('sar2opt', sim.t())):
        # rank of the true match = number of candidates scoring strictly higher
        rank = (s > s[target, target][:, None]).sum(dim=1)
        for k in ks:
            out[f'{name}_top{k}'] = 100.0 * (rank < k).float().mean().item()
    return out
