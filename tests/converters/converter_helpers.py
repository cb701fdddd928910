import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CONVERTERS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'
if str(CONVERTERS) not in sys.path:
    sys.path.insert(0, str(CONVERTERS))


def write_img(path, arr):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(path)
    return path


def read(path):
    return np.asarray(Image.open(path))


@pytest.fixture
def rgb():
    def make(h=8, w=8, seed=0):
        return np.random.RandomState(seed).randint(0, 255, (h, w, 3), dtype=np.uint8)
    return make
