"""tests/training: alignearth_train/train.py under torchrun (2 ranks, gloo), counting the
held-out pairs each rank reads; each rank writes {'val_reads', 'metrics'} to OUT/rank<R>.json.

    torchrun --nproc_per_node 2 tests/training/alignearth_worker.py OUT [train.py arguments]
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from alignearth_train import train as train_cli  # noqa: E402
from alignearth_train.data import PairDataset  # noqa: E402

reads = {'val': 0}
_getitem = PairDataset.__getitem__


def counting_getitem(self, index):
    if not self.augment:            # the held-out set is the one without augmentation
        reads['val'] += 1
    return _getitem(self, index)


PairDataset.__getitem__ = counting_getitem

if __name__ == '__main__':
    out = Path(sys.argv[1])
    result = train_cli.main(sys.argv[2:])      # destroys the process group in a finally
    metrics = {k: v for k, v in result.items() if k.startswith('val/')}
    (out / f"rank{os.environ['RANK']}.json").write_text(
        json.dumps({'val_reads': reads['val'], 'metrics': metrics}))
