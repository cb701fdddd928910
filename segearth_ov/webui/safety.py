"""The web UI's safety rules: names and paths that cannot leave their folder, bounded uploads.

Why here and nowhere else: every file the server reads or serves is named by the client, so
one small module decides, and the tests exercise it through every endpoint.
"""
from __future__ import annotations

import asyncio
import errno
import os
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


async def save_stream(chunks, target: Path, length: int, idle_s: float) -> int:
    """Write an async byte stream of the declared `length` to a new file `target` (0600),
    refusing (and deleting it) a stream that is longer, stops before its end, sends nothing
    for `idle_s` seconds, or finds the disk full."""
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    stream = chunks.__aiter__()
    try:
        with open(fd, 'wb') as f:
            while True:
                try:
                    chunk = await asyncio.wait_for(stream.__anext__(), idle_s)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise RequestError(f'the upload stalled: no data for {idle_s:g} s after '
                                       f'{size} of {length} bytes; send it again', 408) from None
                size += len(chunk)
                if size > length:
                    raise RequestError(f'the upload is longer than its Content-Length '
                                       f'({length} bytes): send the file as it is', 400)
                f.write(chunk)
    except OSError as err:
        target.unlink(missing_ok=True)
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise RequestError('the disk of the work folder is full: free space there, or '
                               'start the server with another --work-dir', 507) from None
        raise
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if size < length:
        target.unlink(missing_ok=True)
        raise RequestError(f'the upload ended after {size} of its {length} bytes: send it '
                           'again')
    return size
