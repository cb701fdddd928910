"""Attacks on the map page, one test each, through the HTTP API as a browser or another web
page would send them: a JPEG that is also a VRT, VRTs in --data-dir leading outside, a
foreign Host (DNS rebinding), a foreign Origin (cross-site POST), no or a wrong token,
filling the disk, a NUL byte in a picked path. Each asserts the refusal and that nothing
from outside the allowed files reaches the client."""
from __future__ import annotations

import io
import os
import struct
import threading
import time

import numpy as np
import pytest

pytest.importorskip('fastapi')

from webui_helpers import BASE_URL, make_app, make_client, synthetic_geotiff  # noqa: E402

RAW = {'Content-Type': 'application/octet-stream'}
SECRET = bytes(range(65, 65 + 128))         # a file outside every allowed folder, known bytes


def upload(client, content: bytes, name: str, **kw):
    return client.post('/api/scenes', params={'name': name}, content=content, headers=RAW, **kw)


def png_pixels(content: bytes) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(content)))


def raw_band_vrt(target, width=16, height=8) -> str:
    """A VRT whose one band is the raw bytes of `target` (GDAL's VRTRawRasterBand, as in
    GDAL's VRT driver documentation, "VRT Descriptions for Raw Files")."""
    return (f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
            '<VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">'
            f'<SourceFilename relativetoVRT="0">{target}</SourceFilename>'
            '<ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset>'
            f'<LineOffset>{width}</LineOffset></VRTRasterBand></VRTDataset>')


def simple_vrt(source, relative: bool, size=64) -> str:
    """A 1-band VRT reading band 1 of `source` (GDAL's SimpleSource)."""
    return (f'<VRTDataset rasterXSize="{size}" rasterYSize="{size}">'
            '<VRTRasterBand dataType="Byte" band="1"><SimpleSource>'
            f'<SourceFilename relativeToVRT="{int(relative)}">{source}</SourceFilename>'
            '<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>')


def polyglot_jpeg(vrt: str) -> bytes:
    """A 64×64 grey JPEG whose comment segment (COM, marker FFFE, right after SOI) holds `vrt`:
    a valid JPEG, and GDAL's VRT driver finds "<VRTDataset" in its first bytes too."""
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(buf, 'JPEG')
    jpg = buf.getvalue()
    body = vrt.encode()
    assert (len(body) + 2) % 256 and (len(body) + 2) < 65536      # no NUL in the length
    return jpg[:2] + b'\xff\xfe' + struct.pack('>H', len(body) + 2) + body + jpg[2:]


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / 'outside' / 'secret.bin'
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def test_polyglot_jpeg_upload_is_only_ever_a_jpeg(tmp_path, secret):
    client = make_client(make_app(tmp_path / 'work'))
    r = client.post('/api/scenes', params={'name': 'photo.jpg'}, headers=RAW,
                    content=polyglot_jpeg(raw_band_vrt(secret)))
    assert r.status_code == 200, r.text
    scene = r.json()
    assert (scene['width'], scene['height'], scene['bands']) == (64, 64, 3)  # not 16×8×1
    img = png_pixels(client.get(f'/api/scenes/{scene["id"]}/image.png').content)
    assert img.shape == (64, 64, 4) and abs(int(img[..., 0].mean()) - 128) <= 2
    # the job reads the same JPEG: 64² pixels, not the VRT's 16×8
    job = client.post('/api/jobs', json=dict(scene=scene['id'], classes='a;b')).json()
    t0 = time.time()
    while job['state'] in ('queued', 'running') and time.time() - t0 < 120:
        time.sleep(0.1)
        job = client.get(f'/api/jobs/{job["id"]}').json()
    assert job['state'] == 'done', job['message']
    assert sum(c['pixels'] for c in job['result']['classes']) == 64 * 64


def test_vrt_in_data_dir_is_refused_unless_all_inside(tmp_path, secret):
    data = tmp_path / 'data'
    data.mkdir()
    synthetic_geotiff(data / 'inside.tif', 64)
    synthetic_geotiff(tmp_path / 'outside' / 'other.tif', 64)
    files = {
        'ok.vrt': simple_vrt('inside.tif', relative=True),
        'raw.vrt': raw_band_vrt(secret),
        'absolute.vrt': simple_vrt(tmp_path / 'outside' / 'other.tif', relative=False),
        'dotdot.vrt': simple_vrt('../outside/other.tif', relative=True),
        'nested.vrt': simple_vrt('raw.vrt', relative=True),
        'curl.vrt': simple_vrt('/vsicurl/http://example.com/x.tif', relative=False),
        'python.vrt': simple_vrt('inside.tif', relative=True).replace(
            '<SimpleSource>', '<PixelFunctionLanguage>Python</PixelFunctionLanguage>'
            '<PixelFunctionType>f</PixelFunctionType><PixelFunctionCode>def f(): pass'
            '</PixelFunctionCode><SimpleSource>').replace(
            'band="1">', 'band="1" subClass="VRTDerivedRasterBand">'),
    }
    for name, text in files.items():
        (data / name).write_text(text)
    (data / 'photo.jpg').write_bytes(polyglot_jpeg(raw_band_vrt(secret)))
    client = make_client(make_app(tmp_path / 'work', data))

    ok = client.post('/api/scenes/pick', json={'path': 'ok.vrt'})
    assert ok.status_code == 200, ok.text
    img = png_pixels(client.get(f'/api/scenes/{ok.json()["id"]}/image.png').content)
    assert img.shape == (64, 64, 4)
    for name, why in [('raw.vrt', 'outside the data folder'),
                      ('absolute.vrt', 'outside the data folder'),
                      ('dotdot.vrt', 'outside the data folder'),
                      ('nested.vrt', 'outside the data folder'),
                      ('curl.vrt', 'not a plain file path'),
                      ('python.vrt', 'pixel-function code'),
                      ('photo.jpg', 'outside the data folder')]:
        r = client.post('/api/scenes/pick', json={'path': name})
        assert r.status_code == 400 and why in r.json()['error'], (name, r.text)


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path / 'work', allow_hosts=('maps.example.org',))


def test_foreign_host_is_refused(app):
    client = make_client(app)
    for url in ('/', '/api/info', '/api/files', '/static/app.js'):
        r = client.get(url, headers={'Host': 'evil.example:7860'})
        assert r.status_code == 403 and '--allow-host evil.example' in r.json()['error'], url
    for host in ('127.0.0.1:7860', 'localhost:7860', '[::1]:7860', 'maps.example.org'):
        assert client.get('/api/info', headers={'Host': host}).status_code == 200, host


def test_foreign_origin_cannot_post(app, tmp_path):
    client = make_client(app)
    scene = synthetic_geotiff(tmp_path / 'scene.tif', 32).read_bytes()
    for content_type in ('text/plain', None):      # what a cross-site form or fetch sends
        headers = {'Origin': 'http://evil.example'}
        if content_type:
            headers['Content-Type'] = content_type
        r = client.post('/api/scenes', params={'name': 'x.tif'}, content=scene, headers=headers)
        assert r.status_code == 403 and 'evil.example' in r.json()['error'], r.text
        r = client.post('/api/scenes', params={'name': 'x.tif'}, content=scene,
                        headers={**headers, **RAW})
        assert r.status_code == 403
    r = client.post('/api/scenes/pick', json={'path': 'x'}, headers={'Origin': 'null'})
    assert r.status_code == 403
    assert not (tmp_path / 'work' / 'uploads').exists() or \
        not list((tmp_path / 'work' / 'uploads').iterdir())
    # the page's own origin: only the page's body type is taken
    own = {'Origin': BASE_URL}
    r = client.post('/api/scenes', params={'name': 'x.tif'}, content=scene,
                    headers={**own, 'Content-Type': 'text/plain'})
    assert r.status_code == 415 and 'application/octet-stream' in r.json()['error']
    r = client.post('/api/scenes', params={'name': 'x.tif'}, content=scene, headers={**own, **RAW})
    assert r.status_code == 200, r.text


def test_token_required_on_every_api_call(app):
    token = app.state.token
    anonymous = make_client(app, token=False)
    page = anonymous.get('/')
    assert page.status_code == 200 and token not in page.text      # the page: no data in it
    sid, jid = 'abc', 'def'
    for method, url in [('GET', '/api/info'), ('GET', '/api/files'),
                        ('GET', f'/api/scenes/{sid}'), ('GET', f'/api/scenes/{sid}/image.png'),
                        ('GET', f'/api/jobs/{jid}/download/labels'),
                        ('POST', f'/api/jobs/{jid}/cancel')]:
        for headers in ({}, {'X-SegEarth-Token': 'wrong'}):
            r = anonymous.request(method, url, headers=headers)
            assert r.status_code == 403 and 'token' in r.json()['error'], (url, headers)
    assert anonymous.get('/api/info', params={'token': token}).status_code == 200   # tiles, links
    r = anonymous.post('/api/scenes/pick', params={'token': token}, json={'path': 'x'})
    assert r.status_code == 403                                 # a POST needs the header
    assert make_client(app).get('/api/info').status_code == 200
    assert page.headers['referrer-policy'] == 'no-referrer'          # tokens stay in the page


def test_cli_prints_the_token_and_takes_allow_host():
    from segearth_ov.webui.cli import build_parser, page_url
    args = build_parser().parse_args(['--allow-host', 'maps.example.org', '--max-work-gb', '2',
                                      '--keep-hours', '6'])
    assert args.allow_host == ['maps.example.org'] and args.max_work_gb == 2
    assert page_url('0.0.0.0', 7860, 'T0K') == 'http://127.0.0.1:7860/#token=T0K'
    assert page_url('::1', 80, 'T') == 'http://[::1]:80/#token=T'


def test_cli_refuses_a_classes_file_that_does_not_exist(tmp_path, capsys):
    """`--classes-file /typo/clases.txt` is an error naming the file, not a class called by
    its path (before: the page opened with one class, '/typo/clases.txt')."""
    from segearth_ov.webui.cli import main
    assert main(['--classes-file', str(tmp_path / 'clases.txt'), '--work-dir',
                 str(tmp_path / 'work')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: class-name file not found: ') and 'clases.txt' in err


def _sizes(folder):
    return sum(f.stat().st_size for f in folder.rglob('*') if f.is_file())


def test_uploads_cannot_fill_the_disk(tmp_path):
    from segearth_ov.webui.retention import MARKER, Limits, make_folder
    work = tmp_path / 'work'
    earlier = make_folder(work / 'uploads' / 'earlier-run')     # left by an earlier server
    (earlier / 'old.tif').write_bytes(b'0' * 1000)
    os.utime(earlier / MARKER, (time.time() - 7200, time.time() - 7200))
    scene = synthetic_geotiff(tmp_path / 'scene.tif', 128).read_bytes()      # 48 KiB
    limit = int(3.5 * len(scene))                    # room for 3 uploads
    limits = Limits(keep_hours=1, max_scenes=5, max_work_gb=limit / 2 ** 30)
    app = make_app(work, max_upload_mb=1, limits=limits)
    client = make_client(app)
    assert not earlier.exists()                      # older than --keep-hours
    ids = []
    for i in range(10):
        r = client.post('/api/scenes', params={'name': f's{i}.tif'}, content=scene, headers=RAW)
        assert r.status_code == 200, r.text
        ids.append(r.json()['id'])
        assert _sizes(work / 'uploads') <= limit
    assert len(list((work / 'uploads').iterdir())) == 3 and len(app.state.scenes.all()) == 3
    assert client.get(f'/api/scenes/{ids[0]}').status_code == 404
    assert client.get(f'/api/scenes/{ids[-1]}').status_code == 200
    # an upload larger than the whole work folder's limit is refused before it is read
    r = client.post('/api/scenes', params={'name': 'big.tif'}, headers=RAW,
                    content=b'0' * 2 ** 19)
    assert r.status_code == 507 and '--max-work-gb' in r.json()['error']
    # refused uploads leave no folder behind
    before = sorted(p.name for p in (work / 'uploads').iterdir())
    r = client.post('/api/scenes', params={'name': 'x.tif'}, content=b'not a raster', headers=RAW)
    assert r.status_code == 400
    assert sorted(p.name for p in (work / 'uploads').iterdir()) == before
    # scenes older than --keep-hours go when the page loads
    app.state.scenes.get(ids[-1]).created -= 7200
    client.get('/api/info')
    assert client.get(f'/api/scenes/{ids[-1]}').status_code == 404
    # the stretch cache of a scene is bounded, and ?stretch= takes only 0.1 steps
    sid = upload(client, scene, 'y.tif').json()['id']
    for lo in range(12):
        r = client.get(f'/api/scenes/{sid}/image.png', params={'stretch': f'{lo},99'})
        assert r.status_code == 200
    assert len(app.state.scenes.get(sid)._stretch) <= 8
    r = client.get(f'/api/scenes/{sid}/image.png', params={'stretch': '2.123,98'})
    assert r.status_code == 400 and 'one decimal' in r.json()['error']


def test_scene_count_is_bounded(tmp_path):
    from segearth_ov.webui.retention import Limits
    data = tmp_path / 'data'
    data.mkdir()
    synthetic_geotiff(data / 'scene.tif', 32)
    app = make_app(tmp_path / 'work', data, limits=Limits(max_scenes=2))
    client = make_client(app)
    ids = [client.post('/api/scenes/pick', json={'path': 'scene.tif'}).json()['id']
           for _ in range(4)]
    assert [client.get(f'/api/scenes/{sid}').status_code for sid in ids] == [404, 404, 200, 200]


def test_jobs_queue_and_outputs_are_bounded(tmp_path, monkeypatch):
    """A stand-in for the model run (blocks until released, writes 100 KiB of output) makes
    'running' and 'queued' certain without timing."""
    from segearth_ov.webui.jobs import JobQueue
    from segearth_ov.webui.retention import Limits
    release = threading.Event()

    def execute(self, job):
        from segearth_ov.webui.retention import make_folder
        release.wait(60)
        make_folder(job.out_dir)
        (job.out_dir / 'out.bin').write_bytes(b'0' * 100 * 1024)
        job.result = {'seconds': 0.0}

    monkeypatch.setattr(JobQueue, '_execute', execute)
    work = tmp_path / 'work'
    limits = Limits(max_jobs=2, max_queued=1, max_work_gb=300 / 2 ** 20)
    app = make_app(work, max_upload_mb=1, limits=limits)
    client = make_client(app)
    scene = synthetic_geotiff(tmp_path / 'scene.tif', 128).read_bytes()      # 48 KiB
    sid = upload(client, scene, 'a.tif').json()['id']
    j1 = client.post('/api/jobs', json=dict(scene=sid, classes='a;b')).json()['id']
    t0 = time.time()
    while client.get(f'/api/jobs/{j1}').json()['state'] != 'running':
        assert time.time() - t0 < 30
        time.sleep(0.02)
    assert client.post('/api/jobs', json=dict(scene=sid, classes='a;b')).status_code == 200
    r = client.post('/api/jobs', json=dict(scene=sid, classes='a;b'))
    assert r.status_code == 429 and '--max-queued' in r.json()['error']
    # the running job's scene is kept even when the folder's limit needs room
    r = client.post('/api/scenes', params={'name': 'b.tif'}, headers=RAW,
                    content=b'0' * 280 * 1024)
    assert r.status_code == 507 and '--max-work-gb' in r.json()['error']
    assert client.get(f'/api/scenes/{sid}').status_code == 200
    assert len(list((work / 'uploads').iterdir())) == 1
    release.set()
    t0 = time.time()
    for _ in range(3):           # more jobs than --max-jobs, one at a time
        while any(j.state in ('queued', 'running') for j in app.state.jobs.all()):
            assert time.time() - t0 < 60
            time.sleep(0.02)
        client.post('/api/jobs', json=dict(scene=sid, classes='a;b'))
    while any(j.state in ('queued', 'running') for j in app.state.jobs.all()):
        assert time.time() - t0 < 60
        time.sleep(0.02)
    assert len(app.state.jobs.all()) <= 2 and len(list((work / 'jobs').iterdir())) <= 2
    assert client.get(f'/api/jobs/{j1}').status_code == 404
    assert _sizes(work) <= 300 * 1024


def test_nul_byte_in_picked_path(tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    synthetic_geotiff(data / 'scene.tif', 32)
    client = make_client(make_app(tmp_path / 'work', data))
    r = client.post('/api/scenes/pick', json={'path': 'scene.tif\x00.png'})
    assert r.status_code == 400 and 'NUL byte' in r.json()['error']
    assert client.post('/api/scenes/pick', json={'path': 'scene.tif'}).status_code == 200
