#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: bpfprof serve under a long run of mixed requests (REQUESTS,
# default 10000): good ones (the index, cmdline, symbol, with the token),
# refused ones (no token, a wrong token, no Host, bad parameters, unknown
# paths and methods, a body too big: the server hangs up, curl says 000),
# raw garbage on the socket, clients that hang up mid-request, and a few
# real captures, some cut short.  The server's RSS, descriptors and threads
# are sampled after a warm-up and at the end: a leak per request shows as
# growth.  Not a test: it prints.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

REQUESTS=${REQUESTS:-10000}
# Requests per curl process (one connection, kept alive where HTTP allows).
BATCH=500
tmp=$(mktemp -d)
idle= srv=
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; [ -n "$idle" ] && kill "$idle" 2>/dev/null; rm -rf "$tmp"' EXIT
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

sleep 3600 &
idle=$!
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/token"
token=$(cat "$tmp/token")
build/bpfprof serve -p "$idle" --listen 127.0.0.1:0 --token-file "$tmp/token" \
	--max-captures 2 2>"$tmp/log" &
srv=$!
port=
for _ in $(seq 200); do
	port=$(sed -n 's|.* on http://127.0.0.1:\([0-9]*\)/debug/pprof/$|\1|p' "$tmp/log")
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { echo "serve did not start: $(cat "$tmp/log")" >&2; exit 1; }
base=http://127.0.0.1:$port/debug/pprof
auth="Authorization: Bearer $token"

# sample: "RSS_KiB FDS THREADS" of the server.
sample() {
	echo "$(awk '/^VmRSS:/ { print $2 }' "/proc/$srv/status")" \
		"$(ls "/proc/$srv/fd" | wc -l)" \
		"$(awk '/^Threads:/ { print $2 }' "/proc/$srv/status")"
}

# The mix, one curl config block per request (see curl -K, "next").
kinds=(index cmdline symbol symbol_post noauth badtoken nohost badsecs oversecs
	unknown method bigbody traversal longquery)
config() {
	local i=$1 k=${kinds[$(($1 % ${#kinds[@]}))]}
	echo "url = \"$base/$(case $k in
		index | nohost | method | bigbody) ;;
		cmdline) echo cmdline ;;
		symbol | symbol_post) echo symbol ;;
		noauth | badtoken) echo heap ;;
		badsecs) echo 'profile?seconds=soon' ;;
		oversecs) echo 'profile?seconds=99999' ;;
		unknown) echo "nosuch$i" ;;
		traversal) echo '..%2f..%2fetc%2fpasswd' ;;
		longquery) printf '?x=%0900d' 0 ;;
		esac)\""
	[ "$k" = noauth ] || echo "header = \"Authorization: Bearer $([ "$k" = badtoken ] && echo x || echo "$token")\""
	case $k in
	nohost) echo 'header = "Host:"' ;;
	method) echo 'request = "DELETE"' ;;
	symbol_post) echo 'data = "0x401000+0x401010"' ;;
	bigbody) echo "data = \"@$tmp/big\"" ;;
	esac
	echo 'output = "/dev/null"'
	echo 'max-time = 10'
	echo 'write-out = "%{http_code}\n"'
	echo 'next' # the last one is cut: curl wants a URL after it
}
head -c 100000 /dev/zero | tr '\0' x >"$tmp/big"

# raw BYTES: sends BYTES on a new connection and hangs up (in a subshell:
# the server may hang up first, and a SIGPIPE must not end this script).
raw() {
	(
		trap '' PIPE
		exec 3<>"/dev/tcp/127.0.0.1/$port"
		printf "$1" >&3
		timeout 1 cat <&3 >/dev/null
	) 2>/dev/null || true
}

# Warm-up: every kind once, a capture, then the baseline.
for i in $(seq 0 $((${#kinds[@]} - 1))); do config "$i"; done | sed '$d' >"$tmp/warm"
curl -s -K "$tmp/warm" >/dev/null
curl -s -o /dev/null -H "$auth" "$base/profile?seconds=1"
sleep 0.5
before=$(sample)
t0=$(date +%s.%N)

sent=0 captures=0 hangups=0 garbage=0
while [ "$sent" -lt "$REQUESTS" ]; do
	n=$((REQUESTS - sent < BATCH ? REQUESTS - sent : BATCH))
	for i in $(seq "$sent" $((sent + n - 1))); do config "$i"; done | sed '$d' >"$tmp/batch"
	curl -s -K "$tmp/batch" >>"$tmp/codes" || true
	sent=$((sent + n))
	# Between batches: garbage on the socket, a capture, one cut short.
	raw 'GARBAGE\r\n\r\n'
	raw 'GET /debug/pprof/ HTTP/9.9\r\nHost: x\r\n\r\n'
	raw 'GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nX-Half: '
	raw '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'
	garbage=$((garbage + 4))
	curl -s -o /dev/null -H "$auth" "$base/goroutine?debug=1" && captures=$((captures + 1))
	curl -s -o /dev/null -m 0.5 -H "$auth" "$base/profile?seconds=5" || hangups=$((hangups + 1))
done
t1=$(date +%s.%N)
# Give the captures cut short their time to end, as a client's would.
for _ in $(seq 50); do
	[ "$(ls "/proc/$srv/task" | wc -l)" -le "$(echo "$before" | awk '{ print $3 }')" ] && break
	sleep 0.1
done
after=$(sample)

echo "serve: $sent requests through curl in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s," \
	"plus $garbage raw garbage connections, $captures goroutine captures, $hangups profile captures cut short"
echo
echo "| status | requests |"
echo "|---|---|"
sort "$tmp/codes" | uniq -c | awk '{ printf "| %s | %d |\n", $2, $1 }'
echo
echo "| server | after warm-up | after the run | growth |"
echo "|---|---|---|---|"
paste <(echo "$before" | tr ' ' '\n') <(echo "$after" | tr ' ' '\n') |
	awk 'BEGIN { split("RSS (KiB),descriptors,threads", name, ",") }
	     { printf "| %s | %d | %d | %+d |\n", name[NR], $1, $2, $2 - $1 }'
kill -0 "$srv" 2>/dev/null && echo && echo "the server is still up"
