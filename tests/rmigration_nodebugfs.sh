#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Without debugfs (the kernel booted with debugfs=off): the module loads
# all the same and says the hooks are absent; its threads and the C API
# work (the client module's checks); it unloads cleanly. scripts/check.sh
# boots a VM of its own for it; elsewhere it skips.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

CLIENT=${RMIGRATION_CLIENT_KO:-$TOP/tests/modules/rmigration_client/rmigration_client.ko}

ktap_print_header
skip_unless_root
skip_unless_module
if ! grep -qw 'debugfs=off' /proc/cmdline; then
	ktap_skip_all "needs a kernel booted with debugfs=off (scripts/check.sh boots one)"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 8

unload_module 2>/dev/null
mark=$(log_mark)
logged() { log_since "$mark" | grep -q "$1"; }
no_threads() { [ "$(thread_count)" = 0 ]; }
threads_match_online() { [ "$(thread_count)" = "$(online_cpus | wc -w)" ]; }

ktap_check "module loads without debugfs" load_module
ktap_check "the missing hooks are logged" logged 'rmigration: no debugfs (error -[0-9]*): the hooks'
ktap_check "no hook files" test ! -e "$DEBUGFS"
ktap_check "one rmigration/N per online CPU" threads_match_online
if [ -f "$CLIENT" ]; then
	client() { insmod "$CLIENT" calls_per_thread=20 && rmmod rmigration_client; }
	ktap_check "C API works (rmigration_client's checks)" client
else
	ktap_test_fail "C API: rmigration_client.ko not built"
fi
unload() { rmmod rmigration && wait_for no_threads; }
ktap_check "unload removes every thread" unload
ktap_check "unload is logged" logged 'rmigration:.unloaded:'
ktap_check_log "$mark"

ktap_finished
