#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What a killed bpfprof leaves behind: kill -9 it while it holds a process
# stopped (a launched command at its entry point, for every profile type;
# a child stopped on mappings not read yet, mid-capture, for the types that
# follow children and stop them) and the process must run on within a second.  stop_catch
# freezes bpfprof (SIGSTOP) at a moment when such a stop is in force and
# prints "ready STOPPED LAUNCHED", so the kill lands there, not by timing.
# Also: -p targets, a full output disk (at the start and during a capture),
# and a capture of bpfprof's own pid.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

echo "kill: end-to-end"

# state PID: the state letter of PID ("" when gone).
state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}

# runs_within_1s PID: PID is not stopped (or has exited) within a second.
runs_within_1s() {
	for _ in $(seq 20); do
		[ "$(state "$1")" != T ] && return 0
		sleep 0.05
	done
	return 1
}

# kill_stopped NAME TYPE MID [OPTIONS...]: runs bpfprof TYPE on spawn_loop
# (or on the command in WORK), catches a stopped process (MID=1: after the
# workload's ready line, so not the entry stop), kills bpfprof with SIGKILL
# there and checks the process runs on.
kill_stopped() {
	local name=$1 type=$2 mid=$3 bp caught stopped launched
	shift 3
	local work=("$WORKLOADS/spawn_loop" "$type" 30)
	[ -z "${WORK:-}" ] || read -r -a work <<<"$WORK"
	"$BPFPROF" "$type" "$@" -q -o "$TMP/$type.pb.gz" -- "${work[@]}" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" &
	bp=$!
	E2E_PIDS+=("$bp")
	if [ "$mid" = 1 ]; then
		for _ in $(seq 200); do
			grep -q '^ready' "$TMP/$name.out" && break
			sleep 0.05
		done
	fi
	caught=$("$WORKLOADS/stop_catch" "$bp" "${CATCH_SECONDS:-15}")
	read -r _ stopped launched <<<"$caught"
	kill -9 "$bp" 2>/dev/null
	wait "$bp" 2>/dev/null
	if [ -z "${stopped:-}" ]; then
		fail "$name: no stopped process caught below bpfprof ($(head -c 200 "$TMP/$name.err"))"
	elif runs_within_1s "$stopped"; then
		pass "$name: pid $stopped stopped by bpfprof runs on after kill -9"
	else
		fail "$name: pid $stopped still stopped 1s after bpfprof's kill -9"
		kill -CONT "$stopped" 2>/dev/null
	fi
	if [ -n "${launched:-}" ]; then
		kill -9 "$launched" 2>/dev/null
	fi
}

# Every profile type stops a launched command at its entry point.
for type in cpu offcpu mutex heap threadcreate; do
	kill_stopped "$type at the entry stop" "$type" 0
done
# cpu, mutex, threadcreate and heap --mode growth stop the children of a
# launched command on their new mappings.
for type in cpu mutex threadcreate; do
	kill_stopped "$type mid-capture" "$type" 1
done
kill_stopped "heap --mode growth mid-capture" heap 1 --mode growth
# heap's uprobes follow no child: its stops come from code loaded later.
# Its stops are rarer (BPF asks at most every 200 ms) and shorter (the
# copies share one build id, so their tables are built once): watch longer.
WORK="$WORKLOADS/dlopen_alloc $WORKLOADS/libdl_alloc.so 60" CATCH_SECONDS=45 \
	TMPDIR=$TMP kill_stopped "heap mid-capture (dlopen)" heap 1

# Between its release and its exec a launched child runs bpfprof's image as
# a target, and BPF may stop it for unread mappings before the session runs:
# the start must continue it, not wait for its exec forever (it hung 45
# runs in 60 of this loop before).
hung=0
for _ in $(seq 20); do
	timeout -k 1 10 "$BPFPROF" cpu -F 10000 -q -o "$TMP/true.pb.gz" -- /bin/true \
		>/dev/null 2>&1
	[ $? -lt 124 ] || hung=$((hung + 1))
done
check "a launched command stopped before its exec is continued: $hung of 20 hung" \
	test "$hung" -eq 0

# -p: a target stopped while bpfprof runs (as BPF could) runs on after its
# kill -9; one stopped before bpfprof started is not bpfprof's to continue.
start_workload parked 1 && running=$WPID
start_workload parked 1 && before=$WPID
kill -STOP "$before"
"$BPFPROF" mutex -v -o "$TMP/p.pb.gz" -p "$running,$before" >/dev/null 2>"$TMP/p.err" &
bp=$!
E2E_PIDS+=("$bp")
for _ in $(seq 200); do
	grep -q 'unwind tables:' "$TMP/p.err" && break
	sleep 0.05
done
kill -STOP "$running"
kill -9 "$bp"
wait "$bp" 2>/dev/null
check "-p target stopped during the capture runs on after kill -9" runs_within_1s "$running"
sleep 1
check "-p target stopped before bpfprof stays stopped" test "$(state "$before")" = T
kill -CONT "$running" "$before" 2>/dev/null

# A full file system: refused before capturing; filled during the capture,
# the profile is saved to $TMPDIR and the message says where.
mnt=$TMP/mnt
mkdir -p "$mnt" "$TMP/tmpdir"
if mount -t tmpfs -o size=64k tmpfs "$mnt"; then
	trap 'umount "$mnt" 2>/dev/null; cleanup' EXIT
	dd if=/dev/zero of="$mnt/fill" bs=4k count=64 2>/dev/null
	start=$(date +%s%N)
	expect "-o on a full disk fails at the start" 2 \
		"cannot write $mnt/cpu.pb.gz: No space left on device" -- \
		"$BPFPROF" cpu -d 5 -o "$mnt/cpu.pb.gz" -a
	took=$((($(date +%s%N) - start) / 1000000))
	check "... before capturing (${took} ms for a 5 s capture)" test "$took" -lt 4000
	rm -f "$mnt/fill"
	# The profile must outgrow the block reserved at the start (4 KiB): an
	# idle machine's "cpu -a" can be 500 bytes, which fits and succeeds.  A
	# file-tree walk gives thousands of distinct kernel stacks (16-20 KiB).
	TMPDIR=$TMP/tmpdir "$BPFPROF" cpu -F 999 -d 3 --top 0 -o "$mnt/cpu.pb.gz" \
		-- find /usr /etc /usr /etc /usr /etc /usr /etc -name no-such-file-bpfprof \
		>"$TMP/full.out" 2>"$TMP/full.err" &
	bp=$!
	E2E_PIDS+=("$bp")
	# The capture is running once its temporary file holds its block.
	for _ in $(seq 100); do
		[ "$(df --output=used -k "$mnt" | tail -n1)" -ge 4 ] && break
		sleep 0.05
	done
	dd if=/dev/zero of="$mnt/fill" bs=4k count=64 2>/dev/null
	wait "$bp"
	rc=$?
	saved=$(sed -n 's/.*the profile was saved to \(.*\) instead$/\1/p' "$TMP/full.err")
	check "disk filled during the capture: exit 1 (got $rc)" test "$rc" -eq 1
	if [ -n "$saved" ] && [ "$(dirname "$saved")" = "$TMP/tmpdir" ] &&
		"$BPFPROF" report --top 3 "$saved" >/dev/null 2>&1; then
		pass "... profile saved to \$TMPDIR, where the message says ($saved)"
	else
		fail "... no readable profile where the message says: $(cat "$TMP/full.err")"
	fi
	check "... no partial file left at -o" test ! -e "$mnt/cpu.pb.gz"
	umount "$mnt"
else
	fail "cannot mount a tmpfs for the full-disk checks"
fi

# bpfprof on its own pid (exec keeps the shell's pid) says so.
bash -c 'exec "$0" offcpu -d 1 --top 0 -o "$1" -p $$' "$BPFPROF" "$TMP/self.pb.gz" \
	>/dev/null 2>"$TMP/self.err"
check "-p of bpfprof's own pid says the capture only saw bpfprof" \
	grep -q "only saw bpfprof itself" "$TMP/self.err"
"$BPFPROF" offcpu -d 1 --top 0 -o "$TMP/other.pb.gz" -p "$running" >/dev/null 2>"$TMP/other.err"
check "... and not of another process" test "$(grep -c 'only saw bpfprof' "$TMP/other.err")" -eq 0

finish
