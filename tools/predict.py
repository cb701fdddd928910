#!/usr/bin/env python
"""Segment images and whole GeoTIFF scenes with typed class names (= `segearth-predict`).

    python tools/predict.py scene.tif --classes "building,roof,house;road;water,river;tree"
    torchrun --nproc_per_node 4 tools/predict.py scenes/ --classes ... --out DIR   # a region

See `python tools/predict.py --help` (`--region --help` for the region options) and README
"Segment your own GeoTIFF scenes" and "Mapping a region".
"""
import sys

from segearth_ov.mapping.entry import main

if __name__ == '__main__':
    sys.exit(main(prog='tools/predict.py'))
