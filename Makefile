# virtfleet.hypervisor — every step a fresh Debian 12 machine needs lives here.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup setup-host setup-venv lab-image demo test test-unit test-integration test-sanity test-lab lint bench build clean

setup: setup-host setup-venv lab-image  ## idempotent: a second run changes nothing

setup-host:
	@bash scripts/setup-host.sh

setup-venv:
	@bash scripts/setup-venv.sh

LAB_VARIANTS := cloudinit

lab-image: setup-host  ## the base lab image and the variants the lab tests boot
	@bash scripts/build-lab-image.sh
	@for v in $(LAB_VARIANTS); do bash scripts/build-lab-image.sh --variant $$v || exit 1; done

demo: setup  ## converge the example local lab (inventories/local), twice, and show it
	@bash scripts/demo.sh

test: setup  ## every tier: unit, integration (real libvirtd), sanity, lab VM; one summary line
	@$(VENV)/bin/pytest -p no:cacheprovider -q -rfE tests/unit tests/integration tests/sanity tests/lab

test-unit: setup-venv
	@$(VENV)/bin/pytest -q tests/unit

test-integration: setup-host setup-venv
	@$(VENV)/bin/pytest -q tests/integration

test-sanity: setup-venv
	@$(VENV)/bin/pytest -q tests/sanity

test-lab: setup
	@$(VENV)/bin/pytest -q tests/lab

lint: setup-venv
	@bash scripts/sanity.sh
	@$(VENV)/bin/ansible-lint --profile production

bench: setup-host setup-venv
	@$(PY) bench/guests.py

build: setup-venv
	@$(VENV)/bin/ansible-galaxy collection build --force --output-path .build

clean:
	rm -rf .build
