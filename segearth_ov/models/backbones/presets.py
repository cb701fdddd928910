"""Backbone presets: which open_clip architecture and which weights each `clip_type` × `vit_type` means.

One table, so that adding a CLIP variant is one row. A preset's weights come from exactly one
source: an open_clip pretrained tag (`tag`), a Hugging Face repo + file (`hf_repo`, `hf_file`),
or a file the user downloads by hand into `checkpoints/` (`file`, with `url` saying where from).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackbonePreset:
    arch: str                  # open_clip model name (without '-quickgelu')
    quick_gelu: bool           # weights trained with QuickGELU (OpenAI-initialised models)
    tag: str | None = None     # open_clip pretrained tag
    hf_repo: str | None = None
    hf_file: str | None = None
    file: str | None = None    # file name looked for under checkpoints/ (before any download)
    url: str | None = None     # where a user gets `file` by hand
    container: str = 'state dict'   # how the file is packed (README's weights table)
    modality: str = 'optical'

    @property
    def filename(self) -> str:
        """The file name the resolver looks for locally (checkpoints/ or the cache)."""
        if self.hf_file:
            return self.hf_file.split('/')[-1]
        if self.tag:
            return f'{self.arch}-{self.tag}.pt'
        return self.file


def _vit(b16=None, b32=None, l14=None):
    return {k: v for k, v in (('ViT-B/16', b16), ('ViT-B/32', b32), ('ViT-L/14', l14)) if v}


P = BackbonePreset
OPENAI = "OpenAI's TorchScript file (fp16), else open_clip's state dict"
LONG_TRAINING = 'open_clip training checkpoint, LongCLIP text (248 tokens)'
METACLIP = 'the original training checkpoint (numpy scalars), else open_clip\'s state dict'
PRESETS: dict[str, dict[str, BackbonePreset]] = {
    # OpenAI's own TorchScript files (`clip.load`, ~/.cache/clip) are used when present;
    # otherwise open_clip downloads the same weights as a state dict.
    'CLIP': _vit(
        P('ViT-B-16', True, tag='openai', file='ViT-B-16.pt', container=OPENAI),
        P('ViT-B-32', True, tag='openai', file='ViT-B-32.pt', container=OPENAI),
        P('ViT-L-14', True, tag='openai', file='ViT-L-14.pt', container=OPENAI)),
    'OpenCLIP': _vit(
        P('ViT-B-16', False, tag='laion2b_s34b_b88k'),
        P('ViT-B-32', False, tag='laion2b_s34b_b79k'),
        P('ViT-L-14', False, tag='laion2b_s32b_b82k')),
    # MetaCLIP's original release files (what the reference loads) when in checkpoints/.
    'MetaCLIP': _vit(
        P('ViT-B-16', True, tag='metaclip_fullcc', file='b16_fullcc2.5b.pt', container=METACLIP),
        P('ViT-B-32', True, tag='metaclip_fullcc', file='b32_fullcc2.5b.pt', container=METACLIP),
        P('ViT-L-14', True, tag='metaclip_fullcc', file='l14_fullcc2.5b.pt', container=METACLIP)),
    'RemoteCLIP': _vit(
        b32=P('ViT-B-32', False, hf_repo='chendelong/RemoteCLIP', hf_file='RemoteCLIP-ViT-B-32.pt'),
        l14=P('ViT-L-14', False, hf_repo='chendelong/RemoteCLIP', hf_file='RemoteCLIP-ViT-L-14.pt')),
    'GeoRSCLIP': _vit(
        b32=P('ViT-B-32', True, hf_repo='Zilun/GeoRSCLIP', hf_file='ckpt/RS5M_ViT-B-32.pt'),
        l14=P('ViT-L-14', True, hf_repo='Zilun/GeoRSCLIP', hf_file='ckpt/RS5M_ViT-L-14.pt')),
    'SkyCLIP': _vit(
        b32=P('ViT-B-32', False, file='SkyCLIP_ViT_B32_top50pct/epoch_20.pt',
              url='SkyScript release: SkyCLIP_ViT_B32_top50pct.zip (unzip into checkpoints/)',
              container='open_clip training checkpoint'),
        l14=P('ViT-L-14', True, file='SkyCLIP_ViT_L14_top30pct_filtered_by_CLIP_laion_RS/epoch_20.pt',
              url='SkyScript release: SkyCLIP_ViT_L14_top30pct_filtered_by_CLIP_laion_RS.zip',
              container='open_clip training checkpoint')),
    # GELU: the reference (earth-insights/SegEarth-OV-2, segearth_segmentor.py) builds the
    # released file as open_clip 'ViT-B/16' from a path, i.e. without QuickGELU. Students
    # trained here from OpenAI CLIP keep QuickGELU: load them with quick_gelu=True.
    'AlignEarth': _vit(
        P('ViT-B-16', False, hf_repo='likyoo/AlignEarth-SAR-ViT-B-16',
          hf_file='AlignEarth-SAR-ViT-B-16.pt', modality='sar')),
    # FarSLIP1 and FarSLIP2 ViT-B/16 and LRSCLIP carry LongCLIP's 248-token text tower (the
    # FarSLIP README's model table): the builder reads the context length from the checkpoint
    # and folds LongCLIP's two position tables into one.
    'FarSLIP': _vit(
        P('ViT-B-16', True, hf_repo='ZhenShiL/FarSLIP', hf_file='FarSLIP1_ViT-B-16.pt',
          container=LONG_TRAINING),
        P('ViT-B-32', True, hf_repo='ZhenShiL/FarSLIP', hf_file='FarSLIP1_ViT-B-32.pt',
          container='open_clip training checkpoint')),
    'FarSLIP2': _vit(
        P('ViT-B-16', True, hf_repo='ZhenShiL/FarSLIP', hf_file='FarSLIP2_ViT-B-16.pt',
          container=LONG_TRAINING),
        P('ViT-B-32', True, hf_repo='ZhenShiL/FarSLIP', hf_file='FarSLIP2_ViT-B-32.pt',
          container='open_clip training checkpoint')),
    # github MitsuiChen14/LRSCLIP's README: the checkpoint is hosted on Hugging Face.
    'LRSCLIP': _vit(
        P('ViT-B-16', True, hf_repo='cwz14/LRSCLIP_ViT-B-16', hf_file='LRSCLIP_ViT-B-16.pt',
          container='LongCLIP state dict (248-token text)')),
}

# ViT-L/14 at 336 px (HG-RSOVSSeg's Table 5; GeoRSCLIP's is its best backbone)
PRESETS['CLIP']['ViT-L/14@336'] = P('ViT-L-14-336', True, tag='openai', file='ViT-L-14-336px.pt',
                                    container=OPENAI)
PRESETS['GeoRSCLIP']['ViT-L/14@336'] = P('ViT-L-14-336', True, hf_repo='Zilun/GeoRSCLIP',
                                         hf_file='ckpt/RS5M_ViT-L-14-336.pt')


def normalize_vit_type(vit_type: str) -> str:
    """'ViT-B-16', 'vit-b/16' and 'ViT-B/16' all mean 'ViT-B/16'."""
    v = vit_type.strip().replace('_', '-')
    parts = v.split('-')
    if len(parts) == 3 and parts[0].lower() == 'vit':
        return f'ViT-{parts[1].upper()}/{parts[2]}'
    if '/' in v and v.lower().startswith('vit-'):
        return 'ViT-' + v[4:].upper()
    return v


def get_preset(clip_type: str, vit_type: str) -> BackbonePreset:
    """The preset for `clip_type` × `vit_type`; unknown names get an error listing the valid ones."""
    if clip_type not in PRESETS:
        raise ValueError(f"unknown clip_type {clip_type!r}; valid: {', '.join(PRESETS)}")
    vit = normalize_vit_type(vit_type)
    if vit not in PRESETS[clip_type]:
        raise ValueError(f"unknown vit_type {vit_type!r} for clip_type {clip_type!r}; "
                         f"valid: {', '.join(PRESETS[clip_type])}")
    return PRESETS[clip_type][vit]
