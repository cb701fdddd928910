"""Another process holding a work dir's lock (segearth_ov/training/workdir.py), for tests."""
from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

WORKDIR_PY = Path(__file__).resolve().parents[1] / 'segearth_ov' / 'training' / 'workdir.py'
# workdir.py alone (importing the package would load mmseg: seconds per process)
HOLD = '''
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location('workdir', sys.argv[1])
workdir = importlib.util.module_from_spec(spec)
spec.loader.exec_module(workdir)
lock = workdir.acquire(sys.argv[2])
print('holding', flush=True)
time.sleep(600)
'''


@contextlib.contextmanager
def lock_held_by_another_process(work_dir):
    """Yields the holder (a Popen) once it holds the lock; SIGKILLs it at the end."""
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(WORKDIR_PY), str(work_dir)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == 'holding'
        yield proc
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
