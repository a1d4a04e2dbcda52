#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Not a test of rmigration: a guest that hangs on purpose, to see what the
# harness shows of a hang (scripts/vm.sh: console file, watchdog, monitor).
# Not in TEST_PROGS; it skips unless RMIGRATION_HANG=1:
#
#   RMIGRATION_HANG=1 RMIGRATION_VM_TIMEOUT=240 scripts/check.sh rmigration_hang.sh
#
# How it blocks, for real, in the kernel: a SCHED_FIFO 99 busy loop bound
# to the last CPU. rmigration/N has the same policy and priority, so it
# never preempts the loop (see README, "Differences"), and a write to
# stop_one_cpu for that CPU waits in D state (wait_for_completion) for a
# work that never runs. The hung-task detector reports the writer after
# 30 s; the watchdog prints its stack; at the timeout the host stops the VM.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

ktap_print_header
skip_unless_root
skip_unless_module
if [ "${RMIGRATION_HANG:-0}" != 1 ]; then
	ktap_skip_all "hangs the VM on purpose: RMIGRATION_HANG=1 runs it"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 1

load_module
cpu=$(online_cpus | tail -n 1)
taskset -c "$cpu" chrt -f 99 bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
hog=$!
# The loop runs once the pid is bash (after two execs), running, on $cpu.
hog_spins() {
	local comm
	read -r comm < "/proc/$hog/comm" && [ "$comm" = bash ] &&
		[ "$(stat_field "$hog" 3)" = R ] && [ "$(stat_field "$hog" 39)" = "$cpu" ]
}
if ! wait_for hog_spins; then
	ktap_test_fail "the SCHED_FIFO 99 busy loop did not start on CPU $cpu"
	kill "$hog"
	ktap_finished
fi
sleep 1
ktap_print_msg "pid $hog: a SCHED_FIFO 99 busy loop on CPU $cpu; pid $$ now writes $cpu to stop_one_cpu and blocks"
echo "$cpu" > "$DEBUGFS/stop_one_cpu"
ktap_test_fail "stop_one_cpu on CPU $cpu returned while rmigration/$cpu could not run"
kill "$hog"
ktap_finished
