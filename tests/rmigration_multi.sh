#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The multi-CPU stops: the stop_two_cpus, stop_machine and swap hooks, their
# stories in the kernel log, every bad input refused with its errno, and
# many stops of every kind at once, in both orders, with and without CPU
# hotplug: every call ends, and the module's counters agree with what the
# writers saw.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

ktap_print_header
skip_unless_root
skip_unless_module
ktap_set_plan 33

unload_module 2>/dev/null
mark=$(log_mark)
load_module trace=1
T=$DEBUGFS/stop_two_cpus
S=$DEBUGFS/stop_machine
W=$DEBUGFS/swap
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

if [ -d /sys/module/kunit/parameters ] && [ ! -e /sys/module/kunit/initstate ]; then
	ktap_check "KUnit suite rmigration_multi passes (the state machine)" kunit_suite_ok rmigration_multi "$mark"
	ktap_check "KUnit suite rmigration_parse passes (with cpulists)" kunit_suite_ok rmigration_parse "$mark"
else
	ktap_test_skip "KUnit suite rmigration_multi: this kernel has no KUnit built in"
	ktap_test_skip "KUnit suite rmigration_parse: this kernel has no KUnit built in"
fi

modes() {
	local f m
	for f in stop_two_cpus stop_machine swap; do
		m=$(stat -c %a "$DEBUGFS/$f") || return 1
		[ "$m" = 600 ] || { ktap_print_msg "$f: mode $m"; return 1; }
	done
}
ktap_check "the hooks exist, for root only (mode 600)" modes

# cpulist CPU...: the CPUs (ascending) in the kernel's cpulist format.
cpulist() {
	local out= start=$1 end=$1 c
	shift
	for c in "$@" ""; do
		if [ -n "$c" ] && [ "$c" = $((end + 1)) ]; then
			end=$c
			continue
		fi
		[ "$start" = "$end" ] && out+=",$start" || out+=",$start-$end"
		start=$c end=$c
	done
	echo "${out#,}"
}
cpus=($(online_cpus))
n=${#cpus[@]}
all=$(cpulist "${cpus[@]}")
last_is() { grep -qE "$2" "$1" || { ktap_print_msg "${1##*/}: $(cat "$1")"; return 1; }; }

every_pair() {
	local a b
	for a in "${cpus[@]}"; do
		for b in "${cpus[@]}"; do
			[ "$a" = "$b" ] && continue
			expect_write "$T" "$a $b" ok || return 1
			last_is "$T" "^cpus=$a,$b ran_on=$a irqs_off=yes ret=0 ns=[0-9]+$" || return 1
		done
	done
}
ktap_check "stop_two_cpus: every ordered pair of CPUs, the function on the first, both with interrupts off" every_pair

two_story() {
	local m a=${cpus[-1]} b=${cpus[0]}
	m=$(log_mark)
	expect_write "$T" "$a $b" ok || return 1
	local log
	log=$(log_since "$m")
	grep -q "stop_two_cpus hook: queued on CPUs $b,$a by [0-9]* (" <<<"$log" &&
	for c in $a $b; do
		for st in PREPARE DISABLE_IRQ RUN EXIT; do
			grep -q "stop_two_cpus hook: CPU $c enters $st\$" <<<"$log" || return 1
		done
	done &&
	grep -qE "stop_two_cpus hook: done, ret=0, [0-9]+ ns" <<<"$log" ||
		{ echo "$log" | head -20 | while read -r l; do ktap_print_msg "$l"; done; return 1; }
}
ktap_check "the trace tells a two-CPU stop's story: queued, each CPU through each state, done" two_story

machine() {
	expect_write "$S" "$1" ok || return 1
	last_is "$S" "^active=$2 stopped=$all ran_on=$2 irqs_off=yes ret=0 ns=[0-9]+$"
}
ktap_check "stop_machine '${cpus[0]}': every online CPU stopped, the function on CPU ${cpus[0]}" machine "${cpus[0]}" "${cpus[0]}"
if [ "$n" -ge 3 ]; then
	ktap_check "stop_machine '${cpus[0]},${cpus[2]}': on those two" machine "${cpus[0]},${cpus[2]}" "${cpus[0]},${cpus[2]}"
else
	ktap_test_skip "stop_machine on two of three CPUs: fewer than 3 CPUs online"
fi
ktap_check "stop_machine '$all': on every CPU" machine "$all" "$all"

# The self-check can fail: a participant that keeps its interrupts on
# (debug_irqs_on_cpu) while counting itself as off is found by the
# interrupt sent to it from RUN.
irqs_on_found() {
	local m log p=/sys/module/rmigration/parameters/debug_irqs_on_cpu a=${cpus[0]} b=${cpus[-1]}
	m=$(log_mark)
	echo "$b" > "$p" || return 1
	expect_write "$T" "$a $b" "Input/output error" &&
		last_is "$T" "^cpus=$a,$b ran_on=$a irqs_off=no ret=-5 " &&
		expect_write "$S" "$a" "Input/output error"
	local rc=$?
	echo -1 > "$p"
	log=$(log_since "$m")
	[ $rc = 0 ] && grep -q "stop_two_cpus: self-check: an interrupt ran on CPU $b during RUN" <<<"$log" &&
		grep -q "stop_machine: self-check: an interrupt ran on CPU $b during RUN" <<<"$log" &&
		expect_write "$T" "$a $b" ok && last_is "$T" "^cpus=$a,$b ran_on=$a irqs_off=yes ret=0 " ||
		{ echo "$log" | grep -v "enters\|queued\|done" | head -10 | while read -r l; do ktap_print_msg "$l"; done; return 1; }
}
ktap_check "self-check: a participant with its interrupts on (debug_irqs_on_cpu=${cpus[-1]}) fails the write with EIO and is named" irqs_on_found

# Tasks, for swap.
# task CPU SCRIPT: starts bash -c SCRIPT on CPU; its pid is in $TASK.
task() {
	taskset -c "$1" bash -c "$2" </dev/null >/dev/null 2>&1 &
	TASK=$!
	pids+=($TASK)
	wait_for started "$TASK" "$1"
}
c0=${cpus[0]} c1=${cpus[1]}
task "$c0" 'while :; do :; done'; b0=$TASK
task "$c1" 'while :; do :; done'; b1=$TASK
task "$c1" 'while :; do sleep 0.3; done'; s1=$TASK
# The affinity is set by the hook, so the tasks are free to start with.
taskset -pc "$all" "$b0" >/dev/null
taskset -pc "$all" "$b1" >/dev/null
taskset -pc "$all" "$s1" >/dev/null

# pin P CPU: P may run on CPU only, and is there.
pin() { taskset -pc "$2" "$1" >/dev/null && WAIT_S=5 wait_for on_cpu "$1" "$2"; }
# swapped P CP Q CQ: P is on CP and Q on CQ; after the write each has the
# other's CPU as its only one, and runs there.
swapped() {
	local p=$1 cp=$2 q=$3 cq=$4
	expect_write "$W" "$p $q" ok || return 1
	allowed_only "$p" "$cq" && allowed_only "$q" "$cp" ||
		{ ktap_print_msg "allowed: $p: $(cpus_allowed "$p"), $q: $(cpus_allowed "$q")"; return 1; }
	last_is "$W" "^pid=$p from=$cp to=$cq now_on=[0-9]+ pid=$q from=$cq to=$cp now_on=[0-9]+ ret=0 ns=[0-9]+$" || return 1
	WAIT_S=5 wait_for on_cpu "$p" "$cq" && WAIT_S=5 wait_for on_cpu "$q" "$cp" ||
		{ ktap_print_msg "on CPUs $(stat_field "$p" 39) and $(stat_field "$q" 39)"; return 1; }
}
swap_busy() {
	pin "$b0" "$c0" && pin "$b1" "$c1" || return 1
	# And back: each takes the other's CPU again.
	swapped "$b0" "$c0" "$b1" "$c1" && swapped "$b0" "$c1" "$b1" "$c0"
}
ktap_check "swap of two busy tasks: each gets the other's CPU (/proc: processor, Cpus_allowed_list), and back" swap_busy
swap_sleeping() {
	local m log
	pin "$b0" "$c0" && pin "$s1" "$c1" || return 1
	m=$(log_mark)
	swapped "$b0" "$c0" "$s1" "$c1" || return 1
	log=$(log_since "$m")
	grep -qE "swap: pid $b0 CPU $c0 -> $c1 \(on [0-9]+ now\), pid $s1 CPU $c1 -> $c0 \(on [0-9]+ now\): ret=0, [0-9]+ ns" <<<"$log" ||
		{ ktap_print_msg "no swap trace"; return 1; }
	# The lock-step checks both tasks in RUN on both CPUs.
	grep -q "swap: CPU $c0 enters RUN\$" <<<"$log" && grep -q "swap: CPU $c1 enters RUN\$" <<<"$log" ||
		{ ktap_print_msg "no RUN on CPUs $c0 and $c1 in the swap's trace"; return 1; }
}
ktap_check "swap of a busy and a sleeping task, checked in RUN on both CPUs; the trace says it" swap_sleeping

ncpu=$(possible_cpus | wc -l)
ktap_check "stop_two_cpus: the same CPU twice: EINVAL" expect_write "$T" "$c0 $c0" "Invalid argument"
ktap_check "stop_two_cpus: a CPU out of range: EINVAL" expect_write "$T" "$c0 $ncpu" "Invalid argument"
ktap_check "stop_two_cpus: one field: EINVAL" expect_write "$T" "$c0" "Invalid argument"
ktap_check "stop_two_cpus: three fields: EINVAL" expect_write "$T" "$c0 $c1 $c1" "Invalid argument"
ktap_check "stop_two_cpus: malformed: EINVAL" expect_write "$T" "$c0 -$c1" "Invalid argument"
ktap_check "stop_machine: empty: EINVAL" expect_write "$S" "\n" "Invalid argument"
ktap_check "stop_machine: reversed range: EINVAL" expect_write "$S" "1-0" "Invalid argument"
ktap_check "stop_machine: a CPU out of range: EINVAL" expect_write "$S" "$c0,$ncpu" "Invalid argument"
ktap_check "stop_machine: malformed: EINVAL" expect_write "$S" "0;1" "Invalid argument"
ktap_check "swap: the same task twice: EINVAL" expect_write "$W" "$b0 $b0" "Invalid argument"
two_on_one() {
	taskset -pc "$c0" "$b0" >/dev/null && taskset -pc "$c0" "$b1" >/dev/null &&
		wait_for on_cpu "$b0" "$c0" && wait_for on_cpu "$b1" "$c0" &&
		expect_write "$W" "$b0 $b1" "Invalid argument"
}
ktap_check "swap: two tasks on one CPU: EINVAL" two_on_one
ktap_check "swap: no such pid: ESRCH" expect_write "$W" "$b0 $(free_pid)" "No such process"
ktap_check "swap: a per-CPU kthread (migration/$c1): EINVAL" expect_write "$W" "$b0 $(pids_named "migration/$c1")" "Invalid argument"
ktap_check "swap: malformed: EINVAL" expect_write "$W" "$b0 x" "Invalid argument"
nonroot_refused() {
	local f
	for f in "$T" "$S" "$W"; do
		! setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "echo '$c0 $c1' > $f" 2>/dev/null || return 1
	done
}
ktap_check "non-root writers are refused" nonroot_refused

# Stress: writers of two-CPU stops in both orders, of machine stops, of
# one-CPU stops and of swaps, all at once for STRESS_SECONDS. A writer
# counts its results; the module's works queued and run must grow by what
# the successful writes queued.
STRESS_SECONDS=${STRESS_SECONDS:-8}
out=$(mktemp -d)
# writer NAME FILE TEXT...: writes each TEXT in turn until the time is up,
# then prints "ok N enoent N other N" to $out/NAME.
writer() {
	local name=$1 file=$2 end=$((SECONDS + STRESS_SECONDS)) ok=0 enoent=0 other=0 r i=0 text
	shift 2
	local texts=("$@")
	while [ $SECONDS -lt $end ]; do
		text=${texts[$((i++ % ${#texts[@]}))]}
		r=$(write_result "$file" "$text")
		case $r in
		ok) ok=$((ok + 1)) ;;
		"No such file or directory") enoent=$((enoent + 1)) ;;
		*) other=$((other + 1)); echo "$r" >> "$out/$name.errors" ;;
		esac
	done
	echo "$ok $enoent $other" > "$out/$name"
}
# stress HOTPLUG: runs the writers (and a CPU going off- and online if
# HOTPLUG is 1); fails on a hang, an unexpected error or counters that
# disagree.
stress() {
	local hp=$1 w=() q0 r0 q1 r1 expect=0 name ok enoent other hpid= cpu k
	q0=$(stats_sum 3) r0=$(stats_sum 4)
	writer two_ab "$T" "$c0 $c1" "${cpus[-1]} $c0" & w+=($!)
	writer two_ba "$T" "$c1 $c0" "$c0 ${cpus[-1]}" & w+=($!)
	writer machine "$S" "$c0" "$all" & w+=($!)
	writer one "$DEBUGFS/stop_one_cpu" "$c1" "$c0" & w+=($!)
	writer swap "$W" "$b0 $b1" & w+=($!)
	if [ "$hp" = 1 ] && cpu=$(hotplug_cpu) && [ "$cpu" != "$c0" ] && [ "$cpu" != "$c1" ]; then
		(end=$((SECONDS + STRESS_SECONDS)) k=0; while [ $SECONDS -lt $end ]; do
			set_cpu_online "$cpu" 0 && k=$((k + 1)); sleep 0.5; set_cpu_online "$cpu" 1; sleep 0.3
		done; echo "$k" > "$out/hotplug") &
		hpid=$!
	elif [ "$hp" = 1 ]; then
		ktap_print_msg "no CPU but ${c0} and ${c1} can go offline"
		return 1
	fi
	local t0=$SECONDS
	for i in "${w[@]}"; do wait "$i"; done
	[ -z "$hpid" ] || wait "$hpid"
	cpu_online "${cpus[-1]}" || set_cpu_online "${cpus[-1]}" 1
	[ $((SECONDS - t0)) -le $((STRESS_SECONDS + 30)) ] ||
		{ ktap_print_msg "the writers took $((SECONDS - t0)) s"; return 1; }
	q1=$(stats_sum 3) r1=$(stats_sum 4)
	for name in two_ab two_ba machine one swap; do
		[ -f "$out/$name" ] || { ktap_print_msg "writer $name did not finish"; return 1; }
		read -r ok enoent other < "$out/$name"
		ktap_print_msg "$name: $ok ok, $enoent ENOENT, $other other"
		if [ "$other" != 0 ]; then
			sort "$out/$name.errors" | uniq -c | head -3 | while read -r l; do ktap_print_msg "  $l"; done
			return 1
		fi
		[ "$hp" = 1 ] || [ "$enoent" = 0 ] || { ktap_print_msg "ENOENT without hotplug"; return 1; }
	done
	if [ "$hp" = 1 ]; then
		read -r k < "$out/hotplug"
		ktap_print_msg "CPU $cpu went offline $k times"
		[ "$k" -gt 0 ] || return 1
	fi
	ktap_print_msg "works queued $((q1 - q0)), run $((r1 - r0))"
	[ $((q1 - q0)) = $((r1 - r0)) ] || { ktap_print_msg "queued and run differ"; return 1; }
	if [ "$hp" = 0 ]; then
		# Two works per two-CPU stop and swap, one per online CPU per
		# machine stop, one per one-CPU stop (swap: a retry queues again,
		# so at least two).
		read -r ok _ < "$out/two_ab"; expect=$((2 * ok))
		read -r ok _ < "$out/two_ba"; expect=$((expect + 2 * ok))
		read -r ok _ < "$out/machine"; expect=$((expect + n * ok))
		read -r ok _ < "$out/one"; expect=$((expect + ok))
		read -r ok _ < "$out/swap"; expect=$((expect + 2 * ok))
		[ $((q1 - q0)) -ge "$expect" ] && [ $((q1 - q0)) -le $((expect + 20)) ] ||
			{ ktap_print_msg "expected $expect works queued"; return 1; }
	fi
	rm -f "$out"/*
}
echo 0 > /sys/module/rmigration/parameters/trace
pin "$b0" "$c0" && pin "$b1" "$c1"
ktap_check "stress, ${STRESS_SECONDS} s: two-CPU stops in both orders, machine, one-CPU stops and swaps at once; counters agree" stress 0
if hotplug_cpu >/dev/null && [ "$n" -ge 3 ]; then
	ktap_check "the same while CPU $(hotplug_cpu) goes offline and online: every call ends, ok or ENOENT" stress 1
else
	ktap_test_skip "stress with hotplug: no third CPU can go offline"
fi
rm -rf "$out"

hp=$(hotplug_cpu)
if [ -n "$hp" ] && [ "$hp" != "$c0" ] && set_cpu_online "$hp" 0; then
	ktap_check "stop_two_cpus with an offline CPU: ENOENT" expect_write "$T" "$c0 $hp" "No such file or directory"
	ktap_check "stop_machine with an offline active CPU: ENOENT" expect_write "$S" "$c0,$hp" "No such file or directory"
	offline_machine() {
		local online
		online=$(cpulist $(online_cpus))
		expect_write "$S" "$c0" ok &&
			last_is "$S" "^active=$c0 stopped=$online ran_on=$c0 irqs_off=yes ret=0"
	}
	ktap_check "stop_machine stops the online CPUs only" offline_machine
	set_cpu_online "$hp" 1
else
	for i in 1 2 3; do ktap_test_skip "offline check $i: no CPU can go offline"; done
fi

unload_clean() {
	cleanup
	pids=()
	unload_module && ! module_loaded
}
ktap_check "the module unloads after all this" unload_clean
ktap_check_log "$mark"
ktap_finished
