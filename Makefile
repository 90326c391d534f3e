# The two commands of the README: `make book` builds the website, `make test` runs every test.
# Both first create and fill a local virtual environment (.venv) from requirements.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test venv clean

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Website built: open _build/html/index.html in a browser, or serve it with"
	@echo "  $(BIN)/python -m http.server --directory _build/html 8000   (then http://127.0.0.1:8000)"

test: $(STAMP)
	$(BIN)/python -m pytest

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

clean:
	rm -rf _build $(VENV)
