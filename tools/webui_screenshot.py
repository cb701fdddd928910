#!/usr/bin/env python
"""The map page's picture in docs/webui.md (segearth_ov/webui/screenshot.py says how).

    python tools/webui_screenshot.py                      # released weights: a real map
    python tools/webui_screenshot.py --pretrained ... --model-cfg ... --upsampler-ckpt ...
"""
import sys

from segearth_ov.webui.screenshot import main

if __name__ == '__main__':
    sys.exit(main(prog='tools/webui_screenshot.py'))
