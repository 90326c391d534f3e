# The two commands of the README: `make book` builds the website, `make test` runs every test
# (`make test ONLY=book/03_basis_vectors_and_vec.ipynb`: one chapter and its pages; `make check`:
# the quick loop, no browser).
# Each first creates and fills a local virtual environment (.venv) from requirements.txt
# (tools/venv.sh: checks the Python version, remakes a .venv made by another Python).
# `make help` lists every target.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp names the Python it was made with, so that naming another one remakes .venv.
PYTHON_VERSION := $(firstword $(shell $(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3], sys.base_prefix)' 2>/dev/null))
STAMP := $(VENV)/.installed-python$(PYTHON_VERSION)
BUILD_FLAGS := -W -n --keep-going
# EDITION=web (solutions collapsed), student (solutions removed) or instructor (shown open).
EDITION ?= web
OUT := $(if $(filter web,$(EDITION)),.,_build/$(EDITION))
# ONLY=book/03_basis_vectors_and_vec.ipynb (one or more pages): `make test` on those alone.
ONLY ?=

.PHONY: help book handout pdf test check lab repository venv clean distclean

help:
	@echo "make book      build the website into _build/html/ (EDITION=student or instructor:"
	@echo "               into _build/<edition>/_build/html/)"
	@echo "make test      run every test: mdcalc, every notebook (nbval), the built sites"
	@echo "make test ONLY=book/03_basis_vectors_and_vec.ipynb"
	@echo "               one chapter: its notebook (nbval) and its pages in the browser"
	@echo "make check     the quick loop, no browser: mdcalc's tests, doctests, every notebook"
	@echo "make handout   the whole book on one printable page, with and without solutions"
	@echo "make pdf       the whole book as a PDF, with and without solutions (_build/pdf/)"
	@echo "make lab       open the chapters in JupyterLab"
	@echo "make repository URL=https://github.com/OWNER/REPO"
	@echo "               point the book (buttons, notebooks' install cells) at your repository"
	@echo "make venv      only create or update .venv (PYTHON=python3.12 to choose the Python)"
	@echo "make clean     delete what was built (_build/), keep .venv"
	@echo "make distclean delete _build/ and .venv"

book: $(STAMP)
	BOOK_EDITION=$(EDITION) $(BIN)/jupyter-book build . --path-output $(OUT) $(BUILD_FLAGS)
	@echo "Website built: open $(OUT)/_build/html/index.html in a browser, or serve it with"
	@echo "  $(BIN)/python -m http.server --directory $(OUT)/_build/html 8000   (then http://127.0.0.1:8000)"

# The whole book on one page: with the solutions printed open (paper cannot unfold them),
# and the student's, without them.
handout: $(STAMP)
	BOOK_EDITION=instructor $(BIN)/jupyter-book build . --builder singlehtml $(BUILD_FLAGS)
	BOOK_EDITION=student $(BIN)/jupyter-book build . --path-output _build/student --builder singlehtml $(BUILD_FLAGS)
	@echo "Handouts built (open them in a browser, or print them):"
	@echo "  with solutions:    _build/singlehtml/book/intro.html"
	@echo "  without solutions: _build/student/_build/singlehtml/book/intro.html"

# Chromium prints each handout once MathJax has typeset it (tools/handout_pdf.py).
pdf: handout
	$(BIN)/python tools/handout_pdf.py _build/singlehtml/book/intro.html _build/pdf/book.pdf
	$(BIN)/python tools/handout_pdf.py _build/student/_build/singlehtml/book/intro.html _build/pdf/book-student.pdf

# On every core (pytest-xdist); tests/xdist_units.py keeps each file's tests on one worker.
# ONLY: tests/only_pages.py keeps the named notebooks and the checks of their pages.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto $(foreach page,$(ONLY),--only $(page))

# Everything but what builds the site, opens a browser or makes a virtual environment.
check: $(STAMP)
	$(BIN)/python -m pytest -n auto -m "not site and not install"

# (--allow-root only where make runs as root, as in CI containers.)
lab: $(STAMP)
	$(BIN)/jupyter lab book/ --config=tools/jupyter_lab_config.py $(if $(filter 0,$(shell id -u)),--allow-root)

# The one setting (repository.url) and the files that must follow it (tools/set_repository.py).
repository: $(STAMP)
	$(BIN)/python tools/set_repository.py $(URL)

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml tools/venv.sh tools/ipython_kernel_config.py
	@sh tools/venv.sh "$(PYTHON)" "$(VENV)"
	@rm -f $(VENV)/.installed*
	@touch $@

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV)
