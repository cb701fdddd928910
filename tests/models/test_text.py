"""Class-name files and the on-disk text-embedding cache."""
import pytest
import torch

from conftest import tiny_segmentor
from segearth_ov.models.text import load_class_names

CLASSES = ['background', 'building,roof,house', 'water']


def test_synonyms_become_queries(tmp_path):
    f = tmp_path / 'cls.txt'
    f.write_text('background\n building , roof,house\nwater\n\n')
    names = load_class_names(f)
    assert names.queries == ['background', 'building', 'roof', 'house', 'water']
    assert names.query_idx == [0, 1, 1, 1, 2]
    assert names.names == ['background', 'building', 'water']


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='class-name file not found: .*nope.txt'):
        load_class_names(tmp_path / 'nope.txt')


@pytest.mark.parametrize('text,match', [
    ('', 'is empty'),
    ('\n\n', 'is empty'),
    ('road\n\nwater\n', 'line 2: blank line'),
    ('road\nwater,road\n', "line 2: name 'road' already used on line 1"),
    ('road\nwater,,river\n', 'line 2: empty name'),
])
def test_bad_class_files_get_clear_errors(tmp_path, text, match):
    f = tmp_path / 'cls.txt'
    f.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_class_names(f)


def test_cache_hit_on_second_build_and_invalidated_by_new_classes():
    first = tiny_segmentor(CLASSES, feature_up=False)
    assert not first.text_from_cache
    second = tiny_segmentor(CLASSES, feature_up=False)
    assert second.text_from_cache
    assert torch.equal(first.query_features, second.query_features)
    changed = tiny_segmentor(CLASSES + ['road'], feature_up=False)
    assert not changed.text_from_cache
    assert torch.allclose(changed.query_features[:5], first.query_features, atol=1e-6)


def test_cache_is_not_used_across_weights(tmp_path):
    import open_clip
    from conftest import TINY_CFG, TINY_PT
    # Same architecture, other weights: must not reuse the embeddings of the fixture weights.
    tiny_segmentor(CLASSES, feature_up=False)
    open_clip.add_model_config(str(TINY_CFG))
    model = open_clip.create_model('tiny-clip-vit-b16', pretrained=str(TINY_PT))
    with torch.no_grad():
        model.ln_final.bias.add_(0.5)
    other = tmp_path / 'other.pt'
    torch.save(model.state_dict(), other)
    seg = tiny_segmentor(CLASSES, feature_up=False, pretrained=str(other))
    assert not seg.text_from_cache


def test_corrupt_cache_entry_is_recomputed(monkeypatch):
    seg = tiny_segmentor(CLASSES, feature_up=False)
    from segearth_ov.utils.paths import cache_dir
    for f in (cache_dir() / 'text_embeddings').glob('*.pt'):
        f.write_bytes(b'not a torch file')
    again = tiny_segmentor(CLASSES, feature_up=False)
    assert not again.text_from_cache
    assert torch.allclose(again.query_features, seg.query_features)


def test_set_classes_switches_text_side_only():
    seg = tiny_segmentor(CLASSES, feature_up=False)
    visual = seg.image_encoder.visual.conv1.weight.clone()
    fresh = tiny_segmentor(['road', 'tree,forest'], feature_up=False, prob_thd=0.4, bg_idx=1)
    seg.set_classes(['road', 'tree,forest'], prob_thd=0.4, bg_idx=1)
    assert seg.num_classes == 2 and seg.prob_thd == 0.4 and seg.bg_idx == 1
    assert seg.query_idx.tolist() == [0, 1, 1]
    assert torch.allclose(seg.query_features, fresh.query_features, atol=1e-6)
    assert torch.equal(seg.image_encoder.visual.conv1.weight, visual)
    img = torch.randn(1, 3, 64, 64)
    assert torch.equal(seg.predict(img), fresh.predict(img))
    with pytest.raises(ValueError, match='blank line'):
        seg.set_classes(['road', '', 'tree'])
