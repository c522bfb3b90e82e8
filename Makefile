# The two commands of the README: `make dev` (run the service, embedded mode) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck pytest install clean web

# setup.py compiles the XDR skipper `ledgers._xdrskip` and the entry-change builder `ledgers._fastchanges` from
# ledgers/*.c into ledgers/, and the binary COPY encoder `storage._copybin` from storage/_copybin.c (optional
# extensions: without a C compiler the install finishes and the pure-Python decoder parts and write path are used,
# see ledgers/skippers.py and storage/copy_writes.py).
$(STAMP): pyproject.toml setup.py constraints.txt ledgers/_xdrskip.c ledgers/_fastchanges.c storage/_copybin.c
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# Front-end assets the service serves offline (GraphiQL, React, graphql-ws, the console), from the npm registry
# pinned by package-lock.json, bundled into api/static/graphiql/ and api/static/console/ (git-ignored, never
# committed). Needs Node.js and npm.
WEB_STAMP := node_modules/.installed
WEB_OUT := api/static/graphiql/graphiql.js api/static/console/console.js

$(WEB_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(WEB_STAMP)

$(WEB_OUT) &: $(WEB_STAMP) web/build.mjs $(wildcard web/graphiql/*) $(wildcard web/console/*)
	node web/build.mjs

## Build GraphiQL's and the console's assets (make dev and CI run it; the server runs without them, saying how)
web: $(WEB_OUT)

## Run the service on its embedded default: SQLite, in-process jobs, demo tenant, http://127.0.0.1:8000
## (another port: make dev PORT=8001; any other option of `obsrvr-flow dev`: make dev DEV_ARGS="--no-live")
PORT ?= 8000
dev: $(STAMP)
	@$(MAKE) --no-print-directory web || echo "make dev: GraphiQL's assets were not built (Node.js and npm are needed); serving without them" >&2
	$(BIN)/obsrvr-flow dev --port $(PORT) $(DEV_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Lint, type-check and run the whole suite against PostgreSQL and Redis.
# In PYTEST_WORKERS processes (pytest-xdist), each test file whole in one of them (tests/parallel.py says what they
# share). Many tests wait on servers and sockets, so there are more workers than the 2 cores CI has.
# `make test PYTEST_WORKERS=0` runs in one process; PYTEST_ARGS come last and may override these options.
# pytest exits 5 when it collected no test: that fails here, it never passes silently.
PYTEST_WORKERS ?= 3
test: lint
	@$(MAKE) --no-print-directory web || echo "make test: GraphiQL's assets were not built (Node.js and npm are needed); the browser tests skip" >&2
	@$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

clean:
	rm -rf $(VENV) .obsrvr-flow .pytest_cache .mypy_cache .ruff_cache node_modules api/static/graphiql api/static/console
