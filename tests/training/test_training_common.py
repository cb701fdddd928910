"""The shared training pieces: states resume exactly, the sampler neither repeats nor skips."""
import random

import numpy as np
import pytest
import torch

from segearth_ov.training import (ResumableSampler, capture_rng, list_images,
                                  load_training_state, restore_rng, save_training_state)


def test_state_round_trip_restores_every_generator(tmp_path):
    torch.manual_seed(0)
    state = {'rng': capture_rng(), 'step': 7, 'weights': {'w': torch.arange(3.0)}}
    expected = (random.random(), float(np.random.rand()), torch.rand(2).tolist())
    save_training_state(tmp_path / 'state.pt', state)
    loaded = load_training_state(tmp_path / 'state.pt')  # weights_only=True inside
    restore_rng(loaded['rng'])
    assert (random.random(), float(np.random.rand()), torch.rand(2).tolist()) == expected
    assert loaded['step'] == 7 and loaded['weights']['w'].tolist() == [0.0, 1.0, 2.0]
    assert not (tmp_path / 'state.pt.tmp').exists()


def test_truncated_state_gives_a_clear_error(tmp_path):
    (tmp_path / 'state.pt').write_bytes(b'PK\x03\x04 broken')
    with pytest.raises(RuntimeError, match='not a readable training state'):
        load_training_state(tmp_path / 'state.pt')
    with pytest.raises(FileNotFoundError, match='--resume'):
        load_training_state(tmp_path / 'missing.pt')


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
