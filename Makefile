# Two commands on a fresh machine with Python 3.11+:  `make run`  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two installs (scripts/bootstrap_venv.py): what serving needs (`make run`, key, manage,
# demo-flows, schema), and that plus the test, lint and benchmark tools (`make test`, lint, bench).
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# `make run` is a local development server: DEBUG on, embedded SQLite, console e-mail. Links in
# mails and the printed curl lines follow the port: `make run PORT=8001`.
SITE_URL ?= http://127.0.0.1:$(PORT)
# `make run MAIL_DIR=.mail` writes each mail to a file in .mail/ instead of the terminal, where
# docs/flows.sh reads the codes: `MAIL_DIR=.mail TEAM=... docs/flows.sh`.
MAIL_DIR ?=
DEV_ENV := DEBUG=1 SITE_URL=$(SITE_URL) $(if $(MAIL_DIR),EMAIL_URL=filemail:///$(abspath $(MAIL_DIR)))
# `make run` is the development server (scripts/dev_server.py): uvicorn on config.asgi (Django's
# ASGI handler) serves every path, the live audit stream included, beside the background worker
# that sends the mail (manage.py run_worker); both restart when a file of these changes and Ctrl-C
# stops both.
# Production splits the paths between two servers behind nginx (README, Production notes); `make
# run-split` runs that split here, without reloading (Debian's nginx needed).
APP_DIRS := access accounts apikeys audit config dashboard infra integrations livestream teams tracking


.PHONY: vendor docs docs-serve install install-run run run-split key manage demo-flows screenshots test test-postgres test-pgbouncer lint format sdk-sync migrations-check schema bench bench-stream bench-scale ci clean

# Under a lock, so `make run` and `make test` started together on a fresh clone do not both build it.
$(STAMP_RUN): pyproject.toml constraints.txt
	@$(PYTHON) scripts/bootstrap_venv.py run

$(STAMP_DEV): pyproject.toml constraints.txt clients/python/pyproject.toml
	@$(PYTHON) scripts/bootstrap_venv.py dev

install-run: $(STAMP_RUN)

install: $(STAMP_DEV)

run: install-run
	@echo "==> Dashboard: $(SITE_URL)/  (log in as demo / ghostflow-demo-pass)"
	$(if $(MAIL_DIR),mkdir -p $(MAIL_DIR))
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) $(BIN)/python manage.py seed_demo
	$(DEV_ENV) $(BIN)/python scripts/dev_server.py --reload -- \
		$(BIN)/python -m uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan off --no-proxy-headers \
		--reload $(foreach dir,$(APP_DIRS),--reload-dir $(dir))

# nginx on $(PORT) -> gunicorn sync workers (config.wsgi) + the stream server (config.asgi), and
# the background worker, on the same database and demo data as `make run`; Ctrl-C stops all four
# (scripts/split_stack.py).
run-split: install-run
	@echo "==> Dashboard: $(SITE_URL)/  (log in as demo / ghostflow-demo-pass)"
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) $(BIN)/python manage.py seed_demo
	$(DEV_ENV) $(BIN)/python scripts/split_stack.py serve .split-stack --port $(PORT)

# A gf_ key for the server `make run` started (same database, same dev pepper), printed once:
#   make key TEAM=<team uuid> [OWNER=demo] [NAME="Demo key"] [PERMISSIONS="read write:campaigns"]
OWNER ?= demo
NAME ?= Demo key
PERMISSIONS ?= read write:campaigns
key: install-run
	@test -n "$(TEAM)" || { echo "Usage: make key TEAM=<team uuid> [OWNER=demo] [NAME=...] [PERMISSIONS=...]"; exit 2; }
	$(DEV_ENV) $(BIN)/python manage.py create_api_key --user "$(OWNER)" --team "$(TEAM)" --name "$(NAME)" \
		--permissions $(PERMISSIONS)

# The README's flows, run against a fresh dev server of their own; fails if any answer differs.
demo-flows: install-run
	bash scripts/demo_flows.sh

# PNGs of the dashboard's main pages (docs/screenshots/), from a fresh dev server and Chromium.
screenshots: install
	$(BIN)/python scripts/screenshots.py

# Any management command against the dev settings: make manage CMD="createsuperuser"
manage: install-run
	$(DEV_ENV) $(BIN)/python manage.py $(CMD)

test: install
	$(BIN)/pytest -n 2 --create-db

test-postgres: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ghostflow} $(BIN)/pytest -n 2 --create-db

# The coherence, live-stream and audit tests on PostgreSQL behind PgBouncer in transaction mode, with
# DATABASE_POOLER=transaction (needs Debian's pgbouncer: apt-get install -y pgbouncer; and Redis).
test-pgbouncer: install
	bash scripts/pgbouncer_suite.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy --config-file clients/python/pyproject.toml
	$(BIN)/python clients/python/scripts/generate_sync.py --check

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The documentation site (mkdocs.yml, docs/): built offline into site/ with warnings, broken links
# and anchors as errors (CI runs it); `make docs-serve` previews it on 127.0.0.1:8001.
DOCS_STAMP := $(VENV)/.docs-installed
DOCS_ENV := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true
$(DOCS_STAMP): $(STAMP_RUN) pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[docs]'
	@touch $@

docs: $(DOCS_STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs serve --strict -a 127.0.0.1:8001

# The sync Python SDK, generated from its async source (clients/python/scripts/generate_sync.py): run it
# after editing the async code. `make sdk-sync CHECK=1` changes nothing, and fails if a file is stale.
sdk-sync: install
	$(BIN)/python clients/python/scripts/generate_sync.py $(if $(CHECK),--check)

# The dashboard's vendored chart library (uPlot, package.json): after changing its version there,
# `npm install` then `make vendor` copies its built files in; tests/test_vendored.py checks they match.
VENDOR_UPLOT := dashboard/static/dashboard/vendor/uplot
vendor:
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR_UPLOT)
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE $(VENDOR_UPLOT)/

migrations-check: install-run
	$(DEV_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

schema: install-run
	$(DEV_ENV) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file schema.yml

# Ours beside the peers (bench/compare.py, wrk) and the in-process costs (bench/inprocess.py).
bench: install
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python bench/compare.py
	$(BIN)/python bench/compare_asgi.py
	$(BIN)/python bench/inprocess.py

# 500 live audit streams on one ASGI process, events written at 200/s (bench/audit_stream.py).
bench-stream: install
	$(BIN)/python bench/audit_stream.py

# 1,000,000 keys and 10,000,000 audit events on PostgreSQL (bench/scale.py; about 6 GB, minutes).
bench-scale: install
	$(BIN)/python bench/scale.py

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) db.sqlite3 .test-db*
