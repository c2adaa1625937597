#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: every benchmark in tools/bench/, one table each.  Not a test.
set -eu
cd "$(dirname "$0")/.."
for b in tools/bench/*.sh; do
	[ "$b" = tools/bench/lib.sh ] && continue # sourced by the others
	echo "== $(basename "$b" .sh)"
	bash "$b"
	echo
done
