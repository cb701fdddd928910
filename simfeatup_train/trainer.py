"""The SimFeatUp training loop: data, views, optimiser, checkpoints, resume, logs, pictures.

A run writes into its work dir:
- `state_latest.pt`: the resumable training state (weights of everything trained, optimiser,
  step, every rank's random generators), every `save_every` steps and at the end;
- `train.lock` while the run lasts (a second run on the work dir is refused);
- `upsampler_latest.ckpt`, then `<upsampler>_<clip_type>_<vit_type>.ckpt` at the end: the
  upsampler alone, in the released layout that `feature_up_cfg['model_path']` loads;
- `log.jsonl` and `tensorboard/` (each loss term per step), `vis/step_*.png`, `config.json`.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from segearth_ov.models.upsamplers.jbu import build_upsampler
from segearth_ov.training import (ResumableSampler, TrainLogger, gather_rng, list_images,
                                  load_training_state, restore_rank_rng, save_training_state,
                                  work_dir_lock)
from segearth_ov.utils.distributed import init_distributed

from .data import UnlabeledCrops, collate_crops
from .features import FrozenCLIPFeatures
from .jitter import apply_jitter, sample_jitter
from .modules import normalise, random_projection
from .objective import SimFeatUpObjective
from .visualize import save_picture

logger = logging.getLogger('segearth_ov')

DEFAULTS = dict(
    clip_type='CLIP', vit_type='ViT-B/16', pretrained=None, model_cfg=None, quick_gelu=None,
    upsampler='jbu_one', upsampler_init=None, data=None, crop_size=224, num_workers=4,
    batch_size=4, epochs=1, max_steps=None, lr=1e-3, clip_grad_norm=1e-4, clip_grad_steps=10,
    seed=0, n_jitters=5, max_pad=20, max_zoom=2.0, zoom_prob=0.5, flip_prob=0.5, proj_dim=30,
    down_kernel=None, gamma=0.1, work_dir='work_dirs/simfeatup', save_every=500,
    vis_every=500, device=None,
)
TRAINABLE = ('jbu_one', 'jbu_stack')
STATE_FILE = 'state_latest.pt'
# Settings a resumed run must share with the run it continues (others, e.g. max_steps, may change).
RESUME_KEYS = ('clip_type', 'vit_type', 'pretrained', 'model_cfg', 'upsampler', 'crop_size',
               'batch_size', 'seed', 'n_jitters', 'proj_dim', 'down_kernel', 'data')


def check_config(cfg: dict) -> dict:
    """The config with defaults filled in; unknown keys and impossible values are refused."""
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(f'unknown SimFeatUp training settings {unknown}; valid: '
                         f'{", ".join(DEFAULTS)}')
    cfg = {**DEFAULTS, **cfg}
    if not cfg['data']:
        raise ValueError('no training images: set data= to a folder of images or a list file '
                         '(see simfeatup_train/README.md, "Data")')
    if cfg['upsampler'] not in TRAINABLE:
        raise ValueError(f"upsampler {cfg['upsampler']!r} cannot be trained; use one of {TRAINABLE}")
    for key in ('crop_size', 'batch_size', 'epochs', 'n_jitters', 'proj_dim', 'save_every',
                'vis_every'):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise ValueError(f'{key} must be a positive integer, got {cfg[key]!r}')
    if cfg['max_steps'] is not None and (not isinstance(cfg['max_steps'], int)
                                         or cfg['max_steps'] < 0):
        raise ValueError(f"max_steps must be None or an integer ≥ 0, got {cfg['max_steps']!r}")
    if cfg['max_zoom'] < 1:
        raise ValueError(f"max_zoom must be ≥ 1 (1: no zoom), got {cfg['max_zoom']}")
    if 2 * cfg['max_pad'] >= cfg['crop_size']:
        raise ValueError(f"max_pad {cfg['max_pad']} needs crop_size > {2 * cfg['max_pad']} "
                         '(reflect padding is limited by the image size)')
    return cfg


def upsampler_checkpoint(upsampler: torch.nn.Module, meta: dict) -> dict:
    """The released layout: {'state_dict': {'upsampler.<key>': tensor}}, plus a `meta` dict."""
    return {'state_dict': {f'upsampler.{k}': v.detach().cpu().clone()
                           for k, v in upsampler.state_dict().items()},
            'meta': meta}


def all_ranks_min(value: int, ctx) -> int:
    if not ctx.distributed:
        return value
    t = torch.tensor([value], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


class Run:
    """One training run (fresh or resumed); `fit()` trains and returns the final checkpoint."""

    def __init__(self, cfg: dict, resume: bool = False, on_step=None):
        self.cfg = cfg = check_config(cfg)
        self.on_step = on_step          # tests: called after every step (may raise to "kill")
        self.ctx = ctx = init_distributed(cfg['device'])
        self.work_dir = Path(cfg['work_dir'])
        state_path = self.work_dir / STATE_FILE
        if not resume and state_path.exists():
            raise FileExistsError(
                f'{self.work_dir} already holds a run ({STATE_FILE}): pass --resume to continue '
                'it, or choose another --work-dir (nothing there is overwritten)')

        torch.manual_seed(cfg['seed'])   # the same initial weights on every rank
        self.clip = FrozenCLIPFeatures(cfg['clip_type'], cfg['vit_type'], cfg['pretrained'],
                                       cfg['model_cfg'], cfg['quick_gelu']).to(ctx.device)
        patch, feat_dim = self.clip.patch_size, self.clip.feat_dim
        if cfg['crop_size'] % patch:
            raise ValueError(f"crop_size {cfg['crop_size']} is not a multiple of the patch size "
                             f'{patch} of {cfg["clip_type"]} {cfg["vit_type"]}')
        upsampler = build_upsampler(cfg['upsampler'], feat_dim, patch,
                                    model_path=cfg['upsampler_init'], allow_random=True)
        self.model = SimFeatUpObjective(upsampler, feat_dim,
                                        cfg['down_kernel'] or patch).to(ctx.device).train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.NAdam(self.params, lr=cfg['lr'])

        files = list_images(cfg['data'])
        self.dataset = UnlabeledCrops(files, cfg['crop_size'], cfg['seed'])
        self.sampler = ResumableSampler(len(files), cfg['seed'], ctx.rank, ctx.world_size)
        self.steps_per_epoch = math.ceil(self.sampler.per_rank / cfg['batch_size'])
        total = cfg['epochs'] * self.steps_per_epoch
        self.total_steps = total if cfg['max_steps'] is None else min(total, cfg['max_steps'])
        self.step, self.skipped = 0, 0
        self.resumed = resume
        torch.manual_seed(cfg['seed'] * 1_000_003 + ctx.rank + 1)   # views and dropout per rank
        if resume:
            self._load(state_path)
        self.ddp = (DistributedDataParallel(self.model, device_ids=[ctx.device.index]
                                            if ctx.device.type == 'cuda' else None)
                    if ctx.distributed else self.model)
        if ctx.is_main:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            (self.work_dir / 'config.json').write_text(json.dumps(cfg, indent=2, default=str))
            logger.info('SimFeatUp training: %d images, %d steps of %d × %d views, features %d '
                        '(patch %d)', len(files), self.total_steps, cfg['batch_size'],
                        cfg['n_jitters'], feat_dim, patch)

    # --- state ------------------------------------------------------------------------
    def _meta(self) -> dict:
        c = self.cfg
        return {'clip_type': c['clip_type'], 'vit_type': c['vit_type'],
                'upsampler': c['upsampler'], 'feat_dim': self.clip.feat_dim,
                'patch_size': self.clip.patch_size, 'step': self.step}

    def _save(self) -> None:
        rngs = gather_rng(self.ctx.world_size)
        if self.ctx.is_main:
            state = {'step': self.step, 'skipped': self.skipped,
                     'world_size': self.ctx.world_size,
                     'config': {k: self.cfg[k] for k in RESUME_KEYS},
                     'model': self.model.state_dict(), 'optimizer': self.optimizer.state_dict(),
                     'rng': rngs}
            save_training_state(self.work_dir / STATE_FILE, state)
            save_training_state(self.work_dir / 'upsampler_latest.ckpt',
                                upsampler_checkpoint(self.model.upsampler, self._meta()))
        if self.ctx.distributed:
            dist.barrier()

    def _load(self, path: Path) -> None:
        state = load_training_state(path)
        changed = {k: (state['config'].get(k), self.cfg[k]) for k in RESUME_KEYS
                   if state['config'].get(k) != self.cfg[k]}
        if changed:
            raise ValueError(f'--resume with other settings than the saved run: {changed} '
                             '(saved, now); resume with the same config or start a new work dir')
        if state['world_size'] != self.ctx.world_size:
            raise ValueError(f"the saved run used {state['world_size']} processes, this one "
                             f'{self.ctx.world_size}: resume with the same number, so that each '
                             'rank continues its own share of the data')
        self.model.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.step, self.skipped = state['step'], state['skipped']
        restore_rank_rng(state['rng'], self.ctx.rank, self.ctx.world_size, path)
        if self.ctx.is_main:
            logger.info('resumed %s at step %d', path, self.step)

    # --- one step ---------------------------------------------------------------------
    def train_step(self, img_uint8: torch.Tensor) -> dict:
        """One optimiser step over n_jitters views of the batch; returns the summed losses."""
        rec_sum, img_sum = self.update(img_uint8).tolist()   # one host sync per step
        return {'loss/total': rec_sum + self.cfg['gamma'] * img_sum, 'loss/rec': rec_sum,
                'loss/img': img_sum}

    def update(self, img_uint8: torch.Tensor) -> torch.Tensor:
        """The optimiser step of `train_step`, on the device; returns (L_rec, L_img) averaged
        over the views, as a tensor there (nothing here waits for the GPU)."""
        cfg, dev = self.cfg, self.ctx.device
        self.optimizer.zero_grad(set_to_none=True)
        img = normalise(img_uint8.to(dev, non_blocking=True))
        lr_feats = self.clip(img)
        n = cfg['n_jitters']
        sums = torch.zeros(2, device=dev, dtype=torch.float64)
        for j in range(n):
            jitter = sample_jitter(*img.shape[-2:], cfg['max_pad'], cfg['max_zoom'],
                                   cfg['zoom_prob'], cfg['flip_prob'])
            proj = random_projection(img.shape[0], lr_feats.shape[1], cfg['proj_dim']).to(dev)
            with torch.no_grad():
                jit_img = apply_jitter(img, jitter)
                lr_jit = self.clip(jit_img)
            # Gradients are summed over the views; DDP averages them across ranks once, after
            # the last view's backward.
            sync = (self.ddp.no_sync() if self.ctx.distributed and j < n - 1
                    else contextlib.nullcontext())
            with sync:
                rec, img_loss = self.ddp(img, lr_feats, jit_img, lr_jit, tuple(jitter), proj)
                ((rec + cfg['gamma'] * img_loss) / n).backward()
            sums += torch.stack([rec.detach(), img_loss.detach()]).double() / n
        if self.step < cfg['clip_grad_steps']:
            torch.nn.utils.clip_grad_norm_(self.params, cfg['clip_grad_norm'])
        self.optimizer.step()
        return sums

    def _picture(self, img_uint8: torch.Tensor) -> None:
        self.model.eval()
        try:
            with torch.no_grad():
                img = normalise(img_uint8[:1].to(self.ctx.device))
                lr = self.clip(img)
                hr = self.model.upsample(lr, img)
                recon = self.model.crn(hr)
            save_picture(self.work_dir / 'vis' / f'step_{self.step:06d}.png', img_uint8[0],
                         lr[0], hr[0], recon[0])
        finally:
            self.model.train()

    # --- the loop ---------------------------------------------------------------------
    def loader(self, epoch: int, start: int) -> DataLoader:
        self.sampler.set_epoch(epoch, start=start)
        self.dataset.set_epoch(epoch)
        return DataLoader(self.dataset, self.cfg['batch_size'], sampler=self.sampler,
                          num_workers=self.cfg['num_workers'], collate_fn=collate_crops,
                          pin_memory=self.ctx.device.type == 'cuda',
                          generator=torch.Generator())   # leaves the global generator alone

    def fit(self) -> Path:
        cfg, ctx = self.cfg, self.ctx
        log = TrainLogger(self.work_dir, self.total_steps, self.step, enabled=ctx.is_main,
                          desc='SimFeatUp', resumed=self.resumed)
        try:
            while self.step < self.total_steps:
                epoch, in_epoch = divmod(self.step, self.steps_per_epoch)
                for batch in self.loader(epoch, in_epoch * cfg['batch_size']):
                    self._one(batch, log)
                    if self.step >= self.total_steps or self.step % self.steps_per_epoch == 0:
                        break
            if self.step == 0 or self.step % cfg['save_every']:
                self._save()      # the final state (a multiple of save_every is saved already)
        finally:
            log.close()
        return self._final_checkpoint()

    def _one(self, batch: dict, log: TrainLogger) -> None:
        for msg in batch['skipped']:
            logger.warning('skipped an unreadable image: %s', msg)
        self.skipped += len(batch['skipped'])
        if all_ranks_min(len(batch['index']), self.ctx) > 0:
            losses = self.train_step(batch['img'])
        else:   # a rank got no readable image: every rank skips the update, the data moves on
            losses = {}
        self.step += 1
        log.log(self.step, **losses, skipped_images=self.skipped)
        if self.step % self.cfg['save_every'] == 0:
            self._save()
        if self.ctx.is_main and self.step % self.cfg['vis_every'] == 0 and len(batch['index']):
            self._picture(batch['img'])
        if self.on_step is not None:
            self.on_step(self.step, {**losses, 'index': batch['index']})

    def _final_checkpoint(self) -> Path:
        name = f"{self.cfg['upsampler']}_{self.cfg['clip_type']}_{self.cfg['vit_type']}"
        path = self.work_dir / (name.replace('/', '-') + '.ckpt')
        if self.ctx.is_main:
            save_training_state(path, upsampler_checkpoint(self.model.upsampler, self._meta()))
            logger.info('SimFeatUp checkpoint: %s (%d unreadable images skipped)', path,
                        self.skipped)
        return path


def train(cfg: dict, resume: bool = False, on_step=None) -> Path:
    """Train SimFeatUp with `cfg` (see configs/); returns the upsampler checkpoint's path.

    Rank 0 holds the work dir's lock throughout: a second run on it is refused.
    """
    cfg = check_config(cfg)
    try:
        with work_dir_lock(cfg['work_dir'], enabled=os.environ.get('RANK', '0') == '0'):
            return Run(cfg, resume, on_step).fit()
    finally:
        if dist.is_available() and dist.is_initialized() and int(os.environ.get('WORLD_SIZE', 1)) > 1:
            dist.destroy_process_group()
