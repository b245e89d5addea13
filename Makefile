# One command each: `make run` (the hub, embedded default) and `make test` (every test).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Every URL the hub prints or registers (xAPI endpoint, LTI tool URLs, the demo VNeID provider's
# issuer and redirect URI) follows HOST and PORT, unless HOCVU_PUBLIC_URL says otherwise (a proxy
# in front). A wildcard bind address is no address a browser can use: the URLs then name loopback.
PUBLIC_HOST := $(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST))
RUN_ENV = HOCVU_PUBLIC_URL="$${HOCVU_PUBLIC_URL:-http://$(PUBLIC_HOST):$(PORT)}"

.PHONY: install run test lint bench bench-face bench-chain bench-export bench-forward bench-imports bench-lti \
	bench-credentials bench-web browser assets clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,face,connectors]'
	touch $@

install: $(VENV)/.installed

# Apache Spark for the lake test (issue 17 item 5a): pyspark (~460 MB, the `lake` extra) only where Java runs
# it; `make install` (and so `make run`) does without, and the Spark test says why it skipped.
$(VENV)/.lake-installed: $(VENV)/.installed
	@if command -v java >/dev/null 2>&1; then $(BIN)/pip install --quiet -e '.[lake]' && touch $@; \
	else echo "java not found: the Spark lake test will be skipped"; fi

# The independent OpenID provider the identity tests sign in against (npm oidc-provider).
tools/oidc/node_modules/.installed: tools/oidc/package.json tools/oidc/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tools/oidc --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the identity tests against oidc-provider will be skipped"; fi

# The independent verifier the credential tests check issued credentials with (npm @digitalbazaar/vc).
VERIFIER := tests/credentials/verifier
$(VERIFIER)/node_modules/.installed: $(VERIFIER)/package.json $(VERIFIER)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix $(VERIFIER) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the credential tests against @digitalbazaar/vc will be skipped"; fi

# The player's browser code (Workbox service worker, idb queue) and axe-core for the browser tests
# (npm). The bundles are committed in player/static/player/, so running the hub needs no Node;
# `make assets` rebuilds them after an edit of player/web/src (a test checks they are current).
player/web/node_modules/.installed: player/web/package.json player/web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix player/web --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the accessibility (axe-core) and bundle checks will be skipped"; fi

# The cmi5 AU the package tests run in headless Chromium (npm @xapi/cmi5, a real AU-side client; not shipped).
tools/cmi5-au/node_modules/.installed: tools/cmi5-au/package.json tools/cmi5-au/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tools/cmi5-au --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the cmi5 AU browser test will be skipped"; fi

assets: player/web/node_modules/.installed
	cd player/web && node build.mjs

# Debian's chromium + chromium-driver for the browser tests (they skip, saying why, without them).
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "could not install chromium: the browser tests will be skipped"; \
	else echo "chromium not installed and no root apt-get: the browser tests will be skipped"; fi

run:
	@echo "front door: $${HOCVU_PUBLIC_URL:-http://$(PUBLIC_HOST):$(PORT)}/  (set-up first, then the server starts; sign in with the demo VNeID)"
	@$(MAKE) --no-print-directory install
	$(RUN_ENV) $(BIN)/hocvu db upgrade
	$(RUN_ENV) $(BIN)/hocvu face setup
	$(RUN_ENV) $(BIN)/hocvu demo seed
	$(RUN_ENV) HOCVU_DEMO_IDP=$${HOCVU_DEMO_IDP:-1} $(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --threads 4 \
		--access-logfile - 'hocvu.wsgi:app'

# Style (ruff), DESIGN.md's one-way imports (import-linter, .importlinter) and the type hints of every
# product package and of the benchmarks (mypy --strict; the packages are listed in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: install $(VENV)/.lake-installed lint tools/oidc/node_modules/.installed $(VERIFIER)/node_modules/.installed \
	player/web/node_modules/.installed tools/cmi5-au/node_modules/.installed browser
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench.statements

bench-face: install
	$(BIN)/python -m bench.face

bench-chain: install
	$(BIN)/python -m bench.chain

bench-export: install
	$(BIN)/python -m bench.export

bench-forward: install
	$(BIN)/python -m bench.forwarding

bench-imports: install
	$(BIN)/python -m bench.imports

bench-lti: install
	$(BIN)/python -m bench.lti

bench-credentials: install
	$(BIN)/python -m bench.credentials

.PHONY: bench-dashboard
bench-dashboard: install
	$(BIN)/python -m bench.dashboard

bench-web: install browser
	$(BIN)/python -m bench.web

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis tools/oidc/node_modules $(VERIFIER)/node_modules \
		player/web/node_modules
