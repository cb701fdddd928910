"""Inputs that are not local files: (Cloud-Optimized) GeoTIFFs by URL, read window by window.

Why: Sentinel-2, NAIP or an orthophoto programme are published as COGs on HTTP servers and
object stores; a scene is read with HTTP range requests through GDAL's virtual file systems
(`https://` → /vsicurl/, `s3://` → /vsis3/, `gs://` → /vsigs/, `az://` → /vsiaz/, with the
credentials GDAL finds in the environment), so memory and bytes read follow the windows
processed, as for a local file. STAC items (`stac.py`) become `Source`s too.

Secrets: a URL's query string (signed URLs) and user:password never leave this module in
text — `public_url` is what names a source in messages, summaries, manifests and catalogues,
and `redact` cleans GDAL's messages, which repeat the file name.

The GDAL settings of remote reads are `REMOTE_GDAL` (the environment's own values win).
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from ..utils.images import ImageReadError

logger = logging.getLogger('segearth_ov')

VSI = {'http': '/vsicurl/', 'https': '/vsicurl/', 's3': '/vsis3/', 'gs': '/vsigs/',
       'az': '/vsiaz/'}
# GDAL settings of every remote read; a variable set in the environment keeps its value
REMOTE_GDAL = dict(
    GDAL_DISABLE_READDIR_ON_OPEN='EMPTY_DIR',    # no directory listing to find side-car files
    GDAL_HTTP_MAX_RETRY='3',                     # 429/5xx answers are retried by GDAL …
    GDAL_HTTP_RETRY_DELAY='1',                   # … after 1, 2, 4 s; a dropped read by `read`
    GDAL_HTTP_CONNECTTIMEOUT='30',
    GDAL_HTTP_TIMEOUT='300',
    CPL_VSIL_CURL_CACHE_SIZE=str(64 * 2 ** 20),  # downloaded ranges kept (bytes): a memory bound
    GDAL_HTTP_MULTIPLEX='YES',
)
FULL_DOWNLOAD_MB = 64     # a server without range requests: files up to this size are fetched whole


def is_url(item) -> bool:
    """A URL GDAL reads remotely (http, https, s3, gs, az)."""
    return isinstance(item, str) and '://' in item and urlsplit(item).scheme.lower() in VSI


def vsi_path(url: str) -> str:
    """The GDAL file name of a URL: /vsicurl/https://…, /vsis3/bucket/key, …"""
    scheme = urlsplit(url).scheme.lower()
    if VSI[scheme] == '/vsicurl/':
        return '/vsicurl/' + url
    return VSI[scheme] + url.split('://', 1)[1]


def public_url(url: str) -> str:
    """The URL without what may be a secret: user:password, the query string, the fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit('@', 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, '', ''))


def redact(text: str, url: str | None = None) -> str:
    """`text` (e.g. a GDAL message) without the query string of `url` or of any URL in it."""
    if url:
        parts = urlsplit(url)
        for secret in ('?' + parts.query, '#' + parts.fragment,
                       parts.netloc.rpartition('@')[0] + '@'):
            if len(secret) > 1:
                text = text.replace(secret, '')
    return re.sub(r'(https?://)[^/\s@]+@', r'\1', re.sub(r'(https?://[^\s?#\'"]+)\?[^\s\'",]*',
                                                         r'\1', text))


@dataclass(frozen=True)
class Source:
    """A scene that is not a plain local path: a URL, or a STAC item's asset(s).

    href: what GDAL opens (a local path or a URL; may hold a signed query: never shown).
    stem: names the outputs. item: the public href of the STAC item it comes from.
    layers: ((href, band), …) of a band selection by common name, stacked in that order.
    """
    href: str
    stem: str
    item: str | None = None
    asset: str | None = None
    layers: tuple = ()

    def __str__(self) -> str:
        if self.layers and self.item:       # bands of several assets: the item names them
            return f'{self.item} [{self.asset}]'
        return public_url(self.href) if is_url(self.href) else self.href

    @property
    def remote(self) -> bool:
        return is_url(self.href) or any(is_url(h) for h, _ in self.layers)


def as_input(item):
    """A Source for URL strings and Sources, a Path for anything else (a local file; a
    Path is never read remotely, whatever it spells)."""
    if isinstance(item, Source):
        return item
    if is_url(item):
        return Source(item, url_stem(item))
    return Path(item)


def url_stem(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).stem or urlsplit(url).hostname or 'scene'


def stem_of(item) -> str:
    """The name of an input's outputs: the file name's stem, or a STAC item's id."""
    return as_input(item).stem


def provenance(item) -> dict:
    """What a scene summary records of a STAC source: the item and the asset(s) read."""
    if isinstance(item, Source) and item.item:
        return dict(stac_item=item.item, asset=item.asset)
    return {}


def remote_env(*vsi: str) -> dict:
    """REMOTE_GDAL, under the environment's values, and GDAL's non-cached list for `vsi`
    (closing a dataset then forgets the ranges it fetched: a reopened one fetches afresh)."""
    env = {k: v for k, v in REMOTE_GDAL.items() if k not in os.environ}
    # GDAL splits this list on ':', so a URL counts as its prefix '/vsicurl/http(s)'
    env['CPL_VSIL_CURL_NON_CACHED'] = ':'.join(vsi)
    return env


def remote_setting(key: str) -> float:
    """A numeric setting of REMOTE_GDAL as it applies (the environment's value first)."""
    return float(os.environ.get(key, REMOTE_GDAL[key]))


def open_message(source: Source, err: BaseException) -> tuple[str, int | None]:
    """(clear message, HTTP status) of a failed open of a remote source."""
    from .raster_io import gdal_cause
    cause = redact(gdal_cause(err), source.href)
    name = str(source)
    m = re.search(r'HTTP response code: (\d+)', cause)
    # the object stores' own words (/vsis3/, /vsigs/, /vsiaz/ parse the error document)
    code = int(m[1]) if m else \
        404 if re.search(r'not found|NoSuchKey|does not exist', cause, re.I) else \
        403 if re.search(r'AccessDenied|Access Denied|Forbidden', cause, re.I) else None
    if not source.remote:
        return f'{name} cannot be read as a raster (GDAL: {cause})', None
    if code:
        from http import HTTPStatus
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = 'error'
        hint = {401: 'access denied: give credentials', 403: 'access denied: a signed URL may '
                'have expired: sign it again; or the credentials in the environment (AWS_*, '
                'GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*) do not allow reading it; '
                'AWS_NO_SIGN_REQUEST=YES reads a public bucket',
                404: 'no file at this URL: check it; a STAC item may point to a moved asset'}
        return f'{name}: HTTP {code} {reason} ({hint.get(code, "the server refused the read")})', code
    if 'range downloading not supported' in cause.lower():
        return f'{name}: the server does not answer HTTP range requests', None
    return f'{name} cannot be opened as a raster (GDAL: {cause})', None


def _range_less(source: Source, message: str):
    """The bytes of a file whose server ignores range requests, when it is small enough to
    fetch whole (with a warning); otherwise an ImageReadError that says what to do."""
    import urllib.request
    limit = float(os.environ.get('SEGEARTH_FULL_DOWNLOAD_MB', FULL_DOWNLOAD_MB))
    if not source.href.lower().startswith(('http://', 'https://')) or source.layers:
        raise ImageReadError(message)
    try:
        with urllib.request.urlopen(urllib.request.Request(source.href, method='HEAD'),
                                    timeout=remote_setting('GDAL_HTTP_CONNECTTIMEOUT')) as r:
            size = int(r.headers.get('Content-Length') or 0)
    except OSError as err:
        raise ImageReadError(f'{message}; its size is unknown ({redact(str(err), source.href)})') from None
    if not size or size > limit * 2 ** 20:
        raise ImageReadError(
            f'{message}, so it cannot be read window by window, and it is '
            f'{size / 2 ** 20:.0f} MB, above the {limit:g} MB fetched whole '
            '($SEGEARTH_FULL_DOWNLOAD_MB): download it (curl -o scene.tif URL) and give the '
            'file, or serve it from a server with range support (any object store)')
    logger.warning('%s; it is %.1f MB (under %g MB, $SEGEARTH_FULL_DOWNLOAD_MB): '
                   'downloading it whole', message, size / 2 ** 20, limit)
    try:
        with urllib.request.urlopen(source.href, timeout=remote_setting('GDAL_HTTP_TIMEOUT')) as r:
            return r.read()
    except OSError as err:
        raise ImageReadError(f'{source}: download failed ({redact(str(err), source.href)})') from None


class RemoteDataset:
    """A rasterio dataset of a remote source whose reads are retried: a connection that
    drops while a window is read (which GDAL does not retry) is reopened and the window
    read again, GDAL_HTTP_MAX_RETRY times, GDAL_HTTP_RETRY_DELAY seconds apart (doubling);
    then ImageReadError fails this scene (a region run goes on with the others).
    Everything else is the rasterio dataset's; `name` is the public URL."""

    def __init__(self, source: Source, opener):
        self.source, self._opener, self.name = source, opener, str(source)
        self._ds = opener()

    def __getattr__(self, key):
        return getattr(self._ds, key)

    def read(self, *args, **kwargs):
        from rasterio.errors import RasterioIOError
        from .raster_io import gdal_cause
        tries, delay = int(remote_setting('GDAL_HTTP_MAX_RETRY')), remote_setting('GDAL_HTTP_RETRY_DELAY')
        for attempt in range(tries + 1):
            try:
                return self._ds.read(*args, **kwargs)
            except RasterioIOError as err:
                cause = redact(gdal_cause(err), self.source.href)
                if attempt == tries:
                    break
                logger.warning('%s: a read failed (%s); retry %d of %d', self.name, cause,
                               attempt + 1, tries)
                time.sleep(delay * 2 ** attempt)
                self._ds.close()
                self._ds = self._opener()
        raise ImageReadError(f'{self.name}: reading failed {tries + 1} times (GDAL: {cause}); '
                             'the connection dropped or the file changed: run again to retry '
                             'the scene (a region run redoes only unfinished scenes)')

    def close(self):
        self._ds.close()


def read_rgb(url: str):
    """The whole image at a URL as RGB uint8 H×W×3, as `utils.images.read_image` reads a
    file (`apis.inference_image`: small images, which the model sees whole)."""
    import numpy as np
    from ..utils.images import to_uint8_rgb
    from .raster_io import gdal_env, open_raster
    with gdal_env(), open_raster(url) as src:
        img = np.moveaxis(src.read(), 0, -1)
    return to_uint8_rgb(img, str(as_input(url)))


def stacked_vrt(layers, paths) -> str:
    """A VRT (XML) stacking band `b` of each layer's file (`paths`: their GDAL names),
    in order: the bands of a STAC item chosen by common name, from one asset or several."""
    import rasterio
    from xml.sax.saxutils import escape
    infos = {}
    for (href, _), path in zip(layers, paths):
        if path not in infos:
            with rasterio.open(path) as src:
                infos[path] = (src.width, src.height, src.crs, src.transform, src.dtypes,
                               src.block_shapes, src.nodatavals, src.count)
    sizes = {i[:2] for i in infos.values()}
    if len(sizes) > 1:
        raise ImageReadError('the chosen bands have different sizes '
                             f'({", ".join(f"{w}×{h}" for w, h in sorted(sizes))}): choose '
                             'bands of one resolution')
    w, h, crs, transform = next(iter(infos.values()))[:4]
    bands = ''
    for k, ((_, b), path) in enumerate(zip(layers, paths), 1):
        _, _, _, _, dtypes, blocks, nodata, count = infos[path]
        if not 1 <= b <= count:
            raise ImageReadError(f'band {b} does not exist in an asset of {count} band(s)')
        dtype = {'uint8': 'Byte', 'uint16': 'UInt16', 'int16': 'Int16', 'uint32': 'UInt32',
                 'int32': 'Int32', 'float32': 'Float32', 'float64': 'Float64',
                 'int8': 'Int8'}[dtypes[b - 1]]
        nd = '' if nodata[b - 1] is None else f'    <NoDataValue>{nodata[b - 1]!r}</NoDataValue>\n'
        by, bx = blocks[b - 1]
        bands += (f'  <VRTRasterBand dataType="{dtype}" band="{k}">\n{nd}'
                  '    <SimpleSource>\n'
                  f'      <SourceFilename relativeToVRT="0">{escape(path)}</SourceFilename>\n'
                  f'      <SourceBand>{b}</SourceBand>\n'
                  f'      <SourceProperties RasterXSize="{w}" RasterYSize="{h}" '
                  f'DataType="{dtype}" BlockXSize="{bx}" BlockYSize="{by}"/>\n'
                  f'      <SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>\n'
                  f'      <DstRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>\n'
                  '    </SimpleSource>\n  </VRTRasterBand>\n')
    srs = f'  <SRS>{escape(crs.to_wkt())}</SRS>\n' if crs is not None else ''
    geo = f'  <GeoTransform>{", ".join(repr(v) for v in transform.to_gdal())}</GeoTransform>\n'
    return f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}">\n{srs}{geo}{bands}</VRTDataset>\n'


def gdal_name(href: str) -> str:
    return vsi_path(href) if is_url(href) else href


@contextlib.contextmanager
def open_source(source: Source, driver: str | None = None):
    """The rasterio dataset of a Source (a RemoteDataset when remote): opened under
    REMOTE_GDAL; 403/404, a server without range requests and other failures are one
    ImageReadError naming the public URL."""
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.io import MemoryFile
    from .raster_io import quiet_georeference
    paths = [gdal_name(h) for h, _ in source.layers] or [gdal_name(source.href)]
    with contextlib.ExitStack() as stack:
        if source.remote:
            stack.enter_context(rasterio.Env(**remote_env(*[p for p in paths
                                                            if p.startswith('/vsi')])))
        stack.enter_context(quiet_georeference())
        if source.layers:
            try:
                xml = stacked_vrt(source.layers, paths)
            except RasterioIOError as err:
                raise ImageReadError(open_message(source, err)[0]) from None
            mem = stack.enter_context(MemoryFile(xml.encode(), ext='.vrt'))
            path, driver = mem.name, 'VRT'
        else:
            path = paths[0]

        def opener():
            return rasterio.open(path, driver=driver)
        if not source.remote:
            try:
                src = stack.enter_context(rasterio.open(path, driver=driver))
            except RasterioIOError as err:
                raise ImageReadError(open_message(source, err)[0]) from None
            yield src
            return
        try:
            src = RemoteDataset(source, opener)
        except RasterioIOError as err:
            message, _ = open_message(source, err)
            if not message.endswith('range requests'):
                raise ImageReadError(message) from None
            data = _range_less(source, message)
            mem = stack.enter_context(MemoryFile(data))
            src = RemoteDataset(source, lambda: mem.open(driver=driver))
        try:
            yield src
        finally:
            src.close()
