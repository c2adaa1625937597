#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fleet-wide from a container (issue #14), with real containers: two
# workloads from two images FROM scratch, one with Kubernetes' pod
# annotations; the agent in a third container built from
# deploy/Containerfile, on the host's pid namespace; the same container
# refused without it; the agent with the smallest capability set instead of
# --privileged and no tracefs mount (it mounts its own); `bpfprof cpu -a`
# from the host; fifty containers of one image share one symbol table; the
# deployment files validated.
#
# Podman as tests/e2e/podman.sh runs it; where podman cannot run the script
# skips with one line (a failure under CI=true).
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh
. tests/e2e/podman.sh

echo "containers: end-to-end"

TAG=bpfprof-e2e-$$
IMG_A=$TAG-work-a IMG_B=$TAG-work-b IMG_AGENT=$TAG-agent IMG_MANY=$TAG-many
CT_A=$TAG-a CT_B=$TAG-b CT_AGENT=$TAG-agent
# Workload a's pod and namespace, this run's own: other runs on the host must
# not answer the agent's pod= and namespace= filters (nor, as replicas of one
# service, share its --output-dir files).
POD_A=checkout-7f9-$$ NS_A=shop-$$
# Containers of one image, in a cgroup of their own for the agent's --cgroup.
MANY=${FLEET_MANY:-50}
CT_MANY=()
for i in $(seq "$MANY"); do CT_MANY+=("$TAG-m$i"); done

# Containers and images by name, whatever happened; then lib.sh's cleanup.
cleanup_containers() {
	remove_many
	"${PODMAN[@]}" rm -f -t 0 "$CT_A" "$CT_B" "$CT_AGENT" "$CT_AGENT-nopid" \
		"$CT_AGENT-caps" >/dev/null 2>&1
	"${PODMAN[@]}" rmi -f "$IMG_A" "$IMG_B" "$IMG_AGENT" "$IMG_MANY" >/dev/null 2>&1
	cleanup
}
# The many containers, then their parent cgroup in every hierarchy (podman
# leaves it, with a conmon child); a loaded host may need a second rm.
remove_many() {
	local d
	"${PODMAN[@]}" rm -f -t 0 "${CT_MANY[@]}" >/dev/null 2>&1 ||
		"${PODMAN[@]}" rm -f -t 0 "${CT_MANY[@]}" >/dev/null 2>&1
	for d in /sys/fs/cgroup/*/"$TAG-many" /sys/fs/cgroup/"$TAG-many"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
}
trap cleanup_containers EXIT

# --- the deployment files (no podman needed) ---

# The capabilities the agent runs with instead of --privileged: measured by
# removing one at a time (see the capability run below), the DaemonSet's set.
CAPS=SYS_ADMIN,SYS_PTRACE,DAC_READ_SEARCH,SYSLOG
MANIFEST=deploy/kubernetes/bpfprof.yaml
check "$MANIFEST passes yamllint" yamllint -s -c deploy/.yamllint "$MANIFEST"
python3 tests/e2e/check_manifest.py "$MANIFEST" --caps "$CAPS" >"$TMP/manifest.out" 2>&1
check_rc "$MANIFEST: kinds, hostPID, tolerations, capabilities $CAPS, mounts, resources, env from the ConfigMap" $? ||
	sed 's/^/    /' "$TMP/manifest.out"
# broken WHAT SED-EXPR WANT: a copy broken by SED-EXPR fails the check, saying WANT.
broken() {
	sed "$2" "$MANIFEST" >"$TMP/broken.yaml"
	python3 tests/e2e/check_manifest.py "$TMP/broken.yaml" --caps "$CAPS" >"$TMP/broken.out" 2>&1
	local rc=$?
	if [ $rc -ne 0 ] && grep -q -- "$3" "$TMP/broken.out"; then
		pass "the check fails on a manifest $1"
	else
		fail "the check fails on a manifest $1: exit $rc, $(head -n1 "$TMP/broken.out")"
	fi
}
broken "in the pod's pid namespace" 's/hostPID: true/hostPID: false/' 'hostPID: true'
broken "tolerating no taint" '/tolerations:/,/operator: Exists/d' 'a toleration of every taint'
broken "privileged" 's/privileged: false/privileged: true/' 'container: privileged'
broken "without SYS_PTRACE" 's/SYS_PTRACE, //' 'want the set tested'
broken "whose push URL names no ConfigMap key" 's/key: push-url/key: push_url/' 'env PUSH_URL: no key push_url'
broken "mounting /run read-write" '/mountPath: \/run$/{n;d}' 'volumeMount /run: readOnly'
broken "without resource limits" '/limits:/,/memory: 512Mi/d' 'resources.limits.cpu'
broken "that is not YAML" 's/^kind: DaemonSet/kind: [DaemonSet/' 'bpfprof.yaml\|broken.yaml'
if command -v systemd-analyze >/dev/null; then
	# verify wants ExecStart's binary to exist: point it at the one built.
	sed "s|^ExecStart=/usr/local/bin/bpfprof|ExecStart=$PWD/$BPFPROF|" \
		deploy/systemd/bpfprof-agent.service >"$TMP/bpfprof-agent.service"
	# verify_quiet UNIT: exit 0 and not a word (it warns of bad values with exit 0).
	verify_quiet() {
		systemd-analyze verify "$1" >"$TMP/verify.out" 2>&1 && ! [ -s "$TMP/verify.out" ]
	}
	if verify_quiet "$TMP/bpfprof-agent.service"; then
		pass "systemd-analyze verify bpfprof-agent.service: exit 0, no warning"
	else
		fail "systemd-analyze verify bpfprof-agent.service: $(head -n1 "$TMP/verify.out")"
	fi
	# The same check of a unit with a bad value must fail, or it checks nothing.
	sed 's/^Restart=on-failure/Restart=sometimes/' "$TMP/bpfprof-agent.service" >"$TMP/broken.service"
	check "systemd-analyze verify complains of a unit with a bad Restart= value" \
		eval "! verify_quiet '$TMP/broken.service'"
else
	fail "no systemd-analyze to verify deploy/systemd/bpfprof-agent.service (make deps installs systemd)"
fi

# --- can podman run a container here? ---

need_podman

# Workloads FROM scratch: static binaries with known functions (frame
# pointers, no inlining, as tests/workloads are built).
CFLAGS_W=(-static -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -fno-inline)
mkdir -p "$TMP/a" "$TMP/b" "$TMP/out"
cat >"$TMP/Containerfile.work" <<'CF'
FROM scratch
COPY work /work
ENTRYPOINT ["/work"]
CF
gcc "${CFLAGS_W[@]}" -o "$TMP/a/work" tests/workloads/cpu_split.c -lpthread ||
	skip_all "cannot link a static workload (libc.a)"
cat >"$TMP/b.c" <<'C'
#include <stdio.h>
static volatile unsigned long sink;
/* A call makes fleet_b_inner a non-leaf, which gcc gives a frame (see cpu_split.c). */
__attribute__((noinline)) void keep(unsigned long x)
{
	sink = x;
}
__attribute__((noinline)) void fleet_b_inner(unsigned long n)
{
	unsigned long x = sink;

	for (unsigned long i = 0; i < n; i++)
		x = x * 2862933555777941757UL + 3037000493UL;
	keep(x);
}
__attribute__((noinline)) void fleet_b_outer(void)
{
	fleet_b_inner(1000000);
}
int main(void)
{
	fprintf(stderr, "ready\n");
	for (;;)
		fleet_b_outer();
}
C
gcc "${CFLAGS_W[@]}" -o "$TMP/b/work" "$TMP/b.c"
# Workload b runs as another user from a binary only that user may read, so
# the agent needs SYS_PTRACE and DAC_READ_SEARCH for it, as the capability run below shows.
chmod 0700 "$TMP/b/work"
cat >"$TMP/Containerfile.work-b" <<'CF'
FROM scratch
COPY --chown=1234:1234 work /work
USER 1234:1234
ENTRYPOINT ["/work"]
CF
for x in a b; do
	img=$IMG_A cf=$TMP/Containerfile.work
	[ $x = b ] && img=$IMG_B cf=$TMP/Containerfile.work-b
	podman_build "$img" "$cf" "$TMP/$x"
done
"${RUN[@]}" -d --name "$CT_A" \
	--annotation io.kubernetes.pod.name=$POD_A \
	--annotation io.kubernetes.pod.namespace=$NS_A \
	--annotation io.kubernetes.container.name=checkout \
	"$IMG_A" 0 1 >"$TMP/id.a" 2>&1 ||
	skip_all "podman run fails here: $(tail -n1 "$TMP/id.a")"
"${RUN[@]}" -d --name "$CT_B" "$IMG_B" >"$TMP/id.b" 2>&1 || fail "podman run $CT_B: $(tail -n1 "$TMP/id.b")"
ID_A=$("${PODMAN[@]}" inspect -f '{{.Id}}' "$CT_A")
ID_B=$("${PODMAN[@]}" inspect -f '{{.Id}}' "$CT_B")
PID_A=$("${PODMAN[@]}" inspect -f '{{.State.Pid}}' "$CT_A")
PID_B=$("${PODMAN[@]}" inspect -f '{{.State.Pid}}' "$CT_B")
need "both workloads run (host pids $PID_A, $PID_B)" kill -0 "${PID_A:-0}" "${PID_B:-0}"

PODMAN_FLAGS=--cgroup-manager=cgroupfs deploy/build-image.sh "$IMG_AGENT" "$BPFPROF" >"$TMP/build.agent" 2>&1
check_rc "deploy/build-image.sh builds the image FROM scratch" $? ||
	sed 's/^/    /' "$TMP/build.agent"

# labels_of FILE FUNCTION PID: the labels of PID's samples whose stack holds
# FUNCTION, one "key:value" per line (pid picks the container's process out
# of other runs of the same program).
labels_of() {
	go tool pprof -tags -focus="^$2\$" -tagfocus="pid=$3" "$1" 2>/dev/null | awk '
		/^ [a-z_]+: Total/ { k = $1; sub(/:$/, "", k); next }
		k && NF >= 3 { print k ":" $NF }' | sort -u
}
has_label() { grep -qxF "$2:$3" <<<"$1"; }

# profiles_with DIR FUNCTION PID: the agent's profiles holding PID's samples in FUNCTION.
profiles_with() {
	local f
	for f in $(find "$1" -name '*.pb.gz' | sort); do
		[ -n "$(labels_of "$f" "$2" "$3")" ] && echo "$f"
	done
}

# check_workload WHAT FILE FUNCTION PID ID NAME [POD NAMESPACE]: NAME is
# the container's: Kubernetes' (io.kubernetes.container.name) where given.
check_workload() {
	local what=$1 file=$2 fn=$3 pid=$4 id=$5 name=$6 l
	if [ -z "$file" ]; then
		fail "$what: no profile holds $fn"
		return
	fi
	l=$(labels_of "$file" "$fn" "$pid")
	check "$what: $fn's samples carry container_id=${id:0:12}..." has_label "$l" container_id "$id"
	check "$what: $fn's samples carry container=$name" has_label "$l" container "$name"
	if [ $# -gt 6 ]; then
		check "$what: $fn's samples carry pod=$7" has_label "$l" pod "$7"
		check "$what: $fn's samples carry namespace=$8" has_label "$l" namespace "$8"
	else
		check "$what: $fn's samples carry no pod label" eval "[ -n \"\$l\" ] && ! grep -q '^pod:' <<<\"\$l\""
	fi
}

# --- the agent in a container, on the host's pid namespace ---

# It also serves /debug/pprof on the host's loopback (--network=host), scraped
# with each container filter while it writes its intervals.
"${RUN[@]}" --rm --name "$CT_AGENT" --privileged --pid=host --network=host \
	-v /sys/kernel/tracing:/sys/kernel/tracing \
	-v /run:/run:ro -v /var/lib/containers:/var/lib/containers:ro \
	-v "$TMP/out":/out "$IMG_AGENT" \
	agent --output-dir /out --interval 3s -d 9s --hz 99 --listen 127.0.0.1:0 \
	>"$TMP/agent.out" 2>&1 &
AGENT_RUN=$!
E2E_PIDS+=($AGENT_RUN)
URL=
# Scraped once it records: a request the agent first sees as it stops gets an empty window.
if wait_line "$TMP/agent.out" 'agent: recording' 20; then
	URL=$(sed -n 's|.*http://[^ ]*\(:[0-9][0-9]*\)/debug/pprof/.*|http://127.0.0.1\1/debug/pprof/|p' \
		"$TMP/agent.out" | head -n1)
fi
# scrape NAME QUERY: the next 3 s of CPU with the filters of QUERY, as -raw text
# (pprof waits 4.5 s by default: the answer comes after a drain, late on a busy host).
scrape() {
	go tool pprof -timeout=30 -raw "${URL}profile?seconds=3&$2" >"$TMP/scrape.$1" 2>"$TMP/scrape.$1.err"
}
# only_pid NAME FUNCTION PID: the scrape holds FUNCTION, and samples of PID alone.
only_pid() {
	grep -q '^Samples:' "$TMP/scrape.$1" && grep -q "$2" "$TMP/scrape.$1" &&
		! grep -o 'pid:\[[0-9]*\]' "$TMP/scrape.$1" | grep -qv "pid:\[$3\]"
}
# check_scrape WHAT NAME FUNCTION PID: only_pid, with pprof's complaint on failure.
check_scrape() {
	if only_pid "$2" "$3" "$4"; then
		pass "$1"
	else
		fail "$1: $(grep -v '^Fetching' "$TMP/scrape.$2.err" | head -n1 | cut -c1-200)" \
			"$(grep -o 'pid:\[[0-9]*\]' "$TMP/scrape.$2" | sort | uniq -c | tr '\n' ' ')"
	fi
}
if [ -z "$URL" ]; then
	fail "the agent container did not serve /debug/pprof: $(head -c 400 "$TMP/agent.out")"
else
	scrape pod "pod=$POD_A" &
	s1=$!
	scrape ns "namespace=$NS_A" &
	s2=$!
	scrape name "container=$CT_B" &
	s3=$!
	scrape id "container_id=${ID_B:0:12}" &
	s4=$!
	scrape none "pod=$POD_A&container=$CT_B" &
	s5=$!
	code=$(curl -s -o "$TMP/badid" -w '%{http_code}' "${URL}profile?seconds=1&container_id=checkout")
	wait $s1 $s2 $s3 $s4 $s5
	check_scrape "agent ?pod=$POD_A: workload a (pid $PID_A) alone, burn_a" pod burn_a "$PID_A"
	check_scrape "agent ?namespace=$NS_A: workload a (pid $PID_A) alone, burn_a" ns burn_a "$PID_A"
	check_scrape "agent ?container=$CT_B: workload b (pid $PID_B) alone, fleet_b_inner" \
		name fleet_b_inner "$PID_B"
	check_scrape "agent ?container_id=${ID_B:0:12}: workload b (pid $PID_B) alone, fleet_b_inner" \
		id fleet_b_inner "$PID_B"
	check "agent ?pod=$POD_A&container=$CT_B (no service is both): a profile without samples" \
		eval "grep -q '^Samples:' '$TMP/scrape.none' && ! grep -q 'pid:\[' '$TMP/scrape.none'"
	check "agent ?container_id=checkout: 400 (hex digits)" \
		eval "[ '$code' = 400 ] && grep -q 'expected hex digits' '$TMP/badid'"
fi
wait $AGENT_RUN
check_rc "the agent container (--privileged --pid=host) exits 0" $? ||
	sed 's/^/    /' "$TMP/agent.out" | head -n5
FA=$(profiles_with "$TMP/out" burn_a "$PID_A" | tail -n1)
FB=$(profiles_with "$TMP/out" fleet_b_inner "$PID_B" | tail -n1)
# Symbolized from the static binaries inside the images (the host has
# neither at these paths): the whole chain, caller included.
check "agent: workload a's stacks are symbolized from its image (burn_a, worker)" \
	eval "[ -n '$FA' ] && go tool pprof -traces '$FA' 2>/dev/null | grep -A3 burn_a | grep -q worker"
check "agent: workload b's stacks are symbolized from its image (fleet_b_inner, fleet_b_outer, main)" \
	eval "[ -n '$FB' ] && go tool pprof -traces '$FB' 2>/dev/null | grep -A3 fleet_b_inner | grep -q fleet_b_outer"
check_workload "agent, workload a" "$FA" burn_a "$PID_A" "$ID_A" checkout "$POD_A" "$NS_A"
check_workload "agent, workload b" "$FB" fleet_b_inner "$PID_B" "$ID_B" "$CT_B"
# Replicas of one workload share the service's name: each container writes
# under a directory of its own, SERVICE@ID12.
DIR_A=$(basename "$(dirname "$FA")")
check "agent, workload a: its --output-dir directory ($DIR_A) is ${NS_A}_...@${ID_A:0:12}" \
	eval '[[ $DIR_A == "${NS_A}_"*"@${ID_A:0:12}" ]]'

# --- without --pid=host: refused, in one line naming the fix ---

"${RUN[@]}" --rm --name "$CT_AGENT-nopid" --privileged \
	-v "$TMP/out":/out "$IMG_AGENT" agent --output-dir /out -d 2s >"$TMP/nopid.out" 2>&1
rc=$?
check "without --pid=host the agent exits non-zero (exit $rc)" [ "$rc" -ne 0 ]
check "without --pid=host it says so in one line naming --pid=host and hostPID" \
	eval "[ \$(wc -l <'$TMP/nopid.out') -eq 1 ] && grep -q -- '--pid=host.*hostPID: true' '$TMP/nopid.out'"
[ "$(wc -l <"$TMP/nopid.out")" -eq 1 ] || sed 's/^/    /' "$TMP/nopid.out" | head -n5

# --- the smallest capability set, and no tracefs mount ---

# Measured by removing one capability at a time from the agent's run (README,
# deploy/kubernetes/bpfprof.yaml): SYS_ADMIN (bpf() and perf_event_open()
# under the runtime's default seccomp profile, and mounting tracefs),
# SYS_PTRACE (other processes' maps and /proc/PID/root), DAC_READ_SEARCH
# (workload b's 0700 binary of another user), SYSLOG (kallsyms' addresses,
# with perf_event_paranoid > 1).  No /sys/kernel/tracing from the host:
# bpfprof mounts tracefs itself for mutex's syscall tracepoints.
mkdir -p "$TMP/out/caps"
"${RUN[@]}" --rm --name "$CT_AGENT-caps" --cap-drop=all --cap-add="$CAPS" --pid=host \
	-v /run:/run:ro -v /var/lib/containers:/var/lib/containers:ro \
	-v "$TMP/out/caps":/out "$IMG_AGENT" \
	agent --types cpu,mutex --output-dir /out --interval 6s -d 6s --hz 99 -v >"$TMP/caps.out" 2>&1
rc=$?
check_rc "the agent container with --cap-drop=all --cap-add=$CAPS exits 0" $rc
[ $rc -eq 0 ] || grep -v '^bpfprof: \(process event\|pid \|symbol table\)\|^libbpf' "$TMP/caps.out" |
	tail -n3 | sed 's/^/    /'
check "it mounted tracefs and used the syscalls tracepoints (not the raw_syscalls fallback)" \
	eval "grep -q 'mounted tracefs' '$TMP/caps.out' && grep -q 'seen through the syscalls:' '$TMP/caps.out'"
check "it read kallsyms (no line saying they are hidden)" \
	eval "grep -q 'recording cpu, mutex' '$TMP/caps.out' && ! grep -qE 'cannot load /proc/kallsyms|addresses are zero' '$TMP/caps.out'"
FA=$(profiles_with "$TMP/out/caps" burn_a "$PID_A" | tail -n1)
FB=$(profiles_with "$TMP/out/caps" fleet_b_inner "$PID_B" | tail -n1)
check "capabilities only: workload a symbolized from its image (burn_a, worker)" \
	eval "[ -n '$FA' ] && go tool pprof -traces '$FA' 2>/dev/null | grep -A3 burn_a | grep -q worker"
check "capabilities only: workload b (uid 1234, mode 0700) symbolized (fleet_b_inner, fleet_b_outer)" \
	eval "[ -n '$FB' ] && go tool pprof -traces '$FB' 2>/dev/null | grep -A3 fleet_b_inner | grep -q fleet_b_outer"
check_workload "capabilities only, workload a" "$FA" burn_a "$PID_A" "$ID_A" checkout "$POD_A" "$NS_A"
check_workload "capabilities only, workload b" "$FB" fleet_b_inner "$PID_B" "$ID_B" "$CT_B"

# --- one-shot, from the host: the same labels ---

"$BPFPROF" cpu -a -d 3 -F 99 -q -o "$TMP/host.pb.gz" 2>"$TMP/host.err"
check_rc "bpfprof cpu -a on the host exits 0" $?
check "cpu -a: workload a symbolized through /proc/PID/root" \
	eval "go tool pprof -traces '$TMP/host.pb.gz' 2>/dev/null | grep -A3 burn_a | grep -q worker"
check_workload "cpu -a, workload a" "$TMP/host.pb.gz" burn_a "$PID_A" "$ID_A" checkout "$POD_A" "$NS_A"
check_workload "cpu -a, workload b" "$TMP/host.pb.gz" fleet_b_inner "$PID_B" "$ID_B" "$CT_B"

# --- many containers of one image: one symbol table ---

# Each spins ~2 ms of CPU every 200 ms (1% of a CPU), so fifty cost half a CPU.
mkdir -p "$TMP/many"
cat >"$TMP/many.c" <<'C'
#include <time.h>
static volatile unsigned long sink;
__attribute__((noinline)) void keep(unsigned long x)
{
	sink = x;
}
__attribute__((noinline)) void fleet_many_burn(void)
{
	struct timespec t0, t;
	unsigned long x = sink;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	do {
		for (int i = 0; i < 10000; i++)
			x = x * 2862933555777941757UL + 3037000493UL;
		keep(x);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < 2000000);
}
__attribute__((noinline)) void fleet_many_outer(void)
{
	struct timespec nap = { 0, 200000000 };

	fleet_many_burn();
	nanosleep(&nap, 0);
}
int main(void)
{
	for (;;)
		fleet_many_outer();
}
C
CGROUP2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
gcc "${CFLAGS_W[@]}" -o "$TMP/many/fleet_many" "$TMP/many.c"
printf 'FROM scratch\nCOPY fleet_many /fleet_many\nENTRYPOINT ["/fleet_many"]\n' >"$TMP/Containerfile.many"
if [ -z "$CGROUP2" ]; then
	echo "  info no cgroup v2 mount: the $MANY containers of one image are not tested"
elif ! "${PODMAN[@]}" build -q -f "$TMP/Containerfile.many" -t "$IMG_MANY" "$TMP/many" \
	>"$TMP/build.many" 2>&1; then
	fail "podman build of the many-containers image: $(tail -n1 "$TMP/build.many")"
else
	t0=$(date +%s%N)
	printf '%s\n' "${CT_MANY[@]}" | xargs -P 4 -I{} "${RUN[@]}" -d --name {} \
		--cgroup-parent="/$TAG-many" "$IMG_MANY" >"$TMP/many.run" 2>&1
	ms=$((($(date +%s%N) - t0) / 1000000))
	mapfile -t PIDS_MANY < <("${PODMAN[@]}" inspect -f '{{.State.Pid}}' "${CT_MANY[@]}" 2>/dev/null |
		grep -v '^0$')
	need "$MANY containers of one image run (${#PIDS_MANY[@]} started in $ms ms)" \
		[ "${#PIDS_MANY[@]}" -eq "$MANY" ]
	"$BPFPROF" agent --cgroup "$CGROUP2/$TAG-many" --output-dir "$TMP/many/out" --interval 2s \
		-d 6s --hz 499 -v --listen 127.0.0.1:0 >"$TMP/many.out" 2>&1 &
	AGENT_MANY=$!
	E2E_PIDS+=($AGENT_MANY)
	URL=
	if wait_line "$TMP/many.out" 'serving profiles on http://' 15; then
		URL=$(sed -n 's|.*http://[^ ]*\(:[0-9][0-9]*\)/debug/pprof/.*|http://127.0.0.1\1/|p' \
			"$TMP/many.out" | head -n1)
	fi
	# /metrics once the second interval was built (its profiles are symbolized).
	for _ in $(seq 100); do
		curl -s "${URL}metrics" >"$TMP/many.metrics" 2>/dev/null
		grep -qE '^bpfprof_agent_intervals_total [2-9]' "$TMP/many.metrics" && break
		kill -0 $AGENT_MANY 2>/dev/null || break
		sleep 0.1
	done
	wait $AGENT_MANY
	check_rc "agent --cgroup over the $MANY containers exits 0" $? ||
		grep -v '^bpfprof: \(process event\|pid \|symbol table\)\|^libbpf' "$TMP/many.out" |
		head -n5 | sed 's/^/    /'
	n=$(grep -c 'symbol table of /fleet_many opened' "$TMP/many.out")
	check "the $MANY containers' /fleet_many: one symbol table opened ($n)" [ "$n" -eq 1 ]
	opened=$(awk '$1 == "bpfprof_agent_symbol_files_opened_total" { print $2 }' "$TMP/many.metrics")
	tables=$(awk '$1 == "bpfprof_agent_symbol_files" { print $2 }' "$TMP/many.metrics")
	bytes=$(awk '$1 == "bpfprof_agent_symbol_table_bytes" { print $2 }' "$TMP/many.metrics")
	fbytes=$(awk '$1 == "bpfprof_agent_symbol_file_bytes" { print $2 }' "$TMP/many.metrics")
	check "/metrics: ${tables:-no} symbol files open, ${opened:-no} opened in all, ${bytes:-no} bytes of tables (+${fbytes:-no} of files mapped), not one a container" \
		eval "[ -n '$opened' ] && [ '${tables:-0}' -ge 1 ] && [ '${opened:-0}' -le 4 ] && [ '${bytes:-0}' -gt 0 ] && [ '${fbytes:-0}' -gt 0 ]"
	# tag_values FUNCTION KEY: KEY's values in the samples whose stack holds FUNCTION.
	tag_values() {
		go tool pprof -tags -focus="^$1\$" $(find "$TMP/many/out" -name '*.pb.gz') 2>/dev/null |
			awk -v k=" $2: Total" 'index($0, k) == 1 { p = 1; next }
				/^ [a-z_]+: Total/ { p = 0 } p && NF >= 3 { print $NF }' | sort -u
	}
	printf '%s\n' "${PIDS_MANY[@]}" | sort -u >"$TMP/many.pids"
	tag_values fleet_many_burn pid >"$TMP/many.burn"
	tag_values fleet_many_outer pid >"$TMP/many.outer"
	n=$(comm -12 "$TMP/many.pids" "$TMP/many.burn" | wc -l)
	check "every container's samples symbolized: fleet_many_burn in $n of $MANY" [ "$n" -eq "$MANY" ]
	n=$(comm -12 "$TMP/many.pids" "$TMP/many.outer" | wc -l)
	check "every container's stacks walked to the caller: fleet_many_outer in $n of $MANY" \
		[ "$n" -eq "$MANY" ]
	n=$(tag_values fleet_many_burn container_id | wc -l)
	check "each labelled with its own container_id ($n ids)" [ "$n" -eq "$MANY" ]
	remove_many
fi

finish
