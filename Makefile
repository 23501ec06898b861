# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint install serve demo clean

$(BIN)/vectrain: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/vectrain

install: $(BIN)/vectrain

## Set up, load the offline demo (scikit-learn digits), serve the API on 127.0.0.1:8000.
run: install
	$(BIN)/vectrain load demo
	$(BIN)/vectrain serve

## The linter and format check, then the test suite against the real embedded engine.
test: install lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: install
	$(BIN)/vectrain load demo

serve: install
	$(BIN)/vectrain serve

## The virtualenv. The database lives in your data folder (see the README); remove it there.
clean:
	rm -rf $(VENV)
