"""The golden files of tests/data/golden: stored losslessly and compactly, read as arrays.

The reference's arrays (README there) are float16 fields that vary smoothly from pixel to
pixel; plain npz deflate keeps 65 % of their size. Each scenario is stored as
`<name>.npz.xz`: an uncompressed npz whose float16 arrays are replaced by their row-wise
differences (int16 on the raw bits, so decoding is exact), byte planes split, the whole
file xz-compressed — 45 % of the npz, bit for bit the same arrays once read.
The input images are stored once per input (`inputs/<input>.npy.xz`), as the manifest names
them, since most scenarios share one.
"""
from __future__ import annotations

import io
import lzma
from pathlib import Path

import numpy as np

_DELTA = '__delta16__'   # key prefix of an encoded float16 array


def encode_float16(a: np.ndarray) -> np.ndarray:
    """float16 N-d → uint8 1-d: row-wise differences of the bits, low bytes then high bytes."""
    bits = a.view(np.uint16).astype(np.int32)
    delta = np.diff(bits, axis=-1, prepend=0).astype(np.int16)        # wraps, exactly invertible
    return np.ascontiguousarray(delta.view(np.uint8).reshape(-1, 2).T).reshape(-1)


def decode_float16(planes: np.ndarray, shape) -> np.ndarray:
    delta = np.ascontiguousarray(planes.reshape(2, -1).T).view(np.int16).reshape(shape)
    bits = np.cumsum(delta.astype(np.int32), axis=-1) & 0xFFFF     # int16 wrap, undone
    return bits.astype(np.uint16).view(np.float16)


def save(path: Path, arrays: dict) -> None:
    """Write `arrays` as `path` (…npz.xz)."""
    stored = {}
    for key, a in arrays.items():
        if a.dtype == np.float16 and a.ndim >= 2:
            stored[f'{_DELTA}{key}'] = encode_float16(a)
            stored[f'{_DELTA}{key}.shape'] = np.array(a.shape, dtype=np.int64)
        else:
            stored[key] = a
    buf = io.BytesIO()
    np.savez(buf, **stored)
    Path(path).write_bytes(lzma.compress(buf.getvalue(), preset=9 | lzma.PRESET_EXTREME))


def load(path: Path) -> dict:
    """The arrays of a file written by `save`, exactly as they were."""
    with np.load(io.BytesIO(lzma.decompress(Path(path).read_bytes()))) as z:
        stored = {k: z[k] for k in z.files}
    out = {}
    for key, a in stored.items():
        if key.startswith(_DELTA) and not key.endswith('.shape'):
            name = key[len(_DELTA):]
            out[name] = decode_float16(a, tuple(stored[f'{key}.shape']))
        elif not key.startswith(_DELTA):
            out[key] = a
    return out


def load_scenario(folder: Path, name: str, spec: dict | None = None) -> dict:
    """A golden scenario's arrays (`image` from its shared input when the spec names one)."""
    arrays = load(Path(folder) / f'{name}.npz.xz')
    if 'image' not in arrays and spec and 'input' in spec:
        arrays['image'] = np.load(io.BytesIO(lzma.decompress(
            (Path(folder) / 'inputs' / f"{spec['input']}.npy.xz").read_bytes())))
    return arrays
