"""Downloads that are verified before use, and a quick answer on machines without a network.

A file is checked against its git blob id (`sha1(b"blob <size>\\0" + content)`), the id git
gives every committed file: it is published with the repository that holds the file, so a
download is verified without trusting the host that served it.
"""
from __future__ import annotations

import hashlib
import os
import socket
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from .files import atomic_path


class DownloadError(OSError):
    """A file could not be downloaded or failed its check; the message names the URL."""


def offline() -> bool:
    """True when the user asked for no downloads (HF_HUB_OFFLINE / SEGEARTH_OFFLINE)."""
    return any(os.environ.get(v, '').upper() in ('1', 'ON', 'YES', 'TRUE')
               for v in ('HF_HUB_OFFLINE', 'SEGEARTH_OFFLINE'))


def _uses_proxy() -> bool:
    return any(os.environ.get(v) for v in ('HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY',
                                           'http_proxy', 'ALL_PROXY', 'all_proxy'))


@lru_cache(maxsize=None)
def _host_unreachable(host: str, port: int) -> str | None:
    try:
        socket.create_connection((host, port), timeout=5).close()
        return None
    except OSError as err:
        return f'{type(err).__name__}: {err}'


def unreachable(url: str) -> str | None:
    """Why `url`'s host cannot be reached from here (None: it can, or a proxy decides).

    Checked once per host and process, so a machine without a network is recognised in
    well under a second instead of after a hub client's rounds of retries.
    """
    if _uses_proxy():
        return None
    parts = urlparse(url)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        return None
    return _host_unreachable(parts.hostname, parts.port or (443 if parts.scheme == 'https' else 80))


def git_blob_id(path: str | Path) -> str:
    """The git blob id of a file: sha1 over `blob <size>\\0` and its bytes."""
    path = Path(path)
    header = f'blob {path.stat().st_size}\0'.encode()
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, lambda: hashlib.sha1(header)).hexdigest()


def download_verified(url: str, dest: str | Path, blob_id: str, timeout: float = 30) -> Path:
    """Download `url` to `dest` (atomically), check its git blob id, return `dest`.

    A file that fails the check is deleted and a DownloadError says so; nothing half-written
    is ever left at `dest` (utils.files.atomic_path).
    """
    from tqdm import tqdm
    dest = Path(dest)
    if offline():
        raise DownloadError(f'not downloading {url}: offline (HF_HUB_OFFLINE or '
                            'SEGEARTH_OFFLINE is set)')
    why = unreachable(url)
    if why:
        raise DownloadError(f'cannot download {url}: no network ({why})')
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(dest) as part:          # dest appears only once the check passed
            with urllib.request.urlopen(url, timeout=timeout) as response, \
                    open(part, 'wb') as out:
                total = int(response.headers.get('Content-Length') or 0) or None
                with tqdm(total=total, unit='B', unit_scale=True, desc=dest.name,
                          disable=None) as bar:
                    for chunk in iter(lambda: response.read(1 << 20), b''):
                        out.write(chunk)
                        bar.update(len(chunk))
            got = git_blob_id(part)
            if got != blob_id:
                raise DownloadError(f'{url} failed its check: git blob id {got}, expected '
                                    f'{blob_id} (a changed or corrupted file); it was deleted')
        return dest
    except DownloadError:
        raise
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, 'reason', None) or err
        raise DownloadError(f'cannot download {url}: {reason}') from None
