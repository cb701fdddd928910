#!/usr/bin/env python
"""Reproduce the papers' tables: one command per table, ours beside the published numbers.

    python tools/paper_tables.py --list
    python tools/paper_tables.py --table segearth-2 --dry-run
    python tools/paper_tables.py --table segearth-2 --table segearth-3 [--data-root data] \
        [--work-dir work_dirs/paper_tables] [--results results.xlsx] [--cfg-options k=v ...]

Every cell (row × dataset) whose data and weights are here runs in this one process (the
model is reused across the datasets of a row); the others are skipped with one line saying
what is missing and how to get it. A finished cell is written to
<work-dir>/<table>/cells/*.json, so a killed run starts again where it stopped. Outputs: the
sheet <table> of results.xlsx (each paper cell as ours / published / Δ, averages as the
paper computes them), <work-dir>/<table>/<table>.md and <table>.png (ours against published).
Presets of every row: segearth_ov/evaluation/methods.py; published numbers:
segearth_ov/evaluation/published/<table>.csv.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--table', action='append', default=[],
                   help='a table name (see --list), or "all"; repeat for several')
    p.add_argument('--list', action='store_true', help='list the tables and exit')
    p.add_argument('--dry-run', action='store_true',
                   help='print the grid, what would run and the estimated time; run nothing')
    p.add_argument('--data-root', help='the folder holding the datasets (default: data)')
    p.add_argument('--work-dir', default='work_dirs/paper_tables')
    p.add_argument('--results', default='results.xlsx', help='workbook (a sheet per table)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='applied to every cell after its method preset')
    return p.parse_args(argv)


def _hours(seconds: float) -> str:
    if seconds < 60:
        return f'{seconds:.0f} s'
    return f'{seconds / 3600:.1f} h' if seconds >= 3600 else f'{seconds / 60:.0f} min'


def _by_reason(cells) -> dict:
    groups = {}
    for cell in cells:
        groups.setdefault(cell.reason, []).append(cell)
    return groups


def _where(cells) -> str:
    """The cells of one skip reason in a few words: a column, a row, or a count."""
    rows, columns = {c.row for c in cells}, {c.column for c in cells}
    if len(cells) == 1:
        return cells[0].key
    if len(columns) == 1:
        return f'{cells[0].column} ({len(rows)} rows)'
    if len(rows) == 1:
        return f'{cells[0].row} ({len(columns)} datasets)'
    return f'{len(cells)} cells'


def main(argv=None) -> int:
    args = parse_args(argv)
    from segearth_ov.utils import advice
    with advice.using(advice.CFG_OPTIONS):      # error advice: this tool's --cfg-options
        return run(args)


def run(args) -> int:
    from segearth_ov.evaluation import paper_tables as pt
    from segearth_ov.evaluation.cfg_options import ConfigKeyError
    if args.list:
        for spec in pt.TABLES.values():
            _, rows = pt.read_published(spec.name)
            print(f'{spec.name:12s} {spec.title} '
                  f'({len(rows)} rows × {len(spec.datasets)} datasets)')
        return 0
    names = list(pt.TABLES) if 'all' in args.table else args.table
    if not names:
        print('name a table with --table (see --list)', file=sys.stderr)
        return 2
    try:
        specs = [pt.get_table(n) for n in names]
    except pt.TableError as err:
        print(err, file=sys.stderr)
        return 2
    failed_any = False
    for spec in specs:
        try:
            spec, columns, rows, cells = pt.plan(spec.name, args.data_root, args.work_dir,
                                                 args.cfg_options)
        except ConfigKeyError as err:
            print(f'error: {err}', file=sys.stderr)
            return 2
        todo = [c for c in cells if c.status == 'run']
        done = [c for c in cells if c.status == 'done']
        skipped = [c for c in cells if c.status == 'skip']
        print(f'== {spec.name}: {spec.title}')
        print(f'   {len(cells)} cells: {len(todo)} to run, {len(done)} done earlier, '
              f'{len(skipped)} skipped; published only: '
              f'{", ".join(r.label for r in rows if not r.method) or "none"}')
        for cell in todo + done:
            print(f'   {cell.status.upper():4s} {cell.key}')
        for reason, group in _by_reason(skipped).items():
            print(f'   SKIP {_where(group)}: {reason}')
        if todo:
            images = sum(c.images for c in todo)
            print(f'   estimated: {images} images, about {_hours(pt.estimate_seconds(todo))} on '
                  f'a 2-core CPU ({pt.SECONDS_PER_IMAGE_CPU:g} s per 448² image; a GPU is '
                  f'far faster)')
        if args.dry_run:
            continue
        failures = pt.run_cells(cells)
        failed_any = failed_any or bool(failures)
        out = pt.write_outputs(spec, columns, rows, cells, args.results, args.work_dir)
        print(out.text)
        print(f'   written: {out.sheet} (sheet {spec.name}), {out.markdown}'
              + (f', {out.chart}' if out.chart else ''))
        for cell, why in failures:
            print(f'   FAILED {cell.key}: {why}')
    return 1 if failed_any else 0


if __name__ == '__main__':
    sys.exit(main())
