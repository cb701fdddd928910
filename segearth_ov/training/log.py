"""Loss logs a user can read: JSON lines, TensorBoard (if installed) and a tqdm bar on rank 0."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from tqdm import tqdm

logger = logging.getLogger('segearth_ov')


class TrainLogger:
    """`log(step, **scalars)` appends to `<work_dir>/log.jsonl` and TensorBoard, updates the bar.

    Only rank 0 writes; other ranks get a silent logger. Appending (not rewriting) keeps the
    log of the run before a `--resume`.
    """

    def __init__(self, work_dir: str | Path, total_steps: int, start_step: int = 0,
                 enabled: bool = True, tensorboard: bool = True, desc: str = 'train'):
        self.enabled = enabled
        self.work_dir = Path(work_dir)
        self.bar = tqdm(total=total_steps, initial=start_step, desc=desc, dynamic_ncols=True,
                        disable=not enabled)
        self.writer = None
        if enabled:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            self.jsonl = open(self.work_dir / 'log.jsonl', 'a')
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                    self.writer = SummaryWriter(str(self.work_dir / 'tensorboard'))
                except ImportError:
                    logger.info('tensorboard is not installed: losses go to log.jsonl only')

    def log(self, step: int, advance: int = 1, **scalars: float) -> None:
        if not self.enabled:
            return
        row = {'step': step, **{k: float(v) for k, v in scalars.items()}}
        self.jsonl.write(json.dumps(row) + '\n')
        self.jsonl.flush()
        if self.writer is not None:
            for k, v in scalars.items():
                self.writer.add_scalar(k, float(v), step)
        self.bar.set_postfix({k: f'{float(v):.4g}' for k, v in list(scalars.items())[:4]})
        self.bar.update(advance)

    def close(self) -> None:
        self.bar.close()
        if self.enabled:
            self.jsonl.close()
            if self.writer is not None:
                self.writer.close()
