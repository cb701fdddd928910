"""mmengine plumbing for evaluation: a distributed-inference model wrapper and an overlay hook."""
from __future__ import annotations

from pathlib import Path

import torch
from mmengine.hooks import Hook
from mmengine.registry import MODEL_WRAPPERS
from mmseg.registry import HOOKS

from ..utils.files import atomic_path


@MODEL_WRAPPERS.register_module()
class InferenceOnlyWrapper(torch.nn.Module):
    """The model wrapper for distributed *testing* (`model_wrapper_cfg` in base_config.py).

    mmengine wraps a model in DistributedDataParallel when launched distributed, which a
    training-free model refuses (no parameter needs a gradient) and which on CPU (gloo)
    cannot take `device_ids`. Testing needs no gradient synchronisation at all: each rank
    runs its share of the images and the metric gathers the results, so this wrapper only
    forwards the calls.
    """

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module

    def test_step(self, data):
        return self.module.test_step(data)

    def val_step(self, data):
        return self.module.val_step(data)

    def train_step(self, data, optim_wrapper):
        raise NotImplementedError('InferenceOnlyWrapper is for testing only')

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)


@HOOKS.register_module()
class SaveOverlayHook(Hook):
    """Save `<out_dir>/<image name>.png`: the image beside a colour overlay of the prediction,
    with a legend of the classes present (eval.py --show-dir).

    The image is re-read at its original size (`read_image`: 1-band and 16-bit files are
    shown as the model saw them) and the prediction is the label map at that size. Each
    rank saves the images it predicted (writes are atomic: temporary file + rename).
    """

    def __init__(self, out_dir: str, alpha: float = 0.5):
        self.out_dir = Path(out_dir)
        self.alpha = alpha

    def before_test(self, runner) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        from ..utils.images import read_image
        from ..utils.provenance import model_weights, weights_line
        from ..visualization import save_overlay
        classes = list(runner.test_loop.dataloader.dataset.metainfo.get('classes', ()))
        model = getattr(runner.model, 'module', runner.model)
        lines = getattr(getattr(model, 'class_names', None), 'classes', None)
        if lines is not None and len(lines) == len(classes):
            classes = [list(syn) for syn in lines]    # colours from every synonym, as elsewhere
        made_by = weights_line(model_weights(model))
        for sample in outputs or ():
            pred = sample.pred_sem_seg.data[0].cpu().numpy()
            names = classes if len(classes) > pred.max() else [str(i) for i in
                                                               range(int(pred.max()) + 1)]
            image = read_image(sample.img_path)
            if image.shape[:2] != pred.shape:   # e.g. a pipeline that crops: show what we have
                import cv2
                image = cv2.resize(image, pred.shape[::-1], interpolation=cv2.INTER_AREA)
            name = Path(sample.img_path).stem
            target = self.out_dir / f'{name}.png'
            with atomic_path(target) as tmp:
                save_overlay(tmp, image, pred, names, alpha=self.alpha,
                             title=f'{name} · {made_by}')
