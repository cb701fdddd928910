"""Dataset classes of the benchmark (one table) and the SAR-aware loading transform."""
from .table import DATASET_CLASSES, DATASETS_TABLE, MMSEG_DATASETS, DatasetRow  # noqa: F401
from .transforms import LoadSARImageFromFile  # noqa: F401
