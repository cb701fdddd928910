#!/usr/bin/env bash
# Region prediction with torchrun:
#   bash dist_predict.sh GPUS INPUTS... --out DIR [tools/predict.py options]
# GPUS processes (NCCL on GPUs; gloo on CPU) share the scenes and blocks of large scenes;
# rerunning the same command resumes. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as
# for torchrun (run the same command on every machine, with the output folder shared).
set -euo pipefail

if [ $# -lt 2 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
    echo "usage: bash dist_predict.sh GPUS INPUTS... --out DIR [tools/predict.py options]" >&2
    exit 2
fi
GPUS=$1
shift
PYTHON=${PYTHON:-python}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29501}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
if command -v "${TORCHRUN:-torchrun}" >/dev/null 2>&1; then
    LAUNCH=("${TORCHRUN:-torchrun}")
else
    LAUNCH=("$PYTHON" -m torch.distributed.run)
fi

exec "${LAUNCH[@]}" \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/tools/predict.py" --region "$@"
