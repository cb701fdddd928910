"""gid_large: entry point of `hg_sets.py --dataset gid_large` (see `python tools/dataset_converters/gid_large.py --help`)."""

import common  # noqa: E402
import hg_sets  # noqa: E402


def main(argv=None):
    return hg_sets.main(argv, dataset='gid_large')


if __name__ == '__main__':
    common.run_main(main)
