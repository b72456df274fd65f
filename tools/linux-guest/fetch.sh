#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tools/linux-guest/fetch.sh OUT_DIR - download the Debian arm64 packages the Linux-guest
# hypervisor needs, with a private apt configuration (the machine's dpkg and apt state are not
# touched, no foreign architecture is added) and cache them in OUT_DIR:
#
#   OUT_DIR/Image           the kernel of linux-image-*-cloud-arm64 (decompressed: Debian's
#                           arm64 vmlinuz is a gzip'ed Image)
#   OUT_DIR/busybox         /bin/busybox of busybox-static:arm64
#   OUT_DIR/libfdt/         libfdt.a and its headers from libfdt-dev:arm64 (linked into the
#                           hypervisor; the repository holds no libfdt)
#   OUT_DIR/kernel-version  the kernel package's version string
#
# The mirror is the one of the machine's /etc/apt/sources.list(.d) (deb.debian.org by default),
# suite bookworm, component main. Exit status 77 when the archive cannot be reached (the CTest
# tests skip on it), 1 on any other failure, 0 when everything is in OUT_DIR. Files already
# there are reused.
set -eu

out=${1:?usage: fetch.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -s "$out/Image" ] && [ -s "$out/busybox" ] && [ -s "$out/libfdt/libfdt.a" ]; then
	exit 0
fi

mirror=${S2_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
		/etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -n -e 's/^URIs: *\([^ ]*\/debian\)\/* *$/\1/p' \
		       -e 's/^deb  *\(\[[^]]*\] *\)\{0,1\}\([^ ]*\/debian\)\/* .*/\2/p' | head -n 1)
fi
mirror=${mirror:-http://deb.debian.org/debian}
suite=${S2_DEBIAN_SUITE:-bookworm}

apt=$out/apt
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc/preferences.d" \
	"$apt/etc/apt.conf.d" "$apt/dl"
cat >"$apt/etc/sources.list" <<SRC
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main
SRC
: >"$apt/status"

# Every state, cache and configuration path is private; only the keyring is the machine's.
set -- -o "Dir::Etc::SourceList=$apt/etc/sources.list" \
	-o "Dir::Etc::SourceParts=$apt/etc/sources.list.d" \
	-o "Dir::Etc::Preferences=$apt/etc/preferences" \
	-o "Dir::Etc::PreferencesParts=$apt/etc/preferences.d" \
	-o "Dir::State=$apt" -o "Dir::State::Lists=$apt/lists" \
	-o "Dir::State::status=$apt/status" \
	-o "Dir::Cache=$apt" -o "Dir::Cache::archives=$apt/archives" \
	-o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" \
	-o "APT::Architecture=arm64" -o "APT::Architectures=arm64" \
	-o "Acquire::Languages=none" -o "Acquire::Retries=2" \
	-o "Acquire::http::Timeout=20" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"

if ! apt-get "$@" -q update >"$apt/update.log" 2>&1 || grep -q '^[EW]: Failed to fetch' "$apt/update.log"; then
	cat "$apt/update.log" >&2
	echo "fetch.sh: the Debian archive ($mirror) is not reachable" >&2
	exit 77
fi

# The newest linux-image-<version>-cloud-arm64 of the suite.
pkg=$(apt-cache "$@" search --names-only '^linux-image-[0-9].*-cloud-arm64$' |
	awk '{print $1}' | grep -v -- '-dbg' | sort -V | tail -n 1)
[ -n "$pkg" ] || { echo "fetch.sh: no linux-image-*-cloud-arm64 in $suite" >&2; exit 1; }

cd "$apt/dl"
apt-get "$@" -q download "$pkg" busybox-static libfdt-dev >&2

rm -rf x && mkdir x
dpkg-deb -x "$(ls ${pkg}_*.deb | head -n 1)" x
dpkg-deb -x "$(ls busybox-static_*.deb | head -n 1)" x
dpkg-deb -x "$(ls libfdt-dev_*.deb | head -n 1)" x
vmlinuz=$(ls x/boot/vmlinuz-* | head -n 1)
# Debian's arm64 vmlinuz is a gzip'ed Image (the arm64 Image has no self-decompressor).
if gzip -t "$vmlinuz" 2>/dev/null; then
	gzip -dc "$vmlinuz" >"$out/Image.tmp"
else
	cp "$vmlinuz" "$out/Image.tmp"
fi
mv "$out/Image.tmp" "$out/Image"
cp x/bin/busybox "$out/busybox"
echo "$pkg $(basename "$vmlinuz" | sed 's/^vmlinuz-//')" >"$out/kernel-version"

rm -rf "$out/libfdt" && mkdir -p "$out/libfdt/include"
cp x/usr/lib/aarch64-linux-gnu/libfdt.a "$out/libfdt/"
cp x/usr/include/fdt.h x/usr/include/libfdt.h x/usr/include/libfdt_env.h "$out/libfdt/include/"
rm -rf x
echo "fetch.sh: $(cat "$out/kernel-version"), busybox-static, libfdt in $out" >&2
