#!/usr/bin/env python
"""The map page's picture in docs/webui.md (segearth_ov/webui/screenshot.py says how).

    python tools/webui_screenshot.py                      # the tiny test models (as in the docs)
    python tools/webui_screenshot.py --clip-type CLIP --out work_dirs/webui.png   # released weights
"""
import sys

from segearth_ov.webui.screenshot import main

if __name__ == '__main__':
    sys.exit(main(prog='tools/webui_screenshot.py'))
