/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's capture (cmd/agent.c drives it): every selected profile type
 * loaded and attached once on one session, their aggregation maps drained
 * each second by generation into a short history of per-second slots and,
 * for Go's cumulative profiles, a running total; profiles are built from
 * them per service and type for any window inside the history.
 *
 * Single-threaded: everything here runs on the session's thread (its
 * on_tick hook); the HTTP sink hands its requests over (cmd/agent.c).
 */
#ifndef BPFPROF_AGENT_AGENT_H
#define BPFPROF_AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/filter.h"
#include "bpfprof/types.h"
#include "profile_type/profile_type.h"

struct session;
struct profile;

#define AGENT_MAX_TYPES 4
#define AGENT_KEY_MAX 64
#define AGENT_VAL_WORDS 4
#define AGENT_MAX_SERIES_LABELS 8

struct agent_limits {
	int history_s;		 /* per-second slots kept (windows may start this far back) */
	int cumulative_idle_s;	 /* a cumulative entry not counted for this long is dropped */
	size_t history_bytes;	 /* the slots' records, at most */
	size_t cumulative_bytes; /* the running totals, at most */
	size_t stack_bytes;	 /* the stack cache, at most */
	size_t proc_bytes;	 /* process and file tables, at most (exited ones go first) */
};

/*
 * Names the service of pid (exe: its executable's name, or NULL) and its
 * series labels: *name and up to AGENT_MAX_SERIES_LABELS pairs, valid until
 * the next call.  Returns 0, or -errno when it cannot tell (the agent then
 * names the service after the executable).
 */
typedef int (*agent_service_fn)(void *ctx, int pid, const char *exe, const char **name,
				int *nlabels, const char **keys, const char **values);

/* A running profile type. */
struct agent_type {
	const struct profile_type *type;
	const struct type_agent *agent;
	void *opts;
	struct agent_capture cap;
	size_t key_size, value_size;
};

/* A service: its name and the labels of its series (issue #13's providers). */
struct agent_service {
	char *name;
	int nlabels;
	char *label_names[AGENT_MAX_SERIES_LABELS];
	char *label_values[AGENT_MAX_SERIES_LABELS];
	uint32_t used_s;
};

/* Everything counted, for /metrics. */
struct agent_stats {
	uint64_t drains, drain_errors;
	uint64_t records;	  /* aggregates drained */
	uint64_t records_dropped; /* slots dropped early to stay under history_bytes */
	uint64_t cumulative_dropped_idle, cumulative_dropped_full;
	size_t cumulative_entries, cumulative_bytes;
	size_t history_slots, history_bytes;
	uint64_t profiles_built, build_errors;
	uint64_t services_dropped;
	uint64_t processes_forgotten; /* gone longer than anything kept can name them */
	uint64_t symbol_files_closed; /* idle for SYMBOLS_IDLE_S: opened again if needed */
	size_t symbol_files;	      /* ELF files open for symbols */
	size_t services;
	uint64_t counters[CNT__MAX]; /* the BPF counters, summed over every type */
	double last_drain_ms;
};

struct agent;

/*
 * Loads and attaches types[0..n) (opts parsed for each) on s, which must be
 * initialised with its target.  Returns the agent, or NULL with *err set
 * after printing why.
 */
struct agent *agent__start(struct session *s, struct agent_type *types, int n,
			   const struct agent_limits *lim, agent_service_fn service_fn,
			   void *service_ctx, int *err);
/* Detaches every type (the maps stay readable), for the last drain. */
void agent__detach(struct agent *a);
void agent__free(struct agent *a);

/* Drains every type's map into a new slot ending now.  0 or -errno. */
int agent__drain(struct agent *a);
/* Drops what is older than the limits allow; call every few seconds. */
void agent__expire(struct agent *a);

int agent__ntypes(const struct agent *a);
const struct agent_type *agent__type(const struct agent *a, int i);
/* The type whose Go endpoint (or --types name) is name, or -1. */
int agent__find_type(const struct agent *a, const char *name);
const struct agent_service *agent__service(const struct agent *a, uint32_t i);
/* CLOCK_MONOTONIC ns of the last drain's end: windows end at drains. */
int64_t agent__last_drain(const struct agent *a);
void agent__stats(struct agent *a, struct agent_stats *out);
struct stack_cache_stats;
void agent__stack_stats(const struct agent *a, struct stack_cache_stats *out);

/*
 * A window: the slots whose drain ended in (from_mono, to_mono]; or, with
 * cumulative, every count since the start.
 */
struct agent_window {
	int64_t from_mono, to_mono;
	bool cumulative;
};

/* Called once per (type, service) that has samples in the window; p is the callee's to free. */
typedef int (*agent_profile_fn)(void *ctx, int type, uint32_t service, struct profile *p);

/*
 * Builds the profiles of window w: one per type and service, or only of
 * type (-1: all) and of the services service matches (NULL: each its own).
 * With merge, the services matched go into one profile (service = UINT32_MAX).
 * Returns 0 or -errno.
 */
int agent__build(struct agent *a, const struct agent_window *w, int type,
		 const struct agent_filter *service, bool merge, agent_profile_fn fn, void *ctx);
/* An empty profile of type (its sample types, period and times): NULL when out of memory. */
struct profile *agent__empty_profile(struct agent *a, int type, const struct agent_window *w);

#endif
