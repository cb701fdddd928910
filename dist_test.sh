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
HERE=$(dirname "$0")
source "$HERE/tools/dist_common.sh"
CONFIG=$1
shift
take_gpus "$@"
shift "$TAKEN"
run_torchrun 29500 "$HERE/eval.py" --config "$CONFIG" --launcher pytorch "$@"
