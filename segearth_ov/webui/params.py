"""Query and body parameters of the web API, checked: a bad one is a 400 naming the fix."""
from __future__ import annotations

from ..utils.images import parse_bands
from .safety import RequestError


def bands_param(text):
    try:
        bands = parse_bands(text, 'bands')
    except ValueError as err:
        raise RequestError(str(err)) from None
    if bands is None:
        return None
    if len(bands) not in (1, 3) or min(bands) < 1:
        raise RequestError(f'bands {text!r}: give 1 or 3 band numbers from 1, e.g. 3,2,1 or 1')
    return bands


def percentiles_param(value):
    """(low, high) percentiles, in steps of 0.1 (a stretch per value is computed and kept)."""
    if value in (None, ''):
        return (2.0, 98.0)
    try:
        lo, hi = (float(v) for v in (value.split(',') if isinstance(value, str) else value))
    except (TypeError, ValueError):
        lo = hi = -1
    if not (0 <= lo < hi <= 100 and all(abs(v * 10 - round(v * 10)) < 1e-6 for v in (lo, hi))):
        raise RequestError(f'stretch {value!r}: give two percentiles 0 ≤ low < high ≤ 100 '
                           'with at most one decimal, e.g. 2,98 or 0.5,99.5')
    return (round(lo, 1), round(hi, 1))


def hidden_param(text) -> list[int]:
    try:
        return [int(v) for v in text.split(',') if v.strip()] if text else []
    except ValueError:
        raise RequestError(f'hide={text!r}: give class indices separated by commas') from None
