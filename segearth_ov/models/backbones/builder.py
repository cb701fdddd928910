"""Build an open_clip CLIP model from a preset, a model-config JSON and resolved weights."""
from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import torch

from .presets import get_preset
from .weights import resolve_weights

logger = logging.getLogger('segearth_ov')


def _register_model_cfg(model_cfg: str) -> str:
    """Register an open_clip model-config JSON; its file stem becomes the architecture name."""
    import open_clip
    path = Path(model_cfg)
    if not path.is_file():
        raise FileNotFoundError(f'model_cfg not found: {path} (an open_clip model-config JSON)')
    try:
        json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f'model_cfg {path} is not valid JSON: {err}') from None
    open_clip.add_model_config(str(path))
    return path.stem


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record):
        return 'initialized randomly' not in record.getMessage()


@contextlib.contextmanager
def _quiet_random_init_warning():
    """open_clip warns "No pretrained weights loaded … initialized randomly" whenever it is
    not given weights itself; here they are loaded right after, so the warning misleads."""
    flt = _DropRandomInitWarning()
    root = logging.getLogger()
    root.addFilter(flt)
    try:
        yield
    finally:
        root.removeFilter(flt)


def build_clip(clip_type: str = 'CLIP', vit_type: str = 'ViT-B/16', pretrained: str | None = None,
               model_cfg: str | None = None, quick_gelu: bool | None = None):
    """Return (open_clip model in eval mode, tokenizer, weights path or None).

    `model_cfg` replaces the preset's architecture (for architectures open_clip does not
    ship); `pretrained` replaces the preset's weights. A checkpoint that does not fit the
    architecture raises a ValueError naming both.
    """
    import open_clip
    preset = get_preset(clip_type, vit_type)
    name = f'{clip_type} {vit_type}'
    if model_cfg:
        arch, default_qg = _register_model_cfg(model_cfg), False  # the JSON says quick_gelu itself
    else:
        arch, default_qg = preset.arch, preset.quick_gelu
    # quick_gelu=True forces QuickGELU (weights fine-tuned from OpenAI CLIP and loaded with
    # pretrained=), False forces GELU (except over a model_cfg JSON that asks for QuickGELU),
    # None lets the preset or the JSON decide.
    quick_gelu = default_qg if quick_gelu is None else quick_gelu
    weights = resolve_weights(preset, pretrained, name=name)
    with _quiet_random_init_warning():   # weights are loaded right below
        model = open_clip.create_model(arch, pretrained=None, force_quick_gelu=quick_gelu)
    if weights is not None:
        try:
            open_clip.load_checkpoint(model, weights, strict=True)
        except (RuntimeError, KeyError, ValueError, AssertionError, IndexError) as err:
            first = str(err).strip().splitlines()
            raise ValueError(
                f'checkpoint {weights} does not match the {arch} architecture of {name}'
                f'{" (model_cfg " + str(model_cfg) + ")" if model_cfg else ""}: '
                f'{" ".join(first[:3])[:400]}. Pick the clip_type/vit_type (or model_cfg) '
                'that the checkpoint was trained with.') from None
        except Exception as err:  # pickle errors, truncated files, …
            raise ValueError(f'could not read checkpoint {weights}: {type(err).__name__}: {err}') from None
    model.eval()
    tokenizer = open_clip.get_tokenizer(arch)
    return model, tokenizer, weights
