#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages bpfprof needs to build and test; quiet and
# idempotent: it only calls apt-get when something is missing.
set -euo pipefail

pkgs=(
	clang llvm make gcc pkg-config clang-format
	libbpf-dev libelf-dev libdw-dev zlib1g-dev libmicrohttpd-dev libcurl4-openssl-dev
	protobuf-compiler python3 libjson-c-dev
	podman runc yamllint
	bpftool
	libcmocka-dev
	golang-go
	linux-perf time bpftrace curl
	g++ libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
	nodejs openjdk-17-jdk-headless
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "bpfprof: missing packages: ${missing[*]} (run 'make deps' as root)" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# Quiet: dpkg's and debconf's chatter (e.g. "delaying package configuration") goes.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2> >(grep -v '^debconf: ' >&2)
