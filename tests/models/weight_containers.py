"""Tiny weight files built in the containers users actually hold (never committed: each test
builds its own from the fixture CLIP). Where each layout comes from is said per builder."""
from __future__ import annotations

import pickle
import types
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from conftest import JBU_CKPT, TINY_PT

LONG_CONTEXT, KEPT = 248, 20


def tiny_state() -> dict:
    return torch.load(TINY_PT, weights_only=True)


class _Numpy1Pickler(pickle._Pickler):
    """Writes numpy's private module under its numpy-1 name (`numpy.core…`), as files pickled
    before numpy 2 have it (protocol 2's GLOBAL opcode is `c<module>\\n<name>\\n`)."""

    def save_global(self, obj, name=None):
        module = getattr(obj, '__module__', '') or ''
        if module.startswith('numpy._core'):
            module = 'numpy.core' + module[len('numpy._core'):]
            qualname = (name or obj.__qualname__).encode()
            self.write(pickle.GLOBAL + module.encode() + b'\n' + qualname + b'\n')
            self.memoize(obj)
            return
        super().save_global(obj, name)


NUMPY1_PICKLE = types.SimpleNamespace(Pickler=_Numpy1Pickler, Unpickler=pickle.Unpickler,
                                      load=pickle.load, __name__='pickle')


def _optimizer_state(params: dict) -> dict:
    """An AdamW state dict as open_clip's training loop saves it; its cosine schedule
    (`open_clip_train/scheduler.py`, np.cos) leaves a numpy float64 learning rate."""
    lr = 0.5 * (1 + np.cos(np.pi * 0.3)) * 5e-4
    return {'state': {0: {'step': torch.tensor(100.0), 'exp_avg': torch.zeros(3),
                          'exp_avg_sq': torch.zeros(3)}},
            'param_groups': [{'lr': lr, 'betas': (0.9, 0.98), 'eps': 1e-6,
                              'weight_decay': 0.2, 'amsgrad': False, 'foreach': None,
                              'maximize': False, 'capturable': False, 'differentiable': False,
                              'fused': None, 'initial_lr': np.float64(5e-4),
                              'params': list(range(len(params)))}]}


def write_openclip_training_checkpoint(path, state: dict, teacher: bool = False) -> None:
    """open_clip's `open_clip_train/main.py` checkpoint (SkyCLIP's epoch_20.pt, MetaCLIP's
    b16_fullcc2.5b.pt, FarSLIP): `{epoch, name, state_dict, optimizer, scaler}` with the
    DistributedDataParallel `module.` prefix; FarSLIP's main.py adds `state_dict_teacher`.
    Pickled under numpy 1, as those releases were."""
    ckpt = {'epoch': 20, 'name': '2023_09_01-skyclip',
            'state_dict': OrderedDict((f'module.{k}', v) for k, v in state.items()),
            'optimizer': _optimizer_state(state),
            'scaler': {'scale': 65536.0, 'growth_factor': 2.0, 'backoff_factor': 0.5,
                       'growth_interval': 2000, '_growth_tracker': 12}}
    if teacher:
        ckpt['state_dict_teacher'] = OrderedDict((f'module.{k}', v.clone())
                                                 for k, v in state.items())
    torch.save(ckpt, path, pickle_module=NUMPY1_PICKLE)


def longclip_state(state: dict, with_masks: bool) -> dict:
    """LongCLIP's 248-row text position tables (github NJU-LHRS/FarSLIP open_clip/model.py:
    `positional_embedding`, `positional_embedding_res`, and buffers mask1 = rows < 20,
    mask2 = the rest; LRSCLIP's model_longclip.py keeps the masks as plain attributes)."""
    state = dict(state)
    g = torch.Generator().manual_seed(1)
    short = state['positional_embedding']
    table = torch.randn(LONG_CONTEXT, short.shape[1], generator=g) * 0.02
    table[:KEPT] = short[:KEPT]
    state['positional_embedding'] = table
    state['positional_embedding_res'] = torch.randn(LONG_CONTEXT, short.shape[1],
                                                    generator=g) * 0.02
    if with_masks:
        mask1 = torch.zeros(LONG_CONTEXT, 1)
        mask1[:KEPT] = 1
        state['mask1'], state['mask2'] = mask1, 1 - mask1
    return state


def write_torchscript_archive(path, state: dict) -> dict:
    """OpenAI's `clip` release (`ViT-B-16.pt` in ~/.cache/clip): a TorchScript archive of the
    fp16 model whose state dict also holds `input_resolution`, `context_length` and
    `vocab_size` (open_clip's `openai.py` pops those three). Returns the fp16 tensors."""
    root = nn.Module()
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    extra = {'input_resolution': torch.tensor(224), 'context_length': torch.tensor(77),
             'vocab_size': torch.tensor(49408)}
    for key, value in {**half, **extra}.items():
        *parents, leaf = key.split('.')
        module = root
        for part in parents:
            if not hasattr(module, part):
                module.add_module(part, nn.Module())
            module = getattr(module, part)
        if value.is_floating_point():
            module.register_parameter(leaf, nn.Parameter(value, requires_grad=False))
        else:
            module.register_buffer(leaf, value)
    torch.jit.save(torch.jit.script(root), str(path))
    return half


def write_lightning_checkpoint(path, source=JBU_CKPT['jbu_stack']) -> dict:
    """A PyTorch Lightning 1.9 checkpoint as FeatUp/SimFeatUp release them (the keys of
    likyoo/SegEarth-OV simfeatup_dev/weights/clip_jbu_stack_cocostuff.ckpt, read with
    pickletools): epoch, global_step, pytorch-lightning_version, state_dict (`upsampler.*`
    only, an OrderedDict with `_metadata`), loops, callbacks (ModelCheckpoint's state),
    optimizer_states (NAdam), lr_schedulers. Returns the state dict."""
    state = OrderedDict(torch.load(source, weights_only=True)['state_dict'])
    state._metadata = OrderedDict({'': {'version': 1}, 'upsampler': {'version': 1}})
    ckpt = {'epoch': 9, 'global_step': 1000, 'pytorch-lightning_version': '1.9.4',
            'state_dict': state,
            'loops': {'fit_loop': {'state_dict': {}, 'epoch_loop.state_dict':
                                   {'_batches_that_stepped': 1000}}},
            'callbacks': {"ModelCheckpoint{'monitor': 'val/loss'}": {
                'monitor': 'val/loss', 'best_model_score': torch.tensor(0.0123),
                'best_model_path': '/mnt/checkpoints/epoch=9-step=1000.ckpt',
                'dirpath': '/mnt/checkpoints', 'best_k_models': {}}},
            'optimizer_states': [{'state': {}, 'param_groups': [
                {'lr': 1e-3, 'betas': (0.9, 0.999), 'eps': 1e-8, 'weight_decay': 0,
                 'momentum_decay': 0.004, 'foreach': None, 'differentiable': False,
                 'params': list(range(len(state)))}]}],
            'lr_schedulers': []}
    torch.save(ckpt, path)
    return state
