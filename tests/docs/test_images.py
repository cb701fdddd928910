"""The pictures of the docs show what the code draws today."""
from __future__ import annotations

import numpy as np
from PIL import Image

from conftest import ROOT


def test_webui_screenshot_shows_todays_class_colours():
    """docs/images/webui.png (tools/webui_screenshot.py): each class of the page's class box
    has its legend swatch in today's colour. Was the old palette (building blue, water red)."""
    from segearth_ov.visualization import class_colours
    from segearth_ov.webui.screenshot import CLASSES
    shot = np.array(Image.open(ROOT / 'docs' / 'images' / 'webui.png').convert('RGB'))
    lines = CLASSES.split(';')
    for line, colour in zip(lines, class_colours(lines)):
        swatch = (shot == colour).all(axis=2).sum()
        assert swatch >= 100, (line, tuple(colour), swatch)     # a legend swatch, at least
