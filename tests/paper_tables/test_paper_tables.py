"""tools/paper_tables.py: the published numbers against the papers' text, the method
presets, a table run on synthetic datasets (skips, sheet, Markdown, chart), averages as the
papers compute them, --dry-run, and a killed run resuming without recomputing."""
from __future__ import annotations

import json
import os
import re

import pytest
from conftest import DATA, load_script
from openpyxl import load_workbook
from synthetic_data import CONFIGS, cli_options, cpu_only, make_synthetic_dataset  # noqa: F401

from segearth_ov.evaluation import methods, paper_tables as pt
from segearth_ov.evaluation.run import load_config

TABLES = DATA / 'paper_tables'     # the papers' tables, as extracted from their text
# table name → (file of that paper's tables, table number in that paper)
SOURCES = {**{f'segearth-{n}': ('segearth_ov2_tables.txt', n) for n in range(2, 10)},
           **{f'hg-{n}': ('hg_rsovsseg_tables.txt', n) for n in range(1, 7)}}


# ---------------------------------------------------------------- the seed's tables
def seed_rows(file: str, number: int) -> list[list[str]]:
    """The tab-separated rows holding numbers of table `number` in the seed text: the lines
    after its caption ("TABLE n" or "**Table n.**") up to the first line of prose."""
    text = (TABLES / file).read_text(encoding='utf-8').split('\n')
    caption = re.compile(rf'^(TABLE {number}\s*$|\*\*Table {number}\.\*\*)')
    start = next(i for i, line in enumerate(text) if caption.match(line))
    i = start + 1
    while '\t' not in text[i]:
        i += 1
    rows = []
    while i < len(text) and ('\t' in text[i] or not text[i].strip()):
        cells = text[i].split('\t')
        if any(_seed_number(c) is not None for c in cells):
            rows.append(cells)
        i += 1
    return rows


def _seed_number(cell: str):
    """A number of the paper's text: markup (<b>…</b>) and arrows (^{↑3.3}) removed; '-' and
    empty cells are None."""
    cell = re.sub(r'<[^>]+>', '', cell)
    cell = re.sub(r'\^\{[^}]*\}', '', cell).strip()
    return float(cell) if re.fullmatch(r'\d+(\.\d+)?', cell) else None


@pytest.mark.parametrize('table', sorted(SOURCES))
def test_published_csv_equals_the_paper(table):
    """Every number of the CSV, row by row and column by column, equals the seed's."""
    columns, rows = pt.read_published(table)
    seed = seed_rows(*SOURCES[table])
    assert len(rows) == len(seed), f'{table}: {len(rows)} rows, the paper has {len(seed)}'
    for row, cells in zip(rows, seed):
        expected = [_seed_number(c) for c in cells[-len(columns):]]
        ours = [row.published[c] for c in columns]
        assert ours == expected, f'{table}, row {row.label!r}'


def test_seed_parser_sees_a_transcription_error(tmp_path, monkeypatch):
    """The check above fails on a single changed digit."""
    src = pt.PUBLISHED / 'segearth-2.csv'
    (tmp_path / 'segearth-2.csv').write_text(src.read_text().replace('40.3,36.9', '40.3,39.6'))
    monkeypatch.setattr(pt, 'PUBLISHED', tmp_path)
    with pytest.raises(AssertionError, match='SegEarth-OV'):
        test_published_csv_equals_the_paper('segearth-2')


# ---------------------------------------------------------------- presets
def test_every_row_names_a_preset_and_presets_mean_what_the_paper_says():
    for table in pt.TABLES:
        for row in pt.read_published(table)[1]:
            if row.method:
                methods.resolve(row.method)        # raises on an unknown part
    m = methods.resolve('maskclip+openai')
    assert m.model == dict(model_type='MaskCLIP', feature_up=False, cls_token_lambda=0.0,
                           ssa_last_n_layers=1, clip_type='CLIP', vit_type='ViT-B/16')
    m = methods.resolve('sclip+simfeatup+gba')
    assert (m.model['model_type'], m.model['feature_up'], m.model['cls_token_lambda']) == \
        ('SCLIP', True, -0.3)
    assert methods.resolve('segearth-ov+long896').long_side == 896
    m = methods.resolve('segearth-ov+georsclip-b32')
    assert m.model['feature_up_cfg']['model_path'] == 'checkpoints/jbu_one_GeoRSCLIP_ViT-B-32.ckpt'
    assert methods.resolve('hg:vitl14_globe230k model.tam=False').hg_config == 'vitl14_globe230k'
    with pytest.raises(methods.MethodError, match="unknown method part 'nope'"):
        methods.resolve('sclip+nope')


def test_896_preset_changes_the_resize_and_gem_sets_no_upsampler():
    cfg = load_config(str(CONFIGS / 'cfg_inria.py'))
    methods.apply(cfg, methods.resolve('segearth-ov+long896'))
    resize = [s for s in cfg.test_dataloader.dataset.pipeline if s['type'] == 'Resize'][0]
    assert resize['scale'] == (896, 896)
    methods.apply(cfg, methods.resolve('gem'))
    assert (cfg.model.model_type, cfg.model.feature_up, cfg.model.cls_token_lambda) == \
        ('GEM', False, 0.0)


# ---------------------------------------------------------------- averages
def _cells(table, scores):
    return [pt.Cell(table, r, c, 'x', 'done', score=v) for (r, c), v in scores.items()]


def test_averages_as_the_papers_compute_them():
    spec = pt.get_table('segearth-8')
    columns, rows = pt.read_published('segearth-8')
    ours = pt.ours_table(spec, columns, rows, _cells('segearth-8', {
        ('SCLIP', 'Context59'): 30.0, ('SCLIP', 'Stuff'): 20.0, ('SCLIP', 'Cityscapes'): 25.0,
        ('MaskCLIP', 'Context59'): 30.0}))
    assert ours['SCLIP']['Average'] == 25.0
    assert ours['MaskCLIP']['Average'] is None            # not every column: no average
    # HG-RSOVSSeg Table 6: the training set's own column is left out of its mean
    spec = pt.get_table('hg-6')
    columns, rows = pt.read_published('hg-6')
    scores = {('Potsdam', c): 10.0 for c in spec.datasets}
    scores['Potsdam', 'Potsdam'] = 80.0
    ours = pt.ours_table(spec, columns, rows, _cells('hg-6', scores))
    assert ours['Potsdam']['mean mIoU'] == 10.0


# Published averages that are not the mean of their row. SegEarth-OV Table 2: the Average
# column is the conference version's (Potsdam and Vaihingen were re-run with the "grass"
# prompt, §5.3.1, their average was not), e.g. SegEarth-OV's 39.2 = the mean with the
# conference's 47.1 and 29.1. HG-RSOVSSeg: two printed means disagree with their rows.
INCONSISTENT = {('segearth-2', r) for r in ('CLIP', 'MaskCLIP', 'SCLIP', 'GEM', 'ClearCLIP',
                                            'SegEarth-OV')} | {
    ('hg-5', 'CLIP ViT-L/14 (image frozen; text unfrozen)'), ('hg-6', 'LandCover.ai')}


def test_published_averages_follow_the_rule_we_compute_ours_with():
    """Each published average is the mean `ours_table` takes (to the paper's rounding),
    except the rows listed in INCONSISTENT, which must stay inconsistent."""
    for name, spec in pt.TABLES.items():
        if not spec.average:
            continue
        _, rows = pt.read_published(name)
        for row in rows:
            over = [c for c in spec.average_over if not (spec.off_diagonal and c == row.label)]
            vals = [row.published[c] for c in over]
            if None in vals:
                continue
            tol = 0.1 if name.startswith('segearth') else 0.006
            ok = abs(sum(vals) / len(vals) - row.published[spec.average]) <= tol
            assert ok != ((name, row.label) in INCONSISTENT), (name, row.label)


# ---------------------------------------------------------------- running a table
def tool_main():
    return load_script('tools/paper_tables.py').main


pytestmark = pytest.mark.usefixtures('cpu_only')


class Killed(BaseException):
    pass


def test_table_run_skips_resumes_and_writes_the_paper_layout(tmp_path, monkeypatch, capsys):
    """Table 6 on synthetic OpenEarthMap and WHU-Aerial (WBS-SI missing): killed after two
    cells, run again (the two are not recomputed), then the sheet, Markdown and chart."""
    monkeypatch.chdir(tmp_path)
    for name in ('openearthmap', 'whu_aerial'):
        cfg = load_config(str(CONFIGS / f'cfg_{name}.py'))
        make_synthetic_dataset(cfg, tmp_path)
    args = ['--table', 'segearth-6', '--work-dir', 'wd', '--cfg-options', *cli_options(cfg)]

    assert tool_main()([*args, '--dry-run']) == 0
    out = capsys.readouterr().out
    assert '18 cells: 12 to run, 0 done earlier, 6 skipped' in out
    assert 'SKIP WBS-SI (6 rows): data not found: data/water-body-segmentation' in out
    assert 'estimated: 24 images' in out
    assert not (tmp_path / 'results.xlsx').exists() and not (tmp_path / 'wd').exists()

    from segearth_ov.evaluation import run
    calls, real, killed = [], run.evaluate, []

    def killed_on_third(*a, **k):
        calls.append(a[1])
        if len(calls) == 3 and not killed:
            killed.append(True)
            raise Killed   # like a kill: not an error a cell catches
        return real(*a, **k)
    monkeypatch.setattr(run, 'evaluate', killed_on_third)
    with pytest.raises(Killed):
        tool_main()(args)
    cell_files = sorted((tmp_path / 'wd/segearth-6/cells').glob('*.json'))
    assert [p.name for p in cell_files] == ['maskclip__openearthmap.json',
                                            'maskclip__whu-aerial.json']
    first = {p.name: p.read_text() for p in cell_files}
    capsys.readouterr()

    calls.clear()
    assert tool_main()(args) == 0
    out = capsys.readouterr().out
    assert '18 cells: 10 to run, 2 done earlier, 6 skipped' in out
    assert len(calls) == 10
    # one model per row: the second dataset of a row reuses the image side, new classes only
    assert out.count('reusing its image side with the new classes') == 5
    assert all(p.read_text() == first[p.name] for p in cell_files)   # not recomputed

    sheet = list(load_workbook(tmp_path / 'results.xlsx')['segearth-6'].values)
    assert sheet[0][:5] == ('row', 'method', 'OpenEarthMap ours', 'OpenEarthMap published',
                            'OpenEarthMap Δ')
    assert [r[0] for r in sheet[1:]] == ['MaskCLIP', 'MaskCLIP + SimFeatUp&GBA', 'SCLIP',
                                         'SCLIP + SimFeatUp&GBA', 'ClearCLIP',
                                         'ClearCLIP + SimFeatUp&GBA']
    header = sheet[0]
    for rec in sheet[1:]:
        values = dict(zip(header, rec))
        cell = json.loads((tmp_path / 'wd/segearth-6/cells' /
                           f'{pt.slug(rec[0])}__openearthmap.json').read_text())
        assert values['OpenEarthMap ours'] == cell['score']
        assert values['OpenEarthMap Δ'] == pytest.approx(
            cell['score'] - values['OpenEarthMap published'], abs=0.006)
        assert values['WBS-SI ours'] is None and values['WBS-SI published'] is not None
    assert sheet[1][3] == 25.1 and sheet[2][6] == 35.4          # published, as in the paper
    # the baselines and the plug-in rows differ (SimFeatUp and λ really switched on)
    assert sheet[1][2] != sheet[2][2]
    # which weights made the numbers: the fixture CLIP, and SimFeatUp on the plug-in rows only
    import hashlib

    from conftest import JBU_CKPT, TINY_PT
    clip = f"tiny-clip-vit-b16.pt@{hashlib.sha256(TINY_PT.read_bytes()).hexdigest()[:8]}"
    up = (f"SimFeatUp tiny_jbu_one.ckpt@"
          f"{hashlib.sha256(JBU_CKPT['jbu_one'].read_bytes()).hexdigest()[:8]}")
    weights = {rec[0]: dict(zip(header, rec))['weights'] for rec in sheet[1:]}
    assert weights['MaskCLIP'] == clip
    assert weights['MaskCLIP + SimFeatUp&GBA'] == f'{clip} · {up}'
    cell = json.loads((tmp_path / 'wd/segearth-6/cells/maskclip__openearthmap.json').read_text())
    assert cell['weights_id'] == clip and cell['upsampler'] == ''
    assert cell['weights'] == os.path.abspath(TINY_PT)
    assert cell['weights_sha256'] == hashlib.sha256(TINY_PT.read_bytes()).hexdigest()
    md = (tmp_path / 'wd/segearth-6/segearth-6.md').read_text()
    assert f'- MaskCLIP + SimFeatUp&GBA: {clip} · {up}' in md
    assert '| row | OpenEarthMap | WHU-Aerial | WBS-SI |' in md
    assert f'| MaskCLIP | {sheet[1][2]:.2f} / 25.1 / {sheet[1][4]:+.2f} |' in md
    assert (tmp_path / 'wd/segearth-6/segearth-6.png').read_bytes()[:4] == b'\x89PNG'

    # everything done: a third run computes nothing
    calls.clear()
    assert tool_main()(args) == 0
    assert calls == [] and '0 to run, 12 done earlier' in capsys.readouterr().out


def test_hg_rows_say_which_checkpoint_to_train_and_bad_names_are_refused(tmp_path, monkeypatch,
                                                                         capsys):
    monkeypatch.chdir(tmp_path)
    assert tool_main()(['--table', 'hg-3', '--dry-run']) == 0
    out = capsys.readouterr().out
    assert ('SKIP PEA + FA + HGU (6 datasets): needs a trained checkpoint: python tools/train.py '
            'configs/hg_rsovsseg/hg_vitl14_globe230k.py --cfg-options model.tam=False') in out
    assert tool_main()(['--table', 'segearth-99']) == 2
    assert "unknown table 'segearth-99'" in capsys.readouterr().err


# ---------------------------------------------------------------- Table 8: natural images
NATURAL_CONFIGS = {'pascal_context59': 59, 'coco_stuff164k': 171, 'cityscapes': 19}


def test_natural_image_configs_use_mmseg_datasets_and_data_root_moves_them(tmp_path, monkeypatch,
                                                                          capsys):
    """configs/natural/: mmseg's own dataset classes, their class lists, the SCLIP/ClearCLIP
    short sides; each evaluates end to end on a synthetic copy of its layout, and
    --data-root points the table at another data folder."""
    from synthetic_data import use_fixture_model

    from segearth_ov.evaluation.run import evaluate
    monkeypatch.chdir(tmp_path)
    for name, n_classes in NATURAL_CONFIGS.items():
        config = str(CONFIGS / 'natural' / f'cfg_{name}.py')
        cfg = load_config(config)
        assert cfg.test_dataloader.dataset.type.startswith(('PascalContext', 'COCOStuff',
                                                            'Cityscapes'))
        make_synthetic_dataset(cfg, tmp_path)
        names = (CONFIGS / 'natural' / f'cls_{name}.txt').read_text().split('\n')
        assert len([n for n in names if n]) == n_classes
        if name == 'coco_stuff164k':   # 171 classes × 80 prompts: too slow for the CPU tests
            continue
        use_fixture_model(cfg)
        metrics, row, _ = evaluate(cfg, config, results=None)
        assert row['images'] == 2 and len([k for k in metrics if k.startswith('IoU.')]) == n_classes
    short = {n: min(s['scale']) for n in NATURAL_CONFIGS for s in
             load_config(str(CONFIGS / 'natural' / f'cfg_{n}.py')).test_dataloader.dataset.pipeline
             if s['type'] == 'Resize'}
    assert short == {'pascal_context59': 336, 'coco_stuff164k': 448, 'cityscapes': 560}
    (tmp_path / 'data').rename(tmp_path / 'mydata')
    capsys.readouterr()
    assert tool_main()(['--table', 'segearth-8', '--dry-run', '--data-root', 'mydata',
                        '--cfg-options', *cli_options(cfg)]) == 0
    out = capsys.readouterr().out
    assert '18 cells: 18 to run, 0 done earlier, 0 skipped; published only: TCL, Reco' in out


# ---------------------------------------------------------------- GEM (Tables 2-3 baseline)
def test_gem_attention_groups_tokens_by_direction():
    """Two token directions, a sharp temperature: GEM's q-q, k-k and v-v attention each
    become block-diagonal, so every token gets the mean value of its own group."""
    import torch

    from segearth_ov.models.backbones.attention import gem_attention
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    q = torch.stack([e1, 3 * e1, e2])[None, None]
    k = torch.stack([2 * e1, e1, 5 * e2])[None, None]
    v = torch.stack([1.0 * e1, 3.0 * e1, 4.0 * e2])[None, None]
    out = gem_attention(q, k, v, torch.tensor(100.0))[0, 0]
    expected = torch.stack([2.0 * e1, 2.0 * e1, 4.0 * e2])
    assert torch.allclose(out, expected, atol=1e-6)
    # a mild temperature mixes the groups: the result is no longer the group means
    mixed = gem_attention(q, k, v, torch.tensor(1.0))[0, 0]
    assert not torch.allclose(mixed, expected, atol=1e-2)


def test_missing_weights_are_named_without_downloading(tmp_path):
    """Offline (conftest) and with an empty checkpoints/: the hub CLIP, the hand-downloaded
    SkyCLIP and the SimFeatUp of a ViT-B/32 row are each named, with how to get them."""
    cfg = load_config(str(CONFIGS / 'cfg_openearthmap.py'))
    methods.apply(cfg, methods.resolve('segearth-ov+skyclip-b32'))
    missing = methods.missing_weights(cfg)
    assert len(missing) == 2
    assert missing[0].startswith('SimFeatUp checkpoint checkpoints/jbu_one_SkyCLIP_ViT-B-32.ckpt')
    assert 'simfeatup_train/train.py' in missing[0] and 'clip_type=SkyCLIP' in missing[0]
    assert 'SkyCLIP' in missing[1] and 'checkpoints' in missing[1]
    cfg = load_config(str(CONFIGS / 'cfg_openearthmap.py'))
    methods.apply(cfg, methods.resolve('clip'))        # no SimFeatUp; OpenAI CLIP from the hub
    assert len(methods.missing_weights(cfg)) == 1 and 'offline' in methods.missing_weights(cfg)[0]
    cfg.model.pretrained = str(tmp_path / 'nothing.pt')
    assert methods.missing_weights(cfg) == [f'weights {tmp_path}/nothing.pt (model.pretrained)']
