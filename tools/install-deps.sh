#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages bpfprof needs to build and test; quiet and
# idempotent: it only calls apt-get when something is missing.
set -euo pipefail

pkgs=(
	clang llvm make gcc pkg-config clang-format
	libbpf-dev libelf-dev libdw-dev zlib1g-dev libmicrohttpd-dev libcurl4-openssl-dev
	protobuf-compiler python3 libjson-c-dev
	podman runc yamllint python3-yaml systemd
	bpftool
	libcmocka-dev
	golang-go
	linux-perf time bpftrace curl
	g++ libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
	xxd chromium nodejs openjdk-17-jdk-headless
	redis-server
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Debian's npm is a package of its own; a nodejs from elsewhere brings its own npm.
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "bpfprof: missing packages: ${missing[*]} (run 'make deps' as root)" >&2
		exit 1
	fi
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# Quiet: dpkg's and debconf's chatter (e.g. "delaying package configuration") goes.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2> >(grep -v '^debconf: ' >&2)
fi

# playwright-core, pinned by tests/package.json and package-lock.json, into
# build/node_modules: the flame graph page's browser tests drive Debian's
# chromium with it (it downloads no browser).  Without a network the tests
# skip; make deps goes on.
cd "$(dirname "$0")/.."
want=$(sed -n 's/.*"playwright-core": "\(.*\)".*/\1/p' tests/package.json)
have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' build/node_modules/playwright-core/package.json 2>/dev/null || true)
if [ "$want" != "$have" ]; then
	mkdir -p build
	cp tests/package.json tests/package-lock.json build/
	(cd build && npm ci --no-audit --no-fund --silent >/dev/null 2>&1) ||
		echo "bpfprof: cannot install playwright-core from npm (offline?): the browser tests will skip" >&2
fi
