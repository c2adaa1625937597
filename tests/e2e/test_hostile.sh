#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hostile input: decompression bombs and odd files to report (quick, small
# memory, one line), command lines whose old messages misled, and serve's
# Host check, exposure warning and bearer token.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "hostile input"

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# --- report: bombs of 1 GiB inflated, 1 MB on disk (tests/fuzz/mkbombs.c) ---
if ! ${CC:-cc} -O2 -o "$TMP/mkbombs" tests/fuzz/mkbombs.c -lz || ! "$TMP/mkbombs" "$TMP"; then
	fail "cannot make the bombs"
	finish
	exit
fi
mkdir "$TMP/small" && "$TMP/mkbombs" "$TMP/small" 1

# bomb NAME FILE PATTERN: report exits 2 with one line matching PATTERN,
# within 20 s, its peak RSS under 128 MiB (the old reader took 1 GiB, or
# 3 GB and more, climbing).
bomb() {
	local name=$1 file=$2 pattern=$3 kib
	expect "$name" 2 "$pattern" -- /usr/bin/time -o "$TMP/time" -f '%M' "$BPFPROF" report "$file"
	kib=$(tail -n1 "$TMP/time")
	if [ -n "$kib" ] && [ "$kib" -lt 131072 ]; then
		pass "$name: peak RSS $((kib / 1024)) MiB"
	else
		fail "$name: peak RSS ${kib:-unknown} KiB (want < 128 MiB)"
	fi
}
bomb "1 GiB of gzipped zeros" "$TMP/zeros.gz" "cannot read .*zeros.gz: not a pprof profile$"
bomb "512M empty string-table entries" "$TMP/strings.gz" "cannot read .*strings.gz: not a pprof profile$"
bomb "256M valid samples, 18 GiB decoded" "$TMP/samples.gz" \
	"cannot read .*samples.gz: it takes more than 1024 MiB inflated and decoded \(--max-mem\)$"

# The same samples at 1 MiB: read by default, refused under --max-mem 1.
"$BPFPROF" report "$TMP/small/samples.gz" >"$TMP/out" 2>"$TMP/err"
check "a 1 MiB profile reads by default" grep -q 'of 262138 total' "$TMP/out"
expect "--max-mem 1 refuses it" 2 "takes more than 1 MiB inflated and decoded \(--max-mem\)" -- \
	"$BPFPROF" report --max-mem 1 "$TMP/small/samples.gz"
expect "--max-mem 0" 2 "invalid --max-mem '0'" -- "$BPFPROF" report --max-mem 0 "$TMP/small/samples.gz"
: >"$TMP/empty"
expect "an empty file" 2 "cannot read .*empty: empty input file$" -- "$BPFPROF" report "$TMP/empty"

# --- messages that misled ---
o=$TMP/x.pb.gz
expect "-o a file that exists but cannot be written" 2 'cannot write /proc/version: not writable$' -- \
	"$BPFPROF" cpu -a -d 1 -o /proc/version
printf '#!/bin/sh\nexit 0\n' >"$TMP/script.sh"
chmod 644 "$TMP/script.sh"
expect "a script without its execute bit" 3 "cannot run $TMP/script.sh: permission denied" -- \
	"$BPFPROF" cpu -o "$o" -- "$TMP/script.sh"
check "... and no profile" test ! -e "$o"
expect "-p 1234," 2 "invalid pid list '1234,'" -- "$BPFPROF" cpu -p 1234, -d 1 -o "$o"
expect "-p ,1234" 2 "invalid pid list ',1234'" -- "$BPFPROF" cpu -p ,1234 -d 1 -o "$o"

# --- serve ---
sleep 600 &
idle=$!
E2E_PIDS+=("$idle")

# start_serve ARGS...: serve the idle process on a free port; sets SERVE, SERVE_LOG and URL.
start_serve() { serve_start -p "$idle" -v "$@"; }

stop_serve() {
	kill -INT "$SERVE" 2>/dev/null
	wait "$SERVE" 2>/dev/null
}

# status PATH [CURL_ARGS...]: the HTTP status; headers in $TMP/headers.
status() {
	local path=$1
	shift
	curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "$@" "$URL$path"
}

start_serve --listen 127.0.0.1:0 || exit 1
check "loopback: no warning" sh -c "! grep -q warning '$SERVE_LOG'"
check "HTTP/1.1 with Host: 200" test "$(status '')" = 200
check "HTTP/1.1 without Host: 400" test "$(status '' -H 'Host:')" = 400
check "... and says why" grep -q 'needs one Host header' "$TMP/body"
check "HTTP/1.0 without Host: 200" test "$(status '' --http1.0 -H 'Host:')" = 200
stop_serve

start_serve --listen 0.0.0.0:0 || exit 1
check "every address: one warning line, how to restrict it" \
	sh -c "test \"\$(grep -c 'warning: .*open to the network.*--listen localhost:PORT, --token-file FILE' '$SERVE_LOG')\" = 1"
stop_serve

printf 'tok-%s\n' "$RANDOM$RANDOM" >"$TMP/token"
token=$(head -n1 "$TMP/token")
start_serve --listen 127.0.0.1:0 --token-file "$TMP/token" || exit 1
check "no token: 401" test "$(status '')" = 401
check "... with WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' "$TMP/headers"
check "a wrong token: 401" test "$(status '' -H "Authorization: Bearer ${token}x")" = 401
check "a token cut short: 401" test "$(status '' -H "Authorization: Bearer ${token%?}")" = 401
check "Basic, not Bearer: 401" test "$(status '' -u "user:$token")" = 401
check "a wrong token runs no capture" test "$(status 'profile?seconds=1' -H 'Authorization: Bearer x')" = 401
check "the token: 200" test "$(status '' -H "Authorization: Bearer $token")" = 200
check "the token: a capture" test "$(status 'profile?seconds=1' -H "Authorization: Bearer $token")" = 200
check "... whose profile reads" "$BPFPROF" report -t 1 "$TMP/body"
stop_serve
check "the captures asked with a wrong token never ran" \
	sh -c "grep -q 'GET /debug/pprof/profile?seconds=1: 401' '$SERVE_LOG' && test \"\$(grep -c 'profile?seconds=1: 200' '$SERVE_LOG')\" = 1"
expect "an empty --token-file" 2 "invalid --token-file" -- "$BPFPROF" serve -p "$idle" --token-file "$TMP/empty"

finish
