"""Sharing SimFeatUp's guidance kernels across slide windows changes nothing but the time."""
import pytest
import torch

from conftest import tiny_segmentor
from segearth_ov.models.upsamplers.kernel_atlas import KernelAtlas


@pytest.mark.parametrize('hw', [(224, 224), (160, 250), (112, 224)])
def test_shared_kernels_equal_per_window_kernels(hw):
    # 112 windows at stride 56 (small and quick; the 224/112 default has the same geometry)
    seg = tiny_segmentor(['road', 'water', 'building', 'tree'], slide_crop=112, slide_stride=56)
    img = torch.randn(1, 3, *hw, generator=torch.Generator().manual_seed(hw[1]))
    seg.share_kernels = False
    expected = seg.image_logits(img)
    seg.share_kernels = True
    torch.testing.assert_close(seg.image_logits(img), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('batched', [False, True])
def test_window_kernels_are_the_windows_own_and_unaligned_windows_are_left_alone(batched):
    seg = tiny_segmentor(['road', 'water'])
    up = seg.upsampler
    img = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    corners = [(0, 0), (56, 112), (112, 56), (56, 56)]
    # batched: the windows' border bands computed up front, one batch per step and side
    windows = [(y, y + 112, x, x + 112) for y, x in corners + [(60, 0)]] if batched else ()
    atlas = KernelAtlas(up, img, (112, 112), 16, windows)
    assert len(atlas._bands) == (48 if batched else 0)   # 2 + 3 + 3 + 4 inner sides × 4 steps
    assert atlas.window(60, 0) is None        # not a multiple of the first step's 8 px
    for y, x in corners:
        cut = atlas.window(y, x)
        crop = img[..., y:y + 112, x:x + 112]
        for step, kernel, n in zip(up.steps(), cut, (14, 28, 56, 112)):
            own = step.kernel(torch.nn.functional.adaptive_avg_pool2d(crop, (n, n)))
            torch.testing.assert_close(kernel, own, rtol=1e-5, atol=1e-6)


def test_atlas_only_for_several_windows_of_one_patch_multiple_size():
    assert KernelAtlas.applies([(0, 224, 0, 224), (0, 224, 112, 336)], (224, 336), 16)
    assert not KernelAtlas.applies([(0, 224, 0, 224)], (224, 224), 16)
    assert not KernelAtlas.applies([(0, 200, 0, 200), (0, 200, 100, 300)], (200, 300), 16)
    assert not KernelAtlas.applies([(0, 224, 0, 224), (0, 224, 112, 336)], (4000, 4000), 16)


def test_kernel_in_row_bands_equals_one_piece(monkeypatch):
    import segearth_ov.models.upsamplers.jbu as jbu
    step = tiny_segmentor(['road', 'water']).upsampler.up
    guide = torch.randn(1, 3, 60, 44, generator=torch.Generator().manual_seed(5))
    monkeypatch.setattr(jbu, 'KERNEL_BAND_PIXELS', 10 ** 9)
    with torch.no_grad():
        whole = step.kernel(guide)
        monkeypatch.setattr(jbu, 'KERNEL_BAND_PIXELS', 100)   # bands of 2 rows: many seams
        banded = step.kernel(guide)
    torch.testing.assert_close(banded, whole, rtol=1e-5, atol=1e-7)


def test_gpu_batched_path_with_shared_kernels_equals_cpu_path(monkeypatch):
    """Slide windows with shared kernels on the GPU's batched path (forced on CPU tensors)
    give the CPU path's logits."""
    import segearth_ov.models.upsamplers.jbu as jbu
    seg = tiny_segmentor(['road', 'water', 'building', 'tree'], slide_crop=112, slide_stride=56)
    img = torch.randn(1, 3, 112, 168, generator=torch.Generator().manual_seed(7))   # 2 windows
    expected = seg.image_logits(img)
    monkeypatch.setattr(jbu, 'batched_path', lambda t: True)
    monkeypatch.setattr(jbu, 'GPU_BAND_PIXELS', 2000)          # the atlas in several bands
    torch.testing.assert_close(seg.image_logits(img), expected, rtol=1e-5, atol=1e-5)
