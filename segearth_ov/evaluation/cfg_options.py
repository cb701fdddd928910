"""Refuse `--cfg-options` keys the config and the classes it builds do not know.

mmengine's `merge_from_dict` adds any key: a typo (`modle.clip_type=GeoRSCLIP`) is silently
ignored and the run is recorded as if it applied, and a typo one level down
(`model.clip_typ=…`) fails much later, as a TypeError inside the model's construction. So
each key is checked first, down to the first level the config lacks: that name must be a
constructor argument of the class the level builds (its `type`), an option mmengine's Runner
or a DataLoader takes, or, in a plain dict, one of the keys already there.
"""
from __future__ import annotations

import difflib
import inspect


class ConfigKeyError(ValueError):
    """A --cfg-options key that nothing in the config would read."""


def check_cfg_options(cfg, options: dict | None) -> None:
    """Raise ConfigKeyError (one line, with the close matches) for the first unknown key."""
    tree = cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)
    for key, value in _flat(options or {}):
        problem = _problem(tree, key.split('.'))
        if problem:
            raise ConfigKeyError(f'--cfg-options {key}: {problem}')


def _flat(options: dict, prefix: str = ''):
    for key, value in options.items():
        if isinstance(value, dict) and value:
            yield from _flat(value, f'{prefix}{key}.')
        else:
            yield f'{prefix}{key}', value


def _problem(tree: dict, parts: list[str]) -> str | None:
    node, path = tree, []
    for part in parts:
        where = '.'.join(path) or 'the config'
        if isinstance(node, (list, tuple)):
            if part.isdigit() and int(part) < len(node):
                node, path = node[int(part)], path + [part]
                continue
            return f'{where} is a list of {len(node)} entries, indexed 0..{len(node) - 1}'
        if not isinstance(node, dict):
            return f'{where} is a value ({node!r}), not a group of settings'
        if part in node:
            node, path = node[part], path + [part]
            continue
        known = _accepted(node, path)
        if known is None or part in known:
            return None          # a new key that the level's class takes (deeper: its value)
        return _unknown(part, where, node, known)
    return None


def _unknown(part: str, where: str, node: dict, known: set[str]) -> str:
    names = sorted(set(node) | known)
    what = f'{where} ({node["type"]})' if isinstance(node.get('type'), str) else where
    close = difflib.get_close_matches(part, names, n=3, cutoff=0.6)
    if close:
        return f'{what} has no key {part!r}; did you mean {" or ".join(map(repr, close))}?'
    return f'{what} has no key {part!r}; it has: {", ".join(names)}'


def _accepted(node: dict, path: list[str]) -> set[str] | None:
    """The keys a level may gain (None: any, the class takes **kwargs it passes on)."""
    if not path:
        from mmengine.runner import Runner
        return _parameters(Runner) | set(node)
    if path[-1].endswith('dataloader') and 'type' not in node:
        from torch.utils.data import DataLoader
        return _parameters(DataLoader) | set(node)
    kind = node.get('type')
    if kind is None:
        return set(node)
    target = _registered(kind)
    if target is None:
        return None
    params = _parameters(target)
    return None if params is None else params | set(node) | {'type', '_scope_'}


def _registered(kind):
    """The class or function a `type` names, from mmseg's (and mmengine's) registries."""
    if not isinstance(kind, str):
        return kind if callable(kind) else None
    import mmseg.registry as registries
    from mmengine.registry import Registry
    for registry in vars(registries).values():
        if isinstance(registry, Registry):
            try:
                found = registry.get(kind)
            except Exception:   # a scope prefix another registry does not know
                found = None
            if found is not None:
                return found
    return None


def _parameters(target) -> set[str] | None:
    """Keyword names a class (its constructors up the MRO, while they pass **kwargs on) or a
    function takes; None when the chain ends open (**kwargs that reach no constructor)."""
    chain = [target] if not inspect.isclass(target) else \
        [vars(k)['__init__'] for k in target.__mro__ if '__init__' in vars(k) and k is not object]
    names: set[str] = set()
    for fn in chain:
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):   # a builtin without a signature
            return None
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names - {'self'}
    return None
