"""Pieces shared by the training scripts (SimFeatUp, AlignEarth, decoders).

Plain PyTorch loops use these so that every trainer resumes, shards and logs the same way:
- `state`: atomic, `weights_only`-loadable training states with every rank's RNG;
- `workdir`: one run per work dir (a lock file naming the run that holds it);
- `data`: image lists and a resumable, rank-sharded sampler;
- `distributed`: feature gathering across ranks, with gradients (the process group is
  started by `segearth_ov.utils.distributed.init_distributed`);
- `log`: loss logs as JSON lines and TensorBoard, and a tqdm bar on rank 0.
"""
from .data import ResumableSampler, list_images  # noqa: F401
from .distributed import all_gather_with_grad, gather_shards  # noqa: F401
from .log import TrainLogger  # noqa: F401
from .state import (TrainingStateError, capture_rng, gather_rng,  # noqa: F401
                    load_training_state, restore_rank_rng, restore_rng, save_training_state)
from .workdir import WorkDirBusy, check_free, work_dir_lock  # noqa: F401
