"""The compiled SimFeatUp kernels equal their PyTorch twins."""
import pytest
import torch

from segearth_ov.models.upsamplers.jbu import adaptive_conv, neighbour_dot
from segearth_ov.ops import cpu_kernels

pytestmark = pytest.mark.skipif(cpu_kernels.library() is None,
                                reason='no C compiler: the PyTorch path is used')


@pytest.mark.parametrize('b,c,h,w,d', [(1, 32, 13, 17, 11), (2, 3, 9, 7, 7)])
def test_local_dot_equals_torch(b, c, h, w, d, monkeypatch):
    q = torch.randn(b, c, h, w)
    x = torch.randn(b, c, h + d - 1, w + d - 1)
    fast = neighbour_dot(q, x, d)
    monkeypatch.setenv('SEGEARTH_KERNELS', 'torch')
    slow = neighbour_dot(q, x, d)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_thread_split_and_channels_last_input(monkeypatch):
    import torch.nn.functional as F
    src = torch.randn(1, 20, 10, 15).contiguous(memory_format=torch.channels_last)
    k = torch.randn(1, 121, 20, 30)
    hr = F.interpolate(src.contiguous(), size=(20, 30), mode='bicubic', align_corners=False)
    ref = adaptive_conv(F.pad(hr, [5] * 4, mode='reflect'), k)
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 3)   # 20 rows over 3 bands
    assert torch.allclose(cpu_kernels.upsample_and_weighted_sum(src, k, 5), ref, atol=1e-4)


def test_switch_turns_kernels_off(monkeypatch):
    x = torch.randn(1, 2, 3, 3)
    assert cpu_kernels.available(x)
    monkeypatch.setenv('SEGEARTH_KERNELS', 'torch')
    assert not cpu_kernels.available(x)
    assert not cpu_kernels.available(x.double())


@pytest.mark.parametrize('c,h,w,r', [(197, 14, 9, 5), (40, 7, 9, 5), (5, 6, 11, 3)])
def test_upsample_and_weighted_sum_equals_torch(c, h, w, r):
    import torch.nn.functional as F
    d = 2 * r + 1
    src = torch.randn(2, c, h, w)
    k = torch.randn(2, d * d, 2 * h, 2 * w)
    hr = F.interpolate(src, size=(2 * h, 2 * w), mode='bicubic', align_corners=False)
    ref = adaptive_conv(F.pad(hr, [r] * 4, mode='reflect'), k)
    out = cpu_kernels.upsample_and_weighted_sum(src, k, r)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=1e-4)
