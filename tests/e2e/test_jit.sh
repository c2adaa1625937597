#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# JIT code named from the runtimes' own files: Node.js with --perf-basic-prof
# (/tmp/perf-PID.map) and --perf-prof (jitdump, with source lines), and a
# JVM after `jcmd PID Compiler.perfmap`.  Three functions take 50/30/20% of
# the work: the profile must name them with those shares (within 5 points),
# and their callers down to the event loop must be walked through the JIT
# code by frame pointers.  A function first compiled after the capture
# started must be named too.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

# The runtimes write their maps in /tmp: removed at exit, whatever happened.
MAPS=()
trap 'rm -f "${MAPS[@]}"; cleanup' EXIT

echo "jit: end-to-end"

SPLIT_JS=$PWD/tests/workloads/jit_split.js
TOLERANCE=5

# start_runtime NAME COMMAND...: starts COMMAND (in $TMP), waits for its
# "ready PID" line and sets RPID to that pid.
start_runtime() {
	local name=$1 out=$TMP/$1.out
	shift
	(cd "$TMP" && exec "$@") >"$out" 2>&1 &
	E2E_PIDS+=("$!")
	RPID=
	wait_line "$out" '^ready [0-9]+' 20 || return 1
	RPID=$(awk '/^ready/ { print $2; exit }' "$out")
	E2E_PIDS+=("$RPID")
}

# folded FILE: the profile's stacks, folded ("root;...;leaf VALUE").
folded() {
	"$BPFPROF" report --folded "$1" 2>/dev/null
}

# shares FILE RE_A RE_B RE_C: "a b c" percentages of the samples whose
# stack holds a frame matching each regex, of those holding any of them.
shares() {
	folded "$1" | awk -v a="$2" -v b="$3" -v c="$4" '
		{ w = $NF; if ($0 ~ a) x += w; else if ($0 ~ b) y += w; else if ($0 ~ c) z += w }
		END { t = x + y + z; if (t) printf "%.1f %.1f %.1f\n", 100*x/t, 100*y/t, 100*z/t }'
}

# expect_shares NAME FILE RE_A RE_B RE_C: 50/30/20 within TOLERANCE points.
expect_shares() {
	local name=$1 got want=(50 30 20) i
	got=($(shares "$2" "$3" "$4" "$5"))
	for i in 0 1 2; do
		if within "${got[$i]:-}" "${want[$i]}" "$TOLERANCE"; then
			pass "$name: function $((i + 1)) ${got[$i]}% (want ${want[$i]}±$TOLERANCE)"
		else
			fail "$name: function $((i + 1)) ${got[$i]:-absent}% (want ${want[$i]}±$TOLERANCE)"
		fi
	done
}

# walked FILE RE ROOT: of the samples whose stack holds RE, the percentage
# whose stack also reaches ROOT; prints "PCT BROKEN_SAMPLES".
walked() {
	folded "$1" | awk -v re="$2" -v root="$3" '
		$0 ~ re { t += $NF; if ($0 ~ root) ok += $NF; else n++ }
		END { printf "%.1f %d\n", t ? 100 * ok / t : 0, n }'
}

if ! command -v node >/dev/null; then
	fail "cannot test: no node (nodejs, installed by make deps)"
else
	# --- Node.js, perf map ---
	# --interpreted-frames-native-stack: an interpreted function (tick) gets
	# a copy of the interpreter's entry of its own, named in the map.
	start_runtime node-map node --perf-basic-prof --interpreted-frames-native-stack \
		--no-turbo-inlining "$SPLIT_JS" 30 "$TMP/late"
	need "node --perf-basic-prof started" test -n "$RPID"
	MAP=/tmp/perf-$RPID.map
	MAPS+=("$MAP")
	wait_line "$MAP" 'JS:.*alpha' 10 >/dev/null
	"$BPFPROF" cpu -p "$RPID" -d 4 -F 999 -o "$TMP/node.pb.gz" >"$TMP/node.top" 2>"$TMP/node.err"
	check_rc "node perf map: capture" $?
	check "node perf map: profile decodes" profile_ok "$TMP/node.pb.gz"
	expect_shares "node perf map" "$TMP/node.pb.gz" 'JS:[~^*+]?alpha ' 'JS:[~^*+]?beta ' 'JS:[~^*+]?gamma '
	check "node perf map: the top table marks JIT functions [jit]" grep -qE 'JS:[~^*+]?work .* \[jit\]$' "$TMP/node.top"
	check "node perf map: a JIT mapping named after the map" \
		sh -c "go tool pprof -raw '$TMP/node.pb.gz' 2>/dev/null | grep -q ' $MAP'"
	read -r pct broken <<<"$(walked "$TMP/node.pb.gz" 'JS:[~^*+]?(alpha|beta|gamma) ' ';uv_run;')"
	echo "  info node: $pct% of the samples in alpha/beta/gamma walked down to uv_run; $broken stacks did not"
	if within "$pct" 100 5; then
		pass "node perf map: callers through JIT code down to the event loop ($pct%)"
	else
		fail "node perf map: callers through JIT code down to the event loop: $pct% (want ≥95)"
		folded "$TMP/node.pb.gz" | grep -E 'JS:[~^*+]?(alpha|beta|gamma) ' | grep -v ';uv_run;' |
			sort -t' ' -k2 -nr | head -3 | cut -c1-300 | sed 's/^/    /'
	fi
	check "node perf map: tick (interpreted) is alpha's caller" \
		sh -c "'$BPFPROF' report --folded '$TMP/node.pb.gz' | grep -qE 'JS:[~^*+]?tick [^;]*;JS:[~^*+]?alpha '"

	# A function compiled after the capture started.
	need "lateFn is not compiled before the capture" sh -c "! grep -q lateFn '$MAP'"
	"$BPFPROF" cpu -p "$RPID" -d 4 -F 999 -o "$TMP/late.pb.gz" >/dev/null 2>"$TMP/late.err" &
	CAP=$!
	E2E_PIDS+=("$CAP")
	wait_fd "$CAP" perf_event 60 && touch "$TMP/late"
	wait "$CAP"
	check_rc "node late function: capture" $?
	need "lateFn was compiled during the capture" grep -q lateFn "$MAP"
	check "node late function: named" sh -c "'$BPFPROF' report --folded '$TMP/late.pb.gz' | grep -qE 'JS:[~^*+]?lateFn '"
	stop_workload "$RPID"
	rm -f "$MAP"

	# --- Node.js, jitdump ---
	start_runtime node-dump node --perf-prof --no-turbo-inlining "$SPLIT_JS" 30
	need "node --perf-prof started" test -n "$RPID"
	DUMP=$TMP/jit-$RPID.dump
	need "node mapped $DUMP" sh -c "sleep 1; grep -q ' $DUMP\$' /proc/$RPID/maps"
	# Lines come with optimized code: wait for work's (binary file, text match).
	need "V8 optimized work (its code load is in the dump)" wait_line "$DUMP" 'JS:\*work ' 30
	"$BPFPROF" cpu -p "$RPID" -d 4 -F 999 -o "$TMP/dump.pb.gz" >"$TMP/dump.top" 2>"$TMP/dump.err"
	check_rc "node jitdump: capture" $?
	expect_shares "node jitdump" "$TMP/dump.pb.gz" 'JS:[~^*+]?alpha ' 'JS:[~^*+]?beta ' 'JS:[~^*+]?gamma '
	# work's loop is on line 12 of the workload: the dump's DEBUG_INFO says so
	# (with the file, unless V8 wrote garbage for its name, which is left out).
	check "node jitdump: source lines of JIT code" \
		sh -c "go tool pprof -traces -lines '$TMP/dump.pb.gz' 2>/dev/null |
			grep -aqE 'JS:[~^*+]?work [^ ]+ ([^ ]*jit_split\.js)?:1[123]\$'"
	check "node jitdump: the JIT mapping is named after the dump" \
		sh -c "go tool pprof -raw '$TMP/dump.pb.gz' 2>/dev/null | grep -q ' $DUMP'"
	stop_workload "$RPID"
fi

# --- Java ---
if ! command -v javac >/dev/null || ! command -v jcmd >/dev/null; then
	fail "cannot test: no javac/jcmd (openjdk-17-jdk-headless, installed by make deps)"
else
	javac -d "$TMP" tests/workloads/JitSplit.java
	need "JitSplit compiles" test -f "$TMP/JitSplit.class"
	# The map is a snapshot: code compiled after it has no name.  C1 alone
	# (-XX:TieredStopAtLevel=1) compiles each method once, so once the
	# four have their code the map written then holds it for good.
	start_runtime java java -XX:+PreserveFramePointer -XX:CompileCommand=quiet \
		-XX:CompileCommand=dontinline,JitSplit::* -XX:TieredStopAtLevel=1 \
		-XX:+PrintCompilation -cp "$TMP" JitSplit 40
	need "java started" test -n "$RPID"
	compiled() {
		awk '$0 !~ /%/ { for (i = 2; i < NF; i++) if ($i == "1" && $(i + 1) ~ /^JitSplit::(work|alpha|beta|gamma)$/) c[$(i + 1)] = 1 }
		     END { exit length(c) < 4 }' "$TMP/java.out"
	}
	for _ in $(seq 300); do compiled && break; sleep 0.1; done
	need "C1 compiled work, alpha, beta and gamma" compiled
	jcmd "$RPID" Compiler.perfmap >/dev/null 2>&1
	JMAP=/tmp/perf-$RPID.map
	MAPS+=("$JMAP")
	need "jcmd wrote $JMAP with the methods" grep -q 'JitSplit.alpha' "$JMAP"
	"$BPFPROF" cpu -p "$RPID" -d 4 -F 999 -o "$TMP/java.pb.gz" >"$TMP/java.top" 2>"$TMP/java.err"
	check_rc "java: capture" $?
	expect_shares "java" "$TMP/java.pb.gz" 'JitSplit\.alpha\(' 'JitSplit\.beta\(' 'JitSplit\.gamma\('
	read -r pct broken <<<"$(walked "$TMP/java.pb.gz" 'JitSplit\.(alpha|beta|gamma)\(' ';JavaMain;')"
	echo "  info java: $pct% of the samples in alpha/beta/gamma walked down to JavaMain; $broken stacks did not"
	if within "$pct" 100 5; then
		pass "java: callers through JIT code down to JavaMain ($pct%)"
	else
		fail "java: callers through JIT code down to JavaMain: $pct% (want ≥95)"
	fi
	stop_workload "$RPID"
	rm -f "$JMAP"
fi

finish
