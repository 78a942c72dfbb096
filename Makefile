# Returnlens: `make run` and `make test` work on a fresh machine with Python 3.11 and make.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

.PHONY: install run test lint format dev dashboard docs fuzz bench docs-contracts clean

$(UV):
	@echo "==> bootstrapping uv $(UV_VERSION) into $(TOOLS)/"
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION)

# With compiled bytecode: without it every process (and every dbt subprocess) compiles the
# modules it imports again whenever PYTHONDONTWRITEBYTECODE is set, as in containers and CI
# (importing dagster, dagster-dbt and GX: 12 s of CPU vs 7 s with bytecode; issue 16).
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	@echo "==> installing the locked dependencies into $(VENV)/"
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

install: $(VENV)/.installed ## install everything (uv, then the locked venv)

run: install ## run the main job (the demo shop in data/demo/landing if no data), print the summary
	$(BIN)/returnlens run

# Two processes (pytest-xdist), a test file per process at a time: a pipeline run keeps about
# one core busy, so two files run side by side on a 2-core machine. The longest files first
# (tests/conftest.py LONGEST_FIRST), not xdist's largest-number-of-tests-first.
test: install lint ## linters, then the test suite (unit, dbt build through the pipeline, end to end)
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

lint: install ## ruff (Python), sqlfluff (dbt SQL), then dbt-score and dbt-coverage (dbt metadata)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint models tests/dbt --disable-progress-bar --processes 2
	@# builds the dbt project into an empty warehouse in a temp folder: no `make run` needed
	$(BIN)/returnlens lint-dbt

format: install ## fix what the linters can fix
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix models tests/dbt --disable-progress-bar --processes 2

dev: install ## the Dagster UI with schedules and sensors on
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/python -c "from returnlens.pipeline import ensure_dagster_home; ensure_dagster_home()"
	@echo "==> Dagster UI on http://127.0.0.1:$${DAGSTER_PORT:-3000}"
	@# with no landing data configured, the UI runs on the demo shop `make run` generated
	RETURNLENS_LANDING_DIR="$${RETURNLENS_LANDING_DIR:-$$($(BIN)/python -c \
		'from returnlens.pipeline import dev_landing_dir; print(dev_landing_dir())')}" \
		$(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p $${DAGSTER_PORT:-3000}

dashboard: install ## the Streamlit dashboard on the published serving database (URL printed)
	@echo "==> Returnlens dashboard on http://127.0.0.1:$${RETURNLENS_DASHBOARD_PORT:-8501} (Ctrl-C stops it), reading" \
		"$$($(BIN)/python -c 'from returnlens.config import settings; print(settings().serving)')"
	$(BIN)/streamlit run dashboard/app.py --server.headless true --server.address 127.0.0.1 \
		--server.port $${RETURNLENS_DASHBOARD_PORT:-8501} --browser.gatherUsageStats false

docs: install ## the dbt docs site (lineage, exposures) of the warehouse `make run` built (URL printed)
	$(BIN)/returnlens docs-site

fuzz: install ## the loader's property-based fuzz test, 20,000 random examples (nightly)
	RETURNLENS_FUZZ_EXAMPLES=$${RETURNLENS_FUZZ_EXAMPLES:-20000} $(BIN)/pytest tests/integration/test_loader_fuzz.py -p no:cacheprovider

bench: install ## benchmarks side by side (ratios); figures in benchmarks/results/
	$(BIN)/python -m benchmarks.run $(BENCH)

docs-contracts: install ## regenerate docs/contracts/*.md from the landing contracts
	$(BIN)/returnlens docs-contracts

clean: ## remove generated data, databases, build output and the venv
	rm -rf data target logs $(VENV) $(TOOLS) .pytest_cache .ruff_cache
