"""landcover_ai: entry point of `hg_sets.py --dataset landcover_ai` (see `python tools/dataset_converters/landcover_ai.py --help`)."""

import common  # noqa: E402
import hg_sets  # noqa: E402


def main(argv=None):
    return hg_sets.main(argv, dataset='landcover_ai')


if __name__ == '__main__':
    common.run_main(main)
