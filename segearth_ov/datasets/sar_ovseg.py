"""SAR-OVSeg: the unified two-level taxonomy of the SAR sets, and the dataset of the built tiles.

The taxonomy lives in `sar_ovseg_taxonomy.json` beside this file (one line of reasons per
mapping decision; docs/sar_ovseg.md shows it as a table). A source class maps to a level-2
(fine) class where the source is that fine, otherwise only to a level-1 (coarse) class, so
every source is scored at the finest level it supports; what cannot be mapped honestly is
`IGNORE` at both levels. The builder (tools/sar_ovseg/build.py) remaps labels through
`lookup_table`; configs read the built tiles with `SAROVSegL1Dataset` / `SAROVSegL2Dataset`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

TAXONOMY_FILE = Path(__file__).with_name('sar_ovseg_taxonomy.json')
IGNORE = 255
LEVELS = (1, 2)


class TaxonomyError(ValueError):
    """The taxonomy file is inconsistent (names it refers to that it does not define)."""


@dataclass(frozen=True)
class Taxonomy:
    level1: tuple[str, ...]
    level2: tuple[str, ...]
    parent: dict            # level-2 name → level-1 name
    prompts: dict           # level → tuple of prompt lines (commas = synonyms)
    sources: dict           # source key → its JSON entry

    def classes(self, level: int) -> tuple[str, ...]:
        _check_level(level)
        return self.level1 if level == 1 else self.level2

    def lookup_table(self, source: str, level: int) -> np.ndarray:
        """uint8[256]: raw label value of `source` → unified class index (IGNORE if none).
        Raw values the source does not define also become IGNORE (never a guess)."""
        _check_level(level)
        if source not in self.sources:
            raise KeyError(f'unknown SAR-OVSeg source {source!r}; known: '
                           f'{", ".join(self.sources)}')
        names = self.classes(level)
        lut = np.full(256, IGNORE, np.uint8)
        for c in self.sources[source]['classes']:
            target = c[f'level{level}']
            if target is not None:
                lut[c['value']] = names.index(target)
        return lut

    def remap(self, label: np.ndarray, source: str, level: int) -> np.ndarray:
        """A raw label image of `source` in the unified taxonomy at `level` (uint8)."""
        if label.dtype != np.uint8:
            if label.size and (label.min() < 0 or label.max() > 255):
                raise ValueError(f'{source}: label values outside 0..255 '
                                 f'({label.min()}..{label.max()}); labels must be class '
                                 'indices as the converters write them')
            label = label.astype(np.uint8)
        return self.lookup_table(source, level)[label]

    def finest_level(self, source: str) -> int:
        """2 when some class of `source` maps to a level-2 class, else 1."""
        return 2 if any(c['level2'] for c in self.sources[source]['classes']) else 1


def _check_level(level: int) -> None:
    if level not in LEVELS:
        raise ValueError(f'taxonomy level must be 1 or 2, got {level!r}')


def _validate(raw: dict, path: Path) -> Taxonomy:
    level1 = tuple(raw['level1'])
    level2 = tuple(c['name'] for c in raw['level2'])
    parent = {c['name']: c['parent'] for c in raw['level2']}
    for name, par in parent.items():
        if par not in level1:
            raise TaxonomyError(f'{path}: level-2 class {name!r} has parent {par!r}, which is '
                                'not a level-1 class; add it to "level1" or fix the parent')
    for key, src in raw['sources'].items():
        for c in src['classes']:
            l1, l2 = c['level1'], c['level2']
            where = f'{path}: source {key!r}, value {c["value"]} ({c["name"]!r})'
            if not c.get('why'):
                raise TaxonomyError(f'{where}: every mapping needs a one-line "why"')
            if l1 is not None and l1 not in level1:
                raise TaxonomyError(f'{where}: level1 {l1!r} is not a level-1 class')
            if l2 is not None and l2 not in parent:
                raise TaxonomyError(f'{where}: level2 {l2!r} is not a level-2 class')
            if l2 is not None and parent[l2] != l1:
                raise TaxonomyError(f'{where}: level2 {l2!r} belongs to {parent[l2]!r}, but '
                                    f'level1 says {l1!r}; the two levels must agree')
    prompts = {1: tuple(raw['level1_prompts'][n] for n in level1),
               2: tuple(c['prompt'] for c in raw['level2'])}
    return Taxonomy(level1, level2, parent, prompts, dict(raw['sources']))


@lru_cache(maxsize=4)
def load_taxonomy(path: str | Path = TAXONOMY_FILE) -> Taxonomy:
    """The taxonomy of `path` (default: the shipped file), checked for consistency."""
    path = Path(path)
    return _validate(json.loads(path.read_text(encoding='utf-8')), path)


def markdown_table(taxonomy: Taxonomy | None = None) -> str:
    """The mapping as the Markdown table of docs/sar_ovseg.md (kept in sync by a test)."""
    tax = taxonomy or load_taxonomy()
    lines = ['| source | value | source class | level 2 | level 1 | why |',
             '|---|---|---|---|---|---|']
    for src in tax.sources.values():
        for c in src['classes']:
            lines.append(f'| {src["title"]} | {c["value"]} | {c["name"]} | '
                         f'{c["level2"] or "ignore"} | {c["level1"] or "ignore"} | {c["why"]} |')
    return '\n'.join(lines) + '\n'


def _palette(names) -> list[list[int]]:
    from ..visualization import class_colours
    return class_colours(names).tolist()


class _SAROVSegDataset(BaseSegDataset):
    """Tiles written by tools/sar_ovseg/build.py: `img/<source>/<tile>.tif`,
    `ann_l<level>/<source>/<tile>.png`; split lists name `<source>/<tile>`."""

    def __init__(self, img_suffix='.tif', seg_map_suffix='.png', **kwargs):
        kwargs.setdefault('ignore_index', IGNORE)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
        self._metainfo['ignore_index'] = self.ignore_index   # read by SegEarthIoUMetric


@DATASETS.register_module()
class SAROVSegL1Dataset(_SAROVSegDataset):
    """SAR-OVSeg tiles scored at level 1 (coarse classes; labels in `ann_l1`)."""
    METAINFO = dict(classes=load_taxonomy().level1, palette=_palette(load_taxonomy().level1))


@DATASETS.register_module()
class SAROVSegL2Dataset(_SAROVSegDataset):
    """SAR-OVSeg tiles scored at level 2 (fine classes; labels in `ann_l2`)."""
    METAINFO = dict(classes=load_taxonomy().level2, palette=_palette(load_taxonomy().level2))
