"""AlignEarth's three losses on projected encoder outputs (paper §4.2, eqs. 10–12).

The teacher is the frozen optical encoder, the student the SAR encoder. All three act on
the final projected tokens O = ln_post(x) @ proj: the class token O[0] and the patch tokens
O[1:] reshaped to a C×h×w map.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from segearth_ov.training import all_gather_with_grad


class LearnableTemperature(nn.Module):
    """τ of the contrastive loss, learned as log(1/τ) like CLIP's logit scale.

    Learning the log keeps τ positive; the scale 1/τ is clamped at `max_scale` (CLIP's 100)
    so that the logits cannot blow up when the pairs become easy to tell apart.
    """

    def __init__(self, init: float = 0.07, max_scale: float = 100.0):
        super().__init__()
        if not 0 < init:
            raise ValueError(f'init_temperature must be > 0, got {init}')
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / init)))
        self.max_scale = max_scale

    def forward(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=self.max_scale)


def global_contrastive_loss(teacher_cls: torch.Tensor, student_cls: torch.Tensor,
                            scale: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy over the N×N cosine similarities (× 1/τ) of the class tokens.

    Row i of teacher×studentᵀ has its positive at column i; the other N−1 columns are the
    negatives (and likewise for student×teacherᵀ). The two directions are averaged.
    """
    t = F.normalize(teacher_cls.float(), dim=-1)
    s = F.normalize(student_cls.float(), dim=-1)
    logits = scale * t @ s.t()
    target = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def global_distill_loss(teacher_cls: torch.Tensor, student_cls: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of 1 − cos(teacher cls, student cls)."""
    return (1 - F.cosine_similarity(teacher_cls.float(), student_cls.float(), dim=-1)).mean()


def region_bounds(size: int, k: int) -> list[tuple[int, int]]:
    """K non-overlapping [start, end) slices covering `size` tokens (sizes differ by ≤ 1)."""
    if size < k:
        raise ValueError(f'a {size}-token side cannot hold {k} regions: lower loss.regions '
                         f'or raise data.image_size (the grid is image_size / patch size)')
    return [(i * size // k, (i + 1) * size // k) for i in range(k)]


def _region_matrix(size: int, k: int, device, dtype) -> torch.Tensor:
    """K×size matrix whose row i averages the tokens of region i."""
    m = torch.zeros(k, size, device=device, dtype=dtype)
    for i, (a, b) in enumerate(region_bounds(size, k)):
        m[i, a:b] = 1.0 / (b - a)
    return m


def region_means(patches: torch.Tensor, k: int) -> torch.Tensor:
    """B×C×h×w map → B×C×K×K mean feature of each of the K×K non-overlapping regions.

    Unlike adaptive average pooling, regions never overlap when h or w is not a multiple of K.
    """
    _, _, h, w = patches.shape
    rows = _region_matrix(h, k, patches.device, patches.dtype)
    cols = _region_matrix(w, k, patches.device, patches.dtype)
    return torch.einsum('ih,bchw,jw->bcij', rows, patches, cols)


def local_distill_loss(teacher_patches: torch.Tensor, student_patches: torch.Tensor,
                       k: int = 7) -> torch.Tensor:
    """Average over the K×K regions (and the batch) of 1 − cos of their mean features.

    Averaging inside a region makes the loss blind to misregistration within it, which is
    why it is used instead of token-to-token distillation (paper §4.2.3).
    """
    if teacher_patches.shape != student_patches.shape:
        raise ValueError(f'teacher and student patch maps differ: {tuple(teacher_patches.shape)} '
                         f'vs {tuple(student_patches.shape)}')
    t = region_means(teacher_patches.float(), k)
    s = region_means(student_patches.float(), k)
    return (1 - F.cosine_similarity(t, s, dim=1)).mean()


class AlignEarthLoss(nn.Module):
    """Weighted sum of the three losses (in float32, autocast or not); holds τ.

    Under DDP the contrastive logits cover the class tokens of every rank
    (`all_gather_with_grad`), and that term is multiplied by the world size: each rank then
    back-propagates the full-batch loss through its own tokens, and DDP's gradient average
    gives exactly the gradient of the one-process loss on the whole batch.
    """

    def __init__(self, contrastive: float = 1.0, global_distill: float = 1.0,
                 local_distill: float = 1.0, regions: int = 7, init_temperature: float = 0.07,
                 max_logit_scale: float = 100.0):
        super().__init__()
        self.weights = dict(contrastive=contrastive, global_distill=global_distill,
                            local_distill=local_distill)
        self.regions = regions
        self.temperature = LearnableTemperature(init_temperature, max_logit_scale)

    def forward(self, teacher: tuple[torch.Tensor, torch.Tensor],
                student: tuple[torch.Tensor, torch.Tensor], world_size: int = 1) -> dict:
        """{'backward': what to back-propagate, 'loss' and 'loss_*': values to log, 'temperature'}."""
        (t_cls, t_patches), (s_cls, s_patches) = teacher, student
        # in float32 also when the encoders ran under autocast: autocast would undo the
        # .float() casts, and the ×100 logits and the region means need the precision
        with torch.autocast(t_cls.device.type, enabled=False):
            t_cls, s_cls = t_cls.float(), s_cls.float()
            t_patches, s_patches = t_patches.float(), s_patches.float()
            scale = self.temperature().float()
            parts = {
                'contrastive': global_contrastive_loss(all_gather_with_grad(t_cls),
                                                       all_gather_with_grad(s_cls), scale),
                'global_distill': global_distill_loss(t_cls, s_cls),
                'local_distill': local_distill_loss(t_patches, s_patches, self.regions),
            }
        out = {f'loss_{k}': v.detach() for k, v in parts.items()}
        out['loss'] = sum(self.weights[k] * v for k, v in parts.items()).detach()
        out['backward'] = sum(self.weights[k] * v * (world_size if k == 'contrastive' else 1)
                              for k, v in parts.items())
        out['temperature'] = (1.0 / scale).detach()
        return out

    def sync_temperature_grad(self, world_size: int) -> None:
        """Make τ's gradient that of the one-process loss (call after backward, under DDP).

        τ is not inside the DDP module: every rank holds W × ∂L_contrastive/∂τ (the same
        full-batch value, scaled by W as above). Summing over ranks and dividing by W² gives
        ∂L_contrastive/∂τ on every rank.
        """
        import torch.distributed as dist
        for p in self.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad /= world_size ** 2
