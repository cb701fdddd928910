"""globe230k: entry point of `hg_sets.py --dataset globe230k` (see `python tools/dataset_converters/globe230k.py --help`)."""

import common  # noqa: E402
import hg_sets  # noqa: E402


def main(argv=None):
    return hg_sets.main(argv, dataset='globe230k')


if __name__ == '__main__':
    common.run_main(main)
