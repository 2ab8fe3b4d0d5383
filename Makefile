# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# The venv is made once with Python 3.10 (.python-version) and re-installed only when
# pyproject.toml changes.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pyenv resolves python3.10 from .python-version; any python3.10 on PATH works too.
PYTHON310 ?= $(shell command -v python3.10 2>/dev/null || echo python3)

# TFX 1.16 needs tf.keras to be Keras 2: this must be set before Python starts.
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONWARNINGS := ignore::FutureWarning

DEMO_DATA := runs/demo-data
DEMO_ARGS := --data $(DEMO_DATA) --name demo --output runs --image-size 64 --epochs 20 \
             --patience 4 --schema schemas/demo.pbtxt

KFP_LOCAL := runs/kfp-local

.PHONY: install run test lint bench clean image kfp-local

install: $(STAMP)

$(PY):
	$(PYTHON310) -m venv $(VENV)
	@$(PY) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 10) else \
	  f"visionpipe needs Python 3.10 for TFX 1.16, but {sys.executable} is {v[0]}.{v[1]}: install 3.10 (pyenv install 3.10) and rm -rf $(VENV)")'

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(DEMO_DATA): | $(STAMP)
	$(VENV)/bin/visionpipe demo-data $(DEMO_DATA)

run: $(STAMP) $(DEMO_DATA)
	$(VENV)/bin/visionpipe run $(DEMO_ARGS)

# Compile the pipeline for Kubeflow, then execute the compiled spec here, task by task.
kfp-local: $(STAMP) $(DEMO_DATA)
	$(VENV)/bin/visionpipe compile --package $(KFP_LOCAL)/pipeline.yaml --image visionpipe:local \
	    --pipeline-root $(abspath $(KFP_LOCAL))/root --output $(abspath $(KFP_LOCAL)) \
	    --data $(abspath $(DEMO_DATA)) --name demo --image-size 64 --epochs 20 --patience 4 \
	    --schema $(abspath schemas/demo.pbtxt)
	$(VENV)/bin/visionpipe kfp-local $(KFP_LOCAL)/pipeline.yaml

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m bench.run_benchmarks

IMAGE ?= visionpipe:latest
image:
	@command -v docker >/dev/null || { echo "make image needs docker (not on this machine); see README, Run on Kubeflow"; exit 1; }
	docker build -t $(IMAGE) .

clean:
	rm -rf runs .pytest_cache
