#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite: the litmus tests of the lockless handshakes and the
# model checks of the rendezvous on the host (tests/litmus.sh, herd7;
# tests/loom.sh, loom), then, in 4-vCPU VMs, the kselftests of tests/ on the
# main test kernel (and, in two 2-vCPU VMs of it, the module without
# debugfs and the lockdep report of a lock held around a wait), then the
# torture run and the fuzzing (and the stopper tests) on the debug kernel
# (KASAN, lockdep, kmemleak, ...). Kernels are
# built once and cached. Ends with the plain line "N passed, N failed,
# N skipped"; exits non-zero if anything failed, or if a VM did not boot or
# finish: that is never a pass.
#
#   scripts/check.sh [TEST...]      only these tests, on the main kernel
#
# RMIGRATION_DEBUG=0 skips the debug kernel; with KDIR set it is skipped too
# (your tree is the main kernel). Then the main kernel's kselftests run on
# Debian's stock kernel, booted unchanged, with the module built for it
# (scripts/stock.sh; RMIGRATION_STOCK=0 or KDIR skips it), and in a
# 66-vCPU VM of it the test of CPUs numbered 64 and up.
#
# Each VM's output and kernel console go to out/check-KERNEL-DATE-PID.log
# and out/console-check-KERNEL-DATE-PID.log (out/check-KERNEL.log and
# out/console-check-KERNEL.log link to the latest; see scripts/vm.sh); a
# kernel report in the console (tests/kernel-reports), even one
# printed after the tests, is a failure. RMIGRATION_VM_TIMEOUT (1500 s) is
# each VM's time limit. RMIGRATION_HANG=1 with the test rmigration_hang.sh
# hangs a guest on purpose (see that test).
set -uo pipefail
. "$(dirname "$0")/env.sh"
. "$TOP/scripts/harness.sh"

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
# The stock kernel's build root, download, Rust artifacts and module are made
# while the main kernel builds, and before any VM runs beside them.
stock=0
if [ $# -eq 0 ] && [ -z "${KDIR:-}" ] && [ "${RMIGRATION_STOCK:-1}" = 1 ]; then
	stock=1
	"$TOP/scripts/stock.sh" prepare > "$out/stock-prepare.log" 2>&1 &
	stock_pid=$!
fi
if ! kdir=$(progress "building the main test kernel" "$TOP/scripts/kernel.sh"); then
	echo "not ok the test kernel could not be built"
	failed=1
	summary
fi
if ! "$TOP/scripts/build.sh"; then
	echo "not ok rmigration.ko could not be built"
	failed=1
	summary
fi
# host NAME WHAT RUNNER: runs a KTAP runner of tests/ on the host and
# counts it; its exit status 4 is a skip with its reason.
host() {
	local file rc
	file=$(run_file "check-$1")
	log "$2"
	"$TOP/tests/$3" | tee "$file"
	rc=${PIPESTATUS[0]}
	count "$file"
	if [ "$rc" = 4 ]; then
		echo "ok the $1 checks # SKIP $(grep -m1 -o 'SKIP.*' "$file" | sed 's/^SKIP *//')"
		skipped=$((skipped + 1))
	elif [ "$rc" != 0 ] && ! grep -q '^not ok' "$file"; then
		echo "not ok the $1 runner exited with status $rc"
		failed=$((failed + 1))
	fi
}
if [ $# -eq 0 ]; then
	host litmus "litmus tests of the lockless handshakes (herd7, on the host)" litmus.sh
	host loom "model checks of the rendezvous (loom, on the host)" loom.sh
fi

if [ "$stock" = 1 ] && ! progress "preparing Debian's stock kernel" wait "$stock_pid"; then
	echo "not ok Debian's stock kernel or its module could not be made (log: $out/stock-prepare.log)"
	failed=$((failed + 1)) stock=0
fi

# vm NAME CPUS COMMAND: runs the guest side of the suite on kernel NAME
# (main, debug) and counts it: its KTAP results, a VM that did not finish,
# and kernel reports in its console.
vm() {
	local name=$1 log console rc reports early limit=${RMIGRATION_VM_TIMEOUT:-1500}
	log=$(run_file "check-$name")
	console=$(run_file "console-check-$name")
	log "$name kernel: booting a $2-vCPU VM for ${3##*runner.sh }${VM_APPEND:+ (kernel command line: $VM_APPEND)}"
	VM_NAME=check-$name VM_CONSOLE=$console VM_APPEND=${VM_APPEND:-} VM_MEMORY=${VM_MEMORY:-2G} \
		"$TOP/scripts/vm.sh" "$kdir" "$2" "$limit" "$3" |
		tee "$log"
	rc=${PIPESTATUS[0]}
	count "$log"
	if [ "$rc" = 124 ]; then
		echo "not ok the $name kernel VM did not finish within $limit s: stopped (guest console: $console)"
		failed=$((failed + 1))
	elif ! grep -q '^# rmigration-runner: end' "$log"; then
		echo "not ok the $name kernel VM did not finish the suite (vng exit status $rc; log: $log; guest console: $console)"
		failed=$((failed + 1))
	fi
	known_reports "$console" | head -n 5 |
		sed 's/^/# known kernel issue, not counted (tests\/kernel-reports.known): /'
	reports=$(console_reports "$console" after)
	early=$(console_reports "$console" before)
	if [ -n "$early" ]; then
		echo "ok the $name kernel's boot # SKIP a kernel report before rmigration.ko was first loaded, which it cannot have caused: $(head -n 1 <<<"$early")"
		skipped=$((skipped + 1))
	fi
	if [ -z "$reports" ]; then
		echo "ok no kernel report in the $name kernel's console"
		passed=$((passed + 1))
	else
		echo "not ok kernel reports in the $name kernel's console ($console):"
		head -n 5 <<<"$reports" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
}

MAIN_TESTS="rmigration_threads.sh rmigration_stopper.sh rmigration_migrate.sh rmigration_multi.sh rmigration_starve.sh rmigration_pinned.sh rmigration_events.sh rmigration_fuzz.sh rmigration_bench_smoke.sh"
DEBUG_TESTS="rmigration_torture.sh rmigration_fuzz.sh rmigration_stopper.sh rmigration_multi.sh rmigration_starve.sh rmigration_pinned.sh rmigration_events.sh"

vm main 4 "KDIR=$kdir RMIGRATION_HANG=${RMIGRATION_HANG:-0} tests/runner.sh ${*:-$MAIN_TESTS}"
log "main kernel suites finished after $(( $(date +%s) - start )) s"

if [ $# -eq 0 ]; then
	# Two small VMs of the main kernel: one booted without debugfs, one
	# whose only test provokes a lockdep report (expected in its console).
	VM_APPEND=debugfs=off vm main-nodebugfs 2 "KDIR=$kdir tests/runner.sh rmigration_nodebugfs.sh"
	CONSOLE_EXPECTED='/possible circular locking dependency detected/,/<\/TASK>/' \
		vm main-inversion 2 "KDIR=$kdir RMIGRATION_INVERSION_TEST=1 tests/runner.sh rmigration_inversion.sh"
	log "main kernel's small VMs finished after $(( $(date +%s) - start )) s"
fi

if [ $# -eq 0 ] && [ -z "${KDIR:-}" ] && [ "${RMIGRATION_DEBUG:-1}" = 1 ]; then
	if ! dkdir=$(progress "building the debug test kernel" "$TOP/scripts/kernel.sh" debug) ||
	   ! dmod=$(progress "building the module for the debug kernel" "$TOP/scripts/build.sh" debug); then
		echo "not ok the debug kernel or its module could not be built"
		failed=$((failed + 1))
		summary
	fi
	kdir=$dkdir
	vm debug 4 "KDIR=$dkdir RMIGRATION_KO=$dmod/rmigration.ko \
		RMIGRATION_CLIENT_KO=$dmod/tests/modules/rmigration_client/rmigration_client.ko \
		TORTURE_SECONDS=${TORTURE_SECONDS:-90} FUZZ_SECONDS=${FUZZ_SECONDS:-20} \
		RMIGRATION_STARVE_RATES=0 \
		tests/runner.sh $DEBUG_TESTS"
	log "debug kernel suites finished after $(( $(date +%s) - start )) s"
fi

if [ "$stock" = 1 ]; then
	if kdir=$("$TOP/scripts/stock.sh" vmlinuz) && smod=$("$TOP/scripts/build.sh" stock); then
		vm stock 4 "$("$TOP/scripts/stock.sh" guest "$smod" $MAIN_TESTS)"
		# More than 64 CPUs (the main kernel has at most 8): CPUs 64
		# and up in every hook. The whole threads and multi-CPU suites
		# take 8 min more at 66 vCPUs (README): not by default.
		VM_MEMORY=3G vm stock-66cpus 66 "$("$TOP/scripts/stock.sh" guest "$smod" rmigration_manycpus.sh)"
	else
		echo "not ok the stock kernel or its module could not be made"
		failed=$((failed + 1))
	fi
	log "stock kernel suites finished after $(( $(date +%s) - start )) s"
fi
summary
