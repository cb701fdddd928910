"""SAR-OVSeg protocols: scoring configs on the built benchmark and their results.xlsx sheets.

Four protocols (docs/sar_ovseg.md), each a sheet of results.xlsx:

- `zeroshot` (a): a training-free config on every source's test split, at level 2 (where the
  source has level-2 classes) and level 1; each source is scored on the classes it has.
- `lodo` (b): a model trained on all sources but one, on the held-out source's test split.
- `openvocab` (c): a model trained with some classes hidden, on all test tiles at level 2 with
  every class; seen mIoU, unseen mIoU and their harmonic mean.
- `prompts` (d): one model scored with alternative class-name files (synonym sets).

A sheet keeps the rows of earlier runs; a run replaces only the rows with its own key.
"""
from __future__ import annotations

import time
from pathlib import Path

from ..datasets.sar_ovseg import load_taxonomy
from .results import _fmt, _load, per_class_iou, rewrite_sheet

SHEETS = dict(zeroshot='sar-ovseg-zeroshot', lodo='sar-ovseg-lodo',
              openvocab='sar-ovseg-openvocab', prompts='sar-ovseg-prompts')
KEYS = dict(zeroshot=('config', 'source', 'level'), lodo=('config', 'held-out', 'level'),
            openvocab=('config', 'checkpoint'), prompts=('config', 'checkpoint', 'prompt set'))


class ProtocolError(ValueError):
    """The benchmark folder or the config does not allow this protocol run."""


def source_classes(source: str, level: int) -> list[str]:
    """The unified classes `source` has at `level`, in taxonomy order."""
    tax = load_taxonomy()
    targets = {c[f'level{level}'] for c in tax.sources[source]['classes']}
    return [c for c in tax.classes(level) if c in targets]


def class_lines(names, level: int, prompt_file: str | None = None) -> list[str]:
    """The text lines of `names`: the taxonomy's prompts, or those of `prompt_file` (one line
    per class of `level`, taxonomy order)."""
    tax = load_taxonomy()
    lines = list(tax.prompts[level])
    if prompt_file:
        lines = [ln.strip() for ln in Path(prompt_file).read_text(encoding='utf-8').splitlines()
                 if ln.strip()]
        if len(lines) != len(tax.classes(level)):
            raise ProtocolError(
                f'{prompt_file} has {len(lines)} lines; a level-{level} prompt set needs one '
                f'line per class ({len(tax.classes(level))}: {", ".join(tax.classes(level))})')
    by_name = dict(zip(tax.classes(level), lines))
    return [by_name[n] for n in names]


def test_split(data_root, protocol: str, source: str | None = None) -> str:
    """The split list (relative to `data_root`) a protocol tests on; an error if absent."""
    rel = {'zeroshot': f'splits/{source}/test.txt', 'lodo': f'splits/lodo/{source}/test.txt'
           }.get(protocol, 'splits/all/test.txt')
    path = Path(data_root) / rel
    if not path.is_file():
        raise ProtocolError(f'{path} not found: build the benchmark first '
                            '(python tools/sar_ovseg/build.py --data-root data --out '
                            f'{data_root})')
    return rel


def built_sources(data_root) -> list[str]:
    """Sources of the taxonomy whose test list exists and is not empty under `data_root`."""
    out = []
    for key in load_taxonomy().sources:
        p = Path(data_root) / 'splits' / key / 'test.txt'
        if p.is_file() and p.read_text().strip():
            out.append(key)
    return out


def scoring_config(cfg, data_root, split: str, level: int, names, lines, unseen=(),
                   checkpoint: str | None = None, work_dir: str | None = None):
    """`cfg` set to test on `split` of the built benchmark at `level`, with classes `names`
    (labels of other classes ignored) given to the model as `lines`."""
    cfg = cfg.copy()
    ds = cfg.test_dataloader.dataset
    ds.type = f'SAROVSegL{level}Dataset'
    ds.data_root = str(data_root)
    ds.data_prefix = dict(img_path='img', seg_map_path=f'ann_l{level}')
    ds.ann_file = split
    ds.metainfo = dict(classes=tuple(names))
    cfg.model.pop('name_path', None)
    cfg.model.classes = list(lines)
    cfg.test_evaluator = dict(type='OpenVocabIoUMetric', iou_metrics=['mIoU'],
                              unseen=[n for n in unseen if n in names])
    if checkpoint:
        cfg.load_from, cfg.resume = str(checkpoint), False
    if work_dir:
        cfg.work_dir = str(work_dir)
    return cfg


def result_row(metrics: dict, **keys) -> dict:
    row = dict(keys)
    for k in ('aAcc', 'mIoU', 'mAcc', 'mIoU.seen', 'mIoU.unseen', 'hIoU'):
        if k in metrics:
            row[k] = metrics[k]
    row['per-class IoU'] = '; '.join(f'{k}={_fmt(v)}' for k, v in per_class_iou(metrics).items())
    row['time'] = time.strftime('%Y-%m-%d %H:%M:%S')
    return row


def read_sheet(path, sheet: str) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    wb = _load(path)
    if sheet not in wb.sheetnames:
        return []
    values = list(wb[sheet].iter_rows(values_only=True))
    if not values:
        return []
    header = [str(h) for h in values[0]]
    return [dict(zip(header, r)) for r in values[1:] if any(v is not None for v in r)]


def update_sheet(path, protocol: str, rows: list[dict]) -> Path:
    """Merge `rows` into the protocol's sheet of `path` (rows with the same key replaced,
    other rows and sheets kept). Written atomically; a workbook that cannot be read or is
    open in a spreadsheet program is left as it is and the sheet goes to a new file beside it
    (returned)."""
    sheet, key = SHEETS[protocol], KEYS[protocol]

    def table(source):
        old = read_sheet(source, sheet) if source is not None else []
        new_keys = {tuple(str(r.get(k)) for k in key) for r in rows}
        merged = [r for r in old if tuple(str(r.get(k)) for k in key) not in new_keys] + rows
        header = list(key) + sorted({h for r in merged for h in r} - set(key) - {'time'}) \
            + ['time']
        return header, ([r.get(h) for h in header] for r in merged)

    return rewrite_sheet(path, sheet, table)
