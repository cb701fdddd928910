import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

import common as C
import mmseg_sets
from converter_helpers import CONVERTERS, read, rgb  # noqa: F401  (fixture)


@pytest.mark.parametrize('dataset', sorted(mmseg_sets.SETS))
def test_mmseg_converter_shipped_and_help(dataset, capsys):
    assert mmseg_sets.mmseg_converter(dataset).is_file()
    with pytest.raises(SystemExit) as e:
        mmseg_sets.main(['--dataset', dataset, '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert 'official source' in out and 'out_dir' in out      # ours + mmseg's own help


def test_mmseg_sets_help_and_refusals(tmp_path):
    r = subprocess.run([sys.executable, str(CONVERTERS / 'mmseg_sets.py'), '--help'],
                       capture_output=True, text=True)
    assert r.returncode == 0 and 'LoveDA' in r.stdout and 'isprs.org' in r.stdout
    with pytest.raises(C.ConverterError, match='Train.zip'):
        mmseg_sets.run('loveda', [str(tmp_path / 'missing'), '-o', str(tmp_path / 'out')])
    with pytest.raises(C.ConverterError, match='source folder'):
        mmseg_sets.run('loveda', [str(tmp_path), '-o', str(tmp_path / 'LoveDA')])


def _png(arr):
    b = io.BytesIO()
    Image.fromarray(arr).save(b, format='PNG')
    return b.getvalue()


def test_loveda_end_to_end(tmp_path, rgb):
    src, out = tmp_path / 'download', tmp_path / 'data' / 'LoveDA'
    src.mkdir()
    mask = (np.arange(16).reshape(4, 4) % 8).astype(np.uint8)   # 0 = no-data, 1..7 classes
    for split in ('Train', 'Val', 'Test'):
        with zipfile.ZipFile(src / f'{split}.zip', 'w') as z:
            for loc, n in (('Rural', 1), ('Urban', 2)):
                name = f'{split}{n}.png'
                z.writestr(f'{split}/{loc}/images_png/{name}', _png(rgb(4, 4, seed=n)))
                if split != 'Test':
                    z.writestr(f'{split}/{loc}/masks_png/{name}', _png(mask))
    mmseg_sets.main(['--dataset', 'loveda', str(src), '-o', str(out)])
    assert sorted(p.name for p in (out / 'img_dir' / 'val').iterdir()) == ['Val1.png', 'Val2.png']
    assert sorted(p.name for p in (out / 'ann_dir' / 'val').iterdir()) == ['Val1.png', 'Val2.png']
    np.testing.assert_array_equal(read(out / 'ann_dir' / 'val' / 'Val2.png'), mask)
    assert sorted(p.name for p in src.iterdir()) == ['Test.zip', 'Train.zip', 'Val.zip']
