# SPDX-License-Identifier: GPL-2.0
#
# rmigration, for people: see README.md.
#
#   make run      the demo: set-up, kernel, module, a VM that shows it working
#   make check    every test, in VMs; ends with "N passed, N failed"
#   make torture  the long torture run on the debug kernel, with its figures
#   make bench    benchmarks on 2, 4 and 8 vCPUs: out/bench/, see BENCHMARKS.md
#   make module   only build rmigration.ko (KDIR=... for your own kernel tree)
#
# The kernel build system reads Kbuild, not this file, for the module itself.

SHELL := /bin/bash
export KDIR

.PHONY: all module setup kernel run check torture bench clippy fmt clean

all: module

setup:
	@scripts/setup.sh

kernel: setup
	@scripts/kernel.sh >/dev/null

module: setup
	@scripts/build.sh

clippy: setup
	@CLIPPY=1 scripts/build.sh

run: setup
	@scripts/run.sh

check: setup
	@scripts/check.sh

torture: setup
	@scripts/torture.sh

bench: setup
	@scripts/bench.sh

fmt:
	rustfmt --edition 2021 --config-path $(or $(wildcard $(KDIR)/source/.rustfmt.toml),.rustfmt.toml) src/*.rs src/*/*.rs tests/loom/build.rs tests/loom/src/*.rs

clean:
	@scripts/build.sh clean
