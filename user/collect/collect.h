/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Collectors: one per profile type.  Each loads its BPF program, attaches
 * it, runs the session and turns the kernel's aggregates into a profile.
 * Shared helpers for them live in collect/bpf.c (loading, attaching, the
 * capture) and collect/samples.c (aggregation maps → profile).
 */
#ifndef BPFPROF_COLLECT_H
#define BPFPROF_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "bpfprof/types.h"

struct bpf_link;
struct bpf_object;
struct bpf_program;
struct profile;
struct session;
struct stack_resolver;
struct stack_key;
struct pf_label_desc;

/* Options of every profile type keyed by stack and thread. */
struct stack_opts {
	bool dwarf;	      /* unwind user stacks with DWARF CFI tables (--unwind dwarf) */
	uint32_t unwind_mib;  /* memory for unwind tables, MiB (--unwind-mem) */
	bool per_thread;      /* keep a tid label per sample */
	bool follow_children; /* also profile processes the targets start */
};

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

struct heap_opts {
	struct stack_opts st;
	enum heap_mode mode;
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
	 * Snapshots before the end (--interval, SIGUSR1): the collector builds a
	 * profile of the moment and hands it here; the callee writes it (it
	 * does not keep p).  Returns 0 or an exit code.
	 */
	int (*snapshot)(void *ctx, struct session *s, struct profile *p);
	void *snapshot_ctx;
};

/* Each returns 0 and a profile, or an exit code (exitcode.h) after printing why. */
int collect_cpu(struct session *s, const struct cpu_opts *o, struct profile **out);
int collect_offcpu(struct session *s, const struct offcpu_opts *o, struct profile **out);
int collect_threadcreate(struct session *s, const struct threadcreate_opts *o,
			 struct profile **out);
int collect_mutex(struct session *s, const struct mutex_opts *o, struct profile **out);
int collect_heap(struct session *s, const struct heap_opts *o, struct profile **out);
/* --mode growth (collect/heap_growth.c), and the sample type its top table shows. */
#define HEAP_GROWTH_SAMPLE_INDEX 1 /* faulted_space */
int collect_heap_growth(struct session *s, const struct heap_opts *o, struct profile **out);

/*
 * A snapshot of every target thread now: one sample per thread with its
 * stacks and its state (collect/threads.c).  s->elapsed_ns gets how long
 * the snapshot took.
 */
int collect_threads(struct session *s, const struct threads_opts *o, struct profile **out);

/* offcpu state names as in the `state` label: "sleeping", ...; -EINVAL if unknown. */
int offcpu_state_parse(const char *name);
const char *offcpu_state_name(int state);

/* --- collect/bpf.c: shared by collectors --- */

/* libbpf's messages go through pr_debug (shown with -v). */
void collect_setup_libbpf(void);

/*
 * Keeps either the tp_btf programs (names ending "_btf") or their raw_tp
 * twins ("_raw") of obj for loading; call before load.
 */
void collect_select_tp(struct bpf_object *obj, bool btf);

/*
 * Opens and loads a skeleton with open_load (which sets its rodata and map
 * sizes, calls collect_select_tp(obj, btf) and loads), first with the tp_btf
 * programs, else with their raw_tp twins.  Returns the skeleton, or NULL
 * with *ret set to the exit code after printing why.
 */
typedef void *(*collect_open_load_fn)(struct session *s, const void *opts, bool btf, int *err);
void *collect_load(collect_open_load_fn open_load, struct session *s, const void *opts, int *ret);

/* Whether tracefs has the per-syscall tracepoint events/syscalls/DIR_NAME (DIR: sys_enter...). */
bool collect_has_syscall_event(const char *dir, const char *name);
/*
 * Whether to trace the syscalls names[0..n) through their own tracepoints,
 * which run BPF for those calls only, rather than raw_syscalls, which runs
 * it for every syscall of the machine: when each has an entry and an exit
 * event, unless BPFPROF_RAW_SYSCALLS=1 (tests) forces raw_syscalls.
 */
bool collect_use_syscall_events(const char *const *names, size_t n);

/* Explains a failed BPF load/attach in one line; returns the exit code. */
int collect_explain(const char *what, int err);

/* The BPF links of one capture, destroyed together. */
struct collect_links {
	struct bpf_link **links;
	int n, cap;
};

/*
 * Opens the cpu-clock software event at freq Hz on every online CPU and
 * attaches prog to each.  Returns 0 or an exit code after printing why.
 */
int collect_attach_cpu_clock(struct bpf_program *prog, int freq, bool kernel_only,
			     struct collect_links *out);
void collect_detach(struct collect_links *l);
/* Adds link to l (destroyed with it, or now on failure).  0 or -ENOMEM. */
int collect_links_add(struct collect_links *l, struct bpf_link *link);

/* Fills target maps (target_bits or target_pids, target_cgroup) of obj from the session's target. */
int collect_fill_target(struct session *s, struct bpf_object *obj);

/*
 * Prepares a capture with a loaded obj: fills its target maps, follows its
 * process events, records the -p targets, and attaches every tracepoint
 * program selected for loading (the "_btf" or "_raw" set).  Returns 0 or an
 * exit code after printing why.
 */
int collect_begin(struct session *s, struct bpf_object *obj, struct collect_links *links);
/*
 * Starts a launched target, runs the session, then detaches every link so
 * the maps hold still.  Returns 0 or an exit code after printing why.
 */
int collect_run(struct session *s, struct collect_links *links);

/*
 * Adds the standard labels of a stack key: pid, tid (when non-zero), comm
 * and process.  Returns how many were written to labels (at most 4); the
 * strings point into key and the session.
 */
int collect_key_labels(struct session *s, const struct stack_key *key, char *comm_buf,
		       struct pf_label_desc *labels);

/* --- collect/samples.c: aggregates → profile --- */

struct value_type_desc {
	const char *type; /* e.g. "cpu" */
	const char *unit; /* e.g. "nanoseconds" */
};

/* The sample types and period of a profile type, as Go names them. */
struct profile_shape {
	const struct value_type_desc *types;
	int ntypes;
	struct value_type_desc period_type;
	int64_t period;
};

/* Go's block and mutex profiles: contentions/count and delay/nanoseconds. */
extern const struct profile_shape collect_contention_shape;

/* What a collector adds samples to while its profile is built. */
struct sample_sink {
	struct session *s;
	struct profile *p;
	struct stack_resolver *r;
	/* Kernel stacks taken in a tracepoint: trim its machinery off their top. */
	bool trim_tracing;
	/* Leading kernel frames in [trim_lo, trim_hi) are dropped too (0, 0: none). */
	uint64_t trim_lo, trim_hi;
	/* The BPF counters, summed; fill may add losses it finds, all are reported. */
	uint64_t counters[CNT__MAX];
};

#define COLLECT_MAX_EXTRA_LABELS 2

/*
 * Adds one sample for key (its stacks and standard labels) with values (one
 * per sample type) and extra labels.  Samples with equal stacks and labels
 * add up.  Returns 0 or -errno.
 */
int collect_add_sample(struct sample_sink *k, const struct stack_key *key, const int64_t *values,
		       const struct pf_label_desc *extra, int nextra);

/*
 * For each entry of an aggregation map whose key starts with a struct
 * stack_key: fills values (one per sample type) and up to
 * COLLECT_MAX_EXTRA_LABELS extra labels from key and value, and returns how
 * many labels, or -1 to skip the entry.
 */
typedef int (*collect_entry_fn)(const void *key, const void *value, int64_t *values,
				struct pf_label_desc *extra, void *arg);
/* Adds a sample per entry of the aggregation map map_fd.  Returns 0 or -errno. */
int collect_add_map(struct sample_sink *k, int map_fd, collect_entry_fn fn, void *arg);

/*
 * Builds the profile of a finished capture: shape's types and period, the
 * session's times, the samples that fill adds (stacks resolved from the
 * stacks map), and the report of every loss.  Returns 0 or an exit code
 * after printing why.
 */
typedef int (*collect_fill_fn)(struct sample_sink *k, void *arg);
int collect_make_profile(struct session *s, const struct profile_shape *shape, int stacks_fd,
			 collect_fill_fn fill, void *arg, struct profile **out);

/*
 * The same during a capture (a snapshot): losses become comments only and
 * the unwinder stays; the profile's duration is the time so far.
 */
int collect_make_snapshot(struct session *s, const struct profile_shape *shape, int stacks_fd,
			  collect_fill_fn fill, void *arg, struct profile **out);

/* --- collect/unwind.c: DWARF unwinding of user stacks --- */

struct unwinder;

/*
 * Before load: the settings every stack-capturing skeleton shares (targets
 * in target.bpf.h, stacks in stack.bpf.h, children in follow.bpf.h) and the
 * size of its unwind maps.  A macro: each skeleton has its own rodata type.
 */
#define COLLECT_SET_STACK_RODATA(skel, s, st)                                                          \
	do {                                                                                           \
		(skel)->rodata->target_mode = (s)->target->mode;                                       \
		(skel)->rodata->per_thread = (st)->per_thread;                                         \
		(skel)->rodata->follow_children = (st)->follow_children;                               \
		/* --unwind fp still takes the leaf's caller from CFI (gcc's leaves have no frame). */ \
		(skel)->rodata->unwind_dwarf = true;                                                   \
		(skel)->rodata->unwind_cfi_frames = (st)->dwarf ? BPFPROF_MAX_STACK_DEPTH : 1;         \
		/* A launched command waits while new mappings are read (see session.h). */            \
		(skel)->rodata->stop_on_stale_maps = (s)->cont_after_maps;                             \
		collect_unwind_size((skel)->obj, (st), true);                                          \
	} while (0)

/* Before load: sizes the unwind maps of obj: st->unwind_mib when tables, else tiny. */
int collect_unwind_size(struct bpf_object *obj, const struct stack_opts *st, bool tables);
/* Before load: sizes the unwind maps of obj (tiny when st->dwarf is off). */
int collect_unwind_configure(struct bpf_object *obj, const struct stack_opts *st);
/*
 * After load: when obj was configured for DWARF unwinding, starts feeding
 * its unwinder the tables of every process the session tracks (s->unwinder).
 * collect_begin calls it before the targets are tracked.  0 or -errno.
 */
int collect_unwind_start(struct session *s, struct bpf_object *obj);
/*
 * Reports table use in p's comments and, when final, on stderr (-v); final
 * also frees the unwinder.
 */
void collect_unwind_report(struct session *s, struct profile *p, bool final);

#endif
