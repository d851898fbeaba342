# reelrank: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch is installed first and explicitly, so nothing later pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= serve,ann,dev

.PHONY: demo test lint typecheck pytest venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
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

clean:
	rm -rf $(VENV) artifacts .pytest_cache .mypy_cache .ruff_cache
