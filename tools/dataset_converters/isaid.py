"""isaid: entry point of `mmseg_sets.py --dataset isaid` (see `python tools/dataset_converters/isaid.py --help`)."""
import sys

import common  # noqa: E402
import mmseg_sets  # noqa: E402


def main(argv=None):
    mmseg_sets.main(['--dataset', 'isaid'] + list(sys.argv[1:] if argv is None else argv))


if __name__ == '__main__':
    common.run_main(main)
