"""The benchmark: which config is which column of the paper's tables (Tables 2–4).

`group` is what `eval_all.py --group` selects; `foreground` is the class whose IoU the
paper reports for single-class sets (the others report mIoU).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GROUPS = ('optical', 'single-class', 'sar')


@dataclass(frozen=True)
class Benchmark:
    name: str                       # configs/cfg_<name>.py
    title: str                      # the paper's column
    group: str                      # optical | single-class | sar | extra (not in the paper)
    foreground: int | None = None   # single-class sets: the label of the foreground class


B = Benchmark
BENCHMARKS: tuple[Benchmark, ...] = (
    # Table 2: optical multi-class (mIoU)
    B('openearthmap', 'OpenEarthMap', 'optical'),
    B('loveda', 'LoveDA', 'optical'),
    B('iSAID', 'iSAID', 'optical'),
    B('potsdam', 'Potsdam', 'optical'),
    B('vaihingen', 'Vaihingen', 'optical'),
    B('uavid', 'UAVid', 'optical'),
    B('udd5', 'UDD5', 'optical'),
    B('vdd', 'VDD', 'optical'),
    # Table 3: building / road / flood extraction (IoU of the foreground class)
    B('whu_aerial', 'WHU-Aerial', 'single-class', 1),
    B('whu_sat_II', 'WHU-Sat.II', 'single-class', 1),
    B('inria', 'Inria', 'single-class', 1),
    B('xBD', 'xBD', 'single-class', 1),
    B('chn6-cug', 'CHN6-CUG', 'single-class', 1),
    B('deepglobe_road', 'DeepGlobe', 'single-class', 1),
    B('massachusetts_road', 'Massachusetts', 'single-class', 1),
    B('spacenet_road', 'SpaceNet', 'single-class', 1),
    B('wbs-si', 'WBS-SI', 'single-class', 1),
    # Table 4: SAR (mIoU)
    B('openearthmap_sar', 'OpenEarthMap-SAR', 'sar'),
    B('ddhrnet_korea_sar', 'DDHR-Korea', 'sar'),
    B('ddhrnet_shandong_sar', 'DDHR-SD', 'sar'),
    B('ddhrnet_xian_sar', 'DDHR-XA', 'sar'),
    B('fusar_sar', 'FUSAR-Map', 'sar'),
    B('whu_sar', 'WHU-SAR', 'sar'),
    B('yeseg_sar', 'YESeg-SAR', 'sar'),
    B('pie_sar', 'PIE-SAR', 'sar'),
    # not in the paper's tables
    B('hrsid', 'HRSID', 'extra', 1),
)
del B

BY_NAME = {b.name: b for b in BENCHMARKS}
BY_TITLE = {b.title: b for b in BENCHMARKS}


def benchmark_of(config_path) -> Benchmark | None:
    """The benchmark row of `configs/cfg_<name>.py` (None for other configs, e.g. custom)."""
    stem = Path(str(config_path)).stem
    return BY_NAME.get(stem[4:] if stem.startswith('cfg_') else stem)
