# The daily commands. `make run` and `make test` set up everything they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements/*.txt | cksum | cut -d' ' -f1)
PORT ?= 8000
# Links in emails point at the address `make run` serves on.
export SITE_URL ?= http://127.0.0.1:$(PORT)
export FLOWER_PORT ?= 5555
# The embedded default's Flower login; set your own in the environment or .env.
export FLOWER_BASIC_AUTH ?= demo:demo-pass-123

.PHONY: help install run test bench lint format clean

help:
	@echo "make run    start web, media and email workers, beat and Flower (no server needed)"
	@echo "make test   run the whole test suite"
	@echo "make bench  run the benchmarks and print their ratios"
	@echo "make lint   ruff check and format check"

$(STAMP):
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
		rm -rf $(VENV); python=$$(scripts/find-python) && \
		echo "Creating $(VENV) with $$python" && $$python -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/local.txt
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

# Every process of Procfile.local under honcho (scripts/run-local): one Ctrl-C stops them
# all and exits 0.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_demo_user
	@echo "Flower: http://127.0.0.1:$(FLOWER_PORT)/ (login $(FLOWER_BASIC_AUTH))"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(PY) scripts/run-local -p $(PORT)

test: install
	scripts/test

bench: install
	$(PY) -m bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var/ staticfiles/ .pytest_cache
