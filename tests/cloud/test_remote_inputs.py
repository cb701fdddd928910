"""Scenes by URL and STAC items as inputs (segearth_ov/mapping/sources.py, stac.py), over
real HTTP: `range_server.RangeServer` on 127.0.0.1 serves Cloud-Optimized GeoTIFFs made from
the demo tile and STAC JSON, and counts the bytes it sends. Nothing of ours is mocked.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.shutil import copy as gdal_copy
from rasterio.windows import Window

from conftest import JBU_CKPT, OEM_TILE, ROOT, TINY_CFG, TINY_PT, run_launcher
import segearth_ov
from segearth_ov.mapping import cli, predictor, region
from segearth_ov.mapping.raster_io import gdal_env, open_raster
from segearth_ov.utils.images import ImageReadError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / 'region'))
from range_server import RangeServer  # noqa: E402
import region_worker as W  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_thread', 'no_proxy', 'fast_retries')
SECRET = 'sig=TOPSECRET'
OPTIONS = dict(tile=64, overlap=16)


@pytest.fixture
def fast_retries(monkeypatch):
    """A retried read waits 10 ms, not GDAL_HTTP_RETRY_DELAY's default second."""
    monkeypatch.setenv('GDAL_HTTP_RETRY_DELAY', '0.01')


def cog(src_path: Path, dst: Path, window: Window | None = None, bands=None) -> Path:
    """A COG (256² deflate tiles, overviews) of a window and bands of a GeoTIFF."""
    with rasterio.open(src_path) as src:
        window = window or Window(0, 0, src.width, src.height)
        bands = bands or list(range(1, src.count + 1))
        data = src.read(bands, window=window)
        profile = dict(driver='GTiff', height=data.shape[1], width=data.shape[2],
                       count=len(bands), dtype=data.dtype, crs=src.crs,
                       transform=src.window_transform(window))
    tmp = dst.with_suffix('.plain.tif')
    with rasterio.open(tmp, 'w', **profile) as out:
        out.write(data)
    gdal_copy(tmp, dst, driver='COG', COMPRESS='DEFLATE', BLOCKSIZE=256)
    tmp.unlink()
    return dst


CROPS = {'item-a': Window(0, 0, 200, 160), 'item-b': Window(400, 300, 120, 200),
         'item-c': Window(700, 700, 150, 150)}


def item(item_id: str, assets: dict, bbox=(6.8, 50.9, 6.9, 51.0)) -> dict:
    """A STAC 1.0 Item (JSON) with these assets (hrefs relative to the document)."""
    x0, y0, x1, y1 = bbox
    return {'type': 'Feature', 'stac_version': '1.0.0', 'id': item_id,
            'geometry': {'type': 'Polygon', 'coordinates': [[[x0, y0], [x1, y0], [x1, y1],
                                                             [x0, y1], [x0, y0]]]},
            'bbox': list(bbox), 'properties': {'datetime': '2024-06-01T10:00:00Z'},
            'links': [], 'assets': assets}


COG_TYPE = 'image/tiff; application=geotiff; profile=cloud-optimized'


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    """The server's folder: the demo tile as a COG, three crops (one STAC item each, in an
    ItemCollection) and single-band and four-band COGs with eo:bands common names."""
    root = tmp_path_factory.mktemp('served')
    cog(OEM_TILE, root / 'scene.tif')
    for name, win in CROPS.items():
        cog(OEM_TILE, root / f'{name}.tif', win)
    features = [item(name, {'visual': {'href': f'{name}.tif', 'type': COG_TYPE,
                                       'roles': ['visual']},
                            'thumbnail': {'href': f'{name}.png', 'roles': ['thumbnail']}})
                for name in CROPS]
    (root / 'search.json').write_text(json.dumps({'type': 'FeatureCollection',
                                                  'features': features}))
    import pystac
    catalog = pystac.Catalog('crops', 'the three crops as a static catalogue')
    for f in features:
        stac_item = pystac.Item.from_dict(json.loads(json.dumps(f)))
        for asset in stac_item.assets.values():     # the item's JSON is in cat/<id>/
            asset.href = f'../../{asset.href}'
        catalog.add_item(stac_item)
    catalog.normalize_and_save(str(root / 'cat'), pystac.CatalogType.SELF_CONTAINED)
    gone = item('gone', {'visual': {'href': 'gone.tif', 'type': COG_TYPE, 'roles': ['visual']}})
    (root / 'moved.json').write_text(json.dumps({'type': 'FeatureCollection',
                                                 'features': [features[0], gone]}))
    win = CROPS['item-b']
    for b, common in zip((1, 2, 3), ('red', 'green', 'blue')):
        cog(OEM_TILE, root / f'b_{common}.tif', win, [b])
    (root / 'multi.json').write_text(json.dumps(item('multi', {     # as Sentinel-2's
        f'B0{k}': {'href': f'b_{c}.tif', 'type': COG_TYPE, 'roles': ['data'],
                   'eo:bands': [{'name': f'B0{k}', 'common_name': c}]}
        for k, c in zip((4, 3, 2), ('red', 'green', 'blue'))})))
    cog(OEM_TILE, root / 'b_4band.tif', win, [3, 1, 2, 3])      # blue, red, green, blue
    bands = [{'name': f'B{k}', 'common_name': c} for k, c in
             enumerate(('coastal', 'red', 'green', 'blue'), 1)]
    (root / 'four.json').write_text(json.dumps(item('four', {      # as NAIP's 4-band image
        'image': {'href': 'b_4band.tif', 'type': COG_TYPE, 'roles': ['data'],
                  'eo:bands': bands}})))
    return root


@pytest.fixture
def server(served):
    with RangeServer(served) as srv:
        yield srv


def tiny_args(out: Path) -> list[str]:
    return ['--classes', 'background;building,roof;road;tree;water', '--pretrained', str(TINY_PT),
            '--model-cfg', str(TINY_CFG), '--upsampler-ckpt', str(JBU_CKPT['jbu_one']),
            '--device', 'cpu', '--tile', '224', '--quiet', '--no-overlay', '--out', str(out)]


def texts(folder: Path) -> str:
    return ''.join(p.read_text(errors='replace') for p in folder.rglob('*')
                   if p.is_file() and p.suffix in ('.json', '.txt', '.log', '.xml', '.vrt'))


# ------------------------------------------------------------------------------ URLs
def test_a_window_and_a_plan_read_byte_ranges_not_the_file(server, served, capsys):
    """--dry-run of a URL reads the header only; a 256² window one tile's bytes; all with
    Range requests. Before: a URL was taken for a local path ("image not found")."""
    size = (served / 'scene.tif').stat().st_size
    url = server.url('scene.tif') + '?' + SECRET
    assert cli.main([url, '--classes', 'road;water', '--dry-run']) == 0
    out = capsys.readouterr().out
    assert f'{server.url("scene.tif")}: 3 band(s) uint8' in out, out
    header = server.sent('scene.tif')
    assert 0 < header <= 32_768 < size / 50        # ≤ 2 × GDAL's 16 KiB at open
    with gdal_env(), open_raster(url) as src:
        assert src.name == server.url('scene.tif')      # the public URL names it
        block = src.read(1, window=Window(256, 256, 256, 256))
    local = rasterio.open(served / 'scene.tif').read(1, window=Window(256, 256, 256, 256))
    assert np.array_equal(block, local)
    window_bytes = server.sent('scene.tif') - header
    # one of the 16 tiles (180 KB of 3 MB) and the header again (the dry run's dataset closed)
    assert window_bytes < size / 10
    gets = [s for s in server.log if s.sent]
    assert gets and all(s.range and s.status == 206 for s in gets)
    assert SECRET not in out


def test_url_class_map_equals_the_local_file_and_keeps_secrets_out(server, served, tmp_path,
                                                                   capsys):
    """tools/predict.py on a signed URL: the class map is the local file's, byte for byte of
    pixels; the scene is fetched about once (not once per tile); the query string appears
    in no output, message or log."""
    url = server.url('item-a.tif') + '?' + SECRET
    assert cli.main([url, *tiny_args(tmp_path / 'remote')]) == 0
    assert cli.main([str(served / 'item-a.tif'), *tiny_args(tmp_path / 'local')]) == 0
    printed = capsys.readouterr()
    with rasterio.open(tmp_path / 'remote' / 'item-a_labels.tif') as a, \
            rasterio.open(tmp_path / 'local' / 'item-a_labels.tif') as b:
        assert np.array_equal(a.read(1), b.read(1)) and a.crs == b.crs
        assert a.transform == b.transform
    summary = json.loads((tmp_path / 'remote' / 'item-a_summary.json').read_text())
    assert summary['input'] == server.url('item-a.tif')
    size = (served / 'item-a.tif').stat().st_size
    assert server.sent('item-a.tif') <= size      # each byte once, at most
    assert 'TOPSECRET' not in texts(tmp_path) + printed.out + printed.err


def test_python_predict_and_inference_image_take_urls(server, served):
    from conftest import tiny_segmentor
    from segearth_ov.apis import inference_image
    model = tiny_segmentor(['water', 'building', 'road'])
    local = segearth_ov.predict(served / 'item-c.tif', model=model)
    remote = segearth_ov.predict(server.url('item-c.tif'), model=model)
    assert np.array_equal(local, remote)
    labels, _ = inference_image(model, server.url('item-c.tif'), size=0)
    ref, _ = inference_image(model, str(served / 'item-c.tif'), size=0)
    assert np.array_equal(labels, ref)


def test_s3_urls_read_through_gdal_with_the_environment_credentials(server, served, tmp_path,
                                                                     monkeypatch):
    """s3://bucket/key → /vsis3/, signed with the AWS_* credentials of the environment, here
    against the local server as an S3 endpoint; the secret key is written nowhere."""
    bucket = served / 'bucket'
    bucket.mkdir(exist_ok=True)
    (bucket / 'item-c.tif').write_bytes((served / 'item-c.tif').read_bytes())
    monkeypatch.setenv('AWS_S3_ENDPOINT', f'127.0.0.1:{server.port}')
    monkeypatch.setenv('AWS_HTTPS', 'NO')
    monkeypatch.setenv('AWS_VIRTUAL_HOSTING', 'FALSE')
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'AKIAEXAMPLE')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'S3CRETKEYNEVERSHOWN')
    model = W.stub(32)
    remote = predictor.predict_file('s3://bucket/item-c.tif', model, tmp_path / 's3',
                                    options=predictor.SceneOptions(**OPTIONS), progress=False)
    assert remote['input'] == 's3://bucket/item-c.tif'
    assert any(s.path == 'bucket/item-c.tif' and s.status == 206 for s in server.log)
    ref = segearth_ov.predict(served / 'item-c.tif', model=model, **OPTIONS)
    with rasterio.open(tmp_path / 's3' / 'item-c_labels.tif') as src:
        assert np.array_equal(src.read(1), ref)
    assert 'S3CRETKEYNEVERSHOWN' not in texts(tmp_path)
    with pytest.raises(ImageReadError, match=r'^s3://bucket/gone\.tif: HTTP 404'):
        segearth_ov.predict('s3://bucket/gone.tif', model=model)


# ------------------------------------------------------------------------------ errors
def test_404_and_403_name_the_url_and_the_status(server, tmp_path, capsys):
    server.refuse['scene.tif'] = 403
    missing = server.url('missing.tif') + '?' + SECRET
    assert cli.main([missing, server.url('scene.tif') + '?' + SECRET,
                     *tiny_args(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f'error: {server.url("missing.tif")}: HTTP 404 Not Found (no file at this URL' in err
    assert f'error: {server.url("scene.tif")}: HTTP 403 Forbidden (access denied: a signed ' \
           'URL may have expired' in err
    assert '2 of 2 input(s) failed' in err and 'TOPSECRET' not in err


def test_a_server_without_range_requests(server, served, monkeypatch, caplog):
    """A server that answers every request with the whole file (GDAL refuses it for all but
    tiny files): files up to $SEGEARTH_FULL_DOWNLOAD_MB are fetched whole with a warning
    (the same class map); above, a clear error says why and what to do."""
    server.ignore_range.add('scene.tif')
    model = W.stub(32)
    with caplog.at_level(logging.WARNING, logger='segearth_ov'):
        labels = segearth_ov.predict(server.url('scene.tif'), model=model, tile=448)
    assert 'does not answer HTTP range requests; it is 2.9 MB (under 64 MB, ' \
           '$SEGEARTH_FULL_DOWNLOAD_MB): downloading it whole' in caplog.text
    assert np.array_equal(labels, segearth_ov.predict(served / 'scene.tif', model=model,
                                                      tile=448))
    monkeypatch.setenv('SEGEARTH_FULL_DOWNLOAD_MB', '1')
    with pytest.raises(ImageReadError) as err:
        segearth_ov.predict(server.url('scene.tif') + '?' + SECRET, model=model)
    text = str(err.value)
    assert text.startswith(f'{server.url("scene.tif")}: the server does not answer HTTP range '
                           'requests, so it cannot be read window by window, and it is 3 MB, '
                           'above the 1 MB fetched whole')
    assert 'curl -o' in text and 'TOPSECRET' not in text


def test_busy_answers_are_retried_by_gdal(server, served):
    """503 (a busy server, a throttling store) is retried by GDAL under REMOTE_GDAL's
    GDAL_HTTP_MAX_RETRY (GDAL's own default is no retry), for the header and the pixels."""
    model = W.stub(32)
    server.busy['item-a.tif'] = 2
    labels = segearth_ov.predict(server.url('item-a.tif'), model=model, **OPTIONS)
    assert np.array_equal(labels, segearth_ov.predict(served / 'item-a.tif', model=model,
                                                      **OPTIONS))
    assert [s.status for s in server.log][:3] == [503, 503, 200]


def test_a_dropped_connection_is_retried(server, served, caplog):
    """The connection drops halfway through a range: the window is read again (the class
    map is the local file's); when it keeps dropping, the scene fails with a clear error."""
    model = W.stub(32)
    ref = segearth_ov.predict(served / 'item-b.tif', model=model, **OPTIONS)
    server.drops['item-b.tif'] = 1
    with caplog.at_level(logging.WARNING, logger='segearth_ov'):
        labels = segearth_ov.predict(server.url('item-b.tif'), model=model, **OPTIONS)
    assert np.array_equal(labels, ref)
    assert 'a read failed' in caplog.text and 'retry 1 of 3' in caplog.text
    server.drops['item-b.tif'] = 100
    with pytest.raises(ImageReadError, match=r'item-b\.tif: reading failed 4 times .*run '
                                             r'again to retry'):
        segearth_ov.predict(server.url('item-b.tif'), model=model, **OPTIONS)


# ------------------------------------------------------------------------------ STAC
def test_stac_catalogue_and_local_items(server, served):
    """A static catalogue by URL (its items read through their links) and a saved search
    as a local file: one scene per item, asset hrefs resolved against their documents."""
    from segearth_ov.apis import stac_sources
    remote = stac_sources(server.url('cat/catalog.json'))
    assert sorted((s.stem, s.href, s.item) for s in remote) == [
        (name, server.url(f'{name}.tif'), server.url(f'cat/{name}/{name}.json'))
        for name in sorted(CROPS)]
    local = cli.expand_inputs([str(served / 'search.json')])
    assert [(s.stem, s.href, s.remote) for s in local] == [
        (name, str(served / f'{name}.tif'), False) for name in CROPS]
    model = W.stub(32)
    ref = segearth_ov.predict(served / 'item-c.tif', model=model, **OPTIONS)
    for source in (remote[-1], local[-1]):
        assert np.array_equal(segearth_ov.predict(source, model=model, **OPTIONS), ref)


def test_stac_assets_and_bands_by_common_name(server, served, tmp_path):
    from segearth_ov.apis import stac_sources
    """--bands red,green,blue of an item with one asset per band, or of one four-band asset
    (eo:bands common names), reads the same pixels as the RGB file; a missing visual asset,
    asset or band is named with what exists."""
    model = W.stub(32)
    ref = segearth_ov.predict(served / 'item-b.tif', model=model, **OPTIONS)
    url = server.url('multi.json')
    rgb = ('red', 'green', 'blue')
    [three] = cli.expand_inputs([url], bands=rgb)
    [stack] = stac_sources(server.url('four.json'), bands=rgb)
    assert (three.stem, three.asset, stack.stem, stack.asset) == ('multi', 'B04,B03,B02',
                                                                  'four', 'image')
    assert str(three) == f'{url} [B04,B03,B02]'
    for source in (three, stack):
        assert np.array_equal(segearth_ov.predict(source, model=model, **OPTIONS), ref)
    with pytest.raises(ImageReadError, match=r'item multi has no visual \(RGB\) asset: choose one '
                                             r'with --asset \(its assets: B02, B03, B04\)'):
        cli.expand_inputs([url])
    with pytest.raises(ImageReadError, match=r"asset 'image' has no bands named red,green,nir "
                                             r'\(its bands: coastal,red,green,blue\)'):
        cli.expand_inputs([server.url('four.json')], asset='image', bands=('red', 'green', 'nir'))
    with pytest.raises(ImageReadError, match=r"no asset holds the band 'nir'"):
        cli.expand_inputs([url], bands=('nir', 'red', 'green'))
    with pytest.raises(ImageReadError, match=r"item multi: no asset 'B08'"):
        cli.expand_inputs([url], asset='B08')
    with pytest.raises(ValueError, match='no input is STAC JSON; for a file give band numbers'):
        cli.expand_inputs([str(served / 'scene.tif')], bands=('red', 'green', 'blue'))


def test_the_map_page_refuses_band_names(capsys):
    """The map page reads local files only: STAC band names are not its --bands."""
    from segearth_ov.webui.cli import main
    assert main(['--bands', 'red,green,blue']) == 2
    assert capsys.readouterr().err.strip() == (
        'error: --bands red,green,blue: names choose bands of STAC items, inputs of '
        'tools/predict.py; here give band numbers, e.g. 3,2,1')


def test_region_plan_of_a_saved_search_reads_headers_only(server, tmp_path, capsys):
    """--dry-run of a region over an ItemCollection: one scene per item, named by its id;
    an item whose asset is gone (404) is a failed unit of its own, named with the URL."""
    argv = [server.url('moved.json'), '--classes', 'road;water', '--region', '--dry-run',
            '--ranks', '2', '--out', str(tmp_path)]
    assert region.main(argv) == 0
    out = capsys.readouterr().out
    assert '2 work unit(s) over 2 rank(s) (2 scene(s))' in out
    assert '  item-a: 200 × 160 px (rows 0-160), ' in out
    assert f'  gone: error: {server.url("gone.tif")}: HTTP 404 Not Found' in out
    reads = [s for s in server.log if s.sent and s.path.endswith('.tif')]
    assert reads and all(s.range.startswith('bytes=0-') for s in reads)


def test_two_process_region_over_an_item_collection(server, served, tmp_path):
    """torchrun, 2 ranks, over a saved search of three items (one scene each, named by the
    item id): the class maps are those of the local files, the output catalogue links each
    to its source item; a scene whose connection keeps dropping fails alone, and the rerun
    does that one item only."""
    ref = tmp_path / 'local'
    local = [served / f'{name}.tif' for name in CROPS]
    region.run_region(W.stub(32), W.job(ref, local))
    server.drops['item-b.tif'] = 100
    out = tmp_path / 'region'
    search = server.url('search.json')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--standalone', str(HERE.parent / 'region' / 'region_worker.py'), str(out), '32', '-1',
           search]
    proc = run_launcher(cmd, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'item-b' in proc.stdout and '1 scene(s) failed' in proc.stdout
    assert 'reading failed 4 times' in (out / '.region' / 'logs').joinpath(
        'rank0.log').read_text() + (out / '.region' / 'logs' / 'rank1.log').read_text()
    first = json.loads((out / 'region_manifest.json').read_text())
    assert {u['rank'] for u in first['units']} == {0, 1}
    assert sorted(first['scenes']) == ['item-a', 'item-c']
    server.drops.clear()
    served_before = len(server.log)
    result = region.run_region(W.stub(32), W.job(out, [search]))    # the rerun, one process
    assert result['failed'] == [] and result['scenes'] == 3
    manifest = json.loads((out / 'region_manifest.json').read_text())
    assert sorted(manifest['scenes']) == ['item-a', 'item-b', 'item-c']
    redone = [u['id'] for u in manifest['units'] if u['stem'] == 'item-b']
    assert result['stats'][0]['units'] == len(redone)        # item-b's units only
    # item-a and item-c were planned from their headers, not read again
    again = [s for s in server.log[served_before:] if s.path in ('item-a.tif', 'item-c.tif')]
    assert again and all(s.range.startswith('bytes=0-') for s in again if s.sent)
    for name in CROPS:
        with rasterio.open(out / f'{name}_labels.tif') as a, \
                rasterio.open(ref / f'{name}_labels.tif') as b:
            assert np.array_equal(a.read(1), b.read(1))
    import pystac
    cat = pystac.Catalog.from_file(str(out / 'stac' / 'catalog.json'))
    items = {i.id: i for i in cat.get_items(recursive=True)}
    assert sorted(items) == ['item-a', 'item-b', 'item-c']
    link = items['item-b'].get_single_link('derived_from')
    assert link.href == f'{search}#item-b'
    assert items['item-b'].properties['source'] == server.url('item-b.tif')
    summary = json.loads((out / 'item-b_summary.json').read_text())
    assert summary['stac_item'] == f'{search}#item-b' and summary['asset'] == 'visual'
