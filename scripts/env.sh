# SPDX-License-Identifier: GPL-2.0
# Shared settings of the rmigration scripts: pinned versions and cache paths.
# Sourced, never run. Everything lives outside the checkout, under $CACHE.

# shellcheck disable=SC2034

CACHE=${RMIGRATION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rmigration}
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Pinned versions (see README, "Set-up").
KERNEL_PKGS=(linux-source-7.3 linux-source-7.2)
RUSTC_VERSION=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$TOP/rust-toolchain.toml")
BINDGEN_VERSION=0.72.1
LIBCLANG_VERSION=18.1.1
VNG_VERSION=1.42
# Debian's stock kernel of make check: release=Debian version, first the
# pinned 7.3 one, then a 7.2 fallback (as KERNEL_PKGS). Its Rust artifacts
# need the linux-source of exactly that version and trixie main's rustc.
STOCK_KERNELS=(7.3.4+deb13-amd64=7.3.4-1~bpo13+1 7.2.12+deb13-amd64=7.2.12-1~bpo13+1)
MATPLOTLIB_VERSION=3.9.2
# QEMU for the VMs: bookworm-backports' 10.0 series, unpacked under $TOOLS
# (bookworm's 7.2 stays installed for its firmware). Bookworm's 7.2 runs
# stale translated code after the kernel patches a static branch on another
# vCPU: the guest dies in "Oops: int3" (README, "The VM").
QEMU_SERIES=10.0
HOST_PKGS=(flex bison libelf-dev libssl-dev bc cpio kmod python3-venv udev
	   qemu-system-x86 make gcc xz-utils busybox-static trace-cmd)

TOOLS=$CACHE/tools
APT_DIR=$CACHE/apt
BINDGEN=$TOOLS/bindgen/bin/bindgen
LIBCLANG_PATH=$TOOLS/libclang/libclang-$LIBCLANG_VERSION.data/platlib/clang/native
VENV=$TOOLS/vng
VNG=$VENV/bin/vng
RUST_SRC_ROOT=$TOOLS/rust-src
QEMU_ROOT=$TOOLS/qemu-$QEMU_SERIES
QEMU=$QEMU_ROOT/usr/bin/qemu-system-x86_64
KSRC_ROOT=$CACHE/src
LLVM_ROOT=$CACHE/llvm-root
STOCK_ROOT=$CACHE/stock-root
STOCK_DIR=$CACHE/stock

export RUSTUP_TOOLCHAIN=$RUSTC_VERSION
export LIBCLANG_PATH
export PATH=$TOOLS/bindgen/bin:$VENV/bin:$PATH

log() { printf '[rmigration] %s\n' "$*" >&2; }

# need_matplotlib: matplotlib in the virtme-ng venv, for the pictures
# (out/bench/bench.png, out/timeline.png).
need_matplotlib() {
	"$VENV/bin/python3" -c 'import matplotlib' 2>/dev/null && return 0
	log "installing matplotlib $MATPLOTLIB_VERSION in the virtme-ng venv"
	"$VENV/bin/pip" install -q "matplotlib==$MATPLOTLIB_VERSION"
}
die() { printf '[rmigration] error: %s\n' "$*" >&2; exit 1; }

# rust_lib_src: the library/ directory of the unpacked Debian rust-src.
rust_lib_src() {
	local d
	for d in "$RUST_SRC_ROOT"/usr/src/rustc-*/library; do
		[ -d "$d" ] && { echo "$d"; return 0; }
	done
	return 1
}

# A private apt configuration for trixie, trixie-backports and sid: used only
# to download packages, which are unpacked with dpkg -x, never installed.
# Sets APT_OPTS.
private_apt() {
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial"
	cat > "$APT_DIR/sources.list" <<-SRC
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
	SRC
	APT_OPTS=(-o Dir::Etc::sourcelist="$APT_DIR/sources.list"
		  -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$APT_DIR/lists"
		  -o Dir::Cache::archives="$APT_DIR/archives"
		  -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1
		  -o APT::Sandbox::User=root)
	if [ -z "$(find "$APT_DIR/lists" -name '*Packages*' -mtime -7 2>/dev/null | head -1)" ]; then
		log "updating the private apt lists (trixie, trixie-backports, sid)"
		apt-get "${APT_OPTS[@]}" update -qq
	fi
}

# apt_unpack DEST PKG=VERSION...: downloads exactly these versions (kept in
# $APT_DIR/archives) and unpacks them into DEST. Fails if one is missing.
apt_unpack() {
	local dest=$1 pv deb glob
	shift
	mkdir -p "$dest"
	for pv in "$@"; do
		glob="$APT_DIR/archives/${pv%%=*}_${pv#*=}"
		glob=${glob//:/%3a}
		deb=$(ls "$glob"_*.deb 2>/dev/null | head -1)
		if [ -z "$deb" ]; then
			(cd "$APT_DIR/archives" && apt-get "${APT_OPTS[@]}" download -qq "$pv") ||
				return 1
			deb=$(ls "$glob"_*.deb | head -1)
		fi
		dpkg -x "$deb" "$dest"
	done
}

# debian_headers DIR: DIR is a Debian linux-headers tree of a Rust kernel
# that lacks the Rust artifacts (rust/*.rmeta, ...) a Rust module needs.
debian_headers() {
	[ -n "$1" ] && [ -f "$1/.kernelvariables" ] && [ ! -d "$1/rust" ] &&
		grep -q '^CONFIG_RUST=y' "$1/.config" 2>/dev/null
}

# kernel_src: the unpacked linux-source tree (read-only master copy).
kernel_src() {
	local d
	for d in "$KSRC_ROOT"/linux-source-*/; do
		[ -f "$d/Makefile" ] && { echo "${d%/}"; return 0; }
	done
	return 1
}
