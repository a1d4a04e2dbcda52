#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prints the path of a Rust-enabled kernel build tree to build the module
# against and boot, building it first if needed.
#
#   scripts/kernel.sh [FLAVOUR]     FLAVOUR names tests/FLAVOUR.config (default: config)
#
# With KDIR set, that tree is used as it is (it must be configured with
# CONFIG_RUST=y and built). Otherwise the tree is built from Debian's
# linux-source with allnoconfig plus the fragment, out of source (O=), in
# $CACHE/kernels/<version>-<fragment hash>-rustc<version>: a second run with
# the same key reuses it and never rebuilds.
set -euo pipefail
. "$(dirname "$0")/env.sh"

frag=$TOP/tests/${1:-config}
[ -f "$frag" ] || die "no config fragment $frag"

if [ -n "${KDIR:-}" ]; then
	grep -q '^CONFIG_RUST=y' "$KDIR/.config" 2>/dev/null ||
		die "KDIR=$KDIR is not a configured kernel tree with CONFIG_RUST=y"
	[ -f "$KDIR/vmlinux" ] || die "KDIR=$KDIR has not been built"
	echo "$KDIR"
	exit 0
fi

src=$(kernel_src) || die "no kernel source: run scripts/setup.sh"
libsrc=$(rust_lib_src) || die "no rust-src: run scripts/setup.sh"
kver=$(make -s -C "$src" kernelversion)
fhash=$(sha256sum "$frag" | cut -c1-12)
key=$kver-$fhash-rustc$RUSTC_VERSION
out=$CACHE/kernels/$key

if [ -f "$out/.rmigration-built" ]; then
	echo "$out"
	exit 0
fi

mk=(make -s -C "$src" O="$out" RUST_LIB_SRC="$libsrc" BINDGEN="$BINDGEN")
mkdir -p "$out"
log "configuring $key (allnoconfig + $(basename "$frag"))"
"${mk[@]}" KCONFIG_ALLCONFIG="$frag" allnoconfig >&2

# Kconfig silently drops options whose dependencies are missing: say which.
dropped=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=n) opt=${line%%=*}
		    grep -q "^$opt=" "$out/.config" && { log "not applied: $line"; dropped=1; } ;;
	CONFIG_*=*) grep -qxF "$line" "$out/.config" || { log "not applied: $line"; dropped=1; } ;;
	esac
done < "$frag"
grep -q '^CONFIG_RUST=y' "$out/.config" || {
	"${mk[@]}" rustavailable >&2 || true
	die "CONFIG_RUST=y did not survive the configuration"
}
[ $dropped -eq 0 ] || log "some options were dropped (above); building anyway"

log "building $key with -j$(nproc) (about 11 minutes on 2 cores)"
start=$(date +%s)
"${mk[@]}" -j"$(nproc)" >&2
touch "$out/.rmigration-built"
log "kernel built in $(( $(date +%s) - start )) s: $out"
echo "$out"
