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

# Three workers, a test file each at a time: most of the suite waits on browsers, servers and
# the simulated world's hold times rather than on the CPU, so three share two cores well.
# PYTEST_ARGS="-n 0" runs it in one process.
PYTEST_WORKERS ?= 3
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
