"""Slide-window placement and patch padding, including odd sizes."""
import pytest

from segearth_ov.models.segmentors.segearth import patch_padding
from segearth_ov.models.segmentors.windows import slide_windows


def test_windows_cover_image_and_end_inside():
    wins = list(slide_windows(336, 448, 224, 112))
    # h_grids = (336-224+111)//112+1 = 2, w_grids = (448-224+111)//112+1 = 3
    assert wins == [(0, 224, 0, 224), (0, 224, 112, 336), (0, 224, 224, 448),
                    (112, 336, 0, 224), (112, 336, 112, 336), (112, 336, 224, 448)]


def test_odd_size_last_window_is_clipped_back():
    wins = list(slide_windows(250, 301, 224, 112))
    assert wins[-1] == (26, 250, 77, 301)
    assert all(y2 - y1 == 224 and x2 - x1 == 224 for y1, y2, x1, x2 in wins)


def test_image_smaller_than_crop_is_one_window():
    assert list(slide_windows(200, 300, 224, 112)) == [(0, 200, 0, 224), (0, 200, 76, 300)]
    assert list(slide_windows(100, 90, 224, 112)) == [(0, 100, 0, 90)]


@pytest.mark.parametrize('h,w,expected', [
    (224, 224, (0, 0, 0, 0)),
    (200, 224, (0, 0, 4, 4)),       # 8 rows: half before, half after
    (201, 203, (2, 3, 3, 4)),       # odd: the extra one after
])
def test_patch_padding(h, w, expected):
    assert patch_padding(h, w, 16) == expected
