"""Pieces shared by the training scripts (SimFeatUp, AlignEarth, decoders).

Plain PyTorch loops use these so that every trainer resumes, shards and logs the same way:
- `state`: atomic, `weights_only`-loadable training states with RNG capture;
- `data`: image lists and a resumable, rank-sharded sampler;
- `distributed`: torchrun/DDP set-up and feature gathering with gradients;
- `log`: loss logs as JSON lines and TensorBoard, and a tqdm bar on rank 0.
"""
from .data import ResumableSampler, list_images  # noqa: F401
from .distributed import DistContext, all_gather_with_grad, init_distributed  # noqa: F401
from .log import TrainLogger  # noqa: F401
from .state import (capture_rng, load_training_state, restore_rng,  # noqa: F401
                    save_training_state)
