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

# Both environments install the exact versions in the lock files, so a new upstream release cannot break a fresh
# clone; `make lock` rebuilds them from pyproject.toml's ranges (only torch pinned) and writes the files again.
TORCH := torch==2.13.0
LOCK := constraints.txt
LMMS_LOCK := constraints-lmms-eval.txt
LOCK_NOTE := \# Written by `make lock`: the exact versions `make test` installs. torch is the local CPU build.

.PHONY: demo test lint system-packages lmms-eval-env lock

$(STAMP): pyproject.toml setup.py $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -c $(LOCK) -e '.[test]'
	touch $@

$(LMMS_STAMP): $(STAMP) $(LMMS_LOCK)
	$(PYTHON) -m venv $(LMMS_VENV)
	$(LMMS_VENV)/bin/python -c "import pathlib, site, sys; pathlib.Path(site.getsitepackages()[0], \
		'molmo_arena_base.pth').write_text(sys.argv[1] + '\n')" "$$($(BIN)/python -c 'import site; print(site.getsitepackages()[0])')"
	$(LMMS_VENV)/bin/python -m pip install -q -c $(LMMS_LOCK) -e '.[lmms-eval]'
	$(LMMS_VENV)/bin/python -m pip uninstall -q -y torchvision
	touch $@

# The side lock holds only what the side environment installs itself; the rest comes from .venv through the .pth.
lock:
	rm -rf $(VENV) $(LMMS_VENV)
	echo '$(TORCH)' > $(LOCK) && echo '$(TORCH)' > $(LMMS_LOCK)
	$(MAKE) lmms-eval-env
	{ echo '$(LOCK_NOTE)'; $(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//'; } > $(LOCK)
	{ echo '$(LOCK_NOTE)'; echo '$(TORCH)'; $(LMMS_VENV)/bin/python -m pip freeze --exclude-editable \
		--path "$$($(LMMS_VENV)/bin/python -c 'import site; print(site.getsitepackages()[0])')"; } > $(LMMS_LOCK)
	touch $(STAMP) $(LMMS_STAMP)

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
