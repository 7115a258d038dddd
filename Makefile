# gardenos.cluster: `make lab` runs site.yml on the local lab, `make test` runs every check.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# ansible-core 2.21 needs Python >= 3.12 on the controller; Debian 12 ships 3.11, so take the
# first interpreter that runs and is new enough (pyenv's on these machines; its shims may
# exist for versions that are not selected, so each candidate is tried, not just found).
PYTHON ?= $(shell for p in python3.13 python3.12 $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV) python3; do \
            $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0

MOLECULE_SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

.PHONY: help venv image wheels lab lab-down molecule-network lint ruff ansible-lint sanity unit integration molecule test clean
help:
	@echo "make lab       build the host image if needed, start the lab hosts, run site.yml on them"
	@echo "make lab-down  remove the lab hosts and their network"
	@echo "make test      ruff, ansible-lint, ansible-test sanity, unit, integration, molecule"

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON)" || { echo "no Python >= 3.12 found; set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	mkdir -p .collections/ansible_collections/gardenos
	ln -sfn ../../.. .collections/ansible_collections/gardenos/cluster
	touch $@

image:
	lab/image/build.sh

# Patroni's wheels for the hosts (Debian 12's Python, the one the hosts run), built from the
# role's pinned requirements on the controller: the lab and molecule hosts have no PyPI.
PATRONI_WHEELS := .cache/patroni-wheels
wheels: $(PATRONI_WHEELS).built
$(PATRONI_WHEELS).built: roles/patroni/files/requirements.txt
	rm -rf $(PATRONI_WHEELS) .cache/wheel-builder
	/usr/bin/python3 -m venv .cache/wheel-builder
	.cache/wheel-builder/bin/pip wheel --quiet --wheel-dir $(PATRONI_WHEELS) -r $<
	touch $@

LAB_INVENTORY := inventory/lab/servers.yaml
lab: venv image wheels
	ansible-playbook -i $(LAB_INVENTORY) lab/up.yml
	ansible-playbook -i $(LAB_INVENTORY) site.yml

lab-down: venv
	ansible-playbook -i $(LAB_INVENTORY) lab/down.yml

lint: ruff ansible-lint
ruff: venv
	ruff check .
	ruff format --check .
ansible-lint: venv
	ansible-lint --profile production

# ansible-test installs each sanity test's pinned tools itself: keep them out of .venv, where
# they would clash with ansible-lint's.
SANITY_VENV := .venv-sanity
$(SANITY_VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(SANITY_VENV)
	$(SANITY_VENV)/bin/pip install --quiet "$$(grep '^ansible-core==' requirements.txt)"
	touch $@
sanity: $(SANITY_VENV)/.installed
	PATH=$(CURDIR)/$(SANITY_VENV)/bin:$$PATH tests/sanity.sh

unit: venv
	pytest tests/unit

integration: venv
	pytest tests/integration

# The scenarios' hosts get fixed IPs (their servers.yaml) on this network; molecule's
# platform schema cannot give a network its subnet, so it is made here.
MOLECULE_NETWORK := gardenos-molecule
MOLECULE_SUBNET := 10.78.0.0/24
molecule-network:
	podman network exists $(MOLECULE_NETWORK) || podman network create --subnet $(MOLECULE_SUBNET) $(MOLECULE_NETWORK)

molecule: venv image wheels molecule-network
	@for s in $(MOLECULE_SCENARIOS); do echo "=== molecule scenario $$s"; molecule test -s $$s || exit 1; done

test: lint sanity unit integration molecule

clean: lab-down
	rm -rf $(VENV) $(SANITY_VENV) .collections .pytest_cache .ruff_cache
