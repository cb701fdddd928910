"""Where a backbone's weights come from: explicit path → local checkpoints/ or cache → hub.

Every preset goes through `resolve_weights`, so a user always gets the same answer to
"which file is this model using", and offline the same clear error naming the file.
"""
from __future__ import annotations

import os

from ...utils.advice import how_to_set
from ...utils.download import offline, unreachable
from ...utils.paths import cache_dir, checkpoint_dirs, openai_clip_cache
from .presets import BackbonePreset

RANDOM = 'random'   # `pretrained='random'`: random initialisation (benchmarks, training from scratch)
HF_ENDPOINT = 'https://huggingface.co'


class WeightsNotFoundError(FileNotFoundError):
    """The weights of a preset are not on this machine and could not be downloaded."""


def _hf_download(repo: str, filename: str, local_only: bool) -> str:
    from huggingface_hub import hf_hub_download
    return hf_hub_download(repo, filename, cache_dir=str(cache_dir() / 'hub'),
                           local_files_only=local_only)


def _openclip_download(preset: BackbonePreset, local_only: bool) -> str:
    """An open_clip pretrained tag: its hub file from the local cache, or open_clip's download."""
    import open_clip
    from open_clip.pretrained import HF_WEIGHTS_NAME
    arch = preset.arch + ('-quickgelu' if preset.quick_gelu else '')
    cfg = (open_clip.get_pretrained_cfg(arch, preset.tag)
           or open_clip.get_pretrained_cfg(preset.arch, preset.tag))
    if not cfg:
        raise WeightsNotFoundError(f'open_clip {open_clip.__version__} has no pretrained tag '
                                   f'{preset.tag!r} for {preset.arch}')
    if local_only:
        repo, fname = os.path.split(cfg.get('hf_hub', ''))
        for name in ([fname] if fname else ['open_clip_model.safetensors', HF_WEIGHTS_NAME]):
            try:
                return _hf_download(repo, name, True)
            except Exception:
                continue
        raise WeightsNotFoundError('not in the local cache')
    path = open_clip.download_pretrained(cfg, cache_dir=str(cache_dir() / 'hub'))
    if not path:
        raise WeightsNotFoundError(f'open_clip could not download {preset.arch}/{preset.tag}')
    return path


def resolve_weights(preset: BackbonePreset, pretrained: str | None = None,
                    name: str = '') -> str | None:
    """Return a local file holding the weights (or None for `pretrained='random'`).

    Order: `pretrained` (an existing path, or 'hf-hub:<repo>/<file>') → `checkpoints/<file>` →
    the local hub cache → a download. Offline and without the file, raises WeightsNotFoundError
    naming the preset, the file looked for, and how to pass `pretrained=`.
    """
    if pretrained == RANDOM:
        return None
    if pretrained:
        if pretrained.startswith('hf-hub:'):
            repo, _, fname = pretrained[len('hf-hub:'):].rpartition('/')
            return _fetch(name, f'{repo}/{fname}', [], lambda lo: _hf_download(repo, fname, lo))
        if os.path.isfile(pretrained):
            return pretrained
        raise WeightsNotFoundError(
            f'pretrained={pretrained!r} is not a file. Pass the path of a checkpoint '
            "(.pt/.pth/.bin/.safetensors), 'hf-hub:<repo>/<file>', or leave it unset to use the "
            f'preset {name or preset.arch}.')

    local = _local_candidates(preset)
    for p in local:
        if p.is_file():
            return str(p)
    if preset.hf_repo:
        return _fetch(name, f'{preset.hf_repo}/{preset.hf_file}', local,
                      lambda lo: _hf_download(preset.hf_repo, preset.hf_file, lo))
    if preset.tag:
        return _fetch(name, f'open_clip {preset.arch} pretrained={preset.tag!r}', local,
                      lambda lo: _openclip_download(preset, lo))
    raise WeightsNotFoundError(_missing_message(name, preset.file, local, preset.url))


def _local_candidates(preset: BackbonePreset) -> list:
    """checkpoints/ under the preset's own file name (e.g. MetaCLIP's b16_fullcc2.5b.pt) and
    the hub file's name; for OpenAI's weights also OpenAI's own cache (~/.cache/clip)."""
    names = list(dict.fromkeys(n for n in (preset.file, preset.filename) if n))
    local = [d / n for d in checkpoint_dirs() for n in names]
    if preset.tag == 'openai' and preset.file:
        local.append(openai_clip_cache() / preset.file)
    return local


def _fetch(name, what, local, download):
    """Try the local hub cache, then the hub; turn every failure into one clear error."""
    try:
        return download(True)
    except Exception:
        pass
    if offline():
        raise WeightsNotFoundError(_missing_message(
            name, what, local, reason='offline (HF_HUB_OFFLINE or SEGEARTH_OFFLINE is set)'))
    endpoint = os.environ.get('HF_ENDPOINT', HF_ENDPOINT)      # huggingface_hub's variable
    why = unreachable(endpoint)
    if why:   # the hub clients would retry for a minute before failing
        raise WeightsNotFoundError(_missing_message(
            name, what, local, reason=f'no network: {endpoint} unreachable, {why}'))
    try:
        return download(False)
    except Exception as err:  # offline, no such repo/file, no permission, …
        raise WeightsNotFoundError(_missing_message(name, what, local, reason=err)) from None


def _missing_message(name, what, local, url=None, reason=None) -> str:
    looked = ', '.join(str(p) for p in local) or '-'
    msg = (f'weights for {name or "the backbone"} not found: looked for {looked} '
           f'and for {what}')
    if isinstance(reason, str):
        msg += f' ({reason})'
    elif reason is not None:
        msg += f' (download failed: {type(reason).__name__}: {str(reason).splitlines()[0][:200]})'
    if url:
        msg += f'. Get it from {url}'
    msg += (f'. Put the file in {checkpoint_dirs()[0]} (or $SEGEARTH_CHECKPOINTS), or give its '
            f'path: {how_to_set("pretrained")}.')
    return msg
