#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of scripts/vm.sh, inside the VM: runs COMMAND with a
# watchdog beside it, and returns COMMAND's exit status.
#
#   vm-guest.sh DEADLINE LIMIT MARGIN BASE64_COMMAND
#
# The host kills the VM at DEADLINE (host clock, seconds since the epoch;
# LIMIT seconds after it started it). MARGIN seconds before that, the
# watchdog writes what the guest can still tell into the kernel log, which
# the host saves from the console: the test that is running, every
# blocked (D) task's kernel stack, then every task's. Sysrq w and t do
# that when the kernel has CONFIG_MAGIC_SYSRQ; without it the stacks come
# from /proc/PID/task/TID/stack.
set -u
deadline=$1 limit=$2 margin=$3 cmd=$(base64 -d <<<"$4")

# Everything below goes to /dev/kmsg (the console), one record a line.
exec 3>/dev/kmsg
kmsg() { printf 'rmigration-vm: %s\n' "$*" >&3; }

# task_stacks STATES: "pid/tid comm state" and the kernel stack of every
# task whose state letter is in STATES (all of them if empty).
task_stacks() {
	local t s comm state line n=0
	for t in /proc/[0-9]*/task/[0-9]*; do
		read -r s 2>/dev/null < "$t/stat" || continue
		comm=${s#*(} comm=${comm%)*}
		state=${s##*) } state=${state%% *}
		[ -z "$1" ] || [[ $1 == *"$state"* ]] || continue
		s=${t#/proc/} n=$((n + 1))
		kmsg "task ${s/\/task\//\/} ($comm) state $state:"
		while read -r line; do
			kmsg "    $line"
		done < "$t/stack" 2>/dev/null
	done
	kmsg "($n tasks)"
}

dump() {
	local up
	read -r up _ < /proc/uptime
	kmsg "watchdog: the host stops this VM in about $margin s; up ${up%.*} s; load $(cut -d' ' -f1-3 /proc/loadavg)"
	kmsg "watchdog: running test: $(cat /tmp/rmigration-current-test 2>/dev/null || echo none)"
	if [ -w /proc/sysrq-trigger ]; then
		kmsg "watchdog: blocked tasks (sysrq w)"
		echo w > /proc/sysrq-trigger
		kmsg "watchdog: all tasks (sysrq t)"
		echo t > /proc/sysrq-trigger
	else
		kmsg "watchdog: blocked (D) tasks, from /proc (no CONFIG_MAGIC_SYSRQ for sysrq w)"
		task_stacks D
		kmsg "watchdog: all tasks, from /proc (no sysrq t)"
		task_stacks ""
	fi
	kmsg "watchdog: dump done"
}

watchdog() {
	local now up wait
	now=$(date +%s)
	read -r up _ < /proc/uptime
	up=${up%.*}
	wait=$((deadline - margin - now))
	# The guest's clock comes from the emulated RTC, so it matches the
	# host's; if not, count from the boot.
	if [ "$wait" -gt $((limit - margin - up)) ] || [ "$wait" -lt -$((limit)) ]; then
		wait=$((limit - margin - up))
	fi
	[ "$wait" -gt 0 ] || wait=1
	kmsg "watchdog: armed; dumps the tasks in $wait s, $margin s before the host's timeout"
	sleep "$wait"
	dump
}

# The watchdog must not hold the command's output open.
watchdog </dev/null >/dev/null 2>&1 &
wd=$!

kmsg "$(nproc) CPUs online; running: $cmd"
bash -c "$cmd" 2>&1
rc=$?
kmsg "command exited with status $rc"
pkill -P "$wd" 2>/dev/null
kill "$wd" 2>/dev/null
exit "$rc"
