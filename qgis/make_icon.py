"""Draws the plugin's icon, qgis/segearth_ov_qgis/icon.png (a class map in the colours the
predictor gives water, tree, building, road and cropland): `python qgis/make_icon.py`."""
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {'water': (31, 120, 220), 'tree': (34, 139, 34), 'building': (220, 40, 40),
           'road': (128, 128, 128), 'cropland': (240, 200, 40)}


def main() -> None:
    size, pad = 64, 4
    img = Image.new('RGBA', (size, size), (0, 0, 0, 0))
    mask = Image.new('L', (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle((pad, pad, size - pad, size - pad), 10, fill=255)
    tiles = Image.new('RGBA', (size, size), COLOURS['cropland'] + (255,))
    d = ImageDraw.Draw(tiles)
    d.polygon([(0, 0), (40, 0), (26, 30), (0, 36)], fill=COLOURS['tree'])
    d.polygon([(0, 44), (30, 38), (40, 64), (0, 64)], fill=COLOURS['water'])
    d.rectangle((38, 10, 56, 26), fill=COLOURS['building'])
    d.line([(20, 64), (34, 34), (64, 30)], fill=COLOURS['road'], width=6)
    img.paste(tiles, (0, 0), mask)
    ImageDraw.Draw(img).rounded_rectangle((pad, pad, size - pad, size - pad), 10,
                                          outline=(40, 40, 40, 255), width=2)
    img.save(Path(__file__).with_name('segearth_ov_qgis') / 'icon.png')


if __name__ == '__main__':
    main()
