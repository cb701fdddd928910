#!/usr/bin/env python
"""Write a list file of N randomly chosen images of a folder (the paper: 16k of Million-AID).

    python simfeatup_train/make_image_list.py --source data/Million-AID --count 16000 \
        --out data/simfeatup/million_aid_16k.txt [--seed 0]

Paths are written relative to the list file's folder, which is how training reads them.
An existing list is never replaced (use another --out, or delete it yourself).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path


def make_image_list(source: str | Path, count: int, out: str | Path, seed: int = 0) -> Path:
    """Sample `count` images of `source` (all if fewer) with `seed`; write them to `out`."""
    from segearth_ov.training import list_images
    from segearth_ov.utils.files import write_text_atomic
    out = Path(out)
    if out.exists():
        raise FileExistsError(f'{out} exists: choose another --out (an existing list is kept)')
    if count < 1:
        raise ValueError(f'--count must be at least 1, got {count}')
    files = list_images(source)
    chosen = random.Random(seed).sample(files, min(count, len(files)))
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [os.path.relpath(Path(f).resolve(), out.parent.resolve()) for f in chosen]
    write_text_atomic(out, f'# {len(lines)} images of {source}, seed {seed}\n'
                      + '\n'.join(lines) + '\n')
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--source', required=True, help='a folder of images (searched recursively)')
    p.add_argument('--count', type=int, default=16000, help='how many (default 16000)')
    p.add_argument('--out', required=True, help='the list file to write')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    out = make_image_list(args.source, args.count, args.out, args.seed)
    print(f'{out}: {sum(1 for ln in out.read_text().splitlines() if ln and ln[0] != "#")} images')
    return 0


if __name__ == '__main__':
    sys.exit(main())
