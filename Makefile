# The two set-up commands of the README: `make demo` (main job) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Debian packages the tests use: a PostgreSQL server they start themselves, and Chromium for the browser test.
# Without them (or without root) those tests are skipped, each with its reason in the summary.
SYSTEM_PACKAGES := postgresql chromium

# lmms-eval (the bridge's optional extra) lives in a side environment on top of .venv's packages (a .pth line),
# so its many dependencies never change the main one. It pulls torchvision, whose only build here is CUDA-linked
# and breaks `import transformers` image processing, so torchvision is uninstalled again right after.
LMMS_VENV ?= .venv-lmms-eval
LMMS_STAMP := $(LMMS_VENV)/.installed

.PHONY: demo test lint system-packages lmms-eval-env

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

$(LMMS_STAMP): $(STAMP)
	$(PYTHON) -m venv $(LMMS_VENV)
	$(LMMS_VENV)/bin/python -c "import pathlib, site, sys; pathlib.Path(site.getsitepackages()[0], \
		'molmo_arena_base.pth').write_text(sys.argv[1] + '\n')" "$$($(BIN)/python -c 'import site; print(site.getsitepackages()[0])')"
	$(LMMS_VENV)/bin/python -m pip install -q -c constraints.txt -e '.[lmms-eval]'
	$(LMMS_VENV)/bin/python -m pip uninstall -q -y torchvision
	touch $@

lmms-eval-env: $(LMMS_STAMP)

demo: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/molmo-arena demo --out results/demo

system-packages:
	@if command -v chromium >/dev/null && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(SYSTEM_PACKAGES) (apt-get)"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	else echo "note: $(SYSTEM_PACKAGES) missing; their tests will be skipped"; fi

test: $(STAMP) $(LMMS_STAMP) system-packages
	$(BIN)/ruff check .
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 MPLBACKEND=Agg $(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .
