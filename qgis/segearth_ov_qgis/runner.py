"""Run the SegEarth-OV predictor of another Python environment as a subprocess.

QGIS's Python has no torch, so the plugin runs the predictor of the environment where
SegEarth-OV is installed (`segearth-predict`, or that environment's Python with
`-m segearth_ov.mapping.cli`) with `--progress json` and follows its JSON lines. No QGIS
import here: the plugin's algorithms wrap this module, and the project's tests run it
without QGIS too.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

CLI_MODULE = 'segearth_ov.mapping.cli'
CONSOLE_SCRIPT = 'segearth-predict'
ENV_VARIABLE = 'SEGEARTH_OV_PYTHON'


class PredictorNotFound(RuntimeError):
    """No environment with SegEarth-OV was found."""


class PredictorFailed(RuntimeError):
    """The predictor ended with an error; the message is its `error:` line(s)."""


class Canceled(RuntimeError):
    """The user canceled the run; the predictor was stopped."""


def _bin(prefix) -> Path:
    return Path(prefix) / ('Scripts' if os.name == 'nt' else 'bin')


def _python_of(prefix) -> Path | None:
    for name in ('python.exe', 'python3', 'python'):
        exe = _bin(prefix) / name
        if exe.is_file():
            return exe
    return None


def command_for(executable) -> list[str]:
    """The command line prefix of a configured executable: `segearth-predict` as it is, a
    Python interpreter with `-m segearth_ov.mapping.cli`."""
    exe = str(executable)
    if Path(exe).name.lower().startswith('python'):
        return [exe, '-m', CLI_MODULE]
    return [exe]


def _has_segearth(python: Path, environ) -> bool:
    probe = 'import importlib.util, sys; sys.exit(importlib.util.find_spec("segearth_ov") is None)'
    try:
        return subprocess.run([str(python), '-c', probe], capture_output=True, env=dict(environ),
                              cwd=os.path.abspath(os.sep), timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def candidates(setting: str | None = None, environ=None, prefixes=None) -> list[str]:
    """Where the predictor is looked for, in order: the plugin setting, $SEGEARTH_OV_PYTHON,
    the activated environment QGIS was started from ($VIRTUAL_ENV, $CONDA_PREFIX), QGIS's
    own prefix (`prefixes`, default sys.prefix: a conda environment holding both), and
    `segearth-predict` on the PATH."""
    environ = os.environ if environ is None else environ
    found = [s for s in (setting, environ.get(ENV_VARIABLE)) if s]
    if prefixes is None:
        prefixes = (sys.prefix,)
    for prefix in (environ.get('VIRTUAL_ENV'), environ.get('CONDA_PREFIX'), *prefixes):
        if not prefix:
            continue
        script = _bin(prefix) / CONSOLE_SCRIPT
        if script.is_file():
            found.append(str(script))
        python = _python_of(prefix)
        if python is not None:
            found.append(str(python))
    on_path = shutil.which(CONSOLE_SCRIPT, path=environ.get('PATH'))
    if on_path:
        found.append(on_path)
    return list(dict.fromkeys(found))


def find_predictor(setting: str | None = None, environ=None, prefixes=None) -> list[str]:
    """The command prefix of the first candidate that runs SegEarth-OV (a configured one is
    taken as it is, if it exists); PredictorNotFound says where to set it."""
    environ = os.environ if environ is None else environ
    configured = [s for s in (setting, environ.get(ENV_VARIABLE)) if s]
    for exe in candidates(setting, environ, prefixes):
        if not Path(exe).is_file():
            if exe in configured:
                raise PredictorNotFound(
                    f'the SegEarth-OV executable {exe} does not exist: set its Python (or '
                    'segearth-predict) in Settings ▸ Options ▸ Processing ▸ Providers ▸ '
                    'SegEarth-OV')
            continue
        command = command_for(exe)
        if exe in configured or len(command) == 1 or _has_segearth(Path(exe), environ):
            return command
    raise PredictorNotFound(
        'no Python environment with SegEarth-OV found: start QGIS from the activated '
        'environment, or set its Python (e.g. /path/to/SegEarth-OV/.venv/bin/python) in '
        'Settings ▸ Options ▸ Processing ▸ Providers ▸ SegEarth-OV')


def _pump(stream, tag, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ''):
        lines.put((tag, line.rstrip('\n')))
    lines.put((tag, None))


def run(command: list[str], on_event, on_text=None, is_canceled=lambda: False,
        poll: float = 0.1, env=None, stop_timeout: float = 10.0) -> list[dict]:
    """Run the predictor `command` (with --progress json) and call on_event(event) for each
    JSON line of its stdout and on_text(line) for each line of its stderr. The predictor is
    stopped (SIGTERM, then SIGKILL) as soon as is_canceled() is true → Canceled; a non-zero
    exit → PredictorFailed with its `error:` lines. Returns the `output` events."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding='utf-8', errors='replace', env=env, bufsize=1)
    lines: queue.Queue = queue.Queue()
    pumps = [threading.Thread(target=_pump, args=(s, tag, lines), daemon=True)
             for s, tag in ((proc.stdout, 'out'), (proc.stderr, 'err'))]
    for t in pumps:
        t.start()
    outputs, errors, printed, tail, open_streams = [], [], [], [], 2
    try:
        while open_streams:
            if is_canceled():
                _stop(proc, stop_timeout)
                raise Canceled('canceled: the SegEarth-OV predictor was stopped')
            try:
                tag, line = lines.get(timeout=poll)
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
            elif tag == 'out':
                event = _event(line)
                if event is None:
                    tail.append(line)
                    continue
                if event.get('event') == 'output':
                    outputs.append(event)
                elif event.get('event') == 'error':
                    errors.append(event['message'])
                on_event(event)
            else:
                tail = (tail + [line])[-20:]
                if line.startswith('error:'):
                    printed.append(line)    # also before the JSON mode began
                if on_text is not None:
                    on_text(line)
        status = proc.wait()
    finally:
        if proc.poll() is None:
            _stop(proc, stop_timeout)
        for t in pumps:
            t.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    if status != 0:
        message = '\n'.join(errors or printed or tail[-5:]) or 'no message'
        how = f'exit status {status}' if status > 0 else f'killed by signal {-status}'
        raise PredictorFailed(f'the SegEarth-OV predictor failed ({how}):\n{message}')
    return outputs


def _event(line: str):
    if not line.startswith('{'):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _stop(proc: subprocess.Popen, timeout: float) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
