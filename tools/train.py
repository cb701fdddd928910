#!/usr/bin/env python
"""Train a model from an mmseg config with mmengine's Runner (= `segearth-train`).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--cfg-options k=v ...]
    bash dist_train.sh CONFIG GPUS [same options]          # torchrun; gloo on CPU

The program is segearth_ov/training/cli.py; see `python tools/train.py --help` and
docs/training.md.
"""
import sys

from segearth_ov.training.cli import main

if __name__ == '__main__':
    sys.exit(main())
