# The two commands of the README: `make book` builds the website, `make test` runs every test.
# Both first create and fill a local virtual environment (.venv) from requirements.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUILD_FLAGS := -W -n --keep-going
# EDITION=web (solutions collapsed), student (solutions removed) or instructor (shown open).
EDITION ?= web
OUT := $(if $(filter web,$(EDITION)),.,_build/$(EDITION))

.PHONY: book handout test venv clean

book: $(STAMP)
	BOOK_EDITION=$(EDITION) $(BIN)/jupyter-book build . --path-output $(OUT) $(BUILD_FLAGS)
	@echo "Website built: open $(OUT)/_build/html/index.html in a browser, or serve it with"
	@echo "  $(BIN)/python -m http.server --directory $(OUT)/_build/html 8000   (then http://127.0.0.1:8000)"

# The whole book on one printable HTML page.
handout: $(STAMP)
	$(BIN)/jupyter-book build . --builder singlehtml $(BUILD_FLAGS)
	@echo "Handout built: _build/singlehtml/book/intro.html (print it from the browser)"

test: $(STAMP)
	$(BIN)/python -m pytest

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

clean:
	rm -rf _build $(VENV)
