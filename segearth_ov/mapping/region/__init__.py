"""Region-scale prediction: many scenes (or one huge one) shared among torchrun processes.

Why: a province is hundreds of scenes or one 100,000² mosaic; one process takes days and a
crash near the end must not mean starting over. The job is cut into *work units* — whole
scenes, and for scenes above `split_pixels` blocks of tile rows — given to ranks
deterministically (largest first to the least-loaded rank, by pixel count), so every rank
computes the same plan from the inputs alone and no coordinator is needed.

Each output is written exactly once, by one process, under a temporary name renamed into
place (`raster_io.atomic_path`). A finished unit leaves a record in `<out>/.region/units/`
with the SHA-256 of its outputs; a rerun skips units whose record and files agree and
redoes missing or corrupt ones (the manifest is those records). A block computes its
tile rows plus the earlier tile rows that still overlap them, in the same order as the
single-process streaming, so its rows are exactly those of `predict_file`; the rank that
owns block 0 assembles the scene once all blocks exist. At the end rank 0 writes
`region_manifest.json`, a VRT mosaic of the class maps and a STAC catalogue.

The files, in the order of a run: `planning` (units and ranks), `records` (the manifest),
`blocks` (a block of a split scene, and the scene's assembly), `execution` (a rank's run),
`catalogue` (VRT and STAC), `cli` (the command line).
"""
from .catalogue import check_same_crs, write_stac, write_vrt  # noqa: F401
from .cli import build_parser, main, wanted  # noqa: F401
from .execution import RankSync, RegionJob, run_region  # noqa: F401
from .planning import SPLIT_PIXELS, Unit, plan_region  # noqa: F401
from .records import Records, run_key  # noqa: F401
