"""One training run per work dir: a lock file that names the run holding it.

Two runs writing one work dir overwrite each other's states and interleave their logs. The
lock is `<work_dir>/train.lock`, held with `flock` for the life of the run (the kernel
releases it when the process dies, even by SIGKILL) and holding the holder's PID, host,
start time and command line, so that a refused run can say who is in the way. A lock file
left by a run that died is taken over with a note.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

logger = logging.getLogger('segearth_ov')

LOCK_FILE = 'train.lock'


class WorkDirBusy(RuntimeError):
    """Another run holds the work dir; the message names it and what to do."""


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or '{}')
    except (OSError, ValueError):
        return {}


def _describe(info: dict) -> str:
    if not info.get('pid'):
        return 'another run'
    host = info.get('host')
    where = f' on {host}' if host and host != socket.gethostname() else ''
    return f"the run with PID {info['pid']}{where} (started {info.get('started', '?')})"


def acquire(work_dir: str | Path):
    """Lock `work_dir` for this process; returns the open lock file (keep it until the end).

    Raises `WorkDirBusy` when another live run holds it.
    """
    path = Path(work_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        f = open(path, 'a+')
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise WorkDirBusy(_busy_message(work_dir, path)) from None
        # the file may have been removed by its holder between our open and our lock
        try:
            same = os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        f.close()
    previous = _read(path)
    if previous.get('pid') and previous.get('pid') != os.getpid():
        logger.warning('%s: took over the lock of %s, which is no longer running',
                       work_dir, _describe(previous))
    f.seek(0)
    f.truncate()
    json.dump({'pid': os.getpid(), 'host': socket.gethostname(),
               'started': time.strftime('%Y-%m-%d %H:%M:%S'), 'command': sys.argv}, f)
    f.flush()
    return f


def _busy_message(work_dir, path: Path) -> str:
    return (f'{work_dir} is in use by {_describe(_read(path))} (lock file {path}): wait for '
            'that run to finish or stop it, or give this one another --work-dir')


def check_free(work_dir: str | Path) -> None:
    """Raise `WorkDirBusy` when another live run holds `work_dir`; creates nothing (checks
    that must not leave folders behind run between this and `acquire`)."""
    path = Path(work_dir) / LOCK_FILE
    try:
        f = open(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkDirBusy(_busy_message(work_dir, path)) from None


def release(lock) -> None:
    """Remove the lock file and let go of it (the file first, so nobody locks a removed file)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(lock.name)
    lock.close()


@contextlib.contextmanager
def work_dir_lock(work_dir: str | Path, enabled: bool = True):
    """Hold the work dir's lock inside the block (`enabled=False`: ranks other than 0)."""
    if not enabled:
        yield None
        return
    lock = acquire(work_dir)
    try:
        yield lock
    finally:
        release(lock)
