#!/usr/bin/env bash
# Distributed training of one config with torchrun:
#   bash dist_train.sh CONFIG [GPUS] [extra tools/train.py args, e.g. --resume --cfg-options ...]
# GPUS (default: all visible GPUs, or 1) processes each train on their share of every batch
# (DDP); NCCL on GPUs, gloo on CPU. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: bash dist_train.sh CONFIG [GPUS] [tools/train.py args...]" >&2
    exit 2
fi
HERE=$(dirname "$0")
source "$HERE/tools/dist_common.sh"
CONFIG=$1
shift
take_gpus "$@"
shift "$TAKEN"
run_torchrun 29510 "$HERE/tools/train.py" "$CONFIG" --launcher pytorch "$@"
