"""eval.py end to end on a synthetic dataset: rows appended to one results.xlsx, results.txt,
overlays, and a corrupt workbook left untouched."""
from __future__ import annotations


import pytest
from synthetic_data import CONFIGS, cli_options, cpu_only, make_synthetic_dataset  # noqa: F401

from segearth_ov.evaluation.results import read_rows
from segearth_ov.evaluation.run import load_config
from conftest import load_script

pytestmark = pytest.mark.usefixtures('cpu_only')

CONFIG = str(CONFIGS / 'cfg_udd5.py')


def eval_main():
    return load_script('eval.py').main


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    """A synthetic UDD5 in tmp_path/data/UDD5/val, the working directory."""
    monkeypatch.chdir(tmp_path)
    cfg = load_config(CONFIG)
    make_synthetic_dataset(cfg, tmp_path)
    return cli_options(cfg)


def run(options, *args):
    return eval_main()(['--config', CONFIG, *args, '--cfg-options', *options])


def test_two_runs_append_two_rows_to_one_workbook(dataset, tmp_path):
    assert run(dataset, '--work-dir', 'w1') == 0
    assert run(dataset, '--work-dir', 'w2', '--show-dir', 'overlays', '--tag', 'second',
               '--results', 'results.xlsx') == 0
    rows = read_rows(tmp_path / 'results.xlsx')   # the default: results.xlsx in the cwd
    assert len(rows) == 2
    assert [r['tag'] for r in rows] == [None, 'second']   # '' is stored as an empty cell
    for r in rows:
        assert r['dataset'] == 'UDD5' and r['images'] == 2 and r['config'] == CONFIG
        assert (r['clip_type'], r['vit_type'], r['model_type']) == ('CLIP', 'ViT-B/16',
                                                                    'SegEarth')
        assert 0 <= r['mIoU'] <= 100 and r['per-class IoU'].startswith('vegetation=')
    assert rows[0]['mIoU'] == rows[1]['mIoU']
    text = (tmp_path / 'w1' / 'results.txt').read_text()
    assert f"mIoU: {rows[0]['mIoU']:.2f}" in text
    assert sorted(p.name for p in (tmp_path / 'overlays').iterdir()) == ['tile_0.png',
                                                                         'tile_1.png']


def test_corrupt_workbook_keeps_its_bytes_and_the_row_lands_beside_it(dataset, tmp_path):
    corrupt = tmp_path / 'results.xlsx'
    corrupt.write_bytes(b'PK\x03\x04 truncated')
    assert run(dataset, '--work-dir', 'w', '--results', str(corrupt)) == 0
    assert corrupt.read_bytes() == b'PK\x03\x04 truncated'
    beside = [p for p in tmp_path.glob('results.*.xlsx')]
    assert len(beside) == 1
    assert [r['dataset'] for r in read_rows(beside[0])] == ['UDD5']


def test_model_device_is_kept_where_mmengine_would_move_the_model(dataset, tmp_path,
                                                                  monkeypatch):
    """Issue 29 item 1: mmengine's Runner moved every model to its `get_device()`, fixed when
    mmengine is imported (CUDA on any GPU machine), so eval.py ignored `model.device=cpu`
    there. 'meta' stands in for that other device (a model moved there computes nothing):
    the model, its text tower included, stays on the CPU asked for, with a plain run's
    metrics."""
    import mmengine.runner.runner as runner_module
    import torch
    from mmengine.runner import Runner
    assert run(dataset, '--work-dir', 'plain', '--results', 'plain.xlsx') == 0
    runners = []
    from_cfg = Runner.from_cfg.__func__

    def recorded(cls, cfg):
        runners.append(from_cfg(cls, cfg))
        return runners[-1]
    monkeypatch.setattr(Runner, 'from_cfg', classmethod(recorded))
    monkeypatch.setattr(runner_module, 'get_device', lambda: 'meta')
    assert run(dataset, '--work-dir', 'asked', '--results', 'asked.xlsx') == 0
    model = runners[0].model
    tensors = [*model.parameters(), *model.buffers(), *model._embedder.model.parameters()]
    assert {t.device for t in tensors} == {torch.device('cpu')}
    plain, asked = read_rows(tmp_path / 'plain.xlsx'), read_rows(tmp_path / 'asked.xlsx')
    assert asked[0]['images'] == 2 and asked[0]['mIoU'] == plain[0]['mIoU']


def test_one_process_keeps_the_model_on_the_gpu_asked_for(tmp_path, monkeypatch):
    """`model.device=cuda:1` on a GPU machine: mmengine would move the model to its current
    GPU (cuda:0); eval.py's runner leaves it on cuda:1 (checked in FakeTensorMode)."""
    import mmengine.runner.runner as runner_module
    import torch
    from fake_cuda import fake_cuda

    from conftest import tiny_segmentor
    from segearth_ov.evaluation.run import PlacedModelRunner
    model = tiny_segmentor(['water', 'road'], device='cpu')
    monkeypatch.setattr(runner_module, 'get_device', lambda: 'cuda')    # a GPU machine
    with fake_cuda():
        model.to('cuda:1')
        runner = PlacedModelRunner(model=model, work_dir=str(tmp_path / 'work'),
                                   default_scope='mmseg',     # as eval.py's configs
                                   cfg=dict(model=dict(device='cuda:1')))
        assert runner.model.device == torch.device('cuda', 1)
        assert {p.device for p in runner.model.parameters()} == {torch.device('cuda', 1)}
