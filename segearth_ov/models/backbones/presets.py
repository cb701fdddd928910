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
    file: str | None = None    # file name looked for under checkpoints/
    url: str | None = None     # where a user gets `file` by hand
    modality: str = 'optical'

    @property
    def filename(self) -> str:
        """The file name the resolver looks for locally (checkpoints/ or the cache)."""
        if self.hf_file:
            return self.hf_file.split('/')[-1]
        if self.file:
            return self.file
        return f'{self.arch}-{self.tag}.pt'


def _vit(b16=None, b32=None, l14=None):
    return {k: v for k, v in (('ViT-B/16', b16), ('ViT-B/32', b32), ('ViT-L/14', l14)) if v}


P = BackbonePreset
PRESETS: dict[str, dict[str, BackbonePreset]] = {
    'CLIP': _vit(
        P('ViT-B-16', True, tag='openai'),
        P('ViT-B-32', True, tag='openai'),
        P('ViT-L-14', True, tag='openai')),
    'OpenCLIP': _vit(
        P('ViT-B-16', False, tag='laion2b_s34b_b88k'),
        P('ViT-B-32', False, tag='laion2b_s34b_b79k'),
        P('ViT-L-14', False, tag='laion2b_s32b_b82k')),
    'MetaCLIP': _vit(
        P('ViT-B-16', True, tag='metaclip_fullcc'),
        P('ViT-B-32', True, tag='metaclip_fullcc'),
        P('ViT-L-14', True, tag='metaclip_fullcc')),
    'RemoteCLIP': _vit(
        b32=P('ViT-B-32', False, hf_repo='chendelong/RemoteCLIP', hf_file='RemoteCLIP-ViT-B-32.pt'),
        l14=P('ViT-L-14', False, hf_repo='chendelong/RemoteCLIP', hf_file='RemoteCLIP-ViT-L-14.pt')),
    'GeoRSCLIP': _vit(
        b32=P('ViT-B-32', True, hf_repo='Zilun/GeoRSCLIP', hf_file='ckpt/RS5M_ViT-B-32.pt'),
        l14=P('ViT-L-14', True, hf_repo='Zilun/GeoRSCLIP', hf_file='ckpt/RS5M_ViT-L-14.pt')),
    'SkyCLIP': _vit(
        b32=P('ViT-B-32', False, file='SkyCLIP_ViT_B32_top50pct/epoch_20.pt',
              url='SkyScript release: SkyCLIP_ViT_B32_top50pct.zip (unzip into checkpoints/)'),
        l14=P('ViT-L-14', True, file='SkyCLIP_ViT_L14_top30pct_filtered_by_CLIP_laion_RS/epoch_20.pt',
              url='SkyScript release: SkyCLIP_ViT_L14_top30pct_filtered_by_CLIP_laion_RS.zip')),
    # GELU: the reference (earth-insights/SegEarth-OV-2, segearth_segmentor.py) builds the
    # released file as open_clip 'ViT-B/16' from a path, i.e. without QuickGELU. Students
    # trained here from OpenAI CLIP keep QuickGELU: load them with quick_gelu=True.
    'AlignEarth': _vit(
        P('ViT-B-16', False, hf_repo='likyoo/AlignEarth-SAR-ViT-B-16',
          hf_file='AlignEarth-SAR-ViT-B-16.pt', modality='sar')),
    'FarSLIP': _vit(
        P('ViT-B-16', True, hf_repo='ZhenShiL/FarSLIP', hf_file='FarSLIP1_ViT-B-16.pt'),
        P('ViT-B-32', True, hf_repo='ZhenShiL/FarSLIP', hf_file='FarSLIP1_ViT-B-32.pt')),
    # FarSLIP2 ViT-B/16 and LRSCLIP carry LongCLIP's 248-token text tower: the builder reads
    # the context length from the checkpoint and folds LongCLIP's two position tables into one.
    'FarSLIP2': _vit(
        P('ViT-B-16', True, hf_repo='ZhenShiL/FarSLIP', hf_file='FarSLIP2_ViT-B-16.pt'),
        P('ViT-B-32', True, hf_repo='ZhenShiL/FarSLIP', hf_file='FarSLIP2_ViT-B-32.pt')),
    'LRSCLIP': _vit(
        P('ViT-B-16', True, file='LRSCLIP_ViT-B-16.pt',
          url='the LRSCLIP release (github MitsuiChen14/LRSCLIP); place the file in checkpoints/')),
}

# ViT-L/14 at 336 px (HG-RSOVSSeg's Table 5; GeoRSCLIP's is its best backbone)
PRESETS['CLIP']['ViT-L/14@336'] = P('ViT-L-14-336', True, tag='openai')
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
