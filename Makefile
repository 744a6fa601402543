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
	@test -n "$(INTERP)" || (echo "make: Python $* is needed to emulate the python$* runtime: pyenv install $*" >&2; exit 1)
	$(INTERP) -m venv .venv-$*
	.venv-$*/bin/python -m pip install -q --upgrade pip
	.venv-$*/bin/python -m pip install -q uvloop httptools orjson structlog aws-lambda-powertools awslambdaric==4.2.2 snapshot-restore-py==1.0.0
	touch $@

runtime-venvs: $(foreach v,$(OTHER_PYTHONS),.venv-$(v)/.installed)

# The runtime layer for this machine's Python, as the managed runtime of that version would
# run it (python3.11 runs on al2, 3.12+ on al2023); rebuilt only when its inputs change.
PYV         := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LAYER_OS    := $(if $(filter 3.11,$(PYV)),al2,al2023)
LAYER_ARCH  := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
LAYER       := dist/lambdaboot-managed-py$(subst .,,$(PYV))-$(LAYER_OS)-$(LAYER_ARCH).zip
LAYER_INPUTS := bootstrap exec-wrapper layer_build/runtime.lock $(shell find runtime_core layer_build -name '*.py')

.PHONY: layer
layer: $(LAYER)

$(LAYER): $(VENV)/.installed $(LAYER_INPUTS)
	$(BIN)/lambdaboot build --python $(PYV) --arch $(LAYER_ARCH) --out dist --wheel-cache .cache/wheels

# examples/hello as Lambda runs it, which is `lambdaboot invoke`'s default: the python3.12
# managed runtime with lambdaboot's layer (built on first use, cached by its sources' hash)
# through its exec wrapper, read-only. The runtime venvs give each python3.X runtime its
# interpreter and AWS's client, so --runtime python3.X works with or without the wrapper.
run: venv runtime-venvs
	$(BIN)/lambdaboot invoke examples/hello --handler app.handler --event '$(EVENT)'

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict runtime_core

# arm64 layers' native libraries are stripped with Debian's cross binutils (the build
# warns, naming the package, where they are missing and cannot be installed).
.PHONY: cross-binutils
cross-binutils:
	@command -v aarch64-linux-gnu-strip >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get install -y -q binutils-aarch64-linux-gnu >/dev/null; } || \
	echo "make: arm64 layers stay unstripped: install binutils-aarch64-linux-gnu" >&2

# --durations: every CI log says where the suite's time goes (it must stay well under 20 min).
unit: venv runtime-venvs cross-binutils go strace
	$(BIN)/pytest -q --durations=25

test: lint unit

# BENCH_FLAGS=--quick for a short run (fewer samples, same suites, written to the same files).
bench: venv runtime-venvs go
	@command -v go >/dev/null 2>&1 || { echo "make bench: the warm-path suites need Go" >&2; exit 1; }
	$(BIN)/python -m benchmarks.run_all $(BENCH_FLAGS)

# The warm-path suites and their tests run a Go net/http Runtime API stub beside the Python
# one (AWS's Runtime API is Go net/http): installed here as root on Debian (the package list
# refreshed first if it does not know golang-go), otherwise asked for. `make test` goes on
# without it (the Go test case then fails, saying how to get Go); `make bench` stops.
.PHONY: strace
# tests/layer_build/test_shell_hops.py traces real starts with strace (execve): installed
# here as root on Debian; without it that test fails saying how to get it.
strace:
	@command -v strace >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-cache show strace >/dev/null 2>&1 || apt-get update -q >/dev/null; } && \
	  apt-get install -y -q strace >/dev/null; } || \
	echo "make: strace is missing: sudo apt-get install strace (Debian/Ubuntu)" >&2

.PHONY: go
go:
	@command -v go >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-cache show golang-go >/dev/null 2>&1 || apt-get update -q >/dev/null; } && \
	  apt-get install -y -q golang-go >/dev/null; } || \
	echo "make: Go is missing: sudo apt-get install golang-go (Debian/Ubuntu)" >&2

clean:
	rm -rf $(VENV) .venv-* dist build .pytest_cache .mypy_cache .ruff_cache
