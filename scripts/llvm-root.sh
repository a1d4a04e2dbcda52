#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A Debian trixie build root with clang/LLVM (KASAN with Rust needs a
# clang-built kernel; bookworm's LLVM is too old and trixie's binaries need
# trixie's libc). Made once under $CACHE/llvm-root with debootstrap.
#
#   scripts/llvm-root.sh                 makes sure the root is ready
#   scripts/llvm-root.sh run CMD...      runs CMD in it (bash -c), with $CACHE
#                                        and this checkout at their own paths
#
# Mounts live in a private mount namespace: nothing is left mounted.
set -euo pipefail
. "$(dirname "$0")/env.sh"

ROOT=$LLVM_ROOT
ROOT_PKGS=(clang lld llvm libclang-dev bindgen make flex bison bc libelf-dev
	   libssl-dev cpio kmod python3 xz-utils libc6-dev gcc)
ROOT_BPO_PKGS=(rustc rust-src)

in_root() {
	export CACHE TOP
	unshare --mount --propagation private bash -euc '
		R=$1; shift
		for d in proc sys dev; do mount --rbind "/$d" "$R/$d"; done
		mount -t tmpfs tmpfs "$R/run"
		for d in "$CACHE" "$TOP"; do mkdir -p "$R$d"; mount --bind "$d" "$R$d"; done
		cp /etc/resolv.conf "$R/etc/resolv.conf"
		exec chroot "$R" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
			bash -c "$*"
	' _ "$ROOT" "$@"
}

make_root() {
	[ -f "$ROOT/.rmigration-ready" ] && return 0
	command -v debootstrap >/dev/null || {
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
	}
	if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
		log "debootstrap trixie into $ROOT (about a minute)"
		rm -rf "$ROOT"
		debootstrap --variant=minbase --include=ca-certificates,debian-archive-keyring \
			trixie "$ROOT" http://deb.debian.org/debian >/dev/null
	fi
	cat > "$ROOT/etc/apt/sources.list" <<-SRC
	deb http://deb.debian.org/debian trixie main
	deb http://deb.debian.org/debian trixie-updates main
	deb http://deb.debian.org/debian trixie-backports main
	deb http://deb.debian.org/debian-security trixie-security main
	SRC
	printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
	chmod +x "$ROOT/usr/sbin/policy-rc.d"
	log "installing clang, lld, llvm, bindgen, rustc (trixie-backports) in the root"
	in_root "apt-get update -qq && apt-get install -y -qq --no-install-recommends \
		${ROOT_PKGS[*]} $(printf '%s/trixie-backports ' "${ROOT_BPO_PKGS[@]}") >/dev/null"
	touch "$ROOT/.rmigration-ready"
}

make_root
if [ "${1:-}" = run ]; then
	shift
	in_root "$@"
fi
