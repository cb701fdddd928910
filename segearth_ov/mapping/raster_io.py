"""Raster input and output of the predictor, through rasterio (GDAL).

Why rasterio: it reads any GDAL raster (GeoTIFF of any size, band count and type, PNG,
JPEG) in windows, so a 10,000 × 10,000 scene is never held whole, and it writes GeoTIFFs
block by block with the input's CRS and transform, as segment-geospatial and TorchGeo do.

Reading: `open_raster` (a path or an in-memory array), `select_bands` (the band policy of
`utils.images.to_three_bands`, plus `--bands`), `SceneReader` (model tiles, resampled when
the model sees the scene at another resolution, and the validity of source rows) and
`scene_stretch` (one 8-bit stretch per scene, from a decimated read, shared by all tiles).

Writing: `ClassMapWriter` (a uint8 class Cloud-Optimized GeoTIFF with nodata, colour table, class names in
the band metadata, a raster attribute table and category names in `.aux.xml`, and a QGIS
`.qml` style; optionally class probabilities; PNG on request), through
`utils.files.atomic_path` so that an interrupted run never leaves a half-written file under
the final name.
"""
from __future__ import annotations

import contextlib
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from ..utils.advice import how_to_set
from ..utils.files import atomic_path, write_text_atomic
from ..utils.images import (ImageReadError, apply_orientation, exif_orientation, linear_to_db,
                            percentile_range, to_uint8_rgb, valid_mask)

logger = logging.getLogger('segearth_ov')

NODATA_LABEL = 255          # class maps are uint8: 0–254 are classes, 255 is "no data"
OVERVIEW_SIDE = 2048        # long side of the decimated read used for the stretch and preview
GDAL_CACHE_MB = 256         # GDAL's block cache (default: 5 % of RAM) — part of the memory bound


def gdal_env():
    """rasterio environment of every read and write: a bounded block cache, internal masks,
    and no Python code from VRT files (a VRT's pixel function could otherwise run it)."""
    import rasterio
    # rasterio hands GDAL_CACHEMAX to GDALSetCacheMax64, which takes bytes
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2 ** 20, GDAL_TIFF_INTERNAL_MASK=True,
                        GDAL_VRT_ENABLE_PYTHON='NO')


@contextlib.contextmanager
def quiet_georeference():
    """Plain PNG/JPEG images have no georeference: that is expected, not worth a warning."""
    from rasterio.errors import NotGeoreferencedWarning
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        yield


# ------------------------------------------------------------------------------ reading
@contextlib.contextmanager
def open_raster(image, name: str = 'image', driver: str | None = None):
    """A rasterio dataset for a file path, a URL or STAC `sources.Source` (read remotely,
    window by window), or an H×W / H×W×B numpy array (bands last).

    `driver`: the only GDAL driver allowed to open the file (e.g. the one a web upload was
    checked with); without it GDAL picks one by content, and a file can look like a VRT.
    """
    import rasterio
    from rasterio.errors import RasterioIOError
    if isinstance(image, np.ndarray):
        arr = image if image.ndim == 3 else image[..., None]
        if arr.ndim != 3 or arr.dtype == bool or arr.dtype.kind not in 'uif':
            raise ImageReadError(f'{name}: expected an H×W or H×W×bands numeric array, got '
                                 f'shape {image.shape} and dtype {image.dtype}')
        if arr.dtype == np.int8 or arr.dtype.itemsize > 4 and arr.dtype.kind in 'ui':
            arr = arr.astype(np.float64)
        with _memory_raster(arr) as src:
            yield src
        return
    from .sources import Source, as_input, open_source
    if isinstance(as_input(image), Source):        # a URL or a STAC item's asset(s)
        with open_source(as_input(image), driver) as src:
            yield src
        return
    path = Path(image)
    if not path.is_file():
        raise ImageReadError(f'image not found: {path}')
    try:
        with quiet_georeference():
            src = rasterio.open(path, driver=driver)
    except RasterioIOError as err:
        raise ImageReadError(f'{path} cannot be read as an image or raster ({err}). '
                             'Give a GeoTIFF/TIFF, PNG or JPEG file.') from None
    try:
        orientation = 1 if is_georeferenced(src) else exif_orientation(path)
        if orientation == 1:
            yield src
            return
        # a photo's pixels turned as viewers show it (GDAL does not; mmcv does)
        logger.info('%s: EXIF orientation %d applied', path, orientation)
        arr = apply_orientation(np.moveaxis(src.read(), 0, 2), orientation)
        with _memory_raster(arr, src.colorinterp, src.nodatavals) as turned:
            yield turned
    finally:
        src.close()


@contextlib.contextmanager
def _memory_raster(arr: np.ndarray, colorinterp=None, nodatavals=None):
    """An in-memory GeoTIFF dataset of an H×W×B array (with the bands' colour
    interpretation and no-data value of the file it came from)."""
    from rasterio.io import MemoryFile
    nodata = None if nodatavals is None else nodatavals[0]
    profile = dict(driver='GTiff', height=arr.shape[0], width=arr.shape[1],
                   count=arr.shape[2], dtype=arr.dtype.name, nodata=nodata)
    with quiet_georeference(), MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(np.moveaxis(arr, 2, 0))
            if colorinterp is not None:
                dst.colorinterp = colorinterp
        with mem.open() as src:
            yield src


@contextlib.contextmanager
def opened(path):
    """open_raster of a file with the GDAL settings of the predictor (plans, --dry-run)."""
    with gdal_env(), quiet_georeference(), open_raster(path, str(path)) as src:
        yield src


def is_georeferenced(src) -> bool:
    return src.crs is not None


def select_bands(src, bands=None, sar: bool = False, name: str = 'image') -> tuple[list[int], int | None]:
    """The 1-based bands the model sees (1 or 3 of them) and the alpha band, if any.

    Without `bands`: 1 band → it (replicated to RGB later); 3 → all; 4 → bands 1–3 (the 4th
    is alpha, used as a mask, or NIR, dropped); SAR with 2 or more than 3 bands → band 1.
    Other band counts need `bands` (which three are R, G, B is not ours to guess).
    """
    from rasterio.enums import ColorInterp
    count = src.count
    alpha = None
    if count >= 2 and src.colorinterp[-1] == ColorInterp.alpha:    # an enum: its str() is '6'
        alpha = count
    if bands is not None:
        bands = [int(b) for b in bands]
        bad = [b for b in bands if not 1 <= b <= count]
        if bad:
            raise ImageReadError(f'{name}: band {bad[0]} does not exist; the file has {count} '
                                 f'band(s), numbered 1..{count}')
        if len(bands) not in (1, 3):
            raise ImageReadError(f'{name}: choose 1 band (replicated to RGB) or 3 bands '
                                 f'(R,G,B), got {len(bands)}: {bands}')
        return bands, alpha if alpha not in bands else None
    if count in (1, 3):
        return list(range(1, count + 1)), None
    if sar:
        logger.warning('%s has %d bands: using band 1 as the SAR image (choose another: %s)',
                       name, count, how_to_set('bands'))
        return [1], alpha if alpha != 1 else None
    if count == 4:
        if alpha is None:
            logger.warning('%s has 4 bands: using bands 1-3 as RGB and dropping band 4 '
                           '(NIR?); choose others: %s', name, how_to_set('bands'))
        return [1, 2, 3], alpha
    if count == 2 and alpha:
        return [1], alpha
    raise ImageReadError(f'{name} has {count} bands; the CLIP model needs 3 (RGB) or 1. '
                         f'Choose them: {how_to_set("bands")} (band numbers from 1)')


def band_nodata(src, bands, nodata=None):
    """The no-data value of the chosen bands: `nodata` if given, else the file's (or None)."""
    if nodata is not None:
        return float(nodata)
    value = src.nodatavals[bands[0] - 1]
    return None if value is None else float(value)


@dataclass
class SceneStretch:
    """The conversion of every tile of one scene to the model's uint8 RGB.

    `value_range` is None for 8-bit data (used as it is, like the reference) and otherwise
    the scene-wide per-band (lo, hi), so that all tiles share one stretch and no seams appear.
    """
    nodata: float | None
    to_db: bool
    value_range: tuple | None

    def __call__(self, img: np.ndarray, name: str = 'image') -> np.ndarray:
        return to_uint8_rgb(img, name, nodata=self.nodata, to_db=self.to_db,
                            value_range=self.value_range)

    def describe(self) -> dict:
        if self.value_range is None:
            return {'type': '8-bit, as is'}
        lo, hi = self.value_range
        return {'type': 'percentile stretch' + (' of 10·log10 (dB)' if self.to_db else ''),
                'low': [float(v) for v in lo], 'high': [float(v) for v in hi]}


def scene_stretch(overview: np.ndarray, nodata=None, to_db: bool = False,
                  percentiles=(2, 98)) -> SceneStretch:
    """Percentiles of the valid pixels of a (decimated) H×W×B read, as `to_uint8_rgb` takes them."""
    if overview.dtype == np.uint8:
        return SceneStretch(nodata, to_db, None)
    img = overview
    if to_db:
        valid = valid_mask(img, nodata)
        img = linear_to_db(img)
        img[~valid] = np.nan
    lo, hi = percentile_range(img, *percentiles, nodata=None if to_db else nodata)
    if len(lo) == 1:            # one band is replicated to R, G, B before the stretch
        lo, hi = np.repeat(lo, 3), np.repeat(hi, 3)
    return SceneStretch(nodata, to_db, (lo, hi))


def overview_shape(height: int, width: int, side: int = OVERVIEW_SIDE) -> tuple[int, int]:
    """A shape with long side ≤ `side` and the scene's aspect (the scene's own if smaller)."""
    f = max(height, width) / side
    if f <= 1:
        return height, width
    return max(1, round(height / f)), max(1, round(width / f))


def gdal_cause(err: BaseException) -> str:
    """The GDAL messages behind a rasterio error (rasterio chains them as causes): the first
    (which band, where) and the deepest (what went wrong: "got 5056 bytes, expected 7800")."""
    messages, seen = [], set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        text = str(err).strip()
        if text and 'see previous exception' not in text.lower():
            messages.append(text)
        err = err.__cause__ or err.__context__
    return '; '.join(dict.fromkeys(messages[:1] + messages[-1:])) or 'no details'


class SceneReader:
    """Reads the model's tiles of one scene and the validity of its source rows.

    Tiles are given in the model grid (the scene resampled by the plan's scale); they are
    read from the matching (fractional) source window with GDAL's bilinear resampling, or
    read as they are when the scale is 1.
    """

    def __init__(self, src, bands, alpha=None, nodata=None, to_db=False, percentiles=(2, 98),
                 name: str = 'image'):
        self.src, self.bands, self.alpha, self.name = src, bands, alpha, name
        self.nodata = band_nodata(src, bands, nodata)
        self.overview_hw = overview_shape(src.height, src.width)
        self.overview = self.read(out_shape=self.overview_hw, resampling='nearest')
        self.stretch = scene_stretch(self.overview, self.nodata, to_db, percentiles)

    def read(self, window=None, out_shape=None, resampling='bilinear', bands=None) -> np.ndarray:
        """H×W×B array of the chosen bands (bands last, the package's convention)."""
        from rasterio.enums import Resampling
        bands = bands or self.bands
        kw = {}
        if out_shape is not None:
            kw = dict(out_shape=(len(bands), *out_shape), resampling=Resampling[resampling])
        from rasterio.errors import RasterioIOError
        try:
            with quiet_georeference():
                data = self.src.read(bands, window=window, **kw)
        except RasterioIOError as err:   # "Read failed. See previous exception": GDAL's cause
            raise ImageReadError(f'{self.src.name}: the file is truncated or corrupt '
                                 f'(GDAL: {gdal_cause(err)})') from None
        return np.moveaxis(data, 0, -1)

    def valid(self, img: np.ndarray, window=None, out_shape=None) -> np.ndarray | None:
        """Validity of the pixels of `img` (read from `window`): finite, not nodata, alpha > 0.

        None when every pixel of the scene is valid by construction (integer data, no
        nodata value, no alpha band).
        """
        checks = img.dtype.kind == 'f' or self.nodata is not None
        if not checks and self.alpha is None:
            return None
        valid = valid_mask(img, self.nodata)
        if self.alpha is not None:
            alpha = self.read(window, out_shape, 'nearest', bands=[self.alpha])[..., 0]
            valid &= alpha > 0
        return valid

    def model_tile(self, window, shape) -> tuple[np.ndarray, np.ndarray | None]:
        """(uint8 RGB tile of `shape` for the model, its validity or None)."""
        same = (round(window.height), round(window.width)) == tuple(shape) and \
            float(window.row_off).is_integer() and float(window.col_off).is_integer()
        from rasterio.windows import Window
        if same:
            window = Window(int(window.col_off), int(window.row_off), shape[1], shape[0])
            img = self.read(window)
        else:
            img = self.read(window, out_shape=shape)
        valid = self.valid(img, window, None if same else shape)
        return self.stretch(img, self.name), valid

    def source_rows_valid(self, r0: int, r1: int) -> np.ndarray | None:
        """Validity (H×W bool) of source rows r0..r1, full width; None if all valid."""
        if np.dtype(self.src.dtypes[self.bands[0] - 1]).kind != 'f' and \
                self.nodata is None and self.alpha is None:
            return None
        from rasterio.windows import Window
        window = Window(0, r0, self.src.width, r1 - r0)
        return self.valid(self.read(window), window)


# ------------------------------------------------------------------------------ geography
def pixel_area_m2(crs, transform) -> float | None:
    """Ground area of one pixel in m² when the CRS is projected (None otherwise)."""
    if crs is None or not crs.is_projected:
        return None
    _, factor = crs.linear_units_factor
    return abs(transform.a * transform.e - transform.b * transform.d) * factor ** 2


def pixel_size_m(crs, transform) -> tuple[float, float] | None:
    """(x, y) pixel size in metres of a projected, north-up raster (None otherwise)."""
    if crs is None or not crs.is_projected or transform.b or transform.d:
        return None
    _, factor = crs.linear_units_factor
    return abs(transform.a) * factor, abs(transform.e) * factor


def crs_name(crs) -> str | None:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f'EPSG:{epsg}' if epsg else crs.to_wkt()


# ------------------------------------------------------------------------------ writing
def class_aux_xml(names: list[str], colours: np.ndarray) -> str:
    """GDAL PAM `.aux.xml` with category names and a thematic raster attribute table.

    Category names are GDAL's names of the values of a band; the attribute table (Value,
    Class_Name, Red, Green, Blue, Alpha) is what QGIS (3.30+) and ArcGIS show as classes.
    """
    cats = ''.join(f'      <Category>{escape(n)}</Category>\n' for n in names)
    # (name, type: 0 integer / 2 string, usage: 5 min=max / 2 name / 6-9 red..alpha)
    fields = [('Value', 0, 5), ('Class_Name', 2, 2), ('Red', 0, 6), ('Green', 0, 7),
              ('Blue', 0, 8), ('Alpha', 0, 9)]
    defs = ''.join(f'      <FieldDefn index="{i}"><Name>{n}</Name><Type>{t}</Type>'
                   f'<Usage>{u}</Usage></FieldDefn>\n' for i, (n, t, u) in enumerate(fields))
    rows = ''.join(
        f'      <Row index="{i}"><F>{i}</F><F>{escape(n)}</F><F>{c[0]}</F><F>{c[1]}</F>'
        f'<F>{c[2]}</F><F>255</F></Row>\n' for i, (n, c) in enumerate(zip(names, colours)))
    return ('<PAMDataset>\n  <PAMRasterBand band="1">\n    <Description>class</Description>\n'
            f'    <CategoryNames>\n{cats}    </CategoryNames>\n'
            f'    <GDALRasterAttributeTable tableType="thematic">\n{defs}{rows}'
            '    </GDALRasterAttributeTable>\n  </PAMRasterBand>\n</PAMDataset>\n')


def class_qml(names: list[str], colours: np.ndarray) -> str:
    """A QGIS style (paletted renderer with class names) that QGIS loads with the raster."""
    entries = ''.join(
        f'        <paletteEntry value="{i}" label="{escape(n, {chr(34): "&quot;"})}" '
        f'color="#{c[0]:02x}{c[1]:02x}{c[2]:02x}" alpha="255"/>\n'
        for i, (n, c) in enumerate(zip(names, colours)))
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.28" styleCategories="Symbology">\n  <pipe>\n'
            '    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1">\n'
            '      <rasterTransparency/>\n      <colorPalette>\n'
            f'{entries}      </colorPalette>\n    </rasterrenderer>\n  </pipe>\n</qgis>\n')


def write_cog(tif: Path, path: Path, resampling: str) -> Path:
    """A Cloud-Optimized GeoTIFF at `path` from the tiled GeoTIFF `tif` (GDAL's COG driver:
    256² deflate tiles, overviews by `resampling` until they fit one tile, in the layout
    that lets a viewer or STAC client read any part with a few HTTP range requests)."""
    from rasterio.shutil import copy as gdal_copy
    with gdal_env(), quiet_georeference(), atomic_path(path) as tmp:
        gdal_copy(tif, tmp, driver='COG', COMPRESS='DEFLATE', BLOCKSIZE=256,
                  OVERVIEW_RESAMPLING=resampling, BIGTIFF='IF_SAFER')
    return path


class ClassMapWriter:
    """Writes a class map (and optionally class probabilities) row block by row block.

    The GeoTIFF is a Cloud-Optimized GeoTIFF (`write_cog`: tiled, deflate, overviews),
    uint8 with nodata 255, with the input's CRS and transform (when it has them), a colour
    table and the class names (band metadata, `.aux.xml`, `.qml`); the probabilities too. With `fmt='png'` a temporary GeoTIFF is copied at the
    end into a palette PNG (no georeference). Use it as a context manager: files appear
    under their names only when the block completes; an error leaves earlier files intact.
    """

    def __init__(self, labels_path: Path, names: list[str], colours: np.ndarray, height: int,
                 width: int, crs=None, transform=None, probs_path: Path | None = None,
                 probs_dtype: str = 'uint8', fmt: str = 'tif'):
        if len(names) >= NODATA_LABEL:
            raise ValueError(f'{len(names)} classes: a uint8 class map holds at most '
                             f'{NODATA_LABEL - 1} (255 is no data)')
        if probs_dtype not in ('uint8', 'float32'):
            raise ValueError(f'probability type {probs_dtype!r}: use uint8 (p·255) or float32')
        if fmt not in ('tif', 'png'):
            raise ValueError(f'output format {fmt!r}: use tif or png')
        self.labels_path, self.probs_path, self.fmt = Path(labels_path), probs_path, fmt
        self.names, self.colours, self.probs_dtype = names, colours, probs_dtype
        self.shape = (height, width)
        self.geo = dict(crs=crs, transform=transform) if crs is not None else {}

    def __enter__(self):
        import rasterio
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(gdal_env())
        self._stack.enter_context(quiet_georeference())
        block = dict(driver='GTiff', height=self.shape[0], width=self.shape[1], tiled=True,
                     blockxsize=256, blockysize=256, compress='deflate', BIGTIFF='IF_SAFER',
                     **self.geo)
        # written block by block into a tiled GeoTIFF, copied at the end into a COG (or PNG)
        target = self.labels_path.with_name(self.labels_path.name + '.tif')
        self._tif = self._stack.enter_context(atomic_path(target, keep=False))
        self.dst = self._stack.enter_context(
            rasterio.open(self._tif, 'w', count=1, dtype='uint8', nodata=NODATA_LABEL, **block))
        self.dst.set_band_description(1, 'class')
        self.dst.update_tags(CLASS_NAMES=json.dumps(self.names))
        self.dst.update_tags(1, **{f'CLASS_{i}': n for i, n in enumerate(self.names)})
        cmap = {i: (*map(int, c), 255) for i, c in enumerate(self.colours)}
        cmap[NODATA_LABEL] = (0, 0, 0, 0)
        self.dst.write_colormap(1, cmap)
        self.pdst = None
        if self.probs_path is not None:
            probs = Path(self.probs_path)
            self._ptif = ptif = self._stack.enter_context(
                atomic_path(probs.with_name(probs.name + '.tif'), keep=False))
            self.pdst = self._stack.enter_context(rasterio.open(
                ptif, 'w', count=len(self.names), dtype=self.probs_dtype,
                nodata=np.nan if self.probs_dtype == 'float32' else None, **block))
            for i, n in enumerate(self.names, 1):
                self.pdst.set_band_description(i, n)
            if self.probs_dtype == 'uint8':
                self.pdst.scales = [1 / 255] * len(self.names)
                self.pdst.update_tags(SCALE='probability = value / 255')
        return self

    def write(self, r0: int, labels: np.ndarray, probs: np.ndarray | None = None,
              valid: np.ndarray | None = None) -> None:
        """Rows r0.. of the class map (H×W uint8), probabilities C×H×W float, validity."""
        from rasterio.windows import Window
        window = Window(0, r0, labels.shape[1], labels.shape[0])
        self.dst.write(labels[None], window=window)
        if self.pdst is not None and probs is not None:
            if self.probs_dtype == 'uint8':
                p = np.rint(np.clip(probs, 0, 1) * 255).astype(np.uint8)
                self.pdst.write(p, window=window)
                mask = np.full(labels.shape, 255, np.uint8) if valid is None else \
                    valid.astype(np.uint8) * 255
                self.pdst.write_mask(mask, window=window)
            else:
                p = probs.astype(np.float32, copy=True)
                if valid is not None:
                    p[:, ~valid] = np.nan
                self.pdst.write(p, window=window)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._stack.__exit__(exc_type, exc, tb)   # partial files are removed
            return False
        tif = self._tif
        self._stack.close()     # closes the datasets; the temporary GeoTIFFs stay for the copy
        try:
            if self.probs_path is not None:
                write_cog(self._ptif, Path(self.probs_path), 'AVERAGE')
            if self.fmt == 'tif':
                write_cog(tif, self.labels_path, 'NEAREST')
                write_text_atomic(Path(f'{self.labels_path}.aux.xml'),
                                  class_aux_xml(self.names, self.colours))
                write_text_atomic(self.labels_path.with_suffix('.qml'),
                                  class_qml(self.names, self.colours))
            else:
                import rasterio
                from rasterio.shutil import copy as gdal_copy
                with rasterio.Env(GDAL_PAM_ENABLED=False), quiet_georeference(), \
                        atomic_path(self.labels_path) as tmp:
                    gdal_copy(tif, tmp, driver='PNG')
        finally:
            tif.unlink(missing_ok=True)
            if self.probs_path is not None:
                self._ptif.unlink(missing_ok=True)
        return False
