"""HG-RSOVSSeg's cross-dataset table (paper Table 6): training set × test set mIoU.

`mean mIoU` of a training set averages its row *without* the diagonal (the set it was
trained on), as the paper does. The table lives in the `hg-cross` sheet of results.xlsx;
a run updates only the cells it measured, so training sets can be evaluated one at a time.
"""
from __future__ import annotations

import math
from pathlib import Path

from .results import _load, rewrite_sheet

SHEET = 'hg-cross'
# the paper's order of Table 6 (config names of configs/hg_rsovsseg/_base_/datasets/)
ORDER = ('potsdam', 'loveda', 'gid_large', 'globe230k', 'flair1', 'openearthmap', 'landcover_ai')
TITLES = dict(potsdam='Potsdam', loveda='LoveDA', gid_large='GID Large', globe230k='Globe230k',
              flair1='FLAIR #1', openearthmap='OpenEarthMap', landcover_ai='LandCover.ai')
MEAN = 'mean mIoU'


def _title(name: str) -> str:
    return TITLES.get(name, name)


def _name(title: str) -> str:
    return {v: k for k, v in TITLES.items()}.get(title, title)


def mean_off_diagonal(row: dict, train: str) -> float | None:
    vals = [v for test, v in row.items() if test != train and v is not None
            and not (isinstance(v, float) and math.isnan(v))]
    return round(sum(vals) / len(vals), 2) if vals else None


def table_records(matrix: dict[str, dict[str, float]]):
    """(header, rows) of the table: one row per training set, the paper's column order."""
    tests = [n for n in ORDER if any(n in r for r in matrix.values())]
    tests += sorted({t for r in matrix.values() for t in r} - set(tests))
    trains = [n for n in ORDER if n in matrix] + sorted(set(matrix) - set(ORDER))
    header = ['training set'] + [_title(t) for t in tests] + [MEAN]
    rows = [[_title(tr)] + [matrix[tr].get(te) for te in tests]
            + [mean_off_diagonal(matrix[tr], tr)] for tr in trains]
    return header, rows


def read_matrix(path) -> dict[str, dict[str, float]]:
    """The `hg-cross` sheet of `path` as {train: {test: mIoU}} ({} when absent)."""
    path = Path(path)
    if not path.exists():
        return {}
    wb = _load(path)
    if SHEET not in wb.sheetnames:
        return {}
    values = list(wb[SHEET].iter_rows(values_only=True))
    if not values:
        return {}
    header = [_name(str(h)) for h in values[0]]
    return {_name(str(r[0])): {h: v for h, v in zip(header[1:], r[1:])
                               if h != MEAN and v is not None}
            for r in values[1:] if r and r[0] is not None}


def update_table(path, results: dict[str, dict[str, float]]) -> Path:
    """Merge {train: {test: mIoU}} into the `hg-cross` sheet of `path` (other sheets kept).

    Written atomically; a workbook that cannot be read or is open in a spreadsheet program
    is left as it is and the table goes to a new file beside it (returned).
    """
    def table(source):
        matrix = read_matrix(source) if source is not None else {}
        for train, row in results.items():
            matrix.setdefault(train, {}).update(row)
        return table_records(matrix)

    return rewrite_sheet(path, SHEET, table)
