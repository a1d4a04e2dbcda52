#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds rmigration.ko and the test modules under tests/modules/.
#
#   scripts/build.sh            against the main test kernel (or KDIR), in
#                               this checkout: ./rmigration.ko
#   scripts/build.sh debug      against the debug kernel, with its clang and
#                               rustc, in a copy under that kernel's tree;
#                               prints the copy's path
#   scripts/build.sh stock      against Debian's stock kernel (scripts/stock.sh),
#                               with its gcc-14 and rustc, in a copy; prints
#                               the copy's path
#   scripts/build.sh clean
#
# With KDIR a Debian headers tree (KDIR=/lib/modules/$(uname -r)/build on a
# Debian machine), the default build is the stock one for that tree; it says
# where rmigration.ko is (not in the checkout, whose objects are the main
# build's).
#
# CLIPPY=1 runs clippy on the Rust code too. Prints nothing but errors and
# warnings (and the path, for debug).
set -euo pipefail
. "$(dirname "$0")/env.sh"

flavour=${1:-main}

# copy_sources DEST: a copy of the module's sources (the checkout holds the
# objects of the main build).
copy_sources() {
	mkdir -p "$1"
	(cd "$TOP" && tar cf - Kbuild include $(ls src/*.rs | grep -v _generated) \
		src/*.c src/*.h src/*/*.rs \
		$(find tests/modules -name Kbuild -o -name '*.c' -o -name '*.h')) |
		tar xf - -C "$1"
}

# The user-space programs the tests run in the guest (any kernel).
user_programs() {
	local p
	for p in bench/migrate_bench torture/torture_load; do
		gcc -O2 -Wall -o "$TOP/tests/$p" "$TOP/tests/$p.c"
	done
}

if [ "$flavour" = main ] && debian_headers "${KDIR:-}"; then
	dest=$("$TOP/scripts/build.sh" stock)
	log "rmigration.ko for $(cat "$KDIR/include/config/kernel.release"): $dest/rmigration.ko"
	exit 0
fi

# One copy of the sources per checkout and kernel: tar keeps the sources'
# times, so a copy shared by two checkouts could keep the objects built
# from the other one's sources when those are newer than ours (make sees
# nothing newer), and they could overwrite each other's module between a
# build and a VM's insmod.
copy_dir() { echo "$1/rmigration-module-$(printf '%s' "$TOP" | sha1sum | cut -c1-8)"; }

if [ "$flavour" = stock ]; then
	kdir=$("$TOP/scripts/stock.sh" kdir)
	# Once shared by every checkout: a stock suite ran a module built
	# from another checkout's older sources.
	dest=$(copy_dir "$(dirname "$(dirname "$kdir")")")
	mkdir -p "$dest"
	exec 9>"$dest.lock"
	flock 9
	copy_sources "$dest"
	user_programs
	# The root has exactly the kernel's gcc and rustc (stock.sh checked);
	# the headers' Makefile names them.
	flock -s /tmp/rmigration-quiet.lock "$TOP/scripts/llvm-root.sh" --stock run "
		set -e
		make -s -C $kdir M=$dest ${CLIPPY:+CLIPPY=1} modules
		for d in $dest/tests/modules/*/; do
			make -s -C $kdir M=\${d%/} KBUILD_EXTRA_SYMBOLS=$dest/Module.symvers modules
		done" >&2
	echo "$dest"
	exit 0
fi

if [ "$flavour" = debug ]; then
	user_programs
	kdir=$("$TOP/scripts/kernel.sh" debug)
	dest=$(copy_dir "$kdir")
	mkdir -p "$dest"
	exec 9>"$dest.lock"
	flock 9
	copy_sources "$dest"
	"$TOP/scripts/llvm-root.sh" run "
		set -e
		make -s -C $kdir M=$dest LLVM=1 ${CLIPPY:+CLIPPY=1} modules
		for d in $dest/tests/modules/*/; do
			make -s -C $kdir M=\${d%/} LLVM=1 KBUILD_EXTRA_SYMBOLS=$dest/Module.symvers modules
		done" >&2
	echo "$dest"
	exit 0
fi

kdir=$("$TOP/scripts/kernel.sh")
mk=(make -s -C "$kdir" BINDGEN="$BINDGEN" ${CLIPPY:+CLIPPY=1})

if [ "$flavour" = clean ]; then
	"${mk[@]}" M="$TOP" clean
	for d in "$TOP"/tests/modules/*/; do
		[ -f "$d/Kbuild" ] && "${mk[@]}" M="${d%/}" clean
	done
	exit 0
fi

"${mk[@]}" M="$TOP" modules
user_programs
for d in "$TOP"/tests/modules/*/; do
	[ -f "$d/Kbuild" ] || continue
	"${mk[@]}" M="${d%/}" KBUILD_EXTRA_SYMBOLS="$TOP/Module.symvers" modules
done
