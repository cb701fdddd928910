"""Error advice names an option the running tool really has (segearth_ov/utils/advice.py).

Each tool's table is parsed by that tool's own argument parser (the advice, typed as it is
written, must be accepted), and --cfg-options keys are checked against the tool's configs.
Then the messages themselves, raised inside each tool.
"""
from __future__ import annotations

import shlex

import numpy as np
import pytest
import rasterio
from affine import Affine

from conftest import JBU_CKPT, ROOT, TINY_CFG, TINY_PT, load_script

try:
    from segearth_ov.utils import advice
except ImportError:       # before advice.py existed: the behaviour tests below still run
    advice = None

FIXTURE = ['--pretrained', str(TINY_PT), '--model-cfg', str(TINY_CFG), '--device', 'cpu']


def typed(hint: str) -> list[str]:
    """The advice as a user would type it (PATH → a file name)."""
    return shlex.split(hint.replace('PATH', 'x.pt'))


# ---------------------------------------------------------------- every table, every tool
@pytest.mark.parametrize('setting', sorted(advice.PREDICT_CLI) if advice else ['-'])
def test_predictor_advice_parses_in_predict_region_and_demo(setting):
    from segearth_ov.mapping import cli, region
    words = typed(advice.PREDICT_CLI[setting])
    assert words[0].startswith('--')
    cli.build_parser('tools/predict.py').parse_args(['in.tif', *words])
    region.build_parser('tools/predict.py').parse_args(['in.tif', '--region', *words])
    load_script('demo.py').parse_args(['--image', 'in.tif', '--classes', 'a;b', *words])


@pytest.mark.parametrize('tool,table,config', [
    ('eval.py', 'CFG_OPTIONS', 'configs/cfg_udd5.py'),
    ('eval_all.py', 'CFG_OPTIONS', 'configs/cfg_loveda.py'),
    ('tools/paper_tables.py', 'CFG_OPTIONS', 'configs/cfg_openearthmap.py'),
    ('tools/train.py', 'TRAIN_CFG_OPTIONS', 'configs/hg_rsovsseg/hg_vitl14_loveda.py'),
    ('tools/hg_cross_eval.py', 'CFG_OPTIONS', 'configs/hg_rsovsseg/hg_vitl14_loveda.py'),
])
def test_cfg_options_advice_parses_and_names_keys_the_config_has(tool, table, config):
    from segearth_ov.evaluation.cfg_options import check_cfg_options
    from segearth_ov.evaluation.run import load_config
    cfg = load_config(str(ROOT / config))
    module = load_script(tool)
    required = {'eval.py': ['--config', config], 'tools/train.py': [config],
                'tools/hg_cross_eval.py': ['--checkpoint', 'loveda=x.pth']}.get(tool, [])
    for setting, hint in getattr(advice, table).items():
        if setting in ('upsampler_ckpt', 'no_upsampler') and 'hg_rsovsseg' in config:
            continue            # HG-RSOVSSeg has no upsampler: these messages cannot arise
        words = typed(hint.format(suffix='.tif'))
        args = module.parse_args(required + words[:2])
        assert words[0] == '--cfg-options', hint
        check_cfg_options(cfg, args.cfg_options)      # raises for a key nothing reads


def test_web_page_advice_names_the_server_flags_and_the_bands_box():
    from segearth_ov.webui.cli import build_parser
    for setting in ('pretrained', 'upsampler_ckpt', 'no_upsampler'):
        hint = advice.WEB_PAGE[setting]
        assert hint.startswith('tools/webui.py --') and hint.endswith(' (restart the server)')
        build_parser('tools/webui.py').parse_args(typed(hint)[1:-3])
    page = (ROOT / 'segearth_ov' / 'webui' / 'static' / 'index.html').read_text()
    assert advice.WEB_PAGE['bands'].startswith('the Bands box')
    assert '<label>Bands <input id="bands"' in page


def test_without_a_tool_the_advice_is_the_python_keyword():
    from segearth_ov.models.upsamplers.weights import resolve_upsampler_weights
    with pytest.raises(FileNotFoundError) as err:
        resolve_upsampler_weights('jbu_one', '/no/such.ckpt')
    assert "feature_up_cfg=dict(model_path='/path/to/simfeatup.ckpt')" in str(err.value)
    assert 'feature_up=False' in str(err.value) and '--' not in str(err.value)
    with advice.using(advice.PREDICT_CLI):
        assert advice.how_to_set('bands') == '--bands 3,2,1'
    assert advice.how_to_set('bands') == 'bands=(3, 2, 1)'      # restored


# ---------------------------------------------------------------- the messages, in the tools
def test_demo_on_a_two_band_image_advises_bands_and_bands_works(tmp_path, capsys):
    """Was "Choose them with --bands", and demo.py --bands was an unrecognised argument."""
    two = tmp_path / 'two.tif'
    rng = np.random.default_rng(0)
    with rasterio.open(two, 'w', driver='GTiff', height=64, width=80, count=2, dtype='uint8',
                       crs='EPSG:32632', transform=Affine(0.5, 0, 5e5, 0, -0.5, 5.6e6)) as dst:
        dst.write(rng.integers(0, 255, (2, 64, 80), dtype=np.uint8))
    demo = load_script('demo.py').main
    argv = ['--image', str(two), '--classes', 'a;b', *FIXTURE,
            '--upsampler-ckpt', str(JBU_CKPT['jbu_one']), '--out', str(tmp_path / 'o')]
    assert demo(argv) == 1
    assert 'two.tif has 2 bands; the CLIP model needs 3 (RGB) or 1. Choose them: ' \
           '--bands 3,2,1 (band numbers from 1)' in capsys.readouterr().err
    assert demo(argv + ['--bands', '2']) == 0
    assert (tmp_path / 'o' / 'two_labels.png').is_file()


def test_predict_missing_simfeatup_names_its_flags_and_each_place_once(tmp_path, monkeypatch,
                                                                       capsys):
    """Was: feature_up=False (no flag) and the same path listed twice."""
    from PIL import Image

    from segearth_ov.mapping.cli import main
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('SEGEARTH_CHECKPOINTS', 'checkpoints')
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / 'p.png')
    rc = main(['p.png', '--classes', 'a;b', *FIXTURE,
               '--upsampler-ckpt', 'checkpoints/xclip_jbu_one_million_aid.ckpt', '--quiet'])
    err = capsys.readouterr().err
    assert rc == 2
    looked = err.split('looked for ')[1].split(';')[0]        # the released file, offline
    assert looked.split(', ') == [f'{tmp_path}/checkpoints/xclip_jbu_one_million_aid.ckpt',
                                  f'{tmp_path}/cache/simfeatup/xclip_jbu_one_million_aid.ckpt']
    assert ('give its path: --upsampler-ckpt PATH; or run without SimFeatUp: '
            '--upsampler none') in err


def test_eval_missing_weights_names_cfg_options(tmp_path, monkeypatch, capsys):
    """eval.py (no --pretrained there): the fix is --cfg-options model.pretrained=PATH."""
    from synthetic_data import make_synthetic_dataset

    from segearth_ov.evaluation.run import load_config
    config = str(ROOT / 'configs' / 'cfg_udd5.py')
    monkeypatch.chdir(tmp_path)
    make_synthetic_dataset(load_config(config), tmp_path)
    rc = load_script('eval.py').main([
        '--config', config, '--cfg-options', 'model.clip_type=RemoteCLIP',
        'model.vit_type=ViT-B/32', 'model.device=cpu', 'model.feature_up=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'])
    err = capsys.readouterr().err
    assert rc == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith('error: ') and 'weights for RemoteCLIP ViT-B/32 not found' in line
    assert line.endswith('give its path: --cfg-options model.pretrained=PATH.')
    assert 'demo.py' not in err
