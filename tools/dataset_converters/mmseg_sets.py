"""Potsdam, Vaihingen, iSAID and LoveDA: run mmsegmentation's own converters.

    python tools/dataset_converters/mmseg_sets.py --dataset loveda /downloads/LoveDA -o data/LoveDA
    python tools/dataset_converters/mmseg_sets.py --dataset potsdam /downloads/potsdam -o data/potsdam
    python tools/dataset_converters/mmseg_sets.py --dataset vaihingen /downloads/vaihingen -o data/vaihingen
    python tools/dataset_converters/mmseg_sets.py --dataset isaid /downloads/iSAID -o data/iSAID

These four configs use mmseg's dataset classes, so their data is prepared exactly as
mmsegmentation prepares it: this runs the converter shipped inside the installed mmseg
wheel (`mmseg/.mim/tools/dataset_converters/<dataset>.py`, mmseg 1.x) with the remaining
arguments (see `--dataset NAME -- --help` for its own options). It writes
`<out>/img_dir/{train,val}` and `<out>/ann_dir/{train,val}`; the configs read the `val`
folders. The output folder must not be the download folder.
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

SETS = {
    'potsdam': ('ISPRS 2D Semantic Labeling Contest – Potsdam, https://www.isprs.org/'
                'education/benchmarks/UrbanSemLab/2d-sem-label-potsdam.aspx',
                '<src>/2_Ortho_RGB.zip and <src>/5_Labels_all_noBoundary.zip (official zips)'),
    'vaihingen': ('ISPRS 2D Semantic Labeling Contest – Vaihingen, https://www.isprs.org/'
                  'education/benchmarks/UrbanSemLab/2d-sem-label-vaihingen.aspx',
                  '<src>/ISPRS_semantic_labeling_Vaihingen.zip and '
                  '<src>/ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip'),
    'isaid': ('iSAID (Waqas Zamir et al. 2019) on DOTA-v1.0 images, https://captain-whu.github.io/iSAID/',
              '<src>/train/images/part*.zip, <src>/train/Semantic_masks/images.zip, '
              '<src>/val/images/part*.zip, <src>/val/Semantic_masks/images.zip'),
    'loveda': ('LoveDA (Wang et al. 2021), https://github.com/Junjue-Wang/LoveDA (Zenodo)',
               '<src>/Train.zip, <src>/Val.zip, <src>/Test.zip (official zips)'),
}


def mmseg_converter(dataset: str) -> Path:
    """Path of mmseg's converter script for `dataset` in the installed wheel."""
    import mmseg
    path = Path(mmseg.__file__).parent / '.mim' / 'tools' / 'dataset_converters' / \
        f'{dataset}.py'
    if not path.is_file():
        raise C.ConverterError(
            f'mmseg\'s converter {path} is not in the installed mmseg package; take '
            f'tools/dataset_converters/{dataset}.py from the mmsegmentation 1.x repository')
    return path


def run(dataset: str, args: list[str]) -> None:
    script = mmseg_converter(dataset)
    if args and args[0] == '--':
        args = args[1:]
    if '-h' not in args and '--help' not in args:
        pos = [a for a in args if not a.startswith('-')]
        out = None
        for flag in ('-o', '--out_dir'):
            if flag in args and args.index(flag) + 1 < len(args):
                out = args[args.index(flag) + 1]
        if pos:
            src = C.require_dir(pos[0], SETS[dataset][1])
            if out:
                C.check_output(out, src)
    argv = sys.argv
    sys.argv = [str(script)] + args
    try:
        runpy.run_path(str(script), run_name='__main__')
    finally:
        sys.argv = argv


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog='\n'.join(f'{n}: {s}\n  expects {lay}' for n, (s, lay) in SETS.items()) +
        '\n\n' + __doc__.split('\n\n', 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter, add_help=False,
        usage='%(prog)s [-h] --dataset {%(sets)s} [mmseg converter args ...]' % dict(
            prog='mmseg_sets.py', sets=','.join(sorted(SETS))))
    p.add_argument('--dataset', choices=sorted(SETS),
                   help='which set; the other arguments (and -h) go to mmseg\'s converter')
    a, rest = p.parse_known_args(argv)
    if a.dataset is None:
        if '-h' in rest or '--help' in rest:
            p.print_help()
            return
        p.error('--dataset is required')
    print(f'{a.dataset}: official source: {SETS[a.dataset][0]}; expects {SETS[a.dataset][1]}')
    run(a.dataset, rest)


if __name__ == '__main__':
    C.run_main(main)
