"""Shared helpers of the dataset converters (`tools/dataset_converters/*.py`).

Every converter reads an official download (never modified) and writes the layout a config
of `configs/` reads. Label images written here are single-band 8-bit PNG class-index images.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover - tqdm is a dependency, but stay usable without it
    def tqdm(it, **kwargs):
        return it

# The converters' own list: they stand alone, without importing the package (torch,
# mmseg); segearth_ov/utils/images.py holds the package's.
IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')
IGNORE = 255

# Official downloads can be huge (Inria tiles are 5000x5000 px): let PIL open them.
Image.MAX_IMAGE_PIXELS = None


class ConverterError(RuntimeError):
    """A user-facing error (missing input, unsafe output): printed without a traceback."""


# --------------------------------------------------------------------------- paths

def require_dir(path, expected_layout: str = '') -> Path:
    """`path` as a Path; a ConverterError naming the expected official layout if missing."""
    path = Path(path)
    if not path.is_dir():
        msg = f'input folder not found: {path}'
        if expected_layout:
            msg += f'\nexpected the official download layout:\n{expected_layout}'
        raise ConverterError(msg)
    return path


def check_output(out_dir, *src_dirs) -> Path:
    """Refuse an output folder that is, or lies inside, or contains, a source folder."""
    out = Path(out_dir).resolve()
    for src in src_dirs:
        src = Path(src).resolve()
        if out == src or src in out.parents or out in src.parents:
            raise ConverterError(
                f'refusing to write into the source folder: output {out} overlaps the '
                f'input {src}; pick an output folder outside the official download')
    return out


def list_images(folder, exts: Sequence[str] = IMAGE_EXTS, recursive: bool = False,
                suffix: str = '') -> list[Path]:
    """Sorted image files of `folder` (extension in `exts`, name ending in `suffix`)."""
    folder = Path(folder)
    it = folder.rglob('*') if recursive else folder.iterdir()
    exts = tuple(e.lower() for e in exts)
    return sorted(p for p in it if p.is_file() and p.suffix.lower() in exts
                  and p.name.endswith(suffix))


def stem_of(path, suffix: str = '') -> str:
    """File name without `suffix` (if it ends with it) or else without its extension."""
    name = Path(path).name
    if suffix and name.endswith(suffix):
        return name[:-len(suffix)]
    return Path(name).stem


def _safe_write_target(dst: Path, src: Path | None = None) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src is not None and dst.exists() and dst.resolve() == Path(src).resolve():
        raise ConverterError(f'refusing to overwrite the source file {src}')


# --------------------------------------------------------------------------- labels

def read_rgb(path) -> np.ndarray:
    """An image as an H x W x 3 uint8 RGB array (grey images are repeated, alpha dropped)."""
    with Image.open(path) as im:
        return np.asarray(im.convert('RGB'))


def read_gray(path) -> np.ndarray:
    """A single-band array of a label image (RGB images: the max over the bands)."""
    with Image.open(path) as im:
        arr = np.asarray(im)
    if arr.ndim == 3:
        arr = arr[..., :3].max(axis=2)
    return arr


def read_label(path) -> np.ndarray:
    """A label image's values as stored: palette ("P") images give their palette *indices*
    (index labels saved with a colour palette, e.g. PaddleSeg/UDD/DDHR pseudo-colour PNGs,
    are class indices, not colours), RGBA drops alpha, everything else is returned as is."""
    with Image.open(path) as im:
        if im.mode == 'RGBA':
            im = im.convert('RGB')
        return np.asarray(im)


def rgb_to_index(rgb: np.ndarray, palette, unknown: int = IGNORE) -> tuple[np.ndarray, dict]:
    """Map an RGB label image to class indices; (index image, {unmapped colour: pixels}).

    `palette`: a sequence of colours (colour i → class i) or a dict colour → class (several
    colours may share a class; a colour mapped to IGNORE is a known "no label" colour).
    Pixels of other colours get `unknown` (255, ignored) and are returned, by colour, for
    `LabelSummary.check` to judge.
    """
    items = palette.items() if isinstance(palette, dict) else \
        ((c, i) for i, c in enumerate(palette))
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f'expected an RGB label image, got shape {rgb.shape}')
    rgb = rgb[..., :3].astype(np.uint32)
    code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    out = np.full(code.shape, unknown, dtype=np.uint8)
    known = np.zeros(code.shape, dtype=bool)
    for colour, idx in items:
        r, g, b = (int(c) for c in colour)
        hit = code == ((r << 16) | (g << 8) | b)
        out[hit] = idx
        known |= hit
    codes, counts = np.unique(code[~known], return_counts=True)
    return out, {(int(c) >> 16, (int(c) >> 8) & 255, int(c) & 255): int(n)
                 for c, n in zip(codes, counts)}


def values_to_index(label: np.ndarray, coding, unknown: int = IGNORE) -> tuple[np.ndarray, dict]:
    """Map a single-band label to class indices; (index image, {unmapped value: pixels}).

    `coding`: an int n (values 0…n-1 are the classes, kept as they are) or a dict official
    value → class (a value mapped to IGNORE is a known "no label" value). Other values get
    `unknown` (255) and are returned, by value, for `LabelSummary.check` to judge.
    """
    if label.ndim != 2:
        raise ValueError(f'expected a single-band label image, got shape {label.shape}')
    if isinstance(coding, dict):
        out = np.full(label.shape, unknown, dtype=np.uint8)
        known = np.zeros(label.shape, dtype=bool)
        for value, cls in coding.items():
            hit = label == value
            out[hit] = cls
            known |= hit
    else:
        known = (label >= 0) & (label < coding)
        out = np.where(known, label, unknown).astype(np.uint8)
    values, counts = np.unique(label[~known], return_counts=True)
    return out, {v.item(): int(n) for v, n in zip(values, counts)}


# --------------------------------------------------------------------------- summary

MAX_UNKNOWN = 0.001   # default --max-unknown: share of one label file's pixels


def add_max_unknown(p: argparse.ArgumentParser) -> None:
    """The --max-unknown option every label-mapping converter offers."""
    p.add_argument('--max-unknown', type=float, default=MAX_UNKNOWN, metavar='FRACTION',
                   help='largest share of a label file\'s pixels whose colour/value maps to '
                        'no class (written as 255, ignored, and listed in the summary); a file '
                        f'with more stops the conversion (default {MAX_UNKNOWN})')


def _code(c) -> str:
    return f'({c[0]}, {c[1]}, {c[2]})' if isinstance(c, tuple) else str(c)


class LabelSummary:
    """What a converter wrote, and the label codes it could not map — so no label it is
    unsure of is written silently.

        log = C.LabelSummary('FUSAR-Map', ('background', 'water', ...), a.max_unknown)
        index, unknown = C.rgb_to_index(rgb, COLOURS)     # or C.values_to_index(...)
        log.check(label_path, unknown, index.size)        # raises past the threshold
        log.save(index, out_path, label_path)             # or log.wrote(out_path, index)
        log.skip(path, 'no SAR image')
        return log.finish()                               # prints the summary, returns it

    `check` raises a ConverterError naming the file, its unmapped colours/values and their
    pixel counts when they exceed `max_unknown` of the file's pixels (before anything of
    that file is written); below it they are written as 255 and listed by `finish`.
    """

    def __init__(self, dataset: str, classes: Sequence[str] | None = None,
                 max_unknown: float = MAX_UNKNOWN):
        self.dataset, self.classes, self.max_unknown = dataset, classes, max_unknown
        self.files = 0
        self.pixels = np.zeros(256, dtype=np.int64)
        self.unknown: dict = {}          # code → pixels (tolerated, written as 255)
        self.unknown_files: dict = {}    # code → file names
        self.skipped: list[tuple[str, str]] = []

    def check(self, src, unknown: dict, n_pixels: int) -> None:
        total = sum(unknown.values())
        if not total:
            return
        codes = sorted(unknown.items(), key=lambda kv: -kv[1])
        listed = ', '.join(f'{_code(c)} {n} px' for c, n in codes[:8]) + \
            (f', and {len(codes) - 8} more' if len(codes) > 8 else '')
        if total > self.max_unknown * n_pixels:
            raise ConverterError(
                f'{self.dataset}: {src}: {total} of {n_pixels} pixels '
                f'({100 * total / n_pixels:.2f}%) hold colours/values outside the official '
                f'coding: {listed}; nothing was written for this file. Check that this is '
                f'the official release; to write such pixels as 255 (ignored) instead, rerun '
                f'with --max-unknown {min(1.0, 2 * total / n_pixels):.3g}')
        for c, n in unknown.items():
            self.unknown[c] = self.unknown.get(c, 0) + n
            self.unknown_files.setdefault(c, []).append(Path(src).name)

    def wrote(self, dst, label: np.ndarray) -> None:
        self.files += 1
        self.pixels += np.bincount(np.asarray(label, np.uint8).ravel(), minlength=256)

    def save(self, label: np.ndarray, dst, src=None) -> None:
        save_label(label, dst, src)
        self.wrote(dst, label)

    def skip(self, path, why: str) -> None:
        self.skipped.append((str(path), why))

    def _name(self, idx: int):
        if idx == IGNORE:
            return 'ignored'
        if self.classes is not None and idx < len(self.classes):
            return self.classes[idx]
        return idx

    def finish(self) -> dict:
        """Print the summary (files written, pixels per class, tolerated unknown codes,
        skipped files and why); return it as a dict."""
        pixels = {self._name(i): int(n) for i, n in enumerate(self.pixels) if n}
        total = max(1, int(self.pixels.sum()))
        lines = [f'{self.dataset}: {self.files} label files written',
                 '  pixels per class: ' + (', '.join(
                     f'{k} {n} ({100 * n / total:.1f}%)' for k, n in pixels.items()) or 'none')]
        for c, n in sorted(self.unknown.items(), key=lambda kv: -kv[1]):
            files = self.unknown_files[c]
            lines.append(f'  written as 255 (maps to no class): {_code(c)} {n} px in '
                         f'{len(files)} file(s), e.g. {files[0]}')
        for path, why in self.skipped:
            lines.append(f'  skipped {path}: {why}')
        print('\n'.join(lines))
        return dict(files=self.files, pixels=pixels, unknown=dict(self.unknown),
                    skipped=list(self.skipped))


def binarize(mask: np.ndarray, threshold: int | None = None) -> np.ndarray:
    """A 0/255, 0/1 or any-positive mask as 0/1 uint8 (value > threshold → 1).

    threshold None ("auto"): a mask whose values are all ≤ 1 is taken as 0/1 (> 0), any
    other as 0/255 with compression noise (> 127). threshold 0: any positive value → 1.
    """
    if mask.ndim == 3:
        mask = mask[..., :3].max(axis=2)
    if threshold is None:
        threshold = 0 if mask.max(initial=0) <= 1 else 127
    return (mask > threshold).astype(np.uint8)


def save_label(arr: np.ndarray, dst, src=None) -> None:
    """Write a single-band uint8 label image losslessly (TIFF for .tif names, else PNG)."""
    dst = Path(dst)
    _safe_write_target(dst, src)
    # Always PNG-encoded, also under a '.jpg' name (the WBS-SI layout asks for '.jpg'
    # labels): JPEG is lossy and turns a 0/1 mask into 0/1/2 at edges. mmcv/PIL/cv2 decode
    # by content, not by name, so such a file loads exactly.
    fmt = 'TIFF' if dst.suffix.lower() in ('.tif', '.tiff') else 'PNG'
    Image.fromarray(arr.astype(np.uint8), mode='L').save(dst, format=fmt)


def convert_image(src, dst) -> None:
    """Copy an image (same extension) or re-encode it to the extension of `dst`."""
    src, dst = Path(src), Path(dst)
    _safe_write_target(dst, src)
    if src.suffix.lower() == dst.suffix.lower():
        shutil.copyfile(src, dst)
        return
    with Image.open(src) as im:
        if dst.suffix.lower() in ('.jpg', '.jpeg') and im.mode not in ('RGB', 'L'):
            im = im.convert('RGB')
        im.save(dst, quality=95) if dst.suffix.lower() in ('.jpg', '.jpeg') else im.save(dst)


def crop_boxes(h: int, w: int, size: int, stride: int) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) windows of size x size covering an h x w image with the given stride;
    the last row/column is shifted back to end at the border (smaller sides: one window)."""
    def starts(n):
        if n <= size:
            return [0]
        return list(range(0, n - size, stride)) + [n - size]
    return [(x, y, min(x + size, w), min(y + size, h)) for y in starts(h) for x in starts(w)]


def write_split(names: Iterable[str], path) -> Path:
    """A split list: one image name (no folder, no suffix) per line, sorted, unique."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(set(names))
    path.write_text(''.join(f'{n}\n' for n in names))
    return path


def parser(doc: str, source: str, layout: str) -> argparse.ArgumentParser:
    """The converters' shared --help: the docstring's first paragraph, the official source,
    the expected download layout, then the rest of the docstring."""
    parts = doc.split('\n\n', 2)
    return argparse.ArgumentParser(
        description=parts[0] + f'\nOfficial source: {source}.',
        epilog='expected official layout:\n' + layout + '\n\n' + (parts[2] if len(parts) > 2 else ''),
        formatter_class=argparse.RawDescriptionHelpFormatter)


def progress(items, desc: str):
    return tqdm(list(items), desc=desc, unit='img', disable=not sys.stderr.isatty()
                and os.environ.get('CONVERTER_PROGRESS') != '1')


def run_main(main) -> None:
    """Run a converter's main(); ConverterError → message on stderr, exit status 2."""
    try:
        main()
    except ConverterError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
