"""Bad input gets a clear error naming the problem and the fix."""
import numpy as np
import pytest
import torch

from conftest import TINY_CFG, TINY_PT, tiny_segmentor
from segearth_ov.models.backbones import WeightsNotFoundError, build_clip
from segearth_ov.utils.images import ImageReadError, read_image, to_three_bands


@pytest.mark.parametrize('kw,match', [
    (dict(clip_type='RemoteCLIPP'), "unknown clip_type 'RemoteCLIPP'; valid: CLIP, OpenCLIP"),
    (dict(vit_type='ViT-H/14'), "unknown vit_type 'ViT-H/14' for clip_type 'CLIP'; valid: ViT-B/16"),
    (dict(model_type='SegEarthOV'), "unknown model_type 'SegEarthOV'; valid: vanilla"),
])
def test_unknown_names_list_valid_ones(kw, match):
    with pytest.raises(ValueError, match=match):
        tiny_segmentor(['a', 'b'], feature_up=False, **kw)


def test_vit_type_spellings_are_equivalent():
    from segearth_ov.models.backbones import get_preset
    assert get_preset('CLIP', 'ViT-B-16') == get_preset('CLIP', 'vit-b/16') == get_preset('CLIP', 'ViT-B/16')


def test_checkpoint_of_other_architecture_is_named(tmp_path):
    import open_clip
    wrong = tmp_path / 'other.pt'
    torch.save(open_clip.create_model('ViT-B-32').visual.state_dict(), wrong)
    with pytest.raises(ValueError, match='does not match the tiny-clip-vit-b16 architecture'):
        build_clip('CLIP', 'ViT-B/16', pretrained=str(wrong), model_cfg=str(TINY_CFG))


def test_unreadable_checkpoint(tmp_path):
    bad = tmp_path / 'bad.pt'
    bad.write_bytes(b'\x00garbage')
    with pytest.raises(ValueError, match='bad.pt is not a checkpoint SegEarth-OV can read'):
        build_clip('CLIP', 'ViT-B/16', pretrained=str(bad), model_cfg=str(TINY_CFG))


def test_offline_preset_without_file_names_file_and_pretrained(monkeypatch):
    with pytest.raises(WeightsNotFoundError) as err:
        build_clip('RemoteCLIP', 'ViT-B/32')
    msg = str(err.value)
    assert 'RemoteCLIP ViT-B/32' in msg and 'RemoteCLIP-ViT-B-32.pt' in msg
    assert "pretrained=" in msg


def test_offline_openclip_tag_without_file(monkeypatch):
    with pytest.raises(WeightsNotFoundError, match=r"CLIP ViT-B/16 not found.*openai.*pretrained="):
        build_clip('CLIP', 'ViT-B/16')


def test_preset_file_in_checkpoints_dir_is_found(tmp_path, monkeypatch):
    from segearth_ov.models.backbones import get_preset, resolve_weights
    ckpts = tmp_path / 'ck'
    ckpts.mkdir()
    (ckpts / 'RemoteCLIP-ViT-B-32.pt').write_bytes(b'x')
    monkeypatch.setenv('SEGEARTH_CHECKPOINTS', str(ckpts))
    assert resolve_weights(get_preset('RemoteCLIP', 'ViT-B/32')) == str(ckpts / 'RemoteCLIP-ViT-B-32.pt')


def test_pretrained_path_that_does_not_exist():
    with pytest.raises(WeightsNotFoundError, match="pretrained='/no/such.pt' is not a file"):
        build_clip('CLIP', 'ViT-B/16', pretrained='/no/such.pt', model_cfg=str(TINY_CFG))


def test_image_path_that_is_not_an_image(tmp_path):
    f = tmp_path / 'notes.png'
    f.write_text('hello')
    with pytest.raises(ImageReadError, match='notes.png is not an image'):
        read_image(f)
    with pytest.raises(ImageReadError, match='image not found'):
        read_image(tmp_path / 'missing.tif')


def test_band_policy():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = to_three_bands(gray)
    assert rgb.shape == (3, 4, 3) and all(np.array_equal(rgb[..., i], gray) for i in range(3))
    rgba = np.random.randint(0, 255, (3, 4, 4), dtype=np.uint8)
    assert np.array_equal(to_three_bands(rgba), rgba[..., :3])
    with pytest.raises(ImageReadError, match='has 2 bands'):
        to_three_bands(np.zeros((3, 4, 2), np.uint8))
    with pytest.raises(ImageReadError, match='has 6 bands.*needs 3'):
        to_three_bands(np.zeros((3, 4, 6), np.uint8))


def test_one_and_four_band_files_are_read_as_rgb(tmp_path):
    import cv2
    gray = np.random.randint(0, 255, (20, 30), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'sar.png'), gray)
    img = read_image(tmp_path / 'sar.png')
    assert img.shape == (20, 30, 3) and np.array_equal(img[..., 1], gray)
    rgba = np.random.randint(0, 255, (20, 30, 4), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'rgba.png'), rgba[..., [2, 1, 0, 3]])  # OpenCV writes BGRA
    assert np.array_equal(read_image(tmp_path / 'rgba.png'), rgba[..., :3])


def test_sixteen_bit_is_stretched_to_uint8(tmp_path):
    import tifffile
    data = np.linspace(0, 4000, 20 * 30, dtype=np.uint16).reshape(20, 30)
    tifffile.imwrite(tmp_path / 'sar16.tif', data)
    img = read_image(tmp_path / 'sar16.tif')
    assert img.dtype == np.uint8 and img.shape == (20, 30, 3)
    assert img.min() == 0 and img.max() == 255


def test_stretch_excludes_nodata_and_follows_a_given_range():
    from segearth_ov.utils.images import percentile_range, to_uint8_rgb
    band = np.array([[0, 80, 160], [240, 400, 65535]], np.uint16)  # 65535 = nodata
    lo, hi = percentile_range(band, 0, 100, nodata=65535)
    assert (lo[0], hi[0]) == (0, 400)  # the nodata value does not stretch the range
    rgb = to_uint8_rgb(band, nodata=65535, percentiles=(0, 100))
    assert rgb.shape == (2, 3, 3) and rgb[..., 0].tolist() == [[0, 51, 102], [153, 255, 255]]
    # a scene-wide range given from outside (tiles of one scene share it)
    rgb = to_uint8_rgb(band, value_range=([0.0] * 3, [510.0] * 3))
    assert rgb[0, :, 1].tolist() == [0, 40, 80]


def test_linear_sar_to_db_is_stretched_in_db():
    from segearth_ov.utils.images import to_uint8_rgb
    power = np.array([[1e-3, 1e-2], [1e-1, 1.0]], np.float32)  # −30, −20, −10, 0 dB
    rgb = to_uint8_rgb(power, to_db=True, percentiles=(0, 100))
    assert rgb[..., 0].tolist() == [[0, 85], [170, 255]]  # evenly spaced in dB


def test_predict_rejects_wrong_band_count():
    seg = tiny_segmentor(['a', 'b'], feature_up=False)
    with pytest.raises(ValueError, match='B×3×H×W, got \\(1, 4, 32, 32\\)'):
        seg.predict(torch.zeros(1, 4, 32, 32))


def test_quick_gelu_follows_preset_unless_forced():
    from open_clip.transformer import QuickGELU

    def act(model):
        return type(model.visual.transformer.resblocks[0].mlp.gelu)

    assert act(build_clip('CLIP', 'ViT-B/32', pretrained='random')[0]) is QuickGELU
    assert act(build_clip('CLIP', 'ViT-B/32', pretrained='random', quick_gelu=False)[0]) is torch.nn.GELU
    assert act(build_clip('RemoteCLIP', 'ViT-B/32', pretrained='random')[0]) is torch.nn.GELU
    assert act(build_clip('RemoteCLIP', 'ViT-B/32', pretrained='random', quick_gelu=True)[0]) is QuickGELU
