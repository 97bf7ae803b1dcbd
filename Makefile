# memlab — `make help` lists the targets.  Everything runs from a local venv (.venv).
SHELL      := /bin/bash
PYTHON     ?= python3
VENV       ?= .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed
CC         ?= gcc
CFLAGS     ?= -O1 -g -Wall -Wextra
SAMPLE_DIR := c_samples
BIN        := $(SAMPLE_DIR)/bin
# sleeper is built four ways: the ELF loading lessons compare them.
SLEEPER    := $(BIN)/sleeper $(BIN)/sleeper-nopie $(BIN)/sleeper-static $(BIN)/sleeper-static-pie
OTHER_SRCS := $(filter-out $(SAMPLE_DIR)/sleeper.c,$(wildcard $(SAMPLE_DIR)/*.c))
OTHERS     := $(patsubst $(SAMPLE_DIR)/%.c,$(BIN)/%,$(OTHER_SRCS))
# execloop alternates between a PIE and a static build of itself (reading a moving target).
# hotreload-static runs inside the pods' minimal rootfs (memlab/k8s/rootfs.py): no libc there.
SAMPLES    := $(SLEEPER) $(OTHERS) $(BIN)/execloop-static $(BIN)/hotreload-static
PYTEST_ARGS ?=
# setuptools warns that pyproject ext-modules (memlab/procfs/_cproc.c) and compat editable
# installs are experimental: true, known, and noise on a first `make run`.
PIP_QUIET  := PYTHONWARNINGS=ignore:::setuptools.config.pyprojecttoml,ignore:::setuptools.command.editable_wheel
BENCH      ?=

.PHONY: help setup samples run test lint bench clean
.DEFAULT_GOAL := help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install memlab with its test tools

$(STAMP): pyproject.toml memlab/procfs/_cproc.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PIP_QUIET) $(PY) -m pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	$(PY) -m compileall -q memlab
	@touch $@

samples: $(SAMPLES)  ## build the C samples into c_samples/bin

$(BIN):
	@mkdir -p $@

$(BIN)/sleeper: $(SAMPLE_DIR)/sleeper.c | $(BIN)
	$(CC) $(CFLAGS) -fPIE -pie -o $@ $<
$(BIN)/sleeper-nopie: $(SAMPLE_DIR)/sleeper.c | $(BIN)
	$(CC) $(CFLAGS) -fno-pie -no-pie -o $@ $<
$(BIN)/sleeper-static: $(SAMPLE_DIR)/sleeper.c | $(BIN)
	$(CC) $(CFLAGS) -fno-pie -static -o $@ $<
$(BIN)/sleeper-static-pie: $(SAMPLE_DIR)/sleeper.c | $(BIN)
	$(CC) $(CFLAGS) -fPIE -static-pie -o $@ $<
$(BIN)/execloop-static: $(SAMPLE_DIR)/execloop.c | $(BIN)
	$(CC) $(CFLAGS) -fno-pie -static -o $@ $<
$(BIN)/hotreload-static: $(SAMPLE_DIR)/hotreload.c | $(BIN)
	$(CC) $(CFLAGS) -fno-pie -static -o $@ $<
$(BIN)/%: $(SAMPLE_DIR)/%.c | $(BIN)
	$(CC) $(CFLAGS) -fPIE -pie -o $@ $<

run: setup samples  ## set up, build the samples and open the TUI on the default sample
	$(VENV)/bin/memlab tui

test: setup samples  ## set up, build the samples and run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup  ## check memlab and tests with ruff (the rules are in pyproject.toml)
	$(VENV)/bin/ruff check memlab tests

bench: setup samples  ## measure memlab against psutil, pmap, gdb and grep (prints a table)
	$(PY) -m tests.bench $(BENCH)

clean:  ## remove the venv, built samples and caches
	rm -rf $(VENV) $(BIN) .pytest_cache .hypothesis build
	find memlab -name '*.so' -delete
