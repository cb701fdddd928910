"""Every row of the papers' tables as a named method preset: config overrides, in one place.

A table row names its method as parts joined by `+`, applied left to right on top of the
dataset's config (`configs/cfg_<name>.py`), e.g. `maskclip+openai` (MaskCLIP attention on
OpenAI CLIP) or `sclip+simfeatup+gba` (SCLIP, then SimFeatUp and global bias alleviation
switched back on). Keeping the rows as data lets `tools/paper_tables.py` run a table, and
lets a reader see in one file what each published number was computed with.

Baselines are run as SegEarth-OV's paper ran them (§5.2): the same protocol as SegEarth-OV
(long side 448, slide 224/112, the same class-name files, per-dataset thresholds), with the
method's attention in the last block, no SimFeatUp and no global bias alleviation
(`cls_token_lambda=0`). `segearth-ov` is the dataset config unchanged (optical: SegEarth
attention, JBU_One, λ = −0.3; SAR: AlignEarth with SCLIP attention in the last two blocks).

A part may also name files it needs (weights only training or a manual download can give)
and how to get them; `unsupported` marks rows no code here can produce, with the reason.
HG-RSOVSSeg rows are `hg:<config>` (configs/hg_rsovsseg/hg_<config>.py) followed by
`model.key=value` overrides; they need a checkpoint trained with tools/train.py.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

SIMFEATUP_TRAIN = ('torchrun --nproc_per_node 2 simfeatup_train/train.py --config '
                   'simfeatup_train/configs/simfeatup_remoteclip_vit_b32.py --cfg-options '
                   'clip_type={clip} work_dir=work_dirs/simfeatup_{slug}_vit_b32, then copy '
                   'work_dirs/simfeatup_{slug}_vit_b32/jbu_one_{clip}_ViT-B-32.ckpt to '
                   'checkpoints/')


@dataclass(frozen=True)
class Part:
    """One named piece of a method: model settings, and what it needs."""
    doc: str
    model: dict = field(default_factory=dict)   # keys of the config's `model`
    long_side: int | None = None                # the test pipeline's Resize scale
    unsupported: str | None = None              # why no code here can produce the row


BASELINE = dict(feature_up=False, cls_token_lambda=0.0, ssa_last_n_layers=1)


def _baseline(model_type: str, doc: str) -> Part:
    return Part(doc, dict(BASELINE, model_type=model_type))


def _b32(clip_type: str) -> Part:
    return Part(f'{clip_type} ViT-B/32, with a SimFeatUp trained on it (5 JBU steps)',
                dict(clip_type=clip_type, vit_type='ViT-B/32',
                     feature_up_cfg=dict(model_name='jbu_one', model_path=(
                         f'checkpoints/jbu_one_{clip_type}_ViT-B-32.ckpt'))))


PARTS: dict[str, Part] = {
    # attention baselines (Tables 2, 3, 4, 6, 8, 9)
    'clip': _baseline('vanilla', 'CLIP as is: the last block unchanged'),
    'maskclip': _baseline('MaskCLIP', 'MaskCLIP: the value embedding of the last block'),
    'sclip': _baseline('SCLIP', 'SCLIP: correlative self-attention (q-q + k-k)'),
    'gem': _baseline('GEM', 'GEM: self-self attention over the last 6 blocks (λ must be 0)'),
    'clearclip': _baseline('ClearCLIP', 'ClearCLIP: q-q attention, no residual, no FFN'),
    'segearth-ov': Part('SegEarth-OV: the dataset config unchanged'),
    # switches
    'simfeatup': Part('SimFeatUp (JBU_One) on the last block input',
                      dict(feature_up=True)),
    'gba': Part('global bias alleviation (λ = −0.3)', dict(cls_token_lambda=-0.3)),
    'long896': Part('images resized to long side 896 (Table 3, second part)', long_side=896),
    # backbones
    'openai': Part('OpenAI CLIP ViT-B/16 (on SAR: the optical CLIP as is)',
                   dict(clip_type='CLIP', vit_type='ViT-B/16')),
    'openclip': Part('OpenCLIP ViT-B/16 (LAION-2B)',
                     dict(clip_type='OpenCLIP', vit_type='ViT-B/16')),
    'metaclip': Part('MetaCLIP ViT-B/16', dict(clip_type='MetaCLIP', vit_type='ViT-B/16')),
    'clip-b32': _b32('CLIP'),
    'remoteclip-b32': _b32('RemoteCLIP'),
    'georsclip-b32': _b32('GeoRSCLIP'),
    'skyclip-b32': _b32('SkyCLIP'),
    'alip': Part('ALIP ViT-B/32', unsupported=(
        'ALIP has no backbone preset: its weights are not on a hub open_clip reads; evaluate '
        'them with --cfg-options model.clip_type=CLIP model.vit_type=ViT-B/32 '
        'model.pretrained=PATH')),
    'clipself': Part('CLIPSelf (EVA02-CLIP ViT-B/16)', unsupported=(
        'CLIPSelf is an EVA02 ViT, an architecture the backbone presets do not build')),
    # Table 7: the ablation ladder
    'ablation-baseline': Part('SegEarth attention, no upsampler, no global bias alleviation',
                              dict(BASELINE, model_type='SegEarth')),
    'ablation-featup-clip': Part('FeatUp JBU on CLIP\'s output features', unsupported=(
        'FeatUp on the output features (the original FeatUp with its 7x7 kernel) is not in '
        'this code base; SimFeatUp upsamples the last block\'s input')),
    'ablation-featup-maskclip': Part('FeatUp JBU on MaskCLIP\'s value features', unsupported=(
        'FeatUp on MaskCLIP\'s features is not in this code base')),
    **{f'ablation-{k}': Part(v, unsupported=(
        'this step uses the small (7x7) JBU kernel of FeatUp; the upsampler here and '
        'simfeatup_train/ have the final large kernel only (row "+ Large Kernel")'))
       for k, v in (('x-up', 'JBU_Stack on the last block input, trained on COCO-Stuff'),
                    ('rs-data', 'JBU_Stack trained on Million-AID'),
                    ('jbu-one', 'JBU_One'),
                    ('rec-image', 'JBU_One with the image reconstruction loss'),
                    ('global-bias', 'and global bias alleviation'))},
}


class MethodError(ValueError):
    """A method name that no preset defines."""


@dataclass
class Method:
    """A resolved method: the merged settings of its parts."""
    name: str
    model: dict
    long_side: int | None = None
    unsupported: str | None = None
    hg_config: str | None = None      # HG-RSOVSSeg: the training config (hg_<name>.py)


def _merge(into: dict, new: dict) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = dict(v) if isinstance(v, dict) else v


def resolve(name: str) -> Method:
    """The Method of a row's method name (`a+b+…` or `hg:<config> model.k=v …`)."""
    name = name.strip()
    if name.startswith('hg:'):
        config, *options = name[3:].split()
        model = {}
        for opt in options:
            key, _, value = opt.partition('=')
            if not key.startswith('model.') or not value:
                raise MethodError(f'{name!r}: write HG options as model.key=value')
            model[key[6:]] = value
        return Method(name, model, hg_config=config)
    method = Method(name, {})
    for part_name in name.split('+'):
        part = PARTS.get(part_name)
        if part is None:
            raise MethodError(f'unknown method part {part_name!r} in {name!r}; the presets '
                              f'are: {", ".join(PARTS)} (segearth_ov/evaluation/methods.py)')
        _merge(method.model, part.model)
        method.long_side = part.long_side or method.long_side
        method.unsupported = method.unsupported or part.unsupported
    return method


def apply(cfg, method: Method) -> None:
    """Apply `method` to a loaded mmengine config (its model and test pipeline)."""
    cfg.merge_from_dict({f'model.{k}': v for k, v in method.model.items()})
    if method.long_side:
        for step in cfg.test_dataloader.dataset.pipeline:
            if step['type'] == 'Resize':
                step['scale'] = (method.long_side, method.long_side)


def missing_weights(cfg) -> list[str]:
    """Local weight files the config's model needs and this machine lacks, each with how to
    get it ([] = nothing known missing; hub weights are fetched by the resolver)."""
    from ..models.upsamplers.weights import (default_upsampler_file, is_released,
                                             local_upsampler_weights)
    from ..utils.download import offline
    model = cfg.model
    missing = []
    up = model.get('feature_up_cfg') or {}
    name, path = up.get('model_name', 'jbu_one'), up.get('model_path')
    if model.get('feature_up', False) and name != 'bilinear' and path != 'random' \
            and not local_upsampler_weights(name, path):
        if not is_released(name, path):
            clip = model.get('clip_type', 'CLIP')
            missing.append(f'SimFeatUp checkpoint {path} (train it: '
                           f'{SIMFEATUP_TRAIN.format(clip=clip, slug=clip.lower())})')
        elif offline():       # a released file is downloaded on first use, unless offline
            missing.append(f'SimFeatUp checkpoint {path or default_upsampler_file(name)} '
                           '(the released weights: README "Backbone presets and weights")')
    pretrained = model.get('pretrained')
    if pretrained and pretrained != 'random' and not str(pretrained).startswith('hf-hub:') \
            and not os.path.isfile(pretrained):
        missing.append(f'weights {pretrained} (model.pretrained)')
    elif not pretrained:
        backbone = _missing_backbone(model.get('clip_type', 'CLIP'),
                                     model.get('vit_type', 'ViT-B/16'))
        if backbone:
            missing.append(backbone)
    return missing


def _missing_backbone(clip_type: str, vit_type: str) -> str | None:
    """The resolver's message when the preset's weights are neither local nor, offline,
    downloadable (None when they are here or will be downloaded on first use). Looks only
    on this machine: a dry run downloads nothing."""
    from ..models.backbones.presets import get_preset
    from ..models.backbones.weights import WeightsNotFoundError, offline, resolve_weights
    try:
        preset = get_preset(clip_type, vit_type)
    except (KeyError, ValueError) as err:
        return f'no backbone preset {clip_type} {vit_type} ({err})'
    if preset.tag is None and preset.hf_repo is None:
        check_locally = True          # a manual download (SkyCLIP, LRSCLIP): never fetched
    else:
        check_locally = offline()
    if not check_locally:
        return None
    saved = os.environ.get('SEGEARTH_OFFLINE')
    os.environ['SEGEARTH_OFFLINE'] = '1'
    try:
        resolve_weights(preset, None, name=f'{clip_type} {vit_type}')
        return None
    except WeightsNotFoundError as err:
        return str(err)
    finally:
        if saved is None:
            os.environ.pop('SEGEARTH_OFFLINE', None)
        else:
            os.environ['SEGEARTH_OFFLINE'] = saved
