#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The trace events (events/rmigration/ in tracefs): each one with the fields
# it promises; a stop_one_cpu round trip, a migration, a two-CPU stop and
# a refused work give the expected sequence of events, with the same work id and CPU from
# queueing to completion; the trace=1 log lines say the same; and
# trace-cmd records and reports them.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

EVENTS="rmigration_work_queued rmigration_work_waking rmigration_work_started
rmigration_work_done rmigration_work_refused rmigration_migrate_request
rmigration_migrate_done rmigration_multi_state rmigration_work_withdrawn
rmigration_stall rmigration_stall_end rmigration_multi_withdrew rmigration_multi_done
rmigration_swap"

ktap_print_header
skip_unless_root
skip_unless_module

T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T 2>/dev/null
if [ ! -d $T/events ]; then
	ktap_skip_all "no tracefs at $T (CONFIG_FTRACE / CONFIG_EVENT_TRACING off?)"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 10

unload_module 2>/dev/null
mark=$(log_mark)
load_module
E=$T/events/rmigration
tmp=$(mktemp -d)
pids=()
cleanup() {
	kill "${pids[@]}" 2>/dev/null
	wait 2>/dev/null
	echo 0 > $T/tracing_on 2>/dev/null
	echo 0 > $E/enable 2>/dev/null
	echo > $T/trace 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# Fields each event promises (its format file, beyond the common ones).
declare -A FIELDS=(
	[rmigration_work_queued]="cpu id"
	[rmigration_work_waking]="cpu id first"
	[rmigration_work_started]="cpu id func caller name"
	[rmigration_work_done]="cpu id ret latency_ns"
	[rmigration_work_refused]="cpu id func caller"
	[rmigration_migrate_request]="pid comm from to"
	[rmigration_migrate_done]="pid comm from to before before_cpu after_cpu ret ns"
	[rmigration_multi_state]="name cpu state withdrawn"
	[rmigration_work_withdrawn]="cpu id"
	[rmigration_stall]="cpu id waited_ns pid comm policy prio waiting"
	[rmigration_stall_end]="cpu ns started"
	[rmigration_multi_withdrew]="name cpu wanted round"
	[rmigration_multi_done]="name ret ns given_up"
	[rmigration_swap]="pid1 cpu1 pid2 cpu2 ret rolled_back"
)

all_listed() {
	local e
	for e in $EVENTS; do
		[ -d "$E/$e" ] || { ktap_print_msg "$E/$e missing"; return 1; }
	done
}
ktap_check "events/rmigration/ lists the 14 events" all_listed

fields_promised() {
	local e f
	for e in $EVENTS; do
		for f in ${FIELDS[$e]}; do
			grep -qE "field:[^;]* $f(\[[0-9]+\])?;" "$E/$e/format" ||
				{ ktap_print_msg "$e: no field $f"; return 1; }
		done
	done
}
ktap_check "each event has the fields it promises (format files)" fields_promised

# capture FILE COMMAND...: the events of rmigration (and sched_migrate_task)
# while COMMAND runs, in FILE (the text of tracefs' trace); COMMAND's status.
capture() {
	local out=$1 rc
	shift
	echo 0 > $T/tracing_on
	echo > $T/trace
	echo 1 > $E/enable
	[ -d $T/events/sched/sched_migrate_task ] && echo 1 > $T/events/sched/sched_migrate_task/enable
	echo 1 > $T/tracing_on
	"$@"
	rc=$?
	echo 0 > $T/tracing_on
	echo 0 > $E/enable
	[ -d $T/events/sched/sched_migrate_task ] && echo 0 > $T/events/sched/sched_migrate_task/enable
	grep -v '^#' $T/trace > "$out"
	return $rc
}

# ev FILE EVENT [FILTER]: the lines of EVENT in FILE, as
# "CPU FIELDS" (the CPU the event was recorded on, then key=value...).
ev() {
	sed -nE "s/^.*\[([0-9]+)\][^:]*: $2: (.*)$/\1 \2/p" "$1" | sed -E 's/^0*([0-9])/\1/' |
		grep -E -- "${3:-.}"
}

# The one round trip: queued, waking (first=1), started on the CPU, done,
# all with the same CPU and id, in that order.
round_trip() {
	local f=$tmp/stop c=$1 id q w s d
	capture "$f" expect_write "$DEBUGFS/stop_one_cpu" "$c" ok || return 1
	q=$(ev "$f" rmigration_work_queued "cpu=$c id=")
	id=$(sed -nE 's/.* id=([0-9]+).*/\1/p' <<<"$q")
	[ -n "$id" ] && [ "$(wc -l <<<"$q")" = 1 ] || { ktap_print_msg "queued: '$q'"; return 1; }
	w=$(ev "$f" rmigration_work_waking "cpu=$c id=$id first=1$")
	s=$(ev "$f" rmigration_work_started "^$c cpu=$c id=$id fn=.* name=stop_one_cpu hook$")
	d=$(ev "$f" rmigration_work_done "^$c cpu=$c id=$id ret=0 latency_ns=[0-9]+$")
	[ -n "$w" ] && [ -n "$s" ] && [ -n "$d" ] ||
		{ ktap_print_msg "waking '$w' started '$s' done '$d'"; sed 's/^/# /' "$f"; return 1; }
	# In order.
	grep -nE "rmigration_work_[a-z]+: cpu=$c id=$id( |$)" "$f" |
		sed -E 's/.*(rmigration_work_[a-z]+).*/\1/' | paste -sd' ' |
		grep -qx "rmigration_work_queued rmigration_work_waking rmigration_work_started rmigration_work_done" ||
		{ ktap_print_msg "out of order:"; sed 's/^/# /' "$f"; return 1; }
}
last=$(online_cpus | tail -1)
ktap_check "stop_one_cpu on CPU $last: queued, waking, started on CPU $last, done; one id" round_trip "$last"

# A busy task on CPU 0 moved to the last CPU: the request, the work of
# rmigration/0 (named migrate) run on CPU 0, the outcome, and the
# scheduler's own sched_migrate_task for the pid.
migration() {
	local f=$tmp/migrate busy id r s d m
	taskset -c 0 bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
	busy=$!
	pids+=($busy)
	wait_for eval '[ "$(cpus_allowed '"$busy"')" = 0 ] && [ "$(stat_field '"$busy"' 39)" = 0 ]' ||
		{ ktap_print_msg "busy task not on CPU 0"; return 1; }
	capture "$f" expect_write "$DEBUGFS/migrate" "$busy $last" ok || return 1
	r=$(ev "$f" rmigration_migrate_request "pid=$busy comm=bash from=0 to=$last$")
	s=$(ev "$f" rmigration_work_started "^0 cpu=0 id=[0-9]+ .*name=migrate$")
	id=$(sed -nE 's/.* id=([0-9]+).*/\1/p' <<<"$s")
	d=$(ev "$f" rmigration_work_done "^0 cpu=0 id=$id ret=0 ")
	m=$(ev "$f" rmigration_migrate_done \
		"pid=$busy comm=bash from=0 to=$last before=(running|runnable) before_cpu=0 after_cpu=$last ret=0 ns=[0-9]+$")
	[ -n "$r" ] && [ -n "$id" ] && [ -n "$d" ] && [ -n "$m" ] &&
		[ -n "$(ev "$f" rmigration_work_queued "cpu=0 id=$id$")" ] ||
		{ ktap_print_msg "request '$r' started '$s' done '$d' outcome '$m'"; sed 's/^/# /' "$f"; return 1; }
	if [ -d $T/events/sched/sched_migrate_task ]; then
		ev "$f" sched_migrate_task "pid=$busy .*orig_cpu=0 dest_cpu=$last" >/dev/null ||
			{ ktap_print_msg "no sched_migrate_task for $busy"; sed 's/^/# /' "$f"; return 1; }
	fi
	kill "$busy"
}
ktap_check "migration CPU 0 -> $last: request, work of rmigration/0 run on CPU 0, outcome, sched_migrate_task" migration

# A two-CPU stop: each of the two CPUs records, on itself, its participant
# entering PREPARE (again after each withdrawal), DISABLE_IRQ, RUN and
# EXIT, in that order; the work of each is
# queued and done.
lockstep() {
	local f=$tmp/two a=$1 b=$2 c seq
	capture "$f" expect_write "$DEBUGFS/stop_two_cpus" "$a $b" ok || return 1
	for c in $a $b; do
		seq=$(ev "$f" rmigration_multi_state "^$c name=stop_two_cpus hook cpu=$c state=" |
			sed -nE 's/.* state=([A-Z_]+) .*/\1/p' | uniq | paste -sd' ')
		[ "$seq" = "PREPARE DISABLE_IRQ RUN EXIT" ] ||
			{ ktap_print_msg "CPU $c: '$seq'"; sed 's/^/# /' "$f" | head -40; return 1; }
		ev "$f" rmigration_work_done "^$c cpu=$c id=[0-9]+ ret=0 " >/dev/null ||
			{ ktap_print_msg "CPU $c: no work done"; return 1; }
	done
}
ktap_check "stop_two_cpus 0 $last: rmigration_multi_state PREPARE, DISABLE_IRQ, RUN, EXIT on each CPU" lockstep 0 "$last"

hp=$(hotplug_cpu)
refused() {
	local f=$tmp/refused
	set_cpu_online "$hp" 0 || return 1
	capture "$f" expect_write "$DEBUGFS/stop_one_cpu" "$hp" "No such file or directory"
	set_cpu_online "$hp" 1
	ev "$f" rmigration_work_refused "cpu=$hp id=[0-9]+ fn=" >/dev/null &&
		! ev "$f" rmigration_work_queued "cpu=$hp " >/dev/null ||
		{ sed 's/^/# /' "$f"; return 1; }
}
if [ -n "$hp" ]; then
	ktap_check "offline CPU $hp: rmigration_work_refused, nothing queued" refused
else
	ktap_test_skip "refused event: no CPU can go offline"
fi

# The log lines of trace=1 name the same work as the events.
same_story() {
	local f=$tmp/both m id
	echo 1 > /sys/module/rmigration/parameters/trace
	m=$(log_mark)
	capture "$f" expect_write "$DEBUGFS/stop_one_cpu" 1 ok
	echo 0 > /sys/module/rmigration/parameters/trace
	id=$(ev "$f" rmigration_work_queued "cpu=1 id=" | sed -nE 's/.* id=([0-9]+)$/\1/p')
	[ -n "$id" ] &&
	log_since "$m" | grep -q "work #$id queued by .* on rmigration/1$" &&
	log_since "$m" | grep -q "work #$id waking rmigration/1$" &&
	log_since "$m" | grep -q "work #$id (stop_one_cpu hook) running on CPU 1 in rmigration/1$" &&
	log_since "$m" | grep -qE "work #$id done on CPU 1: ret=0 latency=[0-9]+ ns$" ||
		{ ktap_print_msg "id '$id'"; log_since "$m" | sed 's/^/# /'; return 1; }
}
ktap_check "trace=1 log lines and events name the same work" same_story

# Events off: nothing is recorded.
quiet_when_off() {
	echo > $T/trace
	echo 1 > $T/tracing_on
	expect_write "$DEBUGFS/stop_one_cpu" 0 ok
	echo 0 > $T/tracing_on
	! grep -q rmigration_ $T/trace
}
ktap_check "disabled events record nothing" quiet_when_off

if command -v trace-cmd >/dev/null; then
	trace_cmd() {
		local dat=$tmp/trace.dat out
		(cd "$tmp" && trace-cmd record -q -o "$dat" -e rmigration -e sched:sched_switch \
			sh -c "echo 0 > $DEBUGFS/stop_one_cpu; echo $last > $DEBUGFS/stop_one_cpu") \
			>"$tmp/record.log" 2>&1 ||
			{ sed 's/^/# /' "$tmp/record.log"; return 1; }
		out=$(trace-cmd report -i "$dat" 2>/dev/null | grep rmigration_work_)
		ktap_print_msg "trace-cmd report (rmigration events):"
		sed 's/^ */# /' <<<"$out" | head -8
		grep -qE "rmigration_work_started: +cpu=$last id=[0-9]+ fn=.* name=stop_one_cpu hook" <<<"$out" &&
		grep -qE "rmigration_work_done: +cpu=$last id=[0-9]+ ret=0" <<<"$out"
	}
	ktap_check "trace-cmd record -e rmigration / trace-cmd report show the events" trace_cmd
else
	ktap_test_skip "trace-cmd not installed (scripts/setup.sh installs it on the host)"
fi

cleanup
trap - EXIT
unload_module
ktap_check_log "$mark"
ktap_finished
