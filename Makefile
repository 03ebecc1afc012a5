# Two commands work on a fresh machine with only Python 3.11+ and make: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Every package the three distributions and the development tools need, pinned with hashes.
LOCK   := requirements.lock
# The three distributions (docs/architecture.md), each with its own pyproject.toml.
PACKAGES := packages/runtime packages/client packages/store
SOURCES  := $(shell find $(PACKAGES) -name '*.py' -o -name '*.toml' -o -name '*.html' -o -name '*.css' -o -name '*.mako')
DIST     := dist
WHEELHOUSE := $(DIST)/wheelhouse

.PHONY: demo test drills lint typecheck lock bench clean dist fuzz

# The browser test drives Debian's Chromium (not a browser downloaded by a test tool); the
# confirmation dialog's test runs under Debian's Xvfb, driven by xdotool.
CHROMIUM := /usr/bin/chromium
XVFB     := /usr/bin/Xvfb
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): $(LOCK) $(addsuffix /pyproject.toml,$(PACKAGES))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade "pip>=24"
	$(BIN)/python -m pip install -qq --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -qq --no-deps --no-build-isolation $(addprefix -e ,$(PACKAGES))
	touch $(STAMP)

# The three wheels, and in $(WHEELHOUSE) every wheel they need on this machine, each checked
# against the lock's hashes (tollgate store publish-client takes the download program's share;
# the tests install each distribution alone from there, with no index).
dist: $(DIST)/.built

$(DIST)/.built: $(STAMP) $(SOURCES) $(DIST)/.wheelhouse-downloaded
	rm -rf $(DIST)/*.whl $(WHEELHOUSE)/tollgate*.whl $(addsuffix /build,$(PACKAGES))
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w $(DIST) $(PACKAGES)
	rm -rf $(addsuffix /build,$(PACKAGES)) $(addsuffix /src/*.egg-info,$(PACKAGES))
	cp $(DIST)/tollgate_runtime-*.whl $(WHEELHOUSE)/
	$(BIN)/python tools/pins.py tollgate --lock $(LOCK) --wheels $(DIST) > $(DIST)/client-requirements.txt
	touch $@

$(DIST)/.wheelhouse-downloaded: $(STAMP) $(LOCK)
	mkdir -p $(WHEELHOUSE)
	$(BIN)/python tools/pins.py tollgate-store --lock $(LOCK) --third-party > $(DIST)/store-third-party.txt
	$(BIN)/python -m pip download -q --no-deps --only-binary=:all: --require-hashes \
		-r $(DIST)/store-third-party.txt -d $(WHEELHOUSE)
	touch $@

demo: $(STAMP) dist
	$(BIN)/tollgate demo --client $(DIST)

LINTED := $(wildcard packages tests benchmarks examples tools fuzz)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(XVFB): | $(CHROMIUM)
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xdotool

# The suite runs in parallel, one worker per core (pytest-xdist; every test makes its own
# store, folder and database). TEST_WORKERS=0 runs it in this one process. The load and fault
# drills (docs/reliability.md) are `make drills`, which CI runs after `make test`.
TEST_WORKERS ?= auto

test: $(STAMP) $(CHROMIUM) $(XVFB) dist
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/pytest -q -n $(TEST_WORKERS) --durations=20 -m "not drill"

drills: $(STAMP) dist
	$(BIN)/pytest -q -n $(TEST_WORKERS) -m drill

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy

# Each atheris harness for FUZZ_SECONDS (fuzz/README.md): seeds made fresh into fuzz/corpus/,
# the kept regressions replayed first, a crash written to fuzz/crashes/<name>/ and fatal.
FUZZ_SECONDS ?= 60
FUZZERS := $(sort $(wildcard fuzz/fuzz_*.py))

fuzz: $(STAMP)
	$(BIN)/python fuzz/make_seeds.py
	@set -e; for harness in $(FUZZERS); do \
		name=$$(basename $$harness .py); name=$${name#fuzz_}; \
		mkdir -p fuzz/corpus/$$name fuzz/crashes/$$name fuzz/regressions/$$name; \
		echo "== $$name ($(FUZZ_SECONDS) s)"; \
		$(BIN)/python $$harness fuzz/corpus/$$name fuzz/regressions/$$name \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 \
			-artifact_prefix=fuzz/crashes/$$name/ -print_final_stats=1; \
	done

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Regenerate the lock after changing a distribution's dependencies (requirements-dev.in names
# the three distributions and the development tools; their own lines are left out of the lock).
lock:
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet pip-tools
	.lock-venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
		--output-file $(LOCK).new requirements-dev.in
	grep -v '^-e ' $(LOCK).new > $(LOCK)
	rm -rf .lock-venv $(LOCK).new

clean:
	rm -rf $(VENV) $(DIST) .mypy_cache .pytest_cache .ruff_cache
