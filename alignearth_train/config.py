"""The training config: the default file (the paper's settings) with a user's config and
command-line changes merged over it, checked against the keys the default defines."""
from __future__ import annotations

from pathlib import Path

DEFAULT_CONFIG = Path(__file__).resolve().parent / 'configs' / 'alignearth_sar_vitb16.py'


def _read(path: str | Path) -> dict:
    from mmengine.config import Config
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'config not found: {path} (e.g. {DEFAULT_CONFIG})')
    return Config.fromfile(str(path)).to_dict()


def _merge(base: dict, new: dict, where: str = '') -> dict:
    """`new` over `base`; a key `base` does not know is an error (a typo would be ignored)."""
    out = dict(base)
    for key, value in new.items():
        name = f'{where}{key}'
        if key not in base:
            raise KeyError(f'unknown config key {name!r}; valid here: '
                           f'{", ".join(where + k for k in base)} (see {DEFAULT_CONFIG.name})')
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise TypeError(f'config key {name!r} must be a dict, got {value!r}')
            out[key] = _merge(base[key], value, name + '.')
        else:
            out[key] = value
    return out


def _set_dotted(options: dict) -> dict:
    """{'data.pairs': x} → {'data': {'pairs': x}}."""
    tree: dict = {}
    for dotted, value in options.items():
        node = tree
        *parents, last = dotted.split('.')
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return tree


def load_config(path: str | Path | None = None, options: dict | None = None) -> dict:
    """A plain dict: the defaults, then `path`'s keys, then `options` (dotted keys)."""
    cfg = _read(DEFAULT_CONFIG)
    if path and Path(path).resolve() != DEFAULT_CONFIG:
        cfg = _merge(cfg, _read(path))
    if options:
        cfg = _merge(cfg, _set_dotted(options))
    return _plain(cfg)


def _plain(value):
    """Tuples → lists, so the config is JSON and `weights_only`-safe inside a training state."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
