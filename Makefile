# SegEarth-OV: two commands on a fresh machine.
#   make demo   install everything (first time: ~15 min, mmcv is built once), run the demo
#   make test   install everything, run the test suite
#   make test-gpu   on a machine with CUDA: the GPU test run (tests/gpu, parity in fp32,
#                   the fp16 agreement table, the CUDA benchmark)
#   make qgis-plugin   the QGIS plugin's zip (Plugins ▸ Install from ZIP; docs/qgis.md)
#   make gpu-bundle   the wheels an offline GPU machine lacks (gpu_bundle/); there:
#                   bash tools/gpu_check.sh OUT_DIR (docs/gpus.md, "Offline GPU machine")
VENV ?= .venv
PY := $(VENV)/bin/python
TINY ?= tests/data/models
DEMO_IMAGE ?= data/demo/oem_koeln_50.tif
DEMO_CLASSES ?= background;bareland,barren;grass;pavement;road;tree,forest;water,river;cropland;building,roof,house
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: install demo demo-tiny test test-gpu gpu-bundle gpu-check-dry-run benchmark clean-venv qgis-plugin

install:
	SEGEARTH_VENV="$(abspath $(VENV))" bash tools/install.sh

demo: install
	$(PY) demo.py --image "$(DEMO_IMAGE)" --classes "$(DEMO_CLASSES)" $(DEMO_ARGS)

# The same demo on the tiny seeded test models (no downloads; the picture is not meaningful).
demo-tiny: install
	$(PY) demo.py --image "$(DEMO_IMAGE)" --classes "$(DEMO_CLASSES)" \
	    --pretrained $(TINY)/tiny_clip/tiny-clip-vit-b16.pt \
	    --model-cfg $(TINY)/tiny_clip/tiny-clip-vit-b16.json \
	    --upsampler-ckpt $(TINY)/simfeatup/tiny_jbu_one.ckpt --out work_dirs/demo_tiny $(DEMO_ARGS)

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The model-building tests on CUDA (conftest.py --device) plus the GPU-only ones (marked gpu).
GPU_TESTS ?= tests/gpu tests/models/test_parity.py tests/models/test_benchmark_script.py
test-gpu: install
	$(PY) -m pytest -q -s --device cuda $(GPU_TESTS) $(PYTEST_ARGS)

# The QGIS plugin (qgis/segearth_ov_qgis) as a zip for QGIS's Install from ZIP (no venv needed).
QGIS_PLUGIN_ZIP ?=
qgis-plugin:
	python3 qgis/build_zip.py $(if $(QGIS_PLUGIN_ZIP),--out "$(QGIS_PLUGIN_ZIP)")

# For a GPU machine without network: Python 3.12 wheels of what its image lacks (≤ 60 MB),
# and the check's rehearsal here on CPU (a stand-in machine: fresh venv, no network).
gpu-bundle:
	bash tools/gpu_bundle.sh

gpu-check-dry-run: install
	PROJECT_PYTHON="$(abspath $(PY))" GPU_TESTS="$(GPU_TESTS)" bash tools/gpu_check.sh --dry-run

benchmark: install
	$(PY) tools/benchmark.py --size 448

clean-venv:
	rm -rf $(VENV)
