# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install serve demo clean

$(BIN)/vectrain: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-compile -e '.[test]'
	touch $(BIN)/vectrain

install: $(BIN)/vectrain

## Set up, load the offline demo (scikit-learn digits), serve the API on 127.0.0.1:8000.
run: install
	$(BIN)/vectrain load demo
	$(BIN)/vectrain serve

## Run the test suite against the real embedded engine.
test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/vectrain load demo

serve: install
	$(BIN)/vectrain serve

clean:
	rm -rf $(VENV) data/db
