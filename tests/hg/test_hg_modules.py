"""HG-RSOVSSeg modules on small cases with known answers (tiny fixture CLIP, CPU)."""
from __future__ import annotations

import pytest
import torch

from hg_helpers import tiny_hg
from segearth_ov.models.decoders import (FeatureAggregation, GuidanceUpsampler,
                                         HierarchicalDecoder, HierarchicalGuidedUpsampling,
                                         TextAttentionModule, get_templates,
                                         pea_positional_embedding, scale_layers)


def test_fa_product_of_constant_maps():
    a = torch.tensor([1.0, -2.0, 3.0, 0.5])
    t = torch.tensor([[2.0, 1.0, 0.0, 4.0], [1.0, 1.0, 1.0, 1.0]])
    image = a.view(1, 4, 1, 1).expand(2, 4, 3, 5)
    out = FeatureAggregation(4, 'product', normalize=False)(image, t)
    assert out.shape == (2 * 2, 4, 3, 5)
    expected = torch.stack([a * t[0], a * t[1]])          # N×C
    for b in range(2):
        for n in range(2):
            assert torch.equal(out[b * 2 + n], expected[n].view(4, 1, 1).expand(4, 3, 5))
    # normalised: the channel mean of F_a is the cosine similarity of image and text
    out = FeatureAggregation(4, 'product')(image, t)
    cos = torch.nn.functional.cosine_similarity(a[None], t, dim=1)
    assert torch.allclose(out.mean(1)[:2, 0, 0], cos, atol=1e-6)


def test_fa_variants_shapes_and_bad_text():
    image = torch.randn(2, 8, 3, 4)
    assert FeatureAggregation(8, 'similarity')(image, torch.randn(5, 8)).shape == (10, 8, 3, 4)
    assert FeatureAggregation(8, 'cost', 3)(image, torch.randn(5, 3, 8)).shape == (10, 8, 3, 4)
    with pytest.raises(ValueError, match='same CLIP'):
        FeatureAggregation(8)(image, torch.randn(5, 6))
    with pytest.raises(ValueError, match='unknown fa'):
        FeatureAggregation(8, 'sum')


def test_tam_weights_sum_to_one_over_classes():
    tam = TextAttentionModule(text_dim=12, in_channels=6, key_channels=16, out_channels=6)
    guide, text = torch.randn(2, 6, 5, 7), torch.randn(4, 12)
    attn = tam.attention(guide, text)
    assert attn.shape == (2, 4, 5, 7)
    assert torch.allclose(attn.sum(1), torch.ones(2, 5, 7), atol=1e-6)
    # identical classes cannot be told apart: uniform weights 1/N
    same = tam.attention(guide, text[:1].expand(3, 12))
    assert torch.allclose(same, torch.full_like(same, 1 / 3), atol=1e-6)
    assert tam(guide, text).shape == (2 * 4, 6, 5, 7)


def test_deconvolution_sizes_on_odd_inputs():
    x = torch.randn(1, 10, 5, 7)
    assert GuidanceUpsampler(10, 4, level=1)(x).shape == (1, 4, 10, 14)
    assert GuidanceUpsampler(10, 4, level=2)(x).shape == (1, 4, 20, 28)
    hgu = HierarchicalGuidedUpsampling(in_channels=10, guide_channels=4, concat_channels=12)
    assert hgu(x, torch.randn(1, 4, 10, 14)).shape == (1, 4, 10, 14)
    dec = HierarchicalDecoder(embed_dim=12, width=10, c_o=(6, 4), c_k=8)
    out = dec(torch.randn(2, 12, 5, 7), [torch.randn(2, 10, 5, 7)] * 2, torch.randn(3, 12))
    assert out.shape == (2, 3, 20, 28)            # 2^n × the 5×7 grid, one map per class


def test_pea_native_grid_is_the_original_table():
    pos = torch.randn(1 + 14 * 14, 32)
    assert torch.equal(pea_positional_embedding(pos, 14, 14), pos)
    out = pea_positional_embedding(pos, 36, 20)
    assert out.shape == (1 + 36 * 20, 32) and torch.equal(out[0], pos[0])
    const = torch.ones(1 + 7 * 7, 3) * 2.5        # bicubic keeps a constant table constant
    assert torch.allclose(pea_positional_embedding(const, 9, 11), torch.full((100, 3), 2.5))


def test_guidance_layers_follow_the_papers_fractions():
    assert scale_layers(24) == (7, 15)
    assert scale_layers(12) == (4, 8)
    assert scale_layers(3) == (1, 2)
    with pytest.raises(ValueError, match='1-indexed'):
        scale_layers(12, (0, 5))


def test_template_sets():
    assert [len(get_templates(t)) for t in ('vild', 'imagenet', 'imagenet_select_clip')] \
        == [14, 80, 32]
    assert get_templates(['satellite image of {}.'])[0]('water') == 'satellite image of water.'
    with pytest.raises(ValueError, match='one "{}"'):
        get_templates(['no placeholder'])


def test_same_weights_any_number_of_classes():
    names = ['water', 'tree', 'road', 'building', 'grass', 'car', 'bare soil', 'crop', 'ship']
    torch.manual_seed(1)
    model = tiny_hg(names[:2]).eval()
    x = torch.randn(1, 3, 48, 64)
    for n in (2, 5, 9):
        model.set_classes(names[:n])
        assert model._forward(x).shape == (1, n, 48, 64)
    # reordering the classes reorders the logits, nothing else
    model.set_classes(names[:5])
    ref = model._forward(x)
    perm = [3, 0, 4, 1, 2]
    model.set_classes([names[i] for i in perm])
    assert torch.allclose(model._forward(x), ref[:, perm], atol=1e-5)


def test_synonyms_take_the_maximum():
    torch.manual_seed(2)
    model = tiny_hg(['red', 'green', 'blue', 'azure']).eval()
    x = torch.randn(1, 3, 32, 32)
    flat = model._forward(x)
    model.set_classes(['red', 'green', 'blue,azure'])
    syn = model._forward(x)
    assert syn.shape[1] == 3
    assert torch.allclose(syn[:, 2], flat[:, 2:].max(1).values, atol=1e-6)
    assert torch.allclose(syn[:, :2], flat[:, :2], atol=1e-6)


def test_training_step_moves_only_the_decoder():
    torch.manual_seed(3)
    model = tiny_hg(['red', 'green', 'blue'])
    from mmengine.optim import OptimWrapper
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    encoder = {k: v.clone() for k, v in model.image_encoder.state_dict().items()}
    decoder = {k: v.clone() for k, v in model.decode.state_dict().items()}
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 32, 32)))
        samples.append(s)
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)] * 2,
                data_samples=samples)
    optim = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                           lr=1e-3))
    model.train()
    losses = model.train_step(data, optim)
    assert torch.isfinite(losses['loss'])
    for k, v in model.image_encoder.state_dict().items():
        assert torch.equal(v, encoder[k]), k
    changed = [k for k, v in model.decode.state_dict().items() if not torch.equal(v, decoder[k])]
    assert len(changed) > len(decoder) // 2
    assert not model.image_encoder.training          # the frozen encoder stays in eval mode
    # checkpoints hold the decoder only, and load back strictly
    state = model.state_dict()
    assert state and all(k.startswith('decode.') for k in state)
    fresh = tiny_hg(['red', 'green', 'blue'])
    fresh.load_state_dict(state, strict=True)
    assert torch.equal(fresh.decode.head.weight, model.decode.head.weight)


def test_unfrozen_parts_and_ablations_build():
    x = torch.randn(1, 3, 32, 48)
    model = tiny_hg(['a', 'b'], image_trainable=('attn', 'pos'), text_trainable=('attn',))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any('image_encoder' in n and 'attn' in n for n in trainable)
    assert any(n.endswith('positional_embedding') and 'image' in n for n in trainable)
    assert any('text_tower' in n for n in trainable)
    model(x, mode='tensor').sum().backward()
    assert model.image_encoder.visual.positional_embedding.grad is not None
    for opts in (dict(pea=False), dict(hgu=False), dict(tam=False), dict(fa='cost'),
                 dict(fa='similarity'), dict(templates='imagenet_select_clip')):
        assert tiny_hg(['a', 'b', 'c'], **opts)._forward(x).shape == (1, 3, 32, 48), opts


def test_bad_configuration_is_named():
    with pytest.raises(ValueError, match='same length'):
        tiny_hg(['a'], guidance_layers=(1, 2, 3), c_o=(16, 8))
    with pytest.raises(ValueError, match='unknown part'):
        tiny_hg(['a'], image_trainable=('mlp',))
    with pytest.raises(ValueError, match='name_path'):
        tiny_hg(None)
