"""GET /api/info (the page's settings, choices and class presets) and GET /api/files (the
rasters of --data-dir the page may pick)."""
from __future__ import annotations

from fastapi import APIRouter

from ...utils.images import RASTER_SUFFIXES
from ...utils.paths import NotFoundError, configs_dir
from ..jobs import CHOICES
from . import AppContext

# the rasters the picker lists: those the page opens (not ERDAS .img: formats.SELF_CONTAINED)
PICKER_SUFFIXES = tuple(s for s in RASTER_SUFFIXES if s != '.img')


def class_presets() -> dict:
    """Class lists of the datasets (configs/cls_*.txt) as the text box's syntax."""
    out = {}
    try:
        folder = configs_dir()
    except NotFoundError:            # an installed package without the configs: no presets
        return out
    for f in sorted(folder.glob('cls_*.txt')):
        lines = [ln.strip() for ln in f.read_text().splitlines() if ln.strip()]
        out[f.stem[4:]] = ';'.join(lines)
    return out


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter()

    @api.get('/api/info')
    def info():
        ctx.keeper.prune()                  # the page loads: a moment to apply --keep-hours
        return dict(model={k: str(v) for k, v in ctx.settings.items()}, choices=CHOICES,
                    presets=class_presets(), data_dir=ctx.data_dir is not None,
                    max_upload_mb=ctx.max_upload_mb, leaflet=ctx.leaflet, classes=ctx.classes,
                    basemap=ctx.basemap)

    @api.get('/api/files')
    def files():
        data_dir = ctx.data_dir
        if data_dir is None:
            return dict(files=[], message='the server was started without --data-dir')
        found = []
        for p in sorted(data_dir.rglob('*')):
            if len(found) >= 1000:
                break
            if p.suffix.lower() in PICKER_SUFFIXES and p.is_file() and \
                    not any(part.startswith('.') for part in p.relative_to(data_dir).parts):
                rp = p.resolve()
                if rp == data_dir or data_dir in rp.parents:    # links leading out are hidden
                    found.append(str(p.relative_to(data_dir)))
        return dict(files=found)

    return api
