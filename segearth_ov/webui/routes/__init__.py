"""The HTTP API of the map page, one router per area: `meta` (the page's settings and the
--data-dir picker), `scenes` (uploads, picks, scene tiles) and `jobs` (submit, status,
class-map tiles, pixel values, downloads). Each router is made from the `AppContext` that
`app.create_app` builds once per server."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import tiles


@dataclass
class AppContext:
    """What the routes share: the server's settings and its registries."""
    settings: dict
    data_dir: Path | None
    work_dir: Path
    max_upload_mb: float
    classes: str
    basemap: str | None
    leaflet: bool
    scenes: object          # scenes.SceneRegistry
    jobs: object            # jobs.JobQueue
    keeper: object          # retention.Housekeeper
    upload_idle_s: float = 60.0     # an upload sending nothing this long is refused (408)

    @property
    def max_bytes(self) -> int:
        return int(self.max_upload_mb * 2 ** 20)


PNG = dict(media_type='image/png', headers={'Cache-Control': 'no-store'})


@lru_cache(maxsize=1)
def empty_tile() -> bytes:
    return tiles.png_bytes(np.zeros((tiles.TILE, tiles.TILE, 4), np.uint8))


def png_response(rgba: np.ndarray | None):
    """An uncached PNG of an RGBA tile (a transparent tile for None: outside the raster)."""
    from fastapi.responses import Response
    return Response(empty_tile() if rgba is None else tiles.png_bytes(rgba), **PNG)
