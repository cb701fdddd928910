#!/usr/bin/env bash
# Download what an offline GPU machine needs for tools/gpu_check.sh (`make gpu-bundle`):
#   bash tools/gpu_bundle.sh [--python 3.12] [DEST]        (DEST: gpu_bundle, git-ignored)
# DEST/wheels: the wheels of tools/gpu_bundle.txt for CPython X.Y on manylinux x86-64, with no
# dependencies resolved (the list names each); DEST/bundle.json: their names, sizes and
# SHA-256, the Python version and the list's hash. Checked as an offline machine would use
# it (pip --no-index finds every pin there). At most 60 MB (the device machine takes 64
# MiB beside the working tree). Idempotent: an up-to-date DEST is left as it is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYVER=3.12
if [ "${1:-}" = --python ]; then PYVER=$2; shift 2; fi
DEST="${1:-$ROOT/gpu_bundle}"
LIST="$ROOT/tools/gpu_bundle.txt"
LIMIT_MB=60
PY="${PYTHON:-python3}"

log() { printf '[gpu-bundle] %s\n' "$*"; }
if ! [[ $PYVER =~ ^3\.[0-9]+$ ]]; then
    echo "error: --python $PYVER: give a CPython version such as 3.12" >&2
    exit 2
fi
stamp="$(cat "$LIST" | sha256sum | cut -c1-16)-py$PYVER"
if [ -f "$DEST/bundle.json" ] && grep -qs "\"stamp\": \"$stamp\"" "$DEST/bundle.json"; then
    log "up to date: $DEST (Python $PYVER)"
    exit 0
fi
rm -rf "$DEST/wheels" "$DEST/bundle.json"
mkdir -p "$DEST/wheels"
log "downloading the wheels of tools/gpu_bundle.txt for CPython $PYVER into $DEST/wheels"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
"$PY" -m pip --disable-pip-version-check download -q --no-deps --only-binary=:all: \
    --implementation cp --python-version "$PYVER" "${platforms[@]}" \
    -d "$DEST/wheels" -r "$LIST"
# the check a machine without network makes: every pin found in DEST/wheels, no index
"$PY" -m pip --disable-pip-version-check install --dry-run -q --no-index --no-deps \
    --find-links "$DEST/wheels" --only-binary=:all: --implementation cp --python-version "$PYVER" \
    "${platforms[@]}" --target "$DEST/.offline-check" -r "$LIST"
rm -rf "$DEST/.offline-check"
"$PY" - "$DEST" "$PYVER" "$stamp" "$LIMIT_MB" <<'PY'
import hashlib, json, sys
from pathlib import Path
dest, pyver, stamp, limit = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
wheels = sorted((dest / 'wheels').glob('*.whl'))
files = [dict(name=w.name, bytes=w.stat().st_size,
              sha256=hashlib.sha256(w.read_bytes()).hexdigest()) for w in wheels]
total = sum(f['bytes'] for f in files)
(dest / 'bundle.json').write_text(json.dumps(
    dict(stamp=stamp, python=pyver, total_mb=round(total / 1e6, 1), wheels=files), indent=1))
print(f'[gpu-bundle] {len(files)} wheels, {total / 1e6:.1f} MB in {dest}')
if total / 1e6 > limit:
    sys.exit(f'error: the bundle is {total / 1e6:.1f} MB, over its {limit:.0f} MB: '
             'leave packages out of tools/gpu_bundle.txt')
PY
