#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the model checks of the rendezvous of multi-CPU stops on the host:
# tests/loom/, a crate that compiles the module's src/multi/machine.rs
# with loom's atomics and a model of the kernel, and explores every
# interleaving of 2 or 3 participants and the caller within a bound
# (tests/loom/README.md).
#
# KTAP output. A check passes if loom finds no execution that breaks the
# rendezvous; a mutant (mutant_*: machine.rs with one change) passes if
# loom finds one: the checks catch the change.
#
#   tests/loom.sh [NAME[:BOUND]...]   default: every check and mutant;
#                                     BOUND: another preemption bound
#   tests/loom.sh --fetch             only fetches the crates (set-up)
#
# Cargo's registry and the build live under $CACHE (CARGO_HOME
# $CACHE/cargo, the build in $CACHE/loom/), not in the checkout; the
# crates are fetched once (loom and its dependencies, pinned by
# tests/loom/Cargo.lock), after which no network is needed.
#
# Exit status: 0 if every check and mutant passed, 1 if not, 4 (skip) if
# cargo is not available.
set -euo pipefail
export LC_ALL=C
. "$(dirname "$(readlink -f "$0")")/../scripts/env.sh"

CRATE=$TOP/tests/loom
export CARGO_HOME=$CACHE/cargo
# One build per checkout: build.rs names the checkout's sources.
export CARGO_TARGET_DIR=$CACHE/loom/target-$(printf '%s' "$TOP" | sha1sum | cut -c1-8)

# secs START: the time since START ($EPOCHREALTIME), in seconds.
secs() {
	local us=$(( ${EPOCHREALTIME/./} - ${1/./} ))

	printf '%d.%02d s' $((us / 1000000)) $((us % 1000000 / 10000))
}

cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
if ! "$cargo" --version >/dev/null 2>&1; then
	echo "1..0 # SKIP cargo is not available (rustup, see README \"Set-up\")"
	exit 4
fi
cd "$CRATE"

# fetch: the crates of Cargo.lock, from the cache if they are there.
fetch() {
	"$cargo" fetch --locked --offline >/dev/null 2>&1 ||
		"$cargo" fetch --locked --quiet
}

if [ "${1:-}" = --fetch ]; then
	fetch
	exit
fi

start=$EPOCHREALTIME
if ! fetch >&2 || ! "$cargo" build --release --locked --offline --quiet >&2; then
	echo "1..1"
	echo "not ok 1 the model checks could not be built (tests/loom, cargo)"
	exit 1
fi
built=$(secs "$start")
"$CARGO_TARGET_DIR/release/rmigration-loom" "$@" && rc=0 || rc=$?
echo "# built in $built ($("$cargo" --version)); CARGO_HOME=$CARGO_HOME"
exit $rc
