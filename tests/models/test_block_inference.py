"""The ViT's inference-only block forward computes what open_clip's block computes."""
import pytest
import torch
from open_clip.transformer import QuickGELU, ResidualAttentionBlock

from segearth_ov.models.backbones.clip_vit import _block_inference, _plain_block


@pytest.mark.parametrize('act, ls', [(QuickGELU, None), (torch.nn.GELU, None), (QuickGELU, 0.5)])
def test_block_inference_equals_open_clip_block(act, ls):
    torch.manual_seed(0)
    blk = ResidualAttentionBlock(64, 4, act_layer=act, ls_init_value=ls).eval()
    x = torch.randn(3, 17, 64)
    assert _plain_block(blk)
    with torch.no_grad():
        expected = blk(x)
        torch.testing.assert_close(_block_inference(blk, x), expected, rtol=1e-5, atol=1e-5)
        assert not torch.equal(_block_inference(blk, x * 2), expected)


def test_other_blocks_keep_their_own_forward():
    blk = ResidualAttentionBlock(64, 4, is_cross_attention=True)
    assert not _plain_block(blk)
    blk = ResidualAttentionBlock(64, 4)
    blk.mlp.add_module('ln', torch.nn.LayerNorm(256))     # open_clip's scale_fc layout
    assert not _plain_block(blk)
