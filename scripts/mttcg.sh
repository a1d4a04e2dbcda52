#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The real-parallel run: the multi-CPU test (with its stress parts) and a
# short torture run on the main kernel, in BOOTS (20) VMs of 4 vCPUs with
# a host thread per vCPU (QEMU's MTTCG), so that two vCPUs do run at the
# same instant, which make check's VMs (one host thread for all vCPUs)
# never do. Each VM first shows it (tests/rmigration_parallel.sh: two
# counting loops at once count about twice what one counts alone).
#
#   scripts/mttcg.sh [BOOTS]
#
# The guest gets tsc=nowatchdog, not make check's tsc=reliable: either
# keeps the clocksource watchdog off (its skew check, with interrupts off,
# hung TCG guests at boot), but with a thread per vCPU tsc=reliable was
# seen to go with a vCPU running stale code after a static branch was
# patched (README, "The VMs"). Nothing in these tests turns trace events
# on or off. Each boot's output goes to out/mttcg-N-DATE-PID.log, its
# console to out/console-mttcg-N-DATE-PID.log; a kernel report in it or a
# VM that does not finish fails the boot. Ends with "N passed, N failed,
# N skipped" (one line per boot; the tests' own lines are in the logs).
set -uo pipefail
. "$(dirname "$0")/env.sh"
. "$TOP/scripts/harness.sh"

boots=${1:-20}
kdir=$(progress "building the main test kernel" "$TOP/scripts/kernel.sh") || exit 1
"$TOP/scripts/build.sh" >/dev/null || exit 1
passed=0 failed=0 skipped=0
for ((i = 1; i <= boots; i++)); do
	log=$(run_file "mttcg-$i")
	console=$(run_file "console-mttcg-$i")
	t0=$SECONDS
	RMIGRATION_TCG_THREAD=multi VM_TSC=nowatchdog VM_NAME=mttcg-$i VM_CONSOLE=$console \
		"$TOP/scripts/vm.sh" "$kdir" 4 900 \
		"KDIR=$kdir RMIGRATION_EXPECT_PARALLEL=1 TORTURE_SECONDS=${TORTURE_SECONDS:-30} \
		 tests/runner.sh rmigration_parallel.sh rmigration_multi.sh rmigration_torture.sh" \
		> "$log" 2>&1
	rc=$?
	p=$(grep -cE '^ok ' "$log") s=$(grep -cE '^ok .*# SKIP' "$log") f=$(grep -cE '^not ok ' "$log")
	why=
	[ "$f" = 0 ] || why="$f tests failed: $(grep -m1 '^not ok' "$log")"
	grep -q '^# rmigration-runner: end' "$log" || why="the VM did not finish (exit status $rc)${why:+; $why}"
	reports=$(console_reports "$console" after; console_reports "$console" before)
	[ -z "$reports" ] || why="a kernel report: $(head -n 1 <<<"$reports")${why:+; $why}"
	par=$(grep -m1 -o 'counted [0-9]*% of what one counted alone' "$log")
	summary="boot $i: $((p - s)) passed, $f failed, $s skipped, $((SECONDS - t0)) s; ${par:-no parallelism figure}"
	if [ -z "$why" ]; then
		echo "ok $i $summary"
		passed=$((passed + 1))
	else
		echo "not ok $i $summary: $why (log: $log; console: $console)"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
