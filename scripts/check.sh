#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite, in two 4-vCPU VMs: the kselftests of tests/ on the
# main test kernel, then the torture run and the fuzzing (and the stopper
# tests) on the debug kernel (KASAN, lockdep, kmemleak, ...). Kernels are
# built once and cached. Ends with the plain line "N passed, N failed,
# N skipped"; exits non-zero if anything failed, or if a VM did not boot or
# finish: that is never a pass.
#
#   scripts/check.sh [TEST...]      only these tests, on the main kernel
#
# RMIGRATION_DEBUG=0 skips the debug kernel; with KDIR set it is skipped too
# (your tree is the main kernel).
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

MAIN_TESTS="rmigration_threads.sh rmigration_stopper.sh rmigration_migrate.sh rmigration_fuzz.sh rmigration_bench_smoke.sh"
DEBUG_TESTS="rmigration_torture.sh rmigration_fuzz.sh rmigration_stopper.sh"

vm "$out/check-main.log" 4 "KDIR=$kdir tests/runner.sh ${*:-$MAIN_TESTS}"
log "main kernel suites finished after $(( $(date +%s) - start )) s"

if [ $# -eq 0 ] && [ -z "${KDIR:-}" ] && [ "${RMIGRATION_DEBUG:-1}" = 1 ]; then
	if ! dkdir=$("$TOP/scripts/kernel.sh" debug) || ! dmod=$("$TOP/scripts/build.sh" debug); then
		echo "not ok the debug kernel or its module could not be built"
		failed=$((failed + 1))
		summary
	fi
	kdir=$dkdir
	vm "$out/check-debug.log" 4 "KDIR=$dkdir RMIGRATION_KO=$dmod/rmigration.ko \
		RMIGRATION_CLIENT_KO=$dmod/tests/modules/rmigration_client/rmigration_client.ko \
		TORTURE_SECONDS=${TORTURE_SECONDS:-90} FUZZ_SECONDS=${FUZZ_SECONDS:-20} \
		tests/runner.sh $DEBUG_TESTS"
	log "debug kernel suites finished after $(( $(date +%s) - start )) s"
fi
summary
