"""Teacher and student image encoders, their projected tokens, and the checkpoint they make.

The teacher E_opt is a frozen open_clip image encoder built from any backbone preset (or
`pretrained` / `model_cfg`); the student E_sar is a trainable deep copy of it. The saved
student is a whole open_clip CLIP state dict — the student's image tower beside the
teacher's untouched text tower and logit scale — so the inference core loads it like any
CLIP with `clip_type='AlignEarth', pretrained=PATH`.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from segearth_ov.models.backbones import build_clip
from segearth_ov.models.backbones.clip_vit import embed_tokens
from segearth_ov.training import save_training_state


def projected_tokens(visual: nn.Module, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(class token B×C, patch map B×C×h×w) after the full ViT, `ln_post` and `proj`.

    The class token is exactly open_clip's image embedding; the patch tokens get the same
    final norm and projection. Positional embeddings are resized to the input's grid as the
    segmentor resizes them (`embed_tokens`), so training and inference agree.
    """
    x, (h, w) = embed_tokens(visual, img)
    x = visual.transformer(x)
    tokens = visual.ln_post(x) @ visual.proj
    patches = tokens[:, 1:].transpose(1, 2).reshape(tokens.shape[0], -1, h, w)
    return tokens[:, 0], patches


class StudentEncoder(nn.Module):
    """The trainable SAR encoder; one module so that DDP wraps it as a whole."""

    def __init__(self, visual: nn.Module):
        super().__init__()
        self.visual = visual

    def forward(self, img: torch.Tensor):
        return projected_tokens(self.visual, img)


def build_encoders(clip_type: str = 'CLIP', vit_type: str = 'ViT-B/16', pretrained=None,
                   model_cfg=None, quick_gelu=None, grad_checkpointing: bool = False):
    """(clip, frozen teacher visual, trainable StudentEncoder) on CPU.

    `clip` keeps the teacher's text tower for the saved checkpoint; it is not used in training.
    """
    clip, _, _ = build_clip(clip_type, vit_type, pretrained=pretrained, model_cfg=model_cfg,
                            quick_gelu=quick_gelu)
    if getattr(clip.visual, 'attn_pool', None) is not None or not hasattr(clip.visual, 'proj'):
        raise ValueError(f'{clip_type} {vit_type}: only open_clip ViTs with a class token and '
                         'a projection (no attentional pooling) can be distilled here')
    teacher = clip.visual
    teacher.requires_grad_(False)
    teacher.eval()
    student_visual = copy.deepcopy(teacher)
    student_visual.requires_grad_(True)
    if grad_checkpointing:
        student_visual.set_grad_checkpointing(True)
    student = StudentEncoder(student_visual)
    student.train()
    return clip, teacher, student


def student_clip_state_dict(clip: nn.Module, student_visual: nn.Module,
                            half: bool = False) -> dict:
    """open_clip CLIP state dict: the student's `visual.*`, everything else from `clip`."""
    state = {k: v for k, v in clip.state_dict().items() if not k.startswith('visual.')}
    state.update({f'visual.{k}': v for k, v in student_visual.state_dict().items()})
    state = {k: v.detach().to('cpu', copy=True) for k, v in state.items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    return state


def save_student_checkpoint(path, clip: nn.Module, student_visual: nn.Module,
                            half: bool = False):
    """Write the student CLIP checkpoint atomically (a kill never leaves half a file)."""
    return save_training_state(path, student_clip_state_dict(clip, student_visual, half))
