# Two commands do all the set-up on a fresh machine with only Python (>= 3.10) and pip:
#   make book   create .venv if missing, install, build the HTML site
#   make test   the same set-up, then unit tests, a strict book build, notebook runs and site checks
# The site's browser assets (MathJax, require.js, widget manager, icon font) come from the npm
# registry: `npm ci` installs the versions pinned in package-lock.json into node_modules.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.qsense-installed
NPM    ?= npm
ASSETS := node_modules/.qsense-installed
BOOK_FLAGS_STRICT := -W -n --keep-going
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# Do not set MPLBACKEND here: notebook kernels need matplotlib's inline backend, which registers the
# PNG formatter that glued figures use (with Agg they would silently vanish from the site).
# The chapters' problems are small (d <= 100): one BLAS thread is as fast as two on a quiet
# machine, far faster on a busy one (threads spin while waiting for a core), and it makes
# floating-point results independent of the core count. Override with `make ... BLAS_THREADS=2`.
BLAS_THREADS ?= 1
export OPENBLAS_NUM_THREADS := $(BLAS_THREADS)
export OMP_NUM_THREADS := $(BLAS_THREADS)
export MKL_NUM_THREADS := $(BLAS_THREADS)
# Agg only for the unit tests (never for notebook kernels, see above).
unit: export MPLBACKEND := Agg

.PHONY: book test unit build-strict notebooks site-check browser-check student student-check guide lock sync-repo mutation clean help bench budget

help:
	@echo "make book   build the course site into _build/html (sets up .venv first)"
	@echo "make test   set up, then every test: unit, strict build, notebooks (nbval), site checks, student edition"
	@echo "            (site checks include every page in headless Chromium: make browser-check)"
	@echo "make student    write the student edition (no solutions) to _build/student and build its site"
	@echo "make guide      regenerate the exercise tables of chapters/instructor_guide.md"
	@echo "make bench  speed benchmarks -> benchmarks/results.md (not part of make test)"
	@echo "make budget execute every chapter, record wall time and peak memory -> benchmarks/chapter-budget.md"
	@echo "make sync-repo  rewrite the notebooks' set-up cells after changing repository.url in _config.yml"
	@echo "make mutation   check that a doubled or sign-flipped gradient fails the tests"
	@echo "make lock   refresh requirements-lock.txt from the current .venv"
	@echo "make clean  remove the built site"

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt requirements-lock.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $@

$(ASSETS): package.json package-lock.json
	$(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

book: $(STAMP) $(ASSETS)
	$(BIN)/jupyter-book build .
	@echo "The site is at file://$(CURDIR)/_build/html/index.html"

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not site and not student"

build-strict: $(STAMP) $(ASSETS)
	$(BIN)/jupyter-book build . --all $(BOOK_FLAGS_STRICT)

notebooks: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider chapters

site-check: $(STAMP)
	$(BIN)/python -m pytest tests -m site

# The student edition: notebooks with stubs, executed once (only the stubs may fail), then built
# as a site from those outputs with the same strict flags.
student: $(STAMP) $(ASSETS)
	$(BIN)/python scripts/make_student.py --execute
	$(BIN)/jupyter-book build _build/student $(BOOK_FLAGS_STRICT)
	@echo "The student edition is in _build/student; its site at file://$(CURDIR)/_build/student/_build/html/index.html"

student-check: student
	$(BIN)/python -m pytest tests -m student

guide: $(STAMP)
	$(BIN)/python scripts/exercises.py

# Only the browser test (needs a built site and Chromium; screenshots go to _build/screenshots).
browser-check: $(STAMP)
	$(BIN)/python -m pytest tests -m browser

test: unit build-strict notebooks site-check student-check mutation
	@echo "make test: all stages passed"

sync-repo: $(STAMP)
	$(BIN)/python scripts/sync_repo.py

mutation: $(STAMP)
	scripts/mutation_check.sh $(BIN)/python

# Benchmarks and the chapter budget are reports, not tests (timings on a shared machine are noisy).
# They run with the BLAS_THREADS above (torch too, via OMP_NUM_THREADS): `make bench BLAS_THREADS=2`.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py --out benchmarks/results.md

budget: $(STAMP)
	$(BIN)/python benchmarks/chapter_budget.py --out benchmarks/chapter-budget.md

lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -i '^qsense' > requirements-lock.txt

clean:
	rm -rf _build
