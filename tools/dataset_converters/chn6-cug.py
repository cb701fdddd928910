"""chn6-cug: entry point of `binary_masks.py --dataset chn6-cug` (see `python tools/dataset_converters/chn6-cug.py --help`)."""
import sys

import common  # noqa: E402
import binary_masks  # noqa: E402


def main(argv=None):
    binary_masks.main(['--dataset', 'chn6-cug'] + list(sys.argv[1:] if argv is None else argv))


if __name__ == '__main__':
    common.run_main(main)
