"""tests/training: simfeatup_train/train.py under torchrun (gloo); each rank writes its final
weights and the image indices it was served to OUT/rank<R>.pt.

    torchrun --nproc_per_node 2 tests/training/simfeatup_worker.py OUT [train.py arguments]
"""
import os
import sys
from pathlib import Path

import torch

from simfeatup_train import train as train_cli
from simfeatup_train.trainer import Run

served = []
_one, _fit = Run._one, Run.fit


def recording_one(self, batch, log):
    served.extend(batch['index'])
    return _one(self, batch, log)


def saving_fit(self):
    path = _fit(self)
    torch.save({'weights': self.model.state_dict(), 'served': served},
               OUT / f"rank{os.environ['RANK']}.pt")
    return path


Run._one, Run.fit = recording_one, saving_fit

if __name__ == '__main__':
    OUT = Path(sys.argv[1])
    sys.exit(train_cli.main(sys.argv[2:]))    # destroys the process group in a finally
