#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the rmigration kselftests, in the VM, one after the other: streams
# each one's KTAP output line by line as it comes, adds a "not ok" line for
# a test program that died without saying so, and an end marker that the
# host checks for. Each test's start and end also go to the kernel log (so
# the guest console shows which test ran when), and the running test's name
# to /tmp/rmigration-current-test for the watchdog (scripts/vm-guest.sh).
#
#   tests/runner.sh [TEST...]       default: every test program of TEST_PROGS

DIR=$(dirname "$(readlink -f "$0")")
cd "$DIR" || exit 1

if [ $# -eq 0 ]; then
	set -- $(sed -n 's/^TEST_PROGS[[:space:]]*[+:]*=//p' Makefile)
fi

kmsg() { echo "rmigration-runner: $*" 2>/dev/null > /dev/kmsg; }
out=$(mktemp /tmp/rmigration-runner.XXXXXX) || exit 1

echo "# rmigration kselftests on $(uname -r), $(nproc) CPUs"
for t in "$@"; do
	echo "# ---- $t"
	echo "$t" > /tmp/rmigration-current-test
	kmsg "$t: start"
	start=$SECONDS
	# tee streams the output and keeps a copy to look for results in.
	timeout -k 5 "${RMIGRATION_TEST_TIMEOUT:-600}" "./$t" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	kmsg "$t: exit status $rc after $((SECONDS - start)) s"
	echo "# ---- $t: exit status $rc after $((SECONDS - start)) s"
	if [ $rc -ne 0 ] && [ $rc -ne 4 ] && ! grep -q '^not ok' "$out"; then
		echo "not ok $t exited with status $rc"
	fi
	if [ $rc -eq 4 ] && ! grep -qE '^(not )?ok' "$out"; then
		echo "ok $t # SKIP $(grep -m1 -o 'SKIP.*' "$out" | sed 's/^SKIP *//')"
	fi
done
rm -f "$out" /tmp/rmigration-current-test
echo "# rmigration-runner: end"
