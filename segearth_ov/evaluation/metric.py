"""`SegEarthIoUMetric`: mmseg's IoUMetric, also returning per-class IoU; ignore index from data."""
from __future__ import annotations

import numpy as np
import torch
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class SegEarthIoUMetric(IoUMetric):
    """mmseg's `IoUMetric` (same intersect/union sums, same aAcc/mIoU/mAcc), plus:

    - the returned dict also holds `IoU.<class>` for every class (percent, 2 decimals; NaN
      for a class absent from both labels and predictions), which eval.py writes to
      results.txt / results.xlsx;
    - `ignore_index=None` (the default here) takes the dataset's `ignore_index` (our dataset
      classes put it in their metainfo), else 255 — so `--cfg-options
      test_dataloader.dataset.ignore_index=0` is the one place to change it;
    - a prediction with a class index the dataset does not have (a class-name file with more
      lines than the dataset has classes) is an error instead of a silently wrong number.
    """

    def __init__(self, ignore_index: int | None = None, **kwargs):
        super().__init__(ignore_index=255 if ignore_index is None else ignore_index, **kwargs)
        self._ignore_from_dataset = ignore_index is None

    @IoUMetric.dataset_meta.setter
    def dataset_meta(self, meta):
        IoUMetric.dataset_meta.fset(self, meta)
        if self._ignore_from_dataset and meta:
            self.ignore_index = int(meta.get('ignore_index', 255))

    def process(self, data_batch, data_samples) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            top = int(sample['pred_sem_seg']['data'].max())
            if top >= num_classes:
                raise ValueError(
                    f'the model predicted class {top}, but the dataset has {num_classes} '
                    f'classes ({", ".join(self.dataset_meta["classes"])}). The class-name file '
                    '(model.name_path) must have one line per dataset class, in label order.')
        super().process(data_batch, data_samples)

    def compute_metrics(self, results: list) -> dict:
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        intersect = sum(r[0] for r in results)
        union = sum(r[1] for r in results)
        if isinstance(intersect, torch.Tensor):
            intersect, union = intersect.cpu().numpy(), union.cpu().numpy()
        with np.errstate(divide='ignore', invalid='ignore'):
            iou = np.asarray(intersect, np.float64) / np.asarray(union, np.float64)
        for name, value in zip(self.dataset_meta['classes'], iou):
            metrics[f'IoU.{name}'] = float(np.round(value * 100, 2))
        return metrics
