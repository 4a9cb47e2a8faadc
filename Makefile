# Each target sets itself up from nothing: a .venv with the Python packages, and the
# system packages (through apt-get when running as root; otherwise the exact command).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench setup setup-test clean install

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,committee]'
	@touch $@

setup: $(STAMP)
	@bash scripts/system-packages.sh runtime

setup-test: $(STAMP)
	@bash scripts/system-packages.sh test

demo: setup
	$(BIN)/kiosk demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check kiosk committee tests bench scripts
	$(BIN)/ruff format --check kiosk committee tests bench scripts

# One process by default. `make test PYTEST_WORKERS=3` runs three pytest-xdist workers, a
# test file each at a time: about half the time on 2 cores (the suite waits more than it
# computes), but the browser tests of the resident screen, timed against the simulated
# world's hold times, are not yet steady under that load.
PYTEST_WORKERS ?= 0
test: setup-test lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: setup-test
	$(BIN)/python -m bench $(ARGS)

# On the Raspberry Pi, as root: users, venv under /opt/kiosk, /etc/kiosk/kiosk.toml, systemd
# units, I2C and camera checks. Idempotent; see docs/operations.md.
install:
	bash scripts/install-pi.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
