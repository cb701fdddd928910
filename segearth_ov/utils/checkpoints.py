"""Read the weight files users actually hold, in every container, without unsafe unpickling.

A checkpoint is untrusted input: `torch.load(weights_only=True)` stays on for every pickle.
The containers met in practice, and how each is read:

- safetensors (Hugging Face open_clip uploads): `safetensors.torch.load_file`.
- TorchScript archives (OpenAI's `ViT-B-16.pt` in ~/.cache/clip, fp16): `weights_only` refuses
  them; `torch.jit.load` reads their tensors without Python's unpickler, and only the
  module's state dict is used (never its code). Its `input_resolution`, `context_length` and
  `vocab_size` entries are hyper-parameters, not weights, and are dropped.
- `torch.save` pickles: plain state dicts (HF `.bin`, RemoteCLIP, GeoRSCLIP, AlignEarth,
  LRSCLIP), open_clip training checkpoints (`{epoch, name, state_dict: {module.…}, optimizer,
  scaler}`: SkyCLIP, FarSLIP, MetaCLIP's originals) and PyTorch Lightning checkpoints
  (SimFeatUp, FeatUp). Training checkpoints hold numpy scalars (a cosine schedule's learning
  rate), pickled under numpy 1 (`numpy.core.multiarray.scalar`) or numpy 2
  (`numpy._core.multiarray.scalar`): those names, `numpy.dtype` and its dtype classes are
  allow-listed for the one load (`allowed_globals`), nothing else.
- mmengine Runner checkpoints (HG-RSOVSSeg's `iter_*.pth`, `load_from`, `--resume`): mmengine
  0.10.7 calls `torch.load` without `weights_only`, which since torch 2.6 means the safe
  unpickler, and refuses the message hub's `HistoryBuffer`s and NumPy values these files hold.
  `mmengine_checkpoints_allowed()` allow-lists exactly those types around a Runner's load
  (`evaluation/run.py`, `tools/train.py`, the predictor), and takes them off again after.
"""
from __future__ import annotations

import collections
import contextlib
import pickle
import re
import warnings
import zipfile
from pathlib import Path

import torch

TORCHSCRIPT_HYPERPARAMETERS = ('input_resolution', 'context_length', 'vocab_size')
_PICKLE_MAGIC = (b'\x80\x02', b'\x80\x03', b'\x80\x04', b'\x80\x05')


class CheckpointError(ValueError):
    """A weight file that cannot be read as it is; the message says what to do."""


def numpy_safe_globals() -> list:
    """numpy's scalar (under its numpy-1 and numpy-2 module names), arrays, and dtypes."""
    import numpy as np
    core = getattr(np, '_core', None) or np.core
    entries = [np.dtype, np.ndarray]
    for name in ('scalar', '_reconstruct'):
        obj = getattr(core.multiarray, name)
        entries += [(obj, f'numpy.core.multiarray.{name}'),
                    (obj, f'numpy._core.multiarray.{name}')]
    entries += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith('DType')]
    return entries


@contextlib.contextmanager
def allowed_globals(entries: list):
    """`torch.load(weights_only=True)` accepts `entries` inside the block, and only there.

    Only entries not allowed yet are added, and only those are removed at the end (torch's own
    `safe_globals` context removes all it was given, also what was allowed before it).
    """
    extra = [g for g in entries if g not in torch.serialization.get_safe_globals()]
    with torch.serialization.safe_globals(extra):
        yield


HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def history_buffer_method(owner, name: str):
    """Stands in for `getattr` while unpickling, and only returns HistoryBuffer's statistics.

    A `HistoryBuffer` pickles its method table as `getattr(HistoryBuffer, 'min')` etc.;
    allow-listing the real `getattr` would let a checkpoint reach any attribute of any
    allowed object, so anything else is refused.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for {getattr(owner, "__name__", owner)!r}.{name}: only '
        f'HistoryBuffer.{"/".join(HISTORY_BUFFER_STATISTICS)} are allowed in mmengine checkpoints')


def mmengine_checkpoint_globals() -> list:
    """The types found in checkpoints written by mmengine's Runner (iteration-based)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer, collections.OrderedDict, collections.defaultdict,
            (history_buffer_method, '__builtin__.getattr'),
            (history_buffer_method, 'builtins.getattr'),
            *numpy_safe_globals()]


@contextlib.contextmanager
def mmengine_checkpoints_allowed(path: str | Path | None = None):
    """A context in which mmengine's Runner can load (`load_from`, `--resume`) its checkpoints
    under torch's safe unpickler; wrap the Runner call that loads, e.g. `runner.train()`.
    A checkpoint holding anything else is refused in our words (`path`: the file, if known),
    not with torch's advice to turn the safety off."""
    try:
        with allowed_globals(mmengine_checkpoint_globals()):
            yield
    except pickle.UnpicklingError as err:
        raise CheckpointError(_unpickling_message(path or 'the checkpoint mmengine loaded',
                                                  err)) from None


def container_of(path: str | Path) -> str:
    """'safetensors', 'torchscript', 'torch-zip', 'torch-legacy', 'git-lfs-pointer', 'html'
    or 'unknown', from the file's first bytes (the suffix is not trusted)."""
    path = Path(path)
    with open(path, 'rb') as f:
        head = f.read(512)
    if head.startswith(b'version https://git-lfs'):
        return 'git-lfs-pointer'
    if head.lstrip()[:15].lower().startswith((b'<!doctype html', b'<html')):
        return 'html'
    if len(head) >= 10 and head[8:9] == b'{' and \
            int.from_bytes(head[:8], 'little') < path.stat().st_size:
        return 'safetensors'
    if head.startswith(b'PK'):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            return 'torch-zip'          # truncated: torch.load names it below
        if any(n.endswith('/constants.pkl') or n == 'constants.pkl' for n in names):
            return 'torchscript'
        return 'torch-zip'
    if head.startswith(_PICKLE_MAGIC):
        return 'torch-legacy'
    return 'unknown'


def load_checkpoint(path: str | Path, map_location='cpu'):
    """The object stored in a weight file, read safely (see the module's docstring)."""
    path = Path(path)
    kind = container_of(path)
    if kind == 'git-lfs-pointer':
        raise CheckpointError(f'{path} is a Git LFS pointer, not the weights: fetch the file '
                              'itself (git lfs pull, or the download link) and use that')
    if kind == 'html':
        raise CheckpointError(f'{path} is an HTML page, not weights (a download that returned '
                              'a web page): download the file again from its direct link')
    if kind == 'safetensors':
        from safetensors.torch import load_file
        try:
            return load_file(str(path), device=str(map_location))
        except Exception as err:
            raise CheckpointError(f'{path} (safetensors) could not be read: {_first_line(err)}; '
                                  'the file is probably truncated: download it again') from None
    if kind == 'torchscript':
        return _torchscript_state_dict(path)
    if kind == 'unknown':
        raise CheckpointError(f'{path} is not a checkpoint SegEarth-OV can read (neither a '
                              'PyTorch file nor safetensors): check that it is the weights file')
    try:
        with allowed_globals(numpy_safe_globals()):
            return torch.load(str(path), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(_unpickling_message(path, err)) from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(
            f'{path} ({_describe(kind)}, {path.stat().st_size:,} bytes) is truncated or corrupt '
            f'({_first_line(err)}): download it again') from None


def _torchscript_state_dict(path: Path) -> dict:
    try:
        with warnings.catch_warnings():   # torch deprecates TorchScript; OpenAI's files remain
            warnings.simplefilter('ignore', FutureWarning)
            module = torch.jit.load(str(path), map_location='cpu')
    except Exception as err:
        raise CheckpointError(f'{path} (TorchScript archive) could not be read: '
                              f'{_first_line(err)}; download it again') from None
    state = dict(module.state_dict())
    for key in TORCHSCRIPT_HYPERPARAMETERS:
        state.pop(key, None)
    return state


def _unpickling_message(path: Path, err: Exception) -> str:
    found = re.search(r'GLOBAL ([\w.]+)', str(err))
    what = f'an object of type {found.group(1)}' if found else 'a Python object that is not data'
    return (f'{path} is a PyTorch checkpoint holding {what}; SegEarth-OV does not unpickle such '
            'objects, because unpickling them can run code from the file. If you trust its '
            'source, save its tensors alone (the state dict) with torch.save and pass that file')


def _describe(kind: str) -> str:
    return {'torch-zip': 'PyTorch zip checkpoint',
            'torch-legacy': 'PyTorch legacy pickle'}.get(kind, kind)


def _first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return f'{type(err).__name__}: {lines[0][:200] if lines else ""}'


def state_dict_of(obj, path: str | Path = 'checkpoint') -> dict[str, torch.Tensor]:
    """The weights inside a loaded checkpoint: training checkpoints keep them under
    'state_dict' (open_clip, Lightning); DistributedDataParallel's 'module.' is removed."""
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict) or not obj:
        kind = type(obj).__name__
        raise CheckpointError(f'{path} holds no state dict (found {kind}): pass the weights file')
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        keys = ', '.join(map(str, list(obj)[:6]))
        raise CheckpointError(f'{path} holds no tensors at its top level or under '
                              f"'state_dict' (keys: {keys}): pass the weights file")
    if all(k.startswith('module.') for k in tensors):
        tensors = {k[len('module.'):]: v for k, v in tensors.items()}
    return tensors


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of any container above, floating tensors as float32 (OpenAI's
    TorchScript files and some uploads are fp16; the models here are built in fp32)."""
    state = state_dict_of(load_checkpoint(path), path)
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}

