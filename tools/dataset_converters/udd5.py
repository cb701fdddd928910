"""udd5: entry point of `udd5_vdd.py --dataset udd5` (see `python tools/dataset_converters/udd5.py --help`)."""
import sys

import common  # noqa: E402
import udd5_vdd  # noqa: E402


def main(argv=None):
    udd5_vdd.main(['--dataset', 'udd5'] + list(sys.argv[1:] if argv is None else argv))


if __name__ == '__main__':
    common.run_main(main)
