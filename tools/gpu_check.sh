#!/usr/bin/env bash
# The GPU check in one command, on a GPU machine with no network (docs/gpus.md, "Offline GPU
# machine"): installs gpu_bundle/ (`make gpu-bundle`, made beforehand where pip works) beside
# the machine's own torch, runs the GPU tests, the fp32/fp16/bf16 agreement table and the
# CUDA benchmark, and writes report.json, report.md, tests.xml and gpu_check.log into OUT_DIR.
#   bash tools/gpu_check.sh OUT_DIR               on the GPU machine, in under 8 minutes
#   bash tools/gpu_check.sh --dry-run [OUT_DIR]   here: the same on CPU, on a stand-in machine
# Environment: PYTHON (the machine's Python with its torch, default python3), GPU_BUNDLE (default
# gpu_bundle), GPU_CHECK_BUDGET (seconds, default 480; the steps' time limits share it),
# GPU_TESTS (default: the Makefile's test-gpu list), PROJECT_PYTHON (dry run: the venv whose
# packages stand in for the image's, default .venv/bin/python).
# The dry run builds the bundle (tools/gpu_bundle.sh) and checks it installs offline for
# Python 3.12, then makes the stand-in: a fresh Python 3.11 venv whose only packages are the
# GPU image's (tools/gpu_image.txt), linked from the project's venv through a .pth file, so
# it has torch without a download and nothing of ours; a 3.11 copy of the bundle goes there.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY=0
if [ "${1:-}" = --dry-run ]; then DRY=1; shift; fi
if [ $# -gt 1 ] || { [ $DRY = 0 ] && [ $# -ne 1 ]; } || [[ ${1:-} == -* ]]; then
    echo "usage: bash tools/gpu_check.sh OUT_DIR | --dry-run [OUT_DIR]" >&2
    exit 2
fi
OUT="$(mkdir -p "${1:-$ROOT/work_dirs/gpu_check_dry_run}" && cd "${1:-$ROOT/work_dirs/gpu_check_dry_run}" && pwd)"
BUDGET=${GPU_CHECK_BUDGET:-$([ $DRY = 1 ] && echo 1800 || echo 480)}
SLOW=$([ $DRY = 1 ] && echo 6 || echo 1)          # the steps' limits × this on CPU
BUNDLE="${GPU_BUNDLE:-$ROOT/gpu_bundle}"
GPU_TESTS=${GPU_TESTS:-tests/gpu tests/models/test_parity.py tests/models/test_benchmark_script.py}
WORK="$(mktemp -d "${TMPDIR:-/tmp}/segearth_gpu_check.XXXXXX")"
RAW="$WORK/raw"
mkdir -p "$RAW"
: > "$RAW/steps.tsv"
LOG="$OUT/gpu_check.log"
exec > >(tee "$LOG") 2>&1
log() { printf '[gpu-check %3ds] %s\n' "$SECONDS" "$*"; }
trap 'rm -rf "$WORK"' EXIT

# step NAME LIMIT CMD...: run with a time limit (its share of what is left of the budget),
# output to $RAW/NAME.txt and the log, status to steps.tsv (ok, failed N, timeout)
step() {
    local name=$1 limit=$(($2 * SLOW)) left start rc status
    shift 2
    left=$((BUDGET - SECONDS - 20))                 # 20 s kept for the report
    [ "$limit" -gt "$left" ] && limit=$left
    if [ "$limit" -le 5 ]; then
        log "$name: skipped, the ${BUDGET} s budget is spent"
        printf '%s\tskipped\t0\n' "$name" >> "$RAW/steps.tsv"
        return 1
    fi
    log "$name (at most ${limit} s): $*"
    start=$SECONDS
    timeout --signal=TERM --kill-after=15 "$limit" "$@" > >(tee "$RAW/$name.txt") 2>&1
    rc=$?
    case $rc in 0) status=ok ;; 124|137) status=timeout ;; *) status="failed $rc" ;; esac
    printf '%s\t%s\t%d\n' "$name" "$status" $((SECONDS - start)) >> "$RAW/steps.tsv"
    log "$name: $status in $((SECONDS - start)) s"
    return $rc
}

if [ $DRY = 1 ]; then
    PROJECT_PY="${PROJECT_PYTHON:-$ROOT/.venv/bin/python}"
    BASE_PY="${DRY_RUN_PYTHON:-python3.11}"
    log "dry run: bundle for Python 3.12 ($BUNDLE)"
    bash "$ROOT/tools/gpu_bundle.sh" "$BUNDLE" || exit 1
    pyver=$("$BASE_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || exit 1
    BUNDLE="$ROOT/work_dirs/gpu_bundle_py$pyver"
    bash "$ROOT/tools/gpu_bundle.sh" --python "$pyver" "$BUNDLE" || exit 1
    machine="$WORK/machine"
    log "dry run: the stand-in GPU machine, a fresh Python $pyver venv with the image's packages"
    "$BASE_PY" -m venv "$machine" || exit 1
    "$PROJECT_PY" "$ROOT/tools/gpu_check_report.py" image-site \
        --names "$ROOT/tools/gpu_image.txt" --to "$WORK/image_site" || exit 1
    site=$("$machine/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    echo "$WORK/image_site" > "$site/gpu_image.pth"
    PYTHON="$machine/bin/python"
    DEVICE=cpu
else
    PYTHON="${PYTHON:-python3}"
    DEVICE=cuda
fi

if [ ! -f "$BUNDLE/bundle.json" ]; then
    echo "error: no bundle at $BUNDLE: run 'make gpu-bundle' where pip can download, and" \
         "bring the folder along (or set GPU_BUNDLE)" >&2
    exit 2
fi
want=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["python"])' "$BUNDLE/bundle.json")
have=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$want" != "$have" ]; then
    echo "error: $BUNDLE holds wheels for Python $want, $PYTHON is Python $have: run" \
         "'bash tools/gpu_bundle.sh --python $have' where pip can download" >&2
    exit 2
fi

# A venv of the check's own: our wheels in its site-packages, the machine's packages (torch
# …) behind them through a .pth (site.addsitedir, their own .pth files too). Not
# --system-site-packages: the machine's python3 may be a venv itself (the lent GPU machine's
# is /opt/torch/.venv), whose packages a venv made from it would not see. Its python is
# sys.executable of every process the tests start, so none depends on PYTHONPATH.
VENV="$WORK/venv"
"$PYTHON" -m venv --without-pip "$VENV" || exit 1
VSITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
"$PYTHON" - "$VSITE/machine.pth" <<'PY' || exit 1
import site, sys, sysconfig
dirs = [d for d in dict.fromkeys(site.getsitepackages() + [sysconfig.get_path('purelib'),
                                                           sysconfig.get_path('platlib')])]
open(sys.argv[1], 'w').write(f'import site; list(map(site.addsitedir, {dirs!r}))\n')
PY
mkdir -p "$WORK/wheels"
step unpack 60 tar -xJf "$BUNDLE/wheels.tar.xz" -C "$WORK/wheels" || exit 1
step install 120 "$PYTHON" -m pip --disable-pip-version-check install -q --no-index --no-deps \
    --no-compile --target "$VSITE" "$WORK/wheels"/*.whl || exit 1
cp "$ROOT/tools/mmcv_ext_stub.py" "$VSITE/mmcv/_ext.py"
printf '#!%s\nimport sys\nfrom torch.distributed.run import main\nsys.exit(main())\n' \
    "$VENV/bin/python" > "$VENV/bin/torchrun"
chmod +x "$VENV/bin/torchrun"
PYTHON="$VENV/bin/python"
export PYTHON PYTHONPATH="$ROOT" PATH="$VENV/bin:$PATH" PYTHONUNBUFFERED=1
cd "$ROOT"
step environment 90 "$PYTHON" "$ROOT/tools/gpu_check_report.py" environment || exit 1

if [ $DEVICE = cuda ]; then
    PRECISIONS=(fp32 fp16 bf16); SIZES=(224 448 896); BENCH_PRECISIONS=(fp16 fp32); RUNS=3
else
    PRECISIONS=(fp32 fp16 bf16); SIZES=(224); BENCH_PRECISIONS=(fp32); RUNS=1
fi
# shellcheck disable=SC2086
step tests 240 "$PYTHON" -m pytest -q -p no:cacheprovider --device $DEVICE $GPU_TESTS \
    --junitxml "$OUT/tests.xml"
step precision 60 "$PYTHON" tools/precision_drift.py --device $DEVICE --precision "${PRECISIONS[@]}"
for p in "${BENCH_PRECISIONS[@]}"; do
    for s in "${SIZES[@]}"; do
        step "benchmark_${p}_$s" 50 "$PYTHON" tools/benchmark.py --device $DEVICE --precision "$p" \
            --size "$s" --runs $RUNS
    done
done
"$PYTHON" "$ROOT/tools/gpu_check_report.py" report --raw "$RAW" --out "$OUT" \
    --junit "$OUT/tests.xml" --dry-run $DRY --seconds "$SECONDS"
rc=$?
log "done in $SECONDS s: $OUT/report.md"
exit $rc
