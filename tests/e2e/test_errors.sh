#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad input and hostile conditions: one clear line on stderr, the documented
# exit code, never a crash or a hang; signals still write the profile.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "cpu: errors and signals"

o=$TMP/x.pb.gz
free_pid=$(( $(cat /proc/sys/kernel/pid_max) - 1 ))
while [ -e "/proc/$free_pid" ]; do free_pid=$((free_pid - 1)); done

expect "bare 'cpu' asks for a target" 2 'no target' -- "$BPFPROF" cpu
expect "unknown command" 2 "unknown command 'frobnicate'" -- "$BPFPROF" frobnicate
expect "two target kinds" 2 'exactly one target' -- "$BPFPROF" cpu -p 1 -a -o "$o"
expect "no such pid" 3 "no such process: pid $free_pid" -- "$BPFPROF" cpu -p "$free_pid" -d 1 -o "$o"
expect "pid not a number" 2 "invalid pid 'abc'" -- "$BPFPROF" cpu -p abc -o "$o"
expect "missing cgroup" 3 'cannot open cgroup /nonexistent' -- "$BPFPROF" cpu --cgroup /nonexistent -d 1 -o "$o"
expect "cgroup that is not v2" 3 'not a cgroup v2 directory' -- "$BPFPROF" cpu --cgroup /proc -d 1 -o "$o"
expect "-F 0" 2 'invalid frequency' -- "$BPFPROF" cpu -a -F 0 -o "$o"
expect "-F 10001" 2 'invalid frequency' -- "$BPFPROF" cpu -a -F 10001 -o "$o"
expect "-d nonsense" 2 'invalid duration' -- "$BPFPROF" cpu -a -d soon -o "$o"
expect "unwritable output" 2 'cannot write /nonexistent/dir/x.pb.gz' -- "$BPFPROF" cpu -a -d 1 -o /nonexistent/dir/x.pb.gz
expect "output is a directory" 2 "cannot write $TMP" -- "$BPFPROF" cpu -a -d 1 -o "$TMP"
expect "command not found" 3 'command not found: no-such-command-here' -- "$BPFPROF" cpu -o "$o" -- no-such-command-here
expect "not root" 4 'not enough privilege' -- setpriv --reuid=65534 --regid=65534 --clear-groups "$BPFPROF" cpu -a -d 1 -o "$TMP/nobody.pb.gz"
expect "kernel without BTF" 4 'no BTF' -- unshare -m sh -c "mount -t tmpfs none /sys/kernel/btf && exec '$BPFPROF' cpu -a -d 1 -o '$o'"

# An idle target: a profile with no samples is written, and said so.
sleep 60 &
idle=$!
E2E_PIDS+=("$idle")
expect "idle target warns that nothing ran" 0 'no samples' -- "$BPFPROF" cpu -p "$idle" -d 1 -q -o "$TMP/idle.pb.gz"
check "idle target: the profile is still valid" go tool pprof -raw "$TMP/idle.pb.gz" >/dev/null 2>&1

# Ctrl-C and SIGTERM stop the capture early and still write a valid profile.
start_workload cpu_split 0 1 || exit 1
for sig in INT TERM; do
	rm -f "$o"
	"$BPFPROF" cpu -p "$WPID" -q -o "$o" &
	prof=$!
	E2E_PIDS+=("$prof")
	# Sampling once its perf events are open (the last thing it attaches);
	# then a second of samples, so the profile has something to show.
	wait_fd "$prof" 'perf_event' 20
	sleep 1
	kill -s "$sig" "$prof"
	wait "$prof"
	rc=$?
	check "SIG$sig: exit 0" test "$rc" -eq 0
	check "SIG$sig: profile written and readable" \
		sh -c "go tool pprof -top '$o' 2>/dev/null | grep -q ' burn_a$'"
done
check "no temporary files left next to the output" \
	sh -c "test -s '$o' && ! ls '$TMP' | grep -q 'tmp'"

finish
