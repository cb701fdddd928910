"""Where SimFeatUp's weights come from: path → checkpoints/ → cache → verified download.

The released files are committed in the SegEarth-OV repository (simfeatup_dev/weights/), so
each is fetched from its raw-file URL and checked against its git blob id before first use.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ...utils.advice import how_to_set
from ...utils.download import DownloadError, download_verified
from ...utils.paths import cache_dir, checkpoint_dirs, checkpoints_dir

RELEASE_REPO = 'https://github.com/likyoo/SegEarth-OV'
RAW_BASE = 'https://raw.githubusercontent.com/likyoo/SegEarth-OV/main/simfeatup_dev/weights/'


@dataclass(frozen=True)
class UpsamplerWeights:
    file: str          # the released file's name
    blob_id: str       # its git blob id in the release repository
    about: str

    @property
    def url(self) -> str:
        return RAW_BASE + self.file


# Blob ids: `git ls-tree HEAD simfeatup_dev/weights/` in github likyoo/SegEarth-OV (the same
# files are in earth-insights/SegEarth-OV-2).
RELEASED = {
    'jbu_one': UpsamplerWeights(
        'xclip_jbu_one_million_aid.ckpt', 'd40f00838331331faa04a926ea5991f5203f91a8',
        "SimFeatUp JBU_One for CLIP ViT-B/16, trained on Million-AID (SegEarth-OV's release)"),
    'jbu_stack': UpsamplerWeights(
        'clip_jbu_stack_cocostuff.ckpt', 'c90968f78af172c4a81f8575a3ebc2bda81c3eef',
        "FeatUp's JBU_Stack for CLIP ViT-B/16, trained on COCO-Stuff"),
}


def default_upsampler_file(model_name: str) -> str | None:
    """The released file of an upsampler preset (None: 'bilinear', or no release)."""
    weights = RELEASED.get(model_name)
    return weights.file if weights else None


def _candidates(model_name: str, path: str | None) -> tuple[str, list[Path]]:
    name = Path(path).name if path else default_upsampler_file(model_name)
    if name is None:
        raise FileNotFoundError(f'upsampler {model_name!r} has no released weights: pass the '
                                'path of a checkpoint trained with simfeatup_train/')
    places = (([Path(path)] if path else []) + [d / name for d in checkpoint_dirs()]
              + [cache_dir() / 'simfeatup' / name])
    return name, list({os.path.abspath(p): Path(os.path.abspath(p)) for p in places}.values())


def local_upsampler_weights(model_name: str, path: str | None = None) -> str | None:
    """The file `resolve_upsampler_weights` would use without downloading, or None."""
    _, candidates = _candidates(model_name, path)
    return next((str(c) for c in candidates if c.is_file()), None)


def is_released(model_name: str, path: str | None = None) -> bool:
    """True when the weights asked for are a released file (so they can be downloaded)."""
    name = Path(path).name if path else default_upsampler_file(model_name)
    return _released_file(name) is not None


def _released_file(name: str) -> UpsamplerWeights | None:
    return next((w for w in RELEASED.values() if w.file == name), None)


def resolve_upsampler_weights(model_name: str, path: str | None = None) -> str:
    """A local file with the upsampler's weights.

    Order: `path` as given → `checkpoints/<its name>` → the cache → for a released file (the
    preset's, or a `path` whose name is a released file's), a download verified by its blob id.
    """
    name, candidates = _candidates(model_name, path)
    local = next((str(c) for c in candidates if c.is_file()), None)
    if local:
        return local
    looked = ', '.join(map(str, candidates))
    advice = (f'give its path: {how_to_set("upsampler_ckpt")}; or run without SimFeatUp: '
              f'{how_to_set("no_upsampler")}')
    released = _released_file(name)
    if released is None:
        raise FileNotFoundError(
            f'SimFeatUp checkpoint not found: looked for {looked}. It is not a released file '
            f'({", ".join(w.file for w in RELEASED.values())}); train one with '
            f'simfeatup_train/ and {advice}')
    try:
        return str(download_verified(released.url, candidates[-1], released.blob_id))
    except DownloadError as err:
        raise FileNotFoundError(
            f'SimFeatUp checkpoint not found: looked for {looked}; {err}. Download '
            f'{released.url} by hand and put it at {checkpoints_dir() / name}, or '
            f'{advice}') from None
