# FI_PRO: the analysis as a graph from data/raw to outputs/. `make help` lists targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

## Scale of the synthetic stand-in: sample (~10k customers) or full (~673k, like the real file)
SCALE ?= sample
## Seed of every random step
SEED ?= 20231
## Notebooks run in parallel (default: decided from the rows per quarter and MEMORY_GB by `fipro jobs`)
# JOBS is left unset here: `make notebooks` asks the runner unless JOBS=n is given.
## Memory (GB) the parallel notebook runs may use together
MEMORY_GB ?= 8
## Scale and steps of `make benchmark`
BENCH_SCALE ?= full
BENCH_STEPS ?= synth,ingest,features,lifestage,anomaly,segments,health,recommendation,all,drift,views
BENCH_NOTEBOOKS ?=

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT := $(or $(FIPRO_OUTPUTS_DIR),outputs)
PROCESSED := $(or $(FIPRO_DATA_DIR),data)/processed
MANIFEST := $(PROCESSED)/manifest.json
# the numbered notebooks in notebooks/: the one list the runner, the Makefile and the site share
NOTEBOOKS := $(sort $(basename $(notdir $(wildcard notebooks/[0-9][0-9]_*.ipynb))))

export FIPRO_SEED := $(SEED)
export PYTHONHASHSEED := 0
# Scripts draw off-screen; notebook kernels (`fipro run`, `make lab`) use the inline
# backend so that every figure is drawn into the notebook.
export MPLBACKEND := Agg
KERNEL_MPLBACKEND := module://matplotlib_inline.backend_inline
# numba's JIT (shap, umap) compiles once and is reused from here
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
# OpenMP threads (LightGBM, numba) sleep instead of spinning while they wait: beside a
# second busy process on the 2 cores, a spinning 2-thread LightGBM fit of 100k rows took
# 379 s against 38 s passive (fipro/__init__.py sets the same default for other callers)
export OMP_WAIT_POLICY := PASSIVE
export PIP_DISABLE_PIP_VERSION_CHECK := 1

#################################################################################
# SET-UP                                                                        #
#################################################################################

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name fipro --display-name 'Python (fipro)' >/dev/null
	$(PY) -m fipro warm-jit
	@touch $@

## Create .venv with the pinned dependencies and the fipro kernel (done by every target)
.PHONY: install
install: $(STAMP)

#################################################################################
# ANALYSIS                                                                      #
#################################################################################

## Run the whole analysis on the default data: data, ingest, every notebook per quarter, DB hand-off, reports, site
.PHONY: all
all: notebooks
	@$(MAKE) --no-print-directory -j$$($(PY) -m fipro jobs --memory-gb $(MEMORY_GB)) tail QUARTERS="$$($(PY) -m fipro quarters)"

## Raw file (synthetic when no real one is in data/raw), its truth file and the data dictionary
.PHONY: data
data: $(STAMP)
	$(PY) -m fipro synth --scale $(SCALE) --seed $(SEED)
	$(PY) -m fipro dictionary

## Validate the raw file into per-quarter Parquet tables in data/processed (skips an unchanged file)
.PHONY: ingest
ingest: data
	$(PY) -m fipro ingest

## Each customer's history, built once per quarter from the previous quarter's (data/processed/history/<quarter>)
.PHONY: history
history: ingest
	$(PY) -m fipro history

## Execute every stale notebook for every quarter into outputs/<quarter>/, with progress
.PHONY: notebooks
notebooks: history
	@set -e; $(PY) -m fipro stamps; quarters="$$($(PY) -m fipro quarters)"; \
	jobs="$(if $(filter command line,$(origin JOBS)),$(JOBS),$$($(PY) -m fipro jobs --memory-gb $(MEMORY_GB)))"; \
	serial="$$( [ "$$($(PY) -m fipro jobs --large)" = 1 ] && echo '$(MODEL_NOTEBOOKS)' || true)"; \
	stems=$$($(MAKE) --no-print-directory -n run-notebooks QUARTERS="$$quarters" SERIAL_NOTEBOOKS="$$serial" | grep -o -- ' -m fipro run [^ ]*' | awk '{print $$4}' || true); \
	stale=$$(echo $$stems | wc -w); \
	export FIPRO_PROGRESS="$(OUT)/.notebooks-progress.json"; \
	export FIPRO_THREADS=$$($(PY) -m fipro jobs --threads-for $$jobs); \
	$(PY) -m fipro progress start --total $$stale --quarters "$$quarters" --jobs $$jobs --stems "$$stems" --serial "$$serial"; \
	if [ "$$stale" -gt 0 ]; then \
	  MAKE="$(MAKE)" $(PY) -m fipro schedule --jobs $$jobs -- QUARTERS="$$quarters" SERIAL_NOTEBOOKS="$$serial"; fi; \
	$(PY) -m fipro progress end

## DB hand-off: data/db_seed/customer_quarter.csv + schema (pseudonymous keys; salt in .env), stale quarters only
.PHONY: db-seed
db-seed: notebooks
	@$(MAKE) --no-print-directory -j$$($(PY) -m fipro jobs --memory-gb $(MEMORY_GB)) seed-table QUARTERS="$$($(PY) -m fipro quarters)"

## Model report (outputs/reports/model_report.md) and Korean quarter summaries (outputs/<quarter>/summary.md)
.PHONY: reports
reports: notebooks
	@$(MAKE) --no-print-directory report-files

## Lookup tables of the Voila views (outputs/<quarter>/views), built from the saved outputs, stale quarters only
.PHONY: views
views: notebooks
	@$(MAKE) --no-print-directory -j$$($(PY) -m fipro jobs --memory-gb $(MEMORY_GB)) view-tables QUARTERS="$$($(PY) -m fipro quarters)"

# What follows the notebooks, for `all`: the hand-off, the reports then the site, and the
# views side by side, as many at once as the notebooks ran (each reads the notebooks'
# outputs, not the others'; only the site reads the reports). One after another they put
# about 80 s on a one-quarter delivery at full scale where the longest of them takes 35 s.
.PHONY: tail seed-table report-files site-build
tail: seed-table site-build view-tables
seed-table: seed-parts
	$(PY) -m fipro export-seed --assemble
report-files:
	$(PY) -m fipro model-report
	$(PY) -m fipro summary
site-build: report-files
	$(PY) -m fipro site

## Serve the customer and segment explorers with Voila on 127.0.0.1 only (the address is printed)
VOILA_PORT ?= 8866
.PHONY: voila
voila: views
	@echo "고객 탐색:     http://127.0.0.1:$(VOILA_PORT)/voila/render/customer_explorer.ipynb"
	@echo "세그먼트 탐색: http://127.0.0.1:$(VOILA_PORT)/voila/render/segment_explorer.ipynb   (끝내려면 Ctrl+C)"
	JUPYTER_PATH=notebooks/views/jupyter $(VENV)/bin/voila notebooks/views --Voila.ip=127.0.0.1 --port=$(VOILA_PORT) \
	  --no-browser --template=fipro

## Report site in _site/: `quarto render` where Quarto is installed, else MkDocs Material (offline)
.PHONY: site
site: notebooks
	@$(MAKE) --no-print-directory site-build

# One file target per executed notebook, so make re-runs only what is stale: the
# notebook, the fipro modules it imports (its code stamp, outputs/.stamps/code-<stem>.txt,
# rewritten only when their digest changes) or its quarter's history state (rewritten only
# when a table up to that quarter, or the history code, changed). What a notebook reads
# of other notebooks is in outputs/.stamps/deps.mk, written by `fipro stamps` (see
# fipro.stamps): the life-stage model reads its quarter's features and those of the
# quarters it pools; 08 reads the previous quarter's saved models (the temporal checks); 07 reads
# the quarter's segments and health tiers. No notebook reads a later quarter (a measurement
# across two quarters belongs to the later one), so a delivery with one more quarter runs
# that quarter's notebooks and nothing of the earlier ones. The runner prints
# "[완료 n/N] … · 경과 · 남은 시간" itself
# (FIPRO_PROGRESS), hence the silent recipe.
# NB_FILES_<stem> lists other files it needs: the life-stage model's tuning and
# learning curve are chosen once per run (selection.json), not per quarter.
STAMPS := $(OUT)/.stamps
HISTORY_DIR := $(PROCESSED)/history
HISTORY_PARTS := core style benefit health
NB_FILES_03_lifestage := $(OUT)/models/lifestage/selection.json
-include $(STAMPS)/deps.mk
# MODEL_NOTEBOOKS run one quarter after another with every core (FIPRO_THREADS=nproc) on
# large quarters (`fipro jobs --large`: 100k rows or more). It is empty: with OpenMP
# threads waiting passively (OMP_WAIT_POLICY above) a 1-thread booster beside another job
# no longer slows down many times over, and every notebook side by side with one thread
# each keeps both cores busy where a serial chain of 2-thread fits (about 1.7x on 2
# threads) leaves part of one idle. `make notebooks MODEL_NOTEBOOKS=03_lifestage` brings
# the serial chain back.
MODEL_NOTEBOOKS ?=
SERIAL_NOTEBOOKS ?=
NPROC := $(shell nproc 2>/dev/null || echo 1)
define NOTEBOOK_RULE
$(OUT)/$(1)/$(2).ipynb: notebooks/$(2).ipynb $(STAMPS)/code-$(2).txt $(foreach p,$(HISTORY_PARTS),$(HISTORY_DIR)/$(1)/$(p).json) $(NB_FILES_$(2))
	@$(if $(filter $(2),$(SERIAL_NOTEBOOKS)),FIPRO_THREADS=$(NPROC) )$(PY) -m fipro run $(2) --quarter $(1)
endef
# order-only: quarter i's serial notebook waits for quarter i-1's
define SERIAL_RULE
$(OUT)/$(word $(2),$(QUARTERS))/$(1).ipynb: | $(OUT)/$(word $(3),$(QUARTERS))/$(1).ipynb
endef

# Once per run, after the feature notebooks (order only: it reads the features): the grid
# and the learning curve, kept across deliveries until the model's code changes or
# RESELECT_AFTER_QUARTERS quarters have arrived since (see fipro.lifestage.selection);
# `fipro select` rewrites the file only when it selects again. It runs beside the other
# notebooks with their thread count: with passive OpenMP waits that costs it little, and
# the life-stage notebooks that wait for it start while the rest still run.
$(OUT)/models/lifestage/selection.json: $(STAMPS)/code-lifestage-selection.txt | $(foreach q,$(QUARTERS),$(OUT)/$(q)/02_feature_engineering.ipynb)
	@$(PY) -m fipro select
$(foreach q,$(QUARTERS),$(foreach n,$(NOTEBOOKS),$(eval $(call NOTEBOOK_RULE,$(q),$(n)))))
# The segment notebook compares its quarter's assignments with the previous quarter's
# saved run (stability between two independent fits), so quarter i always follows i-1:
# the same comparison whatever the order make picks.
CHAINED_NOTEBOOKS := 05_clustering
$(foreach n,$(sort $(SERIAL_NOTEBOOKS) $(filter $(NOTEBOOKS),$(CHAINED_NOTEBOOKS))),$(foreach i,$(wordlist 2,$(words $(QUARTERS)),$(shell seq $(words $(QUARTERS)) 2>/dev/null)),$(eval $(call SERIAL_RULE,$(n),$(i),$(shell expr $(i) - 1)))))

# `make notebooks` does not hand this list to make -j: make passes over a target whose
# prerequisites are still running and comes back to it only after starting everything
# listed after it, so a chain (07 of each quarter reads the previous quarter's) could be
# left to run alone at the end. `fipro schedule` asks make what is stale and what each
# target needs, and starts the targets (each by `make <target>`) longest chain of work
# first (see fipro.runner.schedule). `make -j2 run-notebooks` still works, in make's order.
.PHONY: run-notebooks
run-notebooks: $(if $(filter 03_lifestage,$(NOTEBOOKS)),$(OUT)/models/lifestage/selection.json) $(foreach q,$(QUARTERS),$(foreach n,$(NOTEBOOKS),$(OUT)/$(q)/$(n).ipynb))

# The tail of `make all`, one file target per quarter like the notebooks, so a delivery with
# one more quarter builds that quarter's views and hand-off part and nothing of the others.
# Each depends on the notebooks whose saved outputs it reads, its code stamp
# (outputs/.stamps/code-views.txt, code-handoff.txt: rewritten only when the digest of the
# modules it imports changes), the key salt's stamp (both are keyed by it) and the quarter's
# history state (its table). The views also show the previous quarter's amounts, read from
# that quarter's history state. `fipro export-seed --assemble` then writes
# customer_quarter.csv from the parts (a byte copy, skipped when no part is newer). Quarters
# build side by side, as many as the notebooks run (`fipro jobs`: a quarter's views load it whole).
SEED_DIR := $(or $(FIPRO_DATA_DIR),data)/db_seed
HANDOFF_NOTEBOOKS := $(filter 03_lifestage 04_anomaly 05_clustering 06_health_score 07_recommendation,$(NOTEBOOKS))
# 08_drift writes the quarter's notifications, shown in the customer view
VIEWS_NOTEBOOKS := $(filter $(HANDOFF_NOTEBOOKS) 08_drift,$(NOTEBOOKS))
define SEED_PART_RULE
$(SEED_DIR)/parts/customer_quarter-$(1).csv: $(foreach n,$(HANDOFF_NOTEBOOKS),$(OUT)/$(1)/$(n).ipynb) $(STAMPS)/code-handoff.txt $(STAMPS)/key-salt.txt $(HISTORY_DIR)/$(1)/core.json
	$(PY) -m fipro export-seed --quarter $(1)
endef
define VIEWS_RULE
$(OUT)/$(1)/views/customers.parquet: $(foreach n,$(VIEWS_NOTEBOOKS),$(OUT)/$(1)/$(n).ipynb) $(STAMPS)/code-views.txt $(STAMPS)/key-salt.txt $(HISTORY_DIR)/$(1)/core.json $(if $(2),$(HISTORY_DIR)/$(2)/core.json)
	$(PY) -m fipro views --quarter $(1)
endef
$(foreach q,$(QUARTERS),$(eval $(call SEED_PART_RULE,$(q))))
$(foreach i,$(shell seq $(words $(QUARTERS)) 2>/dev/null),$(eval $(call VIEWS_RULE,$(word $(i),$(QUARTERS)),$(if $(filter 1,$(i)),,$(word $(shell expr $(i) - 1),$(QUARTERS))))))

.PHONY: seed-parts
seed-parts: $(foreach q,$(QUARTERS),$(SEED_DIR)/parts/customer_quarter-$(q).csv)

.PHONY: view-tables
view-tables: $(foreach q,$(QUARTERS),$(OUT)/$(q)/views/customers.parquet)

## Open JupyterLab on the project's kernel (figures drawn inline)
.PHONY: lab
lab: $(STAMP)
	MPLBACKEND=$(KERNEL_MPLBACKEND) $(VENV)/bin/jupyter lab --notebook-dir=notebooks

#################################################################################
# CHECKS                                                                        #
#################################################################################

## Run the test suite (pytest for fipro, nbval for the notebooks, the site in a real browser) on a private sample
.PHONY: test
test: $(STAMP) browser
	$(PY) -m pytest

## Debian chromium and Korean fonts for the site's browser tests (installed when missing;
## Playwright's own browser download cannot work here, so it drives this one)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo )
.PHONY: browser
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi nanum; then \
	  echo "installing Debian chromium and fonts-nanum for the browser tests"; \
	  $(SUDO)apt-get install -y -q chromium fonts-nanum >/dev/null 2>&1 || \
	  { $(SUDO)apt-get update -q >/dev/null && $(SUDO)apt-get install -y -q chromium fonts-nanum >/dev/null; }; \
	fi

## Time generation, ingest, features, one life-stage quarter and the whole `make all` at full scale -> outputs/benchmarks/*.json
.PHONY: benchmark
benchmark: $(STAMP)
	$(PY) -m fipro benchmark --scale $(BENCH_SCALE) --seed $(SEED) --steps $(BENCH_STEPS) --notebooks "$(BENCH_NOTEBOOKS)"

## Remove processed data, outputs and caches (data/raw and .venv are kept)
.PHONY: clean
clean:
	rm -rf data/processed/* data/db_seed/* outputs/* .cache .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	@touch data/processed/.gitkeep data/db_seed/.gitkeep outputs/.gitkeep

## Also remove the virtual environment and generated raw data
.PHONY: distclean
distclean: clean
	rm -rf $(VENV) data/raw/edu_data_F.csv data/raw/edu_data_F.*

#################################################################################
# Self-documenting help                                                         #
#################################################################################

## Show this help
.PHONY: help
help:
	@$(or $(wildcard $(PY)),python3) -c "$$HELP_SCRIPT" < $(MAKEFILE_LIST)

define HELP_SCRIPT
import re, sys
lines = sys.stdin.read().splitlines()
print("FI_PRO make targets (variables: SCALE=sample|full, SEED, JOBS, MEMORY_GB):\n")
for i, line in enumerate(lines):
    m = re.match(r"^([a-zA-Z_-]+):", line)
    if m and i >= 2 and lines[i - 1].startswith(".PHONY") and lines[i - 2].startswith("## "):
        print(f"  {m.group(1):12s} {lines[i - 2][3:]}")
endef
export HELP_SCRIPT
