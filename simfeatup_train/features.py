"""The frozen CLIP features that SimFeatUp learns to upsample (paper eq. (6))."""
from __future__ import annotations

import torch
from torch import nn

from segearth_ov.models.backbones.builder import build_clip
from segearth_ov.models.backbones.clip_vit import CLIPViTFeatures


class FrozenCLIPFeatures(nn.Module):
    """Image → the patch tokens entering CLIP's last block, through ln_post and proj (B×C×h×w).

    The backbone is chosen as at inference (`clip_type`, `vit_type`, `pretrained`,
    `model_cfg`, `quick_gelu`); only its image tower is kept, frozen and in eval mode.
    """

    def __init__(self, clip_type: str = 'CLIP', vit_type: str = 'ViT-B/16',
                 pretrained: str | None = None, model_cfg: str | None = None,
                 quick_gelu: bool | None = None):
        super().__init__()
        clip, _, self.weights_path = build_clip(clip_type, vit_type, pretrained, model_cfg,
                                                quick_gelu)
        self.encoder = CLIPViTFeatures(clip.visual)
        self.requires_grad_(False)
        self.eval()

    @property
    def patch_size(self) -> int:
        return self.encoder.patch_size

    @property
    def feat_dim(self) -> int:
        return self.encoder.embed_dim

    def train(self, mode: bool = True):
        return super().train(False)     # always frozen: no dropout, no statistics updates

    @torch.no_grad()
    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.encoder.last_block_input(img).float()
