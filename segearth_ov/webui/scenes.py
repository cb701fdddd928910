"""Scenes the page works on: an uploaded file or one picked from --data-dir, checked to open
as a raster, with the predictor's band choice and stretch for the map pictures.

Why a registry: the page refers to scenes by an id, never by a path, so no client-supplied
path is read after `safety.inside` has accepted it once.
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..apis.raster_io import (SceneReader, crs_name, gdal_env, is_georeferenced, open_raster,
                              pixel_size_m, select_bands)
from ..utils.images import ImageReadError
from .safety import RequestError


@dataclass
class Scene:
    id: str
    name: str
    path: Path
    source: str                   # 'upload' or 'data-dir'
    width: int
    height: int
    count: int
    dtype: str
    crs: str | None
    bounds: list | None           # [[south, west], [north, east]] when georeferenced
    pixel_size_m: list | None
    _stretch: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def info(self) -> dict:
        return dict(id=self.id, name=self.name, source=self.source, width=self.width,
                    height=self.height, bands=self.count, dtype=self.dtype, crs=self.crs,
                    georeferenced=self.crs is not None, bounds=self.bounds,
                    pixel_size_m=self.pixel_size_m)

    def reading(self, src, bands=None, percentiles=(2, 98), sar=False):
        """(bands, alpha, nodata, stretch) as the predictor would read this scene."""
        key = (tuple(bands) if bands else None, tuple(percentiles), bool(sar))
        with self._lock:
            if key not in self._stretch:
                try:
                    chosen, alpha = select_bands(src, bands, sar, self.name)
                except ValueError as err:       # ImageReadError too: bands the file lacks
                    raise RequestError(str(err)) from None
                reader = SceneReader(src, chosen, alpha, None, False, percentiles, self.name)
                self._stretch[key] = (chosen, alpha, reader.nodata, reader.stretch)
            return self._stretch[key]


# formats an upload may be in: self-contained rasters (GDAL picks a driver by content, and a
# VRT or similar named "x.tif" could make the server read other files)
UPLOAD_DRIVERS = ('GTiff', 'PNG', 'JPEG', 'JP2OpenJPEG', 'BMP')


def check_upload_format(path: Path, name: str) -> None:
    import rasterio

    from ..apis.raster_io import quiet_georeference
    with gdal_env(), quiet_georeference(), rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN='EMPTY_DIR'):
        for driver in UPLOAD_DRIVERS:          # GDAL is asked to try only this driver
            try:
                with rasterio.open(path, driver=driver):
                    return
            except Exception:       # noqa: BLE001, S112  (not this format)
                continue
    raise RequestError(f'{name!r} does not open as a raster: upload a GeoTIFF/TIFF, PNG, '
                       'JPEG, JPEG 2000 or BMP image')


def open_scene(path: Path, name: str, source: str) -> Scene:
    """A Scene for `path`, or RequestError when it does not open as a raster."""
    if source == 'upload':
        check_upload_format(path, name)
    try:
        with gdal_env(), open_raster(path, name) as src:
            georef = is_georeferenced(src)
            bounds = None
            if georef:
                from .tiles import geographic_bounds
                bounds = geographic_bounds(src)
            size = pixel_size_m(src.crs, src.transform) if georef else None
            return Scene(secrets.token_hex(6), name, path, source, src.width, src.height,
                         src.count, src.dtypes[0], crs_name(src.crs) if georef else None,
                         bounds, list(size) if size else None)
    except ImageReadError:
        raise RequestError(f'{name!r} does not open as a raster: upload a GeoTIFF/TIFF, PNG '
                           'or JPEG image') from None


class SceneRegistry:
    def __init__(self):
        self._scenes: dict[str, Scene] = {}
        self._lock = threading.Lock()

    def add(self, scene: Scene) -> Scene:
        with self._lock:
            self._scenes[scene.id] = scene
        return scene

    def get(self, sid: str) -> Scene:
        scene = self._scenes.get(sid)
        if scene is None:
            raise RequestError(f'no scene {sid!r}: upload a file or pick one again', 404)
        return scene
