#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates vmlinux.h from the running kernel's BTF.  The result is
# committed: CO-RE relocations make one header work on every kernel with BTF.
set -euo pipefail
out=${1:?usage: gen-vmlinux.sh OUTPUT}
btf=/sys/kernel/btf/vmlinux
[ -r "$btf" ] || { echo "gen-vmlinux: $btf not readable: kernel without BTF" >&2; exit 1; }
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
