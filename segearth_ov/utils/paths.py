"""Where SegEarth-OV finds the files a user names by a short name: configs, class-name
files, weights, caches and dataset roots — the same from any directory.

Order, for every kind: an explicit path (as given, absolute or from the current directory),
then the environment (`$SEGEARTH_OV_HOME`, a folder laid out like the repository:
`configs/`, `checkpoints/`, `data/`; `$SEGEARTH_CHECKPOINTS` for the weights alone), then
the user cache (`$SEGEARTH_CACHE`, else ~/.cache/segearth_ov), then the checkout the
package runs from (an editable install or `python eval.py` in a clone). Errors name every
absolute path that was tried, so a user sees where to put the file.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


class NotFoundError(FileNotFoundError):
    """A named file found nowhere; the message lists every absolute path tried."""


def checkout() -> Path | None:
    """The repository the package runs from (None for an installed wheel)."""
    root = PACKAGE.parent
    return root if (root / 'configs').is_dir() and (root / 'pyproject.toml').is_file() else None


def roots() -> list[Path]:
    """The folders laid out like the repository, in the order they are searched."""
    found = [Path(os.environ['SEGEARTH_OV_HOME']).expanduser()] \
        if os.environ.get('SEGEARTH_OV_HOME') else []
    found += [cache_dir(), checkout()]
    return list(dict.fromkeys(p.resolve() for p in found if p is not None))


def cache_dir() -> Path:
    """`$SEGEARTH_CACHE`, else ~/.cache/segearth_ov (text embeddings, downloaded weights)."""
    return Path(os.environ.get('SEGEARTH_CACHE', Path.home() / '.cache' / 'segearth_ov'))


def openai_clip_cache() -> Path:
    """Where OpenAI's `clip` package keeps its TorchScript weights (`clip.load`'s default)."""
    return Path(os.environ.get('SEGEARTH_OPENAI_CLIP_CACHE',
                               Path.home() / '.cache' / 'clip'))


def checkpoint_dirs() -> list[Path]:
    """Folders searched for weights by file name: `$SEGEARTH_CHECKPOINTS` alone when set (a
    cluster job pointing every process at one folder), else `checkpoints/` of each root."""
    if os.environ.get('SEGEARTH_CHECKPOINTS'):
        return [Path(os.environ['SEGEARTH_CHECKPOINTS']).expanduser().resolve()]
    return [r / 'checkpoints' for r in roots()]


def checkpoints_dir() -> Path:
    """Where a user should put weights by hand: the first folder of `checkpoint_dirs()`."""
    return checkpoint_dirs()[0]


def _config_names(name: str) -> list[str]:
    """'loveda' / 'cfg_loveda' / 'cfg_loveda.py' / 'configs/cfg_loveda.py' → file names."""
    if name.endswith('.py'):
        return [name]
    path = Path(name)
    stem = name if path.name.startswith('cfg_') else str(path.parent / f'cfg_{path.name}')
    return list(dict.fromkeys([f'{name}.py', f'{stem}.py']))


def find_config(name: str | os.PathLike) -> Path:
    """A config from a path or a bare name (`cfg_openearthmap`, `openearthmap`,
    `hg_rsovsseg/hg_vitl14_openearthmap`), searched as the module docstring says."""
    name = str(name)
    tried = []
    for candidate in _config_names(name):
        p = Path(candidate).expanduser()
        tried.append(p.resolve())
        if p.is_file():
            return p
        if p.is_absolute():
            continue
        rel = p.relative_to('configs') if p.parts[:1] == ('configs',) else p
        for root in roots():
            tried.append(root / 'configs' / rel)
            if tried[-1].is_file():
                return tried[-1]
    tried = ', '.join(map(str, dict.fromkeys(tried)))
    raise NotFoundError(f'config not found: {name} (tried {tried}); set SEGEARTH_OV_HOME to a '
                        'clone of the repository to use its configs from anywhere')


def find_data(path: str | os.PathLike) -> str:
    """A dataset root or file named relative to the repository (`data/LoveDA`): as given when
    it exists from here, else under the first root that has it, else as given (the caller's
    missing-data message names it)."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return str(path)
    for root in roots():
        if (root / p).exists():
            return str(root / p)
    return str(path)


def configs_dir() -> Path:
    """The configs folder of the first root that has one (class-name files `cls_*.txt`, the
    benchmark configs)."""
    for root in roots():
        if (root / 'configs').is_dir():
            return root / 'configs'
    tried = ', '.join(str(r / 'configs') for r in roots())
    raise NotFoundError(f'no configs folder: tried {tried}; set SEGEARTH_OV_HOME to a clone '
                        'of the repository')
