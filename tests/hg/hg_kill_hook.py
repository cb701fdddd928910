"""A hook that SIGKILLs the training process after a given iteration (kill-and-resume test)."""
import os
import signal

from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class HGKillAfterIter(Hook):
    priority = 'LOWEST'   # after the checkpoint hook of the same iteration

    def __init__(self, after: int):
        self.after = after

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 >= self.after:
            os.kill(os.getpid(), signal.SIGKILL)
