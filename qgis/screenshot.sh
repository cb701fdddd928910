#!/usr/bin/env bash
# Refreshes docs/images/qgis.png: QGIS (Debian's, under Xvfb, a fresh profile) with the
# plugin's result on the demo tile, computed by the tiny test models (tests/data/models: the
# classes are meaningless, the mechanics are real). Needs tools/install.sh's QGIS and xvfb.
#   bash qgis/screenshot.sh [OUT.png]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(realpath -m "${1:-$ROOT/docs/images/qgis.png}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/run" && chmod 700 "$work/run"
# as if QGIS were started from the activated environment (the plugin finds its Python;
# default: the checkout's .venv)
env -u PYTHONHOME HOME="$work/home" XDG_RUNTIME_DIR="$work/run" \
    VIRTUAL_ENV="${VIRTUAL_ENV:-$ROOT/.venv}" PYTHONPATH="$ROOT" SEGEARTH_SHOT="$OUT" SEGEARTH_SHOT_WORK="$work" SEGEARTH_ROOT="$ROOT" \
    OMP_NUM_THREADS=2 \
    timeout 300 xvfb-run -a -s "-screen 0 1400x860x24" \
    qgis --nologo --noversioncheck --code "$ROOT/qgis/screenshot.py" || true
if [ -f "$work/error.txt" ]; then cat "$work/error.txt" >&2; exit 1; fi
test -s "$OUT" && echo "wrote $OUT"
