# SPDX-License-Identifier: Apache-2.0
# Podman for the container tests, sourced after lib.sh: runc, the cgroupfs
# manager and the rlimits it may not raise (crun fails on this host's
# hybrid cgroups; no image can be pulled, so images are built FROM
# scratch).  Where podman cannot run, a script skips with one line, which
# tests/run.sh counts as skipped; under CI=true, where podman runs, that is
# a failure.

PODMAN=(podman --cgroup-manager=cgroupfs)
RUN=("${PODMAN[@]}" run --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

skip_all() {
	if [ "${CI:-}" = true ]; then
		fail "podman cannot run here, and CI's machine runs it: $*"
		finish
		exit
	fi
	echo "e2e: skipped: $*"
	exit 0
}

# need_podman: skips the script unless podman, runc and bpfprof are there.
need_podman() {
	command -v podman >/dev/null || skip_all "no podman (make deps installs it)"
	command -v runc >/dev/null || skip_all "no runc (make deps installs it)"
	[ -x "$BPFPROF" ] || skip_all "no $BPFPROF: run make first"
}

# scratch_copy DIR FILE...: each FILE and the libraries ldd names for it,
# at their own paths under DIR (a root file system FROM scratch).
scratch_copy() {
	local dir=$1 f
	shift
	for f in "$@" $(ldd "$@" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do
		mkdir -p "$dir$(dirname "$f")"
		cp -L "$f" "$dir$f"
	done
}

# podman_build IMAGE CONTAINERFILE DIR: builds IMAGE, or skips the script saying why.
podman_build() {
	"${PODMAN[@]}" build -q -f "$2" -t "$1" "$3" >"$TMP/build.$1" 2>&1 ||
		skip_all "podman build fails here: $(tail -n1 "$TMP/build.$1")"
}
