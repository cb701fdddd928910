"""The package's layers only point down (docs/method.md, "Layers of the package").

Every module under segearth_ov/ is parsed (not imported); each `import segearth_ov.X…`,
`from segearth_ov.X… import`, and relative import, at module level or inside a function, is
mapped to the layer it reaches: the top-level subpackage X. A module may import its own layer
and the layers below it, never one above.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'segearth_ov'

# bottom → top; tools/ and the top-level scripts sit above all of them
ORDER = ('utils', 'ops', 'models', 'datasets', 'evaluation', 'training', 'mapping', 'apis',
         'webui')
# modules at the package's root, and the layer they belong to (visualization.py: class
# colours and overlays, numpy only)
ROOT_MODULES = {'visualization': 'utils'}
# the trainers' helpers are for the trainers and tools only: scene mapping, its API and the
# web page must not need the training package
NOT_FROM = {'training': ('mapping', 'apis', 'webui')}


def module_name(path: Path) -> tuple[str, ...]:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return parts[:-1] if parts[-1] == '__init__' else parts


def imported_modules(path: Path):
    """(line, dotted name) of every segearth_ov module or name the file imports."""
    name = module_name(path)
    package = name if path.name == '__init__.py' else name[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split('.')[0] == 'segearth_ov':
                    yield node.lineno, tuple(alias.name.split('.'))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
            elif node.module and node.module.split('.')[0] == 'segearth_ov':
                base = ()
            else:
                continue
            target = base + (tuple(node.module.split('.')) if node.module else ())
            if len(target) == 1:        # `from segearth_ov import x`, `from .. import x`
                for alias in node.names:
                    yield node.lineno, target + (alias.name,)
            else:
                yield node.lineno, target


def root_layer() -> str:
    """What `import segearth_ov` reaches: the highest layer its __init__ imports on load."""
    tree = ast.parse((PACKAGE / '__init__.py').read_text(encoding='utf-8'))
    layers = [layer_of(t) for node in tree.body if isinstance(node, ast.ImportFrom)
              for _, t in imported_modules_of_node(node)]
    return max((x for x in layers if x), key=ORDER.index)


def imported_modules_of_node(node: ast.ImportFrom):
    target = ('segearth_ov',) + (tuple(node.module.split('.')) if node.module else ())
    return [(node.lineno, target + (a.name,)) for a in node.names]


def layer_of(target: tuple[str, ...]) -> str | None:
    """The layer of a segearth_ov module or name (None: the package itself)."""
    if len(target) < 2:
        return None
    head = target[1]
    if head in ORDER:
        return head
    if head in ROOT_MODULES:
        return ROOT_MODULES[head]
    return None                         # a name of the package's __init__ (the facade)


def package_modules():
    return sorted(p for p in PACKAGE.rglob('*.py') if p != PACKAGE / '__init__.py')


def own_layer(path: Path) -> str:
    head = module_name(path)[1]
    return ROOT_MODULES.get(head, head)


def test_every_subpackage_and_root_module_has_a_layer():
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / '__init__.py').is_file()}
    modules = {p.stem for p in PACKAGE.glob('*.py') if p.name != '__init__.py'}
    unplaced = sorted((subpackages - set(ORDER)) | (modules - set(ROOT_MODULES)))
    assert not unplaced, (f'{unplaced}: give them a place in ORDER / ROOT_MODULES here and in '
                          'docs/method.md ("Layers of the package")')


def test_no_module_imports_a_layer_above_its_own():
    top = root_layer()
    offending = []
    for path in package_modules():
        mine = own_layer(path)
        for line, target in imported_modules(path):
            layer = layer_of(target) or top
            if ORDER.index(layer) > ORDER.index(mine):
                offending.append(f'{".".join(module_name(path))} (layer {mine}) imports '
                                 f'{".".join(target)} (layer {layer}), line {line}')
    assert not offending, ('imports pointing up the layers ' + ' → '.join(ORDER) + ':\n  '
                           + '\n  '.join(offending))


def test_training_is_imported_by_the_trainers_only():
    offending = []
    for path in package_modules():
        mine = own_layer(path)
        for line, target in imported_modules(path):
            if mine in NOT_FROM.get(layer_of(target), ()):
                offending.append(f'{".".join(module_name(path))} imports {".".join(target)}, '
                                 f'line {line}')
    assert not offending, ('the training package is for the trainers and tools; move what these '
                           'need into utils/:\n  ' + '\n  '.join(offending))


def test_the_checker_sees_relative_function_level_and_package_imports():
    """The parser itself: an import inside a function and a relative one are both found."""
    segmentor = PACKAGE / 'models' / 'segmentors' / 'segearth.py'
    found = {t for _, t in imported_modules(segmentor)}
    assert ('segearth_ov', 'utils', 'parallel') in found            # from ...utils.parallel
    assert ('segearth_ov', 'models', 'upsamplers') in found          # from ..upsamplers
    src = PACKAGE / 'models' / 'upsamplers' / 'jbu.py'
    inner = {t for _, t in imported_modules(src)}
    assert ('segearth_ov', 'utils', 'checkpoints') in inner          # inside a function
    assert layer_of(('segearth_ov', 'visualization')) == 'utils'
    assert layer_of(('segearth_ov',)) is None and root_layer() == 'datasets'
