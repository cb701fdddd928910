"""The config's metric on hand-made predictions equals IoU computed by hand.

Labels go through the config's own dataset and pipeline (so reduce_zero_label and the
ignore index act as in a real run); predictions are set by hand.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import DATASETS
from synthetic_data import CONFIGS, SIZE, make_synthetic_dataset, synthetic_label

import segearth_ov  # noqa: F401
import segearth_ov.evaluation  # noqa: F401
from segearth_ov.evaluation.run import load_config


def hand_metrics(labels, preds, n, ignore, reduce_zero_label):
    """aAcc, mIoU and per-class IoU (percent) by counting pixels."""
    inter, area_pred, area_label = np.zeros(n), np.zeros(n), np.zeros(n)
    for label, pred in zip(labels, preds):
        label = label.astype(np.int64)
        if reduce_zero_label:   # mmseg: 0 → ignored, k → k-1, 255 stays 255
            label = np.where(label == 0, 255, label - 1)
            label[label == 254] = 255
        valid = label != ignore
        for c in range(n):
            inter[c] += np.sum((pred == c) & (label == c) & valid)
            area_pred[c] += np.sum((pred == c) & valid)
            area_label[c] += np.sum((label == c) & valid)
    union = area_pred + area_label - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = inter / union * 100
    return dict(aAcc=inter.sum() / area_label.sum() * 100, mIoU=np.nanmean(iou), iou=iou)


def hand_prediction(i, n):
    """Partly right: the label's column blocks, shifted, plus a wrong square."""
    h, w = SIZE
    cols = (np.arange(w) + 5) * n // w
    pred = np.broadcast_to((cols + i) % n, (h, w)).copy()
    pred[10:30, 10:30] = (i + 1) % n
    return pred


CASES = {
    # config, cfg-options, ignore index the metric must use, reduce_zero_label
    'whu_sar (reduce_zero_label, 0 and 255 ignored)': ('whu_sar', {}, 255, True),
    'udd5 (ignore 255)': ('udd5', {}, 255, False),
    'loveda (mmseg class, reduce_zero_label)': ('loveda', {}, 255, True),
    'custom, ignore_index=0 from the dataset': (
        'custom', {'test_dataloader.dataset.ignore_index': 0}, 0, False),
}


@pytest.mark.parametrize('case', CASES)
def test_metric_equals_hand_computed_iou(case, tmp_path, monkeypatch):
    name, options, ignore, rzl = CASES[case]
    monkeypatch.chdir(tmp_path)
    cfg = load_config(str(CONFIGS / f'cfg_{name}.py'), options)
    facts = make_synthetic_dataset(cfg, tmp_path, count=2)
    n = len(facts['classes'])
    assert bool(facts['reduce_zero_label']) == rzl
    init_default_scope('mmseg')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    labels, preds = [], []
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        pred = hand_prediction(i, n)
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
        evaluator.process(data_samples=[sample])
        labels.append(synthetic_label(i, n, rzl))
        preds.append(pred)
        # the pipeline's label is the file's label after the dataset's label handling
        gt = sample.gt_sem_seg.data[0].numpy()
        expect = labels[-1].astype(np.int64)
        if rzl:
            expect = np.where(expect == 0, 255, expect - 1)
            expect[expect == 254] = 255
        assert (gt == expect).all()
    metrics = evaluator.evaluate(len(dataset))
    hand = hand_metrics(labels, preds, n, ignore, rzl)
    assert metrics['aAcc'] == pytest.approx(hand['aAcc'], abs=0.006)
    assert metrics['mIoU'] == pytest.approx(hand['mIoU'], abs=0.006)
    ious = [metrics[f'IoU.{c}'] for c in facts['classes']]
    np.testing.assert_allclose(ious, hand['iou'], atol=0.006)
    if ignore == 0:   # with 0 ignored the result differs from counting 0 as a class
        assert metrics['mIoU'] != pytest.approx(hand_metrics(labels, preds, n, 255, rzl)['mIoU'])


def test_a_class_file_longer_than_the_dataset_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(str(CONFIGS / 'cfg_udd5.py'))
    make_synthetic_dataset(cfg, tmp_path, count=1)
    init_default_scope('mmseg')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    sample = dataset[0]['data_samples']
    sample.pred_sem_seg = PixelData(data=torch.full((1, *SIZE), 5))   # UDD5 has 5 classes
    with pytest.raises(ValueError, match='one line per dataset class'):
        evaluator.process(data_samples=[sample])
