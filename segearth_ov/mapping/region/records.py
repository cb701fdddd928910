"""The region's manifest: one JSON record per finished unit, with the SHA-256 of its outputs,
under `<out>/.region/units/`. A rerun skips units whose record (of the same settings) and files
agree and redoes missing or corrupt ones.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

from ..predictor import SceneOptions
from ...utils.files import write_text_atomic
from .planning import Unit

logger = logging.getLogger('segearth_ov')

STATE = '.region'       # the region's own folder in <out>: records, blocks, logs


def sha256(path: Path) -> str:
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, 'sha256').hexdigest()


class Records:
    """The manifest: one JSON record per finished unit, written once by its rank."""

    def __init__(self, out: Path, key: str):
        self.out, self.key = out, key
        self.dir = out / STATE / 'units'
        self.blocks = out / STATE / 'blocks'

    def path(self, unit_id: str) -> Path:
        return self.dir / f'{unit_id}.json'

    def write(self, unit_id: str, files: list, **extra) -> dict:
        rec = dict(unit=unit_id, key=self.key, **extra,
                   outputs={str(Path(f).relative_to(self.out)): sha256(Path(f)) for f in files})
        self.dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path(unit_id), json.dumps(rec, indent=1) + '\n')
        return rec

    def valid(self, unit_id: str) -> dict | None:
        """The record when it exists, is of this run's settings and every output matches."""
        try:
            rec = json.loads(self.path(unit_id).read_text())
        except (OSError, ValueError):
            return None
        if rec.get('key') != self.key:
            return None
        for name, digest in rec['outputs'].items():
            f = self.out / name
            if not f.is_file() or sha256(f) != digest:
                logger.warning('%s: output %s is missing or corrupt (checksum): redoing it',
                               unit_id, name)
                return None
        return rec

    def done(self, unit: Unit) -> bool:
        if unit.block is None:
            return self.valid(unit.id) is not None
        return self.valid(unit.stem) is not None or self.valid(unit.id) is not None

    def count(self) -> int:
        return len(list(self.dir.glob('*.json'))) if self.dir.is_dir() else 0


def run_key(classes, settings: dict, options: SceneOptions, save_probs, probs_dtype,
            fmt, overlay, vector=None) -> str:
    """What the outputs depend on: a record of other settings is not a finished unit
    (a checkpoint retrained at the same path included: its size and time count)."""
    extra = {} if vector is None else dict(vector=asdict(vector))
    settings = dict(settings)
    ckpt = settings.get('checkpoint')
    if ckpt and Path(ckpt).is_file():
        st = Path(ckpt).stat()
        settings['checkpoint_stamp'] = (st.st_size, st.st_mtime_ns)
    text = json.dumps(dict(classes=[list(c) for c in classes.classes], settings=settings,
                           options=asdict(options), save_probs=save_probs,
                           probs_dtype=probs_dtype, fmt=fmt, overlay=overlay, **extra),
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def scene_files(result: dict, out: Path) -> list[Path]:
    """The files a scene's record covers: its outputs, and the .aux.xml and .qml of a
    GeoTIFF class map."""
    files = [Path(f) for f in result['outputs']]
    lab = Path(result['outputs'][0])
    if lab.suffix == '.tif':
        files += [Path(f'{lab}.aux.xml'), lab.with_suffix('.qml')]
    return files


def remove_partials(out: Path, records: Records, name: str, block: bool) -> None:
    """Temporary files a killed process left for this unit (only its rank writes them)."""
    folder, pattern = (records.blocks, f'.{name}.*.partial-*') if block else \
        (out, f'.{name}_*.partial-*')
    for f in folder.glob(pattern) if folder.is_dir() else []:
        f.unlink(missing_ok=True)
