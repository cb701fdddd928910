"""The AlignEarth commands of docs/training.md and alignearth_train/README.md chain as
written: the pairs the generator writes are the ones training reads, with a batch the demo's
pairs fill. Only the output folder (`work_dirs/`) is moved into the test's temporary folder."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))
from alignearth_train.trainer import batch_too_large  # noqa: E402


def demo_commands(readme, heading: str) -> list[list[str]]:
    """The commands of the first ```bash block after `heading`, continuation lines joined."""
    text = readme.read_text(encoding='utf-8')
    section = text[text.index(heading):]
    block = re.search(r'```bash\n(.*?)```', section, re.S).group(1)
    joined = re.sub(r'\\\n\s*', ' ', block)
    return [shlex.split(line, comments=True) for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith('#')]


def run_as_written(commands, tmp_path) -> list[str]:
    """Run the commands; their standard outputs."""
    outputs = []
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1',
               SEGEARTH_CACHE=str(tmp_path / 'cache'), HF_HUB_OFFLINE='1')
    for argv in commands:
        assert argv[0] == 'python', argv
        argv = [sys.executable] + [a.replace('work_dirs/', f'{tmp_path}/work_dirs/')
                                   for a in argv[1:]]
        out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=600)
        assert out.returncode == 0, (argv, out.stderr[-3000:])
        outputs.append(out.stdout)
    return outputs


@pytest.mark.parametrize('readme, heading', [
    ('docs/training.md', '## Train a SAR encoder (AlignEarth)'),
    ('alignearth_train/README.md', '## Try it in a minute'),
])
def test_readme_alignearth_demo_runs_as_written(readme, heading, tmp_path):
    commands = demo_commands(ROOT / readme, heading)
    assert [c[1] for c in commands] == ['alignearth_train/make_synthetic_pairs.py',
                                        'alignearth_train/train.py']
    outputs = run_as_written(commands, tmp_path)
    assert (tmp_path / 'work_dirs/alignearth_demo/alignearth_latest.pt').is_file()
    # the number of pairs the page says the demo makes is the number it makes
    made = int(re.search(r'^(\d+) pairs: ', outputs[0], re.M).group(1))
    said = re.findall(r'(\d+) pairs(?! per)', (ROOT / readme).read_text(encoding='utf-8'))
    assert all(int(n) == made for n in said), (said, made)


def test_batch_larger_than_the_pairs_names_a_batch_that_fits():
    msg = batch_too_large(512, None, 12, 1)
    assert 'batch_size 512 is larger than the 12 training pairs' in msg
    assert msg.endswith('--cfg-options batch_size=8')
    assert batch_too_large(512, 128, 15, 4).endswith('batch_size=8 micro_batch_size=2')
