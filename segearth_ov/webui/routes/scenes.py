"""Scenes: POST /api/scenes?name=F (an upload, the file as an application/octet-stream body),
POST /api/scenes/pick (a file of --data-dir), GET /api/scenes/{id}, and the scene as map
tiles (GET /api/scenes/{id}/tiles/{z}/{x}/{y}.png) or one image (GET .../image.png)."""
from __future__ import annotations

import secrets
import shutil

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from .. import tiles
from ..params import bands_param, percentiles_param
from ..safety import RequestError, inside, safe_file_name, save_stream
from ..scenes import open_scene
from . import AppContext, png_response


def scene_rgba(scene, data, covered, bands, percentiles, src):
    """RGBA of a scene's read bands under the chosen bands and stretch."""
    chosen, alpha, nodata, stretch = scene.reading(src, bands, percentiles)
    n = len(chosen)
    return tiles.scene_rgba(data[:n], covered, stretch, nodata,
                            data[n] if alpha is not None else None)


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter()
    scenes, keeper = ctx.scenes, ctx.keeper

    @api.post('/api/scenes')
    async def upload(request: Request, name: str = ''):
        name = safe_file_name(name)
        if name.lower().endswith(('.vrt', '.xml')):    # a VRT could point at any file
            raise RequestError(f'{name!r}: VRT files cannot be uploaded; upload the raster')
        length = request.headers.get('content-length', '')
        if not length.isdigit():
            raise RequestError('the upload has no Content-Length: send the file as one body '
                               'of known size, as the page does', 411)
        length, max_bytes = int(length), ctx.max_bytes
        if length == 0:
            raise RequestError('the upload is empty: choose an image or GeoTIFF file')
        if length > max_bytes:
            raise RequestError(f'the upload ({length / 2 ** 20:.1f} MB) is larger than '
                               f'the limit of {ctx.max_upload_mb:g} MB: choose a smaller file, '
                               'or start the server with a larger --max-upload-mb', 413)
        folder = ctx.work_dir / 'uploads' / secrets.token_hex(6)
        keeper.begin_upload(folder, length)
        try:
            await save_stream(request.stream(), folder / name, length, ctx.upload_idle_s)
            scene = await run_in_threadpool(open_scene, folder / name, name, 'upload')
            scenes.add(scene)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)       # a refused upload leaves nothing
            raise
        finally:
            keeper.end_upload(folder)
        keeper.prune()
        return scene.info()

    @api.post('/api/scenes/pick')
    def pick(body: dict):
        if ctx.data_dir is None:
            raise RequestError('the server was started without --data-dir: upload the file '
                               'instead')
        path = inside(ctx.data_dir, body.get('path'))
        scene = scenes.add(open_scene(path, path.name, 'data-dir', ctx.data_dir))
        keeper.prune()
        return scene.info()

    @api.get('/api/scenes/{sid}')
    def scene_info(sid: str):
        return scenes.get(sid).info()

    @api.get('/api/scenes/{sid}/tiles/{z}/{x}/{y}.png')
    def scene_tile(sid: str, z: int, x: int, y: int, bands: str = '', stretch: str = ''):
        scene = scenes.get(sid)
        if scene.crs is None:
            raise RequestError('this image has no CRS: use /image.png (the image view)', 404)
        b, p = bands_param(bands), percentiles_param(stretch)
        with scene.open() as src:
            chosen, alpha, nodata, _ = scene.reading(src, b, p)
            warped = tiles.read_tile(src, chosen + ([alpha] if alpha else []), z, x, y)
            if warped is None:
                return png_response(None)
            return png_response(scene_rgba(scene, warped[0], warped[1], b, p, src))

    @api.get('/api/scenes/{sid}/image.png')
    def scene_image(sid: str, bands: str = '', stretch: str = ''):
        scene = scenes.get(sid)
        b, p = bands_param(bands), percentiles_param(stretch)
        with scene.open() as src:
            chosen, alpha, _, _ = scene.reading(src, b, p)
            data = tiles.decimated(src, chosen + ([alpha] if alpha else []))
            return png_response(scene_rgba(scene, data, None, b, p, src))

    return api
