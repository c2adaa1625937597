/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service a process belongs to, and the series labels that come with it.
 *
 * A service is a container where the process runs in one, else a systemd
 * unit, else the executable.  Each is a provider: an ordered list of them is
 * asked about a process (its pid, its /proc/PID/cgroup, its executable name);
 * every provider may add labels, and the first that names the service wins.
 * The default list: container, systemd, exe (which always names one).
 *
 * container: the innermost container id in the cgroup path (Docker
 *   docker-<id>.scope and /docker/<id>, Podman libpod-<id>[.scope], not
 *   libpod-conmon-, containerd cri-containerd-<id>.scope, CRI-O
 *   crio-<id>.scope, not crio-conmon-, and a bare 64-hex component as the
 *   cgroupfs drivers make; the v2 or name=systemd path first, then every v1
 *   hierarchy's), label container_id; a Kubernetes pod's UID from
 *   kubepods[-qos]-pod<uid>.slice or kubepods/<qos>/pod<uid>, label pod_uid.
 *   The runtime's files (proc/container.h, cached per container id) add the
 *   labels container, pod and namespace where they say, and name the
 *   service: "namespace/workload" in a pod (k8s_workload: checkout-7f9c8d-
 *   x2k4q → checkout), else the container's name, else the executable's
 *   name: replicas of one image are then one service, told apart by
 *   container_id, and a hex id names nothing a user recognises.  A
 *   container_name_fn hook, when given, replaces the runtime's files for the
 *   name (cached per cgroup path) and adds no label.
 * systemd: the deepest *.service component (nginx.service → "nginx", label
 *   systemd_unit="nginx.service"); nothing for init.scope (PID 1, a user's
 *   manager) nor for scopes and slices below user@UID.service (desktop apps:
 *   the user manager is not their service).
 * exe: the executable's name.
 *
 * Answers are cached per pid with its start time (a reused pid gets a new
 * answer), at most cache_cap processes, least recently used evicted first;
 * label_providers__forget() drops an exited process at once.  Not
 * thread-safe: one thread (the agent's drain) asks.
 */
#ifndef BPFPROF_AGENT_LABELS_H
#define BPFPROF_AGENT_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc/container.h"

#define SERVICE_NAME_MAX 128
#define SERVICE_LABELS_MAX 8
#define LABEL_NAME_MAX 64
#define LABEL_VALUE_MAX 256

struct label {
	const char *name, *value;
};

struct service_info {
	char service[SERVICE_NAME_MAX]; /* service_name; never empty once looked up */
	struct label labels[SERVICE_LABELS_MAX];
	int nlabels;
	size_t used; /* of buf */
	char buf[1024];
};

/* Adds a label (copied); an existing name keeps its value.  -ENOSPC when full. */
int service_info__add(struct service_info *si, const char *name, const char *value);
/* Names the service unless a provider did already; whether it took this name. */
bool service_info__propose(struct service_info *si, const char *service);
/* The value of label name, or NULL. */
const char *service_info__get(const struct service_info *si, const char *name);

/* What a provider is told about one process. */
struct label_query {
	int pid;
	const char *proc_root;
	const char *cgroup;	 /* /proc/PID/cgroup as read; "" when it could not be */
	const char *cgroup_path; /* its unified (v2) path, else name=systemd's; "" if neither */
	const char *exe;	 /* the executable's name; "" when unknown */
};

struct label_provider {
	const char *name;
	/* Adds labels and may propose the service; -errno skips this provider. */
	int (*lookup)(void *priv, const struct label_query *q, struct service_info *si);
	void (*free)(void *priv);
	void *priv;
};

/*
 * Finds a container's name (issue #14: the runtime's state, an OCI
 * config.json); 0 with name filled, or -errno (-ENOENT: none).  A name or
 * -ENOENT is cached per cgroup path (at most 1024, oldest first out), so the
 * hook runs once per container; another error is asked again next time.
 */
typedef int (*container_name_fn)(void *ctx, const char *proc_root, int pid,
				 const struct container_ref *c, char *name, size_t size);

/* The default providers, to list with one's own; 0 or -ENOMEM.  name_fn may be NULL. */
int label_provider_container(container_name_fn name_fn, void *ctx, struct label_provider *out);
void label_provider_systemd(struct label_provider *out);
void label_provider_exe(struct label_provider *out);

struct label_providers;

struct label_stats {
	uint64_t lookups;
	uint64_t hits;	    /* answered from the cache */
	uint64_t reused;    /* a cached pid with another start time: a new process */
	uint64_t evictions; /* by the cache bound */
	uint64_t cached;    /* processes in the cache now */
};

/*
 * The default providers (container without a name lookup, systemd, exe),
 * reading proc_root/PID/cgroup ("/proc" in the agent, a fixture in tests);
 * at most cache_cap processes cached (0: 4096).  NULL after one line.
 */
struct label_providers *label_providers__new(const char *proc_root, size_t cache_cap);
/* The same with the caller's providers, asked in order; takes them (frees them). */
struct label_providers *label_providers__new_with(const char *proc_root, size_t cache_cap,
						  const struct label_provider *p, size_t n);
/*
 * The service of pid (start_time: its start in clock ticks after boot, as in
 * /proc/PID/stat, to tell a reused pid) whose executable is exe; *out stays
 * valid until the next call on lp.  0, or -ENOMEM.
 */
int label_providers__lookup(struct label_providers *lp, int pid, uint64_t start_time,
			    const char *exe, const struct service_info **out);
/* Drops pid's answer (the process exited). */
void label_providers__forget(struct label_providers *lp, int pid);
void label_providers__stats(const struct label_providers *lp, struct label_stats *out);
void label_providers__free(struct label_providers *lp);

/*
 * Parses a --label spec "name=value": name as Prometheus and Pyroscope want
 * ([a-zA-Z_][a-zA-Z0-9_]*, no reserved "__" prefix, not service_name, which
 * is per service, nor node: --node), value non-empty.  0, or -EINVAL after
 * one line.
 */
int label_parse_spec(const char *spec, char *name, size_t nlen, char *value, size_t vlen);

#endif
