"""AlignEarth training: the losses on hand-made cases, the synthetic SAR, the data, a short
real run on the tiny CLIP (losses fall, held-out retrieval rises, the checkpoint segments
a 16-bit SAR image as clip_type='AlignEarth'), and kill-and-resume."""
from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
import torch

from conftest import OEM_TILE, ROOT, TINY_CFG, TINY_PT, run_pipeline

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from alignearth_train import train as train_cli  # noqa: E402
from alignearth_train.config import load_config  # noqa: E402
from alignearth_train.data import (PairDataset, match_folders, normalise,  # noqa: E402
                                   read_pairs_file)
from alignearth_train.encoders import build_encoders, projected_tokens  # noqa: E402
from alignearth_train.losses import (AlignEarthLoss, LearnableTemperature,  # noqa: E402
                                     global_contrastive_loss, global_distill_loss,
                                     local_distill_loss, region_means)
from alignearth_train.retrieval import retrieval_accuracy  # noqa: E402
from alignearth_train.synthetic import make_pairs, sar_like, shift_image  # noqa: E402
from alignearth_train.trainer import batch_plan  # noqa: E402
from segearth_ov.training import TrainLogger  # noqa: E402
from segearth_ov.utils.images import read_image  # noqa: E402

TINY = [f'teacher.pretrained={TINY_PT}', f'teacher.model_cfg={TINY_CFG}']


# ---------------------------------------------------------------- losses
def test_distill_losses_are_zero_for_identical_and_known_otherwise():
    torch.manual_seed(1)
    cls, patches = torch.randn(3, 8), torch.randn(3, 8, 14, 14)
    assert global_distill_loss(cls, cls.clone()).item() == pytest.approx(0, abs=1e-6)
    assert local_distill_loss(patches, patches.clone(), 7).item() == pytest.approx(0, abs=1e-6)
    assert global_distill_loss(cls, -cls).item() == pytest.approx(2.0)           # opposite
    assert global_distill_loss(cls, 5 * cls).item() == pytest.approx(0, abs=1e-6)  # scale-free
    # 2×2 regions of one token each; teacher all e1, student e2 in two of the four regions
    t = torch.zeros(1, 2, 2, 2)
    t[:, 0] = 1
    s = t.clone()
    s[0, :, 0, 0] = torch.tensor([0.0, 1.0])
    s[0, :, 1, 1] = torch.tensor([0.0, 1.0])
    assert local_distill_loss(t, s, 2).item() == pytest.approx(0.5)


def test_region_distillation_ignores_misregistration_inside_a_region():
    torch.manual_seed(2)
    t = torch.randn(2, 4, 14, 14)
    # swap tokens within each 2×2 region (K = 7): the region means are unchanged
    s = t.reshape(2, 4, 7, 2, 7, 2).flip(3, 5).reshape(2, 4, 14, 14)
    assert not torch.equal(s, t)
    assert local_distill_loss(t, s, 7).item() == pytest.approx(0, abs=1e-6)
    assert local_distill_loss(t, torch.roll(t, 3, dims=3), 7).item() > 0.1


def test_regions_do_not_overlap_when_the_grid_is_not_a_multiple_of_k():
    x = torch.arange(5.0).reshape(1, 1, 5, 1).expand(1, 1, 5, 2)
    means = region_means(x, 2)          # rows {0, 1} and {2, 3, 4}; columns {0} and {1}
    assert means[0, 0, :, 0].tolist() == [0.5, 3.0]
    with pytest.raises(ValueError, match='cannot hold 7 regions'):
        region_means(torch.zeros(1, 1, 4, 4), 7)


def test_contrastive_loss_at_its_minimum_and_at_chance():
    n, tau = 4, 0.07
    eye = torch.eye(n)
    scale = torch.tensor(1 / tau)
    separated = global_contrastive_loss(eye, eye, scale).item()
    assert separated < 1e-5                                      # ≈ 0, the minimum
    # with 1/τ = 1 the value is log(1 + (N−1)/e) for both directions
    assert global_contrastive_loss(eye, eye, torch.tensor(1.0)).item() == pytest.approx(
        math.log(1 + (n - 1) / math.e), rel=1e-6)
    same = torch.ones(n, 3)                                      # nothing to tell apart
    assert global_contrastive_loss(same, same, scale).item() == pytest.approx(math.log(n))
    swapped = global_contrastive_loss(eye, eye[[1, 0, 3, 2]], scale).item()
    assert swapped == pytest.approx(1 / tau, rel=1e-4)            # the true pair scores 1/τ less


def test_temperature_starts_at_0_07_and_its_scale_is_clamped():
    temp = LearnableTemperature(0.07, max_scale=100)
    assert temp().item() == pytest.approx(1 / 0.07)
    with torch.no_grad():
        temp.log_scale.fill_(10.0)
    assert temp().item() == 100
    with pytest.raises(ValueError, match='init_temperature'):
        LearnableTemperature(0)


def test_total_loss_is_the_weighted_sum():
    torch.manual_seed(3)
    t = (torch.randn(4, 8), torch.randn(4, 8, 7, 7))
    s = (torch.randn(4, 8), torch.randn(4, 8, 7, 7))
    out = AlignEarthLoss(contrastive=2.0, global_distill=0.5, local_distill=3.0)(t, s)
    expected = (2 * out['loss_contrastive'] + 0.5 * out['loss_global_distill']
                + 3 * out['loss_local_distill'])
    assert out['loss'].item() == pytest.approx(expected.item(), rel=1e-6)
    assert out['backward'].item() == pytest.approx(expected.item(), rel=1e-6)
    assert out['temperature'].item() == pytest.approx(0.07)


def test_losses_are_computed_in_float32_under_autocast():
    """The encoders run under autocast; the losses must not (their .float() casts were undone
    by it, so the ×100 logits and the region means ran in bf16/fp16)."""
    torch.manual_seed(4)
    t = (torch.randn(6, 32), torch.randn(6, 32, 8, 8))
    s = (torch.randn(6, 32), torch.randn(6, 32, 8, 8))
    loss = AlignEarthLoss(regions=4)
    expected = loss(t, s)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = loss(t, s)
    for key in ('loss_contrastive', 'loss_global_distill', 'loss_local_distill', 'loss'):
        assert got[key].dtype == torch.float32
        assert got[key].item() == pytest.approx(expected[key].item(), rel=1e-6, abs=1e-7), key


def test_retrieval_accuracy_on_hand_made_features():
    opt = torch.eye(6)
    sar = opt[[0, 1, 2, 3, 5, 4]].clone()          # pairs 4 and 5 swapped
    acc = retrieval_accuracy(opt, sar, ks=(1, 5))
    assert acc['opt2sar_top1'] == pytest.approx(400 / 6) and acc['sar2opt_top1'] == pytest.approx(400 / 6)
    assert acc['opt2sar_top5'] == 100.0
    assert retrieval_accuracy(opt, -opt + 0.01 * opt, ks=(1,))['opt2sar_top1'] == 0.0


def _ddp_case():
    """A shared linear 'student', fixed teacher tokens: (model, loss, inputs) for N = 8 pairs."""
    torch.manual_seed(0)
    student = torch.nn.Linear(4, 6)
    loss = AlignEarthLoss(regions=3)
    x, t_cls = torch.randn(8, 4), torch.randn(8, 6)
    xp, t_patch = torch.randn(8, 3, 3, 4), torch.randn(8, 6, 3, 3)
    return student, loss, x, t_cls, xp, t_patch


def test_world_size_scaling_gives_each_rank_the_one_process_gradient(monkeypatch):
    """Two ranks emulated in one process: each sees the other's class tokens as constants
    (what `all_gather_with_grad` gives), scales the contrastive term by W; DDP's average of
    the student gradients and `sync_temperature_grad`'s sum / W² then equal the gradients of
    one process on the whole batch. (torchrun with gloo runs the real thing.)"""
    import alignearth_train.losses as losses

    def backward(student, loss, x, t_cls, xp, t_patch, world=1):
        s = (student(x), student(xp).permute(0, 3, 1, 2))
        loss((t_cls, t_patch), s, world_size=world)['backward'].backward()

    student, loss, *data = _ddp_case()
    backward(student, loss, *data)
    expected = [student.weight.grad, student.bias.grad, loss.temperature.log_scale.grad]
    grads = []
    for rank in range(2):
        student, loss, *data = _ddp_case()
        with torch.no_grad():     # the other rank's tokens, no gradient (as all_gather gives)
            full = {'t': data[1], 's': student(data[0])}
        calls = iter(['t', 's'])

        def gather(x, rank=rank):
            parts = list(full[next(calls)].split(4))
            parts[rank] = x
            return torch.cat(parts)
        monkeypatch.setattr(losses, 'all_gather_with_grad', gather)
        backward(student, loss, *[d[rank * 4:(rank + 1) * 4] for d in data], world=2)
        grads.append([student.weight.grad, student.bias.grad, loss.temperature.log_scale.grad])
    ddp_average = [(a + b) / 2 for a, b in zip(grads[0][:2], grads[1][:2])]
    temperature = (grads[0][2] + grads[1][2]) / 2 ** 2          # sync_temperature_grad
    for got, want in zip(ddp_average + [temperature], expected):
        assert torch.allclose(got, want, atol=1e-6), (got, want)


# ---------------------------------------------------------------- encoders
def test_projected_class_token_is_open_clips_image_embedding():
    clip, teacher, student = build_encoders('CLIP', 'ViT-B/16', str(TINY_PT), str(TINY_CFG))
    img = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        cls, patches = projected_tokens(teacher, img)
        assert torch.allclose(cls, clip.encode_image(img), atol=1e-5)
        assert patches.shape == (2, 64, 14, 14)
        assert torch.allclose(projected_tokens(student.visual, img)[0], cls, atol=1e-5)  # a copy
    assert not any(p.requires_grad for p in teacher.parameters())
    assert all(p.requires_grad for p in student.parameters())


# ---------------------------------------------------------------- synthetic SAR and data
def test_speckle_has_the_gamma_statistics_of_its_looks():
    flat = np.full((200, 200, 3), 128, np.uint8)
    rng = np.random.default_rng(0)
    for looks in (1, 4):
        img, _ = sar_like(flat, rng, looks, max_shift=0, dtype='float32')
        noise_free, _ = sar_like(flat, rng, None, max_shift=0, dtype='float32')
        ratio = img / noise_free
        assert img.ndim == 2 and img.dtype == np.float32
        assert ratio.mean() == pytest.approx(1.0, abs=0.02)                    # multiplicative, mean 1
        assert ratio.std() == pytest.approx(1 / math.sqrt(looks), rel=0.05)  # var 1/L


def test_synthetic_sar_is_the_shifted_luminance_in_16_bit():
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    sar, (dy, dx) = sar_like(rgb, np.random.default_rng(1), None, max_shift=3)
    assert sar.dtype == np.uint16 and sar.shape == (32, 40) and max(abs(dy), abs(dx)) <= 3
    lum = 0.02 + 0.98 * (rgb.astype(float) / 255) @ np.array([0.299, 0.587, 0.114])
    expected = np.rint(np.sqrt(shift_image(lum, dy, dx)) * 20000)
    assert np.abs(sar.astype(float) - expected).max() <= 1
    assert np.array_equal(shift_image(np.arange(5)[:, None], 2, 0)[:, 0], [0, 0, 0, 1, 2])


@pytest.fixture(scope='module')
def pairs_dir(tmp_path_factory):
    """225 pairs of 64×64 tiles of the real OpenEarthMap tile; single-look speckle."""
    out = tmp_path_factory.mktemp('pairs')
    make_pairs([OEM_TILE], out, tile=64, looks=1, max_shift=2, seed=0)
    return out


def test_pairs_file_folders_and_their_errors(pairs_dir, tmp_path):
    pairs = read_pairs_file(pairs_dir / 'pairs.txt')
    assert len(pairs) == 225 and pairs[0][0].name == pairs[0][1].with_suffix('.png').name
    assert match_folders(pairs_dir / 'optical', pairs_dir / 'sar') == sorted(pairs)
    sar = read_image(pairs[0][1])
    assert sar.shape == (64, 64, 3) and (sar[..., 0] == sar[..., 2]).all()
    with pytest.raises(FileExistsError, match='--overwrite'):
        make_pairs([OEM_TILE], pairs_dir, tile=500)
    (tmp_path / 'bad.txt').write_text('a.png\n')
    with pytest.raises(ValueError, match='bad.txt:1: expected "optical_path sar_path"'):
        read_pairs_file(tmp_path / 'bad.txt')
    (tmp_path / 'o').mkdir()
    (tmp_path / 's').mkdir()
    (tmp_path / 'o' / 'x.png').write_bytes(b'')
    with pytest.raises(ValueError, match='1 optical image.*without a SAR twin'):
        match_folders(tmp_path / 'o', tmp_path / 's')


def test_dataset_feeds_sar_through_the_inference_conversion(pairs_dir):
    pairs = read_pairs_file(pairs_dir / 'pairs.txt')[:2]
    ds = PairDataset(pairs, image_size=64, sar=dict(to_db=True, percentiles=[1, 99]), augment=False)
    optical, sar, index = ds[1]
    assert index == 1
    assert torch.equal(sar, normalise(read_image(pairs[1][1], to_db=True, percentiles=[1, 99])))
    assert torch.equal(optical, normalise(read_image(pairs[1][0])))
    flipped = PairDataset(pairs, image_size=64, sar=dict(to_db=True, percentiles=[1, 99]),
                          hflip=1.0)[1]
    assert torch.equal(flipped[0], optical.flip(-1)) and torch.equal(flipped[1], sar.flip(-1))


def test_config_errors_name_the_fix():
    with pytest.raises(KeyError, match="unknown config key 'data.pair'"):
        load_config(None, {'data.pair': 'x'})
    assert load_config()['optimizer']['lr'] == 1e-4 and load_config()['batch_size'] == 512
    assert batch_plan(512, None, 4) == (128, 1) and batch_plan(512, 32, 4) == (32, 4)
    with pytest.raises(ValueError, match='micro_batch_size that divides'):
        batch_plan(512, 48, 1)


# ---------------------------------------------------------------- a real short run
def _rows(work_dir):
    return [json.loads(line) for line in (work_dir / 'log.jsonl').read_text().splitlines()]


@pytest.fixture(scope='module')
def short_run(pairs_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp('run')
    result = train_cli.main([
        '--work-dir', str(work), '--device', 'cpu', '--cfg-options',
        f'data.pairs={pairs_dir / "pairs.txt"}', *TINY, 'data.image_size=64', 'loss.regions=4',
        'data.val_fraction=0.3', 'data.num_workers=0', 'batch_size=16', 'epochs=1',
        'optimizer.lr=3e-4', 'optimizer.warmup_steps=3'])
    return work, result


def test_short_run_lowers_every_loss_and_raises_held_out_retrieval(short_run):
    work, result = short_run
    rows = _rows(work)
    steps = [r for r in rows if 'loss' in r]
    vals = [r for r in rows if 'val/opt2sar_top1' in r]
    assert len(steps) == 157 // 16 and [v['step'] for v in vals] == [0, len(steps)]
    for key in ('loss_contrastive', 'loss_global_distill', 'loss_local_distill', 'loss'):
        first = np.mean([r[key] for r in steps[:3]])
        last = np.mean([r[key] for r in steps[-3:]])
        assert last < first, (key, first, last)

    def score(v):
        return np.mean([v[k] for k in v if k.startswith('val/')])
    assert score(vals[-1]) > score(vals[0]), vals
    assert (work / 'alignearth_epoch_1.pt').is_file() and not result['stopped']


def test_checkpoint_segments_a_16_bit_sar_image_as_alignearth(short_run, pairs_dir, tmp_path):
    import tifffile

    from conftest import tiny_segmentor
    work, result = short_run
    settings = json.loads((work / 'alignearth_latest.json').read_text())
    assert settings['clip_type'] == 'AlignEarth' and settings['quick_gelu'] is True
    sar = sar_like(read_image(OEM_TILE)[:96, :128], np.random.default_rng(0), 2, 0)[0]
    path = tmp_path / 'scene.tif'
    tifffile.imwrite(path, sar)
    assert sar.dtype == np.uint16 and sar.ndim == 2
    model = tiny_segmentor(['building', 'road', 'water'], clip_type='AlignEarth',
                           pretrained=str(result['checkpoint']), slide_crop=64, slide_stride=32)
    saved = torch.load(result['checkpoint'], weights_only=True)
    assert torch.equal(model.image_encoder.visual.conv1.weight, saved['visual.conv1.weight'])
    state = torch.load(work / 'training_state.pt', weights_only=True)
    assert torch.equal(saved['visual.conv1.weight'], state['student']['conv1.weight'])
    teacher = torch.load(TINY_PT, weights_only=True)
    assert not torch.equal(saved['visual.conv1.weight'], teacher['visual.conv1.weight'])
    assert torch.equal(saved['text_projection'], teacher['text_projection'])
    out = run_pipeline(model, read_image(path))
    assert out.seg_logits.data.shape == (3, 96, 128)
    assert out.pred_sem_seg.data.max() < 3


def test_kill_and_resume_reaches_the_uninterrupted_state(pairs_dir, tmp_path, monkeypatch):
    lines = (pairs_dir / 'pairs.txt').read_text().splitlines()
    (tmp_path / 'pairs.txt').write_text('\n'.join(
        f'{pairs_dir}/{a}\t{pairs_dir}/{b}' for a, b in (ln.split('\t') for ln in lines[:28])))
    common = ['--device', 'cpu', '--cfg-options', f'data.pairs={tmp_path / "pairs.txt"}', *TINY,
              'data.image_size=64', 'loss.regions=4', 'data.val_fraction=0.1',
              'data.num_workers=0', 'batch_size=8', 'micro_batch_size=4', 'epochs=2',
              'val_at_start=False', 'save_epoch_checkpoints=False', 'data.crop_scale=[0.6,1.0]']
    train_cli.main(['--work-dir', str(tmp_path / 'once'), *common])
    stopped = train_cli.main(['--work-dir', str(tmp_path / 'twice'), '--max-steps', '4', *common])
    assert stopped['stopped']
    mid = torch.load(tmp_path / 'twice' / 'training_state.pt', weights_only=True)
    assert (mid['epoch'], mid['step_in_epoch'], mid['global_step']) == (1, 1, 4)   # mid-epoch
    assert len(mid['rng']) == 1 and isinstance(mid['rng'][0]['torch'], bytes)    # per rank

    def kill_after_step_5(self, step, *args, **kwargs):   # the last state is step 4's
        real_log(self, step, *args, **kwargs)
        if step == 5:
            raise KeyboardInterrupt('killed')
    real_log = TrainLogger.log
    with monkeypatch.context() as patch:
        patch.setattr(TrainLogger, 'log', kill_after_step_5)
        with pytest.raises(KeyboardInterrupt):
            train_cli.main(['--work-dir', str(tmp_path / 'killed'), *common,
                            'save_every_steps=2'])
    assert max(r['step'] for r in _rows(tmp_path / 'killed')) == 5
    for work in ('twice', 'killed'):
        train_cli.main(['--work-dir', str(tmp_path / work), '--resume', *common])
    a = torch.load(tmp_path / 'once' / 'training_state.pt', weights_only=True)
    for work in ('twice', 'killed'):
        b = torch.load(tmp_path / work / 'training_state.pt', weights_only=True)
        assert a['global_step'] == b['global_step'] == 6
        for key, value in a['student'].items():
            assert torch.allclose(value, b['student'][key], atol=1e-6), key
        assert torch.equal(a['loss']['temperature.log_scale'], b['loss']['temperature.log_scale'])
        # every step logged once: the killed run's step 5 was dropped from the log on resume
        steps = [r['step'] for r in _rows(tmp_path / work)]
        assert steps == [r['step'] for r in _rows(tmp_path / 'once')]
        assert [r['loss'] for r in _rows(tmp_path / 'once') if 'loss' in r] == pytest.approx(
            [r['loss'] for r in _rows(tmp_path / work) if 'loss' in r], rel=1e-5)
    with pytest.raises(ValueError, match='other batch_size'):
        train_cli.main(['--work-dir', str(tmp_path / 'twice'), '--resume',
                        *[c if c != 'batch_size=8' else 'batch_size=4' for c in common]])


# ---------------------------------------------------------------- torchrun, lock, messages
def _small_pairs(pairs_dir, tmp_path, n):
    lines = (pairs_dir / 'pairs.txt').read_text().splitlines()
    (tmp_path / 'pairs.txt').write_text('\n'.join(
        f'{pairs_dir}/{a}\t{pairs_dir}/{b}' for a, b in (ln.split('\t') for ln in lines[:n])))
    return tmp_path / 'pairs.txt'


@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason='no gloo backend')
def test_two_processes_validate_their_shares_and_save_their_own_rng(pairs_dir, tmp_path):
    """Rank 0 validated alone while rank 1 waited in a barrier (NCCL's timeout could end the
    job); now each rank embeds its share and the shares are gathered. Each rank's generator
    states are saved, and a resume with another number of processes is refused."""
    import os

    from alignearth_train.trainer import Validator, build_encoders, load_pairs
    from conftest import run_launcher
    from alignearth_train.data import PairDataset
    pairs = _small_pairs(pairs_dir, tmp_path, 24)
    # AdamW with eps ≫ |gradient| and no decay steps by lr·gradient, linear in it (below)
    options = [f'data.pairs={pairs}', *TINY, 'data.image_size=32', 'loss.regions=2',
               'data.val_fraction=0.3', 'data.num_workers=0', 'batch_size=8', 'epochs=1',
               'val_batch_size=2', 'save_epoch_checkpoints=False', 'optimizer.lr=1.0',
               'optimizer.eps=1.0', 'optimizer.weight_decay=0.0']
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
               PYTHONPATH=str(ROOT))
    proc = run_launcher(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
         '--standalone', str(ROOT / 'tests' / 'training' / 'alignearth_worker.py'),
         str(tmp_path), '--device', 'cpu', '--work-dir', str(tmp_path / 'work'),
         '--max-steps', '1', '--cfg-options', *options],
        cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1)]
    # 7 held-out pairs, validated once (at step 0): 4 + 3, the teacher's and the student's
    assert [r['val_reads'] for r in ranks] == [4, 3]

    cfg = load_config(None, {'data.pairs': str(pairs), 'data.val_fraction': 0.3})
    _, val = load_pairs(cfg['data'], cfg['seed'])
    assert len(val) == 7
    clip, teacher, student = build_encoders('CLIP', 'ViT-B/16', str(TINY_PT), str(TINY_CFG))
    val_set = PairDataset(val, augment=False, image_size=32, optical=cfg['data']['optical'],
                          sar=cfg['data']['sar'])
    single = Validator(val_set, teacher, torch.device('cpu'), 2, None)(student.visual)
    for r in ranks:     # every rank has the one-process figures
        assert r['metrics'] == pytest.approx(single), (r['metrics'], single)

    state = torch.load(tmp_path / 'work' / 'training_state.pt', weights_only=True)
    assert len(state['rng']) == 2 and state['rng'][0]['torch'] != state['rng'][1]['torch']
    # DDP's step (issue 29 item 6): the 8 pairs contrasted together either way (micro-batches
    # of 4 gathered across the ranks, or one of 8 in one process), so the two ranks' step is
    # one process's step on the whole batch: the student moves by the same amount. (With
    # Adam's usual eps the step is ±lr wherever the gradient is not tiny, and the float noise
    # on gradients that are truly 0 — the attention's key biases — flips whole steps.)
    train_cli.main(['--device', 'cpu', '--work-dir', str(tmp_path / 'one'), '--max-steps', '1',
                    '--cfg-options', *options])
    one = torch.load(tmp_path / 'one' / 'training_state.pt', weights_only=True)
    initial = student.visual.state_dict()
    for part in ('student', 'loss'):
        start = initial if part == 'student' else dict.fromkeys(one[part], 0)
        for k, v in one[part].items():
            moved, moved_ddp = v - start[k], state[part][k] - start[k]
            assert (moved_ddp - moved).norm() <= 1e-3 * moved.norm() + 1e-7, (part, k)
    assert sum(float((v - initial[k]).norm()) for k, v in one['student'].items()) > 0
    with pytest.raises(ValueError, match=r'number of processes \(2 → 1\); resume with the '
                       r'same settings \(torchrun --nproc_per_node 2\)'):
        train_cli.main(['--device', 'cpu', '--work-dir', str(tmp_path / 'work'), '--resume',
                        '--cfg-options', *options])


def test_a_second_run_and_a_truncated_state_are_one_line_errors(pairs_dir, tmp_path):
    from lock_holder import lock_held_by_another_process
    pairs = _small_pairs(pairs_dir, tmp_path, 12)
    work = tmp_path / 'work'
    common = ['--device', 'cpu', '--work-dir', str(work), '--cfg-options', f'data.pairs={pairs}',
              *TINY, 'data.image_size=32', 'loss.regions=2', 'data.val_fraction=0',
              'data.num_workers=0', 'batch_size=4', 'epochs=1']
    with lock_held_by_another_process(work) as holder:
        with pytest.raises(SystemExit) as info:
            train_cli.main(common)
        assert str(info.value).startswith(f'error: {work} is in use by the run with PID '
                                          f'{holder.pid}')
        assert not (work / 'training_state.pt').exists() and not (work / 'log.jsonl').exists()
    train_cli.main([*common, 'optimizer.lr=0'])      # the holder is dead: its lock is taken over
    state = work / 'training_state.pt'
    state.write_bytes(state.read_bytes()[:5000])      # e.g. a disk that filled up while copying
    with pytest.raises(SystemExit) as info:
        train_cli.main(['--resume', *common])
    message = str(info.value)
    assert message.startswith(f'error: {state} is truncated or corrupt, not a readable training '
                              'state (') and '\n' not in message
    assert message.endswith('delete it and start the run again, or resume from an earlier copy '
                            'of it')
