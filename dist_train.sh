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
CONFIG=$1
shift
PYTHON=${PYTHON:-python}
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    GPUS=$1
    shift
else
    GPUS=$("$PYTHON" -c 'import torch; print(max(torch.cuda.device_count(), 1))')
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29510}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
if command -v "${TORCHRUN:-torchrun}" >/dev/null 2>&1; then
    LAUNCH=("${TORCHRUN:-torchrun}")
else
    LAUNCH=("$PYTHON" -m torch.distributed.run)
fi

exec "${LAUNCH[@]}" \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/tools/train.py" "$CONFIG" --launcher pytorch "$@"
