"""Jobs: POST /api/jobs, GET /api/jobs/{id}, POST /api/jobs/{id}/cancel, the class map as map
tiles (GET /api/jobs/{id}/tiles/{z}/{x}/{y}.png) or one image (GET .../image.png), the class
under a click (GET /api/jobs/{id}/pixel?lat=&lng=) and the outputs (GET
/api/jobs/{id}/download/{labels|overlay|summary}, .../download/polygons?format=gpkg|geojson|fgb)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from fastapi import APIRouter

from .. import tiles
from ..params import bands_param, hidden_param, percentiles_param
from ..safety import RequestError
from ..scenes import open_user_file
from . import AppContext, png_response

DOWNLOADS = ('labels', 'overlay', 'summary')       # the job's files a user may download


def output_driver(output: Path) -> str:
    """The driver of a job's own output (written by ClassMapWriter): GTiff or PNG."""
    return 'PNG' if output.suffix == '.png' else 'GTiff'


def job_colours(job) -> np.ndarray:
    return np.asarray(job.colours(), np.uint8)


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter()
    scenes, jobs, keeper = ctx.scenes, ctx.jobs, ctx.keeper

    @api.post('/api/jobs')
    def submit(body: dict):
        scene = scenes.get(str(body.get('scene', '')))
        classes = body.get('classes')
        if not isinstance(classes, str) or not classes.strip(' ;,'):
            raise RequestError('the class list is empty: type classes separated by ";" and '
                               'synonyms by ",", e.g. "building,roof;road;water,river"')
        bands = bands_param(body.get('bands'))
        percentiles = percentiles_param(body.get('stretch'))
        with scene.open() as src:
            scene.reading(src, bands, percentiles)          # bands the file lacks: refused now
        keeper.prune()
        with keeper.lock:       # no removal between the scene's lookup and its job's arrival
            scene = scenes.get(scene.id)
            job = jobs.submit(scene, classes, body.get('model_options'), bands, percentiles)
        return job.status(jobs.position(job))

    @api.get('/api/jobs/{jid}')
    def status(jid: str):
        job = jobs.get(jid)
        return job.status(jobs.position(job))

    @api.post('/api/jobs/{jid}/cancel')
    def cancel(jid: str):
        job = jobs.cancel(jid)
        return job.status(jobs.position(job))

    @api.get('/api/jobs/{jid}/tiles/{z}/{x}/{y}.png')
    def job_tile(jid: str, z: int, x: int, y: int, hide: str = ''):
        job = jobs.get(jid)
        path = job.file('labels')
        if job.scene.crs is None:
            raise RequestError('this image has no CRS: use /image.png (the image view)', 404)
        with open_user_file(path, 'class map', output_driver(path)) as src:
            warped = tiles.read_tile(src, [1], z, x, y, nodata=255)
        if warped is None:
            return png_response(None)
        return png_response(tiles.labels_rgba(warped[0][0], job_colours(job), hidden_param(hide)))

    @api.get('/api/jobs/{jid}/image.png')
    def job_image(jid: str, hide: str = ''):
        job = jobs.get(jid)
        path = job.file('labels')
        with open_user_file(path, 'class map', output_driver(path)) as src:
            labels = tiles.decimated(src, [1])[0]
        return png_response(tiles.labels_rgba(labels, job_colours(job), hidden_param(hide)))

    @api.get('/api/jobs/{jid}/pixel')
    def pixel(jid: str, lat: float, lng: float):
        """Class and per-class probabilities under a map click (image view: lat = -row, lng = col)."""
        job = jobs.get(jid)
        labels_path, probs_path = job.file('labels'), job.file('probs')
        scene = job.scene
        if not (math.isfinite(lat) and math.isfinite(lng)) or \
                scene.crs is not None and not (abs(lat) <= 90 and abs(lng) <= 360):
            raise RequestError(f'lat={lat} lng={lng}: give a point on the map (finite degrees, '
                               '|lat| ≤ 90; the image view: lat = -row, lng = column)')
        if scene.crs is not None:
            from rasterio.warp import transform
            with open_user_file(labels_path, 'class map',
                                         output_driver(labels_path)) as src:
                xs, ys = transform('EPSG:4326', src.crs, [lng], [lat])
                col, row = ~src.transform @ (xs[0], ys[0])
        else:
            row, col = -lat, lng
        if not (math.isfinite(row) and math.isfinite(col)):        # beyond the CRS's area
            return dict(inside=False, row=None, col=None)
        row, col = int(np.floor(row)), int(np.floor(col))
        if not (0 <= row < scene.height and 0 <= col < scene.width):
            return dict(inside=False, row=row, col=col)
        from rasterio.windows import Window
        w = Window(col, row, 1, 1)
        with open_user_file(labels_path, 'class map', output_driver(labels_path)) as src:
            label = int(src.read(1, window=w)[0, 0])
        with open_user_file(probs_path, 'probabilities', 'GTiff') as src:
            p = src.read(window=w)[:, 0, 0].astype(float) / 255
        names = [c['name'] for c in job.result['classes']]
        return dict(inside=True, row=row, col=col,
                    label=None if label == 255 else label,
                    name='no data' if label == 255 else names[label],
                    probabilities={n: round(float(v), 3) for n, v in zip(names, p)})

    @api.get('/api/jobs/{jid}/download/{kind}')
    def download(jid: str, kind: str, format: str = 'gpkg'):
        from fastapi.responses import FileResponse

        from ...mapping.vectors import MEDIA_TYPES, VECTOR_FORMATS
        job = jobs.get(jid)
        if kind == 'polygons':
            path = job.polygons(format)
            return FileResponse(path, filename=path.name, media_type=MEDIA_TYPES[format])
        if kind not in DOWNLOADS:
            raise RequestError(f'unknown download {kind!r}: use ' + ', '.join(DOWNLOADS)
                               + ' or polygons?format=' + '|'.join(VECTOR_FORMATS), 404)
        path = job.file(kind)
        media = {'.tif': 'image/tiff; application=geotiff; profile=cloud-optimized',
                 '.png': 'image/png', '.json': 'application/json'}
        return FileResponse(path, filename=path.name, media_type=media[path.suffix])

    return api
