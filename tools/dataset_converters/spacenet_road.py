"""spacenet_road: SpaceNet roads → the `cfg_spacenet_road` layout, from either download.

- GlobalRoadSet's raster masks (`img/`, `gt/`): `binary_masks.py --dataset spacenet_road`.
- the official SpaceNet 3 AOI folders (current `PS-RGB/`, `geojson_roads/`, or 2017
  `RGB-PanSharpen/`, `geojson/spacenetroads/`; or the folder holding them): the
  GeoJSON centre lines are rasterised (`spacenet_geojson.py`, roads --road-width-px wide).
The layout is recognised from the first --src; `python spacenet_road.py --help` shows both.
"""
import argparse
import sys

import common  # noqa: E402
import binary_masks  # noqa: E402
import spacenet_geojson  # noqa: E402


def geojson_parser() -> argparse.ArgumentParser:
    doc = spacenet_geojson.__doc__
    p = argparse.ArgumentParser(
        description=doc.split('\n\n')[0] + f'\nOfficial source: {spacenet_geojson.SOURCE}.',
        epilog='expected official layout:\n' + spacenet_geojson.LAYOUT + '\n\n' +
               doc.split('\n\n', 2)[2] + '\n\nGlobalRoadSet raster masks instead: ' +
               binary_masks.SPECS['spacenet_road'].layout,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--src', required=True, nargs='+', help='one or more SpaceNet 3 AOI folders (or SN3_roads/train, holding them)')
    p.add_argument('--out', required=True, help='output folder, e.g. '
                   'data/GlobalRoadSet_Val/SpaceNet_test_567')
    p.add_argument('--road-width-px', type=int, default=spacenet_geojson.ROAD_WIDTH_PX,
                   help=f'road width in pixels (default {spacenet_geojson.ROAD_WIDTH_PX}: 4 m '
                        'at 0.3 m/px)')
    return p


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    src = argv[argv.index('--src') + 1] if '--src' in argv[:-1] else None
    if '--help' in argv or '-h' in argv or (src and spacenet_geojson.is_official_layout(src)):
        a = geojson_parser().parse_args(argv)
        spacenet_geojson.convert(a.src, a.out, a.road_width_px)
    else:
        binary_masks.main(['--dataset', 'spacenet_road'] + argv)


if __name__ == '__main__':
    common.run_main(main)
