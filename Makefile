# Two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A pinned CPU build of torch: a plain `torch` requirement pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: demo test install install-dev lint clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev,hf]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/medq demo

test: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/medq
	$(BIN)/python -m pytest -q -W error

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
