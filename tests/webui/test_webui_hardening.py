"""The map page's holes of issue 28, one test each through the HTTP API: VRTs GDAL reads
differently from a naive XML reading (namespaces, /vsicurl/, ROOT_PATH), sidecar files,
start-up clean-up of files the server never made, unbounded synonyms and memory, stalled
uploads evicting results, 500s instead of JSON refusals, server paths in messages, file
modes, websockets and the download names. (The stored XSS: test_webui_browser.py.)"""
from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import stat
import threading
import time

import numpy as np
import pytest

pytest.importorskip('fastapi')

from test_webui_security import (RAW, png_pixels, raw_band_vrt, secret,  # noqa: E402, F401
                                 simple_vrt, upload)
from webui_helpers import make_app, make_client, serve, synthetic_geotiff  # noqa: E402


@pytest.fixture
def web_hits():
    """A local HTTP server recording the paths asked of it: (base URL, list of paths)."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()
        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{srv.server_address[1]}', hits
    srv.shutdown()
    srv.server_close()
    thread.join(10)


def wait_done(client, jid, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        job = client.get(f'/api/jobs/{jid}').json()
        if job['state'] not in ('queued', 'running'):
            return job
        time.sleep(0.1)
    raise AssertionError(f'job {jid} still {job["state"]}')


def test_vrt_is_judged_by_what_gdal_opens(tmp_path, secret, web_hits):
    """GDAL ignores XML namespaces, fetches /vsicurl/ sources, re-roots a nested VRT by its
    ROOT_PATH open option and reads mask bands from their own sources: each is refused, and
    no request reaches the web server a VRT names."""
    base_url, hits = web_hits
    data, outside = tmp_path / 'data', tmp_path / 'outside'
    data.mkdir()
    synthetic_geotiff(data / 'inside.tif', 64)
    synthetic_geotiff(data / 'other.tif', 64)
    synthetic_geotiff(outside / 'other.tif', 64)
    ns_raw = raw_band_vrt(secret).replace('<SourceFilename ', '<SourceFilename xmlns="urn:x" ')
    mask = simple_vrt('inside.tif', relative=True).replace(
        '</VRTRasterBand></VRTDataset>', '<MaskBand><VRTRasterBand dataType="Byte">'
        f'<SimpleSource><SourceFilename>{outside / "other.tif"}</SourceFilename>'
        '<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></MaskBand>'
        '</VRTRasterBand></VRTDataset>')
    files = {
        'ns_raw.vrt': ns_raw,
        'ns_simple.vrt': simple_vrt(outside / 'other.tif', relative=False).replace(
            '<SourceFilename ', '<x:SourceFilename xmlns:x="urn:x" ').replace(
            '</SourceFilename>', '</x:SourceFilename>'),
        'curl.vrt': simple_vrt(f'/vsicurl/{base_url}/x.tif', relative=False),
        'inner.vrt': simple_vrt('other.tif', relative=True),
        'rooted.vrt': simple_vrt('inner.vrt', relative=True).replace(
            '</SourceFilename>', f'</SourceFilename><OpenOptions><OOI key="ROOT_PATH">{outside}'
            '</OOI></OpenOptions>'),
        'mask.vrt': mask,
    }
    for name, text in files.items():
        (data / name).write_text(text)
    client = make_client(make_app(tmp_path / 'work', data))
    assert client.post('/api/scenes/pick', json={'path': 'inner.vrt'}).status_code == 200
    for name, why in [('ns_raw.vrt', 'outside the data folder'),
                      ('curl.vrt', 'not a plain file path'),
                      ('rooted.vrt', 'passes open options to a source'),
                      ('mask.vrt', 'outside the data folder')]:
        r = client.post('/api/scenes/pick', json={'path': name})
        assert r.status_code == 400 and why in r.json()['error'], (name, r.text)
        assert str(tmp_path / 'data') not in r.json()['error']
    # GDAL reads the prefixed element as no SourceFilename: a VRT without a source is harmless
    r = client.post('/api/scenes/pick', json={'path': 'ns_simple.vrt'})
    if r.status_code == 200:
        img = png_pixels(client.get(f'/api/scenes/{r.json()["id"]}/image.png').content)
        assert not img[..., 3].any()
    assert hits == []


def test_sidecar_files_are_never_opened(tmp_path):
    """side.tif with side.tif.ovr and side.tif.msk next to it, each a VRT of an outside file
    (GDAL opens such sidecars itself, whatever their format): the low-zoom tiles (which GDAL
    would serve from the .ovr) equal those of the same GeoTIFF alone in a folder."""
    data, outside = tmp_path / 'data', tmp_path / 'outside'
    (data / 'clean').mkdir(parents=True)
    outside.mkdir()
    (outside / 'secret.bin').write_bytes(bytes(range(256)) * 16)        # 64 × 64 bytes
    synthetic_geotiff(data / 'side.tif', 256)
    shutil.copy(data / 'side.tif', data / 'clean' / 'side.tif')
    one = raw_band_vrt(outside / 'secret.bin', 64, 64)
    band = one[one.index('<VRTRasterBand'):one.index('</VRTDataset>')]
    (data / 'side.tif.ovr').write_text(one.replace('</VRTDataset>', band.replace(
        'band="1"', 'band="2"') + band.replace('band="1"', 'band="3"') + '</VRTDataset>'))
    (data / 'side.tif.msk').write_text(raw_band_vrt(outside / 'secret.bin', 256, 16))
    client = make_client(make_app(tmp_path / 'work', data))
    sides = [client.post('/api/scenes/pick', json={'path': p}).json()
             for p in ('side.tif', 'clean/side.tif')]
    (south, west), (north, east) = sides[0]['bounds']
    lat, lon = (south + north) / 2, (west + east) / 2
    for z in (10, 11, 12, 14):
        n = 2 ** z
        x = int((lon + 180) / 360 * n)
        y = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n)
        tiles = [png_pixels(client.get(f'/api/scenes/{s["id"]}/tiles/{z}/{x}/{y}.png').content)
                 for s in sides]
        assert tiles[0][..., 3].any() and np.array_equal(tiles[0], tiles[1]), z


def test_start_up_removes_only_what_the_server_made(tmp_path):
    """--work-dir at a folder with the user's own files, older than --keep-hours: they stay;
    only a folder the server made (with its marker) goes."""
    from segearth_ov.webui.retention import Limits
    work = tmp_path / 'work'
    theirs = [work / 'jobs' / 'notes.txt', work / 'jobs' / 'analysis' / 'results.csv',
              work / 'uploads' / 'photos.zip']
    mine = work / 'jobs' / 'old-job'
    for f in theirs + [mine / 'x_labels.tif', mine / '.segearth-webui']:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b'0' * 100)
    for f in [*theirs, theirs[1].parent, mine, mine / '.segearth-webui']:
        os.utime(f, (time.time() - 7200, time.time() - 7200))
    client = make_client(make_app(work, limits=Limits(keep_hours=1, max_work_gb=1e-6)))
    assert client.get('/api/info').status_code == 200          # the page loads: prunes again
    assert all(f.is_file() for f in theirs) and not mine.exists()


def test_queries_and_memory_are_bounded(tmp_path, monkeypatch):
    """One class with 300 synonyms is refused, and so is a job whose peak memory, as the
    predictor estimates it, is above --max-job-gb, with both numbers."""
    from segearth_ov.mapping.predictor import SceneOptions, slide_settings
    from segearth_ov.mapping.raster_io import opened
    from segearth_ov.webui.jobs import JobQueue
    monkeypatch.setattr(JobQueue, '_execute', lambda self, job: None)    # never run the model
    scene = synthetic_geotiff(tmp_path / 'scene.tif', 512)
    app = make_app(tmp_path / 'work', max_job_gb=3)
    client = make_client(app)
    sid = upload(client, scene.read_bytes(), 'scene.tif').json()['id']
    many = 'tree,' + ','.join(f'tree{i}' for i in range(300))
    r = client.post('/api/jobs', json=dict(scene=sid, classes=many))
    assert r.status_code == 400 and '301 class names' in r.json()['error'] and \
        '256' in r.json()['error']
    assert client.post('/api/jobs', json=dict(scene=sid, classes='a;b')).status_code == 200
    synonyms = 'tree,' + ','.join(f'tree{i}' for i in range(199))
    from segearth_ov.mapping.estimates import model_memory_bytes, peak_memory
    with opened(scene) as src:
        _, parts = peak_memory(src, SceneOptions(), slide_settings(settings=app.state.jobs.settings),
                               1, 200, model_memory_bytes(), save_probs=True)
    need = sum(parts.values()) / 2 ** 30
    assert need > 3
    r = client.post('/api/jobs', json=dict(scene=sid, classes=synonyms))
    assert r.status_code == 413, r.text
    assert f'{need:.2f} GB' in r.json()['error'] and '--max-job-gb 3' in r.json()['error']


def raw_upload(port, token, length, first: bytes) -> socket.socket:
    """An upload that declares `length` bytes, sends `first` and then nothing."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=30)
    sock.sendall(f'POST /api/scenes?name=s.tif HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
                 f'X-SegEarth-Token: {token}\r\nContent-Type: application/octet-stream\r\n'
                 f'Content-Length: {length}\r\n\r\n'.encode() + first)
    return sock


def answer(sock) -> tuple[int, dict]:
    data = b''
    while b'\r\n\r\n' not in data or not data.endswith(b'}'):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    head, _, body = data.partition(b'\r\n\r\n')
    return int(head.split()[1]), json.loads(body)


def test_stalled_uploads_never_evict_a_finished_job(tmp_path, monkeypatch):
    """Four uploads that declare 100 KiB each and stall: each reserves its declared length
    (the fourth does not fit: 507 at once), each times out (408), and the finished job's
    result stays."""
    import httpx

    from segearth_ov.webui.jobs import JobQueue
    from segearth_ov.webui.retention import Limits

    def execute(self, job):         # a finished job with 100 KiB of results
        job.out_dir.mkdir(parents=True)
        (job.out_dir / '.segearth-webui').touch()
        (job.out_dir / 'out.bin').write_bytes(b'0' * 100 * 1024)
        job.result = {'seconds': 0.0, 'classes': []}

    monkeypatch.setattr(JobQueue, '_execute', execute)
    app = make_app(tmp_path / 'work', limits=Limits(max_work_gb=400 / 2 ** 20), upload_idle_s=3)
    scene = synthetic_geotiff(tmp_path / 'scene.tif', 128).read_bytes()      # 48 KiB
    token = app.state.token
    with serve(app) as port:
        client = httpx.Client(base_url=f'http://127.0.0.1:{port}', trust_env=False,
                              headers={'X-SegEarth-Token': token}, timeout=30)
        sid = client.post('/api/scenes', params={'name': 'a.tif'}, content=scene,
                          headers=RAW).json()['id']
        jid = client.post('/api/jobs', json=dict(scene=sid, classes='a;b')).json()['id']
        assert wait_done(client, jid)['state'] == 'done'
        stalled = []
        for i in range(3):
            stalled.append(raw_upload(port, token, 100 * 1024, b'II*\0'))
            t0 = time.time()
            while len(app.state.housekeeper._inflight) < i + 1:
                assert time.time() - t0 < 10
                time.sleep(0.01)
        status, body = answer(raw_upload(port, token, 100 * 1024, b'II*\0'))
        assert status == 507 and 'no room for 0.0977 MB' in body['error']
        for sock in stalled:
            status, body = answer(sock)
            assert status == 408 and 'stalled' in body['error']
        assert client.get(f'/api/jobs/{jid}').json()['state'] == 'done'
        assert (tmp_path / 'work' / 'jobs' / jid / 'out.bin').is_file()
        assert not app.state.housekeeper._inflight
        assert len(list((tmp_path / 'work' / 'uploads').iterdir())) <= 1
        client.close()


def test_refusals_are_one_line_of_json(tmp_path, monkeypatch):
    """nan/inf/1e308 coordinates, an oversized or non-object JSON body, a full disk during an
    upload, an unknown address: each a 4xx/507 JSON {"error": one line}."""
    client = make_client(make_app(tmp_path / 'work'))
    scene = synthetic_geotiff(tmp_path / 'scene.tif', 64)
    sid = upload(client, scene.read_bytes(), 'scene.tif').json()['id']
    job = wait_done(client, client.post('/api/jobs', json=dict(scene=sid, classes='a;b')).json()['id'])
    assert job['state'] == 'done', job['message']

    def refused(r, status, text):
        assert r.status_code == status, r.text
        assert r.headers['content-type'] == 'application/json'
        err = r.json()['error']
        assert text in err and '\n' not in err, err

    for value in ('nan', 'inf', '-inf', '1e308'):
        refused(client.get(f'/api/jobs/{job["id"]}/pixel', params=dict(lat=value, lng=7)),
                400, 'give a point on the map')
        refused(client.get(f'/api/jobs/{job["id"]}/pixel', params=dict(lat=50, lng=value)),
                400, 'give a point on the map')
    big = json.dumps({'path': 'x' * 2 ** 20})
    refused(client.post('/api/scenes/pick', content=big,
                        headers={'Content-Type': 'application/json'}), 413, 'larger than 64 KiB')
    refused(client.post('/api/scenes/pick', content=iter([big.encode()[:2 ** 19]] * 2),
                        headers={'Content-Type': 'application/json'}), 413, 'larger than 64 KiB')
    refused(client.post('/api/jobs', content=b'[1, 2]',
                        headers={'Content-Type': 'application/json'}), 400, 'invalid request')
    refused(client.get('/api/nothing'), 404, '/api/nothing')
    # the disk fills during an upload: the upload's file is /dev/full, whose every write
    # fails with ENOSPC
    real_open = os.open

    def full_disk(path, flags, mode=0o777, **kw):
        if str(path).endswith('y.tif'):
            return real_open('/dev/full', os.O_WRONLY)
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(os, 'open', full_disk)
    refused(upload(client, scene.read_bytes(), 'y.tif'), 507, 'disk of the work folder is full')
    monkeypatch.undo()
    assert not list((tmp_path / 'work' / 'uploads').rglob('y.tif'))


def test_names_modes_websockets_and_download_names(tmp_path):
    """Messages name the scene, never the server's path of it; uploads and results are
    the server user's only (folders 0700, files 0600); a websocket is refused; an unknown
    download lists every valid name, polygons?format= included."""
    from starlette.websockets import WebSocketDisconnect
    work = tmp_path / 'work'
    app = make_app(work)
    client = make_client(app)
    scene = synthetic_geotiff(tmp_path / 'scene.tif', 64)
    sid = upload(client, scene.read_bytes(), 'my scene.tif').json()['id']
    job = wait_done(client, client.post('/api/jobs', json=dict(scene=sid, classes='a;b')).json()['id'])
    assert job['state'] == 'done', job['message']
    out = work / 'jobs' / job['id']
    assert client.get(f'/api/jobs/{job["id"]}/download/polygons',
                      params={'format': 'geojson'}).status_code == 200
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)
    up = next((work / 'uploads').iterdir())
    assert {mode(p) for p in (work, work / 'uploads', work / 'jobs', up, out)} == {0o700}
    files = [f for f in [*up.iterdir(), *out.iterdir()] if f.is_file()]
    assert len(files) >= 6 and {mode(f) for f in files} == {0o600}, \
        {f.name: oct(mode(f)) for f in files}

    r = client.get(f'/api/jobs/{job["id"]}/download/probs')
    assert r.status_code == 404
    assert r.json()['error'] == ("unknown download 'probs': use labels, overlay, summary or "
                                 'polygons?format=gpkg|geojson|fgb')
    with pytest.raises(WebSocketDisconnect) as ws:
        with client.websocket_connect('/api/info'):
            pass
    assert ws.value.code == 1008 and 'refused' in ws.value.reason

    # the scene's file is gone (removed meanwhile): the messages name the scene only
    (up / 'my scene.tif').unlink()
    for r in (client.post('/api/jobs', json=dict(scene=sid, classes='a;b')),
              client.get(f'/api/scenes/{sid}/image.png')):
        assert r.status_code == 404 and 'my scene.tif' in r.json()['error'], r.text
        assert str(tmp_path) not in r.text


def test_first_tiles_asked_at_once_are_served(tmp_path):
    """A browser asks for a screenful of tiles at once, right after the scene opens: each
    is a PNG (rio-tiler's first import raced in the server's threads: 500s)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    app = make_app(tmp_path / 'work')
    scene = synthetic_geotiff(tmp_path / 'scene.tif', 64)
    with serve(app) as port, httpx.Client(base_url=f'http://127.0.0.1:{port}', trust_env=False,
                                          headers={'X-SegEarth-Token': app.state.token}) as c:
        sid = c.post('/api/scenes', params={'name': 's.tif'}, content=scene.read_bytes(),
                     headers=RAW).json()['id']
        urls = [f'/api/scenes/{sid}/tiles/19/{x}/{y}.png'
                for x in range(272264, 272270) for y in range(175659, 175665)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(c.get, urls))
    assert [r.status_code for r in answers] == [200] * len(urls)
    assert all(r.content[:4] == b'\x89PNG' for r in answers)
