"""`tools/predict.py --progress json`: the predictor's progress as JSON lines, for programs
that run it as a subprocess (the QGIS plugin, qgis/segearth_ov_qgis) instead of parsing
tqdm's bars.

In this mode stdout carries only JSON objects, one per line; everything the predictor would
print for a person (the model line, the class table, warnings, `error:` lines) goes to
stderr. The events, in order:

    {"event": "start"}
    {"event": "stage", "stage": "model"}                      building the model
    {"event": "stage", "stage": "segment", "input": "a.tif", "file": 1, "files": 1}
    {"event": "progress", "input": "a.tif", "file": 1, "files": 1, "done": 3, "total": 9}
    {"event": "output", "input": "a.tif", "outputs": {"labels": "…_labels.tif", …},
     "crs": "EPSG:32632", "classes": [{"index": 0, "name": "road", "pixels": 10, …}]}
    {"event": "error", "message": "error: …"}                 every `error:` line
    {"event": "end", "status": 0}                             the exit status

`done`/`total` count the tiles of one input; `outputs` maps each kind (labels, probs,
polygons, overlay, summary, classes) to its file.
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

MODES = ('bar', 'json')


class _Silent:
    """The default mode (tqdm bars on stderr): no events."""
    active = False

    def stage(self, stage: str, **fields) -> None:
        pass

    def tiles(self, path, file: int, files: int):
        return None

    def output(self, result: dict) -> None:
        pass

    def end(self, status: int) -> int:
        return status


class _StderrTee(io.TextIOBase):
    """stderr that also sends each line starting with `error:` as an error event."""

    def __init__(self, stream, emit):
        self.stream, self.emit, self.pending = stream, emit, ''

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.pending += text
        *lines, self.pending = self.pending.split('\n')
        for line in lines:
            if line.startswith('error:'):
                self.emit(dict(event='error', message=line))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


class JsonEvents(_Silent):
    """JSON lines on `stream` (the real stdout)."""
    active = True

    def __init__(self, stream):
        self.stream = stream

    def emit(self, record: dict) -> None:
        self.stream.write(json.dumps(record) + '\n')
        self.stream.flush()

    def stage(self, stage: str, **fields) -> None:
        self.emit(dict(event='stage', stage=stage, **fields))

    def tiles(self, path, file: int, files: int):
        """The predictor's `progress=` callable for one input: a progress event per tile."""
        where = dict(input=str(path), file=file, files=files)
        self.stage('segment', **where)

        def report(done: int, total: int) -> None:
            self.emit(dict(event='progress', **where, done=done, total=total))
        return report

    def output(self, result: dict) -> None:
        outputs = {Path(p).stem.rsplit('_', 1)[-1]: p for p in result['outputs']}
        classes = [{k: c[k] for k in ('index', 'name', 'pixels', 'fraction', 'area_m2')}
                   for c in result['classes']]
        self.emit(dict(event='output', input=result['input'], outputs=outputs,
                       crs=result['crs'], classes=classes))

    def end(self, status: int) -> int:
        self.emit(dict(event='end', status=status))
        return status


@contextlib.contextmanager
def reporter(mode: str | None):
    """The events of `--progress MODE` for the run inside the block ('json': see above)."""
    if mode != 'json':
        yield _Silent()
        return
    events = JsonEvents(sys.stdout)
    tee = _StderrTee(sys.stderr, events.emit)
    with contextlib.redirect_stdout(tee), contextlib.redirect_stderr(tee):
        events.emit(dict(event='start'))
        yield events
