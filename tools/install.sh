#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv.
#
# Idempotent: on a machine where everything is already installed it finishes in seconds.
# mmcv 2.1.0 has no wheel for torch 2.14, so it is built once from the PyPI sdist
# (C++20, CPU ops) and the wheel is cached outside the repository, in
# ${SEGEARTH_CACHE:-~/.cache/segearth_ov}/wheels, for later sessions, CI and other clones.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SEGEARTH_VENV:-$ROOT/.venv}"
CACHE="${SEGEARTH_CACHE:-$HOME/.cache/segearth_ov}"
WHEELS="$CACHE/wheels"
PY="${PYTHON:-python3}"
TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"
MMCV_VERSION="2.1.0"

log() { printf '[install] %s\n' "$*"; }

mkdir -p "$WHEELS"
if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV"
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check -q)

# The web UI (tools/webui.py): its map is Leaflet, installed from the npm registry into the
# environment (never vendored); its browser test drives Debian's Chromium with Selenium.
# Both are checked on every run (cheap), before the "up to date" exit below.
LEAFLET_VERSION="1.9.4"
WEBUI_JS="$VENV/share/segearth-webui"
if ! grep -qs "\"version\": \"$LEAFLET_VERSION\"" "$WEBUI_JS/node_modules/leaflet/package.json" \
        || [ ! -f "$WEBUI_JS/node_modules/leaflet/dist/leaflet.js" ]; then
    if command -v npm >/dev/null 2>&1; then
        log "installing leaflet $LEAFLET_VERSION from npm into $WEBUI_JS (the web UI's map)"
        mkdir -p "$WEBUI_JS"
        npm install --prefix "$WEBUI_JS" --no-save --no-audit --no-fund --silent \
            "leaflet@$LEAFLET_VERSION"
    else
        log "npm not found: the web UI's map (Leaflet) is not installed; install Node.js and" \
            "npm (e.g. apt-get install npm) and run tools/install.sh again"
    fi
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "installing chromium and chromium-driver from Debian (the web UI's browser test)"
        apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; } \
            || log "could not install chromium: the web UI's browser test will be skipped"
    else
        log "chromium/chromedriver missing and apt-get needs root: the web UI's browser test" \
            "will be skipped (apt-get install chromium chromium-driver)"
    fi
fi

# The QGIS plugin (qgis/segearth_ov_qgis): its tests run Debian's QGIS 3.22 headless
# (tests/qgis_plugin), its screenshot (qgis/screenshot.sh) runs QGIS under Xvfb.
QGIS_DEBS="qgis python3-qgis qgis-providers xvfb xauth"
if ! /usr/bin/python3 -c 'import qgis.core' >/dev/null 2>&1 \
        || ! command -v qgis_process >/dev/null 2>&1 || ! command -v xvfb-run >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "installing $QGIS_DEBS from Debian (the QGIS plugin's tests)"
        apt_qgis() {
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                $QGIS_DEBS >/dev/null
        }
        apt_qgis 2>/dev/null || { apt-get update -q >/dev/null && apt_qgis; } \
            || log "could not install QGIS: the QGIS plugin's tests will be skipped"
    else
        log "QGIS missing and apt-get needs root: the QGIS plugin's tests will be skipped" \
            "(apt-get install $QGIS_DEBS)"
    fi
fi

stamp="$VENV/.segearth-installed"
req_hash="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" "$ROOT/tools/install.sh" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$req_hash" ]; then
    log "environment up to date ($VENV)"
    exit 0
fi

# Every pip call is constrained to this torch, so no requirement can swap it for another.
CONSTRAINTS="$VENV/torch-constraints.txt"
printf '%s\n' $TORCH_SPEC > "$CONSTRAINTS"
export PIP_CONSTRAINT="$CONSTRAINTS"

log "installing $TORCH_SPEC"
"${PIP[@]}" install $TORCH_SPEC

log "installing requirements.txt"
"${PIP[@]}" install -r "$ROOT/requirements.txt" wheel

if ! "$VPY" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" 2>/dev/null; then
    wheel="$(ls "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
    if [ -z "$wheel" ]; then
        log "building mmcv $MMCV_VERSION from source (CPU ops, C++20): about 10 minutes, once"
        build="$(mktemp -d)"
        # mmcv's setup.py needs pkg_resources (setuptools < 70); torch 2.14 asks for a newer
        # setuptools at run time, so the old one is there for the build only.
        "$VPY" -m pip --disable-pip-version-check -q install --no-deps "setuptools<70"
        "${PIP[@]}" download --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$build"
        tar -xzf "$build"/mmcv-"$MMCV_VERSION".tar.gz -C "$build"
        src="$build/mmcv-$MMCV_VERSION"
        sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py"
        # CPU ops only, also on a GPU machine: nothing of ours uses mmcv's CUDA ops (README,
        # GPUs), and mmcv's setup.py builds them (nvcc) whenever torch sees a GPU.
        (cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=0 CUDA_VISIBLE_DEVICES="" MAX_JOBS="$(nproc)" \
            "$VPY" -m pip wheel --no-build-isolation --no-deps -w "$WHEELS" . )
        "${PIP[@]}" install "setuptools>=77.0.3"
        rm -rf "$build"
        wheel="$(ls "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl | head -n1)"
    else
        log "using cached mmcv wheel $wheel"
    fi
    "${PIP[@]}" install --no-deps "$wheel"
    # mmcv's own runtime dependencies (installed without resolving torch again)
    "${PIP[@]}" install addict yapf packaging pyyaml
fi

log "installing segearth_ov (editable)"
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"

"$VPY" - <<'PY'
import torch, mmcv, mmcv.ops, mmengine, mmseg, open_clip
print(f"[install] torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, "
      f"mmseg {mmseg.__version__}, open_clip {open_clip.__version__}")
PY
echo "$req_hash" > "$stamp"
log "done: activate with 'source $VENV/bin/activate'"
