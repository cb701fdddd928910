"""common.LabelSummary: no converter writes a label it is unsure of silently."""
import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
import numpy as np
import pytest

import common as C
from converter_helpers import read


def test_rgb_to_index_returns_unmapped_colours():
    rgb = np.array([[[1, 2, 3], [0, 0, 0]], [[9, 9, 9], [1, 2, 3]]], np.uint8)
    idx, unknown = C.rgb_to_index(rgb, [(0, 0, 0), (1, 2, 3)])
    np.testing.assert_array_equal(idx, [[1, 0], [255, 1]])
    assert unknown == {(9, 9, 9): 1}
    idx, unknown = C.rgb_to_index(rgb, {(1, 2, 3): 4, (9, 9, 9): 4, (0, 0, 0): C.IGNORE})
    np.testing.assert_array_equal(idx, [[4, 255], [4, 4]])
    assert unknown == {}                       # black is a known "no label" colour


def test_values_to_index_range_and_dict():
    lab = np.array([[0, 1, 7], [9, 9, 2]], np.uint8)
    idx, unknown = C.values_to_index(lab, 3)
    np.testing.assert_array_equal(idx, [[0, 1, 255], [255, 255, 2]])
    assert unknown == {7: 1, 9: 2}
    idx, unknown = C.values_to_index(lab, {1: 0, 2: 1, 7: C.IGNORE})
    np.testing.assert_array_equal(idx, [[255, 0, 255], [255, 255, 1]])
    assert unknown == {0: 1, 9: 2}


def test_unknown_colours_past_the_threshold_stop_with_colours_counts_and_file(tmp_path):
    log = C.LabelSummary('Demo', classes=('a', 'b'), max_unknown=0.01)
    lab = np.zeros((10, 10), np.uint8)
    log.check('ok.tif', {(7, 7, 7): 1}, lab.size)          # 1 % is tolerated
    log.save(lab, tmp_path / 'ok.png')
    with pytest.raises(C.ConverterError) as e:
        log.check('bad.tif', {(255, 255, 0): 5, (1, 2, 3): 1}, lab.size)
    msg = str(e.value)
    assert '\n' not in msg
    for part in ('bad.tif', '6 of 100 pixels', '(255, 255, 0) 5 px', '(1, 2, 3) 1 px',
                 '--max-unknown 0.12'):
        assert part in msg, part


def test_summary_lists_files_pixels_per_class_unknown_and_skipped(tmp_path, capsys):
    log = C.LabelSummary('Demo', classes=('a', 'b'), max_unknown=0.5)
    lab = np.array([[0, 1, 1], [255, 1, 0]], np.uint8)
    log.check('x.tif', {9: 1}, lab.size)
    log.save(lab, tmp_path / 'x.png', 'x.tif')
    log.skip('y.tif', 'no image')
    summary = log.finish()
    assert summary == dict(files=1, pixels={'a': 2, 'b': 3, 'ignored': 1},
                           unknown={9: 1}, skipped=[('y.tif', 'no image')])
    np.testing.assert_array_equal(read(tmp_path / 'x.png'), lab)
    out = capsys.readouterr().out
    assert 'Demo: 1 label files written' in out
    assert 'a 2 (33.3%), b 3 (50.0%), ignored 1 (16.7%)' in out
    assert 'written as 255 (maps to no class): 9 1 px in 1 file(s), e.g. x.tif' in out
    assert 'skipped y.tif: no image' in out
