#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside a VM: where a move of migrate_bench goes, the migrate hook against
# sched_setaffinity(2). Runs migrate_bench (the caller on CPU 0, a busy
# child moved between CPUs 1 and 2) with the scheduler's sched_waking,
# sched_switch and sched_migrate_task events and the write and
# sched_setaffinity system calls traced, then prints the trace after a
# line "=== trace". tests/bench/migrate_steps.py splits each move into
# its steps from it. Not part of make bench (the tracing slows every step
# of both down); from the host:
#
#   RMIGRATION_TCG_THREAD=multi scripts/vm.sh "$(scripts/kernel.sh)" 4 600 \
#       tests/bench/migrate-steps.sh > out/migrate-steps.txt
#   python3 tests/bench/migrate_steps.py out/migrate-steps.txt
#
# MOVES (300): moves per mechanism.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
T=/sys/kernel/tracing
insmod "$TOP/rmigration.ko"
echo 16384 > $T/buffer_size_kb
# System calls 1 (write) and 203 (sched_setaffinity) on x86_64.
for e in sys_enter sys_exit; do
	echo 'id == 1 || id == 203' > $T/events/raw_syscalls/$e/filter
	echo 1 > $T/events/raw_syscalls/$e/enable
done
for e in sched_switch sched_waking sched_migrate_task; do
	echo 1 > $T/events/sched/$e/enable
done
echo 1 > $T/tracing_on
taskset -c 0 "$TOP/tests/bench/migrate_bench" "${MOVES:-300}" 1 2 | grep '^mech='
echo 0 > $T/tracing_on
echo "=== trace"
cat $T/trace
rmmod rmigration
