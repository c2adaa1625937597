/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which container a process runs in, and what its runtime says about it,
 * without an API server.
 *
 * Identity comes from the cgroup path (cgroup_container()).  Metadata comes
 * from the files the runtimes leave on the host, every path below a root
 * prefix (BPFPROF_HOST_ROOT, default none: an agent in a container gets the
 * host's /run and /var/lib/containers mounted at the same paths, or the
 * host's / at the prefix):
 *   the OCI bundle's config.json, found through the runtime's state:
 *     /run/runc/<id>/state.json, /run/containerd/runc/<ns>/<id>/state.json,
 *     /run/docker/runtime-runc/moby/<id>/state.json (runc: the "bundle=" label
 *     of its config; the annotations are there too, used when config.json is
 *     not), /run/crun/<id>/status ("bundle"), and containers/storage's
 *     /var/lib/containers/storage/overlay-containers/<id>/userdata/config.json;
 *   its annotations io.kubernetes.pod.name, .pod.namespace, .container.name
 *     (CRI-O, Podman) or io.kubernetes.cri.sandbox-name, sandbox-namespace,
 *     container-name (containerd);
 *   the engine's own name: Docker's /var/lib/docker/containers/<id>/
 *     config.v2.json "Name", Podman's overlay-containers/containers.json
 *     "names".
 * Files are not trusted: each read is bounded in size, JSON in depth, and a
 * value that is not a plausible name (empty, too long, control characters)
 * is left out rather than cut.
 */
#ifndef BPFPROF_PROC_CONTAINER_H
#define BPFPROF_PROC_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A container as the cgroup path shows it. */
struct container_ref {
	const char *runtime; /* "docker", "podman", "containerd", "crio", "" (bare id) */
	char id[65];	     /* 64 lowercase hex */
	char pod_uid[65];    /* "" outside a Kubernetes pod */
};

/*
 * Parses one cgroup path; false when it shows no container (c->pod_uid may
 * still be set: a process of the pod but not of a container).  The innermost
 * container wins.
 */
bool cgroup_container(const char *path, struct container_ref *c);

/*
 * The container of a whole /proc/PID/cgroup text: path first (the unified
 * or name=systemd path the caller chose), then every cgroup v1 hierarchy's
 * line in turn (hosts where only the controllers carry it).
 */
bool cgroup_file_container(const char *text, const char *path, struct container_ref *c);

/* Kubernetes' longest names (DNS subdomain): pod names; others are shorter. */
#define CONTAINER_VALUE_MAX 254

struct container_meta {
	char id[65];
	char name[CONTAINER_VALUE_MAX]; /* label container: Kubernetes' name, else the engine's */
	char pod[CONTAINER_VALUE_MAX];	/* label pod */
	char namespace[CONTAINER_VALUE_MAX]; /* label namespace */
};

/*
 * Reads what the runtimes' files under root say about container id.  0 when
 * something was found, -ENOENT when nothing, another -errno when a file
 * could not be read (retry later).
 */
int container_read_meta(const char *root, const char *id, struct container_meta *m);

/*
 * The workload of a Kubernetes pod name: the ReplicaSet hash and pod suffix
 * of a Deployment's pod stripped (checkout-7f9c8d-x2k4q → checkout), a
 * generated suffix alone (DaemonSet, Job: fluentd-x2k4q → fluentd), a
 * CronJob's time and suffix (batch-28391040-k2p9x → batch), or a
 * StatefulSet's ordinal (web-0 → web); the name itself otherwise.  Only
 * names of Kubernetes' alphabet are stripped (no vowels, no 0, 1, 3): a
 * hand-made name rarely ends like one.
 */
void k8s_workload(const char *pod, char *out, size_t size);

/*
 * The service of a container: "namespace/workload" in a pod, else the
 * container's name; "" when neither is known.
 */
void container_service_name(const struct container_meta *m, char *out, size_t size);

struct container_stats {
	uint64_t lookups;
	uint64_t hits;	      /* answered from the cache */
	uint64_t found;	      /* containers with some metadata */
	uint64_t absent;      /* containers the runtimes' files do not show (cached too) */
	uint64_t errors;      /* unreadable files: not cached, asked again */
	uint64_t evicted;     /* their cgroup gone */
	uint64_t evicted_cap; /* by the bound, oldest first */
	uint64_t cached;
};

struct container_cache;

/*
 * A cache of metadata per container id, at most cap (0: 1024).  root: the
 * prefix of the runtimes' paths (NULL: $BPFPROF_HOST_ROOT, else none);
 * cgroupfs: where the cgroup hierarchies are mounted (NULL: /sys/fs/cgroup).
 * NULL after one line.
 */
struct container_cache *container_cache__new(const char *root, const char *cgroupfs, size_t cap);
void container_cache__free(struct container_cache *cc);
/*
 * The metadata of c, seen in a process (pid) of cgroup_path; *out stays
 * valid until the next call.  An absent container gives an entry with only
 * its id.  At most every 10 s, containers whose cgroup is gone are evicted
 * first.  0 or -ENOMEM.
 */
int container_cache__lookup(struct container_cache *cc, const struct container_ref *c,
			    const char *cgroup_path, int pid, const struct container_meta **out);
/* Evicts every container whose cgroup is gone (the 10 s sweep, now). */
void container_cache__sweep(struct container_cache *cc);
void container_cache__stats(const struct container_cache *cc, struct container_stats *out);

/* The process-wide cache (from the environment), made at first use; NULL on ENOMEM. */
struct container_cache *container_cache__default(void);

/*
 * The container of pid, read from procfs/PID/cgroup once and kept per pid
 * (a reused pid is noticed by its start time, checked at most once a
 * second; a process gone keeps its answer, for its late samples).  *out is
 * NULL outside a container, and stays valid until the next call.  0 or
 * -ENOMEM.
 */
int container_of_pid(const char *procfs, int pid, const struct container_meta **out);
/* The same, with pid's start time (clock ticks since boot, as /proc/PID/stat's) known. */
int container_of_pid_at(const char *procfs, int pid, unsigned long long start,
			const struct container_meta **out);
/*
 * pid is a fork of ppid (same cgroup, no exec since): its answer is
 * ppid's, without reading procfs.  -ENOENT when ppid has none.
 */
int container_of_pid_inherit(int pid, int ppid, unsigned long long start);

#endif
