"""SAR augmentations (speckle statistics, gain, rotations) and the seen/unseen/hIoU metric."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from segearth_ov.datasets.sar_augment import (GammaSpeckle, RandomGainDB, RandomRotate90,
                                              gamma_speckle_multiplier)
from segearth_ov.evaluation.open_vocab import OpenVocabIoUMetric, seen_unseen_scores


@pytest.mark.parametrize('looks', [1, 4, 10])
def test_speckle_multiplier_has_mean_one_and_variance_one_over_looks(looks):
    n = gamma_speckle_multiplier((1000, 1000), looks, np.random.default_rng(0))
    assert abs(n.mean() - 1) < 0.005
    assert abs(n.var() - 1 / looks) < 0.01 / looks
    assert n.min() >= 0


def test_speckle_transform_multiplies_the_image_and_keeps_bands_equal():
    img = np.full((300, 300, 3), 100, np.uint8)
    out = GammaSpeckle(looks=4, prob=1, seed=1).transform({'img': img})['img']
    assert out.dtype == np.uint8
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    ratio = out[..., 0].astype(float) / 100
    assert abs(ratio.mean() - 1) < 0.02 and abs(ratio.var() - 0.25) < 0.03
    flt = np.full((200, 200), 2.0, np.float32)
    amp = GammaSpeckle(looks=2, domain='amplitude', prob=1, seed=0).transform({'img': flt})['img']
    assert amp.dtype == np.float32 and abs(((amp / 2) ** 2).mean() - 1) < 0.03
    with pytest.raises(ValueError, match='looks'):
        GammaSpeckle(looks=0)


def test_gain_in_db():
    t = RandomGainDB(gain_db=(3, 3), prob=1, seed=0)
    out = t.transform({'img': np.full((4, 4), 10.0, np.float32)})
    np.testing.assert_allclose(out['img'], 10 * 10 ** 0.3, rtol=1e-6)        # +3 dB ≈ ×2
    amp = RandomGainDB(gain_db=(-6, -6), domain='amplitude', prob=1)
    np.testing.assert_allclose(amp.factor(-6), 10 ** (-6 / 20))
    assert RandomGainDB(gain_db=(10, 10), prob=1).transform(
        {'img': np.full((2, 2), 200, np.uint8)})['img'].max() == 255          # clipped


def test_rotate90_moves_image_and_labels_together():
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    seen = set()
    t = RandomRotate90(prob=1, seed=0)
    for _ in range(40):
        r = t.transform({'img': img.copy(), 'gt_seg_map': img.copy(), 'seg_fields': ['gt_seg_map']})
        np.testing.assert_array_equal(r['img'], np.rot90(img, r['rot90_k']))
        np.testing.assert_array_equal(r['gt_seg_map'], r['img'])
        assert r['img_shape'] == r['img'].shape[:2]
        seen.add(r['rot90_k'])
    assert seen == {0, 1, 2, 3}


def test_seen_unseen_harmonic_mean_known_answer():
    s = seen_unseen_scores({'a': 60.0, 'b': 40.0, 'c': 20.0, 'd': float('nan')}, ['c', 'd'])
    assert s == {'mIoU.seen': 50.0, 'mIoU.unseen': 20.0, 'hIoU': round(2 * 50 * 20 / 70, 2)}
    assert seen_unseen_scores({'a': 50.0, 'b': 0.0}, ['b'])['hIoU'] == 0.0
    with pytest.raises(ValueError, match='not among'):
        seen_unseen_scores({'a': 1.0}, ['zebra'])


def test_metric_on_a_hand_made_prediction():
    """Labels/predictions of 3 classes on 8 pixels; class 2 unseen.
    IoU: class0 = 2/3, class1 = 2/4, class2 = 1/2 → seen 58.33, unseen 50, h = 53.85."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gt = torch.tensor([[0, 0, 0, 1, 1, 1, 2, 255]])
    pred = torch.tensor([[0, 0, 1, 1, 1, 2, 2, 0]])
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=gt[None])
    sample.pred_sem_seg = PixelData(data=pred[None])
    m = OpenVocabIoUMetric(unseen=['ship'])
    m.dataset_meta = dict(classes=('water', 'road', 'ship'), ignore_index=255)
    m.process({}, [sample.to_dict()])
    out = m.compute_metrics(m.results)
    assert out['IoU.water'] == 66.67 and out['IoU.road'] == 50.0 and out['IoU.ship'] == 50.0
    assert out['mIoU.seen'] == 58.34 or out['mIoU.seen'] == 58.33
    assert out['mIoU.unseen'] == 50.0
    assert math.isclose(out['hIoU'], 2 * out['mIoU.seen'] * 50 / (out['mIoU.seen'] + 50),
                        abs_tol=0.01) and math.isclose(out['hIoU'], 53.85, abs_tol=0.01)
