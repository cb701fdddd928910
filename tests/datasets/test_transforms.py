"""LoadSARImageFromFile: 8-bit files exactly as LoadImageFromFile; 16-bit/float → 8-bit 3-band."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
from mmcv.transforms import LoadImageFromFile
from synthetic_data import synthetic_image, write

import segearth_ov  # noqa: F401
from segearth_ov.datasets import LoadSARImageFromFile


def load(transform, path):
    return transform.transform({'img_path': str(path)})['img']


@pytest.mark.parametrize('suffix', ['.png', '.jpg', '.JPG', '.tif'])
@pytest.mark.parametrize('bands', [1, 3])
def test_8bit_files_are_byte_identical_to_load_image_from_file(tmp_path, suffix, bands):
    path = tmp_path / f'img{suffix}'
    write(path, synthetic_image(0, bands=bands))
    ours, reference = load(LoadSARImageFromFile(), path), load(LoadImageFromFile(), path)
    assert ours.dtype == np.uint8 and ours.shape == reference.shape
    assert ours.tobytes() == reference.tobytes()


def test_8bit_rgba_png_drops_alpha_like_load_image_from_file(tmp_path):
    path = tmp_path / 'rgba.png'
    write(path, synthetic_image(1, bands=4))
    assert load(LoadSARImageFromFile(), path).tobytes() == \
        load(LoadImageFromFile(), path).tobytes()


def test_16bit_single_band_tif_is_stretched_to_three_equal_bands(tmp_path):
    path = tmp_path / 'sar.tif'
    band = np.linspace(0, 5000, 48 * 64).reshape(48, 64).astype(np.uint16)
    tifffile.imwrite(path, band)
    results = LoadSARImageFromFile().transform({'img_path': str(path)})
    img = results['img']
    assert img.dtype == np.uint8 and img.shape == (48, 64, 3)
    assert results['img_shape'] == results['ori_shape'] == (48, 64)
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    assert img.min() == 0 and img.max() == 255            # 2–98 % stretch, clipped
    assert np.all(np.diff(img[..., 0].ravel().astype(int)) >= 0)   # monotonic


def test_16bit_three_band_png_keeps_bgr_order(tmp_path):
    """OpenCV and the stretch both keep band order: band 0 of the result is the file's blue."""
    path = tmp_path / 'rgb16.png'
    bgr = np.zeros((32, 32, 3), np.uint16)
    bgr[..., 0] = np.arange(32)[None] * 1000    # blue varies, the rest constant
    write(path, bgr)
    img = load(LoadSARImageFromFile(), path)
    assert img[..., 0].max() == 255 and img[..., 1].max() == 0 and img[..., 2].max() == 0


def test_float_db_tif_with_nan_and_bands_first(tmp_path):
    path = tmp_path / 'db.tif'
    db = np.linspace(-25, 5, 2 * 40 * 50, dtype=np.float32).reshape(2, 40, 50)
    db[0, 0, 0] = np.nan
    tifffile.imwrite(path, np.concatenate([db, db[:1]]), photometric='rgb',
                     planarconfig='separate')   # 3 bands, stored bands-first
    img = load(LoadSARImageFromFile(), path)
    assert img.shape == (40, 50, 3) and img.dtype == np.uint8
    assert img[0, 0, 2] == 0   # NaN → 0 (band 0 of the file is the last, BGR, band)


def test_linear_to_db_option(tmp_path):
    path = tmp_path / 'linear.tif'
    linear = np.logspace(-3, 1, 48 * 64).reshape(48, 64).astype(np.float32)
    tifffile.imwrite(path, linear)
    plain = load(LoadSARImageFromFile(), path)[..., 0].astype(int)
    db = load(LoadSARImageFromFile(linear_to_db=True), path)[..., 0].astype(int)
    # a log-spaced ramp is linear in dB: evenly spread grey values, unlike the linear stretch
    assert np.histogram(db, bins=4, range=(0, 256))[0].min() > 0.15 * db.size
    assert np.histogram(plain, bins=4, range=(0, 256))[0].min() < 0.15 * plain.size


def test_two_band_image_is_a_clear_error(tmp_path):
    path = tmp_path / 'two.tif'
    tifffile.imwrite(path, np.zeros((40, 50, 2), np.uint16))
    with pytest.raises(ValueError, match='2 bands'):
        load(LoadSARImageFromFile(), path)
