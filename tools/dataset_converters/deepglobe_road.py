"""deepglobe_road: entry point of `binary_masks.py --dataset deepglobe_road` (see `python tools/dataset_converters/deepglobe_road.py --help`)."""
import sys

import common  # noqa: E402
import binary_masks  # noqa: E402


def main(argv=None):
    binary_masks.main(['--dataset', 'deepglobe_road'] + list(sys.argv[1:] if argv is None else argv))


if __name__ == '__main__':
    common.run_main(main)
