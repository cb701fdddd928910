#!/usr/bin/env python
"""Segment images and whole GeoTIFF scenes with typed class names.

    python tools/predict.py scene.tif --classes "building,roof,house;road;water,river;tree"

See `python tools/predict.py --help` and README "Segment your own GeoTIFF scenes".
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segearth_ov.apis.predict_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(prog='tools/predict.py'))
