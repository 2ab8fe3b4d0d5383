# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# The venv is made once with Python 3.10 (.python-version) and re-installed only when
# pyproject.toml changes. TensorFlow's environment is set by the code itself
# (components/__init__.py), so nothing here needs to export it.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pyenv resolves python3.10 from .python-version; any python3.10 on PATH works too.
PYTHON310 ?= $(shell command -v python3.10 2>/dev/null || echo python3)
export PYTHONWARNINGS := ignore::FutureWarning

DEMO_DATA := runs/demo-data
# The demo's training settings have one home, pipeline/data_tools/demo.py (read once the
# venv exists: a recursive variable is expanded when a recipe uses it).
DEMO_SETTINGS = $(shell $(PY) -m pipeline.data_tools.demo)

KFP_LOCAL := runs/kfp-local
# make kfp-local: open-source KFP's contract (PLATFORM=oss: the root in a bucket of the local
# S3 API server, the data copied into it) or Vertex's (PLATFORM=vertex: a local root).
PLATFORM ?= oss
KFP_BUCKET := s3://visionpipe-local
KFP_ROOT_oss := $(KFP_BUCKET)/root
KFP_OUTPUT_oss := $(KFP_BUCKET)
KFP_RUN_oss := --copy-in $(DEMO_DATA)=$(KFP_BUCKET)/demo-data --param data_root=$(KFP_BUCKET)/demo-data
KFP_ROOT_vertex := $(abspath $(KFP_LOCAL))/root
KFP_OUTPUT_vertex := $(abspath $(KFP_LOCAL))

.PHONY: install run test test-fast lint bench clean image kfp-local

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
	$(VENV)/bin/visionpipe run --data $(DEMO_DATA) --name demo --output runs $(DEMO_SETTINGS)

# Compile the pipeline for Kubeflow, then execute the compiled spec here, task by task.
kfp-local: $(STAMP) $(DEMO_DATA)
	$(VENV)/bin/visionpipe compile --package $(KFP_LOCAL)/pipeline-$(PLATFORM).yaml \
	    --image visionpipe:local --pipeline-root $(KFP_ROOT_$(PLATFORM)) \
	    --output $(KFP_OUTPUT_$(PLATFORM)) --data $(abspath $(DEMO_DATA)) --name demo $(DEMO_SETTINGS)
	$(VENV)/bin/visionpipe kfp-local $(KFP_LOCAL)/pipeline-$(PLATFORM).yaml --platform $(PLATFORM) \
	    $(KFP_RUN_$(PLATFORM))

# Everything (CI runs this): about 25 minutes on 2 cores.
test: $(STAMP)
	$(PY) -m pytest

# The edit-test loop: everything but the tests marked slow (whole runs, Kubeflow
# executions, fault injection), in under 5 minutes.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m bench.run_benchmarks

IMAGE ?= visionpipe:latest
image:
	@command -v docker >/dev/null || { echo "make image needs docker (not on this machine); see docs/kubeflow.md"; exit 1; }
	docker build -t $(IMAGE) .

clean:
	rm -rf runs .pytest_cache
