"""Open-vocabulary scores: seen mIoU, unseen mIoU and their harmonic mean (SAR-OVSeg (c)).

Classes hidden in training (their labels ignored) are the *unseen* ones; a model is scored
on all classes at test time and the two groups are reported apart. The harmonic mean
hIoU = 2·s·u / (s + u) is high only when both are, so a model cannot hide a collapse on the
unseen classes behind the seen ones.
"""
from __future__ import annotations

import math

from mmseg.registry import METRICS

from .metric import SegEarthIoUMetric


def seen_unseen_scores(ious: dict[str, float], unseen) -> dict[str, float]:
    """{'mIoU.seen', 'mIoU.unseen', 'hIoU'} from per-class IoU (percent; NaN = class absent
    from labels and predictions, left out of its group's mean)."""
    unseen = set(unseen)
    missing = unseen - set(ious)
    if missing:
        raise ValueError(f'unseen class(es) {sorted(missing)} are not among the evaluated '
                         f'classes ({", ".join(ious)}); check the names')

    def mean(names):
        vals = [ious[n] for n in names if not math.isnan(ious[n])]
        return round(sum(vals) / len(vals), 2) if vals else float('nan')

    s = mean([n for n in ious if n not in unseen])
    u = mean([n for n in ious if n in unseen])
    if math.isnan(s) or math.isnan(u):
        h = float('nan')
    else:
        h = 0.0 if s + u == 0 else round(2 * s * u / (s + u), 2)
    return {'mIoU.seen': s, 'mIoU.unseen': u, 'hIoU': h}


@METRICS.register_module()
class OpenVocabIoUMetric(SegEarthIoUMetric):
    """SegEarthIoUMetric plus seen / unseen mIoU and their harmonic mean (`unseen`: class
    names of the dataset that were hidden in training)."""

    def __init__(self, unseen=(), **kwargs):
        super().__init__(**kwargs)
        self.unseen = tuple(unseen)

    def compute_metrics(self, results: list) -> dict:
        metrics = super().compute_metrics(results)
        if self.unseen and not self.format_only:
            ious = {k[4:]: v for k, v in metrics.items() if k.startswith('IoU.')}
            metrics.update(seen_unseen_scores(ious, self.unseen))
        return metrics
