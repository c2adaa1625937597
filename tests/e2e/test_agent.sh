#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfprof agent: whole-host profiling in intervals, per service, to a
# directory, to a Pyroscope push receiver (down for 30 s on the way) and to
# scrapers (go tool pprof, /metrics); all four types at once; SIGTERM's
# flush; bad input.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "agent: end-to-end"

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# Two services: the same busy program (burn_a 50%, burn_b 30%, burn_c 20%)
# under two executable names, one thread each.  Names of this run's own: the
# agent sees the whole host, another run's services included.
SA=alpha$$ SB=beta$$
cp "$WORKLOADS/cpu_split" "$TMP/${SA}"
cp "$WORKLOADS/cpu_split" "$TMP/${SB}"
start_svc() {
	"$TMP/$1" 0 1 2>"$TMP/$1.out" &
	E2E_PIDS+=($!)
	eval "$2=$!"
	wait_line "$TMP/$1.out" '^ready' 5
}
start_svc ${SA} ALPHA
start_svc ${SB} BETA

# raw_samples FILE: "<samples> <duration in seconds> pid=<pid>..." of a CPU profile.
raw_samples() {
	local d
	d=$(go tool pprof -top "$1" 2>/dev/null | sed -n 's/^Duration: \([0-9.]*\)\(m\?s\),.*/\1 \2/p')
	go tool pprof -raw "$1" 2>/dev/null | awk -v d="$d" '
		/^Samples:/ { s = 1; next }
		/^Locations/ { s = 0 }
		s && /^ *[0-9]+ +[0-9]+:/ { n += $1 }
		s && /pid:\[/ { match($0, /pid:\[[0-9]+\]/); p[substr($0, RSTART + 5, RLENGTH - 6)] = 1 }
		END {
			split(d, du, " ")
			printf "%d %.3f", n, du[2] == "ms" ? du[1] / 1000 : du[1]
			for (k in p) printf " pid=%s", k
			printf "\n"
		}'
}

# --- 1. --output-dir: an interval per service, no sample lost or counted twice ---

HZ=99
# cpu_ns PID: the CPU time the process has had, from schedstat.
cpu_ns() { awk '{ print $1 }' "/proc/$1/task/$1/schedstat"; }
t0=$(date +%s%N) a0=$(cpu_ns $ALPHA) b0=$(cpu_ns $BETA)
"$BPFPROF" agent --output-dir "$TMP/dir1" --interval 3s -d 12s --hz $HZ -q 2>"$TMP/agent1.err"
check_rc "agent --output-dir -d 12s exits 0" $?
t1=$(date +%s%N) a1=$(cpu_ns $ALPHA) b1=$(cpu_ns $BETA)
for svc in ${SA} ${SB}; do
	files=("$TMP/dir1/$svc"/cpu-*.pb.gz)
	if [ ! -e "${files[0]}" ]; then
		fail "$svc: no profiles in --output-dir ($(ls "$TMP/dir1" 2>/dev/null | tr '\n' ' '))"
		continue
	fi
	check "$svc: one profile per 3 s interval (4 or 5 files: ${#files[@]})" \
		test "${#files[@]}" -ge 4 -a "${#files[@]}" -le 5
	if [ $svc = ${SA} ]; then pid=$ALPHA c=$((a1 - a0)); else pid=$BETA c=$((b1 - b0)); fi
	total=0 dur=0 bad= gaps= prev_end=
	for f in "${files[@]}"; do
		read -r n d pids <<<"$(raw_samples "$f")"
		total=$((total + n))
		dur=$(awk -v a="$dur" -v b="$d" 'BEGIN { print a + b }')
		[ "$pids" = "pid=$pid" ] || bad="${f##*/} has $pids (want pid=$pid)"
		start=$(date -d "$(go tool pprof -raw "$f" | sed -n 's/^Time: \(.*\) +0000 UTC/\1Z/p')" +%s.%N)
		if [ -n "$prev_end" ] && ! within "$start" "$prev_end" 0.05; then
			gaps="$gaps ${f##*/} starts at $start, the one before ended at $prev_end;"
		fi
		prev_end=$(awk -v a="$start" -v b="$d" 'BEGIN { printf "%.3f", a + b }')
	done
	check "$svc: each interval starts where the one before ended${gaps:+:$gaps}" test -z "$gaps"
	# The thread ran c ns while the agent ran; its intervals cover all of that
	# but the agent's start and exit (wall time outside them, at most).
	got=$(awk -v n="$total" -v hz=$HZ 'BEGIN { printf "%.0f", n * 1e9 / hz }')
	outside=$(awk -v w=$((t1 - t0)) -v d="$dur" 'BEGIN { printf "%.0f", w - d * 1e9 }')
	if awk -v g="$got" -v c="$c" -v o="$outside" 'BEGIN { exit !(g <= c * 1.02 && g >= (c - o) * 0.98) }'; then
		pass "$svc: $total samples = $((got / 1000000)) ms, its CPU time $((c / 1000000)) ms less at most $((outside / 1000000)) ms outside the intervals (2%)"
	else
		fail "$svc: $total samples = $((got / 1000000)) ms, want its CPU time $((c / 1000000)) ms less at most $((outside / 1000000)) ms outside the intervals (2%)"
	fi
	check "$svc: its profiles hold its own process only${bad:+: $bad}" test -z "$bad"
	check "$svc: the service's program is the first mapping (File: $svc)" \
		sh -c "go tool pprof -top '${files[1]}' 2>/dev/null | grep -qx 'File: $svc'"
	share=$(pprof_share "${files[1]}" burn_a)
	check "$svc: burn_a ${share:-absent}% (want 50 ± 8)" within "${share:-0}" 50 8
done

# --- 2. all four types at once, scraped as a Go program is ---

"$BPFPROF" agent --listen 127.0.0.1:0 --types cpu,offcpu,mutex,growth --interval 5s -d 30s \
	2>"$TMP/agent2.err" &
AGENT=$!
E2E_PIDS+=($AGENT)
URL=
for _ in $(seq 200); do
	URL=$(sed -n 's|.*http://[^ ]*\(:[0-9][0-9]*\)/debug/pprof/.*|http://127.0.0.1\1/debug/pprof/|p' "$TMP/agent2.err" | head -n1)
	[ -n "$URL" ] && break
	kill -0 $AGENT 2>/dev/null || break
	sleep 0.1
done
if [ -z "$URL" ]; then
	fail "agent --listen did not start: $(head -c 600 "$TMP/agent2.err")"
else
	pass "agent --listen with cpu, offcpu, mutex and growth: serving"
	go tool pprof -raw "${URL}profile?seconds=3&service=${SA}" >"$TMP/scrape.raw" 2>"$TMP/scrape.err"
	check "go tool pprof ${URL}profile?seconds=3&service=${SA} reads a profile" \
		grep -q '^Samples:' "$TMP/scrape.raw"
	check "the scraped profile has ${SA}'s burn_a" grep -q 'burn_a' "$TMP/scrape.raw"
	check "the scraped profile has only ${SA}'s process (pid $ALPHA)" \
		sh -c "! grep -o 'pid:\[[0-9]*\]' '$TMP/scrape.raw' | grep -qv 'pid:\[$ALPHA\]'"
	for ep in block mutex allocs; do
		code=$(curl -s -o "$TMP/$ep.pb.gz" -w '%{http_code}' "${URL}$ep")
		if [ "$code" = 200 ] && profile_ok "$TMP/$ep.pb.gz"; then
			pass "/debug/pprof/$ep (cumulative) answers a profile"
		else
			fail "/debug/pprof/$ep: HTTP $code: $(head -c 200 "$TMP/$ep.pb.gz")"
		fi
	done
	curl -s "${URL%debug/pprof/}metrics" >"$TMP/metrics"
	check "/metrics counts drains" grep -qE '^bpfprof_agent_drains_total [1-9]' "$TMP/metrics"
	check "/metrics gives the agent's memory" \
		grep -qE '^bpfprof_agent_resident_memory_bytes [1-9]' "$TMP/metrics"
	check "/metrics gives losses by cause" \
		grep -qE '^bpfprof_agent_bpf_events_total\{counter="CNT_STACK_MAP_FULL",kind="loss"\}' \
		"$TMP/metrics"
	code=$(curl -s -o /dev/null -w '%{http_code}' "${URL}heap")
	check_rc "/debug/pprof/heap: 404 (uprobe heap stays out of the agent)" "$code" 404
	# SIGTERM: the current interval is flushed and the agent exits 0 within 2 s.
	t0=$(date +%s%N)
	kill -TERM $AGENT
	wait $AGENT
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	check_rc "SIGTERM: the agent exits 0" $rc
	check "SIGTERM: it exits within 2 s (${ms} ms)" test $ms -le 2500
fi

# --- 3. --push to a Pyroscope receiver that goes away for 30 s ---

PUSHDIR=$TMP/push
mkdir -p "$PUSHDIR"
python3 tests/e2e/push_receiver.py --port 0 --dir "$PUSHDIR" --port-file "$TMP/port" \
	2>"$TMP/receiver.err" &
RECV=$!
E2E_PIDS+=($RECV)
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }
need "the push receiver started" wait_file "$TMP/port"
PORT=$(cat "$TMP/port")
"$BPFPROF" agent --push "http://127.0.0.1:$PORT" --interval 1s -d 120s --push-queue 5 \
	--label cluster=test --node testnode --tenant team-a --listen 127.0.0.1:0 \
	2>"$TMP/agent3.err" &
AGENT=$!
E2E_PIDS+=($AGENT)
# Three intervals pushed (the agent's start takes seconds on a loaded host).
for _ in $(seq 300); do
	[ "$(ls "$PUSHDIR"/*.bin 2>/dev/null | wc -l)" -ge 3 ] && break
	sleep 0.1
done
kill $RECV
wait $RECV 2>/dev/null
before=$(ls "$PUSHDIR"/*.bin 2>/dev/null | wc -l)
check "pushes arrive while the receiver is up ($before within 30 s)" test "$before" -ge 3
sleep 28
PORT3=$(sed -n 's|.*http://[^ ]*:\([0-9][0-9]*\)/debug/pprof/.*|\1|p' "$TMP/agent3.err" | head -n1)
curl -s "http://127.0.0.1:$PORT3/metrics" >"$TMP/metrics3"
dropped=$(awk '$1 == "bpfprof_agent_push_dropped_total" { print $2 }' "$TMP/metrics3")
queued=$(awk '$1 == "bpfprof_agent_push_queue_requests" { print $2 }' "$TMP/metrics3")
check "/metrics: intervals fell out of the full queue during the outage (${dropped:-none} dropped)" \
	test "${dropped:-0}" -ge 10
check "/metrics: the queue holds its bound, 5 (${queued:-none})" test "${queued:-0}" -ge 4 -a "${queued:-0}" -le 5
sleep 2
python3 tests/e2e/push_receiver.py --port "$PORT" --dir "$PUSHDIR" --port-file "$TMP/port2" \
	2>>"$TMP/receiver.err" &
RECV=$!
E2E_PIDS+=($RECV)
# The queue's intervals go out once it is back; then the agent stops.
sleep 10
kill -TERM $AGENT
wait $AGENT
check_rc "agent --push exits 0 on SIGTERM" $?
all=$(ls "$PUSHDIR"/*.bin 2>/dev/null | wc -l)
# Bodies: a PushRequest each.  Decoded by protoc with Pyroscope's field numbers.
first=$(ls "$PUSHDIR"/*.bin | head -n1)
if protoc --decode push.v1.PushRequest --proto_path=tests/e2e tests/e2e/pyroscope_push.proto \
	<"$first" >"$TMP/decoded.txt" 2>"$TMP/protoc.err"; then
	pass "protoc --decode push.v1.PushRequest reads the agent's push"
else
	fail "protoc cannot decode the push: $(head -n2 "$TMP/protoc.err")"
fi
check "the push has __name__ process_cpu" grep -q 'value: "process_cpu"' "$TMP/decoded.txt"
check "the push has __delta__ false" \
	sh -c "grep -A1 'name: \"__delta__\"' '$TMP/decoded.txt' | grep -q 'value: \"false\"'"
mkdir -p "$TMP/split"
for b in "$PUSHDIR"/*.bin; do python3 tests/e2e/push_split.py "$b" "$TMP/split"; done
alpha=$(grep -l "^service_name=${SA}\$" "$TMP/split"/*.labels | head -n1)
if [ -n "$alpha" ]; then
	check "${SA}'s series: node, --label and the service" \
		sh -c "grep -qx node=testnode '$alpha' && grep -qx cluster=test '$alpha'"
	check "${SA}'s raw profile passes go tool pprof -raw" profile_ok "${alpha%.labels}.pb.gz"
	check "${SA}'s raw profile has burn_a" sh -c "go tool pprof -raw '${alpha%.labels}.pb.gz' | grep -q burn_a"
else
	fail "no series of ${SA} in $all pushes"
fi
check "the tenant is sent as X-Scope-OrgID" grep -qi '^X-Scope-OrgID: team-a' "$PUSHDIR"/00001.hdr
# The outage: the 5 newest intervals wait in the queue and arrive; the older are dropped.
ids=$(cat "$TMP/split"/*.labels | grep -c '^ID=')
uniq_ids=$(cat "$TMP/split"/*.labels | grep '^ID=' | sort -u | wc -l)
check "no push arrived twice ($ids series, $uniq_ids IDs)" test "$ids" -eq "$uniq_ids"
after=$((all - before))
check "after the outage the queued intervals arrive ($after requests, the queue holds 5)" \
	test "$after" -ge 5

# --- 4. --output-dir retention keeps the newest under --max-disk ---

"$BPFPROF" agent --output-dir "$TMP/ret" --interval 1s -d 6s --max-disk 12K -q 2>"$TMP/agent4.err"
check_rc "agent --max-disk 12K exits 0" $?
# The host's every service writes there: the newest file of any of them.
newest=$(find "$TMP/ret" -name '*.pb.gz' -printf '%f\n' 2>/dev/null | sed 's/^[a-z]*-//' | sort | tail -n1)
size=$(find "$TMP/ret" -name '*.pb.gz' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
check "--max-disk 12K: $(find "$TMP/ret" -name '*.pb.gz' | wc -l) files, $size bytes" test "$size" -le 12288 -a "$size" -gt 0
check "--max-disk keeps the newest interval ($newest)" test -n "$newest"

# --- 5. short-lived processes: each one's own code, named ---
# A shell starts a 50 ms busy program every 100 ms: the agent has each one's
# mappings while it lives (the shell's child before its exec takes the
# shell's; the exec'd image is read once its loader has mapped its
# libraries), so its samples come out symbolized, in its own service.
SC=gamma$$
cp "$WORKLOADS/cpu_split" "$TMP/$SC"
bash -c 'while :; do "$1" 0.05 1 >/dev/null 2>&1; sleep 0.05; done' spawner "$TMP/$SC" &
SPAWNER=$!
E2E_PIDS+=($SPAWNER)
"$BPFPROF" agent --output-dir "$TMP/short" --interval 4s -d 8s --hz 99 --types cpu,offcpu \
	-q 2>"$TMP/agent5.err"
check_rc "agent beside a process started every 100 ms exits 0" $?
kill $SPAWNER 2>/dev/null
files=("$TMP/short/$SC"/cpu-*.pb.gz)
if [ -e "${files[0]}" ]; then
	# The share of its samples in the program's own functions (burn_a/b/c):
	# all but its start-up and exit, when its maps were read in time.
	share=$(go tool pprof -top -focus='^burn_[abc]$' "${files[@]}" 2>/dev/null |
		sed -n 's/^Showing nodes accounting for [^,]*, \([0-9.]*\)% of .*/\1/p' | head -n1)
	pids=$(go tool pprof -raw "${files[@]}" 2>/dev/null | grep -o 'pid:\[[0-9]*\]' | sort -u | wc -l)
	check "short-lived $SC: ${share:-no}% of samples in its burn_ functions (>= 80) over $pids processes" \
		awk -v s="${share:-0}" -v p="$pids" 'BEGIN { exit !(s >= 80 && p >= 10) }'
else
	fail "short-lived $SC: no profiles ($(ls "$TMP/short" 2>/dev/null | head -n 20 | tr '\n' ' '))"
fi
# Off-CPU, every host has kernel threads sleeping: one service, "kernel".
kthreads=$(cd "$TMP/short" && ls -d kworker* ksoftirqd* rcu_* 2>/dev/null | tr '\n' ' ')
check "kernel threads are one service, kernel${kthreads:+ (not $kthreads)}" \
	test -d "$TMP/short/kernel" -a -z "$kthreads"

# --- 6. bad input: one line, exit 2 ---

expect "no sink" 2 'no sink' -- "$BPFPROF" agent -d 1s
expect "unknown type" 2 "unknown type 'heap'" -- "$BPFPROF" agent --types cpu,heap --output-dir "$TMP/x"
expect "interval under 1 s" 2 'interval' -- "$BPFPROF" agent --interval 500ms --output-dir "$TMP/x"
expect "interval of 0s" 2 'interval' -- "$BPFPROF" agent --interval 0s --output-dir "$TMP/x"
expect "duration of 0" 2 'duration' -- "$BPFPROF" agent -d 0 --output-dir "$TMP/x"
expect "bad label" 2 'label' -- "$BPFPROF" agent --label '__x=1' --output-dir "$TMP/x"

finish
