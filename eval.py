#!/usr/bin/env python
"""Evaluate SegEarth-OV on one dataset config (= `segearth-eval`).

    python eval.py --config configs/cfg_loveda.py [--work-dir DIR] [--cfg-options k=v ...]

The program is segearth_ov/evaluation/cli.py; see `python eval.py --help` and
docs/evaluation.md. Several GPUs: bash dist_test.sh.
"""
import sys

from segearth_ov.evaluation.cli import main

if __name__ == '__main__':
    sys.exit(main())
