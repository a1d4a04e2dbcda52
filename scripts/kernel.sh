#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prints the path of a Rust-enabled kernel build tree to build the module
# against and boot, building it first if needed.
#
#   scripts/kernel.sh [main|debug]
#
# main: allnoconfig + tests/config, built with the host's gcc and the rustc
# of rust-toolchain.toml. debug: allnoconfig + tests/config +
# tests/config.debug (KASAN, lockdep, kmemleak, ...), built with clang and
# rustc in the build root of scripts/llvm-root.sh.
#
# With KDIR set, the main flavour is that tree, used as it is (configured
# with CONFIG_RUST=y and built). Otherwise trees are built from Debian's
# linux-source, out of source (O=), in $CACHE/kernels/<key>, the key made of
# flavour, kernel version, fragment hash and compiler versions: a second
# run with the same key reuses the tree and never rebuilds.
set -euo pipefail
. "$(dirname "$0")/env.sh"

flavour=${1:-main}
case $flavour in
main)	frags=("$TOP/tests/config") ;;
debug)	frags=("$TOP/tests/config" "$TOP/tests/config.debug") ;;
*)	die "unknown kernel flavour $flavour" ;;
esac

if [ "$flavour" = main ] && [ -n "${KDIR:-}" ]; then
	! debian_headers "$KDIR" ||
		die "KDIR=$KDIR holds Debian's headers of a stock kernel, not a built tree:" \
		    "make module builds for it; scripts/stock.sh suite runs the tests on it"
	grep -q '^CONFIG_RUST=y' "$KDIR/.config" 2>/dev/null ||
		die "KDIR=$KDIR is not a configured kernel tree with CONFIG_RUST=y"
	[ -f "$KDIR/vmlinux" ] || die "KDIR=$KDIR has not been built"
	echo "$KDIR"
	exit 0
fi

src=$(kernel_src) || die "no kernel source: run scripts/setup.sh"
kver=$(make -s -C "$src" kernelversion)
fhash=$(cat "${frags[@]}" | sha256sum | cut -c1-12)

if [ "$flavour" = main ]; then
	libsrc=$(rust_lib_src) || die "no rust-src: run scripts/setup.sh"
	key=$kver-$fhash-rustc$RUSTC_VERSION
	run() { bash -c "$*"; }
	mkflags="RUST_LIB_SRC=$libsrc BINDGEN=$BINDGEN"
else
	"$TOP/scripts/llvm-root.sh"
	run() { "$TOP/scripts/llvm-root.sh" run "$@"; }
	tools=$(run 'clang --version | head -1; rustc --version' | sha256sum | cut -c1-8)
	key=debug-$kver-$fhash-llvm$tools
	mkflags="LLVM=1"
fi
out=$CACHE/kernels/$key

if [ -f "$out/.rmigration-built" ]; then
	echo "$out"
	exit 0
fi

# One build per key at a time: a second caller waits for the first.
mkdir -p "$CACHE/kernels"
exec 9>"$out.lock"
if ! flock -n 9; then
	log "waiting for another build of $key to finish"
	flock 9
fi
if [ -f "$out/.rmigration-built" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$out"
cat "${frags[@]}" > "$out/.rmigration-fragment"
mk="make -s -C $src O=$out $mkflags"
log "configuring $key (allnoconfig + ${frags[*]##*/})"
run "$mk KCONFIG_ALLCONFIG=$out/.rmigration-fragment allnoconfig" >&2

# Kconfig silently drops options whose dependencies are missing: say which
# (of each option, its last assignment: the debug fragment overrides some).
dropped=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=n) opt=${line%%=*}
		    grep -q "^$opt=" "$out/.config" && { log "not applied: $line"; dropped=1; } ;;
	CONFIG_*=*) grep -qxF "$line" "$out/.config" || { log "not applied: $line"; dropped=1; } ;;
	esac
done < <(awk -F= '/^CONFIG_/ { last[$1] = $0 } END { for (o in last) print last[o] }' \
	"$out/.rmigration-fragment")
grep -q '^CONFIG_RUST=y' "$out/.config" || {
	run "$mk rustavailable" >&2 || true
	die "CONFIG_RUST=y did not survive the configuration"
}
[ $dropped -eq 0 ] || log "some options were dropped (above); building anyway"

log "building $key with -j$(nproc) (main: about 7 minutes on 2 cores, debug: about 16)"
start=$(date +%s)
run "$mk -j$(nproc)" >&2
touch "$out/.rmigration-built"
log "kernel built in $(( $(date +%s) - start )) s: $out"
echo "$out"
