#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the bpfprof image FROM scratch (deploy/Containerfile): stages the
# binary and every shared library `ldd` lists, at the paths the dynamic
# linker will look for them, then runs `podman build`.
#
# usage: deploy/build-image.sh [IMAGE [BINARY]]   (default bpfprof, build/bpfprof)
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:-bpfprof}
bin=${2:-build/bpfprof}
[ -x "$bin" ] || { echo "build-image: no $bin: run make first" >&2; exit 1; }

ctx=$(mktemp -d "${TMPDIR:-/tmp}/bpfprof-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/bin" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$bin" "$root/usr/bin/bpfprof"

# "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" and the loader's
# "/lib64/ld-linux-x86-64.so.2 (0x...)": copy each file (not its symlink)
# under the name the binary or the loader asks for.
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done

podman ${PODMAN_FLAGS:-} build -q -f deploy/Containerfile -t "$image" "$ctx"
