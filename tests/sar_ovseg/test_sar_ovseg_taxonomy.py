"""The SAR-OVSeg taxonomy: consistency, the hand-computed mapping, docs in sync."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from sar_ovseg_helpers import write_sources

from segearth_ov.datasets.sar_ovseg import (IGNORE, TaxonomyError, _validate, load_taxonomy,
                                            markdown_table)

# the shipped class order, written out by hand
L1 = ['built-up', 'paved surface', 'vegetation', 'water', 'bare land', 'ship']
L2 = ['building', 'urban area', 'village', 'road', 'pavement', 'tree', 'grass', 'cropland',
      'water', 'bare land', 'ship']
X = IGNORE
# raw value → (level-2 index, level-1 index), computed by hand from the source class lists
EXPECTED = {
    'pie_sar': {0: (X, X), 1: (1, 0), 2: (3, 1), 3: (8, 3), 4: (5, 2), 5: (7, 2)},
    'whu_sar': {0: (X, X), 1: (7, 2), 2: (1, 0), 3: (2, 0), 4: (8, 3), 5: (5, 2), 6: (3, 1),
                7: (X, X)},
    'yeseg_sar': {0: (9, 4), 1: (6, 2), 2: (5, 2), 3: (0, 0), 4: (8, 3), 5: (3, 1)},
    'ddhrnet_korea_sar': {0: (0, 0), 1: (3, 1), 2: (X, 2), 3: (8, 3), 4: (7, 2)},
    'fusar_sar': {0: (X, X), 1: (8, 3), 2: (3, 1), 3: (0, 0), 4: (X, 2)},
    'hrsid': {0: (X, X), 1: (10, 5)},
}


def test_levels_and_every_source_present():
    tax = load_taxonomy()
    assert list(tax.level1) == L1 and list(tax.level2) == L2
    assert set(tax.sources) == {'openearthmap_sar', 'ddhrnet_korea_sar', 'ddhrnet_shandong_sar',
                                'ddhrnet_xian_sar', 'fusar_sar', 'pie_sar', 'whu_sar',
                                'yeseg_sar', 'hrsid'}
    assert tax.parent['tree'] == tax.parent['grass'] == tax.parent['cropland'] == 'vegetation'
    assert tax.parent['building'] == tax.parent['urban area'] == 'built-up'


def test_every_class_of_the_class_files_is_mapped():
    """Each source lists one taxonomy entry per class of its dataset table row, in order."""
    from segearth_ov.datasets.table import DATASETS_TABLE
    rows = {r.name: r.classes for r in DATASETS_TABLE}
    tax = load_taxonomy()
    for key, src in tax.sources.items():
        cfg = (ROOT / src['config']).read_text()
        dtype = cfg.split("type='")[1].split("'")[0]
        classes = rows[dtype]
        offset = 1 if key == 'whu_sar' else 0     # reduce_zero_label: 0 = no label
        values = [c['value'] for c in src['classes'] if c['value'] >= offset]
        assert values == list(range(offset, offset + len(classes))), key


@pytest.mark.parametrize('source', sorted(EXPECTED))
def test_lookup_tables_match_the_hand_computed_mapping(source):
    tax = load_taxonomy()
    for level, pos in ((2, 0), (1, 1)):
        lut = tax.lookup_table(source, level)
        for raw, want in EXPECTED[source].items():
            assert lut[raw] == want[pos], (source, level, raw)
        undefined = [v for v in range(256) if v not in EXPECTED[source]]
        assert (lut[undefined] == IGNORE).all()


def test_remapped_synthetic_sources_equal_the_mapping_pixel_by_pixel(tmp_path):
    """Three sources in their converted layout and coding, read from disk and remapped."""
    from PIL import Image
    import tifffile
    labels = write_sources(tmp_path)
    tax = load_taxonomy()
    files = {'pie_sar': tmp_path / 'PIE-RGB-SAR' / 'label' / '{}.tif',
             'whu_sar': tmp_path / 'whu-opt-sar/crop512/test/ann_dir' / '{}.tif',
             'yeseg_sar': tmp_path / 'YESeg-OPT-SAR' / 'cvt_label' / '{}.png'}
    for source, by_name in labels.items():
        for name, raw in by_name.items():
            path = Path(str(files[source]).format(name))
            disk = tifffile.imread(path) if path.suffix == '.tif' else np.asarray(Image.open(path))
            for level, pos in ((2, 0), (1, 1)):
                want = np.full(raw.shape, IGNORE, np.uint8)
                for v, pair in EXPECTED[source].items():
                    want[raw == v] = pair[pos]
                np.testing.assert_array_equal(tax.remap(disk, source, level), want)


def test_finest_level():
    tax = load_taxonomy()
    assert tax.finest_level('pie_sar') == 2
    assert tax.finest_level('hrsid') == 2


def test_inconsistent_levels_are_a_clear_error():
    raw = json.loads((ROOT / 'segearth_ov/datasets/sar_ovseg_taxonomy.json').read_text())
    raw['sources']['pie_sar']['classes'][4]['level1'] = 'water'    # forest → tree but water
    with pytest.raises(TaxonomyError, match='must agree'):
        _validate(raw, Path('x.json'))
    raw['sources']['pie_sar']['classes'][4]['level1'] = 'vegetation'
    raw['sources']['pie_sar']['classes'][4]['why'] = ''
    with pytest.raises(TaxonomyError, match='why'):
        _validate(raw, Path('x.json'))


def test_docs_table_is_in_sync():
    doc = (ROOT / 'docs' / 'sar_ovseg.md').read_text(encoding='utf-8')
    assert markdown_table() in doc, 'regenerate the table: python -c "from segearth_ov.' \
        'datasets.sar_ovseg import markdown_table; print(markdown_table())"'


def test_class_name_files_are_the_taxonomy_prompts():
    tax = load_taxonomy()
    for level in (1, 2):
        path = ROOT / 'configs' / 'sar_ovseg' / f'cls_sar_ovseg_l{level}.txt'
        assert path.read_text().splitlines() == list(tax.prompts[level])
    for f in (ROOT / 'configs' / 'sar_ovseg' / 'prompts').glob('*.txt'):
        assert len(f.read_text().splitlines()) == len(tax.level2), f.name
