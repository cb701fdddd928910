"""Print the README's weights tables from the preset tables themselves, so they cannot drift.

    python tools/presets_table.py      # the markdown between the README's table markers
"""
from __future__ import annotations

import sys


OPEN_CLIP = 'https://github.com/mlfoundations/open_clip'
MANUAL_LINKS = {   # where the by-hand files are published
    'SkyCLIP': 'https://github.com/wangzhecheng/SkyScript',
}
EXTRA_SOURCES = {  # files of the original releases, used when they are in checkpoints/
    'CLIP': ('[OpenAI](https://github.com/openai/CLIP) `{file}` '
             '(also found in `~/.cache/clip`), else '),
    'MetaCLIP': ('[MetaCLIP](https://github.com/facebookresearch/MetaCLIP) `{file}` '
                 'in `checkpoints/`, else '),
}


def _source(clip_type: str, preset) -> str:
    if preset.hf_repo:
        return (f'[HF `{preset.hf_repo}`](https://huggingface.co/{preset.hf_repo}) '
                f'`{preset.hf_file}`')
    if preset.tag:
        extra = EXTRA_SOURCES.get(clip_type, '').format(file=preset.file)
        return f'{extra}[open_clip]({OPEN_CLIP}) tag `{preset.tag}`'
    link = MANUAL_LINKS.get(clip_type)
    where = f'[{preset.url}]({link})' if link else preset.url
    return f'by hand: {where} → `checkpoints/{preset.file}`'


def backbone_table() -> str:
    from segearth_ov.models.backbones.presets import PRESETS
    rows = ['| clip_type | vit_type | activation | weights (first found is used) | container |',
            '| --- | --- | --- | --- | --- |']
    for clip_type, by_vit in PRESETS.items():
        for vit_type, preset in by_vit.items():
            act = 'QuickGELU' if preset.quick_gelu else 'GELU'
            rows.append(f'| {clip_type} | {vit_type} | {act} | {_source(clip_type, preset)} | '
                        f'{preset.container} |')
    return '\n'.join(rows)


def upsampler_table() -> str:
    from segearth_ov.models.upsamplers.weights import RELEASE_REPO, RELEASED
    rows = ['| upsampler | file (downloaded and verified on first use) | git blob id | what |',
            '| --- | --- | --- | --- |']
    for name, w in RELEASED.items():
        rows.append(f'| `{name}` | [`{w.file}`]({RELEASE_REPO}/blob/main/simfeatup_dev/weights/'
                    f'{w.file}) (PyTorch Lightning checkpoint) | `{w.blob_id[:12]}…` | {w.about} |')
    return '\n'.join(rows)


def main() -> int:
    print(backbone_table())
    print()
    print(upsampler_table())
    return 0


if __name__ == '__main__':
    sys.exit(main())
