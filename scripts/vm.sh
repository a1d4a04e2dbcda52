#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots a kernel tree in a virtme-ng VM under QEMU TCG and runs a command in
# it as root; prints what the command prints and returns its exit status.
#
#   scripts/vm.sh KDIR CPUS TIMEOUT COMMAND
#
# The guest sees the host's / read-only over 9p (so the module and the tests
# are used from this checkout) with throw-away writable /tmp. A guest that
# has not finished after TIMEOUT seconds is killed: exit status 124.
# /dev/kvm exists on some machines without working (guests hang), so KVM is
# used only with RMIGRATION_KVM=1.
set -euo pipefail
. "$(dirname "$0")/env.sh"

[ $# -eq 4 ] || die "usage: $0 KDIR CPUS TIMEOUT COMMAND"
kdir=$1 cpus=$2 limit=$3 cmd=$4

kvm=(--disable-kvm)
[ "${RMIGRATION_KVM:-0}" = 1 ] && kvm=()

# vng needs a terminal-less stdin; QEMU reopens stdout by path, so its output
# goes through a pipe, never straight into a file.
set +e
timeout -k 15 "$limit" "$VNG" --run "$kdir" "${kvm[@]}" --force-9p \
	--cpus "$cpus" --memory 2G --user root --cwd "$TOP" \
	--exec "$cmd" </dev/null 2>&1 | cat
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 124 ] && log "the VM did not finish within $limit s: killed"
exit "$rc"
