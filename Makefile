# virtfleet.hypervisor — every step a fresh Debian 12 machine needs lives here.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup setup-host setup-venv lab-image-base lab-image lab-image-full demo demo-clean test test-unit test-integration test-sanity test-lab lint bench build clean

setup: setup-host setup-venv lab-image  ## idempotent: a second run changes nothing

setup-host:
	@bash scripts/setup-host.sh

setup-venv:
	@bash scripts/setup-venv.sh

LAB_VARIANTS := cloudinit xen hv
LAB_VARIANTS_FULL := security

lab-image-base: setup-host  ## the base lab image only (what make demo boots)
	@bash scripts/build-lab-image.sh

lab-image: lab-image-base  ## the base lab image and the variants make test boots
	@for v in $(LAB_VARIANTS); do bash scripts/build-lab-image.sh --variant $$v || exit 1; done

lab-image-full: lab-image  ## plus the SELinux/AppArmor image of make test-lab
	@for v in $(LAB_VARIANTS_FULL); do bash scripts/build-lab-image.sh --variant $$v || exit 1; done

# make demo needs only the host, the venv and the base image (no cloudinit/xen variants).
demo: setup-host setup-venv lab-image-base  ## converge the example local lab (inventories/local), twice, and show it
	@bash scripts/demo.sh

demo-clean: setup-venv  ## remove exactly the demo's named objects (guests, container, volumes, pool, network)
	@bash scripts/demo.sh clean

# make test (CI): unit, integration (real libvirtd and LXC), sanity, and the lab VM tests that
# fit CI's budget: lab VM ping, seed boot, one Xen dom0 end-to-end test (~3 min), the molecule
# `default` scenario (~16 min). The rest (lab_full: the Xen dom0 suite, the other molecule
# scenarios) needs the security image and ~1 h 45 min more under TCG: make test-lab runs it.
test: setup  ## every tier: unit, integration, sanity, lab VMs; one summary line
	@$(VENV)/bin/pytest -p no:cacheprovider -q -rfE -m "not lab_full" \
		tests/unit tests/integration tests/sanity tests/lab

test-unit: setup-venv
	@$(VENV)/bin/pytest -q tests/unit

test-integration: setup-host setup-venv
	@$(VENV)/bin/pytest -q tests/integration

test-sanity: setup-venv
	@$(VENV)/bin/pytest -q tests/sanity

test-lab: setup lab-image-full  ## every lab test: lab VM, seed boot, Xen dom0 suite, molecule scenarios
	@$(VENV)/bin/pytest -p no:cacheprovider -q -rfE tests/lab

lint: setup-venv
	@bash scripts/sanity.sh
	@$(VENV)/bin/ansible-lint --profile production

# guests vs community.libvirt (~10 min), 1/5/10 namespaced libvirt hosts x 100 guests,
# 50 LXC containers vs community.general.lxc_container, the guests inventory plugin over 10
# namespaced hosts x 100 guests vs community.libvirt's inventory (~2 min) (~25 min in all on 2 cores).
bench: setup-host setup-venv  ## timings for docs/benchmarks.md
	@$(PY) bench/guests.py
	@$(PY) bench/fleet.py
	@$(PY) bench/containers.py
	@$(PY) bench/inventory.py

build: setup-venv
	@$(VENV)/bin/ansible-galaxy collection build --force --output-path .build

clean:
	rm -rf .build
