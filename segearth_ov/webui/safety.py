"""The web UI's safety rules: names and paths that cannot leave their folder, bounded uploads.

Why here and nowhere else: every file the server reads or serves is named by the client, so
one small module decides, and the tests exercise it through every endpoint.
"""
from __future__ import annotations

import re
from pathlib import Path


class RequestError(ValueError):
    """A request the server refuses; `status` is the HTTP code, the message says the fix."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


_NAME = re.compile(r'^[\w][\w .()+-]{0,199}$')


def safe_file_name(name: str) -> str:
    """An uploaded file's name as it is stored: a plain name, never a path."""
    name = (name or '').strip()
    if not name or '/' in name or '\\' in name or '..' in name or not _NAME.match(name):
        raise RequestError(f'file name {name!r} is refused: give a plain file name (letters, '
                           'digits, spaces, "._-+()"), without folders or ".."')
    return name


def inside(folder: Path, relative: str) -> Path:
    """`folder/relative` resolved, refused unless it stays inside `folder` (symlinks too)."""
    if relative is None or not str(relative).strip():
        raise RequestError('no file chosen: give a path relative to the data folder')
    if not isinstance(relative, str):
        raise RequestError(f'path {relative!r} is refused: give the path as text')
    if '\0' in relative:
        raise RequestError(f'path {relative!r} is refused: it contains a NUL byte, which no '
                           'file name has; pick the file from the list')
    rel = Path(relative)
    if rel.is_absolute() or '..' in rel.parts:
        raise RequestError(f'path {relative!r} is refused: give a path inside the data folder, '
                           'relative to it, without ".."')
    root = folder.resolve()
    path = (root / rel).resolve()
    if root != path and root not in path.parents:
        raise RequestError(f'path {relative!r} leads outside the data folder and is refused')
    if not path.is_file():
        raise RequestError(f'{relative!r} is not a file in the data folder', 404)
    return path


async def save_stream(chunks, target: Path, max_bytes: int,
                      fix: str = 'start the server with a larger --max-upload-mb') -> int:
    """Write an async byte stream to `target`, stopping (and deleting it) past `max_bytes`;
    `fix` says how to raise the limit."""
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, 'wb') as f:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise RequestError(f'the upload is larger than the limit of '
                                       f'{max_bytes / 2 ** 20:.4g} MB: choose a smaller file, '
                                       f'or {fix}', 413)
                f.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if size == 0:
        target.unlink(missing_ok=True)
        raise RequestError('the upload is empty: choose an image or GeoTIFF file')
    return size
