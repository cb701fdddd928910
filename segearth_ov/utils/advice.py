"""How to set a setting in the tool the user is running: the fix an error message names.

Errors are raised deep down (weights, SimFeatUp, band choice), but their fix is an option of
the tool the user typed: `--pretrained PATH` in tools/predict.py and demo.py,
`--cfg-options model.pretrained=PATH` in eval.py, a box on the map page, a keyword in
Python. Each entry point runs under `using(ITS_TABLE)`; a message asks `how_to_set(setting)`.
Outside any entry point (the Python API, configs) the advice names the keyword.
The tables are tested against each tool's real options (tests/apis/test_advice.py).
"""
from __future__ import annotations

import contextlib

# the Python API and mmseg configs (SegEarthSegmentation's keywords, SceneOptions)
PYTHON = {
    'pretrained': "pretrained='/path/to/weights.pt'",
    'upsampler_ckpt': "feature_up_cfg=dict(model_path='/path/to/simfeatup.ckpt')",
    'no_upsampler': 'feature_up=False',
    'bands': 'bands=(3, 2, 1)',
    'img_suffix': "img_suffix='{suffix}' in the dataset's config",
}
# tools/predict.py, demo.py and region mode (their own flags)
PREDICT_CLI = {
    'pretrained': '--pretrained PATH',
    'upsampler_ckpt': '--upsampler-ckpt PATH',
    'no_upsampler': '--upsampler none',
    'bands': '--bands 3,2,1',
}
# tools that take an mmseg config and --cfg-options: eval.py, eval_all.py, tools/train.py,
# tools/paper_tables.py, tools/hg_cross_eval.py
CFG_OPTIONS = {
    'pretrained': '--cfg-options model.pretrained=PATH',
    'upsampler_ckpt': '--cfg-options model.feature_up_cfg.model_path=PATH',
    'no_upsampler': '--cfg-options model.feature_up=False',
    'img_suffix': '--cfg-options test_dataloader.dataset.img_suffix={suffix}',
}
# tools/train.py: its datasets are the training ones
TRAIN_CFG_OPTIONS = dict(
    CFG_OPTIONS, img_suffix='--cfg-options train_dataloader.dataset.img_suffix={suffix} '
    '(and val_dataloader.dataset.img_suffix={suffix})')
# the map page (tools/webui.py): the model is the server's, the bands are the page's
WEB_PAGE = {
    'pretrained': 'tools/webui.py --pretrained PATH (restart the server)',
    'upsampler_ckpt': 'tools/webui.py --upsampler-ckpt PATH (restart the server)',
    'no_upsampler': 'tools/webui.py --upsampler none (restart the server)',
    'bands': 'the Bands box, e.g. 3,2,1',
}

_current: dict[str, str] = dict(PYTHON)


@contextlib.contextmanager
def using(hints: dict[str, str]):
    """Messages raised inside name `hints` (settings they lack: the Python keyword).

    A plain module global, not a ContextVar: worker threads (the map page's jobs) must see it.
    """
    saved = dict(_current)
    _current.clear()
    _current.update(PYTHON, **hints)
    try:
        yield
    finally:
        _current.clear()
        _current.update(saved)


def how_to_set(setting: str, **values) -> str:
    """How the user sets `setting` ('pretrained', 'upsampler_ckpt', 'no_upsampler', 'bands',
    'img_suffix' with `suffix=`) in the tool running now."""
    return _current[setting].format(**values) if values else _current[setting]
