"""README.md and docs/*.md cannot go stale: the Layout tree matches the repository, the README
fits on a screen or two, and every relative link (file and #anchor) resolves."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / 'README.md'
MAX_README_LINES = 250


# ------------------------------------------------------------------ the Layout tree
def layout_block(markdown: str) -> str:
    """The first fenced block under the README's `## Layout` heading."""
    section = markdown.split('\n## Layout\n', 1)
    if len(section) != 2:
        raise AssertionError('README.md has no "## Layout" section')
    match = re.search(r'^```[^\n]*\n(.*?)^```', section[1].split('\n## ', 1)[0], re.S | re.M)
    if not match:
        raise AssertionError('README.md "## Layout" has no fenced tree')
    return match.group(1)


def layout_paths(block: str) -> list[str]:
    """Repository paths of a Layout tree: on each line, the tokens before `#` are paths; a line
    indented deeper than a folder line names paths inside the last such folder."""
    paths, parents = [], []          # parents: (indent, folder) of the enclosing folder lines
    for line in block.splitlines():
        entry = line.split('#', 1)[0]
        tokens = entry.split()
        if not tokens:
            continue
        indent = len(entry) - len(entry.lstrip(' '))
        while parents and parents[-1][0] >= indent:
            parents.pop()
        base = parents[-1][1] if parents else ''
        for token in tokens:
            paths.append(base + token)
        if len(tokens) == 1 and tokens[0].endswith('/'):
            parents.append((indent, base + tokens[0]))
    return paths


def test_layout_parser_reads_nesting_and_comments():
    block = ('pkg/      # the package\n'
             '  sub/    # a # in a comment\n'
             '    deep/ a.py\n'
             '  mod.py\n'
             'x.sh y.sh   # two files\n')
    assert layout_paths(block) == ['pkg/', 'pkg/sub/', 'pkg/sub/deep/', 'pkg/sub/a.py',
                                   'pkg/mod.py', 'x.sh', 'y.sh']


def tracked_top_level_dirs() -> set[str]:
    try:
        out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('not a git checkout: the tracked folders are unknown')
    return {p.split('/', 1)[0] + '/' for p in out.splitlines() if '/' in p}


def subpackages() -> set[str]:
    """Every folder of segearth_ov/ below the top that is a Python package."""
    pkg = ROOT / 'segearth_ov'
    return {p.parent.relative_to(ROOT).as_posix() + '/' for p in pkg.rglob('__init__.py')
            if p.parent != pkg and '__pycache__' not in p.parts}


def test_every_path_of_the_layout_exists():
    paths = layout_paths(layout_block(README.read_text(encoding='utf-8')))
    missing = [p for p in paths
               if not (ROOT / p).is_dir() if p.endswith('/')] + \
              [p for p in paths if not p.endswith('/') and not (ROOT / p).is_file()]
    assert not missing, ('README.md "## Layout" lists paths that do not exist: '
                         + ', '.join(missing) + ' (remove or rename them in the tree)')


def test_layout_lists_every_top_level_folder_and_subpackage():
    listed = set(layout_paths(layout_block(README.read_text(encoding='utf-8'))))
    unlisted_dirs = sorted(tracked_top_level_dirs() - listed)
    unlisted_pkgs = sorted(subpackages() - listed)
    assert not unlisted_dirs and not unlisted_pkgs, (
        'README.md "## Layout" does not list: '
        + ', '.join(unlisted_dirs + unlisted_pkgs)
        + ' (add each to the tree, a subpackage indented under its parent folder)')


# ------------------------------------------------------------------ size
def test_readme_fits_on_a_screen_or_two():
    n = len(README.read_text(encoding='utf-8').splitlines())
    assert n <= MAX_README_LINES, (f'README.md has {n} lines (at most {MAX_README_LINES}): '
                                   'move detail into a page of docs/ and link to it')


# ------------------------------------------------------------------ links
LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
EXPLICIT_ANCHOR = re.compile(r'<a\s+(?:id|name)="([^"]+)"')


def without_code(markdown: str) -> str:
    """Markdown with fenced blocks and inline code removed (links inside them are not links)."""
    markdown = re.sub(r'^```.*?^```', '', markdown, flags=re.S | re.M)
    return re.sub(r'`[^`\n]*`', '', markdown)


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces → '-'."""
    text = re.sub(r'<[^>]+>', '', heading)
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)     # a link keeps its text
    text = text.strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding='utf-8')
    found = set(EXPLICIT_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for line in re.sub(r'^```.*?^```', '', text, flags=re.S | re.M).splitlines():
        m = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
        if m:
            slug = github_slug(m.group(1))
            n = seen.get(slug, 0)
            found.add(slug if n == 0 else f'{slug}-{n}')
            seen[slug] = n + 1
    return found


def test_github_slugs_of_our_headings():
    assert github_slug('Train a SAR encoder (AlignEarth)') == 'train-a-sar-encoder-alignearth'
    assert github_slug('1-band, 16-bit and float (SAR) images') == \
        '1-band-16-bit-and-float-sar-images'
    assert github_slug("The segmentor's settings in an mmseg config") == \
        'the-segmentors-settings-in-an-mmseg-config'
    assert github_slug('Your own dataset: cfg_custom.py') == 'your-own-dataset-cfg_custompy'


DOCS = [README] + sorted((ROOT / 'docs').glob('*.md'))


@pytest.mark.parametrize('page', DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(without_code(page.read_text(encoding='utf-8'))):
        if re.match(r'[a-z][a-z0-9+.-]*:', target):          # http:, https:, mailto: …
            continue
        file_part, _, anchor = target.partition('#')
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f'{target} (no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest})')
        elif anchor and dest.suffix == '.md' and anchor not in anchors(dest):
            broken.append(f'{target} (no heading or <a id> "{anchor}" in '
                          f'{dest.relative_to(ROOT)})')
    assert not broken, f'{page.relative_to(ROOT)}: broken links: ' + '; '.join(broken)
