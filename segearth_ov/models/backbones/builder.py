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


def architecture_parameters(model_cfg: str) -> int:
    """Parameters of an open_clip model-config JSON's architecture, counted on the meta
    device (nothing allocated): --dry-run's weight estimate for custom architectures."""
    import open_clip
    arch = _register_model_cfg(model_cfg)
    with _quiet_random_init_warning(), torch.device('meta'):
        model = open_clip.create_model(arch, pretrained=None, device='meta')
    return sum(p.numel() for p in model.parameters())


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


LONGCLIP_KEPT_POSITIONS = 20   # LongCLIP keeps CLIP's first 20 text positions as they were


def _read_checkpoint(path: str) -> dict:
    """The checkpoint's state dict, in any container users hold (utils.checkpoints), with
    LongCLIP's position tables folded into the one open_clip reads."""
    from ...utils.checkpoints import CheckpointError, read_state_dict
    state = read_state_dict(path)
    try:
        return _merge_longclip_positions(state)
    except ValueError as err:
        raise CheckpointError(f'{path}: {err}') from None


def _merge_longclip_positions(state: dict) -> dict:
    """Fold LongCLIP's two text position tables into one, exactly.

    LongCLIP (248-token text, used by FarSLIP and LRSCLIP) adds `positional_embedding` on
    positions < 20 and `positional_embedding_res` on the others (its mask1/mask2); one table
    holding the first 20 rows of the one and the rest of the other is the same sum, and is
    what open_clip's text tower reads. FarSLIP saves mask1/mask2 as buffers: they must be
    that fixed split, and are dropped.
    """
    for prefix in ('', 'text.'):
        masks = [state.pop(prefix + m, None) for m in ('mask1', 'mask2')]
        res = state.pop(prefix + 'positional_embedding_res', None)
        if res is not None:
            table = state[prefix + 'positional_embedding'].clone()
            table[LONGCLIP_KEPT_POSITIONS:] = res[LONGCLIP_KEPT_POSITIONS:]
            state[prefix + 'positional_embedding'] = table
        if any(m is not None for m in masks):
            _check_longclip_masks(masks, len(res) if res is not None else None)
    return state


def _check_longclip_masks(masks, rows) -> None:
    """mask1 selects the first 20 positions, mask2 the rest: anything else would need
    another merge than the one above."""
    if rows is None or any(m is None for m in masks):
        raise ValueError('checkpoint holds LongCLIP masks (mask1/mask2) without both masks '
                         'and positional_embedding_res: it is not a LongCLIP checkpoint')
    keep = torch.zeros(rows, 1)
    keep[:LONGCLIP_KEPT_POSITIONS] = 1
    mask1, mask2 = (m.reshape(-1, 1).float() for m in masks)
    if not (torch.equal(mask1, keep) and torch.equal(mask2, 1 - keep)):
        raise ValueError('checkpoint\'s LongCLIP masks (mask1/mask2) are not the split at '
                         f'position {LONGCLIP_KEPT_POSITIONS} that LongCLIP uses')


def _text_context_length(state: dict | None) -> int | None:
    """The text context the checkpoint was trained with (77 for CLIP, 248 for LongCLIP)."""
    if state is None:
        return None
    for key in ('positional_embedding', 'text.positional_embedding'):
        if key in state and state[key].ndim == 2:
            return int(state[key].shape[0])
    return None


def _load_into(model, state: dict) -> None:
    """open_clip's `load_checkpoint` steps, on a state dict already read (and merged)."""
    from open_clip.factory import (convert_state_dict, convert_to_custom_text_state_dict,
                                   resize_pos_embed)
    state = convert_state_dict(model, state)
    if 'positional_embedding' in state and not hasattr(model, 'positional_embedding'):
        state = convert_to_custom_text_state_dict(state)
    if 'logit_scale' in state and model.logit_scale.ndim != state['logit_scale'].ndim:
        state['logit_scale'] = state['logit_scale'].reshape(model.logit_scale.shape)
    resize_pos_embed(state, model)
    model.load_state_dict(state, strict=True)


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
    state = _read_checkpoint(weights) if weights is not None else None
    context = _text_context_length(state)
    with _quiet_random_init_warning():   # weights are loaded right below
        model = open_clip.create_model(arch, pretrained=None, force_quick_gelu=quick_gelu,
                                       force_context_length=context)
    if state is not None:
        try:
            _load_into(model, state)
        except (RuntimeError, KeyError, ValueError, AssertionError, IndexError) as err:
            first = str(err).strip().splitlines()
            raise ValueError(
                f'checkpoint {weights} does not match the {arch} architecture of {name}'
                f'{" (model_cfg " + str(model_cfg) + ")" if model_cfg else ""}: '
                f'{" ".join(first[:3])[:400]}. Pick the clip_type/vit_type (or model_cfg) '
                'that the checkpoint was trained with.') from None
    model.eval()
    tokenizer = open_clip.get_tokenizer(arch, context_length=context)
    return model, tokenizer, weights
