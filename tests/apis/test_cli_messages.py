"""tools/predict.py messages that used to hide the cause: a truncated GeoTIFF, a class file
that is not UTF-8, an --out that is a file; and --help naming region mode."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from conftest import JBU_CKPT, TINY_CFG, TINY_PT

FIXTURE = ['--pretrained', str(TINY_PT), '--model-cfg', str(TINY_CFG), '--upsampler-ckpt',
           str(JBU_CKPT['jbu_one']), '--device', 'cpu', '--quiet']


pytestmark = pytest.mark.usefixtures('one_thread')


def scene(path, h=300, w=200):
    """An uncompressed uint8 RGB GeoTIFF (GDAL's default strips: header and directory first,
    pixels after, so a copy cut short still opens)."""
    rng = np.random.default_rng(0)
    with rasterio.open(path, 'w', driver='GTiff', height=h, width=w, count=3, dtype='uint8',
                       crs='EPSG:32632', transform=Affine(0.5, 0, 5e5, 0, -0.5, 5.6e6)) as dst:
        dst.write(rng.integers(1, 255, (3, h, w), dtype=np.uint8))
    return path


def test_truncated_geotiff_says_truncated_and_gdals_error(tmp_path, capsys):
    """Was: "Read failed. See previous exception for details." and no previous exception."""
    from segearth_ov.mapping.cli import main
    good = scene(tmp_path / 'good.tif')
    cut = tmp_path / 'cut.tif'
    data = good.read_bytes()
    cut.write_bytes(data[:len(data) // 3])
    rc = main([str(cut), str(good), '--classes', 'a;b', *FIXTURE, '--out', str(tmp_path / 'o')])
    err = capsys.readouterr().err
    assert rc == 1                                 # the other input is still done
    assert (tmp_path / 'o' / 'good_labels.tif').is_file()
    line = next(ln for ln in err.splitlines() if 'cut.tif' in ln)
    assert f'{cut}: the file is truncated or corrupt (GDAL: ' in line
    assert 'TIFFRead' in line or 'IReadBlock' in line    # GDAL's own words
    assert 'See previous exception' not in err


def test_class_file_that_is_not_utf8_is_named(tmp_path, capsys):
    from segearth_ov.mapping.cli import main
    classes = tmp_path / 'classes.txt'
    classes.write_bytes('water\nforêt,bois\n'.encode('latin-1'))
    rc = main([str(scene(tmp_path / 's.tif', 20, 20)), '--classes-file', str(classes),
               '--dry-run'])
    assert rc == 2
    assert capsys.readouterr().err.strip() == (
        f'error: class-name file {classes}: not UTF-8 text (byte 0xea on line 2); '
        'save it as UTF-8')


@pytest.mark.parametrize('under', ['', 'sub'])
def test_out_that_is_a_file_is_refused_before_the_model(tmp_path, capsys, under):
    """Was: [Errno 17] File exists, once per input, after the model loaded. No fixture model
    here: had the model been built first, offline weights would be the error."""
    from segearth_ov.mapping.cli import main
    taken = tmp_path / 'taken'
    taken.write_text('a file')
    out = taken / under if under else taken
    inputs = [str(scene(tmp_path / f's{i}.tif', 20, 20)) for i in range(2)]
    rc = main([*inputs, '--classes', 'a;b', '--out', str(out)])
    captured = capsys.readouterr()
    assert rc == 2 and 'model built' not in captured.out
    parent = '' if not under else f'its parent {taken} '
    assert captured.err.strip() == (f'error: --out {out}: {parent}is a file, not a folder; '
                                    'give a folder (created if missing)')
    assert taken.read_text() == 'a file'


def test_predict_help_names_region_mode(capsys):
    from segearth_ov.mapping.cli import main
    with pytest.raises(SystemExit):
        main(['--help'], prog='tools/predict.py')
    out = capsys.readouterr().out
    assert 'region mode' in out and 'python tools/predict.py --region --help' in out
    assert 'torchrun --nproc_per_node 4 tools/predict.py' in out
