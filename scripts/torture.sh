#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make torture: the long torture run on the debug kernel (KASAN, lockdep,
# kmemleak, ...): until 200 hotplug cycles, 50 reloads and 10,000
# migrations are done, or TORTURE_SECONDS (3600) have passed. Prints its
# figures and ends with "N passed, N failed, N skipped". The output goes to
# out/torture-DATE-PID.log, the guest's kernel console to
# out/console-torture-DATE-PID.log (see scripts/vm.sh); a kernel report in
# the console is a failure.
set -uo pipefail
. "$(dirname "$0")/env.sh"
. "$TOP/scripts/harness.sh"

dkdir=$(progress "building the debug test kernel" "$TOP/scripts/kernel.sh" debug) || exit 1
dmod=$(progress "building the module for the debug kernel" "$TOP/scripts/build.sh" debug) || exit 1
limit=${TORTURE_SECONDS:-3600}
log=$(run_file torture)
console=$(run_file console-torture)
VM_NAME=torture VM_CONSOLE=$console "$TOP/scripts/vm.sh" "$dkdir" "${CPUS:-4}" $((limit + 900)) \
	"KDIR=$dkdir RMIGRATION_KO=$dmod/rmigration.ko RMIGRATION_TEST_TIMEOUT=$((limit + 600)) \
	 TORTURE_SECONDS=$limit TORTURE_HOTPLUG=${TORTURE_HOTPLUG:-200} \
	 TORTURE_RELOADS=${TORTURE_RELOADS:-50} TORTURE_MIGRATIONS=${TORTURE_MIGRATIONS:-10000} \
	 TORTURE_RELOAD_S=${TORTURE_RELOAD_S:-1} tests/runner.sh rmigration_torture.sh" |
	tee "$log"
p=$(grep -cE '^ok ' "$log")
s=$(grep -cE '^ok .*# SKIP' "$log")
f=$(grep -cE '^not ok ' "$log")
if ! grep -q '^# rmigration-runner: end' "$log"; then
	echo "not ok the VM did not finish the torture run (guest console: $console)"
	f=$((f + 1))
fi
known_reports "$console" | head -n 5 |
	sed 's/^/# known kernel issue, not counted (tests\/kernel-reports.known): /'
early=$(console_reports "$console" before)
[ -z "$early" ] ||
	echo "# a kernel report before rmigration.ko was first loaded, which it cannot have caused: $(head -n 1 <<<"$early")"
if [ -n "$(console_reports "$console" after)" ]; then
	echo "not ok kernel reports in the guest console ($console)"
	f=$((f + 1))
fi
echo "$((p - s)) passed, $f failed, $s skipped"
[ "$f" = 0 ]
