#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian's stock kernel (built with CONFIG_RUST=y), for rmigration.
#
#   scripts/stock.sh fetch            downloads the first of STOCK_KERNELS
#                                     (env.sh) still in Debian's registry:
#                                     image, modules, headers, unpacked (never
#                                     installed); prints that directory
#   scripts/stock.sh vmlinuz          the same, then prints its vmlinuz, which
#                                     vng boots with the modules beside it
#   scripts/stock.sh complete KDIR    prints a completed copy of the Debian
#                                     headers tree KDIR (below)
#   scripts/stock.sh kdir             the completed headers of KDIR if it is a
#                                     Debian headers tree, else of the fetched
#                                     stock kernel
#   scripts/stock.sh prepare          all of the above and the module
#                                     (scripts/build.sh stock), no VM
#   scripts/stock.sh guest MODDIR [TEST...]
#                                     prints the guest command of the suite
#   scripts/stock.sh suite [TEST...]  the kselftests on the stock kernel, in a
#                                     4-vCPU VM (STOCK_VCPUS), with the module
#                                     built for it (scripts/build.sh stock);
#                                     KTAP output
#
# Debian's linux-headers of a Rust kernel lack what a Rust module is built
# against: rust/*.rmeta, rust/*.so (the kernel crate, its macros),
# rust/kernel/generated_arch_static_branch_asm.rs (static branches) and
# scripts/target.json. They are rebuilt (make prepare) from the
# linux-source of the same Debian version, with the headers' .config, in the
# trixie root of `llvm-root.sh --stock` with the rustc and gcc that .config
# records: the crates' symbol hashes depend on the exact rustc version, and
# then match Debian's Module.symvers. The completed copy lives in
# $CACHE/stock/<release>/kdir; nothing is written to KDIR.
set -euo pipefail
. "$(dirname "$0")/env.sh"

QUIET_LOCK=/tmp/rmigration-quiet.lock
# The kselftests of the main kernel (scripts/check.sh), after the
# distribution checks of rmigration_distro.sh.
STOCK_TESTS="rmigration_threads.sh rmigration_stopper.sh rmigration_migrate.sh rmigration_multi.sh rmigration_starve.sh rmigration_pinned.sh rmigration_events.sh rmigration_fuzz.sh rmigration_bench_smoke.sh"
root() { "$TOP/scripts/llvm-root.sh" --stock "$@"; }

# fetched: the unpacked directory of the first stock kernel already fetched.
fetched() {
	local e
	for e in "${STOCK_KERNELS[@]}"; do
		[ -f "$STOCK_DIR/${e%%=*}/pkg/.rmigration-fetched" ] &&
			{ echo "$STOCK_DIR/${e%%=*}/pkg"; return 0; }
	done
	return 1
}

# In subshells: the locks (fd 8) go with them.
fetch() (
	local e rel ver base dest
	fetched && return 0
	mkdir -p "$STOCK_DIR"
	exec 8>"$STOCK_DIR/.fetch.lock"
	flock 8
	fetched && return 0
	private_apt
	for e in "${STOCK_KERNELS[@]}"; do
		rel=${e%%=*} ver=${e#*=} base=${rel%-*}
		dest=$STOCK_DIR/$rel/pkg
		log "downloading Debian's stock kernel $rel ($ver): image, modules, headers"
		rm -rf "$dest.new"
		if apt_unpack "$dest.new" "linux-binary-$rel=$ver" "linux-modules-$rel=$ver" \
			"linux-headers-$rel=$ver" "linux-headers-$base-common=$ver" \
			"linux-kbuild-$base=$ver"; then
			[ -f "$dest.new/usr/lib/modules/$rel/vmlinuz" ] ||
				die "no vmlinuz in linux-binary-$rel $ver"
			rm -rf "$dest"
			mv "$dest.new" "$dest"
			touch "$dest/.rmigration-fetched"
			echo "$dest"
			return 0
		fi
		log "$rel $ver is not in Debian's registry (any more): trying the next"
		rm -rf "$dest.new"
	done
	die "none of the stock kernels (${STOCK_KERNELS[*]}) is in Debian's registry"
)

# config_text KDIR NAME: a string option of KDIR's .config.
config_text() {
	sed -n "s/^$2=\"\(.*\)\"\$/\1/p" "$1/.config"
}

# kernel_source_of DEBVER MAJMIN DIR: prints a linux-source tree of exactly
# Debian version DEBVER: the set-up's one if it is that version, else one
# downloaded into DIR.
kernel_source_of() {
	local debver=$1 majmin=$2 dir=$3 src tarball
	if src=$(kernel_src) && [ "$(cat "$src/.rmigration-debver" 2>/dev/null)" = "$debver" ]; then
		echo "$src"
		return 0
	fi
	src=$dir/linux-source-$majmin
	if [ ! -f "$src/.rmigration-debver" ]; then
		private_apt
		log "downloading linux-source-$majmin $debver (the set-up's source is another version)"
		rm -rf "$dir"
		apt_unpack "$dir/pkg" "linux-source-$majmin=$debver" ||
			die "linux-source-$majmin $debver, the source of that kernel, is not in Debian's registry"
		tarball=$(ls "$dir"/pkg/usr/src/linux-source-*.tar.* | head -1)
		tar -C "$dir" -xf "$tarball"
		rm -rf "$dir/pkg"
		echo "$debver" > "$src/.rmigration-debver"
	fi
	echo "$src"
}

complete() (
	local kdir=$1
	debian_headers "$kdir" ||
		die "$kdir is not a Debian headers tree of a CONFIG_RUST=y kernel lacking rust/"
	kdir=$(readlink -f "$kdir")
	local rel debver key out
	rel=$(sed -n 's/^override KERNELRELEASE = //p' "$kdir/.kernelvariables")
	debver=$(sed -n 's/^#define LINUX_PACKAGE_ID " Debian \(.*\)"$/\1/p' \
		"$kdir/include/generated/package.h")
	[ -n "$rel" ] && [ -n "$debver" ] ||
		die "$kdir: no kernel release (.kernelvariables) or Debian version (include/generated/package.h)"
	# The key: the kernel, and what the copy holds (2: with the generated
	# static branch asm that kernel::jump_label's macros include).
	key=$( { cat "$kdir/.config" "$kdir/include/generated/package.h"; echo copy-2; } |
		sha256sum | cut -c1-12)
	out=$STOCK_DIR/$rel
	if [ "$(cat "$out/kdir/.rmigration-complete" 2>/dev/null)" = "$key" ]; then
		echo "$out/kdir/build"
		return 0
	fi
	mkdir -p "$out"
	exec 8>"$out/.lock"
	flock 8
	if [ "$(cat "$out/kdir/.rmigration-complete" 2>/dev/null)" = "$key" ]; then
		echo "$out/kdir/build"
		return 0
	fi
	log "$kdir is a Debian headers tree without rust/ (no *.rmeta, libmacros.so," \
	    "scripts/target.json): completing a copy of it in $out/kdir"

	# The toolchain the kernel records; the root must have exactly that rustc.
	local rustc_text cc_text cc arch root_rustc root_cc
	rustc_text=$(config_text "$kdir" CONFIG_RUSTC_VERSION_TEXT)
	cc_text=$(config_text "$kdir" CONFIG_CC_VERSION_TEXT)
	cc=${cc_text%% *}
	arch=$(sed -n 's/^override ARCH = //p' "$kdir/.kernelvariables")
	root
	root_rustc=$(root run 'rustc --version' 2>/dev/null) || true
	[ "$root_rustc" = "$rustc_text" ] ||
		die "the kernel was built by '$rustc_text'; the trixie build root ($STOCK_ROOT," \
		    "Debian trixie main) has '${root_rustc:-no rustc}': the kernel's rustc is missing" \
		    "(a Rust module needs exactly that version)"
	root run "command -v $cc" >/dev/null ||
		die "the kernel was built by '$cc_text'; $cc is missing in the trixie build root ($STOCK_ROOT)"
	root_cc=$(root run "$cc --version | head -1")
	[ "$root_cc" = "$cc_text" ] ||
		log "note: the kernel records '$cc_text', the root has '$root_cc'"

	local src rb mk
	src=$(kernel_source_of "$debver" "$(echo "$rel" | cut -d. -f1-2)" "$out/src")
	rb=$out/rust-build
	rm -rf "$rb"
	mkdir -p "$rb"
	cp "$kdir/.config" "$rb/.config"
	mk="make -s -C $src O=$rb ARCH=$arch CROSS_COMPILE=${cc%gcc*} CC=$cc HOSTCC=$cc KERNELRELEASE=$rel"
	root run "$mk olddefconfig" >&2
	diff <(grep '^CONFIG_' "$kdir/.config") <(grep '^CONFIG_' "$rb/.config") >&2 ||
		die "olddefconfig changed the kernel's .config (above): the toolchain differs"
	log "building the Rust artifacts of $rel (make prepare, about 4 minutes on 2 cores)"
	local start=$SECONDS
	flock -s "$QUIET_LOCK" "$TOP/scripts/llvm-root.sh" --stock run "$mk -j$(nproc) prepare" >&2
	log "Rust artifacts built in $((SECONDS - start)) s"

	# The copy: Debian splits a headers tree into the flavour's objtree
	# (KDIR), the common srctree and linux-kbuild's scripts, linked by
	# absolute paths and relative symlinks; the copy keeps that shape with
	# its own paths.
	local common kbuild tmp=$out/kdir.new
	common=$(dirname "$(sed -n 's/^include //p' "$kdir/Makefile")")
	[ -d "$common" ] || common=$(dirname "$kdir")/$(basename "$common")
	kbuild=$(dirname "$(readlink -f "$kdir/scripts")")
	[ -f "$common/Makefile" ] && [ -d "$kbuild/scripts" ] ||
		die "$kdir: its common headers ($common) or linux-kbuild ($kbuild) are missing"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	cp -a "$common" "$tmp/common"
	cp -a "$kbuild" "$tmp/kbuild"
	cp -a "$kdir" "$tmp/build"
	local t l
	for t in common build; do
		for l in scripts tools; do
			rm -f "$tmp/$t/$l"
			ln -s "../kbuild/$l" "$tmp/$t/$l"
		done
	done
	printf 'KBUILD_OUTPUT=%s\ninclude %s\n' "$out/kdir/build" "$out/kdir/common/Makefile" \
		> "$tmp/build/Makefile"
	mkdir -p "$tmp/build/rust" "$tmp/common/rust"
	cp "$rb"/rust/*.rmeta "$rb"/rust/*.so "$tmp/build/rust/"
	# static_branch_unlikely!() (the module's trace events) includes it.
	if [ -f "$rb/rust/kernel/generated_arch_static_branch_asm.rs" ]; then
		mkdir -p "$tmp/build/rust/kernel"
		cp "$rb/rust/kernel/generated_arch_static_branch_asm.rs" "$tmp/build/rust/kernel/"
	fi
	cp "$rb/scripts/target.json" "$tmp/kbuild/scripts/"
	# The module's bindgen rule (Kbuild) takes its C flags from rust/Makefile,
	# which may ask bindgen for its libclang version with this header.
	cp "$src/rust/Makefile" "$tmp/common/rust/Makefile"
	cp "$src/scripts/rust_is_available_bindgen_libclang.h" "$tmp/kbuild/scripts/"
	rm -rf "$out/kdir" "$rb"
	mv "$tmp" "$out/kdir"
	echo "$key" > "$out/kdir/.rmigration-complete"
	log "completed: $out/kdir/build"
	echo "$out/kdir/build"
)

# prepare: everything the suite needs before its VM (build root, download,
# Rust artifacts, the module), so that it can be made beside other work;
# prints the module's directory.
prepare() {
	fetch >/dev/null
	"$TOP/scripts/build.sh" stock
}

# guest MODDIR [TEST...]: the command that runs the kselftests in the stock
# kernel's VM, with the modules of MODDIR (scripts/build.sh stock).
guest() {
	local mod=$1 src
	shift
	src=$(kernel_src) || die "no kernel source: run scripts/setup.sh"
	# The directory once, in a variable: the command rides on the guest
	# kernel's command line (COMMAND_LINE_SIZE, 2048 bytes on x86).
	echo "M=$mod;" \
		"KTAP_HELPERS=$src/tools/testing/selftests/kselftest/ktap_helpers.sh" \
		"RMIGRATION_KO=\$M/rmigration.ko" \
		"RMIGRATION_CLIENT_KO=\$M/tests/modules/rmigration_client/rmigration_client.ko" \
		"RMIGRATION_BENCH_KO=\$M/tests/modules/rmigration_bench/rmigration_bench.ko" \
		"RMIGRATION_STARVE_RATES=0" \
		"tests/runner.sh rmigration_distro.sh ${*:-$STOCK_TESTS}"
}

# suite [TEST...]: the kselftests on the stock kernel, alone (scripts/check.sh
# runs the same in its VM); prints their KTAP output and returns vng's exit
# status.
suite() {
	local vmlinuz mod
	vmlinuz=$("$0" vmlinuz)
	mod=$("$TOP/scripts/build.sh" stock)
	VM_NAME=stock flock -s "$QUIET_LOCK" "$TOP/scripts/vm.sh" "$vmlinuz" "${STOCK_VCPUS:-4}" \
		"${RMIGRATION_VM_TIMEOUT:-1500}" "$(guest "$mod" "$@")"
}

case ${1:-} in
fetch)		fetch ;;
vmlinuz)	pkg=$(fetch); rel=$(basename "$(dirname "$pkg")")
		echo "$pkg/usr/lib/modules/$rel/vmlinuz" ;;
complete)	[ $# -eq 2 ] || die "usage: $0 complete KDIR"
		complete "$2" ;;
kdir)		if debian_headers "${KDIR:-}"; then
			complete "$KDIR"
		else
			pkg=$(fetch); rel=$(basename "$(dirname "$pkg")")
			complete "$pkg/usr/src/linux-headers-$rel"
		fi ;;
prepare)	prepare ;;
guest)		shift; [ $# -ge 1 ] || die "usage: $0 guest MODDIR [TEST...]"
		guest "$@" ;;
suite)		shift; suite "$@" ;;
*)		die "usage: $0 fetch|vmlinuz|complete KDIR|kdir|prepare|guest MODDIR [TEST...]|suite [TEST...]" ;;
esac
