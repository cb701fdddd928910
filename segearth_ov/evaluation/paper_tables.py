"""The papers' tables as named experiments: their grid, the published numbers, our cells.

A table is a CSV of published numbers (`published/<name>.csv`, transcribed from the papers:
one row per paper row with its method preset from `methods.py`, one column per paper
column) plus how its columns map to dataset configs and how the paper averages. `plan`
turns a table into cells (row × dataset) that will run, are done (a cell file from an
earlier run), or are skipped with the reason; `run_cells` evaluates the runnable ones in
one process (the model is reused across datasets, see `run.last_built_model`) and writes a
cell file each, so a killed run resumes where it stopped. `write_outputs` lays the table out
as in the paper, each cell ours / published / Δ: a sheet of results.xlsx (atomic, other
sheets kept), a Markdown table and a bar chart.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..utils.files import atomic_path, write_text_atomic
from ..utils.paths import configs_dir
from . import methods as presets
from .benchmarks import BY_TITLE
from .results import WEIGHTS_COLUMNS, weights_id

PUBLISHED = Path(__file__).resolve().parent / 'published'
SECONDS_PER_IMAGE_CPU = 6.0   # docs/speed.md#toolsbenchmarkpy: one 448² image, slide 224/112, 2 cores


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    datasets: dict                 # paper column → [folder/]<stem>: configs/[folder/]cfg_<stem>.py
    average: str | None = None     # the column holding the paper's average
    average_over: tuple = ()       # the columns it averages ('off-diagonal': Table 6 of HG)
    off_diagonal: bool = False


def _seg(*titles):
    return {t: BY_TITLE[t].name for t in titles}


OPTICAL = ('OpenEarthMap', 'LoveDA', 'iSAID', 'Potsdam', 'Vaihingen', 'UAVid', 'UDD5', 'VDD')
SINGLE = ('WHU-Aerial', 'WHU-Sat.II', 'Inria', 'xBD', 'CHN6-CUG', 'DeepGlobe', 'Massachusetts',
          'SpaceNet', 'WBS-SI')
SAR = ('OpenEarthMap-SAR', 'DDHR-Korea', 'DDHR-SD', 'DDHR-XA', 'FUSAR-Map', 'WHU-SAR',
       'YESeg-SAR', 'PIE-SAR')
HG6 = ('Potsdam', 'LoveDA', 'GID Large', 'FLAIR #1', 'OpenEarthMap', 'LandCover.ai')
HG_SETS = dict(zip(('Potsdam', 'LoveDA', 'GID Large', 'Globe230k', 'FLAIR #1', 'OpenEarthMap',
                    'LandCover.ai'), ('potsdam', 'loveda', 'gid_large', 'globe230k', 'flair1',
                                      'openearthmap', 'landcover_ai')))
# Table 8's configs live in configs/natural/ (mmseg's dataset classes; not remote sensing)
NATURAL = {'Context59': 'natural/pascal_context59', 'Stuff': 'natural/coco_stuff164k',
           'Cityscapes': 'natural/cityscapes'}

_T = TableSpec
TABLES: dict[str, TableSpec] = {t.name: t for t in (
    _T('segearth-2', 'SegEarth-OV Table 2: optical semantic segmentation (mIoU)',
       _seg(*OPTICAL), 'Average', OPTICAL),
    _T('segearth-3', 'SegEarth-OV Table 3: building / road / flood extraction (foreground IoU)',
       _seg(*SINGLE)),
    _T('segearth-4', 'SegEarth-OV Table 4: SAR, OpenAI CLIP vs AlignEarth (mIoU)',
       _seg(*SAR), 'Average', SAR),
    _T('segearth-5', 'SegEarth-OV Table 5: remote-sensing CLIPs, ViT-B/32 (mIoU)',
       _seg(*OPTICAL), 'Average', OPTICAL),
    _T('segearth-6', 'SegEarth-OV Table 6: SimFeatUp & global bias alleviation as plug-ins',
       _seg('OpenEarthMap', 'WHU-Aerial', 'WBS-SI')),
    _T('segearth-7', 'SegEarth-OV Table 7: ablation of each component',
       _seg('OpenEarthMap', 'WHU-Sat.II', 'WBS-SI')),
    _T('segearth-8', 'SegEarth-OV Table 8: natural images (mIoU)', NATURAL, 'Average',
       tuple(NATURAL)),
    _T('segearth-9', 'SegEarth-OV Table 9: CLIPs on SAR, ClearCLIP attention (mIoU)',
       _seg(*SAR), 'Average', SAR),
    _T('hg-1', 'HG-RSOVSSeg Table 1: comparison with other methods (trained on Globe230k)',
       {t: HG_SETS[t] for t in HG6}, 'mean mIoU', HG6),
    _T('hg-2', 'HG-RSOVSSeg Table 2: text templates', {t: HG_SETS[t] for t in HG6},
       'mean mIoU', HG6),
    _T('hg-3', 'HG-RSOVSSeg Table 3: ablation (PEA, FA, HGU, TAM)', {t: HG_SETS[t] for t in HG6},
       'mean mIoU', HG6),
    _T('hg-4', 'HG-RSOVSSeg Table 4: feature aggregation', {t: HG_SETS[t] for t in HG6},
       'mean mIoU', HG6),
    _T('hg-5', 'HG-RSOVSSeg Table 5: pre-trained VLMs and frozen stages',
       {t: HG_SETS[t] for t in (*HG6, 'Globe230k')}, 'mean mIoU', HG6),
    _T('hg-6', 'HG-RSOVSSeg Table 6: training set x test set (mean without the training set)',
       dict(HG_SETS), 'mean mIoU', tuple(HG_SETS), off_diagonal=True),
)}
del _T


class TableError(ValueError):
    """An unknown table name or a published CSV that does not fit its table."""


# ---------------------------------------------------------------- published numbers
@dataclass
class Row:
    label: str
    method: str                       # '' for rows shown as published only
    published: dict                   # column → number or None


def _number(text: str):
    text = text.strip()
    return float(text) if text else None


def read_published(name: str) -> tuple[list[str], list[Row]]:
    """The columns and rows of `published/<name>.csv`."""
    path = PUBLISHED / f'{name}.csv'
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.reader(f)
        header = next(reader)
        if header[:2] != ['row', 'method']:
            raise TableError(f'{path}: the first two columns must be "row,method"')
        columns = header[2:]
        rows = [Row(r[0], r[1].strip(), {c: _number(v) for c, v in zip(columns, r[2:])})
                for r in reader if r]
    return columns, rows


def get_table(name: str) -> TableSpec:
    if name not in TABLES:
        raise TableError(f'unknown table {name!r}; the tables are: {", ".join(TABLES)} '
                         '(tools/paper_tables.py --list)')
    return TABLES[name]


# ---------------------------------------------------------------- the grid
@dataclass
class Cell:
    table: str
    row: str
    column: str
    method: str
    status: str                       # run | done | skip
    reason: str = ''
    config: str = ''
    cfg: object = None
    images: int = 0
    long_side: int = 448
    score: float | None = None
    path: Path | None = None          # the cell file
    weights: str = ''                 # the weight files that made the score (results.weights_id)

    @property
    def key(self) -> str:
        return f'{self.row} | {self.column}'


def slug(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9]+', '-', text).strip('-').lower() or 'x'


def cell_path(work_dir, table: str, row: str, column: str) -> Path:
    return Path(work_dir) / table / 'cells' / f'{slug(row)}__{slug(column)}.json'


def settings_hash(cfg) -> str:
    """What decides a cell's number: model settings, test data and pipeline."""
    from .run import model_key
    ds = cfg.test_dataloader.dataset
    text = model_key(cfg.model) + json.dumps(ds.to_dict() if hasattr(ds, 'to_dict') else ds,
                                            sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _rebase_data(cfg, data_root: str | None) -> None:
    if not data_root:
        return
    ds = cfg.test_dataloader.dataset
    root = ds.get('data_root') or ''
    if root == 'data' or root.startswith('data/'):
        ds.data_root = os.path.join(data_root, root[5:]) if root != 'data' else data_root


def _count_images(cfg) -> int:
    ds = cfg.test_dataloader.dataset
    root = ds.get('data_root') or ''
    ann = ds.get('ann_file')
    if ann:
        ann = ann if os.path.isabs(ann) else os.path.join(root, ann)
        if os.path.isfile(ann):
            return sum(1 for line in open(ann, encoding='utf-8') if line.strip())
    img = os.path.join(root, (ds.get('data_prefix') or {}).get('img_path', ''))
    return sum(1 for e in os.scandir(img) if e.is_file()) if os.path.isdir(img) else 0


def _hg_command(method: presets.Method) -> str:
    """Training, then the cross-dataset evaluation that gives the row's numbers."""
    options = ' '.join(shlex.quote(f'model.{k}={v}') for k, v in method.model.items())
    options = f' --cfg-options {options}' if options else ''
    cmd = f'python tools/train.py configs/hg_rsovsseg/hg_{method.hg_config}.py{options}'
    train = next((n for n in HG_SETS.values() if method.hg_config.endswith('_' + n)), None)
    if train:
        backbone = method.hg_config[:-len(train) - 1]
        cmd += (f', then python tools/hg_cross_eval.py --backbone {backbone} '
                f'--checkpoint {train}=<its iter_80000.pth>{options}')
    return cmd


def plan(name: str, data_root: str | None = None, work_dir='work_dirs/paper_tables',
         cfg_options: dict | None = None) -> tuple[TableSpec, list[str], list[Row], list[Cell]]:
    """Every cell of table `name` with its status (run, done or skip and why)."""
    from .cfg_options import check_cfg_options
    from .run import how_to_prepare, load_config, missing_data
    spec = get_table(name)
    columns, rows = read_published(name)
    unknown = [c for c in spec.datasets if c not in columns]
    if unknown:
        raise TableError(f'published/{name}.csv lacks the columns {unknown}')
    cells = []
    for row in rows:
        if not row.method:
            continue
        method = presets.resolve(row.method)
        for column, stem in spec.datasets.items():
            cell = Cell(name, row.label, column, row.method, 'skip')
            cell.path = cell_path(work_dir, name, row.label, column)
            cells.append(cell)
            if method.hg_config:
                cell.reason = f'needs a trained checkpoint: {_hg_command(method)}'
                continue
            if method.unsupported:
                cell.reason = f'not reproducible here: {method.unsupported}'
                continue
            folder, _, base = stem.rpartition('/')
            config = configs_dir() / folder / f'cfg_{base}.py'
            if not config.is_file():
                cell.reason = f'no config {config}'
                continue
            cfg = load_config(str(config), work_dir=str(Path(work_dir) / name / 'runs' / stem))
            presets.apply(cfg, method)
            if cfg_options:
                check_cfg_options(cfg, cfg_options)
                cfg.merge_from_dict(cfg_options)
            _rebase_data(cfg, data_root)
            cell.config, cell.cfg = str(config), cfg
            cell.long_side = _model_side(cfg)
            missing = missing_data(cfg)
            if missing:
                cell.reason = f'data not found: {", ".join(missing)} ({how_to_prepare(config)})'
                continue
            weights = presets.missing_weights(cfg)
            if weights:
                cell.reason = 'weights not found: ' + '; '.join(weights)
                continue
            done = _read_cell(cell.path)
            if done and done.get('settings') == settings_hash(cfg):
                cell.status, cell.score = 'done', done.get('score')
                cell.weights = done.get('weights_id', '')
                continue
            cell.status, cell.images = 'run', _count_images(cfg)
    return spec, columns, rows, cells


def _read_cell(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None


def _model_side(cfg) -> int:
    """The side the model sees (the Resize's long side, or short side for (2048, s))."""
    scales = [s['scale'] for s in cfg.test_dataloader.dataset.pipeline if s['type'] == 'Resize']
    return min(scales[0]) if scales else 448


def estimate_seconds(cells: list[Cell]) -> float:
    return sum(c.images * SECONDS_PER_IMAGE_CPU * (c.long_side / 448) ** 2
               for c in cells if c.status == 'run')


# ---------------------------------------------------------------- running
def run_cells(cells: list[Cell], progress: bool = True) -> list[tuple[Cell, str]]:
    """Evaluate the cells to run, in order (consecutive cells of a row share the model);
    write each cell's file when it finishes. Returns the failures (cell, error)."""
    import gc
    import traceback

    from tqdm import tqdm

    from .run import evaluate, release_models
    todo = [c for c in cells if c.status == 'run']
    failed = []
    for cell in tqdm(todo, desc='cells', unit='cell', file=sys.stdout, disable=not progress):
        tqdm.write(f'=== {cell.table}: {cell.key}')
        try:
            t0 = time.perf_counter()
            metrics, row, _ = evaluate(cell.cfg, cell.config, results=None,
                                       tag=f'{cell.table}:{cell.row}', reuse_model=True)
            cell.score, cell.status = row['score'], 'done'
            cell.weights = weights_id(row)
            record = dict(table=cell.table, row=cell.row, column=cell.column,
                          method=cell.method, config=cell.config, score=row['score'],
                          mIoU=row['mIoU'], aAcc=row['aAcc'], images=row['images'],
                          seconds=round(time.perf_counter() - t0, 1),
                          settings=settings_hash(cell.cfg), time=row['time'],
                          weights_id=cell.weights,
                          **{k: row[k] for k in WEIGHTS_COLUMNS})
            _write_atomic(cell.path, json.dumps(record, indent=1))
        except Exception as err:   # one broken cell must not stop the others
            traceback.print_exc()
            cell.status, cell.reason = 'skip', f'failed: {type(err).__name__}: {err}'
            failed.append((cell, cell.reason))
        finally:
            gc.collect()
    release_models()
    return failed


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)


# ---------------------------------------------------------------- the table
def _mean(values):
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return round(sum(vals) / len(vals), 2) if vals else None


def ours_table(spec: TableSpec, columns: list[str], rows: list[Row], cells: list[Cell]):
    """{row label: {column: our number}} with the averages computed as the paper does:
    over the columns it averages that we have, without the training set's own column
    for HG-RSOVSSeg's Table 6. A row's average is left empty until it has every column."""
    got = {(c.row, c.column): c.score for c in cells if c.score is not None}
    table = {}
    for row in rows:
        ours = {col: got.get((row.label, col)) for col in columns}
        if spec.average:
            over = [c for c in spec.average_over
                    if not (spec.off_diagonal and c == row.label)]
            vals = [ours.get(c) for c in over]
            ours[spec.average] = _mean(vals) if all(v is not None for v in vals) else None
        table[row.label] = ours
    return table


def delta(ours, published):
    if ours is None or published is None:
        return None
    return round(ours - published, 2)


def _fmt(v, digits=2) -> str:
    return '–' if v is None else f'{v:.{digits}f}'


def markdown(spec: TableSpec, columns, rows, ours, reasons: dict,
             weights: dict | None = None) -> str:
    """The table as Markdown: each cell `ours / published / Δ`; then why rows are empty
    and which weight files made each row's numbers (`row_weights`)."""
    lines = [f'**{spec.title}** — each cell: ours / published / Δ', '',
             '| ' + ' | '.join(['row', *columns]) + ' |',
             '|' + ' --- |' * (len(columns) + 1)]
    for row in rows:
        cells = []
        for col in columns:
            o, p = ours[row.label].get(col), row.published.get(col)
            d = delta(o, p)
            cells.append(f'{_fmt(o)} / {_fmt(p, 2 if p is not None and p != round(p, 1) else 1)}'
                         + (f' / {d:+.2f}' if d is not None else ''))
        lines.append('| ' + ' | '.join([row.label, *cells]) + ' |')
    notes = [f'- {label}: {why}' for label, why in reasons.items()]
    if notes:
        lines += ['', 'Rows without our numbers:', *notes]
    if weights:
        lines += ['', 'Weights of our numbers (file@sha256):',
                  *[f'- {label}: {w}' for label, w in weights.items()]]
    return '\n'.join(lines) + '\n'


def row_weights(rows, cells) -> dict:
    """{row label: the weight files of its numbers} ('; ' between different ones)."""
    out = {}
    for row in rows:
        seen = list(dict.fromkeys(c.weights for c in cells
                                  if c.row == row.label and c.score is not None and c.weights))
        if seen:
            out[row.label] = '; '.join(seen)
    return out


def row_reasons(rows, cells) -> dict:
    """One line per row we did not fill: published only, or the first skip reason."""
    out = {}
    for row in rows:
        mine = [c for c in cells if c.row == row.label]
        if not row.method:
            out[row.label] = 'published only (no code here produces it)'
        elif mine and all(c.status == 'skip' for c in mine):
            reasons = sorted({c.reason for c in mine})
            out[row.label] = reasons[0] + (f' (and {len(reasons) - 1} more)'
                                           if len(reasons) > 1 else '')
    return out


def sheet_records(spec: TableSpec, columns, rows, ours, reasons, weights: dict | None = None):
    header = ['row', 'method']
    for col in columns:
        header += [f'{col} ours', f'{col} published', f'{col} Δ']
    header += ['note', 'weights']
    records = []
    for row in rows:
        rec = [row.label, row.method]
        for col in columns:
            o, p = ours[row.label].get(col), row.published.get(col)
            rec += [o, p, delta(o, p)]
        rec.append(reasons.get(row.label, ''))
        rec.append((weights or {}).get(row.label, ''))
        records.append(rec)
    return header, records


def write_sheet(path, sheet: str, header, records) -> Path:
    """Replace the table's sheet in the workbook `path` (other sheets kept), atomically; a
    workbook that cannot be read or is open elsewhere is left as it is and the sheet goes to
    a new file beside it (returned), as `results.append_row` does."""
    from .results import rewrite_sheet
    return rewrite_sheet(path, sheet, lambda source: (header, records))


def bar_chart(path: Path, spec: TableSpec, columns, rows, ours) -> Path | None:
    """Ours beside published for every cell we have (None: nothing to draw)."""
    pairs = [(f'{r.label}\n{c}', ours[r.label][c], r.published.get(c))
             for r in rows for c in columns if ours[r.label].get(c) is not None]
    if not pairs:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    x = np.arange(len(pairs))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(pairs) + 2), 4.5))
    ax.bar(x - 0.2, [p[1] for p in pairs], 0.4, label='ours')
    ax.bar(x + 0.2, [p[2] if p[2] is not None else 0 for p in pairs], 0.4, label='published')
    ax.set_xticks(x, [p[0] for p in pairs], rotation=60, ha='right', fontsize=7)
    ax.set_ylabel('mIoU / IoU (%)')
    ax.set_title(spec.title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path


@dataclass
class Outputs:
    sheet: Path
    markdown: Path
    chart: Path | None
    text: str = field(default='')


def write_outputs(spec, columns, rows, cells, results='results.xlsx',
                  work_dir='work_dirs/paper_tables') -> Outputs:
    ours = ours_table(spec, columns, rows, cells)
    reasons = row_reasons(rows, cells)
    weights = row_weights(rows, cells)
    header, records = sheet_records(spec, columns, rows, ours, reasons, weights)
    xlsx = write_sheet(results, spec.name, header, records)
    text = markdown(spec, columns, rows, ours, reasons, weights)
    md = Path(work_dir) / spec.name / f'{spec.name}.md'
    _write_atomic(md, text)
    chart = bar_chart(Path(work_dir) / spec.name / f'{spec.name}.png', spec, columns, rows, ours)
    return Outputs(xlsx, md, chart, text)
