"""SimFeatUp: the accumulation kernel, the low-rank path, checkpoint loading errors."""
import pytest
import torch
import torch.nn.functional as F

from conftest import JBU_CKPT
from segearth_ov.models.upsamplers import JBUOne, build_upsampler
from segearth_ov.models.upsamplers.jbu import adaptive_conv


def test_adaptive_conv_equals_unfold_reference():
    torch.manual_seed(0)
    d, h, w = 3, 5, 6
    padded = torch.randn(2, 4, h + d - 1, w + d - 1)
    kernel = torch.randn(2, d * d, h, w)
    unfolded = F.unfold(padded, d).reshape(2, 4, d * d, h, w)
    expected = (unfolded * kernel[:, None]).sum(2)
    assert torch.allclose(adaptive_conv(padded, kernel), expected, atol=1e-5)


def test_reduced_basis_path_equals_direct_path():
    up = build_upsampler('jbu_one', 64, 16, str(JBU_CKPT['jbu_one']))
    src = torch.randn(2, 64, 3, 4)          # 12 tokens + 1 < 64 channels: reduced path
    guide = torch.randn(2, 3, 48, 64)
    with torch.no_grad():
        y = up.upsample_linear(src, guide)
        direct = y + 0.1 * up.fixup_proj(y)
        g, q = up.reduced(src, guide)
        low = up(src, guide)
    assert q.shape == (2, 64, 13) and g.shape == (2, 13, 48, 64)
    assert low.shape == (2, 64, 48, 64)
    assert torch.allclose(low, direct, atol=1e-4)
    # the norm and the text product are those of the full features
    assert torch.allclose(g.norm(dim=1), direct.norm(dim=1), rtol=1e-4)


def test_steps_follow_patch_size():
    assert build_upsampler('jbu_one', 64, 16, str(JBU_CKPT['jbu_one'])).num_steps == 4
    up32 = build_upsampler('jbu_one', 64, 32, str(JBU_CKPT['jbu_one']))
    assert up32.num_steps == 5
    out = up32(torch.randn(1, 64, 3, 3), torch.randn(1, 3, 96, 96))
    assert out.shape == (1, 64, 96, 96)


def test_too_small_grid_is_a_clear_error():
    up = build_upsampler('jbu_one', 64, 16, str(JBU_CKPT['jbu_one']))
    with pytest.raises(ValueError, match='at least 3×3 tokens, got \\(2, 5\\)'):
        up(torch.randn(1, 64, 2, 5), torch.randn(1, 3, 32, 80))


def test_wrong_width_checkpoint_names_both_widths():
    with pytest.raises(ValueError, match='width 64.*width 512'):
        build_upsampler('jbu_one', 512, 16, str(JBU_CKPT['jbu_one']))


def test_wrong_kind_of_checkpoint_is_named():
    with pytest.raises(ValueError, match="does not match JBUStack.*model_name"):
        build_upsampler('jbu_stack', 64, 16, str(JBU_CKPT['jbu_one']))


def test_missing_checkpoint_and_unknown_upsampler():
    with pytest.raises(FileNotFoundError, match='SimFeatUp checkpoint not found'):
        build_upsampler('jbu_one', 64, 16, '/nonexistent/x.ckpt')
    with pytest.raises(ValueError, match="valid: jbu_one, jbu_stack, bilinear"):
        build_upsampler('jbu_three', 64, 16, str(JBU_CKPT['jbu_one']))


def test_released_key_prefix_is_stripped(tmp_path):
    up = JBUOne(8)
    ckpt = tmp_path / 'x.ckpt'
    torch.save({'state_dict': {f'upsampler.{k}': v for k, v in up.state_dict().items()}}, ckpt)
    loaded = build_upsampler('jbu_one', 8, 16, str(ckpt))
    assert torch.equal(loaded.up.range_proj[0].weight, up.up.range_proj[0].weight)


def test_unfold_sums_equal_the_offset_loops(monkeypatch):
    """The GPU's batched sums (run here on CPU tensors) equal the CPU path's, also when the
    unfolded block is cut into chunks of rows (seams)."""
    from segearth_ov.models.upsamplers import jbu
    g = torch.Generator().manual_seed(1)
    d, h, w = 5, 9, 7
    padded = torch.randn(2, 6, h + d - 1, w + d - 1, generator=g)
    kernel = torch.randn(2, d * d, h, w, generator=g)
    query = torch.randn(2, 6, h, w, generator=g)
    loop_conv = jbu.adaptive_conv(padded, kernel)
    loop_dot = jbu.neighbour_dot(query, padded, d)       # the C kernel where there is one
    for chunk in (jbu.UNFOLD_CHUNK_BYTES, 1):            # one piece; one row at a time
        monkeypatch.setattr(jbu, 'UNFOLD_CHUNK_BYTES', chunk)
        torch.testing.assert_close(jbu.adaptive_conv_unfold(padded, kernel), loop_conv,
                                   rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(jbu.neighbour_dot_unfold(query, padded, d), loop_dot,
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('name', ['jbu_one', 'jbu_stack'])
def test_batched_path_equals_cpu_path(name, monkeypatch):
    """The whole upsampler (reduced basis, banded kernels) on the GPU's batched path, forced
    on CPU tensors, gives the CPU path's features."""
    from segearth_ov.models.upsamplers import jbu
    up = build_upsampler(name, 64, 16, str(JBU_CKPT[name]))
    g = torch.Generator().manual_seed(2)
    src, guide = torch.randn(1, 64, 4, 5, generator=g), torch.randn(1, 3, 64, 80, generator=g)
    with torch.no_grad():
        cpu = up(src, guide)
        monkeypatch.setattr(jbu, 'batched_path', lambda t: True)
        monkeypatch.setattr(jbu, 'UNFOLD_CHUNK_BYTES', 1 << 20)   # several chunks
        monkeypatch.setattr(jbu, 'GPU_BAND_PIXELS', 1000)         # several bands
        batched = up(src, guide)
    torch.testing.assert_close(batched, cpu, rtol=1e-4, atol=1e-5)
