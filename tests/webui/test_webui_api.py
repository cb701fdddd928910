"""The web UI's HTTP API with the fixture model: every endpoint, and the rejections (each a
clear message, the server still answering afterwards)."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

pytest.importorskip('fastapi')
from webui_helpers import CRS, make_app, make_client, synthetic_geotiff  # noqa: E402

RAW = {'Content-Type': 'application/octet-stream'}       # the page's upload body type


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('webui')
    data = root / 'data'
    (data / 'sub').mkdir(parents=True)
    synthetic_geotiff(data / 'sub' / 'scene.tif')
    (root / 'secret.tif').write_bytes((data / 'sub' / 'scene.tif').read_bytes())
    (data / 'notes.txt').write_text('not a raster')
    client = make_client(make_app(root / 'work', data, max_upload_mb=1))
    return client, root, data


def wait(client, jid, states=('done', 'failed', 'cancelled'), timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = client.get(f'/api/jobs/{jid}').json()
        if st['state'] in states:
            return st
        time.sleep(0.2)
    raise AssertionError(f'job {jid} still {st["state"]} after {timeout}s')


def upload(client, path, name=None):
    return client.post('/api/scenes', params={'name': name or path.name},
                       content=path.read_bytes(), headers=RAW)


def test_page_info_files(env):
    client, root, data = env
    r = client.get('/')
    assert r.status_code == 200 and 'leaflet' in r.text.lower()
    info = client.get('/api/info').json()
    assert 'SegEarth' in info['choices']['model_type'] and info['data_dir'] is True
    assert 'openearthmap' in info['presets'] and ';' in info['presets']['openearthmap']
    assert client.get('/api/files').json()['files'] == ['sub/scene.tif']   # no txt, no secret


def test_upload_run_tiles_pixel_downloads(env, tmp_path):
    import rasterio
    client, root, data = env
    r = upload(client, data / 'sub' / 'scene.tif', 'my scene.tif')
    assert r.status_code == 200, r.text
    scene = r.json()
    assert scene['crs'] == CRS and scene['georeferenced'] and scene['width'] == 256
    (s, w), (n, e) = scene['bounds']
    assert 50.9 < s < n < 51.0 and 6.9 < w < e < 7.0          # near Cologne
    r = client.post('/api/jobs', json=dict(scene=scene['id'], classes='water,river;building,roof;tree',
                                           model_options=dict(prob_thd=0.0)))
    assert r.status_code == 200, r.text
    job = wait(client, r.json()['id'])
    assert job['state'] == 'done', job['message']
    assert job['progress']['done'] == job['progress']['total'] >= 1
    names = [c['name'] for c in job['result']['classes']]
    assert names == ['water', 'building', 'tree']
    assert sum(c['pixels'] for c in job['result']['classes']) == 256 * 256
    assert job['result']['classes'][0]['area_m2'] == job['result']['classes'][0]['pixels']

    # tiles of the scene and the class map at a zoom covering the scene: some opaque pixels
    from PIL import Image
    import io
    import math
    lat, lng = (s + n) / 2, (w + e) / 2
    z = 16
    x = int((lng + 180) / 360 * 2 ** z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2 ** z)
    for url in (f'/api/scenes/{scene["id"]}/tiles/{z}/{x}/{y}.png',
                f'/api/jobs/{job["id"]}/tiles/{z}/{x}/{y}.png'):
        r = client.get(url)
        assert r.status_code == 200 and r.headers['content-type'] == 'image/png'
        rgba = np.asarray(Image.open(io.BytesIO(r.content)))
        assert rgba.shape == (256, 256, 4) and rgba[..., 3].max() == 255
    far = np.asarray(Image.open(io.BytesIO(client.get(
        f'/api/scenes/{scene["id"]}/tiles/{z}/0/0.png').content)))
    assert far[..., 3].max() == 0                                # off the scene: transparent
    hidden = client.get(f'/api/jobs/{job["id"]}/tiles/{z}/{x}/{y}.png',
                        params={'hide': '0,1,2'}).content
    assert np.asarray(Image.open(io.BytesIO(hidden)))[..., 3].max() == 0

    # pixel query at the scene's centre agrees with the class GeoTIFF
    r = client.get(f'/api/jobs/{job["id"]}/pixel', params=dict(lat=lat, lng=lng))
    px = r.json()
    assert px['inside'] and set(px['probabilities']) == set(names)
    assert all(0 <= v <= 1 for v in px['probabilities'].values())
    assert px['name'] == max(px['probabilities'], key=px['probabilities'].get)
    assert client.get(f'/api/jobs/{job["id"]}/pixel', params=dict(lat=0, lng=0)).json()['inside'] is False

    # downloads
    r = client.get(f'/api/jobs/{job["id"]}/download/labels')
    assert r.status_code == 200
    tif = tmp_path / 'labels.tif'
    tif.write_bytes(r.content)
    with rasterio.open(tif) as src:
        assert src.crs.to_string() == CRS and src.shape == (256, 256)
        assert src.colormap(1)[0][:3] is not None
        labels = src.read(1)
        assert labels[px['row'], px['col']] == px['label']
    summary = client.get(f'/api/jobs/{job["id"]}/download/summary').json()
    assert summary['crs'] == CRS and [c['name'] for c in summary['classes']] == names
    r = client.get(f'/api/jobs/{job["id"]}/download/overlay')
    assert r.status_code == 200 and r.content[:4] == b'\x89PNG'
    assert 'cloud-optimized' in client.get(f'/api/jobs/{job["id"]}/download/labels').headers['content-type']
    # polygons, traced at the first download: the scene's CRS, every pixel in one polygon
    import geopandas as gpd
    for fmt, media in (('geojson', 'application/geo+json'), ('gpkg', 'application/geopackage+sqlite3')):
        r = client.get(f'/api/jobs/{job["id"]}/download/polygons', params={'format': fmt})
        assert r.status_code == 200 and r.headers['content-type'] == media
        (tmp_path / f'p.{fmt}').write_bytes(r.content)
        df = gpd.read_file(tmp_path / f'p.{fmt}')
        assert df.crs.to_string() == CRS and df.pixels.sum() == 256 * 256
        assert df.area_m2.sum() == pytest.approx(256 * 256) and df.mean_prob.between(0, 1).all()
    r = client.get(f'/api/jobs/{job["id"]}/download/polygons', params={'format': 'shp'})
    assert r.status_code == 404 and 'gpkg, geojson, fgb' in r.json()['error']


def test_pick_plain_image_and_cancel(env, tmp_path, monkeypatch, request):
    import threading

    from PIL import Image

    from segearth_ov.mapping import predictor
    client, root, data = env
    # the data folder is the module's: leave it as found (test_page_info_files lists it)
    request.addfinalizer(lambda: (data / 'plain.png').unlink(missing_ok=True))
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 96, 3), np.uint8)).save(
        data / 'plain.png')
    r = client.post('/api/scenes/pick', json={'path': 'plain.png'})
    assert r.status_code == 200, r.text
    plain = r.json()
    assert plain['crs'] is None and plain['bounds'] is None
    r = client.get(f'/api/scenes/{plain["id"]}/image.png')
    assert np.asarray(Image.open(__import__('io').BytesIO(r.content))).shape == (64, 96, 4)
    assert client.get(f'/api/scenes/{plain["id"]}/tiles/1/0/0.png').status_code == 404

    # a long job queued behind a plain-image job: cancel it while queued or running
    big = synthetic_geotiff(tmp_path / 'big.tif', 512)
    bscene = upload(client, big).json()
    j1 = client.post('/api/jobs', json=dict(scene=plain['id'], classes='a;b')).json()
    j2 = client.post('/api/jobs', json=dict(scene=bscene['id'], classes='road;water')).json()
    assert j2['state'] == 'queued'
    r = client.post(f'/api/jobs/{j2["id"]}/cancel')
    assert r.json()['state'] in ('cancelled', 'running')
    assert wait(client, j2['id'])['state'] == 'cancelled'
    assert not list((root / 'work' / 'jobs' / j2['id']).glob('*_labels.tif'))
    done = wait(client, j1['id'])
    assert done['state'] == 'done' and done['result']['crs'] is None
    # a class text naming a server file is a class name, never a file that is read
    (root / 'secret_classes.txt').write_text('topsecret\n')
    named = str(root / 'secret_classes.txt')
    j4 = client.post('/api/jobs', json=dict(scene=plain['id'], classes=named)).json()
    names = [c['name'] for c in wait(client, j4['id'])['result']['classes']]
    assert names == [named] and 'topsecret' not in json.dumps(client.get(f'/api/jobs/{j4["id"]}').json())
    r = client.get(f'/api/jobs/{j1["id"]}/image.png', params={'hide': '1'})
    assert r.status_code == 200
    px = client.get(f'/api/jobs/{j1["id"]}/pixel', params=dict(lat=-10.5, lng=20.5)).json()
    assert px['inside'] and (px['row'], px['col']) == (10, 20)
    assert client.get(f'/api/jobs/{j1["id"]}/download/labels').content[:4] == b'\x89PNG'

    # cancel while running: the job is held after its first tile (so a fast machine cannot
    # finish it between two polls) until the cancel has been asked for
    cancel_asked = threading.Event()
    real_predict_file = predictor.predict_file

    def held_after_first_tile(*args, progress, **kwargs):
        def held(done, total):
            progress(done, total)
            if done == 1:
                cancel_asked.wait(60)
        return real_predict_file(*args, progress=held, **kwargs)

    monkeypatch.setattr(predictor, 'predict_file', held_after_first_tile)
    j3 = client.post('/api/jobs', json=dict(scene=bscene['id'], classes='road;water')).json()
    st = wait(client, j3['id'], states=('running', 'done', 'failed'))
    t0 = time.time()
    while st['state'] == 'running' and st['progress']['done'] < 1 and time.time() - t0 < 60:
        time.sleep(0.02)
        st = client.get(f'/api/jobs/{j3["id"]}').json()
    assert st['state'] == 'running' and 1 <= st['progress']['done'] < st['progress']['total']
    client.post(f'/api/jobs/{j3["id"]}/cancel')
    cancel_asked.set()
    st = wait(client, j3['id'])
    assert st['state'] == 'cancelled' and st['message'] == 'cancelled while running'
    assert not (root / 'work' / 'jobs' / j3['id']).exists()          # not even its folder
    assert client.get(f'/api/jobs/{j3["id"]}/download/labels').status_code == 409


@pytest.mark.parametrize('case', ['not_raster', 'vrt_in_disguise', 'oversized', 'dotdot_upload', 'dotdot_pick',
                                  'outside_link', 'empty_classes', 'bad_bands', 'bad_option', 'weights'])
def test_rejections(env, case):
    client, root, data = env
    if case == 'not_raster':
        r = client.post('/api/scenes', params={'name': 'x.tif'}, content=b'hello, not a raster', headers=RAW)
        assert r.status_code == 400 and 'does not open as a raster' in r.json()['error']
    elif case == 'vrt_in_disguise':      # a VRT named .tif would read the server's files
        vrt = (f'<VRTDataset rasterXSize="256" rasterYSize="256"><VRTRasterBand dataType="Byte" '
               f'band="1"><SimpleSource><SourceFilename>{root / "secret.tif"}</SourceFilename>'
               '<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>')
        r = client.post('/api/scenes', params={'name': 'x.tif'}, content=vrt.encode(), headers=RAW)
        assert r.status_code == 400 and 'does not open as a raster' in r.json()['error']
    elif case == 'oversized':
        r = client.post('/api/scenes', params={'name': 'huge.tif'}, content=b'0' * (2 * 2 ** 20), headers=RAW)
        assert r.status_code == 413 and 'larger than the limit' in r.json()['error']
        # without a Content-Length (chunked): refused, the page always sends one
        r = client.post('/api/scenes', params={'name': 'huge.tif'},
                        content=iter([b'0' * 2 ** 19] * 4), headers=RAW)
        assert r.status_code == 411 and 'Content-Length' in r.json()['error']
        assert not list((root / 'work' / 'uploads').rglob('huge.tif'))
    elif case == 'dotdot_upload':
        r = client.post('/api/scenes', params={'name': '../evil.tif'}, content=b'x', headers=RAW)
        assert r.status_code == 400 and 'plain file name' in r.json()['error']
        assert not (root / 'work' / 'evil.tif').exists()
    elif case == 'dotdot_pick':
        r = client.post('/api/scenes/pick', json={'path': '../secret.tif'})
        assert r.status_code == 400 and 'inside the data folder' in r.json()['error']
        r = client.post('/api/scenes/pick', json={'path': str(root / 'secret.tif')})
        assert r.status_code == 400
    elif case == 'outside_link':
        link = data / 'link.tif'
        if not link.exists():
            link.symlink_to(root / 'secret.tif')
        r = client.post('/api/scenes/pick', json={'path': 'link.tif'})
        assert r.status_code == 400 and 'outside the data folder' in r.json()['error']
        assert 'link.tif' not in client.get('/api/files').json()['files']
    elif case == 'empty_classes':
        sid = client.post('/api/scenes/pick', json={'path': 'sub/scene.tif'}).json()['id']
        for classes in ('', ' ; ;', None):
            r = client.post('/api/jobs', json=dict(scene=sid, classes=classes))
            assert r.status_code == 400 and 'class list is empty' in r.json()['error']
    elif case == 'bad_bands':
        sid = client.post('/api/scenes/pick', json={'path': 'sub/scene.tif'}).json()['id']
        r = client.post('/api/jobs', json=dict(scene=sid, classes='a', bands='5,2,1'))
        assert r.status_code == 400 and '5' in r.json()['error']
        r = client.get(f'/api/scenes/{sid}/tiles/1/1/0.png', params={'bands': '5,2,1'})
        assert r.status_code == 400
        r = client.post('/api/jobs', json=dict(scene=sid, classes='a', bands='1,2'))
        assert r.status_code == 400 and '1 or 3 band numbers' in r.json()['error']
    elif case == 'bad_option':
        sid = client.post('/api/scenes/pick', json={'path': 'sub/scene.tif'}).json()['id']
        r = client.post('/api/jobs', json=dict(scene=sid, classes='a', model_options={'prob_thd': 3}))
        assert r.status_code == 400 and 'from 0 to 1' in r.json()['error']
    elif case == 'weights':      # weights come only from the server's options
        sid = client.post('/api/scenes/pick', json={'path': 'sub/scene.tif'}).json()['id']
        r = client.post('/api/jobs', json=dict(scene=sid, classes='a',
                                               model_options={'pretrained': '/tmp/evil.pt'}))
        assert r.status_code == 400 and 'cannot be set from the page' in r.json()['error']
    assert client.get('/api/info').status_code == 200          # still up
    assert client.get('/api/jobs/nope').status_code == 404


def test_basemap_is_off_by_default_and_checked(tmp_path):
    from segearth_ov.webui.cli import build_parser
    from webui_helpers import make_client
    assert build_parser().parse_args([]).basemap is None
    assert make_client(make_app(tmp_path / 'a')).get('/api/info').json()['basemap'] is None
    url = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png'
    r = make_client(make_app(tmp_path / 'b', basemap=url)).get('/api/info')
    assert r.json()['basemap'] == url
    # the page's policy: images from here and the basemap's host only ({s}: its subdomains)
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in \
        r.headers['content-security-policy']
    r = make_client(make_app(tmp_path / 'd', basemap='https://{s}.tile.example.org/{z}/{x}/{y}.png'))
    assert "img-src 'self' data: https://*.tile.example.org;" in \
        r.get('/').headers['content-security-policy']
    for bad in ('file:///etc/{z}/{x}/{y}', 'https://tiles.example/{z}/{x}.png',
                'javascript:alert(1)//{z}{x}{y}', 'https://x.example/{z}/{x}/{y}"><script>'):
        with pytest.raises(ValueError, match='--basemap'):
            make_app(tmp_path / 'c', basemap=bad)
    page = (__import__('pathlib').Path(__file__).parents[2] / 'segearth_ov' / 'webui' / 'static'
            / 'app.js').read_text()
    assert 'nothing on this page comes from the internet' in page


def test_cli_options_are_the_predictors_and_bind_locally():
    from segearth_ov.mapping.cli import model_settings
    from segearth_ov.webui.cli import build_parser
    args = build_parser().parse_args(['--prob-thd', '0.2', '--upsampler', 'none',
                                      '--data-dir', 'scenes', '--classes', 'road;water'])
    assert args.host == '127.0.0.1' and args.port == 7860 and args.data_dir == 'scenes'
    assert model_settings(args) == {'prob_thd': 0.2, 'upsampler': None}
    with pytest.raises(SystemExit):          # no inputs and no output options here
        build_parser().parse_args(['scene.tif'])
