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

mmseg's converters are handed a staging folder of links to the official files only
(`mmseg_inputs.py`): Potsdam's and Vaihingen's other ISPRS zips (DSM, IRRG, RGBIR, labels
with boundaries) would otherwise be cut into the same crop names as the RGB images and eroded
labels; an iSAID download without test/ (its masks are withheld) is accepted, and its label
crops are kept 8-bit under Pillow 13 (mmseg's palette-less 'P' PNGs would be written at 1 bit).
A zip holding files mmseg would misread is refused, naming them. Label colours outside the
official coding (mmseg's converters make them class 0 silently) are an error past
--max-unknown of a file. The run ends with a summary: files per split, pixels per label value
of ann_dir/val, and the files left out and why.
"""
from __future__ import annotations

import argparse
import runpy
import sys
import tempfile
from pathlib import Path

import common as C  # noqa: E402
import mmseg_inputs  # noqa: E402

SETS = {
    'potsdam': ('ISPRS 2D Semantic Labeling Contest – Potsdam, https://www.isprs.org/'
                'education/benchmarks/UrbanSemLab/2d-sem-label-potsdam.aspx',
                '<src>/2_Ortho_RGB.zip and <src>/5_Labels_all_noBoundary.zip (official zips; '
                'the package\'s other zips may lie beside them and are left out)'),
    'vaihingen': ('ISPRS 2D Semantic Labeling Contest – Vaihingen, https://www.isprs.org/'
                  'education/benchmarks/UrbanSemLab/2d-sem-label-vaihingen.aspx',
                  '<src>/ISPRS_semantic_labeling_Vaihingen.zip and '
                  '<src>/ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip '
                  '(other zips, e.g. the non-eroded ground truth, are left out)'),
    'isaid': ('iSAID (Waqas Zamir et al. 2019) on DOTA-v1.0 images, https://captain-whu.github.io/iSAID/',
              '<src>/val/images/part1.zip, <src>/val/Semantic_masks/images.zip (read by the '
              'configs); optional: <src>/train/images/part*.zip with '
              '<src>/train/Semantic_masks/images.zip, <src>/test/images/part*.zip'),
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


def _split_args(args: list[str]):
    """(dataset_path, out_dir, tmp_dir, max_unknown, the other arguments) of a command."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument('dataset_path', nargs='?')
    p.add_argument('-o', '--out_dir')
    p.add_argument('--tmp_dir')
    C.add_max_unknown(p)
    a, rest = p.parse_known_args(args)
    return a.dataset_path, a.out_dir, a.tmp_dir, a.max_unknown, rest


def run(dataset: str, args: list[str]) -> dict | None:
    """Run mmseg's converter of `dataset` on a staging folder holding only the files it should
    read (`mmseg_inputs.stage`), then print a summary of what was written."""
    script = mmseg_converter(dataset)
    if args and args[0] == '--':
        args = args[1:]
    if '-h' in args or '--help' in args:
        return _run_script(script, args)
    src, out, tmp_dir, max_unknown, rest = _split_args(args)
    if src is None:
        raise C.ConverterError(f'the download folder is required; expects {SETS[dataset][1]}')
    src = C.require_dir(src, SETS[dataset][1])
    out = Path(out or mmseg_inputs.DEFAULT_OUT[dataset])
    C.check_output(out, src)
    tail = ['-o', str(out)] + (['--tmp_dir', tmp_dir] if tmp_dir else []) + rest
    if dataset not in mmseg_inputs.STAGED:
        _run_script(script, [str(src)] + tail)
        return mmseg_inputs.summarize(dataset, out, [])
    with tempfile.TemporaryDirectory(prefix='mmseg-staged-', dir=tmp_dir) as stage_dir:
        notes = mmseg_inputs.stage(dataset, src, Path(stage_dir), tmp_dir, max_unknown)
        with mmseg_inputs.eight_bit_palette_labels():
            _run_script(script, [stage_dir] + tail)
    return mmseg_inputs.summarize(dataset, out, notes)


def _run_script(script: Path, args: list[str]) -> None:
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
