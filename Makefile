# The two commands a newcomer runs: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# Extra interpreters the runtime is tested on (each gets a venv with the runtime's own deps only).
OTHER_PYTHONS := 3.12 3.13
EVENT ?= {"name": "lambdaboot"}

.PHONY: run test lint typecheck unit venv runtime-venvs bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[local,build,bench,dev]'
	touch $@

venv: $(VENV)/.installed

# A runtime-only venv per extra interpreter: what a Lambda execution environment would have.
.venv-%/.installed: pyproject.toml
	$(eval INTERP := $(shell tools/find-python $*))
	@test -n "$(INTERP)" || (echo "make: Python $* is needed for the runtime tests" >&2; exit 1)
	$(INTERP) -m venv .venv-$*
	.venv-$*/bin/python -m pip install -q --upgrade pip
	.venv-$*/bin/python -m pip install -q uvloop httptools orjson structlog aws-lambda-powertools
	touch $@

runtime-venvs: $(foreach v,$(OTHER_PYTHONS),.venv-$(v)/.installed)

run: venv
	$(BIN)/lambdaboot invoke examples/hello --handler app.handler --event '$(EVENT)'

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy --strict runtime_core

unit: venv runtime-venvs
	$(BIN)/pytest -q

test: lint unit

bench: venv runtime-venvs
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .venv-* dist build .pytest_cache .mypy_cache .ruff_cache
