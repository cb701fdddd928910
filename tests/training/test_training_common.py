"""The shared training pieces: states resume exactly, the sampler neither repeats nor skips."""
import json
import os
import random

import numpy as np
import pytest
import torch
from lock_holder import lock_held_by_another_process

from segearth_ov.training import (ResumableSampler, TrainingStateError, TrainLogger,
                                  WorkDirBusy, capture_rng, list_images, load_training_state,
                                  restore_rank_rng, restore_rng, save_training_state,
                                  work_dir_lock)


def test_state_round_trip_restores_every_generator(tmp_path):
    torch.manual_seed(0)
    state = {'rng': capture_rng(), 'step': 7, 'weights': {'w': torch.arange(3.0)}}
    expected = (random.random(), float(np.random.rand()), torch.rand(2).tolist())
    save_training_state(tmp_path / 'state.pt', state)
    loaded = load_training_state(tmp_path / 'state.pt')  # weights_only=True inside
    restore_rng(loaded['rng'])
    assert (random.random(), float(np.random.rand()), torch.rand(2).tolist()) == expected
    assert loaded['step'] == 7 and loaded['weights']['w'].tolist() == [0.0, 1.0, 2.0]
    assert [p.name for p in tmp_path.iterdir()] == ['state.pt']   # no temporary file left


def test_truncated_state_gives_one_clear_line(tmp_path):
    save_training_state(tmp_path / 'state.pt', {'w': torch.arange(1000.0), 'rng': capture_rng()})
    whole = (tmp_path / 'state.pt').read_bytes()
    (tmp_path / 'state.pt').write_bytes(whole[:len(whole) // 2])      # a file cut in half
    with pytest.raises(TrainingStateError) as info:
        load_training_state(tmp_path / 'state.pt')
    message = str(info.value)
    assert f'{tmp_path / "state.pt"} is truncated or corrupt' in message
    assert 'delete it' in message and 'earlier copy' in message and '\n' not in message
    # no chained traceback of torch's own error above it
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(FileNotFoundError, match='--resume'):
        load_training_state(tmp_path / 'missing.pt')


def test_rng_is_restored_from_a_state_loaded_off_the_cpu(tmp_path):
    """--resume on CUDA loaded the state with map_location=<cuda>: the generator states went
    to the GPU, where `.numpy()` and `torch.set_rng_state` fail. They are plain values now,
    which no map_location moves; 'meta' stands in for the GPU on this CPU-only machine."""
    torch.manual_seed(3)
    save_training_state(tmp_path / 'state.pt', {'rng': capture_rng()})
    expected = (random.random(), float(np.random.rand()), torch.rand(2).tolist())
    loaded = load_training_state(tmp_path / 'state.pt', map_location='meta')
    restore_rng(loaded['rng'])
    assert (random.random(), float(np.random.rand()), torch.rand(2).tolist()) == expected


def test_each_rank_restores_its_own_generators():
    states = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        states.append(capture_rng())
    torch.manual_seed(2)
    rank1_next = torch.rand(3).tolist()
    torch.manual_seed(99)
    restore_rank_rng(states, rank=1, world_size=2)
    assert torch.rand(3).tolist() == rank1_next
    with pytest.raises(TrainingStateError, match=r'saved by 2 process\(es\), this run has 3: '
                       r'resume with 2 \(torchrun --nproc_per_node 2\)'):
        restore_rank_rng(states, rank=0, world_size=3)


def test_older_states_with_every_gpus_generator_restore_the_one_of_this_gpu(monkeypatch):
    """States written before issue 29 hold every visible GPU's generator, by index: a process
    restores the one of its own GPU, and a GPU beyond the saved ones keeps its generator
    (it raised IndexError). The GPUs' generators are faked by CPU ones."""
    from fake_cuda import FakeGPUGenerators
    saved = FakeGPUGenerators(monkeypatch, count=2)
    for g in saved.generators:
        torch.rand(5, generator=g)          # states unlike a fresh generator's
    older = dict(capture_rng(), cuda=[bytes(g.get_state().numpy()) for g in saved.generators])
    older.pop('cuda_device')
    for current, expected in ((1, older['cuda'][1]), (2, None)):
        gpus = FakeGPUGenerators(monkeypatch, count=3, current=current)
        before = gpus.generators[current].get_state()
        restore_rng(older)
        now = bytes(gpus.generators[current].get_state().numpy())
        assert now == (expected or bytes(before.numpy()))


def test_two_saves_at_once_do_not_share_a_temporary_file(tmp_path, monkeypatch):
    """Two runs once collided on the fixed name state_latest.pt.tmp: the second moved the
    first's temporary file away. Emulated: while the first save is writing, a second one
    saves to the same path."""
    import segearth_ov.training.state as state_module
    real_save, calls = torch.save, []

    def save_then_interleave(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        if not calls:
            calls.append(1)
            save_training_state(tmp_path / 'state.pt', {'who': 'second'})
    monkeypatch.setattr(state_module.torch, 'save', save_then_interleave)
    save_training_state(tmp_path / 'state.pt', {'who': 'first'})
    monkeypatch.undo()
    assert load_training_state(tmp_path / 'state.pt')['who'] == 'first'   # the last to finish
    assert [p.name for p in tmp_path.iterdir()] == ['state.pt']             # no temporary left


def test_resumed_log_drops_the_steps_done_again(tmp_path):
    """A kill after step 5 with the last state at step 3: the resumed run logs 4 and 5 again."""
    rows = [{'step': s, 'loss': 1.0 / s} for s in range(1, 6)] + [{'step': 3, 'val/top1': 50.0}]
    (tmp_path / 'log.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows)
                                        + '{"step": 6, "lo')          # cut by the kill
    log = TrainLogger(tmp_path, total_steps=6, start_step=3, tensorboard=False, resumed=True)
    for step in (4, 5, 6):
        log.log(step, loss=0.0)
    log.close()
    steps = [json.loads(line)['step'] for line in (tmp_path / 'log.jsonl').read_text().splitlines()]
    assert steps == [1, 2, 3, 3, 4, 5, 6]
    # a fresh run (not resumed) appends and keeps what is there
    TrainLogger(tmp_path, total_steps=1, tensorboard=False).close()
    assert len((tmp_path / 'log.jsonl').read_text().splitlines()) == 7


def test_one_run_per_work_dir_and_a_dead_runs_lock_is_taken_over(tmp_path, caplog):
    work = tmp_path / 'work'
    with lock_held_by_another_process(work) as proc:
        with pytest.raises(WorkDirBusy, match=rf'{work} is in use by the run with PID {proc.pid} '
                           r'\(started .*\) \(lock file .*train.lock\): wait for that run'):
            with work_dir_lock(work):
                pass
    # the holder was SIGKILLed: no clean-up, its lock file stays behind
    assert str(proc.pid) in (work / 'train.lock').read_text()
    with caplog.at_level('WARNING', logger='segearth_ov'):
        with work_dir_lock(work):
            assert json.loads((work / 'train.lock').read_text())['pid'] == os.getpid()
    assert f'took over the lock of the run with PID {proc.pid}' in caplog.text
    assert not (work / 'train.lock').exists()          # released at the end


@pytest.mark.parametrize('world', [1, 3])
def test_sampler_resumes_where_it_stopped_and_ranks_cover_everything(world):
    size, epoch = 10, 4
    seen = []
    for rank in range(world):
        s = ResumableSampler(size, seed=5, rank=rank, world_size=world)
        s.set_epoch(epoch)
        full = list(s)
        s.set_epoch(epoch, start=2)
        assert list(s) == full[2:] and len(s) == len(full) - 2
        seen += full
    assert set(seen) == set(range(size)) and len(seen) == -(-size // world) * world
    other = ResumableSampler(size, seed=5)
    other.set_epoch(epoch + 1)
    assert sorted(other) == list(range(size))  # a new permutation each epoch
    s0 = ResumableSampler(size, seed=5)
    s0.set_epoch(epoch)
    assert list(other) != list(s0)


def test_list_images_from_folder_and_list_file(tmp_path):
    (tmp_path / 'a').mkdir()
    for name in ['a/2.png', '1.jpg', 'notes.txt']:
        (tmp_path / name).write_bytes(b'x')
    assert [p.name for p in list_images(tmp_path)] == ['1.jpg', '2.png']
    (tmp_path / 'list.txt').write_text('# comment\na/2.png\n\n1.jpg\n')
    assert list_images(tmp_path / 'list.txt') == [tmp_path / 'a/2.png', tmp_path / '1.jpg']
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no images found'):
        list_images(tmp_path / 'empty')
