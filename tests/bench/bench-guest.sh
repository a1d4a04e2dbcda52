#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside the VM (scripts/bench.sh boots it): the in-kernel benchmark with
# the target CPU idle, then with a CPU-bound normal task on it, then the
# migration benchmark. Prints raw lines for scripts/bench_report.py.
#
#   bench-guest.sh ITERS MOVES MIGRATE_BENCH_BINARY
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
iters=$1 moves=$2 mb=$3
BENCH=$TOP/tests/modules/rmigration_bench/rmigration_bench.ko

echo "bench vcpus=$(nproc) kernel=$(uname -r)"
insmod "$TOP/rmigration.ko" || exit 1
grep -E '^memory' /sys/kernel/debug/rmigration/stats | sed 's/^/bench /'

run() {
	insmod "$BENCH" iters="$iters" "$@" || return 1
	dmesg -c | sed -n 's/.*rmigration_bench: //p'
	cat /sys/kernel/debug/rmigration_bench/samples
	rmmod rmigration_bench
}
dmesg -C
run label=idle
taskset -c 1 bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
hog=$!
sleep 0.5
run label=busy
kill $hog
wait 2>/dev/null

# The caller on CPU 0, the task moved between CPUs 1 and 2 (1 and 0 with 2 vCPUs).
taskset -c 0 "$mb" "$moves" 1 "$(( $(nproc) > 2 ? 2 : 0 ))"
rmmod rmigration
echo "bench end"
