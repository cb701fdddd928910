"""`segearth-predict` / `python tools/predict.py`: one scene or a region, by its arguments.

Region mode is chosen under torchrun with several processes or by a region option
(`region.wanted`); both modes share the scene options (mapping/cli.py).
"""
from __future__ import annotations

import sys


def main(argv=None, prog: str | None = None) -> int:
    from . import region
    from .cli import main as scene_main
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = prog or 'segearth-predict'
    if region.wanted(argv):
        return region.main(argv, prog=prog)
    return scene_main(argv, prog=prog)
