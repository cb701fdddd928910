"""The region's plan: work units (whole scenes, or blocks of tile rows of large ones) and the
rank each goes to, computed by every rank alike from the inputs alone (no coordinator).
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import estimates
from ...utils.images import ImageReadError
from ..predictor import SceneOptions, plan_scene, tile_side
from ..raster_io import opened
from ..sources import Source, as_input, stem_of

SPLIT_PIXELS = 64_000_000     # scenes above this (8000² px) are split into blocks


@dataclass
class Unit:
    """One piece of work: a whole scene (block None) or block `block` of `blocks`."""
    id: str
    path: str
    stem: str
    block: int | None
    blocks: int
    tile_rows: tuple      # tile rows (i0, i1) whose finished rows this unit writes
    rows: tuple           # source rows (r0, r1) it writes
    width: int
    tiles: int            # tiles it computes (with the earlier overlapping tile rows)
    rank: int = 0
    error: str | None = None   # a remote scene that could not be opened: fails on its rank

    @property
    def pixels(self) -> int:
        return (self.rows[1] - self.rows[0]) * self.width


def finished_rows(plan, i: int) -> tuple[int, int]:
    """Model rows that `LogitBlender.finish_row(i)` hands out."""
    spans = plan.rows.spans
    top = spans[i][0] if i else 0
    end = spans[i + 1][0] if i + 1 < len(spans) else plan.model_height
    return top, end


def first_overlapping_row(plan, i0: int) -> int:
    """The first tile row whose tiles reach into tile row i0's finished rows."""
    r0 = finished_rows(plan, i0)[0]
    return next(j for j, (_, b) in enumerate(plan.rows.spans) if b > r0 or j == i0)


def scene_units(path, options: SceneOptions, slide, split_pixels: int) -> list[Unit]:
    """The units of one scene (a path, URL or STAC Source). A remote scene that cannot be
    opened (HTTP 404, a dropped connection) is one failed unit: the others go on."""
    stem = stem_of(path)
    try:
        with opened(path) as src:
            plan = plan_scene(src, options, slide)
    except ImageReadError as err:
        if not isinstance(path, Source):
            raise
        return [Unit(stem, str(path), stem, None, 1, (0, 0), (0, 0), 0, 0, error=str(err))]
    n, w = len(plan.rows.spans), plan.width
    if plan.height * w <= split_pixels or n < 2 or plan.resized:
        # resized scenes stay whole: their rows are resampled across tile-row boundaries
        return [Unit(stem, str(path), stem, None, 1, (0, n), (0, plan.height), w, plan.n_tiles)]
    pitch = plan.height / n
    per = max(1, int(split_pixels // (pitch * w)))
    bounds = list(range(0, n, per)) + [n]
    if len(bounds) < 3:
        return [Unit(stem, str(path), stem, None, 1, (0, n), (0, plan.height), w, plan.n_tiles)]
    units = []
    for b, (i0, i1) in enumerate(zip(bounds[:-1], bounds[1:])):
        j0 = first_overlapping_row(plan, i0)
        units.append(Unit(f'{stem}.block{b:03d}of{len(bounds) - 1:03d}', str(path), stem, b,
                          len(bounds) - 1, (i0, i1),
                          (finished_rows(plan, i0)[0], finished_rows(plan, i1 - 1)[1]), w,
                          (i1 - j0) * len(plan.cols.spans)))
    return units


def assign(units: list[Unit], world_size: int) -> list[Unit]:
    """Largest unit first to the least-loaded rank (ties: lower rank): deterministic."""
    load = [0] * world_size
    for u in sorted(units, key=lambda u: (-u.pixels, u.id)):
        u.rank = min(range(world_size), key=lambda r: (load[r], r))
        load[u.rank] += u.pixels
    return units


def plan_region(paths, options: SceneOptions, slide, world_size: int,
                split_pixels: int = SPLIT_PIXELS) -> list[Unit]:
    units = [u for p in paths for u in scene_units(as_input(p), options, slide, split_pixels)]
    return assign(units, world_size)


def assembler(units: list[Unit], stem: str) -> int:
    """The rank that assembles a split scene: the owner of its block 0."""
    return next(u.rank for u in units if u.stem == stem and u.block == 0)


def by_stem(paths) -> dict:
    """stem → input (path or Source): what a unit's scene is opened from (`Unit.path` is
    only the public name of a URL, without its signed query)."""
    return {stem_of(p): as_input(p) for p in paths}


def dry_run_lines(units: list[Unit], world_size: int, num_classes: int, num_queries: int,
                  model_bytes: int, options: SceneOptions, slide, save_probs=False,
                  paths=None) -> list[str]:
    """Units per rank with pixels, tiles, an estimated time and the peak memory per rank."""
    lines = [f'{len(units)} work unit(s) over {world_size} rank(s) '
             f'({len({u.stem for u in units})} scene(s))']
    tile_s = estimates.tile_seconds_cpu(tile_side(options, slide))
    for r in range(world_size):
        mine = [u for u in units if u.rank == r]
        tiles = sum(u.tiles for u in mine)
        lines.append(f'rank {r}: {len(mine)} unit(s), {sum(u.pixels for u in mine) / 1e6:.1f} '
                     f'Mpx, {tiles} tiles, ~{tiles * tile_s / 3600:.2f} h on one CPU '
                     f'(ViT-B/16 CPU rate; far less on a GPU)')
        for u in mine:
            if u.error:
                lines.append(f'  {u.id}: error: {u.error}')
                continue
            lines.append(f'  {u.id}: {u.width} × {u.rows[1] - u.rows[0]} px '
                         f'(rows {u.rows[0]}-{u.rows[1]}), {u.tiles} tiles')
    if any(u.width for u in units):
        big = max(units, key=lambda u: u.width)
        with opened(by_stem(paths or [big.path])[big.stem]) as src:
            est = estimates.dry_run_lines(big.path, src, options, slide, num_classes,
                                          num_queries, model_bytes, save_probs)[-1].strip()
        lines.append(f'per rank (widest scene {big.stem}): {est}')
    return lines
