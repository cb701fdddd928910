"""SimFeatUp training: each component on a case with a known answer, a short run that learns,
and a killed-and-resumed run that ends exactly where an uninterrupted one does."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import OEM_TILE, ROOT, TINY_CFG, TINY_PT, run_pipeline, tiny_segmentor
from lock_holder import lock_held_by_another_process

from segearth_ov.models.upsamplers.jbu import (JBUOne, JBUStack, adaptive_conv,
                                               load_upsampler_checkpoint, neighbour_dot)
from segearth_ov.training import list_images
from segearth_ov.utils.images import read_image
from simfeatup_train.data import UnlabeledCrops, collate_crops, random_crop
from simfeatup_train.features import FrozenCLIPFeatures
from simfeatup_train.jitter import Jitter, apply_jitter, identity_jitter, sample_jitter
from simfeatup_train.modules import (AttentionDownsampler, ContentRetentionNet, UncertaintyNet,
                                     gaussian_blur, gaussian_kernel1d, normalise,
                                     random_projection, uncertainty_loss, unit_range)
from simfeatup_train.objective import SimFeatUpObjective
from simfeatup_train.trainer import Run, train

TINY = dict(pretrained=str(TINY_PT), model_cfg=str(TINY_CFG))


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    """24 small RGB images: crops of the OpenEarthMap tile and synthetic shapes."""
    folder = tmp_path_factory.mktemp('unlabeled')
    tile = read_image(OEM_TILE)
    rng = np.random.default_rng(0)
    for i in range(12):
        y, x = rng.integers(0, tile.shape[0] - 80), rng.integers(0, tile.shape[1] - 80)
        cv2.imwrite(str(folder / f'oem_{i:02d}.png'), tile[y:y + 80, x:x + 80, ::-1])
    for i in range(12):
        img = np.full((64, 72, 3), rng.integers(0, 256, 3), np.uint8)
        for _ in range(3):
            y, x, r = rng.integers(8, 56), rng.integers(8, 64), int(rng.integers(5, 16))
            cv2.circle(img, (int(x), int(y)), r, rng.integers(0, 256, 3).tolist(), -1)
        cv2.rectangle(img, (4, 40), (30, 60), rng.integers(0, 256, 3).tolist(), -1)
        cv2.imwrite(str(folder / f'shape_{i:02d}.png'), img)
    return folder


def small_cfg(data, work_dir, **over):
    cfg = dict(**TINY, data=str(data), work_dir=str(work_dir), crop_size=48, batch_size=2,
               n_jitters=2, num_workers=0, save_every=1000, vis_every=1000, device='cpu')
    cfg.update(over)
    return cfg


# --- components with known answers ------------------------------------------------------

def test_identity_jitter_leaves_features_unchanged_and_the_others_move_them():
    x = torch.randn(2, 5, 32, 40)
    assert torch.equal(apply_jitter(x, identity_jitter(20)), x)
    # A crop 3 rows lower and 2 columns further right is a shift of the padded map.
    shifted = apply_jitter(x, Jitter(20, 1.0, 23, 22, False))
    assert torch.equal(shifted[:, :, :-3, :-2], x[:, :, 3:, 2:])
    assert torch.equal(apply_jitter(x, Jitter(20, 1.0, 20, 20, True)), x.flip(3))
    # Zoom ×2 of a linear ramp, cropped at the padded centre: the ramp at half the slope.
    ramp = torch.arange(40.0).expand(1, 1, 32, 40).contiguous()
    zoomed = apply_jitter(ramp, Jitter(4, 2.0, 8 + 16, 8 + 20, False))
    assert torch.allclose(zoomed[0, 0, 5, 10:20].diff(), torch.full((9,), 0.5))
    with pytest.raises(ValueError, match='does not fit'):
        apply_jitter(x, Jitter(20, 1.0, 50, 0, False))


def test_sampled_jitters_fit_and_follow_the_probabilities():
    g = torch.Generator().manual_seed(0)
    views = [sample_jitter(224, 224, 20, 2.0, generator=g) for _ in range(2000)]
    for v in views[:200]:
        assert apply_jitter(torch.zeros(1, 1, 224, 224), v).shape[-2:] == (224, 224)
    zooms = torch.tensor([v.zoom for v in views])
    assert abs((zooms > 1).float().mean() - 0.5) < 0.05 and zooms.max() <= 2.0
    assert abs(np.mean([v.flip for v in views]) - 0.5) < 0.05
    plain = [v for v in views if v.zoom == 1.0]
    assert max(v.top for v in plain) == 40 and min(v.top for v in plain) == 0
    again = torch.Generator().manual_seed(0)
    assert sample_jitter(224, 224, 20, 2.0, generator=again) == views[0]


def test_gaussian_blur_has_the_known_kernel_and_keeps_constants():
    k = gaussian_kernel1d(5, 1.0)
    e = np.exp(-np.arange(-2, 3) ** 2 / 2)
    assert np.allclose(k.numpy(), e / e.sum()) and abs(float(k[2]) - 0.40262) < 1e-5
    assert torch.allclose(gaussian_blur(torch.full((1, 2, 9, 9), 3.0)), torch.full((1, 2, 9, 9), 3.0))
    impulse = torch.zeros(1, 1, 9, 9)
    impulse[0, 0, 4, 4] = 1
    assert torch.allclose(gaussian_blur(impulse)[0, 0, 2:7, 2:7], k[:, None] * k[None, :])


def test_downsampler_of_a_constant_map_is_that_constant():
    torch.manual_seed(0)
    down = AttentionDownsampler(8, kernel_size=16)
    const = torch.arange(8.0).view(1, 8, 1, 1).expand(2, 8, 224, 224)
    for mode in (True, False):   # with and without the score dropout
        out = down.train(mode)(const, (14, 14))
        assert out.shape == (2, 8, 14, 14)
        assert torch.allclose(out, const[:, :, :14, :14], atol=1e-5)


def test_downsampler_without_a_position_prior_is_the_mean_of_each_patch():
    torch.manual_seed(0)
    down = AttentionDownsampler(6, kernel_size=16).eval()
    with torch.no_grad():
        down.score.weight.zero_()
        down.score.bias.zero_()
        down.w.fill_(1.0)
        down.b.zero_()
    x = torch.randn(1, 6, 64, 48)
    expected = F.avg_pool2d(gaussian_blur(x), 16)
    assert torch.allclose(down(x, (4, 3)), expected, atol=1e-5)
    with pytest.raises(ValueError, match='larger than'):
        down(torch.randn(1, 6, 8, 8), (1, 1))


def test_uncertainty_loss_and_scale_net_known_values():
    pred, target = torch.zeros(1, 2, 1, 2), torch.tensor([[[[1.0, 3.0]], [[0.0, 2.0]]]])
    assert math.isclose(uncertainty_loss(pred, target, torch.ones(1, 1, 1, 2)).item(), 14 / 4 / 2)
    s = torch.full((1, 1, 1, 2), 2.0)
    assert math.isclose(uncertainty_loss(pred, target, s).item(), 14 / 4 / 8 + math.log(2), rel_tol=1e-6)
    net = UncertaintyNet(4)
    with torch.no_grad():
        net.net.weight.zero_()
        net.net.bias.zero_()
    assert torch.allclose(net(torch.randn(1, 4, 3, 3)), torch.full((1, 1, 3, 3), math.exp(0.1)))
    with torch.no_grad():
        net.net.bias.fill_(-100.0)
    assert float(net(torch.randn(1, 4, 3, 3)).min().detach()) == pytest.approx(1e-4)


def test_random_projection_has_unit_gaussian_columns():
    p = random_projection(3, 64, 30, torch.Generator().manual_seed(1))
    assert p.shape == (3, 64, 30)
    assert torch.allclose(p.norm(dim=1), torch.ones(3, 30), atol=1e-6)
    assert abs(float((p[0].T @ p[0]).fill_diagonal_(0).abs().mean())) < 0.2   # nearly orthogonal


def test_crn_shape_range_and_image_scaling():
    crn = ContentRetentionNet(16)
    with torch.no_grad():
        out = crn(torch.randn(2, 16, 8, 8) * 100)
    assert out.shape == (2, 3, 8, 8) and float(out.abs().max()) <= 1.0
    pix = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    assert torch.allclose(unit_range(normalise(pix)), torch.tensor([-1.0, 1.0]).expand(1, 3, 1, 2),
                          atol=1e-5)


def test_training_features_are_the_last_block_input_through_ln_post_and_proj():
    clip = FrozenCLIPFeatures('CLIP', 'ViT-B/16', **TINY)
    visual = clip.encoder.visual
    seen = {}
    hook = visual.transformer.resblocks[-1].register_forward_pre_hook(
        lambda m, args: seen.setdefault('x', args[0]))
    img = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        visual(img)                      # open_clip's own forward, to catch the block input
        feats = clip(img)
    hook.remove()
    expected = visual.ln_post(seen['x'][:, 1:]) @ visual.proj          # B×196×C
    expected = expected.transpose(1, 2).reshape(2, -1, 14, 14)
    assert feats.shape == (2, clip.feat_dim, 14, 14)
    assert torch.allclose(feats, expected, atol=1e-5)
    assert not any(p.requires_grad for p in clip.parameters())
    assert clip(torch.randn(1, 3, 64, 48)).shape == (1, clip.feat_dim, 4, 3)


def test_training_gradients_of_the_jbu_sums_are_exact():
    """The accumulating backward of adaptive_conv / neighbour_dot against autograd's."""
    torch.manual_seed(0)
    padded = torch.randn(1, 2, 7, 8, dtype=torch.double, requires_grad=True)
    kernel = torch.randn(1, 9, 5, 6, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(adaptive_conv, (padded, kernel))
    query = torch.randn(1, 2, 5, 6, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, p: neighbour_dot(q, p, 3), (query, padded))
    with torch.no_grad():   # and the same values as the inference path
        ref = adaptive_conv(padded, kernel)
    assert torch.allclose(adaptive_conv(padded, kernel), ref)


def test_upsampling_on_the_token_basis_equals_the_plain_chain():
    """chain(S) = S·chain(E): same features and same gradients as forward_naive, dropout on."""
    torch.manual_seed(0)
    objective = SimFeatUpObjective(JBUOne(64), 64, 16).train()
    lr_feats, img = torch.randn(2, 64, 3, 4), torch.randn(2, 3, 48, 64)
    results = []
    for fn in (objective.upsampler.forward_naive, objective.upsample):
        torch.manual_seed(1)               # the same dropout masks
        y = fn(lr_feats, img)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        results.append((y.detach(), [p.grad.clone() for p in objective.upsampler.parameters()]))
        objective.zero_grad()
    (y0, g0), (y1, g1) = results
    assert y1.shape == (2, 64, 48, 64) and torch.allclose(y0, y1, atol=1e-5)
    # relative to each gradient's largest entry: entries that nearly cancel out carry the
    # float noise of the two summation orders (elementwise rtol fails on them by chance)
    assert all((a - b).abs().max() <= 1e-5 * b.abs().max() for a, b in zip(g0, g1))


def test_image_list_samples_and_never_overwrites(tmp_path, images):
    from simfeatup_train.make_image_list import make_image_list
    out = make_image_list(images, 5, tmp_path / 'lists' / 'five.txt', seed=1)
    chosen = [p.resolve() for p in list_images(out)]
    assert len(set(chosen)) == 5 and all(p.is_file() and p.parent == images.resolve()
                                         for p in chosen)
    again = list_images(make_image_list(images, 5, tmp_path / 'again.txt', seed=1))
    assert [p.resolve() for p in again] == chosen
    with pytest.raises(FileExistsError, match='kept'):
        make_image_list(images, 3, out)
    assert len(list_images(out)) == 5


def test_crops_are_reproducible_and_small_images_are_reflect_padded():
    img = np.arange(10 * 6 * 3, dtype=np.uint8).reshape(10, 6, 3)
    crop = random_crop(img, 8, np.random.default_rng(0))
    assert crop.shape == (8, 8, 3)      # 1 column reflected on each side, rows cropped
    assert any(np.array_equal(crop[:, 1:7], img[top:top + 8]) for top in range(3))
    assert np.array_equal(crop[:, 0], crop[:, 2])
    assert np.array_equal(crop, random_crop(img, 8, np.random.default_rng(0)))
    padded = random_crop(img[:4, :4], 8, np.random.default_rng(0))
    assert np.array_equal(padded[2:6, 2:6], img[:4, :4])         # centred, reflected around
    assert np.array_equal(padded[1, 2:6], img[1, :4])


def test_unreadable_images_are_skipped_and_reported(tmp_path, images):
    (tmp_path / 'bad.png').write_bytes(b'not an image at all')
    files = [images / 'oem_00.png', tmp_path / 'bad.png', images / 'shape_00.png']
    ds = UnlabeledCrops(files, crop_size=32, seed=3)
    batch = collate_crops([ds[i] for i in range(3)])
    assert batch['img'].shape == (2, 3, 32, 32) and batch['index'] == [0, 2]
    assert len(batch['skipped']) == 1 and 'bad.png' in batch['skipped'][0]
    assert torch.equal(ds[0]['img'], UnlabeledCrops(files, 32, seed=3)[0]['img'])
    ds.set_epoch(1)
    assert not torch.equal(ds[0]['img'], UnlabeledCrops(files, 32, seed=3)[0]['img'])


# --- the loop ---------------------------------------------------------------------------

def held_out_losses(state_path, images) -> np.ndarray:
    """(L_rec, L_img) of a saved state on 8 fixed crops × 4 fixed views, dropout off."""
    clip = FrozenCLIPFeatures('CLIP', 'ViT-B/16', **TINY)
    objective = SimFeatUpObjective(JBUOne(64), 64, 16)
    objective.load_state_dict(torch.load(state_path, weights_only=True)['model'])
    objective.eval()
    crops = UnlabeledCrops(sorted(images.iterdir()), 48, seed=99)
    img = normalise(collate_crops([crops[i] for i in range(0, 24, 3)])['img'])
    g = torch.Generator().manual_seed(0)
    out = []
    with torch.no_grad():
        lr_feats = clip(img)
        for _ in range(4):
            view = sample_jitter(48, 48, 20, 2.0, generator=g)
            proj = random_projection(img.shape[0], 64, 30, g)
            jit = apply_jitter(img, view)
            out.append([float(v) for v in objective(img, lr_feats, jit, clip(jit), view, proj)])
    return np.mean(out, 0)


def test_training_learns_and_its_checkpoint_changes_the_segmentor(tmp_path, images):
    ckpt = train(small_cfg(images, tmp_path / 'run', max_steps=50, epochs=5, vis_every=50))
    init = train(small_cfg(images, tmp_path / 'init', max_steps=0))   # the same initial weights
    rec0, img0 = held_out_losses(tmp_path / 'init' / 'state_latest.pt', images)
    rec1, img1 = held_out_losses(tmp_path / 'run' / 'state_latest.pt', images)
    # Measured: L_rec 1.48 → 0.98, L_img 0.28 → 0.12 after 50 steps.
    assert rec1 < 0.8 * rec0 and img1 < 0.6 * img0, (rec0, rec1, img0, img1)
    assert rec1 + 0.1 * img1 < 0.8 * (rec0 + 0.1 * img0)
    rows = [json.loads(line) for line in (tmp_path / 'run' / 'log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in rows] == list(range(1, 51)) and 'loss/img' in rows[-1]
    assert (tmp_path / 'run' / 'vis' / 'step_000050.png').is_file()

    state = torch.load(ckpt, weights_only=True)
    assert state['state_dict'] and all(k.startswith('upsampler.') for k in state['state_dict'])
    assert state['meta']['step'] == 50 and state['meta']['feat_dim'] == 64
    rgb = read_image(OEM_TILE)[:96, :96]
    outputs = {}
    for name, path in (('trained', ckpt), ('untrained', init)):
        model = tiny_segmentor(['building', 'road', 'tree', 'water'], slide_crop=0,
                               feature_up_cfg=dict(model_name='jbu_one', model_path=str(path)))
        outputs[name] = run_pipeline(model, rgb).seg_logits.data
    diff = (outputs['trained'] - outputs['untrained']).abs().max()
    assert diff > 1e-3, diff


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, images):
    cfg = dict(max_steps=6, save_every=2, batch_size=1, n_jitters=1, num_workers=1)
    served = {}

    def record(run):
        return lambda step, info: served.setdefault(run, []).append((step, info['index']))

    full = train(small_cfg(images, tmp_path / 'full', **cfg), on_step=record('full'))

    def killed(step, info):
        record('cut')(step, info)
        if step == 5:
            raise KeyboardInterrupt('killed')   # after step 5, whose state was never saved

    with pytest.raises(KeyboardInterrupt):
        train(small_cfg(images, tmp_path / 'cut', **cfg), on_step=killed)
    with pytest.raises(FileExistsError, match='--resume'):
        Run(small_cfg(images, tmp_path / 'cut', **cfg))
    resumed = train(small_cfg(images, tmp_path / 'cut', **cfg), resume=True,
                    on_step=record('resumed'))
    assert [s for s, _ in served['resumed']] == [5, 6]
    assert served['resumed'] == served['full'][4:]
    assert served['cut'][:4] == served['full'][:4]
    a = torch.load(full, weights_only=True)['state_dict']
    b = torch.load(resumed, weights_only=True)['state_dict']
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # step 5 was logged before the kill and again after the resume: the log holds it once
    rows = [json.loads(line) for line in (tmp_path / 'cut' / 'log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in rows] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match='other settings'):
        Run(small_cfg(images, tmp_path / 'cut', **{**cfg, 'seed': 1}), resume=True)


def test_a_resume_with_fewer_visible_gpus_restores_the_generator_of_its_own_gpu(
        tmp_path, images, monkeypatch):
    """Issue 29 item 4: the state held every visible GPU's generator and a resume restored
    them by index, so a run of cuda:1 resumed where one GPU is visible raised IndexError.
    A process now saves the generator of its own GPU and restores it into the GPU it runs
    on. The GPUs' generators are faked by CPU ones (tests/fake_cuda.py); the training runs
    on the CPU."""
    from fake_cuda import FakeGPUGenerators

    from segearth_ov.training import load_training_state
    cfg = dict(max_steps=1, batch_size=1, n_jitters=1)
    with monkeypatch.context() as m:
        two = FakeGPUGenerators(m, count=2, current=1)      # this process: cuda:1 of two
        own = two.generators[1].get_state()
        train(small_cfg(images, tmp_path / 'run', **cfg))
    saved = load_training_state(tmp_path / 'run' / 'state_latest.pt')['rng']
    assert len(saved) == 1 and 'cuda' not in saved[0]
    assert saved[0]['cuda_device'] == bytes(own.numpy())     # its own GPU's, not all
    with monkeypatch.context() as m:
        one = FakeGPUGenerators(m, count=1)                 # resumed where one GPU is visible
        train(small_cfg(images, tmp_path / 'run', **dict(cfg, max_steps=2)), resume=True)
        assert torch.equal(one.generators[0].get_state(), own)
    resumed = load_training_state(tmp_path / 'run' / 'state_latest.pt')
    assert resumed['step'] == 2 and resumed['rng'][0]['cuda_device'] == bytes(own.numpy())


def test_a_run_skips_unreadable_images_and_counts_them(tmp_path, images, caplog):
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'a_broken.png').write_bytes(b'\x89PNG truncated')
    (tmp_path / 'data' / 'b_good.png').write_bytes((images / 'oem_00.png').read_bytes())
    with caplog.at_level('WARNING', logger='segearth_ov'):
        ckpt = train(small_cfg(tmp_path / 'data', tmp_path / 'run', batch_size=1, n_jitters=1))
    rows = [json.loads(line) for line in (tmp_path / 'run' / 'log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in rows] == [1, 2] and rows[-1]['skipped_images'] == 1
    assert sum('loss/total' in r for r in rows) == 1     # the broken image's step: no update
    assert 'a_broken.png' in caplog.text and ckpt.is_file()


def test_bad_settings_are_refused_with_the_fix(tmp_path, images):
    with pytest.raises(ValueError, match='unknown SimFeatUp training settings'):
        train({**small_cfg(images, tmp_path), 'n_jitter': 3})
    with pytest.raises(ValueError, match='not a multiple of the patch size'):
        train(small_cfg(images, tmp_path / 'a', crop_size=50))
    with pytest.raises(ValueError, match='no training images'):
        train({**small_cfg(images, tmp_path / 'b'), 'data': None})
    with pytest.raises(ValueError, match='cannot be trained'):
        train(small_cfg(images, tmp_path / 'c', upsampler='bilinear'))


def test_command_line_writes_a_checkpoint_inference_loads(tmp_path, images):
    out = subprocess.run(
        [sys.executable, 'simfeatup_train/train.py', '--config',
         'simfeatup_train/configs/simfeatup_clip_vit_b16.py', '--work-dir', str(tmp_path / 'w'),
         '--cfg-options', f'data={images}', f'pretrained={TINY_PT}', f'model_cfg={TINY_CFG}',
         'crop_size=48', 'batch_size=1', 'n_jitters=1', 'max_steps=2', 'num_workers=0',
         'upsampler=jbu_stack'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    path = tmp_path / 'w' / 'jbu_stack_CLIP_ViT-B-16.ckpt'
    assert f'SimFeatUp checkpoint: {path}' in out.stdout
    load_upsampler_checkpoint(JBUStack(64), str(path))


def test_command_line_refuses_a_busy_work_dir_and_a_truncated_state_in_one_line(tmp_path, images):
    from simfeatup_train.train import main

    def cli(*extra):
        with pytest.raises(SystemExit) as info:
            main(['--config', str(ROOT / 'simfeatup_train/configs/simfeatup_clip_vit_b16.py'),
                  '--work-dir', str(work), *extra, '--cfg-options', f'data={images}',
                  f'pretrained={TINY_PT}', f'model_cfg={TINY_CFG}', 'crop_size=48',
                  'batch_size=1', 'n_jitters=1', 'max_steps=1', 'num_workers=0'])
        return str(info.value)      # what Python prints, alone, for a SystemExit

    work = tmp_path / 'w'
    with lock_held_by_another_process(work) as holder:
        message = cli()
    assert message.startswith(f'error: {work} is in use by the run with PID {holder.pid}')
    assert '\n' not in message and not (work / 'state_latest.pt').exists()
    train(small_cfg(images, work, max_steps=1, batch_size=1, n_jitters=1))   # lock taken over
    state = work / 'state_latest.pt'
    state.write_bytes(state.read_bytes()[:3000])
    message = cli('--resume')
    assert message.startswith(f'error: {state} is truncated or corrupt, not a readable training '
                              'state (') and '\n' not in message
