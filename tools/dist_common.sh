# Shared by dist_test.sh, dist_train.sh and dist_predict.sh (sourced, not run):
#   take_gpus "$@"; shift "$TAKEN"   GPUS = the first argument if it is a number, else the
#                                      visible GPUs (at least 1: CPU processes with gloo)
#   run_torchrun PORT SCRIPT ARGS...  exec torchrun (or python -m torch.distributed.run)
# Multi-node through NNODES, NODE_RANK, MASTER_ADDR and PORT, as for torchrun itself.
# PORT=0: one machine, torchrun --standalone binds free ports itself (a port picked free
# beforehand can be taken by another program before torchrun binds it).
PYTHON=${PYTHON:-python}

take_gpus() {
    if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
        GPUS=$1
        TAKEN=1
    else
        GPUS=$("$PYTHON" -c 'import torch; print(max(torch.cuda.device_count(), 1))')
        TAKEN=0
    fi
}

run_torchrun() {
    local port=${PORT:-$1}
    shift
    local launch
    # torchrun from PATH (set TORCHRUN to choose another); else the module behind it
    if command -v "${TORCHRUN:-torchrun}" >/dev/null 2>&1; then
        launch=("${TORCHRUN:-torchrun}")
    else
        launch=("$PYTHON" -m torch.distributed.run)
    fi
    local where=(--nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}"
                 --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="$port")
    if [ "$port" = 0 ]; then
        if [ "${NNODES:-1}" != 1 ]; then
            echo "PORT=0 (free ports chosen by torchrun) works on one machine only;" \
                 "give the nodes a PORT (NNODES=$NNODES)" >&2
            exit 2
        fi
        where=(--standalone)
    fi
    exec "${launch[@]}" "${where[@]}" --nproc_per_node="$GPUS" "$@"
}
