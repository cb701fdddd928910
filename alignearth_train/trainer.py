"""The AlignEarth training loop: data, models, optimiser, AMP, DDP, checkpoints, resume.

Layout of a work dir:
- `training_state.pt`: the latest resumable state (student, τ, optimiser, schedule, AMP
  scaler, epoch/step, RNG, config) — what `--resume` continues from;
- `alignearth_epoch_<N>.pt` and `alignearth_latest.pt`: the student as a complete
  open_clip CLIP state dict (load with `clip_type='AlignEarth', pretrained=PATH`), each
  with a `.json` beside it naming the settings to load it with;
- `log.jsonl` (on `--resume`, rows after the resumed step are dropped: they are done
  again), `tensorboard/`, `config.json`;
- `train.lock` while the run lasts (taken by train.py: a second run on the work dir is refused).
All files are written atomically (a temporary file of their own, then rename).
"""
from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Subset

from segearth_ov.training import (ResumableSampler, TrainLogger, gather_rng, gather_shards,
                                  load_training_state, restore_rank_rng, save_training_state)
from segearth_ov.utils.distributed import DistContext, init_distributed
from segearth_ov.utils.files import write_text_atomic

from .data import PairDataset, find_pairs, split_pairs
from .encoders import build_encoders, projected_tokens, save_student_checkpoint
from .losses import AlignEarthLoss
from .retrieval import retrieval_accuracy


STATE_FILE = 'training_state.pt'
LATEST = 'alignearth_latest.pt'
# settings a resumed run must share with the run it continues, or it would not see the
# same batches in the same order
SAME_ON_RESUME = ('batch_size', 'micro_batch_size', 'seed', 'epochs')


# ---------------------------------------------------------------------------- set-up
def batch_too_large(batch_size: int, micro: int | None, pairs: int, world: int) -> str:
    """The error for a batch larger than the training pairs, with a batch that fits (the
    largest power of two ≤ pairs that splits over the GPUs)."""
    fit = 1 << max(pairs, 1).bit_length() - 1
    while fit > world and fit % world:
        fit //= 2
    fix = f'batch_size={fit}' + (f' micro_batch_size={max(fit // world, 1)}' if micro else '')
    return (f'batch_size {batch_size} is larger than the {pairs} training pairs (an epoch needs '
            f'one full batch): add pairs, or lower it, e.g. --cfg-options {fix}')


def batch_plan(batch_size: int, micro: int | None, world: int) -> tuple[int, int]:
    """(micro-batch per GPU, accumulation steps) with micro × steps × GPUs = batch_size."""
    micro = micro or batch_size // world
    if micro < 1 or batch_size % (micro * world):
        raise ValueError(f'batch_size {batch_size} is not micro_batch_size {micro} × {world} '
                         f'GPU(s) × an integer number of accumulation steps: pick a '
                         'micro_batch_size that divides batch_size / GPUs')
    return micro, batch_size // (micro * world)


def load_pairs(data: dict, seed: int):
    """(train pairs, held-out pairs) from the data section of the config."""
    train = find_pairs(data['pairs'], data['optical_dir'], data['sar_dir'], 'data')
    if data['val_pairs'] or data['val_optical_dir']:
        return train, find_pairs(data['val_pairs'], data['val_optical_dir'],
                                 data['val_sar_dir'], 'data.val')
    return split_pairs(train, data['val_fraction'], seed)


def amp_dtype(amp: str, device: torch.device):
    """The autocast dtype (None: float32). Mixed precision is a GPU feature here."""
    if amp not in ('auto', 'bf16', 'fp16', 'none'):
        raise ValueError(f"amp must be 'auto', 'bf16', 'fp16' or 'none', got {amp!r}")
    if device.type != 'cuda' or amp == 'none':
        return None
    if amp == 'auto':   # bf16 where the GPU has it in hardware (emulated bf16 is slow: fp16)
        return (torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False)
                else torch.float16)
    return torch.bfloat16 if amp == 'bf16' else torch.float16


def param_groups(student: torch.nn.Module, loss: AlignEarthLoss, weight_decay: float):
    """Weight decay on matrices only: not on norms, biases, embeddings, nor τ (as CLIP)."""
    decay, no_decay = [], []
    for name, p in student.named_parameters():
        skip = p.ndim < 2 or 'embedding' in name or name.endswith('class_embedding')
        (no_decay if skip else decay).append(p)
    return [dict(params=decay, weight_decay=weight_decay),
            dict(params=no_decay + list(loss.parameters()), weight_decay=0.0)]


def lr_lambda(schedule: str, warmup: int, total: int):
    if schedule not in ('constant', 'cosine'):
        raise ValueError(f"optimizer.schedule must be 'constant' or 'cosine', got {schedule!r}")

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if schedule == 'cosine':
            t = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
        return 1.0
    return factor


def write_json_atomic(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2))


def load_settings(cfg: dict, teacher_visual) -> dict:
    """How the inference core must build the saved student (written beside each checkpoint).

    The `AlignEarth` preset assumes GELU; a student distilled from an OpenAI-initialised
    (QuickGELU) teacher must be loaded with `quick_gelu=True`, so it is written down here.
    """
    from open_clip.transformer import QuickGELU
    quick = any(isinstance(m, QuickGELU) for m in teacher_visual.modules())
    t = cfg['teacher']
    return dict(clip_type='AlignEarth', vit_type=t['vit_type'], model_cfg=t['model_cfg'],
                quick_gelu=quick, teacher=f"{t['clip_type']} {t['vit_type']}",
                sar_conversion=cfg['data']['sar'])


# ---------------------------------------------------------------------------- validation
@torch.no_grad()
def embed_pairs(dataset, teacher, student_visual, device, batch: int, dtype, with_teacher: bool,
                rank: int = 0, world: int = 1):
    """Class tokens (teacher of the optical images, student of the SAR images) in order.

    Each rank embeds pairs rank, rank + world, …; the shards are gathered, so every rank
    gets all the tokens and no rank waits while another works alone.
    """
    shard = Subset(dataset, range(rank, len(dataset), world))
    t_out, s_out = [], []
    loader = DataLoader(shard, batch_size=batch, shuffle=False, num_workers=0)
    student_visual.eval()
    try:
        for optical, sar, _ in loader:
            with autocast(device, dtype):
                if with_teacher:
                    t_out.append(projected_tokens(teacher, optical.to(device))[0].float())
                s_out.append(projected_tokens(student_visual, sar.to(device))[0].float())
    finally:
        student_visual.train()

    def whole(parts):   # (an empty shard when there are more ranks than pairs)
        mine = torch.cat(parts) if parts else torch.zeros(0, student_visual.proj.shape[1],
                                                          device=device)
        return gather_shards(mine, len(dataset)).cpu()
    return (whole(t_out) if with_teacher else None), whole(s_out)


def autocast(device: torch.device, dtype):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


class Validator:
    """Held-out optical↔SAR retrieval accuracy; the teacher's embeddings are computed once.

    Under torchrun every rank embeds its share of the pairs (call it on every rank).
    """

    def __init__(self, dataset, teacher, device, batch: int, dtype, rank: int = 0,
                 world: int = 1):
        self.dataset, self.teacher, self.device = dataset, teacher, device
        self.batch, self.dtype, self.optical = batch, dtype, None
        self.rank, self.world = rank, world

    def __call__(self, student_visual) -> dict:
        teacher, sar = embed_pairs(self.dataset, self.teacher, student_visual, self.device,
                                   self.batch, self.dtype, self.optical is None,
                                   self.rank, self.world)
        if self.optical is None:
            self.optical = teacher
        return {f'val/{k}': v for k, v in retrieval_accuracy(self.optical, sar).items()}


# ---------------------------------------------------------------------------- training
class AlignEarthTrainer:
    """Builds everything from a config dict; `run(max_steps)` trains (or resumes) to the end.

    `max_steps` stops after that many optimiser steps in all (a resumable state and the
    student checkpoint are written first) — for trials, and to test kill-and-resume.
    """

    def __init__(self, cfg: dict, resume: str | bool | None = None,
                 ctx: DistContext | None = None):
        self.cfg = cfg
        self.ctx = ctx or init_distributed(cfg['device'])
        self.device = self.ctx.device
        self.work_dir = Path(cfg['work_dir'])
        torch.manual_seed(cfg['seed'] + self.ctx.rank)
        self.dtype = amp_dtype(cfg['amp'], self.device)

        data = cfg['data']
        train_pairs, val_pairs = load_pairs(data, cfg['seed'])
        common = dict(image_size=data['image_size'], optical=data['optical'], sar=data['sar'])
        self.train_set = PairDataset(train_pairs, hflip=data['hflip'], crop_scale=data['crop_scale'],
                                     seed=cfg['seed'], **common)
        self.val_set = PairDataset(val_pairs, augment=False, **common) if val_pairs else None
        self.micro, self.accum = batch_plan(cfg['batch_size'], cfg['micro_batch_size'],
                                            self.ctx.world_size)
        self.steps_per_epoch = len(train_pairs) // cfg['batch_size']
        if self.steps_per_epoch == 0:
            raise ValueError(batch_too_large(cfg['batch_size'], cfg['micro_batch_size'],
                                             len(train_pairs), self.ctx.world_size))
        self.total_steps = self.steps_per_epoch * cfg['epochs']
        self.sampler = ResumableSampler(len(train_pairs), cfg['seed'], self.ctx.rank,
                                        self.ctx.world_size)

        t = cfg['teacher']
        self.clip, self.teacher, self.student = build_encoders(
            t['clip_type'], t['vit_type'], t['pretrained'], t['model_cfg'], t['quick_gelu'],
            cfg['grad_checkpointing'])
        self.teacher.to(self.device)
        self.student.to(self.device)
        self.loss = AlignEarthLoss(**cfg['loss']).to(self.device)
        self.model = self.student
        if self.ctx.distributed:
            from torch.nn.parallel import DistributedDataParallel
            ids = [self.device.index] if self.device.type == 'cuda' else None
            self.model = DistributedDataParallel(self.student, device_ids=ids)

        o = cfg['optimizer']
        self.optimizer = torch.optim.AdamW(param_groups(self.student, self.loss, o['weight_decay']),
                                           lr=o['lr'], betas=tuple(o['betas']), eps=o['eps'])
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(o['schedule'], o['warmup_steps'], self.total_steps))
        self.scaler = torch.amp.GradScaler('cuda', enabled=self.dtype == torch.float16)
        self.validator = (Validator(self.val_set, self.teacher, self.device, cfg['val_batch_size'],
                                    self.dtype, self.ctx.rank, self.ctx.world_size)
                          if self.val_set else None)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.resumed = bool(resume)
        if resume:
            self._resume(self.work_dir / STATE_FILE if resume is True else Path(resume))

    # -- state
    def state(self, rng: list[dict]) -> dict:
        """The resumable state; `rng`: every rank's generator states (`gather_rng`)."""
        return dict(student=self.student.visual.state_dict(), loss=self.loss.state_dict(),
                    optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                    scaler=self.scaler.state_dict(), epoch=self.epoch,
                    step_in_epoch=self.step_in_epoch, global_step=self.global_step,
                    world_size=self.ctx.world_size, rng=rng, config=self.cfg)

    def _resume(self, path: Path) -> None:
        # on the CPU: load_state_dict copies to the modules' device (a GPU's memory is not
        # spent on a second copy), and generator states must be restored from the CPU
        state = load_training_state(path, map_location='cpu')
        changed = [k for k in SAME_ON_RESUME if state['config'].get(k) != self.cfg.get(k)]
        if state['world_size'] != self.ctx.world_size:
            changed.append(f"number of processes ({state['world_size']} → {self.ctx.world_size})")
        if changed:
            how = (f" (torchrun --nproc_per_node {state['world_size']})"
                   if state['world_size'] != self.ctx.world_size else '')
            raise ValueError(f'{path} was written with other {", ".join(changed)}; resume with '
                             f'the same settings{how} or start a new work dir: each rank '
                             'continues its own share of the data and its own random state')
        self.student.visual.load_state_dict(state['student'])
        self.loss.load_state_dict(state['loss'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.scheduler.load_state_dict(state['scheduler'])
        self.scaler.load_state_dict(state['scaler'])
        self.epoch, self.step_in_epoch = state['epoch'], state['step_in_epoch']
        self.global_step = state['global_step']
        restore_rank_rng(state['rng'], self.ctx.rank, self.ctx.world_size, path)
        if self.ctx.is_main:
            print(f'resumed from {path} at epoch {self.epoch}, step {self.global_step}')

    def save_state(self) -> None:
        """Call on every rank: each rank's generator states are gathered into the state."""
        rng = gather_rng(self.ctx.world_size)
        if self.ctx.is_main:
            save_training_state(self.work_dir / STATE_FILE, self.state(rng))

    def save_student(self, name: str) -> Path:
        path = self.work_dir / name
        if self.ctx.is_main:
            save_student_checkpoint(path, self.clip, self.student.visual, self.cfg['save_half'])
            write_json_atomic(path.with_suffix('.json'), load_settings(self.cfg, self.teacher))
        return path

    # -- steps
    def _micro_step(self, optical, sar, last: bool) -> dict:
        optical, sar = optical.to(self.device, non_blocking=True), sar.to(self.device, non_blocking=True)
        sync = contextlib.nullcontext() if last or not self.ctx.distributed else self.model.no_sync()
        with sync:
            with autocast(self.device, self.dtype):
                with torch.no_grad():
                    teacher = projected_tokens(self.teacher, optical)
                student = self.model(sar)
                out = self.loss(teacher, student, self.ctx.world_size)
            self.scaler.scale(out['backward'] / self.accum).backward()
        return {k: v.float() for k, v in out.items() if k != 'backward'}

    def _optimiser_step(self) -> None:
        if self.ctx.distributed:
            self.loss.sync_temperature_grad(self.ctx.world_size)
        clip = self.cfg['optimizer']['grad_clip']
        if clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.student.parameters(), clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _mean_logs(self, logs: list[dict]) -> dict:
        keys = list(logs[0])
        values = torch.stack([torch.stack([log[k] for log in logs]).mean() for k in keys])
        if self.ctx.distributed:
            dist.all_reduce(values)
            values /= self.ctx.world_size
        out = dict(zip(keys, values.tolist()))
        out['lr'] = self.scheduler.get_last_lr()[0]
        return out

    def validate(self, log: TrainLogger) -> dict:
        """Every rank validates its share of the held-out pairs; rank 0 logs the result."""
        result = {}
        if self.validator is not None:
            result = self.validator(self.student.visual)
            if self.ctx.is_main:
                log.log(self.global_step, advance=0, epoch=self.epoch, **result)
                log.bar.write(f'epoch {self.epoch} step {self.global_step}: ' +
                              ', '.join(f'{k[4:]} {v:.1f}%' for k, v in result.items()))
        return result

    def _loader(self) -> DataLoader:
        self.train_set.epoch = self.epoch
        self.sampler.set_epoch(self.epoch, start=self.step_in_epoch * self.micro * self.accum)
        workers = self.cfg['data']['num_workers']
        return DataLoader(self.train_set, batch_size=self.micro, sampler=self.sampler,
                          num_workers=workers, pin_memory=self.device.type == 'cuda',
                          drop_last=True, persistent_workers=False)

    def run(self, max_steps: int | None = None) -> dict:
        """Train to the last epoch (or `max_steps`); return the last checkpoint and metrics."""
        if self.ctx.is_main:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.work_dir / 'config.json', self.cfg)
        log = TrainLogger(self.work_dir, self.total_steps, self.global_step,
                          enabled=self.ctx.is_main, desc='alignearth', resumed=self.resumed)
        metrics: dict = {}
        try:
            if self.global_step == 0 and self.cfg['val_at_start']:
                metrics = self.validate(log)
            while self.epoch < self.cfg['epochs']:
                batches = iter(self._loader())
                while self.step_in_epoch < self.steps_per_epoch:
                    logs = [self._micro_step(*next(batches)[:2], last=i == self.accum - 1)
                            for i in range(self.accum)]
                    self._optimiser_step()
                    self.step_in_epoch += 1
                    self.global_step += 1
                    log.log(self.global_step, epoch=self.epoch, **self._mean_logs(logs))
                    if max_steps is not None and self.global_step >= max_steps:
                        self.save_state()
                        return dict(checkpoint=self.save_student(LATEST), stopped=True, **metrics)
                    if self.global_step % self.cfg['save_every_steps'] == 0:
                        self.save_state()
                self.epoch, self.step_in_epoch = self.epoch + 1, 0
                if self.cfg['save_epoch_checkpoints']:
                    self.save_student(f'alignearth_epoch_{self.epoch}.pt')
                if self.epoch % self.cfg['val_every_epochs'] == 0 or self.epoch == self.cfg['epochs']:
                    metrics = self.validate(log)
                self.save_state()
            return dict(checkpoint=self.save_student(LATEST), stopped=False, **metrics)
        finally:
            log.close()
