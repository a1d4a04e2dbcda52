#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the rmigration kselftests, in the VM, one after the other: prints
# each one's KTAP output, a "not ok" line for a test program that died
# without saying so, and an end marker that the host checks for.
#
#   tests/runner.sh [TEST...]       default: every test program of TEST_PROGS

DIR=$(dirname "$(readlink -f "$0")")
cd "$DIR" || exit 1

if [ $# -eq 0 ]; then
	set -- $(sed -n 's/^TEST_PROGS[[:space:]]*[+:]*=//p' Makefile)
fi

echo "# rmigration kselftests on $(uname -r), $(nproc) CPUs"
for t in "$@"; do
	echo "# ---- $t"
	out=$(timeout -k 5 "${RMIGRATION_TEST_TIMEOUT:-600}" "./$t" 2>&1)
	rc=$?
	echo "$out"
	if [ $rc -ne 0 ] && [ $rc -ne 4 ] && ! grep -q '^not ok' <<<"$out"; then
		echo "not ok $t exited with status $rc"
	fi
	if [ $rc -eq 4 ] && ! grep -qE '^(not )?ok' <<<"$out"; then
		echo "ok $t # SKIP $(grep -m1 -o 'SKIP.*' <<<"$out" | sed 's/^SKIP *//')"
	fi
done
echo "# rmigration-runner: end"
