"""results.txt and results.xlsx: one row per evaluation run, plus a paper-style summary sheet.

The workbook has a `results` sheet (every run, never rewritten away: a new run reads the
rows already there and writes them back with its own appended) and a `summary` sheet
rebuilt from it: one row per method/backbone, one column per dataset in the order of the
paper's tables, and the average of each table. Other sheets a user adds are kept.

Writes are atomic (temporary file in the same folder, then `os.replace`) and serialised
between processes (an advisory lock on the folder, where the OS has `fcntl`; a wait for it
names the folder and the holder's PID, and gives up after $SEGEARTH_LOCK_TIMEOUT s, writing
beside). A workbook
that cannot be read (corrupt, not an xlsx) or that is open in Excel/LibreOffice (their lock
file is beside it) or cannot be replaced is left byte-for-byte as it is; the row then goes
to a new `<name>.<timestamp>.xlsx` beside it, and the caller is told.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from pathlib import Path

from ..utils.files import atomic_path
from .benchmarks import BENCHMARKS, BY_TITLE, GROUPS, benchmark_of

RESULTS_SHEET = 'results'
SUMMARY_SHEET = 'summary'
# the weights columns come last, so workbooks written before they existed keep their columns
# (their rows have them empty)
WEIGHTS_COLUMNS = ['weights', 'weights_sha256', 'upsampler', 'upsampler_sha256',
                   'checkpoint', 'checkpoint_sha256']
COLUMNS = ['config', 'clip_type', 'vit_type', 'model_type', 'dataset', 'aAcc', 'mIoU', 'mAcc',
           'score', 'per-class IoU', 'images', 'seconds', 'tag', 'time', 'work_dir',
           *WEIGHTS_COLUMNS]
METHOD_KEYS = ['model_type', 'tag', 'clip_type', 'vit_type', 'weights_id']
GROUP_TITLES = {'optical': 'optical', 'single-class': 'single-class', 'sar': 'SAR',
                'extra': 'extra'}


class ResultsFileError(RuntimeError):
    """results.xlsx cannot be read or replaced (corrupt, locked, no permission)."""


# ---------------------------------------------------------------- one row
def per_class_iou(metrics: dict) -> dict[str, float]:
    """{'road': 41.2, …} from the `IoU.<class>` entries of SegEarthIoUMetric, in class order."""
    return {k[4:]: v for k, v in metrics.items() if k.startswith('IoU.')}


def weights_cells(weights: dict | None) -> dict:
    """The weights columns of a row from `utils.provenance.model_weights` (file, sha256)."""
    cells = {}
    for kind in ('weights', 'upsampler', 'checkpoint'):
        rec = (weights or {}).get(kind) or {}
        cells[kind] = rec.get('file', '')
        cells[f'{kind}_sha256'] = rec.get('sha256') or ''
    return cells


def weights_id(row: dict) -> str:
    """'tiny.pt@1a2b3c4d · SimFeatUp x.ckpt@5e6f7a8b' of a row ('' for rows without them)."""
    from ..utils.provenance import short
    parts = []
    for kind, label in (('weights', ''), ('checkpoint', 'checkpoint '),
                        ('upsampler', 'SimFeatUp ')):
        file = row.get(kind)
        if file:
            parts.append(label + short(dict(file=file, sha256=row.get(f'{kind}_sha256') or None)))
    return ' · '.join(parts)


def make_row(metrics: dict, config: str, model: dict, images: int, seconds: float,
             tag: str = '', work_dir: str = '', weights: dict | None = None) -> dict:
    """The results.xlsx row of one run. `score` is the number the paper's tables report:
    the foreground IoU for single-class sets, mIoU otherwise. `weights`: the files that
    made it (`utils.provenance.model_weights`), in the weights columns."""
    bench = benchmark_of(config)
    ious = per_class_iou(metrics)
    score = metrics.get('mIoU')
    if bench is not None and bench.foreground is not None and len(ious) > bench.foreground:
        score = list(ious.values())[bench.foreground]
    return {
        'config': str(config),
        'clip_type': model.get('clip_type', 'CLIP'),
        'vit_type': model.get('vit_type', 'ViT-B/16'),
        'model_type': model.get('model_type', 'SegEarth'),
        'dataset': bench.title if bench else Path(str(config)).stem.replace('cfg_', '', 1),
        'aAcc': _num(metrics.get('aAcc')),
        'mIoU': _num(metrics.get('mIoU')),
        'mAcc': _num(metrics.get('mAcc')),
        'score': _num(score),
        'per-class IoU': '; '.join(f'{k}={_fmt(v)}' for k, v in ious.items()),
        'images': int(images),
        'seconds': round(float(seconds), 1),
        'tag': tag or '',
        'time': time.strftime('%Y-%m-%d %H:%M:%S'),
        'work_dir': str(work_dir),
        **weights_cells(weights),
    }


def results_text(row: dict, metrics: dict) -> str:
    """The human-readable results.txt of one run."""
    lines = [f'{k}: {row[k]}' for k in ('config', 'dataset', 'clip_type', 'vit_type',
                                        'model_type', 'tag', 'images', 'seconds', 'time')]
    lines += [f'{k}: {_fmt(row[k])}' for k in ('aAcc', 'mIoU', 'mAcc', 'score')]
    for kind in ('weights', 'checkpoint', 'upsampler'):
        if row.get(kind):
            lines.append(f'{kind}: {row[kind]} (sha256 {row.get(kind + "_sha256") or "-"})')
    lines.append('per-class IoU:')
    lines += [f'  {name}: {_fmt(v)}' for name, v in per_class_iou(metrics).items()]
    return '\n'.join(lines) + '\n'


def _num(v):
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else round(v, 2)


def _fmt(v) -> str:
    return 'nan' if v is None or (isinstance(v, float) and math.isnan(v)) else f'{float(v):.2f}'


# ---------------------------------------------------------------- summary
def summary_frame(rows: list[dict]):
    """The paper-style table: one row per method/backbone, one column per dataset (its
    `score`; the latest run wins), then the average of each table (group)."""
    import pandas as pd
    df = pd.DataFrame(rows)
    if df.empty or 'dataset' not in df:
        return pd.DataFrame(columns=['method', 'backbone'])
    df['weights_id'] = [weights_id(r) for r in rows]   # runs with other weights: other rows
    for k in METHOD_KEYS:
        df[k] = df[k].fillna('').astype(str) if k in df else ''
    df['score'] = pd.to_numeric(df.get('score'), errors='coerce')
    table = (df.groupby(METHOD_KEYS + ['dataset'], sort=False)['score'].last()
             .unstack('dataset'))
    present = set(table.columns)
    ordered, averages = [], {}
    for group in (*GROUPS, 'extra'):
        titles = [b.title for b in BENCHMARKS if b.group == group and b.title in present]
        if titles:
            name = f'Average {GROUP_TITLES[group]}'
            ordered += titles + [name]
            averages[name] = titles
    others = [c for c in table.columns if c not in BY_TITLE]
    for name, titles in averages.items():
        table[name] = table[titles].mean(axis=1, skipna=True).round(2)
    table = table[ordered + others].reset_index()
    method = table['model_type'] + table['tag'].map(lambda t: f' [{t}]' if t else '')
    backbone = (table['clip_type'] + ' ' + table['vit_type']
                + table['weights_id'].map(lambda w: f' ({w})' if w else ''))
    table.insert(0, 'backbone', backbone)
    table.insert(0, 'method', method)
    return table.drop(columns=METHOD_KEYS)


# ---------------------------------------------------------------- workbook I/O
def lock_files(path: Path) -> list[Path]:
    """Lock files that Excel (`~$name`) or LibreOffice (`.~lock.name#`) keep while it is open."""
    return [p for p in (path.with_name('~$' + path.name),
                        path.with_name(f'.~lock.{path.name}#')) if p.exists()]


def read_rows(path) -> list[dict]:
    """The rows of the `results` sheet ([] if the file or sheet does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        wb = _load(path)
    except ResultsFileError as err:
        raise ResultsFileError(f'{path}: {err}') from None
    return _sheet_rows(wb)


def _load(path: Path):
    from openpyxl import load_workbook
    try:
        return load_workbook(path)
    except PermissionError as err:
        raise ResultsFileError(f'cannot read it: {err}') from None
    except Exception as err:   # BadZipFile, InvalidFileException, KeyError, …
        raise ResultsFileError(f'it is not a readable xlsx workbook '
                               f'({type(err).__name__}: {err})') from None


def _sheet_rows(wb) -> list[dict]:
    if RESULTS_SHEET not in wb.sheetnames:
        return []
    values = list(wb[RESULTS_SHEET].iter_rows(values_only=True))
    if not values:
        return []
    header = [str(h) if h is not None else '' for h in values[0]]
    return [{h: v for h, v in zip(header, r) if h} for r in values[1:]
            if any(v is not None for v in r)]


def _replace_sheet(wb, title: str, header: list[str], records) -> None:
    index = wb.sheetnames.index(title) if title in wb.sheetnames else len(wb.sheetnames)
    if title in wb.sheetnames:
        del wb[title]
    ws = wb.create_sheet(title, index)
    ws.append(header)
    for rec in records:
        ws.append([_cell(v) for v in rec])
    for i, h in enumerate(header, 1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(10, min(40, len(h) + 2))
    ws.freeze_panes = 'A2'


def _cell(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, 'item'):   # numpy scalars
        return v.item()
    return v


def _fill(wb, rows: list[dict]) -> None:
    header = COLUMNS + sorted({k for r in rows for k in r} - set(COLUMNS))
    _replace_sheet(wb, RESULTS_SHEET, header, ([r.get(h) for h in header] for r in rows))
    summary = summary_frame(rows)
    _replace_sheet(wb, SUMMARY_SHEET, list(map(str, summary.columns)),
                   (list(r) for r in summary.itertuples(index=False)))


def _new_workbook():
    from openpyxl import Workbook
    wb = Workbook()
    wb.remove(wb.active)
    return wb


def _atomic_save(wb, path: Path) -> None:
    with atomic_path(path) as tmp:
        wb.save(tmp)


LOCK_TIMEOUT_ENV = 'SEGEARTH_LOCK_TIMEOUT'
DEFAULT_LOCK_TIMEOUT = 300.0      # seconds; a write holds the lock for about one second
PID_FILE = '.results-lock.pid'    # beside the workbooks while a process holds their lock


class LockTimeout(ResultsFileError):
    """Another process held the folder's lock longer than the timeout."""


def lock_timeout(seconds: float | None = None) -> float:
    """`seconds`, else $SEGEARTH_LOCK_TIMEOUT, else 300."""
    if seconds is not None:
        return float(seconds)
    return float(os.environ.get(LOCK_TIMEOUT_ENV) or DEFAULT_LOCK_TIMEOUT)


@contextlib.contextmanager
def _folder_lock(folder: Path, timeout: float | None = None):
    """Serialise read-modify-write of workbooks in `folder` between processes (POSIX).

    The holder writes its PID beside the workbooks; a process that has to wait says for
    what (the folder, that PID) once, and raises LockTimeout after `timeout` seconds.
    """
    try:
        import fcntl
        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        _acquire(fd, folder, lock_timeout(timeout))
        pid_file = folder / PID_FILE
        try:
            pid_file.write_text(f'{os.getpid()}\n')
        except OSError:                  # a read-only folder: the lock works without it
            pid_file = None
        try:
            yield
        finally:
            if pid_file is not None:
                with contextlib.suppress(OSError):
                    pid_file.unlink()
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, folder: Path, timeout: float) -> None:
    import fcntl
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            raise LockTimeout(f'the lock on {folder} (held by {_holder(folder)}) was not '
                              f'released within {timeout:g} s')
        if not told:
            print(f'waiting for the lock on {folder} (held by {_holder(folder)}; another run '
                  f'writing its results there); giving up after {timeout:g} s '
                  f'(${LOCK_TIMEOUT_ENV})', file=sys.stderr, flush=True)
            told = True
        time.sleep(min(0.2, left))


def _holder(folder: Path) -> str:
    """'PID n' of the lock's holder when it recorded itself and is alive."""
    try:
        pid = int((folder / PID_FILE).read_text().strip())
        os.kill(pid, 0)
        return f'PID {pid}'
    except PermissionError:              # alive, another user's
        return f'PID {pid}'
    except (OSError, ValueError):
        return 'another process'


def beside_path(path: Path) -> Path:
    """`results.<timestamp>.xlsx` next to `path`, not yet existing."""
    stamp = time.strftime('%Y%m%d-%H%M%S')
    candidate = path.with_name(f'{path.stem}.{stamp}{path.suffix}')
    n = 1
    while candidate.exists():
        candidate = path.with_name(f'{path.stem}.{stamp}-{n}{path.suffix}')
        n += 1
    return candidate


def rewrite_sheet(path, sheet: str, table, lock_timeout: float | None = None) -> Path:
    """Replace one sheet of the workbook at `path` (other sheets kept); return the file written.

    `table(source)` returns (header, records); `source` is the workbook to merge with
    (`path`), or None when there is none or it cannot be updated (corrupt, or open in a
    spreadsheet program, or its folder's lock held past `lock_timeout`): then `path` is left
    as it is and the sheet goes to a new workbook beside it, with a warning, as `append_row`
    does. Written atomically, under the folder lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def beside(err):
        target = beside_path(path)
        print(f'WARNING: could not update {path} ({err}); writing {target} instead',
              file=sys.stderr)
        return _new_workbook(), None, target

    try:
        with _folder_lock(path.parent, lock_timeout):
            try:
                if lock_files(path):
                    raise ResultsFileError('it is open in a spreadsheet program')
                wb = _load(path) if path.exists() else _new_workbook()
                source, target = (path if path.exists() else None), path
            except (ResultsFileError, OSError) as err:
                wb, source, target = beside(err)
            return _write_sheet(wb, source, target, sheet, table)
    except LockTimeout as err:
        return _write_sheet(*beside(err), sheet, table)


def _write_sheet(wb, source, target, sheet, table) -> Path:
    header, records = table(source)
    _replace_sheet(wb, sheet, header, records)
    _atomic_save(wb, target)
    return target


def append_row(path, row: dict, lock_timeout: float | None = None) -> Path:
    """Append `row` to the workbook at `path`; return the file it was written to.

    That is `path`, or — when `path` is corrupt, open in Excel/LibreOffice, cannot be
    replaced, or another process holds its folder's lock past `lock_timeout` seconds — a
    new workbook beside it (the existing file is not touched); a warning says why. Rows
    already in `path` are always kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _folder_lock(path.parent, lock_timeout):
            rows = []
            try:
                wb = _load(path) if path.exists() else _new_workbook()
                rows = _sheet_rows(wb) + [row]
                locks = lock_files(path)
                if locks:
                    raise ResultsFileError(f'it is open in a spreadsheet program (lock file '
                                           f'{locks[0].name}); close it to append there')
                _fill(wb, rows)
                _atomic_save(wb, path)
                return path
            except (ResultsFileError, OSError) as err:
                return _append_beside(path, rows or [row], err)
    except LockTimeout as err:
        return _append_beside(path, [row], err)


def _append_beside(path: Path, rows: list[dict], err) -> Path:
    other = beside_path(path)
    wb = _new_workbook()
    _fill(wb, rows)
    _atomic_save(wb, other)
    msg = (f'could not add the results to {path}: {err}. The file was left as it was; '
           f'the results were written to {other} instead.')
    print(f'WARNING: {msg}', file=sys.stderr, flush=True)
    return other
