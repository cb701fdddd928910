#!/usr/bin/env python
"""Interactive map page: open a scene, type classes, see and download the class map.

    python tools/webui.py [model options as tools/predict.py] [--data-dir DIR] [--port 7860]

See `python tools/webui.py --help` and README "Interactive map page".
"""
import sys


from segearth_ov.webui.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(prog='tools/webui.py'))
