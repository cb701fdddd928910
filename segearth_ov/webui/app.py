"""The web UI's HTTP API and page (FastAPI). `create_app` is what tests and uvicorn run.

Every /api/ call needs the per-launch token and every request an allowed Host (`guard`);
every raster a user gave is opened only by the driver `formats` accepted; `retention` keeps
uploads, job outputs and the registries within their limits.

Endpoints (JSON unless said): GET / (the page), GET /api/info, GET /api/files (the
--data-dir picker), POST /api/scenes?name=F (the file as an
application/octet-stream body), POST /api/scenes/pick,
GET /api/scenes/{id}, GET /api/scenes/{id}/tiles/{z}/{x}/{y}.png, GET
/api/scenes/{id}/image.png, POST /api/jobs, GET /api/jobs/{id}, POST
/api/jobs/{id}/cancel, GET /api/jobs/{id}/tiles/{z}/{x}/{y}.png, GET
/api/jobs/{id}/image.png, GET /api/jobs/{id}/pixel?lat=&lng=, GET
/api/jobs/{id}/download/{labels|overlay|summary}, GET
/api/jobs/{id}/download/polygons?format=gpkg|geojson|fgb.
"""
from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path

import numpy as np
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from .guard import Guard, allowed_hosts
from .jobs import CHOICES, JobQueue
from .retention import Housekeeper, Limits
from .safety import RequestError, inside, safe_file_name, save_stream
from .scenes import SceneRegistry, open_scene
from . import tiles as T

STATIC = Path(__file__).resolve().parent / 'static'
ROOT = Path(__file__).resolve().parents[2]
RASTER_SUFFIXES = ('.tif', '.tiff', '.png', '.jpg', '.jpeg', '.jp2', '.vrt', '.bmp')


def leaflet_dir() -> Path | None:
    """Leaflet's dist folder as tools/install.sh installs it from npm (or $SEGEARTH_LEAFLET)."""
    candidates = [os.environ.get('SEGEARTH_LEAFLET'),
                  Path(sys.prefix) / 'share' / 'segearth-webui' / 'node_modules' / 'leaflet' / 'dist']
    for c in candidates:
        if c and (Path(c) / 'leaflet.js').is_file():
            return Path(c)
    return None


def class_presets() -> dict:
    """Class lists of the datasets (configs/cls_*.txt) as the text box's syntax."""
    out = {}
    for f in sorted((ROOT / 'configs').glob('cls_*.txt')):
        lines = [ln.strip() for ln in f.read_text().splitlines() if ln.strip()]
        out[f.stem[4:]] = ';'.join(lines)
    return out


def _bands(text):
    if text in (None, ''):
        return None
    try:
        bands = tuple(int(b) for b in str(text).split(','))
    except ValueError:
        raise RequestError(f'bands {text!r}: give band numbers from 1 separated by commas, '
                           'e.g. 3,2,1') from None
    if len(bands) not in (1, 3) or min(bands) < 1:
        raise RequestError(f'bands {text!r}: give 1 or 3 band numbers from 1, e.g. 3,2,1 or 1')
    return bands


def _percentiles(value):
    """(low, high) percentiles, in steps of 0.1 (a stretch per value is computed and kept)."""
    if value in (None, ''):
        return (2.0, 98.0)
    try:
        lo, hi = (float(v) for v in (value.split(',') if isinstance(value, str) else value))
    except (TypeError, ValueError):
        lo = hi = -1
    if not (0 <= lo < hi <= 100 and all(abs(v * 10 - round(v * 10)) < 1e-6 for v in (lo, hi))):
        raise RequestError(f'stretch {value!r}: give two percentiles 0 ≤ low < high ≤ 100 '
                           'with at most one decimal, e.g. 2,98 or 0.5,99.5')
    return (round(lo, 1), round(hi, 1))


def _hidden(text) -> list[int]:
    try:
        return [int(v) for v in text.split(',') if v.strip()] if text else []
    except ValueError:
        raise RequestError(f'hide={text!r}: give class indices separated by commas') from None


def check_basemap(url: str | None) -> str | None:
    """An http(s) XYZ template with {z}, {x} and {y}, or ValueError naming what is missing."""
    if not url:
        return None
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    if parts.scheme not in ('http', 'https') or not parts.netloc or \
            not all(k in url for k in ('{z}', '{x}', '{y}')) or any(c in url for c in '"<>\\ '):
        raise ValueError(f'--basemap {url!r}: give an http(s) tile URL template with {{z}}, '
                         '{x} and {y}, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png')
    return url


def create_app(settings: dict, scene_options, data_dir: Path | None, work_dir: Path,
               max_upload_mb: float = 1024, threads: int | None = None, classes: str = '',
               host: str = '127.0.0.1', allow_hosts=(), token: str | None = None,
               limits: Limits | None = None, basemap: str | None = None):
    """The FastAPI app: model `settings` as tools/predict.py takes them, fixed for its life;
    `classes` fills the page's class box at first. `host` is the bound address (with
    `allow_hosts`, the Host names answered); `token` (random if None) is app.state.token;
    `basemap`: an XYZ URL template the page shows under the scene (None: no basemap, and
    nothing the page loads comes from outside this server)."""
    from fastapi import FastAPI
    from fastapi.responses import FileResponse, JSONResponse, Response
    from fastapi.staticfiles import StaticFiles

    from ..mapping.raster_io import gdal_env, open_raster
    from ..utils.images import ImageReadError

    basemap = check_basemap(basemap)
    work_dir = Path(work_dir).resolve()
    data_dir = Path(data_dir).resolve() if data_dir else None
    if data_dir is not None and not data_dir.is_dir():
        raise ValueError(f'--data-dir {data_dir} is not a folder')
    max_bytes = int(max_upload_mb * 2 ** 20)
    limits = limits or Limits()
    scenes = SceneRegistry()
    keeper = None
    jobs = JobQueue(work_dir, settings, scene_options, threads, limits.max_queued,
                    on_finish=lambda job: keeper.prune())
    keeper = Housekeeper(work_dir, scenes, jobs, limits)
    keeper.prune()                          # folders of earlier runs
    app = FastAPI(title='SegEarth-OV map', docs_url=None, redoc_url=None, openapi_url=None)
    app.state.jobs, app.state.scenes, app.state.housekeeper = jobs, scenes, keeper
    app.state.token = token or secrets.token_urlsafe(24)
    app.add_middleware(Guard, token=app.state.token, hosts=allowed_hosts(host, allow_hosts))

    @app.exception_handler(RequestError)
    async def _refused(request, err: RequestError):
        return JSONResponse({'error': str(err)}, status_code=err.status)

    @app.exception_handler(ImageReadError)
    async def _unreadable(request, err: ImageReadError):     # e.g. removed by retention meanwhile
        return JSONResponse({'error': str(err)}, status_code=404)

    png = dict(media_type='image/png', headers={'Cache-Control': 'no-store'})
    empty_tile = T.png_bytes(np.zeros((T.TILE, T.TILE, 4), np.uint8))

    @app.get('/')
    def page():
        return FileResponse(STATIC / 'index.html', headers={'Cache-Control': 'no-store'})

    app.mount('/static', StaticFiles(directory=STATIC), name='static')
    lf = leaflet_dir()
    if lf is not None:
        app.mount('/vendor/leaflet', StaticFiles(directory=lf), name='leaflet')

    @app.get('/api/info')
    def info():
        keeper.prune()                      # the page loads: a moment to apply --keep-hours
        return dict(model={k: str(v) for k, v in settings.items()}, choices=CHOICES,
                    presets=class_presets(), data_dir=data_dir is not None,
                    max_upload_mb=max_upload_mb, leaflet=lf is not None, classes=classes,
                    basemap=basemap)

    @app.get('/api/files')
    def files():
        if data_dir is None:
            return dict(files=[], message='the server was started without --data-dir')
        found = []
        for p in sorted(data_dir.rglob('*')):
            if len(found) >= 1000:
                break
            if p.suffix.lower() in RASTER_SUFFIXES and p.is_file() and \
                    not any(part.startswith('.') for part in p.relative_to(data_dir).parts):
                rp = p.resolve()
                if rp == data_dir or data_dir in rp.parents:    # links leading out are hidden
                    found.append(str(p.relative_to(data_dir)))
        return dict(files=found)

    @app.post('/api/scenes')
    async def upload(request: Request, name: str = ''):
        name = safe_file_name(name)
        if name.lower().endswith(('.vrt', '.xml')):    # a VRT could point at any file
            raise RequestError(f'{name!r}: VRT files cannot be uploaded; upload the raster')
        length = request.headers.get('content-length')
        length = int(length) if length and length.isdigit() else None
        if length is not None and length > max_bytes:
            raise RequestError(f'the upload ({length / 2 ** 20:.1f} MB) is larger than '
                               f'the limit of {max_upload_mb:g} MB: choose a smaller file, or '
                               'start the server with a larger --max-upload-mb', 413)
        folder = work_dir / 'uploads' / secrets.token_hex(6)
        limit = keeper.begin_upload(folder, max_bytes, length)
        try:
            fix = 'start the server with a larger --max-upload-mb' if limit == max_bytes else \
                'wait for queued jobs to finish, or start the server with a larger --max-work-gb'
            await save_stream(request.stream(), folder / name, limit, fix)
            scene = await run_in_threadpool(open_scene, folder / name, name, 'upload')
            scenes.add(scene)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)       # a refused upload leaves nothing
            raise
        finally:
            keeper.end_upload(folder)
        keeper.prune()
        return scene.info()

    @app.post('/api/scenes/pick')
    def pick(body: dict):
        if data_dir is None:
            raise RequestError('the server was started without --data-dir: upload the file '
                               'instead')
        path = inside(data_dir, body.get('path'))
        scene = scenes.add(open_scene(path, path.name, 'data-dir', data_dir))
        keeper.prune()
        return scene.info()

    @app.get('/api/scenes/{sid}')
    def scene_info(sid: str):
        return scenes.get(sid).info()

    def _scene_rgba(scene, data, covered, bands, percentiles, src):
        chosen, alpha, nodata, stretch = scene.reading(src, bands, percentiles)
        n = len(chosen)
        return T.scene_rgba(data[:n], covered, stretch, nodata,
                            data[n] if alpha is not None else None)

    @app.get('/api/scenes/{sid}/tiles/{z}/{x}/{y}.png')
    def scene_tile(sid: str, z: int, x: int, y: int, bands: str = '', stretch: str = ''):
        scene = scenes.get(sid)
        if scene.crs is None:
            raise RequestError('this image has no CRS: use /image.png (the image view)', 404)
        b, p = _bands(bands), _percentiles(stretch)
        with gdal_env(), open_raster(scene.path, scene.name, scene.driver) as src:
            chosen, alpha, nodata, _ = scene.reading(src, b, p)
            warped = T.read_tile(src, chosen + ([alpha] if alpha else []), z, x, y)
            if warped is None:
                return Response(empty_tile, **png)
            return Response(T.png_bytes(_scene_rgba(scene, warped[0], warped[1], b, p, src)),
                            **png)

    @app.get('/api/scenes/{sid}/image.png')
    def scene_image(sid: str, bands: str = '', stretch: str = ''):
        scene = scenes.get(sid)
        b, p = _bands(bands), _percentiles(stretch)
        with gdal_env(), open_raster(scene.path, scene.name, scene.driver) as src:
            chosen, alpha, _, _ = scene.reading(src, b, p)
            data = T.decimated(src, chosen + ([alpha] if alpha else []))
            return Response(T.png_bytes(_scene_rgba(scene, data, None, b, p, src)), **png)

    @app.post('/api/jobs')
    def submit(body: dict):
        scene = scenes.get(str(body.get('scene', '')))
        classes = body.get('classes')
        if not isinstance(classes, str) or not classes.strip(' ;,'):
            raise RequestError('the class list is empty: type classes separated by ";" and '
                               'synonyms by ",", e.g. "building,roof;road;water,river"')
        bands, percentiles = _bands(body.get('bands')), _percentiles(body.get('stretch'))
        with gdal_env(), open_raster(scene.path, scene.name, scene.driver) as src:
            scene.reading(src, bands, percentiles)          # bands the file lacks: refused now
        keeper.prune()
        with keeper.lock:       # no removal between the scene's lookup and its job's arrival
            scene = scenes.get(scene.id)
            job = jobs.submit(scene, classes, body.get('model_options'), bands, percentiles)
        return job.status(jobs.position(job))

    @app.get('/api/jobs/{jid}')
    def status(jid: str):
        job = jobs.get(jid)
        return job.status(jobs.position(job))

    @app.post('/api/jobs/{jid}/cancel')
    def cancel(jid: str):
        job = jobs.cancel(jid)
        return job.status(jobs.position(job))

    def _driver(output: Path) -> str:
        """The driver of a job's own output (written by ClassMapWriter): GTiff or PNG."""
        return 'PNG' if output.suffix == '.png' else 'GTiff'

    def _colours(job):
        return np.asarray(job.colours(), np.uint8)

    @app.get('/api/jobs/{jid}/tiles/{z}/{x}/{y}.png')
    def job_tile(jid: str, z: int, x: int, y: int, hide: str = ''):
        job = jobs.get(jid)
        path = job.file('labels')
        if job.scene.crs is None:
            raise RequestError('this image has no CRS: use /image.png (the image view)', 404)
        with gdal_env(), open_raster(path, 'class map', _driver(path)) as src:
            warped = T.read_tile(src, [1], z, x, y, nodata=255)
        if warped is None:
            return Response(empty_tile, **png)
        return Response(T.png_bytes(T.labels_rgba(warped[0][0], _colours(job), _hidden(hide))),
                        **png)

    @app.get('/api/jobs/{jid}/image.png')
    def job_image(jid: str, hide: str = ''):
        job = jobs.get(jid)
        path = job.file('labels')
        with gdal_env(), open_raster(path, 'class map', _driver(path)) as src:
            labels = T.decimated(src, [1])[0]
        return Response(T.png_bytes(T.labels_rgba(labels, _colours(job), _hidden(hide))), **png)

    @app.get('/api/jobs/{jid}/pixel')
    def pixel(jid: str, lat: float, lng: float):
        """Class and per-class probabilities under a map click (image view: lat = -row, lng = col)."""
        job = jobs.get(jid)
        labels_path, probs_path = job.file('labels'), job.file('probs')
        scene = job.scene
        if scene.crs is not None:
            from rasterio.warp import transform
            with gdal_env(), open_raster(labels_path, 'class map', _driver(labels_path)) as src:
                xs, ys = transform('EPSG:4326', src.crs, [lng], [lat])
                col, row = ~src.transform @ (xs[0], ys[0])
        else:
            row, col = -lat, lng
        row, col = int(np.floor(row)), int(np.floor(col))
        if not (0 <= row < scene.height and 0 <= col < scene.width):
            return dict(inside=False, row=row, col=col)
        from rasterio.windows import Window
        w = Window(col, row, 1, 1)
        with gdal_env(), open_raster(labels_path, 'class map', _driver(labels_path)) as src:
            label = int(src.read(1, window=w)[0, 0])
        with gdal_env(), open_raster(probs_path, 'probabilities', 'GTiff') as src:
            p = src.read(window=w)[:, 0, 0].astype(float) / 255
        names = [c['name'] for c in job.result['classes']]
        return dict(inside=True, row=row, col=col,
                    label=None if label == 255 else label,
                    name='no data' if label == 255 else names[label],
                    probabilities={n: round(float(v), 3) for n, v in zip(names, p)})

    @app.get('/api/jobs/{jid}/download/{kind}')
    def download(jid: str, kind: str, format: str = 'gpkg'):     # noqa: A002  (query name)
        from ..mapping.vectors import MEDIA_TYPES
        job = jobs.get(jid)
        if kind == 'polygons':
            path = job.polygons(format)
            return FileResponse(path, filename=path.name, media_type=MEDIA_TYPES[format])
        path = job.file(kind if kind != 'probs' else '')
        media = {'.tif': 'image/tiff; application=geotiff; profile=cloud-optimized',
                 '.png': 'image/png', '.json': 'application/json'}
        return FileResponse(path, filename=path.name, media_type=media[path.suffix])

    return app
