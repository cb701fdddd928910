"""Which weights made a result: the file of each set of weights and a SHA-256 of it.

Every output (prediction summary, results.xlsx row, paper tables, overlay titles) records
the CLIP weights and the SimFeatUp weights this way, so two runs that both say
"CLIP ViT-B/16" can be told apart when one used fixture or fine-tuned weights.

Hashing a 600 MB checkpoint takes about a second, so hashes are cached by (real path, size,
modification time): in memory for the process, and in `file_hashes.json` in the cache
folder ($SEGEARTH_CACHE, as for the text embeddings) across processes. A file that is
replaced gets a new size or time, hence a new hash.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .files import write_text_atomic
from .paths import cache_dir

RANDOM = 'random'          # weights initialised at random (`pretrained='random'`)
SHORT = 8                  # hex digits of the hash shown in titles

_memory: dict[str, str] = {}


def hash_cache_file() -> Path:
    """`file_hashes.json` in $SEGEARTH_CACHE (else ~/.cache/segearth_ov), the cache folder
    of the text embeddings and downloaded weights."""
    return cache_dir() / 'file_hashes.json'


def _key(path: str) -> str:
    st = os.stat(path)
    return f'{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}'


def _read_cache(cache: Path) -> dict:
    try:
        data = json.loads(cache.read_text(encoding='utf-8'))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(cache: Path, key: str, digest: str) -> None:
    """Add one entry; written atomically, so concurrent writers lose entries, never the file."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        data = _read_cache(cache)
        data[key] = digest
        write_text_atomic(cache, json.dumps(data, indent=0))
    except OSError:
        pass        # a read-only cache folder costs time, not correctness


def file_sha256(path, cache: Path | None | bool = True) -> str:
    """The SHA-256 (hex) of a file's bytes, computed once per (path, size, mtime).

    `cache`: the JSON file that keeps hashes across processes (True: `hash_cache_file()`,
    False/None: memory only).
    """
    path = os.fspath(path)
    key = _key(path)
    if key in _memory:
        return _memory[key]
    cache_file = hash_cache_file() if cache is True else (Path(cache) if cache else None)
    digest = _read_cache(cache_file).get(key) if cache_file else None
    if digest is None:
        with open(path, 'rb') as f:
            digest = hashlib.file_digest(f, 'sha256').hexdigest()
        if cache_file:
            _write_cache(cache_file, key, digest)
    _memory[key] = digest
    return digest


def file_record(path) -> dict | None:
    """{'file': absolute path, 'sha256': hex} of a weights file; {'file': 'random',
    'sha256': None} for random weights; None for none (e.g. no upsampler)."""
    if path is None:
        return None
    if path == RANDOM:
        return dict(file=RANDOM, sha256=None)
    return dict(file=os.path.abspath(os.fspath(path)), sha256=file_sha256(path))


def model_weights(model) -> dict:
    """What a built segmentor's results come from: its CLIP weights (`weights`), SimFeatUp
    weights (`upsampler`, None without SimFeatUp), for a trained segmentor its checkpoint
    (`checkpoint`), and the ViT's precision (`precision`: 'fp32', 'bf16' or 'fp16', for
    segmentors that have one). Reads the attributes the segmentors set when built."""
    model = getattr(model, 'module', model)         # DDP / mmengine wrappers
    record = dict(weights=file_record(getattr(model, 'weights_path', None) or RANDOM),
                  upsampler=file_record(getattr(model, 'upsampler_path', None)))
    ckpt = getattr(model, 'checkpoint_path', None)
    if ckpt:
        record['checkpoint'] = file_record(ckpt)
    precision = getattr(model, 'precision_used', None)
    if precision:                # the ViT's precision (fp32, bf16, fp16): it changes results too
        record['precision'] = precision
    return record


def short(record: dict | None) -> str:
    """'tiny-clip-vit-b16.pt@1a2b3c4d' (file name and the first 8 hex digits of its hash)."""
    if not record:
        return 'none'
    if record.get('sha256') is None:
        return Path(record['file']).name
    return f"{Path(record['file']).name}@{record['sha256'][:SHORT]}"


def weights_line(weights: dict) -> str:
    """One short line for titles and tables: 'weights tiny.pt@1a2b3c4d · SimFeatUp x.ckpt@…',
    ending '· ViT bf16' (or fp16) when the ViT did not run in float32."""
    parts = [f"weights {short(weights.get('weights'))}"]
    if weights.get('checkpoint'):
        parts.append(f"checkpoint {short(weights['checkpoint'])}")
    if weights.get('upsampler'):
        parts.append(f"SimFeatUp {short(weights['upsampler'])}")
    if weights.get('precision', 'fp32') != 'fp32':
        parts.append(f"ViT {weights['precision']}")
    return ' · '.join(parts)
