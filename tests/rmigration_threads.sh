#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The rmigration/N threads: one per online CPU, bound to it, SCHED_FIFO;
# parked when their CPU goes offline and back when it returns; gone after
# unload; load and unload repeat cleanly.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

ktap_print_header
skip_unless_root
skip_unless_module
ktap_set_plan 12

unload_module 2>/dev/null
mark=$(log_mark)

# Every online CPU N has exactly one rmigration/N; no other rmigration thread.
threads_match_online() {
	local c n=0 pids
	for c in $(online_cpus); do
		pids=$(pids_named "rmigration/$c")
		[ "$(echo "$pids" | wc -w)" = 1 ] || { ktap_print_msg "CPU $c: threads '$pids'"; return 1; }
		n=$((n + 1))
	done
	[ "$(thread_count)" = "$n" ] || { ktap_print_msg "$(thread_count) threads for $n online CPUs"; return 1; }
}

# rmigration/$1 runs on CPU $1 only (last CPU it ran on, allowed list).
thread_on_its_cpu() {
	local pid cpu allowed
	pid=$(pids_named "rmigration/$1")
	[ -n "$pid" ] || return 1
	cpu=$(stat_field "$pid" 39)
	allowed=$(cpus_allowed "$pid")
	[ "$cpu" = "$1" ] && [ "$allowed" = "$1" ] ||
		{ ktap_print_msg "rmigration/$1: on CPU $cpu, allowed '$allowed'"; return 1; }
}

all_threads_on_their_cpus() {
	local c
	for c in $(online_cpus); do
		thread_on_its_cpu "$c" || return 1
	done
}

# SCHED_FIFO (policy 1) at rt_priority 99.
all_threads_fifo_99() {
	local c pid
	for c in $(online_cpus); do
		pid=$(pids_named "rmigration/$c")
		[ "$(stat_field "$pid" 41)" = 1 ] && [ "$(stat_field "$pid" 40)" = 99 ] ||
			{ ktap_print_msg "rmigration/$c: policy $(stat_field "$pid" 41) prio $(stat_field "$pid" 40)"; return 1; }
	done
}

thread_state() {
	stat_field "$(pids_named "rmigration/$1")" 3
}

thread_parked() { [ "$(thread_state "$1")" = P ]; }
thread_active() { case $(thread_state "$1") in S | R) return 0 ;; esac; return 1; }

ktap_check "module loads" load_module
logged() { log_since "$mark" | grep -q "$1"; }
no_threads() { [ "$(thread_count)" = 0 ]; }
unload_and_no_threads() { rmmod rmigration && wait_for no_threads; }

ktap_check "load is logged" logged 'rmigration:.loaded'

ktap_check "one rmigration/N per online CPU" threads_match_online
ktap_check "each thread bound to its CPU" all_threads_on_their_cpus
ktap_check "threads are SCHED_FIFO at priority 99" all_threads_fifo_99

hp=$(hotplug_cpu)
if [ -n "$hp" ] && set_cpu_online "$hp" 0; then
	ktap_check "offlining CPU $hp parks rmigration/$hp" wait_for thread_parked "$hp"
	set_cpu_online "$hp" 1
	if wait_for thread_active "$hp" && wait_for thread_on_its_cpu "$hp"; then
		ktap_test_pass "onlining CPU $hp brings rmigration/$hp back on CPU $hp"
	else
		ktap_test_fail "onlining CPU $hp brings rmigration/$hp back on CPU $hp"
	fi
else
	ktap_test_skip "offlining a CPU parks its thread: no CPU can go offline"
	ktap_test_skip "onlining brings the thread back: no CPU can go offline"
fi

ktap_check "unload removes every thread" unload_and_no_threads

# A CPU offline at load time gets its thread when it comes online.
if [ -n "$hp" ] && set_cpu_online "$hp" 0; then
	load_module
	ok=1
	[ -z "$(pids_named "rmigration/$hp")" ] || { ktap_print_msg "thread for offline CPU $hp"; ok=0; }
	threads_match_online || ok=0
	set_cpu_online "$hp" 1
	wait_for thread_on_its_cpu "$hp" || ok=0
	[ $ok = 1 ] && ktap_test_pass "a CPU offline at load gets its thread when onlined" ||
		ktap_test_fail "a CPU offline at load gets its thread when onlined"
	unload_module
else
	ktap_test_skip "a CPU offline at load gets its thread when onlined: no CPU can go offline"
fi

# Each load is followed at once by a work on every online CPU: the
# stoppers are enabled before insmod returns, not when each thread first
# runs (a work refused with ENOENT fails the check).
reload_10() {
	local i c
	for i in $(seq 10); do
		insmod "$MODULE" || return 1
		for c in $(online_cpus); do
			expect_write "$DEBUGFS/stop_one_cpu" "$c" ok ||
				{ ktap_print_msg "load $i: CPU $c refused its first work"; return 1; }
		done
		threads_match_online || return 1
		unload_and_no_threads || return 1
	done
}
ktap_check "load and unload 10 times in a row, a work on every CPU right after each load" reload_10
ktap_check "unload is logged" logged 'rmigration:.unloaded:'

ktap_check_log "$mark"

ktap_finished
