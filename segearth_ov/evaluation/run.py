"""One evaluation run: a config → mmengine Runner.test() → metrics, results.txt, results.xlsx.

Shared by eval.py (one config) and eval_all.py (many, in one process).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mmengine.logging import print_log
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.runner import Runner
from mmseg.registry import MODELS


def load_config(config: str, cfg_options: dict | None = None, work_dir: str | None = None,
                launcher: str = 'none', show_dir: str | None = None):
    """The mmengine Config of `config` with the command-line changes applied (a key that
    nothing would read raises ConfigKeyError)."""
    from mmengine.config import Config

    from ..utils.paths import find_config, find_data
    from .cfg_options import check_cfg_options
    config = find_config(config)
    cfg = Config.fromfile(str(config))
    if cfg_options:
        check_cfg_options(cfg, cfg_options)     # a typo must not be ignored silently
        cfg.merge_from_dict(cfg_options)
    ds = cfg.get('test_dataloader', {}).get('dataset', {})
    if ds.get('data_root'):           # data/<Set> of the repository, from any directory
        ds.data_root = find_data(ds.data_root)
    cfg.launcher = launcher
    if work_dir:
        cfg.work_dir = work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = str(Path('work_dirs') / Path(config).stem)
    if show_dir:
        hooks = list(cfg.get('custom_hooks', []) or [])
        hooks.append(dict(type='SaveOverlayHook', out_dir=str(show_dir)))
        cfg.custom_hooks = hooks
    return cfg


def missing_data(cfg, loader: str = 'test_dataloader') -> list[str]:
    """The data paths the config's test set (or `loader`'s set, e.g. 'train_dataloader')
    needs and this machine lacks ([] = ready): the data folder itself if it is missing, else
    the missing sub-folders and files."""
    ds = cfg[loader].dataset
    root = ds.get('data_root') or ''
    if root and not os.path.isdir(root):
        return [root]
    return [p for p in data_paths(cfg, loader) if not os.path.exists(p)]


def data_paths(cfg, loader: str = 'test_dataloader') -> list[str]:
    """The folders and files the dataset of `cfg[loader]` reads: images, labels, the
    annotation and class files."""
    ds = cfg[loader].dataset
    root = ds.get('data_root') or ''
    prefix = ds.get('data_prefix') or {}
    paths = [os.path.join(root, prefix[k]) for k in ('img_path', 'seg_map_path') if prefix.get(k)]
    ann = ds.get('ann_file')
    if ann:
        paths.append(ann if os.path.isabs(ann) else os.path.join(root, ann))
    if ds.get('classes_file'):
        cf = ds.classes_file
        paths.append(cf if os.path.isabs(cf) else os.path.join(root, cf))
    return paths


def check_test_images(cfg) -> None:
    """List the test set's images without building the model; NoImagesError (naming the
    folder, the suffix looked for and the one found) when there is none. Other errors of
    the dataset's construction (a class file that cannot be read, …) are raised as they are."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from ..datasets.table import NoImagesError, no_images_message
    init_default_scope(cfg.get('default_scope') or 'mmseg')
    ds_cfg = cfg.test_dataloader.dataset.copy()
    ds_cfg['lazy_init'] = True              # no full_init: only the listing below
    try:
        dataset = DATASETS.build(ds_cfg)
    except TypeError:                       # a dataset without lazy_init: the Runner lists it
        return
    if not dataset.load_data_list():
        raise NoImagesError(no_images_message(dataset))


def same_start(cfg, *loaders: str) -> None:
    """StartMismatch unless every rank has the same config (after --cfg-options) and data
    listing of `loaders` (several machines: the same command, with the same data)."""
    from ..utils.distributed import check_same_start, file_listing, flatten
    paths = [p for loader in loaders for p in data_paths(cfg, loader)]
    check_same_start(dict(flatten(cfg.to_dict()), data=file_listing(paths)))


def how_to_prepare(config) -> str:
    """How to get the data of `config` (configs/cfg_<name>.py): its converter, if one is
    tools/dataset_converters/<name>.py of the repository; mmseg's for the natural-image sets."""
    from ..utils.paths import find_config, roots
    config = find_config(config).resolve()
    repo = next((r for r in roots() if config.is_relative_to(r / 'configs')), None)
    rel = config.relative_to(repo / 'configs') if repo else Path(config.name)
    stem = rel.with_name(rel.stem.removeprefix('cfg_')).as_posix()
    found = [p for p in (repo / 'tools' / 'dataset_converters').glob('*.py')
             if p.stem.lower() == stem.lower()] if repo else []
    if found:
        return f'prepare it with tools/dataset_converters/{found[0].name}, docs/evaluation.md'
    if stem.startswith('natural/'):
        return ("prepare it with mmseg's converter for the dataset (mmseg's docs: "
                f'dataset_prepare.md), the layout in configs/{rel.as_posix()}')
    return 'see docs/evaluation.md for the layout'


_LAST_MODEL: dict = {}


CLASS_SETTINGS = ('name_path', 'classes', 'prob_thd', 'bg_idx')


def model_key(model_cfg, image_side_only: bool = False) -> str:
    """The model settings as a string, the class-name file replaced by its lines (two
    configs with equal class lists in different files build the same model).
    `image_side_only`: without the class list and thresholds, which `set_classes` changes."""
    settings = model_cfg.to_dict() if hasattr(model_cfg, 'to_dict') else dict(model_cfg)
    if image_side_only:
        settings = {k: v for k, v in settings.items() if k not in CLASS_SETTINGS}
    path = settings.get('name_path')
    if path and os.path.isfile(path):
        # not UTF-8: the model's build says so, naming the file
        settings['name_path'] = Path(path).read_bytes().decode('utf-8', 'replace').strip()
    return json.dumps(settings, sort_keys=True, default=str)


@MODELS.register_module(name='LastBuiltModel')
def last_built_model(model: dict, key: str, image_key: str | None = None):
    """`model` built, or the model built last when it was built with the same `key`; when
    only the classes or thresholds differ (same `image_key`), the last model with
    `set_classes` (only the text embeddings are computed).

    Only one model is kept (the previous one is released first), so GPU memory does not
    grow with the number of datasets.
    """
    if _LAST_MODEL.get('key') == key:
        print_log('same model settings as the previous config: reusing its model',
                  logger='current')
        return _LAST_MODEL['model']
    if image_key is not None and _LAST_MODEL.get('image_key') == image_key:
        print_log('same backbone and attention as the previous config: reusing its image '
                  'side with the new classes', logger='current')
        built = _LAST_MODEL['model']
        classes = model.get('classes') or model.get('name_path')
        built.set_classes(classes, prob_thd=model.get('prob_thd', 0.0),
                          bg_idx=model.get('bg_idx', 0))
        _LAST_MODEL.update(key=key)
        return built
    _LAST_MODEL.clear()
    built = MODELS.build(model)
    _LAST_MODEL.update(key=key, image_key=image_key, model=built)
    return built


def release_models() -> None:
    """Drop the model kept for reuse."""
    _LAST_MODEL.clear()


def run_weights(model, cfg) -> dict:
    """The weight files of the evaluated model (a checkpoint loaded by `load_from` too)."""
    from ..utils.provenance import file_record, model_weights
    weights = model_weights(model)
    if cfg.get('load_from') and os.path.isfile(cfg.load_from):
        weights['checkpoint'] = file_record(cfg.load_from)
    return weights


def requested_device(model_cfg) -> str | None:
    """The device the config asks for (`model.device`; also inside `LastBuiltModel`)."""
    if model_cfg.get('type') == 'LastBuiltModel':
        model_cfg = model_cfg['model']
    return model_cfg.get('device')


class PlacedModelRunner(Runner):
    """mmengine's Runner, except that one process leaves the model on the device the config
    asks for (`model.device=cpu`, `cuda:1`).

    mmengine's `wrap_model` moves every model to `get_device()`, which mmengine fixes when it
    is imported (CUDA whenever a GPU is visible, always its current GPU): without this, eval.py
    on a GPU machine ran on cuda:0 whatever `model.device` said. Without `model.device`, and
    under a launcher (each rank on its LOCAL_RANK's GPU), mmengine's placement stands.
    """

    def wrap_model(self, model_wrapper_cfg, model):
        device = requested_device(self.cfg.get('model') or {})
        if device is None or self.distributed or is_model_wrapper(model):
            return super().wrap_model(model_wrapper_cfg, model)
        # the segmentor was built on `device`; the rest is what mmengine does for one process
        return revert_sync_batchnorm(model)


def evaluate(cfg, config: str, results: str | None = 'results.xlsx', tag: str = '',
             reuse_model: bool = False, lock_timeout: float | None = None):
    """Run the test loop of `cfg`; on rank 0 print the metrics, write results.txt in the
    work dir and append a row to `results` (None: no xlsx; `lock_timeout`: seconds to wait
    for another run's lock on its folder).

    `reuse_model`: if the previous call built a model with the same settings, use it again
    (eval_all.py). Returns (metrics, row, the xlsx file written or None).
    """
    from ..utils.checkpoints import mmengine_checkpoints_allowed
    from .results import append_row, make_row, results_text
    t0 = time.perf_counter()
    run_cfg = cfg
    if reuse_model:
        run_cfg = cfg.copy()
        run_cfg.model = dict(type='LastBuiltModel', model=cfg.model.to_dict(),
                             key=model_key(cfg.model),
                             image_key=model_key(cfg.model, image_side_only=True))
    runner = PlacedModelRunner.from_cfg(run_cfg)
    same_start(cfg, 'test_dataloader')      # the group is running now (several processes)
    with mmengine_checkpoints_allowed(cfg.get('load_from')):   # an mmengine (HG) checkpoint
        metrics = dict(runner.test())
    seconds = time.perf_counter() - t0
    images = len(runner.test_dataloader.dataset)
    row = make_row(metrics, config, dict(cfg.model), images, seconds, tag=tag,
                   work_dir=runner.work_dir, weights=run_weights(runner.model, cfg))
    written = None
    if runner.rank == 0:
        text = results_text(row, metrics)
        print(text, flush=True)
        Path(runner.work_dir, 'results.txt').write_text(text)
        if results:
            written = append_row(results, row, lock_timeout=lock_timeout)
    return metrics, row, written
