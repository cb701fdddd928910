"""Segmentation jobs: a queue, one job at a time per model, progress over tiles, cancel.

Why one worker thread: a model is a few hundred MB and uses every core, so running two jobs
on it at once only makes both slower; queued jobs wait their turn, and the page polls a
job's status by its id (which is in the page's URL, so a reload shows it again). Built
models are kept (a few, keyed by their settings) so the next job starts at once.
"""
from __future__ import annotations

import json
import logging
import secrets
import shutil
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .formats import user_env
from .retention import make_folder, make_private
from .safety import RequestError
from .scenes import Scene

logger = logging.getLogger('segearth_ov')

# what the page's advanced panel may change; weights always come from the server's options
CHOICES = dict(
    clip_type=['CLIP', 'OpenCLIP', 'MetaCLIP', 'RemoteCLIP', 'GeoRSCLIP', 'SkyCLIP', 'FarSLIP',
               'LRSCLIP', 'AlignEarth'],
    model_type=['vanilla', 'MaskCLIP', 'SCLIP', 'ClearCLIP', 'SegEarth', 'NACLIP', 'GEM'],
    upsampler=['jbu_one', 'jbu_stack', 'bilinear', 'none'],
)
MAX_MODELS = 2
# class names the text encoder embeds for one job (classes × synonyms): each is a channel of
# every tile's logits, so memory grows with them (the dataset presets have at most 16)
MAX_QUERIES = 256


class JobCancelled(Exception):
    pass


@dataclass(eq=False)         # jobs are compared by identity
class Job:
    id: str
    scene: Scene
    classes: str
    model_options: dict
    bands: tuple | None
    percentiles: tuple
    out_dir: Path
    state: str = 'queued'         # queued, running, done, failed, cancelled
    done: int = 0
    total: int = 0
    message: str = ''
    result: dict | None = None
    created: float = field(default_factory=time.time)
    cancel_requested: bool = False
    lines: list = field(default_factory=list)     # the classes, one line per class

    def status(self, position: int | None = None) -> dict:
        return dict(id=self.id, scene=self.scene.info(), classes=self.classes,
                    model_options=self.model_options,
                    bands=list(self.bands) if self.bands else None,
                    percentiles=list(self.percentiles), state=self.state,
                    progress=dict(done=self.done, total=self.total), message=self.message,
                    queue_position=position, result=self.result,
                    colours=self.colours())

    def colours(self) -> list | None:
        """The class map's palette (the legend's swatches)."""
        if not self.result:
            return None
        from ..visualization import class_colours
        return class_colours([c['synonyms'] for c in self.result['classes']]).tolist()

    def file(self, kind: str) -> Path:
        """An output of the finished job: labels, probs, overlay or summary."""
        if self.state != 'done' or not self.result:
            raise RequestError(f'job {self.id} is {self.state}: its outputs exist once it is '
                               'done', 409)
        stem = Path(self.scene.name).stem
        fmt = 'tif' if self.scene.crs else 'png'
        names = dict(labels=f'{stem}_labels.{fmt}', probs=f'{stem}_probs.tif',
                     overlay=f'{stem}_overlay.png', summary=f'{stem}_summary.json')
        if kind not in names:
            raise RequestError(f'unknown download {kind!r}: use labels, overlay or summary', 404)
        path = self.out_dir / names[kind]
        if not path.is_file():
            raise RequestError(f'the outputs of job {self.id} were removed (see --keep-hours, '
                               '--max-jobs, --max-work-gb): run it again', 404)
        return path

    def polygons(self, fmt: str) -> Path:
        """The class polygons in `fmt` (gpkg, geojson, fgb), traced from the job's class map
        and probabilities at the first download (`mapping.vectors`), then kept with its outputs."""
        from ..mapping.vectors import VECTOR_FORMATS, VectorOptions, vector_path, vectorize
        if fmt not in VECTOR_FORMATS:
            raise RequestError(f'polygon format {fmt!r}: use ' + ', '.join(VECTOR_FORMATS), 404)
        labels, probs = self.file('labels'), self.file('probs')
        path = vector_path(labels, fmt)
        with _POLYGONS:             # one tracing at a time (they share temporary names)
            if not path.is_file():
                names = [c['name'] for c in self.result['classes']]
                vectorize(labels, path, names, probs, VectorOptions(format=fmt),
                          driver='PNG' if labels.suffix == '.png' else 'GTiff')
                make_private(self.out_dir)
        return path


_POLYGONS = threading.Lock()


def check_model_options(options: dict | None) -> dict:
    """The advanced panel's options, refused unless they are among CHOICES / a threshold."""
    out = {}
    for key, value in (options or {}).items():
        if value in (None, ''):
            continue
        if key == 'prob_thd':
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = -1.0
            if not 0 <= value <= 1:
                raise RequestError(f'probability threshold {options[key]!r}: give a number '
                                   'from 0 to 1')
            out[key] = value
        elif key in CHOICES:
            if value not in CHOICES[key]:
                raise RequestError(f'{key} {value!r} is not offered: choose one of '
                                   + ', '.join(CHOICES[key]))
            out[key] = value
        else:
            raise RequestError(f'model option {key!r} cannot be set from the page (weights and '
                               'other settings are the server\'s command-line options); '
                               'offered: prob_thd, ' + ', '.join(CHOICES))
    return out


class JobQueue:
    """Jobs in arrival order, run by one worker thread with cached models. At most
    `max_queued` wait; `on_finish(job)` runs after each (the retention limits)."""

    def __init__(self, work_dir: Path, settings: dict, scene_options, threads: int | None = None,
                 max_queued: int = 20, on_finish=None, max_job_gb: float = 8.0):
        self.work_dir, self.settings, self.scene_options = work_dir, dict(settings), scene_options
        self.max_job_gb = max_job_gb
        self.threads, self.max_queued, self.on_finish = threads, max_queued, on_finish
        self.jobs: dict[str, Job] = {}
        self._waiting: list[Job] = []
        self._models: dict = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._worker = threading.Thread(target=self._run, name='segearth-webui-jobs', daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ requests
    def submit(self, scene: Scene, classes: str, model_options: dict | None, bands,
               percentiles) -> Job:
        from ..mapping.predictor import parse_classes
        if not isinstance(classes, str):
            raise RequestError('classes must be text, e.g. "building,roof;road;water"')
        # a list of lines, never the text itself: parse_classes would read a text naming a
        # file as a class-name file, and the page must not read the server's files
        lines = [c.strip() for c in classes.split(';') if c.strip()]
        try:
            names = parse_classes(lines or '')
        except ValueError as err:
            raise RequestError(str(err)) from None
        if len(names.queries) > MAX_QUERIES:
            raise RequestError(f'{len(names.queries)} class names (classes and synonyms '
                               f'together) are more than the {MAX_QUERIES} a job may have: '
                               'give fewer synonyms')
        opts = check_model_options(model_options)
        self.check_memory(scene, len(names.classes), len(names.queries), bands, percentiles)
        jid = secrets.token_hex(6)
        job = Job(jid, scene, classes, opts, bands, percentiles, self.work_dir / 'jobs' / jid)
        job.lines = lines
        with self._wake:
            if len(self._waiting) >= self.max_queued:
                raise RequestError(f'{len(self._waiting)} jobs are already waiting: wait for '
                                   'them to finish, cancel one, or start the server with a '
                                   'larger --max-queued', 429)
            self.jobs[jid] = job
            self._waiting.append(job)
            self._wake.notify()
        return job

    def options(self, bands, percentiles):
        """The scene options of a job: the server's, with the page's bands and stretch."""
        from dataclasses import replace
        return replace(self.scene_options, bands=bands or self.scene_options.bands,
                       percentiles=percentiles)

    def check_memory(self, scene: Scene, num_classes: int, num_queries: int, bands,
                     percentiles) -> None:
        """Refuse a job whose peak memory, as the predictor estimates it (--dry-run's
        figure), is above --max-job-gb."""
        from ..mapping.estimates import model_memory_bytes, peak_memory
        from ..mapping.predictor import slide_settings
        with scene.open() as src:
            try:
                _, parts = peak_memory(src, self.options(bands, percentiles),
                                       slide_settings(settings=self.settings), num_classes,
                                       num_queries, model_memory_bytes(
                                           vit_type=self.settings.get('vit_type', 'ViT-B/16')),
                                       save_probs=True)
            except ValueError as err:
                raise RequestError(str(err)) from None
        need = sum(parts.values()) / 2 ** 30
        if need > self.max_job_gb:
            raise RequestError(f'this job needs an estimated {need:.2f} GB of memory '
                               f'({scene.width} × {scene.height} px, {num_queries} class names), '
                               f'more than --max-job-gb {self.max_job_gb:g}: give fewer classes '
                               'or synonyms, or start the server with a larger --max-job-gb', 413)

    def get(self, jid: str) -> Job:
        job = self.jobs.get(jid)
        if job is None:
            raise RequestError(f'no job {jid!r} (jobs last as long as the server runs, and '
                               'are removed after a while, see --keep-hours)', 404)
        return job

    def all(self) -> list[Job]:
        with self._lock:
            return list(self.jobs.values())

    def remove(self, jid: str) -> None:
        """Forget a finished job (its folder is the caller's to delete)."""
        with self._lock:
            job = self.jobs.get(jid)
            if job is not None and job.state not in ('queued', 'running'):
                del self.jobs[jid]

    def position(self, job: Job) -> int | None:
        if job.state != 'queued':
            return None
        with self._lock:
            if job not in self._waiting:
                return None
            running = sum(j.state == 'running' for j in self.jobs.values())
            return running + self._waiting.index(job)      # jobs ahead of it

    def cancel(self, jid: str) -> Job:
        job = self.get(jid)
        with self._lock:
            if job.state in ('queued', 'running'):
                job.cancel_requested = True
                if job.state == 'queued':
                    job.state, job.message = 'cancelled', 'cancelled before it started'
                    self._waiting.remove(job)
        return job

    # ------------------------------------------------------------------ worker
    def _model(self, job: Job):
        from ..mapping.predictor import build_model
        settings = dict(self.settings)
        opts = dict(job.model_options)
        prob_thd = opts.pop('prob_thd', None)
        if 'upsampler' in opts:
            opts['upsampler'] = None if opts['upsampler'] == 'none' else opts['upsampler']
        settings.update(opts)
        key = json.dumps(settings, sort_keys=True, default=str)
        model = self._models.pop(key, None)
        if model is None:
            job.message = 'building the model'
            model = build_model(job.lines, **settings)
            model.webui_default_thd = model.prob_thd
        self._models[key] = model                       # most recent last
        while len(self._models) > MAX_MODELS:
            self._models.pop(next(iter(self._models)))
        model.prob_thd = model.webui_default_thd if prob_thd is None else prob_thd
        return model

    def _run(self) -> None:
        if self.threads:
            import torch
            torch.set_num_threads(self.threads)
        while True:
            with self._wake:
                while not self._waiting:
                    self._wake.wait()
                job = self._waiting.pop(0)
                job.state = 'running'
            try:
                self._execute(job)
                job.state, job.message = 'done', f'done in {job.result["seconds"]:.1f}s'
            except JobCancelled:
                job.state, job.message = 'cancelled', 'cancelled while running'
                shutil.rmtree(job.out_dir, ignore_errors=True)     # nothing of it remains
            except Exception as err:       # noqa: BLE001  (reported on the page)
                logger.error('job %s failed:\n%s', job.id, traceback.format_exc())
                text = f'{type(err).__name__}: {err}'.replace(str(job.scene.path), job.scene.name)
                job.state, job.message = 'failed', text.replace(str(job.out_dir), 'its folder')
                if job.out_dir.is_dir() and not any(job.out_dir.iterdir()):
                    shutil.rmtree(job.out_dir, ignore_errors=True)
            if self.on_finish is not None:
                try:
                    self.on_finish(job)
                except Exception:       # noqa: BLE001  (housekeeping must not stop the worker)
                    logger.error('after job %s:\n%s', job.id, traceback.format_exc())

    def _execute(self, job: Job) -> None:
        from ..mapping.predictor import ensure_classes, parse_classes, predict_file
        model = self._model(job)
        ensure_classes(model, parse_classes(job.lines))
        options = self.options(job.bands, job.percentiles)

        def progress(done, total):
            if job.cancel_requested:
                raise JobCancelled()
            job.done, job.total = done, total
            job.message = f'tile {done} of {total}'

        make_folder(job.out_dir)
        with user_env():
            job.result = predict_file(job.scene.path, model, job.out_dir, options=options,
                                      save_probs=True, probs_dtype='uint8', overlay=True,
                                      progress=progress, driver=job.scene.driver)
        make_private(job.out_dir)
