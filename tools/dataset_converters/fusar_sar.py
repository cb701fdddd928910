"""fusar_sar: entry point of `sar_sets.py --dataset fusar_sar` (see `python tools/dataset_converters/fusar_sar.py --help`)."""
import sys

import common  # noqa: E402
import sar_sets  # noqa: E402


def main(argv=None):
    sar_sets.main(['--dataset', 'fusar_sar'] + list(sys.argv[1:] if argv is None else argv))


if __name__ == '__main__':
    common.run_main(main)
