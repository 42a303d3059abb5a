# Two commands do all the set-up on a fresh machine with only Python (>= 3.10) and pip:
#   make book   create .venv if missing, install, build the HTML site
#   make test   the same set-up, then unit tests, a strict book build, notebook runs and site checks
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.qsense-installed
BOOK_FLAGS_STRICT := -W -n --keep-going
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export MPLBACKEND := Agg

.PHONY: book test unit build-strict notebooks site-check lock sync-repo clean help bench budget

help:
	@echo "make book   build the course site into _build/html (sets up .venv first)"
	@echo "make test   set up, then every test: unit, strict build, notebooks (nbval), site checks"
	@echo "make bench  speed benchmarks -> benchmarks/results.md (not part of make test)"
	@echo "make budget execute every chapter, record wall time and peak memory -> benchmarks/chapter-budget.md"
	@echo "make sync-repo  rewrite the notebooks' set-up cells after changing repository.url in _config.yml"
	@echo "make lock   refresh requirements-lock.txt from the current .venv"
	@echo "make clean  remove the built site"

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt requirements-lock.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $@

book: $(STAMP)
	$(BIN)/jupyter-book build .
	@echo "The site is at file://$(CURDIR)/_build/html/index.html"

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not site"

build-strict: $(STAMP)
	$(BIN)/jupyter-book build . $(BOOK_FLAGS_STRICT)

notebooks: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider chapters

site-check: $(STAMP)
	$(BIN)/python -m pytest tests -m site

test: unit build-strict notebooks site-check
	@echo "make test: all stages passed"

sync-repo: $(STAMP)
	$(BIN)/python scripts/sync_repo.py

# Benchmarks and the chapter budget are reports, not tests (timings on a shared machine are noisy).
# BLAS and torch run single-threaded by default: on a shared 2-core machine multi-threaded OpenBLAS
# spin-waits for busy cores and becomes many times slower; override with `make bench BENCH_THREADS=2`.
BENCH_THREADS ?= 1
BENCH_ENV := OPENBLAS_NUM_THREADS=$(BENCH_THREADS) OMP_NUM_THREADS=$(BENCH_THREADS) MKL_NUM_THREADS=$(BENCH_THREADS)

bench: $(STAMP)
	$(BENCH_ENV) $(BIN)/python benchmarks/bench.py --out benchmarks/results.md

budget: $(STAMP)
	$(BIN)/python benchmarks/chapter_budget.py --out benchmarks/chapter-budget.md

lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -i '^qsense' > requirements-lock.txt

clean:
	rm -rf _build
