"""Shared pieces of the web UI tests: a synthetic UTM GeoTIFF and the fixture-model app."""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import numpy as np

from conftest import JBU_CKPT, TINY_CFG, TINY_PT

CRS = 'EPSG:32632'


def synthetic_geotiff(path: Path, size: int = 256) -> Path:
    """A 3-band uint8 UTM 32N GeoTIFF (1 m pixels near Cologne): water left, bright right."""
    import rasterio
    from rasterio.transform import from_origin
    rng = np.random.default_rng(0)
    img = rng.integers(60, 90, (3, size, size), dtype=np.uint8)
    img[2, :, :size // 2] = 200                    # blue half
    img[:, :, size * 3 // 4:] = 230                # bright strip
    with rasterio.open(path, 'w', driver='GTiff', height=size, width=size, count=3,
                       dtype='uint8', crs=CRS, transform=from_origin(356000, 5645000, 1, 1)) as d:
        d.write(img)
    return path


def model_settings() -> dict:
    return dict(pretrained=str(TINY_PT), model_cfg=str(TINY_CFG),
                upsampler_ckpt=str(JBU_CKPT['jbu_one']), device='cpu')


def make_app(work_dir: Path, data_dir: Path | None = None, max_upload_mb: float = 1, **kw):
    from segearth_ov.mapping.predictor import SceneOptions
    from segearth_ov.webui.app import create_app
    return create_app(model_settings(), SceneOptions(), data_dir, work_dir, max_upload_mb,
                      threads=1, **kw)


BASE_URL = 'http://127.0.0.1:7860'       # the Host the server answers to, as a browser sends it


def make_client(app, token: bool = True):
    """A TestClient as the page talks to the server: allowed Host, the token header."""
    from fastapi.testclient import TestClient
    from segearth_ov.webui.guard import TOKEN_HEADER
    headers = {TOKEN_HEADER: app.state.token} if token else {}
    return TestClient(app, base_url=BASE_URL, headers=headers)


@contextlib.contextmanager
def serve(app):
    """`app` on a real uvicorn server on 127.0.0.1; yields its port, stops it after. The
    socket is bound here and handed to uvicorn: a port found free and bound later by uvicorn
    could be taken by another program meanwhile."""
    import uvicorn
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    srv = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=0, log_level='warning'))
    thread = threading.Thread(target=srv.run, kwargs=dict(sockets=[sock]), daemon=True)
    thread.start()
    t0 = time.time()
    while not srv.started:
        assert thread.is_alive() and time.time() - t0 < 30, 'the server did not start'
        time.sleep(0.05)
    try:
        yield sock.getsockname()[1]
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()
