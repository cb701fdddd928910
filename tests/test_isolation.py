"""What tests/conftest.py promises every test: the user's caches are out of reach, and what
one test changes in this process (torch's thread count) does not reach the next test."""
import torch

THREADS_AT_COLLECTION = torch.get_num_threads()      # before any test of the session ran


def test_caches_and_checkpoints_are_the_tests_own(tmp_path):
    """A machine where `clip.load` ran has ~/.cache/clip/ViT-B-16.pt: the CLIP preset would
    find it there, and the tests that expect "weights not found" would fail on it."""
    import os

    from segearth_ov.utils.paths import cache_dir, checkpoints_dir, openai_clip_cache
    for folder in (cache_dir(), checkpoints_dir(), openai_clip_cache()):
        assert tmp_path in folder.parents, folder
    assert os.environ['HF_HUB_OFFLINE'] == '1'


def test_a_test_may_change_the_thread_count():
    """As tools/predict.py --threads 1 or region mode do, run in-process (the next test
    checks that it was put back)."""
    torch.set_num_threads(1 if THREADS_AT_COLLECTION != 1 else 2)
    assert torch.get_num_threads() != THREADS_AT_COLLECTION


def test_the_next_test_has_the_thread_count_of_the_session():
    assert torch.get_num_threads() == THREADS_AT_COLLECTION
