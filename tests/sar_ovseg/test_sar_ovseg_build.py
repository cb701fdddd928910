"""tools/sar_ovseg/build.py on three synthetic SAR sources."""
from __future__ import annotations

import numpy as np
import tifffile
from PIL import Image

from sar_ovseg_helpers import load_builder, tree_digest, write_sources

from segearth_ov.datasets.sar_ovseg import load_taxonomy


def _lines(path):
    return [ln for ln in path.read_text().splitlines() if ln]


def test_build_tiles_splits_stats_and_idempotence(tmp_path):
    data, out = tmp_path / 'data', tmp_path / 'SAR-OVSeg'
    labels = write_sources(data)
    before = tree_digest(data)
    logs = []
    build = load_builder()
    stats = build.build(data, out, tile=512, val_fraction=0.5, log=logs.append, progress=False)

    # sources not written (pie/whu/yeseg present; the 6 others reported and skipped)
    assert set(stats['sources']) == {'pie_sar', 'whu_sar', 'yeseg_sar'}
    assert 'hrsid' in stats['skipped'] and 'openearthmap_sar' in stats['skipped']
    assert any(ln.startswith('skip hrsid:') and 'HRSID' in ln for ln in logs)
    assert tree_digest(data) == before

    # tiles: small images whole; whu_big 600×700 → origins y (0, 88) × x (0, 188) = 4 tiles
    whu = sorted(p.name for p in (out / 'img' / 'whu_sar').iterdir())
    assert whu == ['whu_a_0_0.tif', 'whu_big_0_0.tif', 'whu_big_0_188.tif',
                   'whu_big_88_0.tif', 'whu_big_88_188.tif']
    assert len(list((out / 'img' / 'pie_sar').iterdir())) == 6
    assert stats['totals']['tiles'] == 5 + 6 + 5

    # a tile's pixels: the float SAR image kept as float, labels = the remapped crop
    tax = load_taxonomy()
    img = tifffile.imread(out / 'img/whu_sar/whu_big_88_188.tif')
    src = tifffile.imread(data / 'whu-opt-sar/crop512/test/sar_dir/whu_big.tif')
    np.testing.assert_array_equal(img, src[88:600, 188:700])
    for lv in (1, 2):
        lab = np.asarray(Image.open(out / f'ann_l{lv}/whu_sar/whu_big_88_188.png'))
        np.testing.assert_array_equal(
            lab, tax.remap(labels['whu_sar']['whu_big'], 'whu_sar', lv)[88:600, 188:700])

    # splits: official test stays test, the rest train/val, disjoint, complete
    pie = {s: _lines(out / f'splits/pie_sar/{s}.txt') for s in ('train', 'val', 'test')}
    assert pie['test'] == ['pie_sar/pie_0_0_0', 'pie_sar/pie_1_0_0']
    assert len(pie['train']) + len(pie['val']) == 4 and not set(pie['train']) & set(pie['val'])
    assert _lines(out / 'splits/yeseg_sar/test.txt') == ['yeseg_sar/ye_0_0_0']
    assert len(_lines(out / 'splits/whu_sar/test.txt')) == 5      # a test folder: all test
    all_sets = [set(_lines(out / f'splits/all/{s}.txt')) for s in ('train', 'val', 'test')]
    assert sum(map(len, all_sets)) == 16 and len(set.union(*all_sets)) == 16

    # leave-one-dataset-out: held-out source only in test, the others only in train/val
    for held in ('pie_sar', 'whu_sar', 'yeseg_sar'):
        tr = _lines(out / f'splits/lodo/{held}/train.txt')
        va = _lines(out / f'splits/lodo/{held}/val.txt')
        te = _lines(out / f'splits/lodo/{held}/test.txt')
        assert te and all(n.startswith(held + '/') for n in te)
        assert not any(n.startswith(held + '/') for n in tr + va)
        assert set(tr) == {n for n in all_sets[0] if not n.startswith(held + '/')}

    # statistics: pixel counts per class equal the labels' counts
    yes = np.concatenate([tax.remap(l, 'yeseg_sar', 2).ravel()
                          for l in labels['yeseg_sar'].values()])
    assert stats['sources']['yeseg_sar']['pixels'][2]['tree'] == int((yes == 5).sum())
    assert (out / 'long_tail.png').read_bytes()[:4] == b'\x89PNG'
    assert (out / 'stats.csv').read_text().startswith('source,level,class,images,pixels')

    # second run: nothing changes (same bytes, same modification times)
    first = tree_digest(out)
    again = build.build(data, out, tile=512, val_fraction=0.5, log=logs.append, progress=False)
    assert again['files_written'] == 0
    assert tree_digest(out) == first
    assert tree_digest(data) == before


def test_missing_source_only_is_reported(tmp_path, capsys):
    build = load_builder()
    assert build.main(['--data-root', str(tmp_path), '--out', str(tmp_path / 'o'),
                       '--sources', 'pie_sar', '--no-progress']) == 1
    assert 'skip pie_sar:' in capsys.readouterr().out


def test_bad_inputs_are_clear_errors(tmp_path):
    import pytest
    build = load_builder()
    write_sources(tmp_path / 'data')
    lab = tmp_path / 'data/PIE-RGB-SAR/label/pie_3.tif'
    tifffile.imwrite(lab, np.zeros((10, 10), np.uint8))          # wrong size
    with pytest.raises(ValueError, match='re-run the converter for pie_sar'):
        build.build(tmp_path / 'data', tmp_path / 'o', sources=['pie_sar'], log=lambda *a: None,
                    progress=False)
    with pytest.raises(SystemExit, match='unknown source'):
        build.build(tmp_path / 'data', tmp_path / 'o', sources=['nope'], log=lambda *a: None)
    with pytest.raises(SystemExit, match='must differ'):
        build.build(tmp_path / 'data', tmp_path / 'data', log=lambda *a: None)
    with pytest.raises(ValueError, match='outside 0..255'):
        load_taxonomy().remap(np.array([[300]], np.int32), 'pie_sar', 2)
