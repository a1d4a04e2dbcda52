#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian trixie build roots, made once with debootstrap (trixie's binaries
# need trixie's libc, so they cannot run on the host):
#
#   $CACHE/llvm-root   clang/LLVM and rustc from trixie-backports, for the
#                      debug kernel (KASAN with Rust needs a clang-built
#                      kernel; bookworm's LLVM is too old).
#   $CACHE/stock-root  (--stock) gcc-14, rustc, bindgen from trixie main
#                      only: the toolchain Debian's own kernels are built
#                      with, for the Rust artifacts of Debian's stock kernel
#                      and modules built for it (scripts/stock.sh).
#
# They cannot be one root: Debian has a single rustc package (no versioned
# rustc-1.NN packages in trixie or its backports), so trixie's rustc 1.85.1
# and the backports one cannot be installed side by side, and a Rust
# crate's symbol hashes depend on the exact rustc version.
#
#   scripts/llvm-root.sh [--stock]               makes sure the root is ready
#   scripts/llvm-root.sh [--stock] run CMD...    runs CMD in it (bash -c), with
#                                                $CACHE and this checkout at
#                                                their own paths
#
# Mounts live in a private mount namespace: nothing is left mounted.
set -euo pipefail
. "$(dirname "$0")/env.sh"

if [ "${1:-}" = --stock ]; then
	shift
	ROOT=$STOCK_ROOT
	ROOT_PKGS=(gcc-14 gcc make flex bison bc libelf-dev libssl-dev cpio kmod
		   python3 xz-utils libc6-dev dwarves rustc rust-src bindgen libclang-dev)
	ROOT_BPO_PKGS=()
	ROOT_SUITES=(trixie trixie-updates)
	what="gcc-14, rustc, bindgen (trixie main)"
else
	ROOT=$LLVM_ROOT
	ROOT_PKGS=(clang lld llvm libclang-dev bindgen make flex bison bc libelf-dev
		   libssl-dev cpio kmod python3 xz-utils libc6-dev gcc)
	ROOT_BPO_PKGS=(rustc rust-src)
	ROOT_SUITES=(trixie trixie-updates trixie-backports)
	what="clang, lld, llvm, bindgen, rustc (trixie-backports)"
fi

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
	# One maker at a time: a second caller waits, then finds the root ready.
	mkdir -p "$(dirname "$ROOT")"
	exec 7>"$ROOT.lock"
	flock 7
	[ -f "$ROOT/.rmigration-ready" ] && { exec 7>&-; return 0; }
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
	{
		for s in "${ROOT_SUITES[@]}"; do
			echo "deb http://deb.debian.org/debian $s main"
		done
		echo "deb http://deb.debian.org/debian-security trixie-security main"
	} > "$ROOT/etc/apt/sources.list"
	printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
	chmod +x "$ROOT/usr/sbin/policy-rc.d"
	local pkgs=("${ROOT_PKGS[@]}") p
	for p in ${ROOT_BPO_PKGS[@]+"${ROOT_BPO_PKGS[@]}"}; do pkgs+=("$p/trixie-backports"); done
	log "installing $what in the root"
	in_root "apt-get update -qq && apt-get install -y -qq --no-install-recommends \
		${pkgs[*]} >/dev/null"
	touch "$ROOT/.rmigration-ready"
	exec 7>&-
}

make_root
if [ "${1:-}" = run ]; then
	shift
	in_root "$@"
fi
