"""A clone stands on its own, and the installed package works from any directory.

A clone of the repository with nothing beside it runs `make demo-tiny` and the parity tests;
the installed commands run outside the checkout; a bare config name resolves from anywhere;
the wheel carries the C kernels and the page and declares its dependencies.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

VENV = Path(sys.prefix)                      # the environment running the tests
BIN = Path(sys.executable).parent
OUTSIDE = ('..' + '/') + 'shared'            # spelt in two pieces, so this file does not match


def _git(*args, cwd=ROOT) -> str:
    return subprocess.run(['git', *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout


def _env(**extra) -> dict:
    """The environment of a user's shell: no PYTHONPATH from a developer's worktree, no test
    isolation folders, offline."""
    env = {k: v for k, v in os.environ.items() if k not in (
        'PYTHONPATH', 'SEGEARTH_CHECKPOINTS', 'SEGEARTH_OV_HOME')}
    env.update(HF_HUB_OFFLINE='1', **extra)
    return env


def test_no_tracked_file_names_a_path_outside_the_repository():
    found = subprocess.run(['git', 'grep', '-n', '-F', OUTSIDE], cwd=ROOT, capture_output=True,
                           text=True)
    assert found.stdout == '', f'paths outside the repository:\n{found.stdout}'


def test_no_script_or_module_edits_sys_path():
    """The package is installed (editable in a clone): nothing reaches the checkout by
    editing sys.path (tests/ may, for its own helpers; qgis/ runs in QGIS's own Python, which
    has not our environment, and loads the plugin from its folder)."""
    found = subprocess.run(
        ['git', 'grep', '-n', '-F', 'sys.path.insert', '--', 'segearth_ov', 'tools',
         'alignearth_train', 'simfeatup_train', '*.py', ':!tests', ':!qgis'],
        cwd=ROOT, capture_output=True, text=True)
    assert found.stdout == '', found.stdout


def test_a_plain_clone_runs_the_tiny_demo_and_the_parity_tests(tmp_path):
    """`git clone` of this repository into an empty folder (nothing beside it): `make
    demo-tiny` writes its pictures, and parity holds there. The clone reuses this
    environment (VENV=…): tools/install.sh finds it up to date and installs nothing."""
    if _git('status', '--porcelain', '--untracked-files=no').strip():
        pytest.skip('uncommitted changes: the clone would test the last commit, not them')
    clone = tmp_path / 'alone' / 'SegEarth-OV'
    subprocess.run(['git', 'clone', '-q', '--no-hardlinks', str(ROOT), str(clone)], check=True)
    assert sorted(p.name for p in clone.parent.iterdir()) == ['SegEarth-OV']
    env = _env(SEGEARTH_CACHE=str(tmp_path / 'cache'))
    demo = subprocess.run(['make', '-o', 'install', 'demo-tiny', f'VENV={VENV}'], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    out = clone / 'work_dirs' / 'demo_tiny'
    for name in ('oem_koeln_50_labels.png', 'oem_koeln_50_overlay.png', 'oem_koeln_50_classes.txt'):
        assert (out / name).stat().st_size > 0, name
    parity = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
         'tests/models/test_parity.py', '-k',
         'test_segmentor_matches_reference and segearth_optical or test_upsampler_matches'],
        cwd=clone, env=dict(env, PYTHONPATH=str(clone)), capture_output=True, text=True,
        timeout=600)
    assert parity.returncode == 0, parity.stdout[-3000:]
    assert '\n3 passed' in parity.stdout, parity.stdout[-500:]


@pytest.mark.parametrize('command', ['segearth-predict', 'segearth-webui', 'segearth-eval',
                                     'segearth-train'])
def test_installed_commands_run_outside_the_checkout(command, tmp_path):
    exe = BIN / command
    assert exe.is_file(), f'{exe} missing: run tools/install.sh (pip install -e .)'
    run = subprocess.run([str(exe), '--help'], cwd=tmp_path, env=_env(), capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert 'usage:' in run.stdout and command in run.stdout


def test_a_bare_config_name_resolves_from_another_directory(tmp_path):
    """From /tmp-like folders, `cfg_openearthmap` is the checkout's config, through the
    Python API and through segearth-eval (which then stops at the missing data, naming it)."""
    code = ('from segearth_ov.utils.paths import find_config; '
            "print(find_config('cfg_openearthmap')); print(find_config('openearthmap')); "
            "print(find_config('configs/cfg_loveda.py'))")
    run = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [str(ROOT / 'configs' / 'cfg_openearthmap.py')] * 2 + [
        str(ROOT / 'configs' / 'cfg_loveda.py')]
    run = subprocess.run([str(BIN / 'segearth-eval'), '--config', 'cfg_openearthmap',
                          '--no-results'], cwd=tmp_path, env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.startswith('error: data not found: data/OpenEarthMap_val'), run.stderr
    run = subprocess.run([str(BIN / 'segearth-eval'), '--config', 'cfg_no_such_set'],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert 'config not found: cfg_no_such_set' in run.stderr
    assert str(ROOT / 'configs' / 'cfg_no_such_set.py') in run.stderr      # absolute, tried


def test_segearth_ov_home_is_searched_for_configs_and_weights(tmp_path, monkeypatch):
    """$SEGEARTH_OV_HOME comes before the cache and the checkout; a weight that is nowhere is
    reported with every absolute place tried."""
    from segearth_ov.models.backbones.presets import get_preset
    from segearth_ov.models.backbones.weights import WeightsNotFoundError, resolve_weights
    from segearth_ov.utils.paths import checkpoint_dirs, find_config
    home = tmp_path / 'home'
    (home / 'configs').mkdir(parents=True)
    (home / 'configs' / 'cfg_mine.py').write_text("_base_ = []\n")
    monkeypatch.setenv('SEGEARTH_OV_HOME', str(home))
    monkeypatch.delenv('SEGEARTH_CHECKPOINTS')
    monkeypatch.chdir(tmp_path)
    assert find_config('mine') == home / 'configs' / 'cfg_mine.py'
    assert find_config('cfg_openearthmap') == ROOT / 'configs' / 'cfg_openearthmap.py'
    cache = Path(os.environ['SEGEARTH_CACHE']).resolve()
    assert checkpoint_dirs() == [home / 'checkpoints', cache / 'checkpoints',
                                 ROOT / 'checkpoints']
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights(get_preset('RemoteCLIP', 'ViT-B/32'))
    for folder in checkpoint_dirs():
        assert str(folder / 'RemoteCLIP-ViT-B-32.pt') in str(err.value)


def test_the_wheel_carries_the_kernels_the_page_and_its_dependencies(tmp_path):
    """`pip wheel --no-deps .` of the tracked files (a copy: an in-tree build would leave
    build/ in the checkout)."""
    src = tmp_path / 'src'
    for rel in _git('ls-files').splitlines():
        if (ROOT / rel).is_file() and not rel.startswith(('tests/', 'data/')):
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    run = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                          '--no-build-isolation', '-w', str(tmp_path / 'dist'), str(src)],
                         capture_output=True, text=True, timeout=600, env=_env())
    assert run.returncode == 0, run.stderr[-2000:]
    wheel = next((tmp_path / 'dist').glob('segearth_ov-*.whl'))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith('.dist-info/METADATA'))).decode()
        entry = z.read(next(n for n in names if n.endswith('entry_points.txt'))).decode()
    for need in ('segearth_ov/ops/jbu_cpu.c', 'segearth_ov/webui/static/index.html',
                 'segearth_ov/webui/static/app.js', 'segearth_ov/datasets/sar_ovseg_taxonomy.json',
                 'segearth_ov/evaluation/published/segearth-2.csv'):
        assert need in names, need
    assert 'Requires-Python: >=3.11' in meta
    for dep in ('mmengine==0.10.7', 'mmsegmentation==1.2.2', 'open_clip_torch', 'rasterio'):
        assert f'Requires-Dist: {dep}' in meta, dep
    for command in ('segearth-predict', 'segearth-webui', 'segearth-eval', 'segearth-train'):
        assert f'{command} = segearth_ov.' in entry, command
