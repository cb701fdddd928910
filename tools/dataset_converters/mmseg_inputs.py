"""What each of mmseg's converters may see: the official files of a download, staged alone.

mmseg's `potsdam.py` and `vaihingen.py` cut *every* `*.zip` of the folder they are given and
name each crop after the tile only (`2_10_0_0_512_512.png`, `area1_0_0_512_512.png`). The
full ISPRS package also holds 1_DSM, 3_Ortho_IRRG, 4_Ortho_RGBIR, 5_Labels_all and (Vaihingen)
the non-eroded ground truth: their crops would get the same names and overwrite the RGB and
eroded-label crops, in whatever order the zips are listed. mmseg's `isaid.py` asserts that
`<src>/test` exists, but the configs read only `val` and iSAID's test masks are withheld.
So each converter is handed a staging folder of links to exactly the files it should read,
and a zip whose contents mmseg would misread is refused, naming the files.
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import common as C


@dataclass(frozen=True)
class OfficialZip:
    """One official zip and where mmseg's converter looks for its `*.tif` files."""
    name: str
    role: str              # 'images' or 'labels' (how mmseg's converter will treat them)
    member: str            # regex a .tif that mmseg reads must match (its file name)
    place: str             # 'root', 'top/' (a folder), or 'root-or-folder' (potsdam.py: the
    #                        zip's root, else its first top-level folder)


# Names: mmsegmentation docs/en/user_guides/2_dataset_prepare.md ("The '2_Ortho_RGB.zip' and
# '5_Labels_all_noBoundary.zip' are required"; "'ISPRS_semantic_labeling_Vaihingen.zip' and
# 'ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip' are required").
# Members: top_potsdam_<row>_<col>_RGB.tif, top_potsdam_<row>_<col>_label_noBoundary.tif,
# top/top_mosaic_09cm_area<N>.tif, top_mosaic_09cm_area<N>_noBoundary.tif (mmseg's
# potsdam.py/vaihingen.py parse these names; torchgeo's Potsdam2D/Vaihingen2D test data
# build the sibling zips the same way).
ISPRS = {
    'potsdam': (
        OfficialZip('2_Ortho_RGB.zip', 'images', r'top_potsdam_\d+_\d+_RGB\.tif', 'root-or-folder'),
        OfficialZip('5_Labels_all_noBoundary.zip', 'labels',
                    r'top_potsdam_\d+_\d+_label_noBoundary\.tif', 'root-or-folder'),
    ),
    'vaihingen': (
        OfficialZip('ISPRS_semantic_labeling_Vaihingen.zip', 'images',
                    r'top_mosaic_09cm_area\d+\.tif', 'top/'),
        OfficialZip('ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip',
                    'labels', r'top_mosaic_09cm_area\d+_noBoundary\.tif', 'root'),
    ),
}
# The word in a file's *path* that makes mmseg's converter treat it as a label
# (potsdam.py: `'label' in src_path`; vaihingen.py: `'noBoundary' in src_path`).
LABEL_MARK = {'potsdam': 'label', 'vaihingen': 'noBoundary'}
# mmseg's default output folder of each converter (its `--out_dir` default).
DEFAULT_OUT = {'potsdam': 'data/potsdam', 'vaihingen': 'data/vaihingen', 'isaid': 'data/iSAID',
               'loveda': 'data/loveDA'}


def _tifs_read(z: zipfile.ZipFile, spec: OfficialZip) -> list[str]:
    """The members of `z` that mmseg's converter cuts (its `glob('*.tif')` rules)."""
    names = [n for n in z.namelist() if not n.endswith('/')]
    root_tifs = [n for n in names if '/' not in n and n.endswith('.tif')]
    if spec.place == 'root':
        return root_tifs
    if spec.place == 'top/':
        if root_tifs:   # vaihingen.py extracts every zip into one folder and reads its root
            raise C.ConverterError(
                f'{spec.name} holds .tif files at its root, which mmseg\'s converter would cut '
                f'as images over the official ones: {", ".join(sorted(root_tifs)[:10])}; use '
                'the official zip (images only under top/)')
        return [n for n in names if n.startswith('top/') and n.count('/') == 1 and n.endswith('.tif')]
    if root_tifs:
        return root_tifs
    tops = sorted({n.split('/', 1)[0] for n in z.namelist()})
    if len(tops) != 1:  # potsdam.py then reads os.listdir(tmp)[0]: an arbitrary one
        raise C.ConverterError(
            f'{spec.name} has no .tif at its root and {len(tops)} top-level entries '
            f'({", ".join(tops[:10])}); mmseg\'s converter reads only one of them, chosen by '
            'directory order: use the official zip (one folder)')
    return [n for n in names if n.count('/') == 1 and n.endswith('.tif')]


def check_official_zip(path: Path, spec: OfficialZip, dataset: str) -> int:
    """The number of tiles in an official zip; an error naming any file mmseg would misread."""
    try:
        with zipfile.ZipFile(path) as z:
            tifs = _tifs_read(z, spec)
    except zipfile.BadZipFile as e:
        raise C.ConverterError(f'{path} is not a readable zip ({e}); download it again') from e
    pattern = re.compile(spec.member)
    mark = LABEL_MARK[dataset]
    odd = [t for t in tifs if not pattern.fullmatch(t.rsplit('/', 1)[-1])
           or (mark in t) != (spec.role == 'labels')]
    if odd:
        raise C.ConverterError(
            f'{path.name} holds files that are not official {dataset} {spec.role} '
            f'({spec.member}) but that mmseg\'s converter would cut as {spec.role} under the '
            f'same crop names: {", ".join(sorted(odd)[:10])}'
            f'{" …" if len(odd) > 10 else ""}; use the official zip')
    if not tifs:
        raise C.ConverterError(f'{path.name} holds no {spec.member} files where mmseg\'s '
                               f'converter reads them ({spec.place}); use the official zip')
    return len(tifs)


# Official label colours (RGB). ISPRS: impervious surfaces white, building blue, low
# vegetation cyan, tree green, car yellow, clutter red (ISPRS 2D labeling pages; torchgeo
# Potsdam2D/Vaihingen2D colormap); black = the eroded boundary of the noBoundary labels.
# mmseg's potsdam.py/vaihingen.py map these (read as BGR) to 1…6 and everything else to 0.
ISPRS_COLOURS = {(0, 0, 0): 0, (255, 255, 255): 1, (0, 0, 255): 2, (0, 255, 255): 3,
                 (0, 255, 0): 4, (255, 255, 0): 5, (255, 0, 0): 6}
# iSAID: mmseg's isaid.py palette (the iSAID devkit's class colours), read as RGB; other
# colours become 0 (background) there.
ISAID_COLOURS = {(0, 0, 0): 0, (0, 0, 63): 1, (0, 63, 63): 2, (0, 63, 0): 3, (0, 63, 127): 4,
                 (0, 63, 191): 5, (0, 63, 255): 6, (0, 127, 63): 7, (0, 127, 127): 8,
                 (0, 0, 127): 9, (0, 0, 191): 10, (0, 0, 255): 11, (0, 191, 127): 12,
                 (0, 127, 191): 13, (0, 127, 255): 14, (0, 100, 155): 15}


def check_label_colours(zip_path: Path, members, colours: dict, max_unknown: float) -> dict:
    """mmseg's converters turn a colour outside the official coding into class 0 without a
    word; read each label of the zip first and refuse past `max_unknown` (LabelSummary)."""
    from PIL import Image
    log = C.LabelSummary(zip_path.name, max_unknown=max_unknown)
    with zipfile.ZipFile(zip_path) as z:
        for name in C.progress(members, f'{zip_path.name} colours'):
            with z.open(name) as f, Image.open(f) as im:
                rgb = np.asarray(im.convert('RGB'))
            _, unknown = C.rgb_to_index(rgb, colours)
            log.check(name, unknown, rgb.shape[0] * rgb.shape[1])
    return log.unknown


def stage_isprs(dataset: str, src: Path, stage: Path, tmp_dir: str | None = None,
                max_unknown: float = C.MAX_UNKNOWN) -> list[str]:
    """Link the official zips of `src` into `stage`; notes on what was left out."""
    specs = ISPRS[dataset]
    found = sorted(p.name for p in src.glob('*.zip'))
    missing = [s.name for s in specs if not (src / s.name).is_file()]
    if missing:
        unpacked = [m for m in missing if (src / m[:-4]).is_dir()]
        raise C.ConverterError(
            f'{src} lacks {", ".join(missing)} (the official {dataset} zips mmseg\'s converter '
            f'reads); zips found: {", ".join(found) or "none"}'
            + (f'; {", ".join(u[:-4] + "/" for u in unpacked)} is unpacked: mmseg\'s converter '
               'reads the zips themselves' if unpacked else ''))
    base = os.path.abspath(tmp_dir or tempfile.gettempdir())
    if LABEL_MARK[dataset] in base:
        raise C.ConverterError(
            f'the temporary folder {base} contains "{LABEL_MARK[dataset]}", which makes mmseg\'s '
            f'{dataset} converter treat every extracted image as a label; pass --tmp_dir DIR '
            'with a path without that word')
    notes = []
    for spec in specs:
        n = check_official_zip(src / spec.name, spec, dataset)
        notes.append(f'{spec.name}: {n} {spec.role}')
    for spec in specs:
        if spec.role == 'labels':
            with zipfile.ZipFile(src / spec.name) as z:
                members = _tifs_read(z, spec)
            unknown = check_label_colours(src / spec.name, members, ISPRS_COLOURS, max_unknown)
            if unknown:
                notes.append(f'{spec.name}: colours outside the official coding, cut as 0 '
                             '(ignored): ' + ', '.join(f'{c} {n} px' for c, n in unknown.items()))
        os.symlink((src / spec.name).resolve(), stage / spec.name)
    extra = [z for z in found if z not in {s.name for s in specs}]
    if extra:
        notes.append(f'not used: {", ".join(extra)} (not RGB images / eroded labels; mmseg\'s '
                     'converter would have cut them into the same crop names)')
    return notes


# iSAID: mmsegmentation 2_dataset_prepare.md lists <src>/{train,val,test}/images/part*.zip
# (DOTA-v1.0 images) and <src>/{train,val}/Semantic_masks/images.zip; the iSAID devkit
# README (CAPTAIN-WHU/iSAID_Devkit) says the test masks are withheld. mmseg's isaid.py reads
# `images/*.png` inside each zip.
ISAID_IMAGES = re.compile(r'images/P\d+\.png')
ISAID_MASKS = re.compile(r'images/P\d+_instance_color_RGB\.png')


def _zips_holding(folder: Path, pattern: re.Pattern, what: str) -> list[Path]:
    zips = sorted(folder.glob('*.zip'))
    for zp in zips:
        try:
            with zipfile.ZipFile(zp) as z:
                ok = any(pattern.fullmatch(n) for n in z.namelist())
        except zipfile.BadZipFile as e:
            raise C.ConverterError(f'{zp} is not a readable zip ({e}); download it again') from e
        if not ok:
            raise C.ConverterError(f'{zp} holds no {what} ({pattern.pattern}) where mmseg\'s '
                                   'converter reads them; use the official zip')
    return zips


def stage_isaid(src: Path, stage: Path, max_unknown: float = C.MAX_UNKNOWN) -> list[str]:
    """Link `src`'s train/val/test into `stage`; a missing train/ or test/ becomes an empty
    folder (mmseg's isaid.py asserts all three). val/ must hold images and masks."""
    notes = []
    for split in ('train', 'val', 'test'):
        folder = src / split
        if not folder.is_dir():
            if split == 'val':
                raise C.ConverterError(
                    f'{src}/val not found: the iSAID configs read the val split; expected '
                    f'{src}/val/images/part1.zip and {src}/val/Semantic_masks/images.zip')
            (stage / split / 'images').mkdir(parents=True)
            notes.append(f'{split}/: not in the download; nothing written for it')
            continue
        images = _zips_holding(folder / 'images', ISAID_IMAGES, 'DOTA images')
        if not images:
            raise C.ConverterError(f'{folder}/images/ holds no part*.zip of DOTA images')
        if split != 'test':
            masks = _zips_holding(folder / 'Semantic_masks', ISAID_MASKS, 'semantic masks')
            if not masks:
                raise C.ConverterError(
                    f'{folder}/Semantic_masks/ holds no images.zip: its images would be cut '
                    'without labels; download iSAID\'s Semantic_masks for this split')
            for zp in masks:
                with zipfile.ZipFile(zp) as z:
                    members = [n for n in z.namelist() if ISAID_MASKS.fullmatch(n)]
                unknown = check_label_colours(zp, members, ISAID_COLOURS, max_unknown)
                if unknown:
                    notes.append(f'{split}/Semantic_masks/{zp.name}: colours outside the '
                                 'official coding, cut as 0 (background) by mmseg: ' +
                                 ', '.join(f'{c} {n} px' for c, n in unknown.items()))
        os.symlink(folder.resolve(), stage / split, target_is_directory=True)
        notes.append(f'{split}/: {", ".join(p.name for p in images)}')
    return notes


@contextlib.contextmanager
def eight_bit_palette_labels():
    """mmseg's isaid.py saves each label crop as `Image.fromarray(crop, mode='P')` without a
    palette. Recent Pillow (13 here) then writes the PNG at the bit depth of the one-entry
    palette, 1 bit: every class above 0 reads back as 1, silently. While this is active a
    palette-less 'P' image gets a 256-entry grey palette, so the 8-bit indices are written."""
    from PIL import Image
    original = Image.fromarray
    grey = [v for i in range(256) for v in (i, i, i)]

    def fromarray(obj, mode=None):
        im = original(obj, mode) if mode is not None else original(obj)
        if im.mode == 'P' and len(im.getpalette() or []) < len(grey):
            im.putpalette(grey)
        return im

    Image.fromarray = fromarray
    try:
        yield
    finally:
        Image.fromarray = original


STAGED = ('potsdam', 'vaihingen', 'isaid')   # LoveDA's converter opens Train/Val/Test.zip by name


def stage(dataset: str, src: Path, stage_dir: Path, tmp_dir: str | None = None,
          max_unknown: float = C.MAX_UNKNOWN) -> list[str]:
    """Fill `stage_dir` with what mmseg's converter of `dataset` should read from `src`."""
    if dataset in ISPRS:
        return stage_isprs(dataset, src, stage_dir, tmp_dir, max_unknown)
    if dataset == 'isaid':
        return stage_isaid(src, stage_dir, max_unknown)
    raise ValueError(f'no staging rule for {dataset}')


# ----------------------------------------------------------------------------- summary

def class_names(dataset: str) -> tuple[tuple[str, ...], bool]:
    """(class names, reduce_zero_label) of the mmseg dataset class the configs use."""
    from mmseg.datasets import ISPRSDataset, LoveDADataset, PotsdamDataset, iSAIDDataset
    cls = {'potsdam': PotsdamDataset, 'vaihingen': ISPRSDataset, 'isaid': iSAIDDataset,
           'loveda': LoveDADataset}[dataset]
    return tuple(cls.METAINFO['classes']), dataset != 'isaid'


def summarize(dataset: str, out: Path, notes: list[str], split: str = 'val') -> dict:
    """Print what was written (files per split, pixels per class of `split`'s labels) and
    what was left out and why; return it."""
    names, reduce_zero = class_names(dataset)
    files = {}
    for kind in ('img_dir', 'ann_dir'):
        for d in sorted((out / kind).iterdir()) if (out / kind).is_dir() else []:
            files[f'{kind}/{d.name}'] = sum(1 for p in d.iterdir() if p.is_file())
    print(f'{dataset}: files written: ' + ', '.join(f'{k} {n}' for k, n in files.items()))
    classes = (('0 (ignored: boundary / no class)',) + names) if reduce_zero else names
    log = C.LabelSummary(f'{dataset} ann_dir/{split}', classes=classes)
    ann = out / 'ann_dir' / split
    for p in C.progress(sorted(ann.glob('*.png')) if ann.is_dir() else [], f'{dataset} summary'):
        log.wrote(p, C.read_label(p))
    for note in notes:
        log.skip(*note) if isinstance(note, tuple) else print(f'{dataset}: {note}')
    return log.finish() | dict(files_per_folder=files)
