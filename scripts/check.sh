#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite: builds the kernel (cached) and the module, runs the
# kselftests of tests/ in a 4-vCPU VM, and ends with the plain line
# "N passed, N failed, N skipped". Exits non-zero if anything failed, or if
# the VM did not boot or finish: that is never a pass.
#
#   scripts/check.sh [TEST...]      default: all of tests/Makefile's TEST_PROGS
set -uo pipefail
. "$(dirname "$0")/env.sh"

out=$TOP/out
mkdir -p "$out"
passed=0 failed=0 skipped=0

summary() {
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

# count LOG: adds the KTAP results of LOG to the totals.
count() {
	local p f s
	p=$(grep -cE '^ok ' "$1")
	s=$(grep -cE '^ok .*# SKIP' "$1")
	f=$(grep -cE '^not ok ' "$1")
	passed=$((passed + p - s)) skipped=$((skipped + s)) failed=$((failed + f))
}

start=$(date +%s)
if ! kdir=$("$TOP/scripts/kernel.sh"); then
	echo "not ok the test kernel could not be built"
	failed=1
	summary
fi
if ! "$TOP/scripts/build.sh"; then
	echo "not ok rmigration.ko could not be built"
	failed=1
	summary
fi

# vm LOG CPUS COMMAND: runs the guest side of the suite and counts it.
vm() {
	local log=$1 rc
	"$TOP/scripts/vm.sh" "$kdir" "$2" "${RMIGRATION_VM_TIMEOUT:-1500}" "$3" |
		tr -d '\r' | tee "$log"
	rc=${PIPESTATUS[0]}
	count "$log"
	if ! grep -q '^# rmigration-runner: end' "$log"; then
		echo "not ok the VM did not finish the suite (vng exit status $rc; log: $log)"
		failed=$((failed + 1))
	fi
}

vm "$out/check-4cpus.log" 4 "KDIR=$kdir tests/runner.sh $*"
log "suite finished in $(( $(date +%s) - start )) s"
summary
