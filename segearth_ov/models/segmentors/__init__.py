from .segearth import SegEarthSegmentation  # noqa: F401
from .hg_rsovsseg import HGRSOVSeg  # noqa: F401
