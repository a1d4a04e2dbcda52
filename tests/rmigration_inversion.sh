#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lockdep sees works: the client module (lockdep_inversion=1) has a work
# take a mutex, then waits for a work holding that mutex; lockdep must
# report a possible circular locking dependency that names the mutex and
# rmigration_work, and nothing may hang. Lockdep reports once per boot and
# the report is a kernel report to every other test: scripts/check.sh
# runs this alone in a VM of its own, with RMIGRATION_INVERSION_TEST=1,
# and expects that one report in its console.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

CLIENT=${RMIGRATION_CLIENT_KO:-$TOP/tests/modules/rmigration_client/rmigration_client.ko}

ktap_print_header
skip_unless_root
skip_unless_module
if [ "${RMIGRATION_INVERSION_TEST:-0}" != 1 ]; then
	ktap_skip_all "leaves a lockdep report: run alone with RMIGRATION_INVERSION_TEST=1 (scripts/check.sh does)"
	exit "$KSFT_SKIP"
fi
if [ ! -e /proc/lockdep ]; then
	ktap_skip_all "this kernel has no lockdep (CONFIG_PROVE_LOCKING)"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 6

unload_module 2>/dev/null
mark=$(log_mark)
report() { log_since "$mark" | sed -n '/possible circular locking dependency detected/,/<\/TASK>/p'; }

ktap_check "module loads" load_module
client() { insmod "$CLIENT" lockdep_inversion=1 && rmmod rmigration_client; }
ktap_check "the client's work and waits return (nothing hangs)" client
reported() { [ -n "$(report)" ]; }
ktap_check "lockdep reports a possible circular locking dependency" wait_for reported
names() { report | grep -q "$1" || { ktap_print_msg "the report does not name $1"; return 1; }; }
ktap_check "the report names rmigration_work" names rmigration_work
ktap_check "the report names the client's inversion_lock" names inversion_lock
ktap_check "module unloads" unload_module
if [ -z "$(report)" ]; then
	log_since "$mark" | tail -n 30 | while read -r l; do ktap_print_msg "$l"; done
fi

ktap_finished
