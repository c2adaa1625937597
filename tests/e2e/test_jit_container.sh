#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# JIT names from a container: Node.js with --perf-basic-prof in a podman
# container (an image FROM scratch: node, its libraries and the workload)
# writes its map in the container's /tmp, under the pid it has there (1).
# bpfprof on the host reads it through /proc/PID/root and NSpid: the three
# functions are named, with their 50/30/20 shares within 5 points.
#
# Podman as test_containers.sh runs it (tests/e2e/podman.sh); where podman
# cannot run the script is skipped.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh
. tests/e2e/podman.sh

echo "jit container: end-to-end"

TAG=bpfprof-e2e-jit-$$
IMG=$TAG-node CT=$TAG-node

cleanup_container() {
	"${PODMAN[@]}" rm -f -t 0 "$CT" >/dev/null 2>&1
	"${PODMAN[@]}" rmi -f "$IMG" >/dev/null 2>&1
	cleanup
}
trap cleanup_container EXIT

need_podman
command -v node >/dev/null || skip_all "no node (make deps installs it)"

# The image: node, the libraries ldd names (at their paths), an empty /tmp.
CTX=$TMP/ctx
mkdir -p "$CTX/tmp" "$CTX/app"
NODE=$(readlink -f "$(command -v node)")
scratch_copy "$CTX" "$NODE"
mkdir -p "$CTX/usr/bin"
[ "$NODE" = /usr/bin/node ] || ln -s "$NODE" "$CTX/usr/bin/node"
cp tests/workloads/jit_split.js "$CTX/app/"
cat >"$CTX/Containerfile" <<'CF'
FROM scratch
COPY . /
ENTRYPOINT ["/usr/bin/node", "--perf-basic-prof", "--no-turbo-inlining", "/app/jit_split.js"]
CF
chmod 1777 "$CTX/tmp"
podman_build "$IMG" "$CTX/Containerfile" "$CTX"
"${RUN[@]}" -d --name "$CT" "$IMG" 30 >"$TMP/id" 2>&1 ||
	skip_all "podman run fails here: $(tail -n1 "$TMP/id")"

# The host pid of the container's node.
HPID=
for _ in $(seq 100); do
	HPID=$("${PODMAN[@]}" inspect -f '{{.State.Pid}}' "$CT" 2>/dev/null)
	[ -n "$HPID" ] && [ "$HPID" != 0 ] && grep -q ready <("${PODMAN[@]}" logs "$CT" 2>&1) && break
	sleep 0.1
done
need "node runs in the container (host pid $HPID)" kill -0 "${HPID:-0}"
NSPID=$(awk '/^NSpid:/ { print $NF }' "/proc/$HPID/status")
need "its own pid namespace: pid $NSPID inside" test "${NSPID:-$HPID}" != "$HPID"
need "its map is in the container's /tmp, not the host's" \
	sh -c "wait_for() { for i in \$(seq 100); do grep -q 'JS:.*alpha' \$1 2>/dev/null && return 0; sleep 0.1; done; return 1; }
	       wait_for /proc/$HPID/root/tmp/perf-$NSPID.map && ! test -e /tmp/perf-$HPID.map"

"$BPFPROF" cpu -p "$HPID" -d 4 -F 999 -o "$TMP/ct.pb.gz" >/dev/null 2>"$TMP/ct.err"
check_rc "container: capture" $?
"$BPFPROF" report --folded "$TMP/ct.pb.gz" 2>/dev/null | awk '
	{ w = $NF; if ($0 ~ /JS:[~^*+]?alpha /) a += w; else if ($0 ~ /JS:[~^*+]?beta /) b += w; else if ($0 ~ /JS:[~^*+]?gamma /) c += w }
	END { s = a + b + c; if (s) printf "%.1f %.1f %.1f\n", 100*a/s, 100*b/s, 100*c/s }' >"$TMP/shares"
read -r a b c <"$TMP/shares"
got=("${a:-}" "${b:-}" "${c:-}")
want=(50 30 20)
names=(alpha beta gamma)
for i in 0 1 2; do
	if within "${got[$i]}" "${want[$i]}" 5; then
		pass "container: ${names[$i]} ${got[$i]}% (want ${want[$i]}±5)"
	else
		fail "container: ${names[$i]} ${got[$i]:-absent}% (want ${want[$i]}±5)"
	fi
done
check "container: the JIT mapping is named as the process sees its map" \
	sh -c "go tool pprof -raw '$TMP/ct.pb.gz' 2>/dev/null | grep -q ' /tmp/perf-$NSPID.map '"
finish
