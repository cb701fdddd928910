"""Which GDAL driver may open a file that came from a user, decided once and then pinned.

Why: GDAL picks a driver by content each time a file is opened, and some formats read other
files (a VRT names any file on the machine; its "raw" bands return that file's bytes as
pixels). A JPEG whose comment segment holds a `<VRTDataset>` passes as a JPEG and is opened
as a VRT the next time. So the driver chosen here travels with the scene, and every later
open (`open_raster(..., driver=)`, the tiles, the job) lets only that driver read it.

Uploads: only self-contained formats, tried one driver at a time. --data-dir files: the
format GDAL would pick, which must be self-contained, or a VRT whose every referenced file
resolves inside --data-dir (recursively) and which runs no code.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .safety import RequestError

# self-contained rasters: they never read another file's pixels
SELF_CONTAINED = ('GTiff', 'PNG', 'JPEG', 'JP2OpenJPEG', 'BMP')
FORMATS_TEXT = 'GeoTIFF/TIFF, PNG, JPEG, JPEG 2000 or BMP'
VRT_MAX_BYTES = 16 * 2 ** 20
VRT_MAX_DEPTH = 8
_REFERENCES = ('sourcefilename', 'sourcedataset')   # VRT elements that name a file


def upload_driver(path: Path, name: str) -> str:
    """The first of SELF_CONTAINED that opens the upload (GDAL tries only that driver)."""
    import rasterio

    from ..mapping.raster_io import gdal_env, quiet_georeference
    with gdal_env(), quiet_georeference(), rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN='EMPTY_DIR'):
        for driver in SELF_CONTAINED:
            try:
                with rasterio.open(path, driver=driver):
                    return driver
            except Exception:       # noqa: BLE001, S112  (not this format)
                continue
    raise RequestError(f'{name!r} does not open as a raster: upload a {FORMATS_TEXT} image')


def looks_like_vrt(path: Path) -> bool:
    """Whether GDAL's VRT driver would claim the file: "<VRTDataset" in its first 1024
    bytes before a NUL (GDAL's own test), matched here without regard to case."""
    with open(path, 'rb') as f:
        head = f.read(1024).split(b'\0', 1)[0]
    return b'<vrtdataset' in head.lower()


def data_dir_driver(path: Path, root: Path, name: str, depth: int = 0) -> str:
    """The driver for a --data-dir file: refused unless self-contained or a VRT whose every
    file lies inside `root`."""
    if looks_like_vrt(path):
        check_vrt(path, root, name, depth)
        return 'VRT'
    import rasterio

    from ..mapping.raster_io import gdal_env, quiet_georeference
    try:
        with gdal_env(), quiet_georeference(), rasterio.open(path) as src:
            driver = src.driver
    except Exception:       # noqa: BLE001  (rasterio/GDAL errors of every kind)
        raise RequestError(f'{name!r} does not open as a raster: pick a {FORMATS_TEXT} '
                           'file or a VRT of such files') from None
    if driver not in SELF_CONTAINED:
        raise RequestError(f'{name!r} is in the {driver} format, which can read other files: '
                           f'convert it to GeoTIFF (gdal_translate) or pick a {FORMATS_TEXT} '
                           'file')
    return driver


def check_vrt(path: Path, root: Path, name: str, depth: int = 0) -> None:
    """Refuse a VRT naming a file outside `root`, a non-file source (/vsicurl/, "HDF5:…",
    inline XML), Python pixel functions, or nesting deeper than VRT_MAX_DEPTH."""
    def refuse(why):
        raise RequestError(f'{name!r} is a VRT that {why}: only VRTs of {FORMATS_TEXT} files '
                           'inside the data folder can be picked')

    if depth > VRT_MAX_DEPTH:
        refuse(f'nests VRTs more than {VRT_MAX_DEPTH} deep')
    if path.stat().st_size > VRT_MAX_BYTES:
        refuse(f'is larger than {VRT_MAX_BYTES // 2 ** 20} MB')
    text = path.read_bytes()
    if b'<!doctype' in text.lower() or b'<!entity' in text.lower():
        refuse('declares a DTD or entities')
    try:
        tree = ET.fromstring(text)
    except ET.ParseError as err:
        refuse(f'is not well-formed XML ({err})')
    if tree.tag.lower() != 'vrtdataset':
        refuse(f'does not start with <VRTDataset> but <{tree.tag}>')
    for el in tree.iter():
        tag = el.tag.lower() if isinstance(el.tag, str) else ''
        if tag in ('pixelfunctioncode', 'pixelfunctionlanguage'):
            refuse('holds pixel-function code')
        if tag not in _REFERENCES:
            continue
        ref = el.text or ''
        attrs = {k.lower(): v for k, v in el.attrib.items()}
        if not ref or ref != ref.strip() or any(c in ref for c in ':<\0') or \
                ref.startswith('/vsi'):
            refuse(f'names {ref!r}, which is not a plain file path')
        base = path.parent if attrs.get('relativetovrt', '0').strip() == '1' else Path.cwd()
        target = (base / ref).resolve()
        if target != root and root not in target.parents:
            refuse(f'reads {ref!r}, outside the data folder')
        if not target.is_file():
            refuse(f'reads {ref!r}, which is not a file')
        data_dir_driver(target, root, name, depth + 1)
