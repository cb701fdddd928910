"""Writing files so that a kill or a concurrent writer never leaves half a file under its name.

Every writer of the package writes to a temporary name beside the target (same folder, so the
final `os.replace` is an atomic rename on one file system) and renames it onto the target only
when the write finished. The temporary name is unique per process *and* per call (two saves of
one file in one process once shared a fixed `.tmp` name and the second moved the first's file
away), starts with a dot (hidden from folder listings and image globs) and ends with the
target's suffix, so writers that pick a format by suffix (matplotlib, PIL, GDAL) still do.
`.partial-` marks it: a rerun may delete `.<name>.partial-*` files a killed process left.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path


def temp_name(path: str | Path) -> Path:
    """`.<name>.partial-<pid>-<random><suffix>` beside `path`: no other process or call uses it."""
    path = Path(path)
    return path.with_name(f'.{path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:12]}'
                          f'{path.suffix}')


@contextlib.contextmanager
def atomic_path(path: str | Path, keep: bool = True):
    """A temporary name beside `path`, moved onto it only when the block finishes.

    If the block raises, the temporary file is removed and `path` keeps what it held.
    keep=False: the temporary file is for the caller to use and delete (never moved).
    """
    path = Path(path)
    tmp = temp_name(path)
    ok = False
    try:
        yield tmp
        ok = True
    finally:
        if ok and keep:
            os.replace(tmp, path)
        elif tmp.exists() and (keep or not ok):
            tmp.unlink()


def write_text_atomic(path: str | Path, text: str) -> None:
    """`path.write_text(text)` (UTF-8), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding='utf-8')


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """`path.write_bytes(data)`, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
