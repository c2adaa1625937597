/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One capture, shared by every profile type: signals, the run loop (until
 * the duration, Ctrl-C or the targets' exit), progress on a TTY, process
 * events from BPF (so mappings are recorded while processes live), counters
 * and the report of everything lost.
 */
#ifndef BPFPROF_SESSION_H
#define BPFPROF_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "bpfprof/types.h"

struct profile;
struct proctab;
struct symbolizer;
struct target;
struct ring_buffer;
struct unwinder;

struct session {
	struct target *target;
	int64_t duration_ns; /* 0: until Ctrl-C or the targets' exit */
	bool progress;	     /* show a progress line on stderr */
	const char *noun;    /* what the events are called in progress: "samples" */
	const char *idle;    /* why there may be no samples: "did not run on a CPU ..." */
	struct symbolizer *sym;
	struct ring_buffer *rb;
	int counters_fd;
	int64_t start_mono;
	int64_t start_wall;
	int64_t elapsed_ns;
	bool interrupted;	   /* stopped by Ctrl-C / SIGTERM */
	bool target_gone;	   /* stopped because every target exited */
	struct proctab *procs_tab; /* processes and mapped files, for sym and unwinder */
	struct unwinder *unwinder; /* DWARF unwind tables fed to BPF, or NULL */
	/*
	 * Several objects in one session (the agent): the first one loaded,
	 * whose shared maps the others use (capture_share_maps).  NULL: one.
	 */
	struct bpf_object *shared_obj;
	/* Called after a process's maps were (re)read, e.g. to update unwind tables. */
	void (*on_maps)(void *ctx, int pid);
	void *on_maps_ctx;
	/*
	 * Snapshots: the run loop calls on_snapshot every snapshot_ns (0: never)
	 * and on SIGUSR1; a non-zero return ends the run with that error.
	 */
	int64_t snapshot_ns;
	/*
	 * Set before load, for a launched command (and its children), when its
	 * profile type asks (profile_type.h, stop_for_maps): BPF stops it when
	 * a stack runs through a mapping userspace has not read yet (the
	 * libraries the loader maps after exec, dlopen), so no stack is walked
	 * without its unwind tables; the session continues it once the maps are
	 * read.  cpu, heap (both modes), threadcreate and mutex ask for it.
	 * Where a stack is taken with interrupts off (page faults,
	 * sched_waking) the stop is deferred and may land after the SIGCONT:
	 * session.c watches for that.  offcpu does not ask (it hung offcpu
	 * before the watch existed; not retried since).
	 */
	bool stop_for_maps;
	/*
	 * The agent: its own process is left out of every type but cpu
	 * (exclude_tgid in bpf/target.bpf.h).
	 */
	bool exclude_self;
	struct resumed_watch { /* resumed lately: watched for a late stop */
		int pid;
		int64_t until; /* CLOCK_MONOTONIC ns */
	} resumed[8];
	/*
	 * Host-wide or a cgroup: an exec'd image's maps are read a few ms after
	 * its first event (the dynamic loader is still mapping its libraries
	 * then), once instead of twice.
	 */
	struct pending_read { /* each starts its record afresh (exec, new) */
		int pid;
		unsigned long long start; /* clock ticks since boot, 0: unknown */
		int64_t due;		  /* CLOCK_MONOTONIC ns */
		char comm[16];
	} pending[64];
	size_t npending;
	int (*on_snapshot)(void *ctx);
	void *on_snapshot_ctx;
	/*
	 * Called about once a second while the capture runs (heap's overhead
	 * guard); returning true ends the capture there, as its duration would:
	 * the profile of the time so far is still made.
	 */
	bool (*on_tick)(void *ctx);
	void *on_tick_ctx;
};

extern volatile sig_atomic_t session_exiting;

/* Installs the signal handlers and creates the symbolizer. */
int session__init(struct session *s, struct target *t, int64_t duration_ns, bool quiet);
void session__free(struct session *s);

/* Follows the process events ring buffer of a loaded BPF object. */
int session__watch_processes(struct session *s, int ringbuf_fd, int counters_fd);
/* Records a process now (its mappings and name), e.g. a -p target before attach. */
void session__track(struct session *s, int pid, const char *comm);
/* Runs until the duration ends, a signal arrives or the targets are gone. */
int session__run(struct session *s);
/* Sums the per-CPU counters. */
int session__counters(struct session *s, uint64_t out[CNT__MAX]);
/* pid was found gone (by whoever asked procfs about it): nothing more is read about it. */
void session__process_gone(struct session *s, int pid);
/* The executable name of pid, or NULL when it was never seen. */
const char *session__process_name(struct session *s, int pid);

#endif
