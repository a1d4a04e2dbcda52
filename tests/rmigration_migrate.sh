#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The migrate hook: tasks moved by pid through their source CPU's
# rmigration thread, checked in /proc; every bad input refused with its
# errno; concurrent migrations; the destination going offline meanwhile.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

ktap_print_header
skip_unless_root
skip_unless_module
ktap_set_plan 21

unload_module 2>/dev/null
mark=$(log_mark)
load_module trace=1
M=$DEBUGFS/migrate
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT


# busy CPU: starts a busy-looping task on CPU; its pid is in $BUSY.
busy() {
	taskset -c "$1" bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
	BUSY=$!
	pids+=($BUSY)
	wait_for started "$BUSY" "$1"
}


# migrate_to PID CPU: the write succeeds, the task is allowed on CPU only
# and runs there.
migrate_to() {
	expect_write "$M" "$1 $2" ok || return 1
	allowed_only "$1" "$2" || { ktap_print_msg "allowed: $(cpus_allowed "$1")"; return 1; }
	wait_for on_cpu "$1" "$2" || { ktap_print_msg "pid $1 on CPU $(stat_field "$1" 39), not $2"; return 1; }
}

cpus=($(online_cpus))
busy "${cpus[0]}"
b=$BUSY
every_cpu() {
	local c
	for c in "${cpus[@]}" "${cpus[0]}"; do
		migrate_to "$b" "$c" || return 1
	done
}
ktap_check "a busy task moves to every CPU in turn (/proc: processor, Cpus_allowed_list)" every_cpu

last_says() { grep -qE "$1" "$M"; }
runnable_story() {
	local m
	m=$(log_mark)
	migrate_to "$b" "${cpus[-1]}" || return 1
	last_says "was=runnable ret=0 now_on=${cpus[-1]}" &&
	log_since "$m" | grep -q "migrate: pid $b (bash) CPU ${cpus[0]} -> ${cpus[-1]}, requested by .*: work for rmigration/${cpus[0]}" &&
	log_since "$m" | grep -q "(migrate) running on CPU ${cpus[0]} in rmigration/${cpus[0]}" &&
	log_since "$m" | grep -q "migrate: pid $b was runnable on CPU ${cpus[0]}; set_cpus_allowed_ptr(CPU ${cpus[-1]}) = 0" &&
	log_since "$m" | grep -qE "migrate: pid $b now on CPU ${cpus[-1]}, [0-9]+ ns" ||
		{ log_since "$m" | while read -r l; do ktap_print_msg "$l"; done; return 1; }
}
ktap_check "the trace tells the story: request, work on the source CPU, result" runnable_story

ktap_check "moving a task to the CPU it is on succeeds" migrate_to "$b" "${cpus[-1]}"

# A task that sleeps most of the time: it lands on the destination when it
# next wakes up.
taskset -c "${cpus[0]}" bash -c 'while :; do sleep 0.3; done' </dev/null >/dev/null 2>&1 &
s=$!
pids+=($s)
wait_for started "$s" "${cpus[0]}"
sleeper() {
	local d=${cpus[-1]} m
	sleep 0.5
	m=$(log_mark)
	expect_write "$M" "$s $d" ok || return 1
	last_says "pid=$s .* was=sleeping ret=0" || { ktap_print_msg "$(cat "$M")"; return 1; }
	log_since "$m" | grep -q "migrate: pid $s moves to CPU $d at its next wakeup" ||
		{ ktap_print_msg "no 'next wakeup' trace"; return 1; }
	WAIT_S=5 wait_for on_cpu "$s" "$d" && allowed_only "$s" "$d"
}
ktap_check "a sleeping task lands on the destination after it wakes up" sleeper

# Several shells moving several busy tasks at once.
concurrent() {
	local t=() i c sh=() n=0 done_before done_after
	for c in "${cpus[@]}"; do busy "$c"; t+=($BUSY); done
	done_before=$(grep -o '^migrations: [0-9]*' "$DEBUGFS/stats" | grep -o '[0-9]*$')
	for i in 1 2 3; do
		bash -c "
			for r in \$(seq 10); do
				for p in ${t[*]}; do
					echo \"\$p \$(( (RANDOM % ${#cpus[@]}) ))\" > $M || exit 1
				done
			done" &
		sh+=($!)
		n=$((n + 10 * ${#t[@]}))
	done
	for i in "${sh[@]}"; do wait "$i" || { ktap_print_msg "a writer failed"; return 1; }; done
	done_after=$(grep -o '^migrations: [0-9]*' "$DEBUGFS/stats" | grep -o '[0-9]*$')
	[ $((done_after - done_before)) = "$n" ] ||
		{ ktap_print_msg "$((done_after - done_before)) of $n migrations counted"; return 1; }
	for p in "${t[@]}"; do
		c=$(cpus_allowed "$p")
		[[ $c =~ ^[0-9]+$ ]] && wait_for on_cpu "$p" "$c" ||
			{ ktap_print_msg "pid $p allowed '$c', on $(stat_field "$p" 39)"; return 1; }
	done
}
ktap_check "3 shells moving ${#cpus[@]} busy tasks 10 times each, concurrently" concurrent

# Bad input: one test each, and nothing moves.
bad() {
	local before
	before=$(cpus_allowed "$b")
	expect_write "$M" "$1" "$2" && [ "$(cpus_allowed "$b")" = "$before" ]
}
ncpu=$(possible_cpus | wc -l)
ktap_check "malformed text: EINVAL" bad "$b x" "Invalid argument"
ktap_check "extra field: EINVAL" bad "$b 1 2" "Invalid argument"
ktap_check "missing field: EINVAL" bad "$b" "Invalid argument"
ktap_check "overflowing pid: EINVAL" bad "99999999999 1" "Invalid argument"
ktap_check "negative pid: EINVAL" bad "-$b 1" "Invalid argument"
ktap_check "negative CPU: EINVAL" bad "$b -1" "Invalid argument"
ktap_check "no such pid: ESRCH" bad "$(free_pid) 1" "No such process"
ktap_check "CPU out of range: EINVAL" bad "$b $ncpu" "Invalid argument"

kthreads_refused() {
	local name p
	for name in migration/0 "rmigration/${cpus[-1]}" ksoftirqd/0 cpuhp/0; do
		p=$(pids_named "$name")
		[ -n "$p" ] || { ktap_print_msg "no $name"; return 1; }
		expect_write "$M" "$p 1" "Invalid argument" || return 1
		ktap_print_msg "$name: refused"
	done
}
ktap_check "per-CPU kthreads and PF_NO_SETAFFINITY tasks (migration/0, rmigration/N): EINVAL" kthreads_refused

nonroot_refused() {
	! setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "echo '$b 1' > $M" 2>/dev/null
}
ktap_check "non-root writers are refused" nonroot_refused

hp=$(hotplug_cpu)
if [ -n "$hp" ] && set_cpu_online "$hp" 0; then
	ktap_check "offline destination CPU $hp: EINVAL" bad "$b $hp" "Invalid argument"
	set_cpu_online "$hp" 1
	# The destination goes offline and online while tasks are moved to it:
	# every write succeeds or is refused with EINVAL, and nothing hangs.
	dest_offline() {
		local r i ok=0 einval=0
		(for i in $(seq 6); do set_cpu_online "$hp" 0; sleep 0.2; set_cpu_online "$hp" 1; sleep 0.2; done) &
		local hpid=$!
		for i in $(seq 40); do
			r=$(write_result "$M" "$b $hp")
			case $r in
			ok) ok=$((ok + 1)) ;;
			"Invalid argument") einval=$((einval + 1)) ;;
			*) ktap_print_msg "unexpected: $r"; wait $hpid; return 1 ;;
			esac
			sleep 0.05
		done
		wait $hpid
		ktap_print_msg "$ok moved, $einval refused while CPU $hp went offline"
		cpu_online "$hp" && migrate_to "$b" "$hp"
	}
	ktap_check "migrations while the destination goes offline and back" dest_offline
	# The source goes offline: its stopper refuses, the task has moved: retried.
	src_offline() {
		migrate_to "$b" "$hp" || return 1
		taskset -pc "${cpus[0]}-$hp" "$b" >/dev/null
		set_cpu_online "$hp" 0 || return 1
		migrate_to "$b" "${cpus[0]}"
		local r=$?
		set_cpu_online "$hp" 1
		return $r
	}
	ktap_check "a task whose CPU went offline is moved from where it went" src_offline
else
	for i in 1 2 3; do ktap_test_skip "hotplug check $i: no CPU can go offline"; done
fi

stats_count() { grep -qE '^migrations: [0-9]+ done' "$DEBUGFS/stats"; }
ktap_check "stats count migrations" stats_count

cleanup
pids=()
gone_after_unload() { rmmod rmigration && [ ! -e "$M" ]; }
ktap_check "the migrate file is gone after rmmod" gone_after_unload

ktap_check_log "$mark"
ktap_finished
