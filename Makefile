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
# Each playbook run prints its time here (ansible.posix, a dev-only collection: not in ansible.cfg).
export ANSIBLE_CALLBACKS_ENABLED ?= ansible.posix.timer
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0

# `$(call timed,<command>)` runs the command and prints how long the target took. The subshell
# makes a failure anywhere in an `a && b` command fail the recipe (bare, `-e` ignores it).
# The output is also kept in $(TEST_LOGS)/<target>.log, and a failed target leaves
# <target>.failed there: `make test` ends with the errors of each failed target, which two jobs
# side by side would otherwise bury far above the end of the output (all that CI shows).
TEST_LOGS := .cache/test-logs
timed = mkdir -p $(TEST_LOGS); rm -f $(TEST_LOGS)/$@.failed; t0=$$SECONDS; \
  ( $(1) ) 2>&1 | tee $(TEST_LOGS)/$@.log \
    || { touch $(TEST_LOGS)/$@.failed; echo "::: $@ FAILED after $$((SECONDS - t0))s"; exit 1; }; \
  echo "::: $@ took $$((SECONDS - t0))s"
# The drivers' create and destroy playbooks hide their tasks' results by default, a failure's
# reason included; those playbooks handle no secret of the project.
export MOLECULE_NO_LOG ?= false

MOLECULE_SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

.PHONY: help deps venv image wheels lab lab-down drills bench molecule-network molecule-prepare lint ruff ansible-lint changelog-lint sanity unit integration timing molecule test clean
help:
	@echo "make lab       build the host image if needed, start the lab hosts, run site.yml on them"
	@echo "make lab-down  remove the lab hosts and their network"
	@echo "make drills    the fault drills on the lab: outage, writes lost, time until healthy (reports/drills/)"
	@echo "make bench     time a fresh converge, a re-run and an added node on the lab, and the modules"
	@echo "make test      ruff, ansible-lint, ansible-test sanity, unit, integration, molecule"

# The machine's packages (podman, mmdebstrap, PostgreSQL, ...): installs what is missing, as root
# or through sudo; a no-op when everything is there. `make lab` and `make test` start with it.
deps:
	@tools/deps.sh
# The set-up targets' order-only prerequisite; `make test`'s parallel stage empties it (see there).
DEPS ?= deps

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt requirements.txt meta/ee-requirements.txt | $(DEPS)
	@test -n "$(PYTHON)" || { echo "no Python >= 3.12 found; set PYTHON=" >&2; exit 1; }
	@echo "venv: installing requirements-dev.txt into $(VENV) with uv"
	@t0=$$SECONDS; \
	  $(PYTHON) -m venv $(VENV); \
	  $(BIN)/pip install --quiet uv; \
	  $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt; \
	  echo "venv: ready in $$((SECONDS - t0))s"
	@# uv installs the requirements in a fifth of pip's time (measured 24 s against 124 s).
	mkdir -p .collections/ansible_collections/gardenos
	ln -sfn ../../.. .collections/ansible_collections/gardenos/cluster
	@# Mitogen's strategy plugins at a path that does not name the venv's Python version (molecule's config).
	ln -sfn "$$($(BIN)/python -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))')/plugins/strategy" $(VENV)/mitogen-strategy
	touch $@

image: $(DEPS)
	@lab/image/build.sh

# Patroni's wheels for the hosts (Debian 12's Python, the one the hosts run), built from the
# role's pinned requirements on the controller: the lab and molecule hosts have no PyPI.
PATRONI_WHEELS := .cache/patroni-wheels
wheels: $(PATRONI_WHEELS).built
# Debian's venv has pip 23.0.1 and no `wheel`: sdists without pyproject.toml (python-etcd,
# ydiff) then fail with "invalid command 'bdist_wheel'" unless pip's cache already holds them.
$(PATRONI_WHEELS).built: roles/patroni/files/requirements.txt | $(DEPS)
	@echo "wheels: building Patroni's wheelhouse for the hosts' Python in $(PATRONI_WHEELS)"
	@t0=$$SECONDS; \
	  rm -rf $(PATRONI_WHEELS) .cache/wheel-builder; \
	  /usr/bin/python3 -m venv .cache/wheel-builder; \
	  .cache/wheel-builder/bin/pip install --quiet wheel; \
	  .cache/wheel-builder/bin/pip wheel --quiet --wheel-dir $(PATRONI_WHEELS) -r $<; \
	  echo "wheels: ready in $$((SECONDS - t0))s"
	touch $@

LAB_INVENTORY := inventory/lab/servers.yaml
lab: deps venv image wheels
	ansible-playbook -i $(LAB_INVENTORY) lab/up.yml
	ansible-playbook -i $(LAB_INVENTORY) site.yml

# Measures the lab and the modules on this machine (bench/run.py): prints a table and writes
# bench/results.json. Recreates the lab hosts; leaves the lab up with its 3 servers.
bench: deps venv image wheels
	python bench/run.py

lab-down: venv
	ansible-playbook -i $(LAB_INVENTORY) lab/down.yml

# The fault drills (tests/drills/fault_drills.py) on the running lab: a table on the output, a JSON report and a
# PNG timeline per drill in reports/drills/. `make drills DRILL_RUNS=5` gives min/median/max over five runs.
DRILL_RUNS ?= 1
drills: venv
	python tests/drills/fault_drills.py --inventory $(LAB_INVENTORY) --runs $(DRILL_RUNS)

lint: ruff ansible-lint changelog-lint
# The fragments of the next release and the released changelog (CHANGELOG.rst is generated from
# changelogs/changelog.yaml by `antsibull-changelog release`).
changelog-lint: venv
	$(call timed,antsibull-changelog lint && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml)
ruff: venv
	$(call timed,ruff check . && ruff format --check .)
ansible-lint: venv
	$(call timed,ansible-lint --profile production)

# ansible-test installs each sanity test's pinned tools itself: keep them out of .venv, where
# they would clash with ansible-lint's.
SANITY_VENV := .venv-sanity
$(SANITY_VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(SANITY_VENV)
	$(SANITY_VENV)/bin/pip install --quiet "$$(grep '^ansible-core==' requirements-dev.txt)"
	touch $@

# The oldest ansible-core the collection declares (meta/runtime.yml), for the built collection's
# test (tests/integration/test_collection_build.py): every playbook and the inventory plugin
# must load under it too.
OLDEST_CORE := $(shell sed -n 's/^requires_ansible: *">=\([0-9.]*\)".*/\1/p' meta/runtime.yml)
OLDEST_VENV := .venv-oldest
export GARDENOS_OLDEST_ANSIBLE := $(CURDIR)/$(OLDEST_VENV)/bin
$(OLDEST_VENV)/.installed: meta/runtime.yml | venv
	@echo "venv: ansible-core $(OLDEST_CORE) into $(OLDEST_VENV)"
	$(BIN)/uv venv --quiet --allow-existing --python $(BIN)/python $(OLDEST_VENV)
	$(BIN)/uv pip install --quiet --python $(OLDEST_VENV)/bin/python "ansible-core==$(OLDEST_CORE)"
	touch $@
sanity: $(SANITY_VENV)/.installed
	$(call timed,PATH=$(CURDIR)/$(SANITY_VENV)/bin:$$PATH tests/sanity.sh)

unit: venv
	$(call timed,pytest tests/unit)

# Tests that assert a wall-clock bound (marker `timing`) run alone, before the parallel stage.
integration: venv $(OLDEST_VENV)/.installed
	$(call timed,pytest tests/integration -m "not timing" --durations=15)
timing: venv
	$(call timed,pytest tests/integration -m timing)

# The scenarios' hosts get fixed IPs (their servers.yaml) on this network; molecule's
# platform schema cannot give a network its subnet, so it is made here. It is dual-stack: the
# cluster scenario's servers.yaml lists IPv6 addresses only, the K3s scenarios' IPv4 ones, so
# both address families are tested. A network of other subnets (an IPv4-only one made before)
# is recreated when no container is attached to it; otherwise the target stops and says which.
MOLECULE_NETWORK := gardenos-molecule
MOLECULE_SUBNET := 10.78.0.0/24
MOLECULE_SUBNET6 := fd78::/64
molecule-network:
	@if podman network exists $(MOLECULE_NETWORK); then \
	  subnets=$$(podman network inspect --format '{{range .Subnets}}{{.Subnet}} {{end}}' $(MOLECULE_NETWORK)); \
	  subnets=$${subnets% }; \
	  [ "$$subnets" != "$(MOLECULE_SUBNET) $(MOLECULE_SUBNET6)" ] || exit 0; \
	  attached=$$(podman ps -a --filter network=$(MOLECULE_NETWORK) --format '{{.Names}}' | paste -sd ' '); \
	  if [ -n "$$attached" ]; then \
	    echo "molecule-network: $(MOLECULE_NETWORK) has the subnets $$subnets, not $(MOLECULE_SUBNET) $(MOLECULE_SUBNET6);" \
	      "it cannot be recreated while containers use it: $$attached (remove them, or wait for their scenario)" >&2; \
	    exit 1; \
	  fi; \
	  echo "molecule-network: recreating $(MOLECULE_NETWORK) (subnets $$subnets) as dual-stack"; \
	  podman network rm $(MOLECULE_NETWORK) >/dev/null; \
	fi; \
	podman network create --subnet $(MOLECULE_SUBNET) --ipv6 --subnet $(MOLECULE_SUBNET6) $(MOLECULE_NETWORK) >/dev/null; \
	echo "molecule-network: $(MOLECULE_NETWORK) created with $(MOLECULE_SUBNET) and $(MOLECULE_SUBNET6)"

# Each scenario has its own hosts and IPs, so scenarios can run side by side (make -j); every
# line of a scenario's output carries its name.
MOLECULE_TARGETS := $(addprefix molecule-,$(MOLECULE_SCENARIOS))
# The SSH key Ansible reaches the scenarios' hosts with (root's authorized_keys in each).
MOLECULE_SSH_KEY := .cache/molecule-ssh/id_ed25519
$(MOLECULE_SSH_KEY):
	mkdir -p -m 0700 $(dir $@)
	ssh-keygen -q -t ed25519 -N '' -C gardenos-molecule -f $@

molecule-prepare: venv image wheels molecule-network $(MOLECULE_SSH_KEY)
# `make test` prepares once, before its parallel stage, and empties this there: the phony
# prerequisites' recipes would otherwise take the job slots first and let other targets start
# before the cluster scenario, the longest job (measured: it started 140 s late).
MOLECULE_PREREQUISITES ?= molecule-prepare
# Molecule's own runs take their callbacks from .config/molecule/config.yml (profile_tasks too: when each
# task started and the slowest ones, what CI shows of a slow or failed run), not from make's export.
MOLECULE := env -u ANSIBLE_CALLBACKS_ENABLED molecule
$(filter-out molecule-k3s,$(MOLECULE_TARGETS)): molecule-%: $(MOLECULE_PREREQUISITES)
	$(call timed,$(MOLECULE) test -s $* 2>&1 | sed -u 's/^/[$*] /')
# K3s for real needs a k3s binary, which cannot be obtained here: without K3S_BINARY the
# scenario is reported as skipped, never as passed.
molecule-k3s: $(MOLECULE_PREREQUISITES)
	@if [ -z "$${K3S_BINARY:-}" ]; then \
	  echo "::: molecule-k3s SKIPPED: K3S_BINARY is not set (path to a k3s binary; see molecule/k3s/molecule.yml)"; \
	else \
	  test -x "$$K3S_BINARY" || { echo "K3S_BINARY=$$K3S_BINARY is not an executable file" >&2; exit 1; }; \
	  $(call timed,$(MOLECULE) test -s k3s 2>&1 | sed -u 's/^/[k3s] /'); \
	fi
molecule: $(MOLECULE_TARGETS)

# The long parts run two at a time after the quick checks and the timing tests, everything they
# need made first: with nothing left to make, `make -j2` starts the targets in the order listed,
# each in the first free slot. More at once only thrashes 2 CPUs (measured: all four together took
# longer than running them in turn). The order keeps both CPUs busy to the end: the two scenarios
# first, integration after k3s_check, the short CPU-bound checks last in whichever slot frees first
# (measured: integration last ran ~150 s alone; integration beside cluster then k3s_check ended
# ~50 s later than k3s_check first).
TEST_JOBS ?= 2
PARALLEL_TESTS := molecule-cluster $(filter-out molecule-cluster,$(MOLECULE_TARGETS)) integration sanity ansible-lint unit
test: deps ruff changelog-lint timing molecule-prepare $(OLDEST_VENV)/.installed $(SANITY_VENV)/.installed
	@rm -f $(TEST_LOGS)/*.failed
	$(MAKE) --no-print-directory -j$(TEST_JOBS) DEPS= MOLECULE_PREREQUISITES= $(PARALLEL_TESTS) \
	  || { tools/test-failures.sh $(TEST_LOGS); exit 1; }

clean: lab-down
	rm -rf $(VENV) $(SANITY_VENV) $(OLDEST_VENV) .collections .pytest_cache .ruff_cache
