# initlab: two commands set everything up on a fresh machine.
#   make run   -> creates .venv, installs initlab, runs the default experiment (configs/tanh_small.yaml)
#   make test  -> creates .venv if needed, installs initlab with test extras, runs the test suite (on every core: pytest-xdist)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

RESULTS ?= results

.PHONY: install run test figures figures-studies figures-phase figures-jacobian check-results bench clean

$(STAMP): pyproject.toml setup.py src/initlab/engine/_fused.c src/initlab/engine/_draw.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@$(BIN)/initlab --version  # the kernel line: which variant runs, or "not built" (pip hides the build's warning)
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/initlab run configs/tanh_small.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -n auto

# Every study, figure and table under results/ (or RESULTS=dir), regenerated from the configs
# (the studies' own are packaged in src/initlab/studies/configs/). The deeplearning.ai circles
# runs (configs/train/circles_*.yaml, seed 1) are the dlai-init study's: results/dlai-init/runs/.
# Two studies at a time (-j 2: each in its own process; the numbers do not depend on it), and the
# phase diagram and Jacobian spectra beside them: about 4 minutes of CPU on 2 cores.
figures: $(STAMP)
	$(MAKE) --no-print-directory -j 3 figures-studies figures-phase figures-jacobian RESULTS=$(RESULTS)

figures-studies: $(STAMP)
	$(BIN)/initlab reproduce all --strict -q -j 2 --out $(RESULTS)
figures-phase: $(STAMP)
	$(BIN)/initlab phase --act tanh --empirical -q --out $(RESULTS)/phase-tanh
figures-jacobian: $(STAMP)
	$(BIN)/initlab jacobian --act tanh -q --out $(RESULTS)/jacobian-tanh

# Regenerate into a temporary folder and compare with the committed tables (what CI does).
check-results: $(STAMP)
	rm -rf .regen && $(MAKE) --no-print-directory figures RESULTS=.regen/results
	$(BIN)/python -m initlab.io.check_results results .regen/results
	rm -rf .regen

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .regen
