"""Which GDAL driver may open a file that came from a user, decided once and then pinned.

Why: GDAL picks a driver by content each time a file is opened, and some formats read other
files (a VRT names any file on the machine; its "raw" bands return that file's bytes as
pixels). A JPEG whose comment segment holds a `<VRTDataset>` passes as a JPEG and is opened
as a VRT the next time. So the driver chosen here travels with the scene, and every later
open (`open_raster(..., driver=)`, the tiles, the job) lets only that driver read it.

Uploads: only self-contained formats, tried one driver at a time. --data-dir files: the
format GDAL would pick, which must be self-contained, or a VRT whose every file GDAL would
open resolves inside --data-dir (recursively) and which runs no code. What a VRT opens is
asked of GDAL (the dataset's file list and its own serialisation of what it parsed), never
read from the XML by us: GDAL ignores XML namespaces, takes open options such as ROOT_PATH,
and reads mask bands and overviews from sources of their own.

Every open of a user's file runs under `user_env`: no sidecar files (.ovr, .msk, .aux.xml,
found by listing the folder, would otherwise be opened by GDAL itself, whatever their
format) and no network (/vsicurl/ and the cloud file systems are refused by GDAL).
"""
from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from pathlib import Path

from .safety import RequestError

# self-contained rasters: they never read another file's pixels
SELF_CONTAINED = ('GTiff', 'PNG', 'JPEG', 'JP2OpenJPEG', 'BMP')
FORMATS_TEXT = 'GeoTIFF/TIFF, PNG, JPEG, JPEG 2000 or BMP'
VRT_MAX_BYTES = 16 * 2 ** 20
VRT_MAX_DEPTH = 8
# GDAL's /vsicurl/ (and the cloud file systems built on it) open only this file name
NO_NETWORK = '/segearth-webui-no-network'


@contextlib.contextmanager
def user_env():
    """GDAL settings of every open of a file that came from a user: the predictor's
    (`gdal_env`: no Python in VRTs), no sibling files (GDAL then sees an empty folder, so
    no .ovr/.msk/.aux.xml sidecar is opened) and no network access."""
    import rasterio

    from ..mapping.raster_io import gdal_env, quiet_georeference
    with gdal_env(), quiet_georeference(), rasterio.Env(
            GDAL_DISABLE_READDIR_ON_OPEN='EMPTY_DIR', CPL_VSIL_CURL_ALLOWED_FILENAME=NO_NETWORK):
        yield


def upload_driver(path: Path, name: str) -> str:
    """The first of SELF_CONTAINED that opens the upload (GDAL tries only that driver)."""
    import rasterio
    with user_env():
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
    try:
        with user_env(), rasterio.open(path) as src:
            driver = src.driver
    except Exception:       # noqa: BLE001  (rasterio/GDAL errors of every kind)
        raise RequestError(f'{name!r} does not open as a raster: pick a {FORMATS_TEXT} '
                           'file or a VRT of such files') from None
    if driver not in SELF_CONTAINED:
        raise RequestError(f'{name!r} is in the {driver} format, which can read other files: '
                           f'convert it to GeoTIFF (gdal_translate) or pick a {FORMATS_TEXT} '
                           'file')
    return driver


def vrt_files(path: Path) -> tuple[list[str], str]:
    """(the files GDAL lists for the VRT, GDAL's serialisation of the VRT it parsed)."""
    import rasterio
    with user_env(), rasterio.open(path, driver='VRT') as src:
        return list(src.files), src.tags(ns='xml:VRT').get('xml:VRT', '')


def check_vrt(path: Path, root: Path, name: str, depth: int = 0) -> None:
    """Refuse a VRT that GDAL does not open, or one that would make GDAL open a file outside
    `root`, a non-file source (/vsicurl/, "HDF5:…"), a source with open options (ROOT_PATH
    re-roots a nested VRT), Python pixel functions, or VRTs nested deeper than VRT_MAX_DEPTH."""
    def refuse(why):
        raise RequestError(f'{name!r} is a VRT that {why}: only VRTs of {FORMATS_TEXT} files '
                           'inside the data folder can be picked')

    if depth > VRT_MAX_DEPTH:
        refuse(f'nests VRTs more than {VRT_MAX_DEPTH} deep')
    if path.stat().st_size > VRT_MAX_BYTES:
        refuse(f'is larger than {VRT_MAX_BYTES // 2 ** 20} MB')
    try:
        files, xml = vrt_files(path)
        tree = ET.fromstring(xml)
    except Exception as err:        # noqa: BLE001  (GDAL's errors of every kind)
        refuse(f'GDAL cannot open ({str(err).splitlines()[0][:200]})')
    if tree.get('subClass') not in (None, 'VRTWarpedDataset'):
        refuse(f'is a {tree.get("subClass")}')
    named = []          # sources GDAL parsed but does not list (mask bands' sources)
    for el in tree.iter():
        if el.tag == 'OpenOptions':
            refuse('passes open options to a source')
        if el.tag == 'PixelFunctionLanguage' and (el.text or '').strip().lower() != 'c':
            refuse('holds pixel-function code')
        if el.tag in ('SourceFilename', 'SourceDataset'):
            ref = el.text or ''
            relative = el.get('relativeToVRT', '0').strip() == '1' and not ref.startswith('/')
            named.append(str(path.parent / ref) if relative else ref)
    this = path.resolve()
    for ref in dict.fromkeys(files + named):
        if not ref or any(c in ref for c in ':<\0') or ref.startswith('/vsi'):
            refuse(f'names {ref!r}, which is not a plain file path')
        target = Path(ref).resolve()
        if target == this:
            continue
        if target != root and root not in target.parents:
            refuse(f'reads {shown(ref, root)!r}, outside the data folder')
        if not target.is_file():
            refuse(f'reads {shown(ref, root)!r}, which is not a file')
        data_dir_driver(target, root, name, depth + 1)


def shown(ref: str, root: Path) -> str:
    """A file name as an error message shows it: relative to the data folder when inside."""
    target = Path(ref).resolve()
    return str(target.relative_to(root)) if root in target.parents else ref
