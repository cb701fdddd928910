"""Retention of the web page's uploads, job outputs and in-memory registries: by age, count
and total size, oldest first, never what a queued or running job or an upload in progress
needs.

Why: every upload and every job writes to --work-dir, and the registries live as long as the
server; without limits a long session (or a page sending uploads in a loop) fills the disk
and the memory. Checked at start (folders of earlier runs too), before and after each
upload or pick, at each job's submission and end, and when the page loads. Only folders
the server made (`make_folder`: its marker inside) are ever removed, and an upload's
reservation never removes a finished job's result.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .safety import RequestError


@dataclass
class Limits:
    keep_hours: float = 24.0        # scenes and jobs older than this are removed
    max_scenes: int = 50            # scenes (uploads and picks) kept
    max_jobs: int = 100             # jobs (and their outputs) kept
    max_work_gb: float = 20.0       # uploads + job outputs on disk
    max_queued: int = 20            # jobs waiting at once (more are refused until some end)

    def __post_init__(self):
        for key in ('keep_hours', 'max_scenes', 'max_jobs', 'max_work_gb', 'max_queued'):
            if not getattr(self, key) > 0:
                flag = '--' + key.replace('_', '-')
                raise ValueError(f'{flag} {getattr(self, key)}: give a number above 0')

    @property
    def max_bytes(self) -> int:
        return int(self.max_work_gb * 2 ** 30)


def folder_size(path: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                pass
    return total


MARKER = '.segearth-webui'      # in every folder the server made under uploads/ and jobs/


def make_folder(path: Path) -> Path:
    """A folder of the server's own: readable by its user only, with the marker that lets
    a later start-up remove it (nothing without the marker is ever removed)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    (path / MARKER).touch(mode=0o600)
    return path


def make_private(folder: Path) -> None:
    """Files written into one of our folders (job outputs): readable by the user only."""
    for f in folder.iterdir():
        if f.is_file() and not f.is_symlink():
            f.chmod(0o600)


def ours(folder: Path) -> bool:
    """A folder an earlier run of the server made (and may remove)."""
    return folder.is_dir() and not folder.is_symlink() and (folder / MARKER).is_file()


@dataclass
class _Item:
    kind: str                   # 'scene' or 'job'
    created: float
    folder: Path | None         # None: a picked scene (nothing on disk)
    key: str | None             # registry id, None for a folder of an earlier run
    busy: bool


class Housekeeper:
    """Applies `limits` to work_dir/uploads, work_dir/jobs and the two registries."""

    def __init__(self, work_dir: Path, scenes, jobs, limits: Limits):
        self.uploads, self.outputs = Path(work_dir) / 'uploads', Path(work_dir) / 'jobs'
        self.scenes, self.jobs, self.limits = scenes, jobs, limits
        self.lock = threading.RLock()       # held by a removal; callers may hold it too
        self._inflight: dict[Path, int] = {}     # upload folder → bytes reserved for it

    def _items(self) -> list[_Item]:
        active = {j.id: j for j in self.jobs.all() if j.state in ('queued', 'running')}
        busy_scenes = {j.scene.id for j in active.values()}
        items, claimed = [], set(self._inflight)
        for s in self.scenes.all():
            folder = s.path.parent if s.source == 'upload' else None
            claimed.add(folder)
            items.append(_Item('scene', s.created, folder, s.id, s.id in busy_scenes))
        for j in self.jobs.all():
            claimed.add(j.out_dir)
            items.append(_Item('job', j.created, j.out_dir, j.id, j.id in active))
        for kind, root in (('scene', self.uploads), ('job', self.outputs)):
            if root.is_dir():
                for d in root.iterdir():
                    if d not in claimed and ours(d):
                        items.append(_Item(kind, (d / MARKER).stat().st_mtime, d, None, False))
        items.sort(key=lambda it: it.created)
        return items

    def _drop(self, item: _Item) -> None:
        if item.key is not None:
            (self.scenes if item.kind == 'scene' else self.jobs).remove(item.key)
        if item.folder is not None and ours(item.folder):
            shutil.rmtree(item.folder, ignore_errors=True)

    def prune(self, reserve: int = 0) -> int:
        """Remove what is over the limits (and room for `reserve` more bytes); returns the
        bytes still free under --max-work-gb."""
        lim = self.limits
        with self.lock:
            items = self._items()
            old = time.time() - lim.keep_hours * 3600
            keep = []
            for it in items:
                if it.created < old and not it.busy:
                    self._drop(it)
                else:
                    keep.append(it)
            for kind, most in (('scene', lim.max_scenes), ('job', lim.max_jobs)):
                same = [it for it in keep if it.kind == kind]
                for it in same[:max(0, len(same) - most)]:
                    if not it.busy:
                        self._drop(it)
                        keep.remove(it)
            sizes = {id(it): folder_size(it.folder) for it in keep if it.folder is not None}
            total = sum(sizes.values()) + sum(self._inflight.values())
            # the folder's limit: oldest first, anything not in use; room for a reservation:
            # uploads only (a finished job's result is never removed for one), and only
            # when that makes room enough
            for need, kinds in ((0, ('scene', 'job')), (reserve, ('scene',))):
                removable = [it for it in keep if it.folder is not None and not it.busy
                             and it.kind in kinds]
                if need and total + need - sum(sizes[id(it)] for it in removable) > lim.max_bytes:
                    break
                for it in removable:
                    if total + need <= lim.max_bytes:
                        break
                    self._drop(it)
                    keep.remove(it)
                    total -= sizes[id(it)]
            return lim.max_bytes - total

    def begin_upload(self, folder: Path, length: int) -> None:
        """Reserve the declared `length` bytes for an upload into `folder` (its marked
        folder is made here) until `end_upload`; 507 when they do not fit."""
        with self.lock:
            free = self.prune(reserve=length)
            if length > free:
                raise RequestError(f'the work folder has no room for {length / 2 ** 20:.3g} MB '
                                   f'(--max-work-gb {self.limits.max_work_gb:g}, '
                                   f'{max(free, 0) / 2 ** 20:.3g} MB free besides job results '
                                   'and files of queued or running jobs): wait for them to '
                                   'finish, or start the server with a larger --max-work-gb', 507)
            self._inflight[folder] = length
            make_folder(folder)

    def end_upload(self, folder: Path) -> None:
        with self.lock:
            self._inflight.pop(folder, None)
