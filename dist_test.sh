#!/usr/bin/env bash
# Distributed evaluation of one config with torchrun:
#   bash dist_test.sh CONFIG [GPUS] [extra eval.py args, e.g. --cfg-options ... --work-dir DIR]
# GPUS (default: all visible GPUs, or 1) processes each evaluate a share of the images; the
# metric gathers them, so the numbers equal a single-process run. NCCL on GPUs; without a GPU
# eval.py uses gloo on CPU. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as for torchrun.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: bash dist_test.sh CONFIG [GPUS] [eval.py args...]" >&2
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
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
# torchrun from PATH (set TORCHRUN to choose another); else the module behind it
if command -v "${TORCHRUN:-torchrun}" >/dev/null 2>&1; then
    LAUNCH=("${TORCHRUN:-torchrun}")
else
    LAUNCH=("$PYTHON" -m torch.distributed.run)
fi

exec "${LAUNCH[@]}" \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/eval.py" --config "$CONFIG" --launcher pytorch "$@"
