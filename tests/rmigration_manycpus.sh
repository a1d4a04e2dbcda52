#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# More than 64 CPUs: CPUs numbered 64 and up have their threads, take
# works, one-CPU, two-CPU and machine stops and migrations, go offline and
# come back; the hooks' CPU lists and records name them (they were `u64`
# bitmaps once, and stopped at CPU 63). scripts/check.sh boots a VM of
# Debian's stock kernel with 66 vCPUs for it (the main test kernel has
# CONFIG_NR_CPUS=8); elsewhere it skips.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

ktap_print_header
skip_unless_root
skip_unless_module
skip_unless_cpus 65 "scripts/check.sh boots a 66-vCPU VM of the stock kernel"
ktap_set_plan 12

high=${cpus[-1]} next=${cpus[-2]}
# The online CPUs as the kernel lists them (0-65), for the records.
read -r online < /sys/devices/system/cpu/online
pids=()
cleanup() {
	kill -9 "${pids[@]}" 2>/dev/null
	cpu_online "$high" || set_cpu_online "$high" 1
}
trap cleanup EXIT

unload_module 2>/dev/null
mark=$(log_mark)
ktap_check "module loads" load_module

threads_match_online() {
	[ "$(thread_count)" = "${#cpus[@]}" ] &&
	[ -n "$(pids_named "rmigration/$high")" ] && [ -n "$(pids_named "rmigration/64")" ]
}
ktap_check "one rmigration/N per online CPU, rmigration/64 and rmigration/$high among them" \
	threads_match_online

# The records of the hooks, matched against $2.
record() {
	local rec
	read -r rec < "$DEBUGFS/$1"
	[[ $rec =~ $2 ]] || { ktap_print_msg "$1: $rec"; return 1; }
}

one_cpu() {
	local c
	for c in 63 64 "$high"; do
		expect_write "$DEBUGFS/stop_one_cpu" "$c" ok &&
		record stop_one_cpu "^cpu=$c ran_on=$c ret=0 " || return 1
	done
}
ktap_check "stop_one_cpu on CPUs 63, 64 and $high" one_cpu

two_cpus() {
	expect_write "$DEBUGFS/stop_two_cpus" "0 $high" ok &&
	record stop_two_cpus "^cpus=0,$high ran_on=0 irqs_off=yes ret=0 " &&
	expect_write "$DEBUGFS/stop_two_cpus" "$high $next" ok &&
	record stop_two_cpus "^cpus=$high,$next ran_on=$high irqs_off=yes ret=0 "
}
ktap_check "stop_two_cpus of CPUs 0 and $high, then $high and $next" two_cpus

machine() {
	expect_write "$DEBUGFS/stop_machine" "0,63-$high" ok &&
	record stop_machine "^active=0,63-$high stopped=$online ran_on=0,63-$high irqs_off=yes ret=0 "
}
ktap_check "stop_machine runs on CPUs 0,63-$high, with all ${#cpus[@]} stopped" machine

# A CPU list of every CPU, one by one: longer than the 64 bytes a hook once
# took.
long_list() {
	local list
	list=$(IFS=,; echo "${cpus[*]}")
	[ "${#list}" -gt 64 ] || { ktap_print_msg "list of ${#list} bytes"; return 1; }
	expect_write "$DEBUGFS/stop_machine" "$list" ok &&
	record stop_machine "^active=$online stopped=$online ran_on=$online irqs_off=yes ret=0 "
}
ktap_check "stop_machine with every CPU listed one by one (a list of over 64 bytes)" long_list

migrate() {
	local p c
	# A busy task: a sleeping one moves only when it wakes.
	taskset -c 0 bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
	p=$!
	pids+=($p)
	wait_for started "$p" 0 || return 1
	for c in 64 "$high" 1; do
		expect_write "$DEBUGFS/migrate" "$p $c" ok &&
		allowed_only "$p" "$c" &&
		wait_for on_cpu "$p" "$c" || { ktap_print_msg "pid $p on CPU $(stat_field "$p" 39), not $c"; return 1; }
	done
	kill -9 "$p"
	pids=()
}
ktap_check "migrate a task to CPU 64, to CPU $high, and back to CPU 1" migrate

offline() {
	set_cpu_online "$high" 0 || return 1
	expect_write "$DEBUGFS/stop_one_cpu" "$high" "No such file or directory" &&
	expect_write "$DEBUGFS/stop_two_cpus" "0 $high" "No such file or directory" &&
	expect_write "$DEBUGFS/stop_machine" "$high" "No such file or directory"
}
ktap_check "CPU $high offline: its stops fail with ENOENT" offline

online() {
	set_cpu_online "$high" 1 &&
	expect_write "$DEBUGFS/stop_one_cpu" "$high" ok &&
	expect_write "$DEBUGFS/stop_two_cpus" "$next $high" ok &&
	record stop_two_cpus "^cpus=$next,$high ran_on=$next irqs_off=yes ret=0 "
}
ktap_check "CPU $high online again: its stops run" online

# nr_cpu_ids: one past the last possible CPU.
read -r possible < /sys/devices/system/cpu/possible
beyond=$(( ${possible##*[-,]} + 1 ))
ktap_check "CPU $beyond (no such CPU) refused: EINVAL" \
	expect_write "$DEBUGFS/stop_machine" "0-$beyond" "Invalid argument"

no_threads() { [ "$(thread_count)" = 0 ]; }
unload() { rmmod rmigration && wait_for no_threads; }
ktap_check "unload removes every thread" unload

ktap_check_log "$mark"

ktap_finished
