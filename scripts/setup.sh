#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs everything rmigration needs on a bare Debian 12 machine, idempotently:
# host packages (system apt), and under $CACHE the kernel source, rust-src,
# bindgen, libclang, virtme-ng, herd7 and loom's crates. The system's apt
# sources are never touched: newer Debian suites are reached through a
# private apt configuration.
set -euo pipefail
. "$(dirname "$0")/env.sh"

mkdir -p "$CACHE" "$TOOLS"

host_packages() {
	local missing=() p
	for p in "${HOST_PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing host packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# apt_fetch DIR PKG...: downloads the first available of PKG... and unpacks it into DIR.
apt_fetch() {
	local dest=$1 p ver
	shift
	for p in "$@"; do
		ver=$(apt-cache "${APT_OPTS[@]}" policy "$p" 2>/dev/null |
			sed -n 's/^ *Candidate: *//p')
		[ -n "$ver" ] && [ "$ver" != "(none)" ] || { log "$p: not in the registry, trying the next"; continue; }
		log "downloading $p $ver"
		apt_unpack "$dest" "$p=$ver" || return 1
		FETCHED_VERSION=$ver
		return 0
	done
	return 1
}

# The Debian version of the unpacked source is kept beside it
# (.rmigration-debver): Debian's stock kernel needs the source of exactly
# its own version (scripts/stock.sh).
kernel_source() {
	local src deb
	if src=$(kernel_src); then
		# Trees unpacked before the version was recorded: read it from the
		# package still in the archive.
		[ -f "$src/.rmigration-debver" ] && return 0
		deb=$(ls "$APT_DIR/archives/$(basename "$src")"_*.deb 2>/dev/null | head -1)
		[ -n "$deb" ] && dpkg-deb -f "$deb" Version > "$src/.rmigration-debver"
		return 0
	fi
	apt_fetch "$KSRC_ROOT/pkg" "${KERNEL_PKGS[@]}" ||
		die "none of ${KERNEL_PKGS[*]} is in Debian's registry"
	local tarball
	tarball=$(ls "$KSRC_ROOT"/pkg/usr/src/linux-source-*.tar.* | head -1)
	log "unpacking $(basename "$tarball")"
	tar -C "$KSRC_ROOT" -xf "$tarball"
	rm -rf "$KSRC_ROOT/pkg"
	src=$(kernel_src) || die "kernel source did not unpack"
	echo "$FETCHED_VERSION" > "$src/.rmigration-debver"
}

rust_src() {
	if rust_lib_src >/dev/null; then return 0; fi
	local ver=${RUSTC_VERSION}
	# Debian names it rust-src with the upstream version as a prefix of its version.
	local cand
	cand=$(apt-cache "${APT_OPTS[@]}" madison rust-src 2>/dev/null |
		awk -v v="$ver" '$3 ~ "^"v"\\+" {print $3; exit}')
	[ -n "$cand" ] || die "rust-src $ver is not in Debian's registry (trixie-backports, sid)"
	log "downloading rust-src $cand"
	(cd "$APT_DIR/archives" && apt-get "${APT_OPTS[@]}" download -qq "rust-src=$cand")
	mkdir -p "$RUST_SRC_ROOT"
	dpkg -x "$APT_DIR/archives/rust-src_${cand//:/%3a}_all.deb" "$RUST_SRC_ROOT"
	rust_lib_src >/dev/null || die "rust-src did not unpack"
}

rustc_toolchain() {
	rustc --version 2>/dev/null | grep -q "^rustc $RUSTC_VERSION " && return 0
	log "rustc $RUSTC_VERSION is not installed: trying rustup"
	rustup toolchain install "$RUSTC_VERSION" --profile minimal -c rustfmt -c clippy ||
		die "rustc $RUSTC_VERSION is needed (rust-toolchain.toml) and rustup could not install it"
}

bindgen() {
	"$BINDGEN" --version 2>/dev/null | grep -q " $BINDGEN_VERSION" && return 0
	log "installing bindgen-cli $BINDGEN_VERSION (cargo, a few minutes)"
	cargo install --quiet --locked --root "$TOOLS/bindgen" "bindgen-cli@$BINDGEN_VERSION"
}

libclang() {
	[ -e "$LIBCLANG_PATH/libclang.so" ] && return 0
	log "fetching the libclang $LIBCLANG_VERSION wheel"
	local tmp
	tmp=$(mktemp -d)
	"$VENV/bin/pip" download -q --no-deps --only-binary=:all: \
		--platform manylinux2010_x86_64 -d "$tmp" "libclang==$LIBCLANG_VERSION" ||
		die "libclang==$LIBCLANG_VERSION is not on PyPI"
	mkdir -p "$TOOLS/libclang"
	"$VENV/bin/python3" -m zipfile -e "$tmp"/libclang-*.whl "$TOOLS/libclang"
	rm -rf "$tmp"
	[ -e "$LIBCLANG_PATH/libclang.so" ] || die "libclang.so not found in the wheel"
}

virtme_ng() {
	"$VNG" --version 2>/dev/null | grep -q "$VNG_VERSION" && return 0
	log "installing virtme-ng $VNG_VERSION"
	/usr/bin/python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q "virtme-ng==$VNG_VERSION"
}

# qemu: bookworm-backports' QEMU $QEMU_SERIES, unpacked (not installed)
# under $QEMU_ROOT with a private apt configuration of its own; it finds
# its firmware (SeaBIOS, iPXE) in bookworm's qemu-system-x86 packages.
qemu() {
	"$QEMU" --version 2>/dev/null | grep -q "version $QEMU_SERIES\." && return 0
	local dir=$CACHE/apt-bookworm-backports ver opts
	mkdir -p "$dir/lists/partial" "$dir/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" \
		> "$dir/sources.list"
	opts=(-o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts=-
	      -o Dir::State::Lists="$dir/lists" -o Dir::Cache::archives="$dir/archives"
	      -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
	apt-get "${opts[@]}" update -qq
	ver=$(apt-cache "${opts[@]}" madison qemu-system-x86 |
		awk -v s="$QEMU_SERIES" '$3 ~ "^1:"s"\\." {print $3; exit}')
	[ -n "$ver" ] || die "QEMU $QEMU_SERIES is not in bookworm-backports"
	log "downloading QEMU $ver (bookworm-backports)"
	(cd "$dir/archives" && apt-get "${opts[@]}" download -qq \
		"qemu-system-x86=$ver" "qemu-system-common=$ver" "qemu-system-data=$ver") ||
		die "could not download QEMU $ver"
	rm -rf "$QEMU_ROOT.new"
	for deb in "$dir"/archives/qemu-system-{x86,common,data}_"${ver//:/%3a}"_*.deb; do
		dpkg -x "$deb" "$QEMU_ROOT.new"
	done
	if ldd "$QEMU_ROOT.new/usr/bin/qemu-system-x86_64" | grep 'not found'; then
		die "QEMU $ver lacks the libraries above"
	fi
	rm -rf "$QEMU_ROOT" && mv "$QEMU_ROOT.new" "$QEMU_ROOT"
	"$QEMU" --version | head -n 1 >&2
}

host_packages
qemu
private_apt
# herd7 for tests/litmus.sh: sid's, unpacked under $TOOLS.
"$(dirname "$0")/herd7.sh" >&2
# A Debian headers tree (make module KDIR=/lib/modules/$(uname -r)/build on a
# Debian machine): everything else is built in a trixie root by
# scripts/stock.sh, with the toolchain that kernel records.
if debian_headers "${KDIR:-}"; then
	log "set-up complete for $KDIR (Debian headers): cache in $CACHE"
	exit 0
fi
rustc_toolchain
# loom and its crates for tests/loom.sh, under $CACHE/cargo.
"$TOP/tests/loom.sh" --fetch >&2 || die "the crates of tests/loom could not be fetched (crates.io)"
kernel_source &
src_pid=$!
rust_src
virtme_ng
libclang
bindgen
wait $src_pid || die "kernel source"
log "set-up complete: cache in $CACHE"
