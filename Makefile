# Mozukai Hub — the two commands: `make run` and `make test`. See README.md.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test setup migrate demo check-python system-packages-run system-packages-test clean bench

check-python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: install python3.11 (and python3.11-venv), or run 'make PYTHON=/path/to/python3.11 …'"; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { echo "$(PYTHON) is not Python 3.11"; exit 2; }

# The system programs each command needs: one list, in mozukai_hub/system_packages.py. Installed
# with apt-get when run as root; otherwise the command stops here with the exact apt-get line.
system-packages-run: check-python
	@$(PYTHON) -m mozukai_hub.system_packages run

system-packages-test: check-python
	@$(PYTHON) -m mozukai_hub.system_packages test

$(VENV)/.installed: requirements.txt | check-python
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

# @google/model-viewer from npm, served at static/vendor/model-viewer/model-viewer.min.js.
static/vendor/model-viewer/model-viewer.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent vendor

setup: $(VENV)/.installed static/vendor/model-viewer/model-viewer.min.js
	@mkdir -p var

migrate: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0

demo: system-packages-run migrate
	$(PY) manage.py seed_demo

# Embedded default: SQLite, ORM task broker, no external services.
run: demo
	$(PY) manage.py run_stack --host $(HOST) --port $(PORT)

# Throwaway PostgreSQL + Redis on loopback ports, then the whole suite.
test: system-packages-test setup
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) -m mozukai_hub.testing.services -- $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
