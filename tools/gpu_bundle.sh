#!/usr/bin/env bash
# Download what an offline GPU machine needs for tools/gpu_check.sh (`make gpu-bundle`):
#   bash tools/gpu_bundle.sh [--python 3.12] [DEST]        (DEST: gpu_bundle, git-ignored)
# DEST/wheels.tar.xz: the wheels of tools/gpu_bundle.txt for CPython X.Y on manylinux x86-64,
# with no dependencies resolved (the list names each), their members stored uncompressed and
# the whole xz-compressed; DEST/bundle.json: their names, sizes and SHA-256, the Python
# version and the list's hash. Checked as an offline machine uses it (pip --no-index finds
# every pin). At most 60 MB, and at most 64 MiB with the tracked files (what travels to a
# device machine). Idempotent: an up-to-date DEST is left as it is.
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
rm -rf "$DEST/wheels.tar.xz" "$DEST/bundle.json"
WHEELS="$DEST/.wheels"
rm -rf "$WHEELS"
mkdir -p "$WHEELS"
log "downloading the wheels of tools/gpu_bundle.txt for CPython $PYVER"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
"$PY" -m pip --disable-pip-version-check download -q --no-deps --only-binary=:all: \
    --implementation cp --python-version "$PYVER" "${platforms[@]}" -d "$WHEELS" -r "$LIST"
# the check a machine without network makes: every pin found among them, no index
"$PY" -m pip --disable-pip-version-check install --dry-run -q --no-index --no-deps \
    --find-links "$WHEELS" --only-binary=:all: --implementation cp --python-version "$PYVER" \
    "${platforms[@]}" --target "$DEST/.offline-check" -r "$LIST"
rm -rf "$DEST/.offline-check"
log "packing them into $DEST/wheels.tar.xz (xz of the wheels stored uncompressed: a third less)"
rc=0
"$PY" - "$DEST" "$PYVER" "$stamp" "$LIMIT_MB" "$ROOT" <<'PY' || rc=$?
import hashlib, json, subprocess, sys, zipfile
from pathlib import Path
dest, pyver, stamp, limit, root = (Path(sys.argv[1]), sys.argv[2], sys.argv[3],
                                   float(sys.argv[4]), Path(sys.argv[5]))
stored = dest / '.stored'
stored.mkdir(exist_ok=True)
files = []
for wheel in sorted((dest / '.wheels').glob('*.whl')):
    # the same wheel with its members stored, not deflated: xz then compresses them as one
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(stored / wheel.name, 'w') as out:
        for info in src.infolist():
            data = src.read(info)
            info.compress_type = zipfile.ZIP_STORED
            out.writestr(info, data)
    files.append(dict(name=wheel.name, bytes=wheel.stat().st_size,   # as downloaded
                      sha256=hashlib.sha256((stored / wheel.name).read_bytes()).hexdigest()))
subprocess.run(['tar', '-C', str(stored), '--sort=name', '--owner=0', '--group=0',
                '--mtime=@0', '-cf', str(dest / 'wheels.tar'), '.'], check=True)
subprocess.run(['xz', '-T0', '-6', '-f', str(dest / 'wheels.tar')], check=True)
size = (dest / 'wheels.tar.xz').stat().st_size
try:              # what travels to a device machine beside it: the tracked files
    tracked = subprocess.run(['git', 'ls-files', '-z'], cwd=root, capture_output=True,
                             check=True).stdout.decode().split('\0')
    tree = sum((root / f).stat().st_size for f in tracked if f and (root / f).is_file())
except (OSError, subprocess.CalledProcessError):
    tree = None
(dest / 'bundle.json').write_text(json.dumps(dict(
    stamp=stamp, python=pyver, mb=round(size / 1e6, 1),
    wheels_mb=round(sum(f['bytes'] for f in files) / 1e6, 1), wheels=files), indent=1))
print(f'[gpu-bundle] {len(files)} wheels ({sum(f["bytes"] for f in files) / 1e6:.1f} MB) '
      f'packed into {size / 1e6:.1f} MB: {dest / "wheels.tar.xz"}')
if size / 1e6 > limit:
    sys.exit(f'error: the bundle is {size / 1e6:.1f} MB, over its {limit:.0f} MB: '
             'leave packages out of tools/gpu_bundle.txt')
if tree is not None:
    both = (tree + size) / 2**20
    print(f'[gpu-bundle] with the tracked files ({tree / 1e6:.1f} MB): {both:.1f} MiB '
          'of the 64 MiB a device machine takes')
    if both > 64:
        sys.exit(f'error: the tracked files and the bundle make {both:.1f} MiB, over the '
                 '64 MiB that travel to a device machine: leave packages out of '
                 'tools/gpu_bundle.txt')
PY
rm -rf "$WHEELS" "$DEST/.stored" "$DEST/wheels.tar"
exit $rc
