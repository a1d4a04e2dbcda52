#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Whether two vCPUs run at the same instant: a counting loop runs 2 s
# alone on CPU 0, then two run 2 s at once on CPUs 0 and 1. With QEMU's
# one host thread for all vCPUs (make check) the two share it, and count
# together about what the one counted alone (100%); with a host thread per
# vCPU and two free host cores (scripts/mttcg.sh), about twice (200%).
# (The kernel's tick accounting cannot tell: each vCPU finds its loop
# running at each of its ticks either way.) Checked (over 140%) only if
# RMIGRATION_EXPECT_PARALLEL=1, else printed and skipped.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

ktap_print_header
skip_unless_cpus 2
ktap_set_plan 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# count CPU...: a counting loop on each CPU for 2 s; prints their counts.
count() {
	local c pids=()
	for c in "$@"; do
		taskset -c "$c" bash -c 'n=0; trap "echo \$n > $1; exit" TERM; while :; do n=$((n + 1)); done' \
			_ "$tmp/$c" </dev/null >/dev/null 2>&1 &
		pids+=($!)
	done
	sleep 2
	kill -TERM "${pids[@]}"
	wait "${pids[@]}" 2>/dev/null
	for c in "$@"; do
		cat "$tmp/$c"
	done
}

alone=$(count 0)
both=($(count 0 1))
pct=$(( (both[0] + both[1]) * 100 / (alone > 0 ? alone : 1) ))
msg="two counting loops on CPUs 0 and 1 at once counted ${pct}% of what one counted alone (${both[0]} + ${both[1]} vs ${alone} in 2 s)"
if [ "${RMIGRATION_EXPECT_PARALLEL:-0}" = 1 ]; then
	ktap_check "two vCPUs run at once: $msg; over 140% expected" [ "$pct" -gt 140 ]
else
	ktap_test_skip "$msg: not checked, RMIGRATION_EXPECT_PARALLEL is not 1"
fi
ktap_finished
