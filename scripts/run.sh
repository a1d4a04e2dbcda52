#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: set-up, kernel and module as needed, then a VM with CPUS (4)
# vCPUs that runs the demo (scripts/demo.sh). The guest's kernel console
# goes to out/console-run-DATE-PID.log (see scripts/vm.sh).
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$TOP/scripts/harness.sh"

kdir=$(progress "building the test kernel" "$TOP/scripts/kernel.sh")
"$TOP/scripts/build.sh"
log "booting $kdir with ${CPUS:-4} vCPUs (QEMU TCG; about 15 s to the demo)"
VM_NAME=run "$TOP/scripts/vm.sh" "$kdir" "${CPUS:-4}" 600 "scripts/demo.sh"
