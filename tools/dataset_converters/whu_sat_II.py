"""whu_sat_II: entry point of `binary_masks.py --dataset whu_sat_II` (see `python tools/dataset_converters/whu_sat_II.py --help`)."""
import sys

import common  # noqa: E402
import binary_masks  # noqa: E402


def main(argv=None):
    binary_masks.main(['--dataset', 'whu_sat_II'] + list(sys.argv[1:] if argv is None else argv))


if __name__ == '__main__':
    common.run_main(main)
