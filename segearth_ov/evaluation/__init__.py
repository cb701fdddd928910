"""Evaluation: the metric, the distributed-test wrapper, overlays, results.xlsx.

Importing it registers `SegEarthIoUMetric`, `InferenceOnlyWrapper` and `SaveOverlayHook`
(the base config's `custom_imports` does). `results` (pandas/openpyxl) is imported lazily.
"""
from .benchmarks import BENCHMARKS, GROUPS, Benchmark, benchmark_of  # noqa: F401
from .engine import InferenceOnlyWrapper, SaveOverlayHook  # noqa: F401
from .metric import SegEarthIoUMetric  # noqa: F401
