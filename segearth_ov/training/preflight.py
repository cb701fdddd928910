"""What a training run needs, checked before anything is written: the data, then the weights.

Why here and not in the Runner: mmengine makes `<work_dir>/<timestamp>/` before it builds
the model, and a missing weight file then ends in a traceback with an empty folder left
behind; a missing data folder would only show on the next try.
"""
from __future__ import annotations

import inspect


class MissingInput(FileNotFoundError):
    """Data or weights a training run needs are not here; the message says which and how."""


def check_training_inputs(cfg, config_path: str) -> None:
    """Raise MissingInput naming the first thing missing: the training (and test) data
    folders, then the backbone's weights (resolved as the model's build will, so a file
    downloaded here is the one the run uses)."""
    from ..evaluation.run import missing_data
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader) and cfg[loader].get('dataset'):
            missing = missing_data(cfg, loader)
            if missing:
                raise MissingInput(f'data not found: {", ".join(missing)} '
                                   f'({_how_to_prepare(cfg, config_path)})')
    _check_weights(cfg.model)


def _how_to_prepare(cfg, config_path: str) -> str:
    """The converter of an HG-RSOVSSeg config's `hg_dataset`, else the benchmark's."""
    from ..evaluation.run import how_to_prepare
    from ..utils.paths import checkout
    name = (cfg.get('hg_dataset') or {}).get('name')
    repo = checkout()
    if name and repo and (repo / 'tools' / 'dataset_converters' / f'{name}.py').is_file():
        return f'prepare it with tools/dataset_converters/{name}.py, docs/training.md'
    return how_to_prepare(config_path)


def _check_weights(model_cfg) -> None:
    from mmseg.registry import MODELS

    from ..models.backbones.presets import get_preset
    from ..models.backbones.weights import WeightsNotFoundError, resolve_weights
    cls = MODELS.get(model_cfg.get('type'))
    if cls is None:
        return
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
    if 'clip_type' not in defaults:         # not a CLIP-backbone model
        return
    clip_type = model_cfg.get('clip_type', defaults['clip_type'])
    vit_type = model_cfg.get('vit_type', defaults.get('vit_type'))
    try:
        resolve_weights(get_preset(clip_type, vit_type), model_cfg.get('pretrained'),
                        name=f'{clip_type} {vit_type}')
    except WeightsNotFoundError as err:
        raise MissingInput(str(err)) from None
