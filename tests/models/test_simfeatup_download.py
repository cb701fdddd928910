"""SimFeatUp's released weights: resolved like the CLIP presets, downloaded from a (local) file
server and verified by their git blob id before use; offline, a message naming the URL."""
from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
import time

import pytest

from conftest import JBU_CKPT
from segearth_ov.models.upsamplers import weights as upw
from segearth_ov.utils.download import git_blob_id


def test_git_blob_id_is_gits(tmp_path):
    path = tmp_path / 'hello.txt'
    path.write_bytes(b'hello\n')
    assert git_blob_id(path) == 'ce013625030ba8dba906f756967f9e9ca394464a'
    if shutil.which('git'):
        assert git_blob_id(JBU_CKPT['jbu_one']) == subprocess.run(
            ['git', 'hash-object', str(JBU_CKPT['jbu_one'])],
            capture_output=True, text=True, check=True).stdout.strip()


def test_released_files_are_the_repositorys():
    """Names and blob ids as `git ls-tree` lists them in likyoo/SegEarth-OV."""
    assert upw.RELEASED['jbu_one'].url == ('https://raw.githubusercontent.com/likyoo/SegEarth-OV/'
                                           'main/simfeatup_dev/weights/xclip_jbu_one_million_aid.ckpt')
    assert upw.RELEASED['jbu_stack'].blob_id == 'c90968f78af172c4a81f8575a3ebc2bda81c3eef'


@pytest.fixture
def file_server(tmp_path, no_proxy):
    """A loopback HTTP server over a folder; yields (folder, base URL, request log)."""
    root = tmp_path / 'served'
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f'http://127.0.0.1:{server.server_address[1]}/', requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def release(monkeypatch, file_server):
    """The jbu_one release served locally: its file is the fixture, its id the fixture's."""
    root, base, requests = file_server
    shutil.copy(JBU_CKPT['jbu_one'], root / 'xclip_jbu_one_million_aid.ckpt')
    monkeypatch.setattr(upw, 'RAW_BASE', base)
    monkeypatch.setitem(upw.RELEASED, 'jbu_one', upw.UpsamplerWeights(
        'xclip_jbu_one_million_aid.ckpt', git_blob_id(JBU_CKPT['jbu_one']), 'test'))
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    return root, requests


def test_download_verify_and_cache(release, tmp_path):
    from conftest import tiny_segmentor
    root, requests = release
    seg = tiny_segmentor(['road', 'water'], feature_up_cfg=dict(model_name='jbu_one'))
    cached = tmp_path / 'cache' / 'simfeatup' / 'xclip_jbu_one_million_aid.ckpt'
    assert cached.read_bytes() == JBU_CKPT['jbu_one'].read_bytes()
    assert requests == ['/xclip_jbu_one_million_aid.ckpt']
    assert seg.upsampler is not None
    # second time: from the cache, no request
    (root / 'xclip_jbu_one_million_aid.ckpt').unlink()
    assert upw.resolve_upsampler_weights('jbu_one') == str(cached)
    assert len(requests) == 1


def test_configs_path_to_the_released_file_downloads_too(release, tmp_path):
    """The configs' model_path='checkpoints/xclip_jbu_one_million_aid.ckpt' (absent) →
    the verified download, since the name is the released file's."""
    got = upw.resolve_upsampler_weights('jbu_one', 'checkpoints/xclip_jbu_one_million_aid.ckpt')
    assert got == str(tmp_path / 'cache' / 'simfeatup' / 'xclip_jbu_one_million_aid.ckpt')


def test_checkpoints_folder_wins_over_download(release, tmp_path):
    ckpts = tmp_path / 'checkpoints'
    ckpts.mkdir()
    shutil.copy(JBU_CKPT['jbu_one'], ckpts / 'xclip_jbu_one_million_aid.ckpt')
    assert upw.resolve_upsampler_weights('jbu_one') == str(ckpts / 'xclip_jbu_one_million_aid.ckpt')
    assert release[1] == []


def test_corrupted_download_is_refused_and_deleted(release, tmp_path):
    root, _ = release
    data = bytearray((root / 'xclip_jbu_one_million_aid.ckpt').read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / 'xclip_jbu_one_million_aid.ckpt').write_bytes(bytes(data))
    with pytest.raises(FileNotFoundError, match='failed its check: git blob id'):
        upw.resolve_upsampler_weights('jbu_one')
    assert not list((tmp_path / 'cache' / 'simfeatup').glob('*'))


def test_offline_names_the_url_and_where_to_put_it(monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(FileNotFoundError) as err:
        upw.resolve_upsampler_weights('jbu_stack')
    msg = str(err.value)
    assert upw.RELEASED['jbu_stack'].url in msg
    assert 'checkpoints/clip_jbu_stack_cocostuff.ckpt' in msg and 'offline' in msg


def test_no_network_fails_fast_naming_the_url(monkeypatch, no_proxy):
    """A host that does not answer (here a loopback port bound but not listening: refused,
    and held, so that no other program can start listening on it meanwhile) is recognised
    at once."""
    import socket
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        monkeypatch.setattr(upw, 'RAW_BASE', f'http://127.0.0.1:{port}/weights/')
        start = time.monotonic()
        with pytest.raises(FileNotFoundError, match=f'127.0.0.1:{port}/weights/xclip_jbu_one'):
            upw.resolve_upsampler_weights('jbu_one')
        assert time.monotonic() - start < 10


def test_unknown_file_is_not_downloaded(monkeypatch):
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    with pytest.raises(FileNotFoundError, match='not a released file.*simfeatup_train'):
        upw.resolve_upsampler_weights('jbu_one', 'work_dirs/mine/jbu_one_custom.ckpt')


def test_hub_presets_fail_fast_without_a_network(monkeypatch):
    """No hub client's minute of retries: one probe, one message."""
    from segearth_ov.models.backbones import get_preset, resolve_weights, weights as bw
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    calls = []

    def hub(repo, fname, local_only):
        calls.append(local_only)
        raise OSError('not cached')

    monkeypatch.setattr(bw, '_hf_download', hub)
    monkeypatch.setattr(bw, 'unreachable', lambda url: 'gaierror: Name or service not known')
    with pytest.raises(bw.WeightsNotFoundError, match='no network: https://huggingface.co'):
        resolve_weights(get_preset('RemoteCLIP', 'ViT-B/32'), name='RemoteCLIP ViT-B/32')
    assert calls == [True]          # the cache was looked in; no download attempted
