# Sequence Models from Scratch — the two commands a newcomer needs:
#   make lab    set everything up, then open the course in JupyterLab (student mode)
#   make test   set everything up, then run the whole test suite (what CI runs)
# Needs Python 3.11+, make and git. Everything goes into ./.venv; nothing global is touched.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8888
# Extra arguments for JupyterLab, e.g. make lab LAB_ARGS=--no-browser
LAB_ARGS ?=
# Folder JupyterLab opens (the browser test points it at a temporary copy of notebooks/)
LAB_ROOT ?= $(CURDIR)/notebooks
# Extras to install: dev (test tools) always; add torch for the PyTorch parity tests and
# benchmarks: make test EXTRAS=dev,torch
EXTRAS ?= dev
# Jupyter refuses to run as root unless told to (containers, CI machines).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test setup lint release grade-by-hand full-repo help

help:
	@echo "make setup   create .venv and install the course with its test tools (nothing else)"
	@echo "make lab     set up .venv and open the course in JupyterLab (student mode)"
	@echo "make test    set up .venv and run lint, unit tests, notebooks and pipeline checks"
	@echo "make release regenerate notebooks/ from solutions/ (instructors)"
	@echo "make grade-by-hand  open nbgrader's formgrader on the course (instructors)"

# The environment is rebuilt whenever pyproject.toml changes.
$(VENV)/.installed-$(EXTRAS): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(VENV)/.installed-$(EXTRAS)

lab: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" JUPYTER_CONFIG_PATH="$(CURDIR)/.jupyter/student" \
		$(BIN)/jupyter lab --ServerApp.root_dir="$(LAB_ROOT)" --port=$(PORT) $(ALLOW_ROOT) $(LAB_ARGS)

# The student bundle ships this Makefile without tests/ and solutions/: say so plainly.
full-repo:
	@test -d tests -a -d solutions || { echo "This is the student copy of the course: only 'make lab' works here (check your work with the Validate button)."; exit 1; }

lint: full-repo setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# One BLAS thread: the course's small matmuls run several times slower with more threads on 2 cores.
test: lint
	PATH="$(CURDIR)/$(BIN):$$PATH" OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest --nbval --nbval-current-env tests solutions notebooks

# Instructors: JupyterLab with nbgrader's formgrader (not student mode), on the course root.
grade-by-hand: full-repo setup
	$(BIN)/python -m grader grade-by-hand --port=$(PORT) -- $(LAB_ARGS)

release: full-repo setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grader release
