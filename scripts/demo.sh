#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo, inside the VM (scripts/run.sh boots it): load rmigration with
# traces on, show its threads, run a work on a CPU, migrate a busy and a
# sleeping task through their source CPU's rmigration thread, stop two CPUs
# and then all of them in lock-step, swap the two tasks' CPUs, unload.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
D=/sys/kernel/debug/rmigration
last=$(cpus=(/sys/devices/system/cpu/cpu[0-9]*); echo $(( ${#cpus[@]} - 1 )))
mark=$(dmesg | wc -l)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# log_new [PATTERN]: the kernel log lines since the last call, but the
# KUnit ones (and those matching PATTERN).
log_new() {
	dmesg | tail -n +$((mark + 1)) | grep -vE '\] +(KTAP|#|ok |1\.\.)' | grep -vE "${1:-^\$}"
	mark=$(dmesg | wc -l)
}
where() { printf 'pid %s: processor (field 39 of /proc/%s/stat) = %s, %s\n' "$1" "$1" \
	"$(cut -d' ' -f39 "/proc/$1/stat")" "$(grep Cpus_allowed_list "/proc/$1/status" | tr -s '\t' ' ')"; }

step "insmod rmigration.ko trace=1"
insmod "$TOP/rmigration.ko" trace=1 || exit 1
modinfo -F description "$TOP/rmigration.ko"
log_new

step "One rmigration/N per CPU, next to the kernel's migration/N (PSR: its CPU, CLS FF: SCHED_FIFO)"
ps -eo pid,psr,cls,rtprio,stat,comm | grep -E 'PID|migration/'

step "rstop_one_cpu round trip: run a work on CPU 2 (echo 2 > $D/stop_one_cpu)"
echo 2 > $D/stop_one_cpu
cat $D/stop_one_cpu
log_new

step "A busy task on CPU 0"
taskset -c 0 bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
busy=$!
sleep 0.5
where $busy

step "Migrate it to CPU $last: echo '$busy $last' > $D/migrate"
echo "$busy $last" > $D/migrate
sleep 0.2
cat $D/migrate
where $busy
log_new

step "A sleeping task on CPU 1 (it wakes every 0.5 s)"
taskset -c 1 bash -c 'while :; do sleep 0.5; done' </dev/null >/dev/null 2>&1 &
sleeper=$!
sleep 0.7
where $sleeper

step "Migrate it to CPU 2: it moves when it next wakes up"
echo "$sleeper 2" > $D/migrate
cat $D/migrate
where $sleeper
sleep 0.7
echo "after its next wakeup:"
where $sleeper
log_new

step "rstop_two_cpus: CPUs 1 and $last in lock-step, the function on CPU 1 with both CPUs' interrupts off (echo '1 $last' > $D/stop_two_cpus)"
echo "1 $last" > $D/stop_two_cpus
cat $D/stop_two_cpus
log_new

step "rstop_machine: every CPU stopped, the function on CPUs 0 and $last (echo '0,$last' > $D/stop_machine)"
echo "0,$last" > $D/stop_machine
cat $D/stop_machine
log_new 'enters (PREPARE|DISABLE_IRQ)$'
echo "(the PREPARE and DISABLE_IRQ lines of each CPU left out)"

step "swap: the busy task (now on CPU $last) and the sleeping one (on CPU 2) exchange CPUs, as migrate_swap() does"
where $busy
where $sleeper
echo "$busy $sleeper" > $D/swap
cat $D/swap
sleep 0.7
where $busy
where $sleeper
log_new 'enters (PREPARE|DISABLE_IRQ)$'

step "An offline CPU refuses works with -ENOENT"
echo 0 > /sys/devices/system/cpu/cpu$last/online
ps -o pid,psr,stat,comm -p "$(pgrep -x "rmigration/$last")"
bash -c "echo $last > $D/stop_one_cpu"
echo 1 > /sys/devices/system/cpu/cpu$last/online
log_new

step "Per-CPU counters ($D/stats)"
cat $D/stats


kill $busy $sleeper
wait 2>/dev/null

# The trace events of one round trip and one migration, for out/timeline.png
# (scripts/timeline.py): ours and the scheduler's, with trace=0 so that no
# log line slows the works down. The writers are pinned to CPU 0. The trace
# goes to the output, compressed, between two marker lines that
# scripts/run.sh takes out.
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T 2>/dev/null
if [ -d $T/events/rmigration ]; then
	stop_cpu=$(( last >= 2 ? 2 : last ))
	src=1 dst=$last
	[ "$dst" = "$src" ] && dst=0
	step "Trace events (rmigration:*, sched_switch, sched_waking, sched_wakeup, sched_migrate_task) of one round trip on CPU $stop_cpu and one migration CPU $src -> $dst"
	echo 0 > /sys/module/rmigration/parameters/trace
	echo 0 > $T/tracing_on
	echo global > $T/trace_clock	# one clock for all CPUs: their order is right
	echo 4096 > $T/buffer_size_kb
	echo > $T/trace
	for e in rmigration sched/sched_switch sched/sched_waking sched/sched_wakeup sched/sched_migrate_task; do
		echo 1 > $T/events/$e/enable
	done
	taskset -c 0 sh -c "echo 1 > $T/tracing_on; echo $stop_cpu > $D/stop_one_cpu; echo 0 > $T/tracing_on"
	taskset -c $src bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
	moved=$!
	sleep 0.5
	taskset -c 0 sh -c "echo 1 > $T/tracing_on; echo '$moved $dst' > $D/migrate; sleep 0.01; echo 0 > $T/tracing_on"
	kill $moved
	echo 0 > $T/events/enable
	echo "captured $(grep -vc '^#' $T/trace) events: rmigration/$stop_cpu running a work for sh on CPU 0; pid $moved moved from CPU $src to CPU $dst"
	echo "---- rmigration timeline trace: gzip, base64 ----"
	cat $T/trace | gzip -9 | base64 -w 76
	echo "---- rmigration timeline trace: end ----"
	echo > $T/trace
	echo local > $T/trace_clock
fi

step "rmmod rmigration"
rmmod rmigration
log_new
echo "rmigration/N threads left: $(pgrep -c '^rmigration/' || true)"
