#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tasks the scheduler keeps where they are: migrate and swap of a
# real-time task held in a migrate_disable() section, and of a deadline
# task.
#
# A SCHED_FIFO 50 task on the last online CPU writes 1000 to
# rmigration_pinned's hold file in a loop (tests/modules/rmigration_pinned):
# it spends nearly all its time running in a migrate_disable() section of
# 1 s. set_cpus_allowed_ptr() on it waits for the section's end, on its
# CPU: the migrate work sleeps meanwhile, and swap sets the masks after its
# stop, so that no rmigration thread spins while the task needs its CPU
# (the old swap spun there at SCHED_FIFO 99: a deadlock). Each write
# returns within seconds with ret=0, the task moves when its section ends
# (the module counts sections after which it was on another CPU).
#
# A deadline task's affinity must span its root domain: migrate and swap
# refuse it with EBUSY (sched_setaffinity(2) does while admission control
# is on; the module always), and leave its affinity alone.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

ktap_print_header
skip_unless_root
skip_unless_module
PINNED=$(test_module rmigration_pinned)
if [ ! -f "$PINNED" ]; then
	ktap_skip_all "$PINNED not built (make module)"
	exit "$KSFT_SKIP"
fi
skip_unless_cpus 2
ktap_set_plan 10

c0=${cpus[0]}
cpu=${cpus[-1]}
all=$(online_cpus | paste -sd,)
P=/sys/kernel/debug/rmigration_pinned
M=$DEBUGFS/migrate
SW=$DEBUGFS/swap
pids=()

cleanup() {
	{
		kill -9 "${pids[@]}"
		wait
		rmmod rmigration_pinned
	} 2>/dev/null
}
trap cleanup EXIT

unload_module 2>/dev/null
rmmod rmigration_pinned 2>/dev/null
mark=$(log_mark)

loads() { load_module && insmod "$PINNED" && [ -w "$P/hold" ]; }
ktap_check "rmigration and rmigration_pinned load" loads

counter() { local v; read -r v < "$P/$1" && echo "$v"; }

# A sleeping partner for swap, then the held task, both on the last CPU
# (the partner first: once the held task spins, other tasks get that CPU
# only by the fair server's reserve).
taskset -c "$cpu" sleep 1000 </dev/null >/dev/null 2>&1 &
N=$!
pids+=("$N")
sleeping() {
	local comm
	read -r comm < "/proc/$N/comm" && [ "$comm" = sleep ] && allowed_only "$N" "$cpu"
}
wait_for sleeping
s0=$(counter sections)
m0=$(counter moved)
taskset -c "$cpu" chrt -f 50 bash -c "while :; do echo 1000 > $P/hold; done" \
	</dev/null >/dev/null 2>&1 &
H=$!
pids+=("$H")
holding() {
	sleeping && started "$H" "$cpu" &&
		[ "$(stat_field "$H" 41)" = 1 ] && [ "$(stat_field "$H" 40)" = 50 ] &&
		[ "$(counter sections)" -gt "$s0" ]
}
ktap_check "a SCHED_FIFO 50 task on CPU $cpu holds migrate_disable() sections of 1 s in a loop" \
	wait_for holding

# timed_write FILE TEXT: the write's result, then its duration in ms.
timed_write() {
	local t0 t1 r
	t0=${EPOCHREALTIME//[!0-9]/}
	r=$(write_result "$1" "$2")
	t1=${EPOCHREALTIME//[!0-9]/}
	echo "$r $(((t1 - t0) / 1000))"
}

# moves FILE TEXT P CP [Q CQ]: the write returns ok within 10 s; P (and Q)
# may run only on CP (CQ), and gets there.
moves() {
	local r ms
	read -r r ms < <(timed_write "$1" "$2")
	ktap_print_msg "${1##*/} '$2': $r after $ms ms; $(cat "$1")"
	[ "$r" = ok ] && [ "$ms" -lt 10000 ] || return 1
	while [ $# -gt 2 ]; do
		allowed_only "$3" "$4" && WAIT_S=5 wait_for on_cpu "$3" "$4" ||
			{ ktap_print_msg "pid $3: allowed $(cpus_allowed "$3"), on CPU $(stat_field "$3" 39)"; return 1; }
		shift 2
	done
}
ktap_check "migrate '$H $c0' of the held task: ok within 10 s, it moves to CPU $c0" \
	moves "$M" "$H $c0" "$H" "$c0"
# The sleeping partner moves when it wakes: only its mask is checked.
swapped() {
	moves "$SW" "$H $N" "$H" "$cpu" && allowed_only "$N" "$c0" ||
		{ ktap_print_msg "pid $N: allowed $(cpus_allowed "$N")"; return 1; }
}
ktap_check "swap '$H $N' (the held task on CPU $c0, a sleeping one on CPU $cpu): ok within 10 s, each has the other's CPU" \
	swapped
ktap_check "migrate '$H $c0' again: ok within 10 s" \
	moves "$M" "$H $c0" "$H" "$c0"
waited() {
	local s=$(($(counter sections) - s0)) m=$(($(counter moved) - m0))
	ktap_print_msg "$s sections held, after $m of them the task was on another CPU"
	[ "$m" -ge 1 ] && [ "$m" -le 3 ]
}
ktap_check "at least one move waited for a section's end: 1 to 3 sections ended on another CPU" waited

{
	kill -9 "$H"
	wait "$H"
} 2>/dev/null

# A deadline task: 2 ms every 10 ms, busy.
chrt -d --sched-runtime 2000000 --sched-deadline 10000000 --sched-period 10000000 0 \
	bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
D=$!
pids+=("$D")
deadline() { [ "$(stat_field "$D" 41)" = 6 ] && allowed_only "$D" "$(cpus_allowed 1)"; }
if WAIT_S=15 wait_for deadline; then
	ktap_test_pass "a SCHED_DEADLINE task (2 ms every 10 ms) runs, on CPUs $(cpus_allowed "$D")"
	refused() {
		local before
		before=$(cpus_allowed "$D")
		expect_write "$M" "$D $c0" "Device or resource busy" &&
			expect_write "$SW" "$D $N" "Device or resource busy" &&
			expect_write "$SW" "$N $D" "Device or resource busy" || return 1
		[ "$(cpus_allowed "$D")" = "$before" ] && [ "$(stat_field "$D" 41)" = 6 ] ||
			{ ktap_print_msg "now: allowed $(cpus_allowed "$D"), policy $(stat_field "$D" 41)"; return 1; }
		# The kernel's own answer, with admission control on (the default).
		local rt
		read -r rt < /proc/sys/kernel/sched_rt_runtime_us
		if [ "$rt" != -1 ]; then
			! taskset -pc "$c0" "$D" >/dev/null 2>&1 && [ "$(cpus_allowed "$D")" = "$before" ] ||
				{ ktap_print_msg "sched_setaffinity(2) of the deadline task to CPU $c0 succeeded"; return 1; }
			ktap_print_msg "sched_setaffinity(2) to CPU $c0 is refused too (admission control on)"
		fi
	}
	ktap_check "migrate and swap of the deadline task: EBUSY, its affinity unchanged, as sched_setaffinity(2) with admission control" refused
else
	ktap_test_skip "a SCHED_DEADLINE task: none after 15 s (pid $D: policy $(stat_field "$D" 41), CPUs $(cpus_allowed "$D"), comm $(cat "/proc/$D/comm" 2>/dev/null); chrt -d here: '$(chrt -d --sched-runtime 2000000 --sched-period 10000000 0 true 2>&1 | head -n 1)')"
	ktap_test_skip "migrate and swap of a deadline task: no deadline task"
fi

{
	kill -9 "${pids[@]}"
	wait
} 2>/dev/null
pids=()
unloads() { rmmod rmigration_pinned && unload_module && ! module_loaded; }
ktap_check "both modules unload" unloads
ktap_check_log "$mark"
ktap_finished
