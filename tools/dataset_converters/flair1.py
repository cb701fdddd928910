"""flair1: entry point of `hg_sets.py --dataset flair1` (see `python tools/dataset_converters/flair1.py --help`)."""

import common  # noqa: E402
import hg_sets  # noqa: E402


def main(argv=None):
    return hg_sets.main(argv, dataset='flair1')


if __name__ == '__main__':
    common.run_main(main)
