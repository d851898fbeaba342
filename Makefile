# reelrank: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# PyTorch is installed first and explicitly, so nothing later pulls another build.
#   TORCH_BUILD=cpu  (the default on a machine without `nvidia-smi`): PyTorch's CPU-only wheel index
#                    is tried first; where it cannot be reached, the default index is used.
#   TORCH_BUILD=cuda (the default where `nvidia-smi` exists): the default index, whose Linux wheels
#                    are CUDA builds. Set TORCH_INDEX to pick another PyTorch wheel index (cu126...).
TORCH_SPEC  ?= torch==2.13.0
TORCH_BUILD ?= $(if $(shell command -v nvidia-smi 2>/dev/null),cuda,cpu)
TORCH_INDEX ?= $(if $(filter cpu,$(TORCH_BUILD)),https://download.pytorch.org/whl/cpu,)
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# One quick request tells whether the wheel index answers, so an unreachable one costs seconds, not
# pip's retries for every package.
export INDEX_REACHABLE := import sys, urllib.request; urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=10)
EXTRAS ?= serve,ann,dev,plots,postgres

# TensorFlow Recommenders for `make bench-tfrs`, in a venv of its own (CPU TensorFlow).
TFRS_VENV := .venv-tfrs
TFRS_SPEC ?= tensorflow-cpu==2.21.0 tf-keras==2.21.0 tensorflow-recommenders==0.7.7

# Surprise (scikit-surprise) SVD / SVD++ baselines for benchmarks/surprise_baselines/run_surprise.py, in a venv
# of their own (no torch).
SURPRISE_VENV := .venv-surprise
SURPRISE_REQS := benchmarks/surprise_baselines/requirements.txt
LIGHTFM_VENV := .venv-lightfm
LIGHTFM_REQS := benchmarks/lightfm_baseline/requirements.txt

.PHONY: lightfm-venv bench-cold demo test lint typecheck pytest venv clean bench-tfrs surprise-venv

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	@if [ -n "$(TORCH_INDEX)" ] && $(BIN)/python -c "$$INDEX_REACHABLE" "$(TORCH_INDEX)" 2>/dev/null; then \
	  echo "Installing $(TORCH_SPEC) ($(TORCH_BUILD) build) from $(TORCH_INDEX)"; \
	  $(PIP) --index-url "$(TORCH_INDEX)" "$(TORCH_SPEC)"; \
	else \
	  echo "Installing $(TORCH_SPEC) from the default index$(if $(TORCH_INDEX), ($(TORCH_INDEX) cannot be reached))"; \
	  $(PIP) "$(TORCH_SPEC)"; \
	fi
	$(PIP) -e ".[$(EXTRAS)]"
	touch $@

demo: venv
	$(BIN)/reelrank train --preset seed --out artifacts/demo
	$(BIN)/reelrank recommend artifacts/demo --user 9 -k 3
	$(BIN)/reelrank train --preset two-stage --out artifacts/two-stage
	$(BIN)/reelrank recommend artifacts/two-stage --liked "Star Wars (1977)" --liked "Fargo (1996)" -k 5
	@echo "Serve it with a web page:  $(BIN)/reelrank serve artifacts/two-stage  (then open http://127.0.0.1:8000/)"

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest

test: lint typecheck pytest

$(TFRS_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(TFRS_VENV)
	$(TFRS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(TFRS_SPEC)
	touch $@

# The seed's ranking model in TFRS and in reelrank on the same data, side by side (ratings/s, RMSE).
bench-tfrs: venv $(TFRS_VENV)/.installed
	$(BIN)/python benchmarks/tfrs_side_by_side.py --tfrs-python $(TFRS_VENV)/bin/python

surprise-venv: $(SURPRISE_VENV)/.installed

$(SURPRISE_VENV)/.installed: $(SURPRISE_REQS) Makefile
	$(PYTHON) -m venv $(SURPRISE_VENV)
	$(SURPRISE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(SURPRISE_REQS)
	touch $@

lightfm-venv: $(LIGHTFM_VENV)/.installed

# lightfm 1.17 compiles against what is installed (see its requirements file).
$(LIGHTFM_VENV)/.installed: $(LIGHTFM_REQS) Makefile
	$(PYTHON) -m venv $(LIGHTFM_VENV)
	$(LIGHTFM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(LIGHTFM_REQS)
	$(LIGHTFM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-build-isolation lightfm==1.17
	touch $@

# Movies added after training: reelrank beside LightFM, genre taste and random (docs/benchmarks.md).
bench-cold: venv $(LIGHTFM_VENV)/.installed
	$(BIN)/python benchmarks/cold_movies.py --lightfm-python $(LIGHTFM_VENV)/bin/python

clean:
	rm -rf $(VENV) $(TFRS_VENV) $(SURPRISE_VENV) $(LIGHTFM_VENV) artifacts .pytest_cache .mypy_cache .ruff_cache
