/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What each profile type's collector (user/collect/TYPE.c) takes and gives:
 * its options as its command line parsed them, and its entry point, which
 * loads its BPF program, attaches it, runs the session and turns the
 * kernel's aggregates into a profile with the shared plumbing of
 * capture/capture.h.  Here, not in collect/, because the unit tests parse
 * command lines into these structs and heap's two modes share one.
 */
#ifndef BPFPROF_COLLECTORS_H
#define BPFPROF_COLLECTORS_H

#include <stdbool.h>
#include <stdint.h>

#include "bpfprof/types.h"
#include "capture/capture.h"

struct profile;
struct session;

struct cpu_opts {
	struct stack_opts st;
	int freq;	  /* samples per second per CPU */
	bool user;	  /* capture user stacks */
	bool kernel;	  /* capture kernel stacks */
	bool kernel_only; /* sample only in kernel mode */
};

struct offcpu_opts {
	struct stack_opts st;
	int64_t min_block_ns;  /* shorter off-CPU intervals are not recorded */
	uint32_t states;       /* bit (1 << enum offcpu_state) per state recorded */
	int64_t block_rate_ns; /* sample shorter intervals, as Go's block profile rate; 0: exact */
	bool user;	       /* capture user stacks */
	bool kernel;	       /* capture kernel stacks */
};

struct threadcreate_opts {
	struct stack_opts st;
};

struct mutex_opts {
	struct stack_opts st;
	bool by_holder; /* key by the stacks of the thread whose wake ended a wait */
	uint64_t lock;	/* only this futex address; 0: every one */
};

struct threads_opts {
	struct stack_opts st; /* dwarf and unwind_mib only: one sample per thread anyway */
};

enum heap_mode {
	HEAP_MODE_ALLOC,  /* uprobes on the allocator: Go's heap profile */
	HEAP_MODE_GROWTH, /* no uprobes: brk/mmap/munmap and page faults by stack */
};

/* How alloc mode sees allocations (--sampler). */
enum heap_sampler {
	HEAP_SAMPLER_AUTO,    /* injected where it can be, else uprobes */
	HEAP_SAMPLER_INJECT,  /* the in-process sampler, or refuse */
	HEAP_SAMPLER_UPROBES, /* uprobes on the allocator */
};

struct heap_opts {
	struct stack_opts st;
	enum heap_mode mode;
	enum heap_sampler sampler;
	uint64_t rate;	      /* mean bytes between sampled allocations (--rate); 1: all */
	int64_t min_age_ns;   /* inuse: only blocks older than this (--min-age) */
	double max_overhead;  /* refuse above this expected slowdown, percent */
	bool force;	      /* attach even above max_overhead */
	bool at_entry;	      /* probe at function entries, no placement (for the benchmark) */
	bool count_only;      /* probes only count calls: the benchmark's floor */
	bool no_session;      /* uprobe + uretprobe even where session uprobes exist (tests) */
	bool allocs;	      /* Go's allocs profile: alloc_space is the default sample type */
	uint32_t max_live;    /* size of the live map; 0: by rate */
	uint32_t fault_every; /* growth: capture a stack for one page fault in this many */
	/*
	 * growth: a memory syscall is recorded with probability size /
	 * syscall_rate (always when larger) and stands for max(size,
	 * syscall_rate) bytes; 0: every call, exactly.
	 */
	uint64_t syscall_rate;
	/*
	 * Snapshots before the end (--interval, SIGUSR1): the collector builds a
	 * profile of the moment and hands it here; the callee writes it (it
	 * does not keep p).  Returns 0 or -errno.
	 */
	int (*snapshot)(void *ctx, struct session *s, struct profile *p);
	void *snapshot_ctx;
};

/*
 * Each returns 0 and a profile, or -errno (util/errors.h) after printing why.
 * Each file's profile_type (profile_type/) describes its type and parses
 * its options.
 */
int collect_cpu(struct session *s, const struct cpu_opts *o, struct profile **out);
int collect_offcpu(struct session *s, const struct offcpu_opts *o, struct profile **out);
int collect_threadcreate(struct session *s, const struct threadcreate_opts *o,
			 struct profile **out);
int collect_mutex(struct session *s, const struct mutex_opts *o, struct profile **out);
int collect_heap(struct session *s, const struct heap_opts *o, struct profile **out);
/* --mode growth (collect/heap_growth.c), its sample types and the one its top table shows. */
#define HEAP_GROWTH_SAMPLE_INDEX 1 /* faulted_space */
extern const struct value_type_desc heap_growth_types[4];
int collect_heap_growth(struct session *s, const struct heap_opts *o, struct profile **out);
/* heap --mode growth in the agent (profile_type.h, struct type_agent). */
struct agent_capture;
int heap_growth_agent_start(struct session *s, const void *opts, struct agent_capture *c);

/*
 * A snapshot of every target thread now: one sample per thread with its
 * stacks and its state (collect/threads.c).  s->elapsed_ns gets how long
 * the snapshot took.
 */
int collect_threads(struct session *s, const struct threads_opts *o, struct profile **out);

/* offcpu state names as in the `state` label: "sleeping", ...; -EINVAL if unknown. */
int offcpu_state_parse(const char *name);
const char *offcpu_state_name(int state);

#endif
