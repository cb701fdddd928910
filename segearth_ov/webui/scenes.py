"""Scenes the page works on: an uploaded file or one picked from --data-dir, checked to open
as a raster, with the predictor's band choice and stretch for the map pictures.

Why a registry: the page refers to scenes by an id, never by a path, so no client-supplied
path is read after `safety.inside` has accepted it once.
"""
from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..mapping.raster_io import (SceneReader, crs_name, is_georeferenced, open_raster,
                                 pixel_size_m, select_bands)
from ..utils.images import ImageReadError
from .safety import RequestError


STRETCHES_KEPT = 8


@dataclass
class Scene:
    id: str
    name: str
    path: Path
    source: str                   # 'upload' or 'data-dir'
    driver: str                   # the GDAL driver every open of `path` is restricted to
    width: int
    height: int
    count: int
    dtype: str
    crs: str | None
    bounds: list | None           # [[south, west], [north, east]] when georeferenced
    pixel_size_m: list | None
    created: float = field(default_factory=time.time)
    _stretch: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def info(self) -> dict:
        return dict(id=self.id, name=self.name, source=self.source, width=self.width,
                    height=self.height, bands=self.count, dtype=self.dtype, crs=self.crs,
                    georeferenced=self.crs is not None, bounds=self.bounds,
                    pixel_size_m=self.pixel_size_m)

    @contextlib.contextmanager
    def open(self):
        """The scene's dataset, opened as every open of a user's file is (`formats.user_env`,
        the pinned driver); an error names the scene, never the server's path of it."""
        with open_user_file(self.path, self.name, self.driver) as src:
            yield src

    def reading(self, src, bands=None, percentiles=(2, 98), sar=False):
        """(bands, alpha, nodata, stretch) as the predictor would read this scene; the last
        STRETCHES_KEPT of them are kept (each costs a decimated read of the whole scene)."""
        key = (tuple(bands) if bands else None, tuple(percentiles), bool(sar))
        with self._lock:
            if key in self._stretch:
                self._stretch.move_to_end(key)
                return self._stretch[key]
            try:
                chosen, alpha = select_bands(src, bands, sar, self.name)
            except ValueError as err:       # ImageReadError too: bands the file lacks
                raise RequestError(str(err)) from None
            reader = SceneReader(src, chosen, alpha, None, False, percentiles, self.name)
            self._stretch[key] = (chosen, alpha, reader.nodata, reader.stretch)
            while len(self._stretch) > STRETCHES_KEPT:
                self._stretch.popitem(last=False)
            return self._stretch[key]


def open_scene(path: Path, name: str, source: str, data_dir: Path | None = None) -> Scene:
    """A Scene for `path`, or RequestError when it does not open as a raster. The driver
    `formats` accepts is the one every later open of the scene uses."""
    from .formats import FORMATS_TEXT, data_dir_driver, upload_driver
    driver = upload_driver(path, name) if source == 'upload' else \
        data_dir_driver(path, data_dir, name)
    try:
        with open_user_file(path, name, driver) as src:
            georef = is_georeferenced(src)
            bounds = None
            if georef:
                from .tiles import geographic_bounds
                bounds = geographic_bounds(src)
            size = pixel_size_m(src.crs, src.transform) if georef else None
            return Scene(secrets.token_hex(6), name, path, source, driver, src.width,
                         src.height, src.count, src.dtypes[0],
                         crs_name(src.crs) if georef else None, bounds,
                         list(size) if size else None)
    except RequestError:
        raise RequestError(f'{name!r} does not open as a raster: upload a {FORMATS_TEXT} '
                           'image') from None


@contextlib.contextmanager
def open_user_file(path: Path, name: str, driver: str):
    """`path` opened by `driver` only under `formats.user_env`; RequestError (404) naming
    `name` when it cannot be read (e.g. removed by retention meanwhile)."""
    from .formats import user_env
    try:
        with user_env(), open_raster(path, name, driver) as src:
            yield src
    except ImageReadError as err:
        raise RequestError(str(err).replace(str(path), name), 404) from None


class SceneRegistry:
    """Scenes by id, oldest first; `retention` removes them (and their uploads)."""

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
            raise RequestError(f'no scene {sid!r}: upload a file or pick one again (scenes are '
                               'removed after a while, see --keep-hours)', 404)
        return scene

    def all(self) -> list[Scene]:
        with self._lock:
            return list(self._scenes.values())

    def remove(self, sid: str) -> None:
        with self._lock:
            self._scenes.pop(sid, None)
