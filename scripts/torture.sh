#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make torture: the long torture run on the debug kernel (KASAN, lockdep,
# kmemleak, ...): until 200 hotplug cycles, 50 reloads and 10,000
# migrations are done, or TORTURE_SECONDS (3600) have passed. Prints its
# figures and ends with "N passed, N failed, N skipped".
set -uo pipefail
. "$(dirname "$0")/env.sh"

mkdir -p "$TOP/out"
dkdir=$("$TOP/scripts/kernel.sh" debug) || exit 1
dmod=$("$TOP/scripts/build.sh" debug) || exit 1
limit=${TORTURE_SECONDS:-3600}
"$TOP/scripts/vm.sh" "$dkdir" "${CPUS:-4}" $((limit + 900)) \
	"KDIR=$dkdir RMIGRATION_KO=$dmod/rmigration.ko RMIGRATION_TEST_TIMEOUT=$((limit + 600)) \
	 TORTURE_SECONDS=$limit TORTURE_HOTPLUG=${TORTURE_HOTPLUG:-200} \
	 TORTURE_RELOADS=${TORTURE_RELOADS:-50} TORTURE_MIGRATIONS=${TORTURE_MIGRATIONS:-10000} \
	 TORTURE_RELOAD_S=${TORTURE_RELOAD_S:-1} tests/runner.sh rmigration_torture.sh" |
	tr -d '\r' | tee "$TOP/out/torture.log"
p=$(grep -cE '^ok ' "$TOP/out/torture.log")
s=$(grep -cE '^ok .*# SKIP' "$TOP/out/torture.log")
f=$(grep -cE '^not ok ' "$TOP/out/torture.log")
grep -q '^# rmigration-runner: end' "$TOP/out/torture.log" || f=$((f + 1))
echo "$((p - s)) passed, $f failed, $s skipped"
[ "$f" = 0 ]
