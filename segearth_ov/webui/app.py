"""The web UI's HTTP API and page (FastAPI). `create_app` is what tests and uvicorn run.

Every /api/ call needs the per-launch token and every request an allowed Host (`guard`);
every raster a user gave is opened only by the driver `formats` accepted; `retention` keeps
uploads, job outputs and the registries within their limits.

Endpoints (JSON unless said): GET / (the page) here; the API in `routes/`, one router per
area: `meta` (GET /api/info, GET /api/files), `scenes` (POST /api/scenes, POST
/api/scenes/pick, GET /api/scenes/{id} and its tiles and image) and `jobs` (POST /api/jobs,
status, cancel, class-map tiles and image, pixel, downloads).
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from .guard import Guard, allowed_hosts
from .jobs import JobQueue
from .retention import Housekeeper, Limits
from .routes import AppContext, jobs as job_routes, meta, scenes as scene_routes
from .safety import RequestError
from .scenes import SceneRegistry

STATIC = Path(__file__).resolve().parent / 'static'


def leaflet_dir() -> Path | None:
    """Leaflet's dist folder as tools/install.sh installs it from npm (or $SEGEARTH_LEAFLET)."""
    candidates = [os.environ.get('SEGEARTH_LEAFLET'),
                  Path(sys.prefix) / 'share' / 'segearth-webui' / 'node_modules' / 'leaflet' / 'dist']
    for c in candidates:
        if c and (Path(c) / 'leaflet.js').is_file():
            return Path(c)
    return None


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
               limits: Limits | None = None, basemap: str | None = None,
               max_job_gb: float | None = None, upload_idle_s: float = 60.0):
    """The FastAPI app: model `settings` as tools/predict.py takes them, fixed for its life;
    `classes` fills the page's class box at first. `host` is the bound address (with
    `allow_hosts`, the Host names answered); `token` (random if None) is app.state.token;
    `basemap`: an XYZ URL template the page shows under the scene (None: no basemap, and
    nothing the page loads comes from outside this server); `max_job_gb`: a job whose
    estimated peak memory is larger is refused (None: 3/4 of this machine's memory);
    `upload_idle_s`: an upload sending nothing this long is refused."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException

    from ..utils.images import ImageReadError

    basemap = check_basemap(basemap)
    work_dir = Path(work_dir).resolve()
    data_dir = Path(data_dir).resolve() if data_dir else None
    if data_dir is not None and not data_dir.is_dir():
        raise ValueError(f'--data-dir {data_dir} is not a folder')
    limits = limits or Limits()
    if max_job_gb is None:
        max_job_gb = 0.75 * os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2 ** 30
    if not max_job_gb > 0:
        raise ValueError(f'--max-job-gb {max_job_gb}: give a number above 0')
    for folder in (work_dir, work_dir / 'uploads', work_dir / 'jobs'):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in (work_dir / 'uploads', work_dir / 'jobs'):
        folder.chmod(0o700)                     # uploads and results: this user's only
    scenes = SceneRegistry()
    keeper = None
    jobs = JobQueue(work_dir, settings, scene_options, threads, limits.max_queued,
                    on_finish=lambda job: keeper.prune(), max_job_gb=max_job_gb)
    keeper = Housekeeper(work_dir, scenes, jobs, limits)
    keeper.prune()                          # folders of earlier runs
    app = FastAPI(title='SegEarth-OV map', docs_url=None, redoc_url=None, openapi_url=None)
    app.state.jobs, app.state.scenes, app.state.housekeeper = jobs, scenes, keeper
    app.state.token = token or secrets.token_urlsafe(24)
    app.add_middleware(Guard, token=app.state.token, hosts=allowed_hosts(host, allow_hosts),
                       basemap=basemap)

    def scrub(text: str) -> str:
        """One line, without the server's folders (the client named files by their names)."""
        for folder, shown in ((work_dir, '<work-dir>'), (data_dir, '<data-dir>')):
            if folder is not None:
                text = text.replace(str(folder), shown)
        return ' '.join(text.split())

    @app.exception_handler(RequestError)
    async def _refused(request, err: RequestError):
        return JSONResponse({'error': scrub(str(err))}, status_code=err.status)

    @app.exception_handler(ImageReadError)
    async def _unreadable(request, err: ImageReadError):     # e.g. removed by retention meanwhile
        return JSONResponse({'error': scrub(str(err))}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, err: RequestValidationError):
        problems = '; '.join(f'{".".join(str(x) for x in e.get("loc", ()))}: {e.get("msg")}'
                             for e in err.errors())
        return JSONResponse({'error': scrub(f'invalid request ({problems}): use the page, '
                                            'which sends what the API takes')}, status_code=400)

    @app.exception_handler(Exception)
    async def _failed(request, err: Exception):       # a bug: logged, the client gets one line
        import logging
        logging.getLogger('segearth_ov').error('%s %s failed', request.method,
                                               request.url.path, exc_info=err)
        return JSONResponse({'error': f'the server failed ({type(err).__name__}): see its log'},
                            status_code=500)

    @app.exception_handler(HTTPException)
    async def _http(request, err: HTTPException):
        return JSONResponse({'error': scrub(f'{request.url.path}: {err.detail}')},
                            status_code=err.status_code)

    @app.get('/')
    def page():
        return FileResponse(STATIC / 'index.html', headers={'Cache-Control': 'no-store'})

    app.mount('/static', StaticFiles(directory=STATIC), name='static')
    lf = leaflet_dir()
    if lf is not None:
        app.mount('/vendor/leaflet', StaticFiles(directory=lf), name='leaflet')

    ctx = AppContext(settings=settings, data_dir=data_dir, work_dir=work_dir,
                     max_upload_mb=max_upload_mb, classes=classes, basemap=basemap,
                     leaflet=lf is not None, scenes=scenes, jobs=jobs, keeper=keeper,
                     upload_idle_s=upload_idle_s)
    for area in (meta, scene_routes, job_routes):
        app.include_router(area.router(ctx))
    return app
