# yamlpipe: `make demo` shows the main job, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
V2 := .venv-v2
SPEC := specs/churn.yaml

.PHONY: install install-v2 demo test lint bench schema fuzz clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The compile tests also run under SageMaker SDK v2 in a second environment.
install-v2: $(V2)/.installed

$(V2)/.installed: pyproject.toml
	$(PYTHON) -m venv $(V2)
	$(V2)/bin/pip install --quiet --upgrade pip
	$(V2)/bin/pip install --quiet 'sagemaker>=2.199,<3' -e '.[dev]'
	touch $@

# The main job on the example, offline: validate, draw, compile, run locally.
demo: install
	$(BIN)/yamlpipe validate $(SPEC)
	$(BIN)/yamlpipe graph $(SPEC) --format text
	$(BIN)/yamlpipe compile $(SPEC) -o build --normalized
	$(BIN)/yamlpipe run $(SPEC)

test: install install-v2
	$(BIN)/python -m pytest
	$(V2)/bin/python -m pytest -m sdk

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: install install-v2
	$(BIN)/python bench/validate_speed.py
	$(BIN)/python bench/compile_speed.py
	$(V2)/bin/python bench/compile_speed.py
	$(BIN)/python bench/run_speed.py

# Coverage-guided fuzzing of the loader; new crashes land in tests/fuzz/crashes/.
FUZZ_SECONDS ?= 600
fuzz: install
	$(BIN)/pip install --quiet atheris
	mkdir -p build/fuzz-corpus
	cp tests/fuzz/corpus/* build/fuzz-corpus/
	$(BIN)/python tests/fuzz/fuzz_loader.py build/fuzz-corpus \
		-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
		-artifact_prefix=tests/fuzz/crashes/ -print_final_stats=1

schema: install
	$(BIN)/yamlpipe schema > schemas/yamlpipe.schema.json

clean:
	rm -rf $(VENV) $(V2) build .yamlpipe
