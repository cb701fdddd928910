"""Every checkpoint container users hold loads, with tensors equal to the file's own, and
torch's weights_only safety kept (README "Backbone presets and weights")."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import JBU_CKPT, OEM_TILE, ROOT, TINY_CFG, TINY_PT
from segearth_ov.models.backbones.builder import build_clip
from segearth_ov.utils.checkpoints import CheckpointError, container_of, read_state_dict
from weight_containers import (KEPT, LONG_CONTEXT, longclip_state, tiny_state,
                               write_lightning_checkpoint, write_openclip_training_checkpoint,
                               write_torchscript_archive)


def assert_model_holds(model, expected: dict):
    """Every tensor of the file is in the model unchanged (as float32)."""
    own = model.state_dict()
    for key, value in expected.items():
        torch.testing.assert_close(own[key], value.float(), rtol=0, atol=0, msg=key)


def build(path):
    return build_clip('CLIP', 'ViT-B/16', pretrained=str(path), model_cfg=str(TINY_CFG))


def test_openai_torchscript_archive(tmp_path):
    path = tmp_path / 'ViT-B-16.pt'
    half = write_torchscript_archive(path, tiny_state())
    with pytest.raises(Exception, match='TorchScript'):       # what users met before
        torch.load(path, weights_only=True)
    assert container_of(path) == 'torchscript'
    state = read_state_dict(path)
    assert 'input_resolution' not in state and 'context_length' not in state
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    model, _, weights = build(path)
    assert weights == str(path)
    assert_model_holds(model, half)


def test_openai_cache_is_looked_in(tmp_path, monkeypatch):
    """`clip.load` users have the file in ~/.cache/clip: the CLIP preset finds it there."""
    from segearth_ov.models.backbones import get_preset, resolve_weights
    monkeypatch.setenv('SEGEARTH_OPENAI_CLIP_CACHE', str(tmp_path))
    write_torchscript_archive(tmp_path / 'ViT-B-16.pt', tiny_state())
    assert resolve_weights(get_preset('CLIP', 'ViT-B/16')) == str(tmp_path / 'ViT-B-16.pt')


def test_training_checkpoint_with_numpy1_scalars(tmp_path):
    """SkyCLIP's / MetaCLIP's training checkpoints: numpy scalars under their numpy-1 names."""
    path = tmp_path / 'epoch_20.pt'
    state = tiny_state()
    write_openclip_training_checkpoint(path, state)
    assert b'numpy.core.multiarray' in _pickle_bytes(path)       # built as the releases are
    with pytest.raises(Exception, match='numpy.core.multiarray.scalar'):
        torch.load(path, weights_only=True)                      # what users met before
    model, _, _ = build(path)
    assert_model_holds(model, state)


def test_numpy2_scalars_and_arrays_load_too(tmp_path):
    path = tmp_path / 'ckpt.pt'
    state = tiny_state()
    torch.save({'state_dict': state, 'lr': np.float32(1e-4), 'hist': np.arange(3)}, path)
    from segearth_ov.utils.checkpoints import load_checkpoint
    loaded = load_checkpoint(path)
    assert loaded['lr'] == np.float32(1e-4) and loaded['hist'].tolist() == [0, 1, 2]


def test_farslip_longclip_training_checkpoint(tmp_path):
    """FarSLIP1/2 ViT-B/16: a training checkpoint (module., optimizer, teacher, scaler) of a
    LongCLIP model, whose mask1/mask2 buffers are the fixed 20-row split."""
    path = tmp_path / 'FarSLIP1_ViT-B-16.pt'
    state = longclip_state(tiny_state(), with_masks=True)
    write_openclip_training_checkpoint(path, state, teacher=True)
    model, tokenizer, _ = build(path)
    assert tokenizer.context_length == LONG_CONTEXT
    merged = model.positional_embedding
    assert torch.equal(merged[:KEPT], state['positional_embedding'][:KEPT])
    assert torch.equal(merged[KEPT:], state['positional_embedding_res'][KEPT:])
    rest = {k: v for k, v in state.items()
            if k not in ('positional_embedding', 'positional_embedding_res', 'mask1', 'mask2')}
    assert_model_holds(model, rest)
    assert int(tokenizer(['a ' * 200])[0].argmax()) > 77          # 248-token tokenizer


def test_longclip_masks_that_are_not_the_fixed_split_are_refused(tmp_path):
    state = longclip_state(tiny_state(), with_masks=True)
    state['mask1'][KEPT] = 1
    torch.save(state, tmp_path / 'odd.pt')
    with pytest.raises(CheckpointError, match='not the split at position 20'):
        build(tmp_path / 'odd.pt')


def test_safetensors(tmp_path):
    from safetensors.torch import save_file
    state = tiny_state()
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / 'open_clip_model.safetensors')
    model, _, _ = build(tmp_path / 'open_clip_model.safetensors')
    assert_model_holds(model, state)


def test_simfeatup_lightning_checkpoint(tmp_path):
    from segearth_ov.models.upsamplers import build_upsampler
    state = write_lightning_checkpoint(tmp_path / 'clip_jbu_stack_cocostuff.ckpt')
    up = build_upsampler('jbu_stack', 64, 16, str(tmp_path / 'clip_jbu_stack_cocostuff.ckpt'))
    for key, value in state.items():
        assert torch.equal(up.state_dict()[key[len('upsampler.'):]], value), key


def test_pickled_objects_are_refused_in_our_words(tmp_path):
    import argparse
    torch.save({'state_dict': tiny_state(), 'args': argparse.Namespace(lr=1)}, tmp_path / 'x.pt')
    with pytest.raises(CheckpointError) as err:
        build(tmp_path / 'x.pt')
    msg = str(err.value)
    assert 'argparse.Namespace' in msg and str(tmp_path / 'x.pt') in msg
    assert 'weights_only=False' not in msg


@pytest.mark.parametrize('content, expected', [
    (b'version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12\n', 'Git LFS pointer'),
    (b'<!DOCTYPE html><html><body>Sign in</body></html>', 'HTML page'),
])
def test_files_that_are_not_weights(tmp_path, content, expected):
    (tmp_path / 'ViT-B-16.pt').write_bytes(content)
    with pytest.raises(CheckpointError, match=expected):
        build(tmp_path / 'ViT-B-16.pt')


def test_truncated_checkpoint(tmp_path):
    data = TINY_PT.read_bytes()
    (tmp_path / 'cut.pt').write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='truncated or corrupt.*download it again'):
        build(tmp_path / 'cut.pt')


def _pickle_bytes(path) -> bytes:
    import zipfile
    with zipfile.ZipFile(path) as z:
        return z.read(next(n for n in z.namelist() if n.endswith('data.pkl')))


@pytest.mark.parametrize('container', ['torchscript', 'farslip'])
def test_cli_maps_with_each_container(tmp_path, container):
    """`tools/predict.py --pretrained PATH`, as a user types it."""
    path = tmp_path / 'weights.pt'
    if container == 'torchscript':
        write_torchscript_archive(path, tiny_state())
    else:
        write_openclip_training_checkpoint(
            path, longclip_state(tiny_state(), with_masks=True), teacher=True)
    out = tmp_path / 'out'
    run = subprocess.run(
        [sys.executable, 'tools/predict.py', str(OEM_TILE), '--classes', 'road;water,river',
         '--pretrained', str(path), '--model-cfg', str(TINY_CFG),
         '--upsampler-ckpt', str(JBU_CKPT['jbu_one']), '--device', 'cpu', '--out', str(out),
         '--resize-long-side', '64', '--quiet'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert list(out.glob('*_labels.tif'))


def test_readme_weights_tables_match_the_presets():
    """README's tables are tools/presets_table.py's output, so they follow the presets."""
    run = subprocess.run([sys.executable, 'tools/presets_table.py'], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    readme = (ROOT / 'README.md').read_text()
    block = readme.split('<!-- presets-table -->\n')[1].split('<!-- /presets-table -->')[0]
    assert block.strip() == run.stdout.strip(), 'run: python tools/presets_table.py'
    assert 'cwz14/LRSCLIP_ViT-B-16' in block


def test_reading_a_checkpoint_keeps_what_others_allow_listed(tmp_path):
    """The reader's numpy allow-list is scoped: what was allowed before stays allowed."""
    before = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([np.ndarray])
    try:
        write_openclip_training_checkpoint(tmp_path / 'epoch_20.pt', tiny_state())
        read_state_dict(tmp_path / 'epoch_20.pt')
        assert np.ndarray in torch.serialization.get_safe_globals()
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)
