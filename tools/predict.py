#!/usr/bin/env python
"""Segment images and whole GeoTIFF scenes with typed class names.

    python tools/predict.py scene.tif --classes "building,roof,house;road;water,river;tree"
    torchrun --nproc_per_node 4 tools/predict.py scenes/ --classes ... --out DIR   # a region

See `python tools/predict.py --help` (`--region --help` for the region options) and README
"Segment your own GeoTIFF scenes" and "Mapping a region".
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segearth_ov.mapping import region  # noqa: E402
from segearth_ov.mapping.cli import main  # noqa: E402

if __name__ == '__main__':
    if region.wanted(sys.argv[1:]):     # under torchrun, or a region option given
        sys.exit(region.main(prog='tools/predict.py'))
    sys.exit(main(prog='tools/predict.py'))
