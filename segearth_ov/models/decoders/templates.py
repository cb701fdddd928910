"""Prompt templates of HG-RSOVSSeg's text encoder (paper §3.1 and §4.5.4).

`vild` (14, the paper's default) is ViLD's scene-oriented set; `imagenet` (80) is CLIP's
ImageNet ensemble (open_clip's copy); `imagenet_select_clip` (32) is the selection used by
OVSeg/SAN/CAT-Seg. The sentences are data; each is turned into a callable like open_clip's
templates so that `TextEmbedder` (and its cache key) takes them unchanged.
"""
from __future__ import annotations

VILD = (
    'a photo of a {}.',
    'This is a photo of a {}',
    'There is a {} in the scene',
    'There is the {} in the scene',
    'a photo of a {} in the scene',
    'a photo of a small {}.',
    'a photo of a medium {}.',
    'a photo of a large {}.',
    'This is a photo of a small {}.',
    'This is a photo of a medium {}.',
    'This is a photo of a large {}.',
    'There is a small {} in the scene.',
    'There is a medium {} in the scene.',
    'There is a large {} in the scene.',
)

IMAGENET_SELECT_CLIP = (
    'a bad photo of the {}.',
    'a photo of the large {}.',
    'a photo of the small {}.',
    'a cropped photo of a {}.',
    'This is a photo of a {}',
    'This is a photo of a small {}',
    'This is a photo of a medium {}',
    'This is a photo of a large {}',
    'This is a masked photo of a {}',
    'This is a masked photo of a small {}',
    'This is a masked photo of a medium {}',
    'This is a masked photo of a large {}',
    'This is a cropped photo of a {}',
    'This is a cropped photo of a small {}',
    'This is a cropped photo of a medium {}',
    'This is a cropped photo of a large {}',
    'A photo of a {} in the scene',
    'a bad photo of the {} in the scene',
    'a photo of the large {} in the scene',
    'a photo of the small {} in the scene',
    'a cropped photo of a {} in the scene',
    'a photo of a masked {} in the scene',
    'There is a {} in the scene',
    'There is the {} in the scene',
    'This is a {} in the scene',
    'This is the {} in the scene',
    'This is one {} in the scene',
    'There is a masked {} in the scene',
    'There is the masked {} in the scene',
    'This is a masked {} in the scene',
    'This is the masked {} in the scene',
    'This is one masked {} in the scene',
)

TEMPLATE_SETS = ('vild', 'imagenet', 'imagenet_select_clip')


def _as_callables(sentences) -> tuple:
    return tuple((lambda c, s=s: s.format(c)) for s in sentences)


def get_templates(templates='vild') -> tuple:
    """Template callables (`t(name) -> sentence`) for a set name or a list of '{}' strings."""
    if isinstance(templates, str):
        if templates == 'vild':
            return _as_callables(VILD)
        if templates == 'imagenet_select_clip':
            return _as_callables(IMAGENET_SELECT_CLIP)
        if templates == 'imagenet':
            from open_clip import OPENAI_IMAGENET_TEMPLATES
            return tuple(OPENAI_IMAGENET_TEMPLATES)
        raise ValueError(f'unknown templates {templates!r}; valid: {", ".join(TEMPLATE_SETS)} '
                         'or a list of sentences with one "{}" for the class name')
    sentences = list(templates)
    bad = [s for s in sentences if not isinstance(s, str) or s.count('{}') != 1]
    if not sentences or bad:
        raise ValueError(f'templates must be non-empty sentences with exactly one "{{}}" '
                         f'for the class name; bad: {bad[:3] or "(empty list)"}')
    return _as_callables(sentences)
