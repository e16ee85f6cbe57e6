# The two commands of the README:  make demo  (set up, then the main job)  and  make test.
PYTHON ?= python3
VENV   ?= .venv
PHOTO  ?=
OUT    ?= out
BIN     = $(VENV)/bin

.PHONY: demo test bench clean

# the project in its own virtual environment with the studio server (re-installed when pyproject.toml changes)
$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[serve]"
	touch $@

# every optional backend and the test tools (the `all` extra), so no test skips for a missing backend
$(BIN)/.all-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/portrait demo $(PHOTO) -o $(OUT)

test: $(BIN)/.all-installed
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(OUT) build src/*.egg-info
