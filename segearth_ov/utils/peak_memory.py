"""Peak resident memory of this process, resettable (Linux), for the benchmark scripts
(tools/benchmark_scene.py, tools/benchmark_vectors.py) and the memory tests.

`ru_maxrss` only grows, so two measurements in one process would see the larger of both;
writing 5 to /proc/self/clear_refs resets the kernel's high-water mark (VmHWM) instead.
"""
from __future__ import annotations

import resource


def _status_kb(key: str) -> int | None:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Start a new peak measurement; False where the platform cannot reset it."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Peak resident memory since the last reset (or since the start of the process)."""
    kb = _status_kb('VmHWM')
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb * 1024


def rss_bytes() -> int:
    """Resident memory now (0 where unknown)."""
    return (_status_kb('VmRSS') or 0) * 1024


def release_free_memory() -> None:
    """Hand freed heap memory back to the system (glibc's malloc_trim), so that a following
    peak measurement starts from live memory only; a no-op where it is not available."""
    import ctypes
    import ctypes.util
    try:
        ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass
