"""Loss logs a user can read: JSON lines, TensorBoard (if installed) and a tqdm bar on rank 0."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from tqdm import tqdm

from ..utils.files import write_text_atomic

logger = logging.getLogger('segearth_ov')


class TrainLogger:
    """`log(step, **scalars)` appends to `<work_dir>/log.jsonl` and TensorBoard, updates the bar.

    Only rank 0 writes; other ranks get a silent logger. Appending (not rewriting) keeps the
    log of the run before a `--resume`; `resumed=True` first drops the rows after
    `start_step` (the steps a killed run did after its last saved state, which the resumed
    run does again), so every step is logged once.
    """

    def __init__(self, work_dir: str | Path, total_steps: int, start_step: int = 0,
                 enabled: bool = True, tensorboard: bool = True, desc: str = 'train',
                 resumed: bool = False):
        self.enabled = enabled
        self.work_dir = Path(work_dir)
        self.bar = tqdm(total=total_steps, initial=start_step, desc=desc, dynamic_ncols=True,
                        disable=not enabled)
        self.writer = None
        if enabled:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            if resumed:
                truncate_log(self.work_dir / 'log.jsonl', start_step)
            self.jsonl = open(self.work_dir / 'log.jsonl', 'a')
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                    # purge_step hides the events of the steps that are done again
                    self.writer = SummaryWriter(str(self.work_dir / 'tensorboard'),
                                                purge_step=start_step + 1 if resumed else None)
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


def truncate_log(path: Path, step: int) -> int:
    """Drop the rows of `path` logged after `step` (atomically); returns how many were dropped."""
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines(keepends=True)
    kept = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:      # a line cut by a kill
            continue
        row_step = row.get('step', 0) if isinstance(row, dict) else 0
        if row_step <= step:
            kept.append(line if line.endswith('\n') else line + '\n')
    dropped = len(lines) - len(kept)
    if dropped:
        write_text_atomic(path, ''.join(kept))
        logger.info('%s: dropped %d row(s) after step %d, which this resumed run does again',
                    path, dropped, step)
    return dropped
