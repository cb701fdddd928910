import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
"""Every dataset has its own `tools/dataset_converters/<name>.py` whose --help names the
official source; the SAR/optical family scripts do the work."""
import runpy

import pytest

from converter_helpers import CONVERTERS

ENTRY = {
    'whu_aerial': 'gpcv.whu.edu.cn', 'whu_sat_II': 'gpcv.whu.edu.cn', 'inria': 'inria.fr',
    'xbd': 'xview2.org', 'chn6-cug': 'CHN6-CUG', 'deepglobe_road': 'DeepGlobe',
    'massachusetts_road': 'Massachusetts', 'spacenet_road': 'spacenet.ai', 'wbs-si': 'kaggle',
    'uavid': 'uavid.nl', 'udd5': 'MarcWong/UDD', 'vdd': 'RussRobin/VDD',
    'openearthmap': 'open-earth-map.org', 'potsdam': 'isprs.org', 'vaihingen': 'isprs.org',
    'isaid': 'iSAID', 'loveda': 'LoveDA', 'ddhrnet_korea_sar': 'DDHRNet',
    'ddhrnet_shandong_sar': 'DDHRNet', 'ddhrnet_xian_sar': 'DDHRNet', 'fusar_sar': 'FUSAR',
    'pie_sar': 'PIE-RGB-SAR', 'yeseg_sar': 'YESeg', 'openearthmap_sar': 'OpenEarthMap-SAR',
    'whu_sar': 'WHU-OPT-SAR', 'hrsid': 'HRSID',
}


@pytest.mark.parametrize('name', sorted(ENTRY))
def test_entry_help_names_source(name, capsys):
    mod = runpy.run_path(str(CONVERTERS / f'{name}.py'), run_name='entry_test')
    with pytest.raises(SystemExit) as e:
        mod['main'](['--help'])
    assert e.value.code == 0
    assert ENTRY[name].lower() in capsys.readouterr().out.lower()


def test_all_configs_have_an_entry():
    configs = {'chn6-cug', 'ddhrnet_korea_sar', 'ddhrnet_shandong_sar', 'ddhrnet_xian_sar',
               'deepglobe_road', 'fusar_sar', 'iSAID', 'inria', 'loveda', 'massachusetts_road',
               'openearthmap', 'openearthmap_sar', 'pie_sar', 'potsdam', 'spacenet_road',
               'uavid', 'udd5', 'vaihingen', 'vdd', 'wbs-si', 'whu_aerial', 'whu_sar',
               'whu_sat_II', 'xBD', 'yeseg_sar', 'hrsid'}
    present = {p.stem.lower() for p in CONVERTERS.glob('*.py')}
    assert {c.lower() for c in configs} <= present
