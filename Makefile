# gridgov — the two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SIZE ?= small
SEED ?= 1

.PHONY: run test test-sqlite test-postgres bench bench-quick lint setup messages clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Front-end packages from the lockfile, copied into the git-ignored static folder.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

gridgov/static/vendor/.copied: node_modules/.installed scripts/vendor_static.py
	$(PY) scripts/vendor_static.py
	touch $@

setup: $(VENV)/.installed gridgov/static/vendor/.copied
	$(PY) manage.py compile_translations
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py collectstatic --no-input -v 0

run: setup
	$(PY) manage.py demo_city --if-empty --size $(SIZE) --seed $(SEED)
	$(PY) manage.py demo_logins
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test gridgov/static/vendor/.copied
	$(PY) manage.py compile_translations
	$(VENV)/bin/ruff check .
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	  else echo "TEST_DATABASE_URL is not set: the PostgreSQL run is skipped"; fi

test-sqlite:
	@echo "== test suite on SQLite"
	env -u DATABASE_URL $(VENV)/bin/pytest -n 2 -q $(PYTEST_ARGS)

test-postgres:
	@echo "== test suite on PostgreSQL ($$TEST_DATABASE_URL)"
	DATABASE_URL="$$TEST_DATABASE_URL" $(VENV)/bin/pytest -n 2 -q $(PYTEST_ARGS)

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

# The large city with 1,000,000 cases (built once into var/bench/large, then reused; the first run takes long), on
# SQLite and, as the table's second column, on PostgreSQL: BENCH_PG_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) names the server, the city goes into its database gridgov_bench_large
# (built once too); an unreachable server skips the column with a note. bench-quick: the small city, results.json only.
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--database sqlite --only analytics" (see `python -m bench.run --help`).
bench: $(VENV)/.installed-bench setup
	$(PY) -m bench.run $(BENCH_ARGS)

bench-quick: $(VENV)/.installed-bench setup
	$(PY) -m bench.run --quick $(BENCH_ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

messages: $(VENV)/.installed
	$(PY) manage.py makemessages -l zh_Hans -l en --ignore=node_modules --ignore=.venv --ignore=var
	$(PY) manage.py compile_translations

clean:
	rm -rf $(VENV) node_modules gridgov/static/vendor var/static
