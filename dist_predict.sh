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
HERE=$(dirname "$0")
source "$HERE/tools/dist_common.sh"
take_gpus "$@"
shift "$TAKEN"
# inputs, classes, options and the plan checked once, in this process, before GPUS workers
# start (each would otherwise print the same error, then torchrun its traceback)
case " $* " in
    *" --dry-run "*) ;;
    *) "$PYTHON" "$HERE/tools/predict.py" --region --dry-run --ranks "$GPUS" "$@" >/dev/null ;;
esac
run_torchrun 29501 "$HERE/tools/predict.py" --region "$@"
