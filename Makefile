# Two commands for a fresh machine with Python 3.11:  make demo  |  make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test test-all lint install install-dev browser bench clean

demo: install            ## install, build the demo workspace and open the dashboard
	$(BIN)/winnow demo

test: install-dev browser  ## install everything and run lint + the whole default test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-all: install-dev browser  ## also the slow tests
	$(BIN)/python -m pytest -m ""

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

$(BIN)/python:
	@echo "[1/4] creating the virtual environment in $(VENV) (seconds)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch is pinned and installed first with pip, so no resolver ever pulls a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	@echo "[2/4] installing torch 2.13.0, CPU build (about 1 min; ~1 GB)"
	$(BIN)/pip install -q torch==2.13.0
	@echo "[3/4] installing Winnow and its dependencies (about 2 min with an empty pip cache; the venv ends near 3 GB)"
	$(BIN)/pip install -q -e '.[dev]'
	@echo "[4/4] distilling the --fast embedding model now (about 2 min, once per machine) so the first embed --fast is fast"
	$(BIN)/winnow embed --prepare-fast
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)
install-dev: $(STAMP)

# The browser test drives Debian's chromium; install it when we can (root), else that test skips. A CJK font
# (Debian's fonts-noto-cjk) too, else Chinese/Japanese/Korean text (map labels) draws as boxes in screenshots.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the browser test will skip"; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq fonts-noto-cjk >/dev/null) || echo "no CJK font (fonts-noto-cjk): Chinese, Japanese and Korean text draws as boxes in the browser"; }

bench: install-dev
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
