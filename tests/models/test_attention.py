"""Each attention variant on a tiny hand-made case, against values worked out by hand."""
import math

import pytest
import torch

from segearth_ov.models.backbones.attention import (ATTENTIONS, neighbourhood_gaussian,
                                                     gem_attention)

# One batch, one head, two tokens, d = 1: q = [1, 0], k = [0, 2], v = [3, -1].
Q = torch.tensor([[[[1.0], [0.0]]]])
K = torch.tensor([[[[0.0], [2.0]]]])
V = torch.tensor([[[[3.0], [-1.0]]]])
SCALE = 1.0


def _softmax_rows(m):
    return torch.softmax(torch.tensor(m), dim=-1)


def test_vanilla_is_query_key_softmax():
    a = ATTENTIONS['vanilla'](Q, K, V, SCALE, (1, 1))[0, 0]
    # q·k: row 0 = [0, 2], row 1 = [0, 0]
    assert torch.allclose(a, _softmax_rows([[0.0, 2.0], [0.0, 0.0]]))


def test_maskclip_attends_to_itself():
    a = ATTENTIONS['MaskCLIP'](Q, K, V, SCALE, (1, 1))[0, 0]
    assert torch.equal(a, torch.eye(2))
    assert torch.equal(a @ V[0, 0], V[0, 0])


def test_clearclip_sclip_segearth_sum_self_attentions():
    qq = _softmax_rows([[1.0, 0.0], [0.0, 0.0]])
    kk = _softmax_rows([[0.0, 0.0], [0.0, 4.0]])
    vv = _softmax_rows([[9.0, -3.0], [-3.0, 1.0]])
    assert torch.allclose(ATTENTIONS['ClearCLIP'](Q, K, V, SCALE, None)[0, 0], qq)
    assert torch.allclose(ATTENTIONS['SCLIP'](Q, K, V, SCALE, None)[0, 0], qq + kk)
    seg = ATTENTIONS['SegEarth'](Q, K, V, SCALE, None)[0, 0]
    assert torch.allclose(seg, qq + kk + vv)
    assert torch.allclose(seg.sum(-1), torch.full((2,), 3.0))  # not renormalised


def test_naclip_adds_gaussian_between_grid_cells():
    g = neighbourhood_gaussian(2, 2)
    assert g.shape == (5, 5)
    assert torch.all(g[0] == 0) and torch.all(g[:, 0] == 0)
    assert g[1, 1] == 1.0                                  # same cell
    assert math.isclose(g[1, 2].item(), math.exp(-0.5), rel_tol=1e-6)   # horizontal neighbour
    assert math.isclose(g[1, 4].item(), math.exp(-1.0), rel_tol=1e-6)   # diagonal neighbour
    q = k = v = torch.zeros(1, 1, 5, 1)
    a = ATTENTIONS['NACLIP'](q, k, v, 1.0, (2, 2))[0, 0]
    assert torch.allclose(a, torch.softmax(g, dim=-1))


def test_naclip_non_square_grid_uses_its_own_shape():
    g = neighbourhood_gaussian(1, 3)
    assert math.isclose(g[1, 3].item(), math.exp(-2.0), rel_tol=1e-6)  # two cells apart on one row


def test_gem_on_parallel_tokens_returns_mean_value():
    # Tokens of one direction are identical once normalised, so q-q, k-k and v-v attention
    # are uniform: every output row is the mean of v.
    q = k = torch.ones(1, 1, 3, 2)
    v = torch.tensor([[[[1.0, 0.0], [2.0, 0.0], [6.0, 0.0]]]])
    out = gem_attention(q, k, v, torch.tensor(1.0))
    assert torch.allclose(out[0, 0], v[0, 0].mean(0).expand(3, 2))


@pytest.mark.parametrize('bad', ['Segearth', 'gem', 'CLIPSurgery'])
def test_unknown_model_type_lists_valid_ones(bad):
    from segearth_ov.models.backbones.clip_vit import check_model_type
    with pytest.raises(ValueError, match='valid: vanilla, MaskCLIP, SCLIP, ClearCLIP, SegEarth'):
        check_model_type(bad)
