"""loveda: entry point of `mmseg_sets.py --dataset loveda` (see `python tools/dataset_converters/loveda.py --help`)."""
import sys

import common  # noqa: E402
import mmseg_sets  # noqa: E402


def main(argv=None):
    mmseg_sets.main(['--dataset', 'loveda'] + list(sys.argv[1:] if argv is None else argv))


if __name__ == '__main__':
    common.run_main(main)
