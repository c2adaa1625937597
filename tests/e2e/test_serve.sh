#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof serve: Go's /debug/pprof/ endpoints, read by curl and by go tool
# pprof itself, against cpu_split (50/30/20% in three functions) and the
# other workloads; errors, the capture limit, Ctrl-C and a target that exits.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "serve: end-to-end"

# Loopback only: no proxy a CI environment may set is asked.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# start_serve ARGS...: serve on a free port of 127.0.0.1; sets SERVE,
# SERVE_LOG and URL (ends with /debug/pprof/).
start_serve() { serve_start --listen 127.0.0.1:0 "$@"; }

# capture_running: waits (10 s at most) until serve runs a capture, each of
# which is a child process; sets CAPTURE to its pid.
capture_running() {
	for _ in $(seq 200); do
		CAPTURE=$(pgrep -P "$SERVE" | head -n1)
		[ -n "$CAPTURE" ] && return 0
		sleep 0.05
	done
	echo "  (serve started no capture)" >&2
	return 1
}

# get PATH [CURL_ARGS...]: the status code; the body goes to $TMP/body.
get() {
	local path=$1
	shift
	curl -s -o "$TMP/body" -w '%{http_code}' "$@" "$URL$path"
}

# raw_has PATTERN: go tool pprof -raw of $TMP/body has a line matching PATTERN.
raw_has() {
	go tool pprof -raw "$TMP/body" 2>/dev/null | grep -qE "$1"
}

start_workload cpu_split 0 1 || exit 1
pid=$WPID
start_serve -p "$pid" -v || exit 1
check "serve names its target and address" grep -q "serving profiles of pid $pid on http://127.0.0.1:" "$SERVE_LOG"

check "the index page (200)" test "$(get '')" = 200
check "the index links every profile" sh -c "grep -q \"href='profile?seconds=10'\" '$TMP/body' && grep -q \"href='goroutine?debug=1'\" '$TMP/body'"
check "/debug/pprof without the slash: the index too" \
	test "$(curl -s -o /dev/null -w '%{http_code}' "${URL%/}")" = 200

# --- the CPU profile, as go tool pprof fetches it ---
go tool pprof -raw "${URL}profile?seconds=3&hz=499" >"$TMP/fetch.raw" 2>"$TMP/fetch.err"
check "go tool pprof reads profile?seconds=3 over HTTP" grep -q "^PeriodType: cpu nanoseconds" "$TMP/fetch.raw"
check "... at hz=499: period 2004008 ns" grep -q "^Period: 2004008$" "$TMP/fetch.raw"
check "... the window asked for (Duration: 3 s)" grep -qE "^Duration: 3\.[0-9]+$" "$TMP/fetch.raw"
check "get profile (200)" test "$(get 'profile?seconds=3&hz=499')" = 200
expect_split "serve profile" "$TMP/body"
check "serve profile: the target's program is the first mapping (File: cpu_split)" \
	sh -c "go tool pprof -top '$TMP/body' 2>/dev/null | grep -qx 'File: cpu_split'"
check "get profile?debug=1: the top table as text" sh -c "test \"\$(curl -s '${URL}profile?seconds=1&debug=1' | tee '$TMP/top.txt' | grep -c ' burn_[abc]$')\" = 3"
check "... without the line naming the server's file" \
	sh -c "grep -q ' burn_a$' '$TMP/top.txt' && ! grep -q '^wrote ' '$TMP/top.txt'"

# --- the other profiles ---
check "goroutine (200)" test "$(get goroutine)" = 200
check "goroutine: threads/count, one thread, in burn_a/b/c or worker" \
	sh -c "go tool pprof -raw '$TMP/body' 2>/dev/null | grep -q '^ *threads/count' && go tool pprof -top '$TMP/body' 2>/dev/null | grep -qE ' (burn_[abc]|worker)$'"
check "goroutine?debug=2: the text view" sh -c "test \"\$(curl -s '${URL}goroutine?debug=2' | head -n1)\" = 'process $pid (cpu_split): 1 thread'"
check "goroutine?seconds=1: refused (400)" test "$(get 'goroutine?seconds=1')" = 400
check "block?seconds=1 (200): Go's block profile names" sh -c "test \"\$(curl -s -o '$TMP/body' -w '%{http_code}' '${URL}block?seconds=1')\" = 200 && go tool pprof -raw '$TMP/body' 2>/dev/null | grep -q '^ *contentions/count delay/nanoseconds'"
check "mutex?seconds=1 (200): holders, Go's mutex profile" sh -c "test \"\$(curl -s -o '$TMP/body' -w '%{http_code}' '${URL}mutex?seconds=1')\" = 200 && go tool pprof -raw '$TMP/body' 2>/dev/null | grep -q '^PeriodType: contentions count'"
check "threadcreate?seconds=1 (200)" sh -c "test \"\$(curl -s -o '$TMP/body' -w '%{http_code}' '${URL}threadcreate?seconds=1')\" = 200 && go tool pprof -raw '$TMP/body' 2>/dev/null | grep -q '^PeriodType: threadcreate count'"
check "heap?seconds=1 (200): inuse_space first" sh -c "test \"\$(curl -s -o '$TMP/body' -w '%{http_code}' '${URL}heap?seconds=1')\" = 200 && go tool pprof -raw '$TMP/body' 2>/dev/null | grep -q 'inuse_space/bytes\\[dflt\\]'"
check "allocs?seconds=1 (200): alloc_space first" sh -c "test \"\$(curl -s -o '$TMP/body' -w '%{http_code}' '${URL}allocs?seconds=1')\" = 200 && go tool pprof -raw '$TMP/body' 2>/dev/null | grep -q 'alloc_space/bytes\\[dflt\\]'"
check "cmdline: the target's" sh -c "test \"\$(curl -s '${URL}cmdline' | tr '\\0' ' ')\" = \"\$(tr '\\0' ' ' </proc/$pid/cmdline)\""
check "symbol: nothing to look up" test "$(curl -s "${URL}symbol")" = "num_symbols: 0"

# --- refused requests: status, and pprof shows the reason ---
check "an unknown profile: 404" test "$(get nothing)" = 404
check "... saying so" grep -q "Unknown profile: nothing" "$TMP/body"
check "seconds=abc: 400" test "$(get 'profile?seconds=abc')" = 400
check "seconds over --max-seconds: 400" test "$(get 'profile?seconds=100000')" = 400
check "a bad hz, refused by the capture itself: 400 with its message" \
	sh -c "test \"\$(curl -s -o '$TMP/body' -w '%{http_code}' '${URL}profile?seconds=1&hz=0')\" = 400 && grep -q 'invalid' '$TMP/body'"
check "POST: 405" test "$(get profile -X POST)" = 405
check "outside /debug/pprof/: 404" test "$(curl -s -o /dev/null -w '%{http_code}' "${URL%/debug/pprof/}/metrics")" = 404
go tool pprof -raw "${URL}profile?seconds=abc" >/dev/null 2>"$TMP/bad.err"
check "go tool pprof prints the server's reason" grep -q "invalid seconds 'abc'" "$TMP/bad.err"
check "every request is logged with -v" grep -q "GET /debug/pprof/profile?seconds=abc: 400" "$SERVE_LOG"

# --- Ctrl-C: the capture running ends now and is answered; serve exits 0 ---
curl -s -o "$TMP/cut.pb.gz" -w '%{http_code}' "${URL}profile?seconds=60" >"$TMP/cut.code" &
req=$!
# The capture is sampling once its perf events are open; a second of it.
capture_running && wait_fd "$CAPTURE" perf_event 20
sleep 1
kill -INT "$SERVE"
wait "$req"
wait "$SERVE"
check "Ctrl-C: serve exits 0" test $? -eq 0
check "Ctrl-C: the capture in progress is answered (200)" test "$(cat "$TMP/cut.code")" = 200
check "... a valid profile of a few seconds, not 60" sh -c "go tool pprof -raw '$TMP/cut.pb.gz' 2>/dev/null | grep -qE '^Duration: [0-9]\\.[0-9]+$'"
check "... with burn_a in it" test -n "$(pprof_share "$TMP/cut.pb.gz" burn_a)"

# --- one capture at a time: the next gets 503 ---
start_serve -p "$pid" --max-captures 1 -v || exit 1
curl -s -o /dev/null "${URL}profile?seconds=3" &
req=$!
capture_running
check "--max-captures 1: a second capture meanwhile gets 503" test "$(get 'block?seconds=1')" = 503
check "... saying why" grep -q "busy: 1 captures are running" "$TMP/body"
check "... while the index still answers" test "$(get '')" = 200
wait "$req"
check "... and the next capture, once the first is done, 200" test "$(get 'goroutine')" = 200
# A client that gives up: its capture ends at once, freeing the slot.
curl -s -o /dev/null --max-time 1 "${URL}profile?seconds=60"
for _ in $(seq 10); do
	[ "$(get goroutine)" = 200 ] && break
	sleep 0.3
done
check "a client that hangs up: its capture of 60 s is aborted, the slot free within 3 s (200)" \
	test "$(get goroutine)" = 200
check "... logged" grep -q "the client went away: capture [0-9]* aborted" "$SERVE_LOG"

# --- the target exits: serve ends ---
stop_workload "$pid"
for _ in $(seq 60); do
	kill -0 "$SERVE" 2>/dev/null || break
	sleep 0.1
done
wait "$SERVE"
check "the target exited: serve exits 0" test $? -eq 0
check "... saying so" grep -q "pid $pid has exited: nothing left to serve" "$SERVE_LOG"

# --- a whole-system server passes on each capture's own refusal ---
start_serve -a -d 30 || exit 1
check "serve -a: heap?seconds=1 is refused by heap itself (400)" test "$(get 'heap?seconds=1')" = 400
check "... with heap's message" grep -q "uprobes need processes" "$TMP/body"
check "serve -a: cmdline: no single process (404)" test "$(get cmdline)" = 404
kill -TERM "$SERVE"
wait "$SERVE"
check "SIGTERM: serve exits 0" test $? -eq 0

# --- a cgroup whose path is long, as container runtimes make them ---
cg_root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
cg_top=$cg_root/bpfprof-serve.$$
cg=$cg_top/$(printf 'pod%.0s' $(seq 40)).slice/$(printf 'c%.0s' $(seq 120)).scope
if [ -n "$cg_root" ] && mkdir -p "$cg" 2>/dev/null; then
	start_workload cpu_split 0 1 || exit 1
	echo "$WPID" >"$cg/cgroup.procs"
	start_serve --cgroup "$cg" || exit 1
	check "serve --cgroup (a path of ${#cg} characters): profile (200)" \
		test "$(get 'profile?seconds=3&hz=499')" = 200
	expect_split "serve --cgroup" "$TMP/body"
	kill -INT "$SERVE"
	wait "$SERVE"
	stop_workload "$WPID"
	rmdir "$cg" "${cg%/*}" "$cg_top"
else
	fail "serve --cgroup: cannot create a cgroup v2 directory for the test"
fi

# --- bad command lines ---
expect "serve without a target" 2 "no target" -- "$BPFPROF" serve
expect "serve -- CMD" 2 "serve launches nothing" -- "$BPFPROF" serve -- true
expect "a bad --listen" 2 "invalid --listen 'nope:port'" -- "$BPFPROF" serve -a --listen nope:port
expect "no such pid" 3 "no such process" -- "$BPFPROF" serve -p 999999
expect "a bad --max-captures" 2 "invalid --max-captures '0'" -- "$BPFPROF" serve -a --max-captures 0
start_serve -a -d 30 || exit 1
port=${URL#http://127.0.0.1:}
port=${port%%/*}
expect "a port in use" 1 "cannot listen on 127.0.0.1:$port: Address already in use" -- \
	"$BPFPROF" serve -a --listen "127.0.0.1:$port"
kill -INT "$SERVE"
wait "$SERVE"

finish
