/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The capture plumbing every profile type shares: loading and attaching BPF
 * (capture/bpf.c), turning aggregation maps into a profile
 * (capture/samples.c) and feeding DWARF unwind tables to BPF
 * (capture/unwind.c).  The profile types themselves are in collect/.
 */
#ifndef BPFPROF_CAPTURE_H
#define BPFPROF_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
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

/* --- capture/bpf.c: loading, attaching, the run --- */

/* libbpf's messages go through pr_debug (shown with -v). */
void capture_setup_libbpf(void);

/*
 * Keeps either the tp_btf programs (names ending "_btf") or their raw_tp
 * twins ("_raw") of obj for loading, the pairs bpf/tp.bpf.h's TP_PROG
 * emits; call before load.
 */
void capture_select_tp(struct bpf_object *obj, bool btf);

/*
 * Opens and loads a skeleton with open_load (which sets its rodata and map
 * sizes, calls capture_select_tp(obj, btf) and loads), first with the tp_btf
 * programs, else with their raw_tp twins.  Returns the skeleton, or NULL
 * with *ret set to -errno after printing why.
 */
typedef void *(*capture_open_load_fn)(struct session *s, const void *opts, bool btf, int *err);
void *capture_load(capture_open_load_fn open_load, struct session *s, const void *opts, int *ret);

/*
 * Explains a failed BPF load/attach in one line; returns err, or
 * -BPFPROF_ESYSTEM when the cause is privilege or the kernel.
 */
int capture_explain(const char *what, int err);

/* The BPF links of one capture, destroyed together. */
struct capture_links {
	struct bpf_link **links;
	int n, cap;
};

/* --- capture/syscalls.c: syscalls traced with bpf/syscalls.bpf.h --- */

/* The syscalls of one BPF object's SYSCALL_ENTER_TP/SYSCALL_EXIT_TP/SYSCALL_RAW_TP. */
struct syscall_set {
	const char *what;	  /* in messages: "futex calls" */
	const char *const *names; /* as under events/syscalls/: "futex", "brk" */
	size_t n;
	/*
	 * names[0..required) must all have tracepoints for them to be used;
	 * the others are attached where this kernel has them (newer calls).
	 */
	size_t required;
	bool shared_enter; /* names[0]'s entry program serves every name */
};

/*
 * Before load, after capture_select_tp: keeps either the per-syscall
 * programs (NAME_enter_tp, syscall_exit_tp), which run BPF for those calls
 * only, or raw_syscalls, which runs it for every syscall of the machine.
 * The per-syscall ones when names[0..required) each have an entry and an
 * exit event (tracefs is mounted first if need be), unless
 * BPFPROF_RAW_SYSCALLS=1 (tests) forces raw_syscalls.  Returns which.
 */
bool capture_syscalls_select(struct bpf_object *obj, const struct syscall_set *set);
/*
 * After capture_begin (which attaches raw_syscalls with the other
 * tracepoints): attaches the per-syscall programs kept, exits first, so that
 * an entry seen always has its exit seen.  Returns 0 or -errno.
 */
int capture_syscalls_attach(struct bpf_object *obj, const struct syscall_set *set,
			    struct capture_links *links);

/*
 * Opens the cpu-clock software event at freq Hz on every online CPU and
 * attaches prog to each.  Returns 0 or -errno after printing why.
 */
int capture_attach_cpu_clock(struct bpf_program *prog, int freq, bool kernel_only,
			     struct capture_links *out);
void capture_detach(struct capture_links *l);
/* Adds link to l (destroyed with it, or now on failure).  0 or -ENOMEM. */
int capture_links_add(struct capture_links *l, struct bpf_link *link);

/* Fills target.bpf.h's maps (target_bits, target_cgroup) of obj from the session's target. */
int capture_fill_target(struct session *s, struct bpf_object *obj);

/*
 * Prepares a capture with a loaded obj: fills its target maps, follows its
 * process events, records the -p targets, and attaches every tracepoint
 * program selected for loading (the "_btf" or "_raw" set).  A later object
 * of the same session (capture_share_maps) only fills its targets and
 * attaches.  Returns 0 or an -errno after printing why.
 */
int capture_begin(struct session *s, struct bpf_object *obj, struct capture_links *links);
/*
 * Starts a launched target, runs the session, then detaches every link so
 * the maps hold still.  Returns 0 or -errno after printing why.
 */
int capture_run(struct session *s, struct capture_links *links);

/*
 * Adds the standard labels of a stack key: pid, tid (when non-zero), comm
 * and process, and for a process in a container container_id and, where
 * its runtime's files say, container, pod and namespace (proc/container.h).
 * Returns how many were written to labels (at most CAPTURE_KEY_LABELS_MAX);
 * the strings point into key, the session and the container cache, valid
 * until the next call.
 */
#define CAPTURE_KEY_LABELS_MAX 8
int capture_key_labels(struct session *s, const struct stack_key *key, char *comm_buf,
		       struct pf_label_desc *labels);

/* --- capture/samples.c: aggregates → profile --- */

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
extern const struct profile_shape capture_contention_shape;
extern const struct value_type_desc capture_contention_types[2];

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

#define CAPTURE_MAX_EXTRA_LABELS 2

/*
 * Adds one sample for key (its stacks and standard labels) with values (one
 * per sample type) and extra labels.  Samples with equal stacks and labels
 * add up.  Returns 0 or -errno.
 */
int capture_add_sample(struct sample_sink *k, const struct stack_key *key, const int64_t *values,
		       const struct pf_label_desc *extra, int nextra);

/*
 * For each entry of an aggregation map whose key starts with a struct
 * stack_key: fills values (one per sample type) and up to
 * CAPTURE_MAX_EXTRA_LABELS extra labels from key and value, and returns how
 * many labels, or -1 to skip the entry.
 */
typedef int (*capture_entry_fn)(const void *key, const void *value, int64_t *values,
				struct pf_label_desc *extra, void *arg);
/* Adds a sample per entry of the aggregation map map_fd.  Returns 0 or -errno. */
int capture_add_map(struct sample_sink *k, int map_fd, capture_entry_fn fn, void *arg);

/*
 * Puts first the mapping of the executable of the process whose samples
 * weigh most (the only one, for a profile of one process; kernel threads,
 * which have none, are passed over), as Go's
 * profiles have their program first; adds it when no sample ran in it.
 * Nothing changes when that process or its executable is unknown.
 * 0 or -ENOMEM.
 */
int capture_lead_mapping(struct session *s, struct profile *p);

/*
 * Builds the profile of a finished capture: shape's types and period, the
 * session's times, the samples that fill adds (stacks resolved from the
 * stacks map), and the report of every loss.  Returns 0 or -errno
 * after printing why.
 */
typedef int (*capture_fill_fn)(struct sample_sink *k, void *arg);
int capture_make_profile(struct session *s, const struct profile_shape *shape, int stacks_fd,
			 capture_fill_fn fill, void *arg, struct profile **out);

/* How the loss report tells of a counter (bpfprof/common.h's BPFPROF_COUNTERS). */
enum counter_kind {
	COUNTER_LOSS,  /* a warning and a comment, with its share of the events */
	COUNTER_NOTE,  /* a comment, and a line with -v */
	COUNTER_DEBUG, /* a line with -v only */
};

struct counter_desc {
	const char *name; /* "CNT_STACK_MAP_FULL" */
	enum counter_kind kind;
	const char *message; /* follows the count: "stacks lost: stack map full" */
};

/* Every counter of enum bpfprof_counter, at its index. */
extern const struct counter_desc capture_counters[CNT__MAX];

/*
 * The report of counters c of a capture whose events are called noun: each
 * nonzero counter as its kind says, plus unmapped (addresses in no recorded
 * mapping) as a loss; on stderr only when final (a snapshot only adds the
 * comments to p).  Returns 0 or -errno.
 */
int capture_report_counters(const uint64_t c[CNT__MAX], const char *noun, uint64_t unmapped,
			    struct profile *p, bool final);
/* The same for session s, after its summary line "N samples, M without a user stack". */
int capture_report_losses(struct session *s, const uint64_t c[CNT__MAX], uint64_t unmapped,
			  struct profile *p, bool final);

/*
 * The same during a capture (a snapshot): losses become comments only and
 * the unwinder stays; the profile's duration is the time so far.
 */
int capture_make_snapshot(struct session *s, const struct profile_shape *shape, int stacks_fd,
			  capture_fill_fn fill, void *arg, struct profile **out);

/* --- capture/unwind.c: DWARF unwinding of user stacks --- */

struct unwinder;

/*
 * Before load: the settings every stack-capturing skeleton shares (targets
 * in target.bpf.h, stacks in stack.bpf.h, children in follow.bpf.h) and the
 * size of its unwind maps.  A macro: each skeleton has its own rodata type.
 */
#define CAPTURE_SET_STACK_RODATA(skel, s, st)                                                          \
	do {                                                                                           \
		(skel)->rodata->target_mode = (s)->target->mode;                                       \
		(skel)->rodata->exclude_tgid = (s)->exclude_self ? getpid() : 0;                       \
		(skel)->rodata->per_thread = (st)->per_thread;                                         \
		(skel)->rodata->follow_children = (st)->follow_children;                               \
		/* --unwind fp still takes the leaf's caller from CFI (gcc's leaves have no frame). */ \
		(skel)->rodata->unwind_cfi_frames = (st)->dwarf ? BPFPROF_MAX_STACK_DEPTH : 1;         \
		/* A launched command waits while new mappings are read (see session.h). */            \
		(skel)->rodata->stop_for_maps = (s)->stop_for_maps;                                    \
		capture_unwind_size((skel)->obj, (st), true);                                          \
		capture_share_maps((skel)->obj, (s));                                                  \
	} while (0)

/*
 * Before load: when the session already has a loaded object (s->shared_obj,
 * the agent's first profile type), obj uses its maps for what a session
 * shares: targets, process events, counters, unwind tables and stacks.  Each
 * object keeps its per-CPU scratch and rule cache, which programs that
 * interrupt one another must not share.  Returns 0 or -errno.
 */
int capture_share_maps(struct bpf_object *obj, struct session *s);

/* Before load: sizes the unwind maps of obj: st->unwind_mib when tables, else tiny. */
int capture_unwind_size(struct bpf_object *obj, const struct stack_opts *st, bool tables);
/* Before load: sizes the unwind maps of obj (tiny when st->dwarf is off). */
int capture_unwind_configure(struct bpf_object *obj, const struct stack_opts *st);
/*
 * After load: when obj was configured for DWARF unwinding, starts feeding
 * its unwinder the tables of every process the session tracks (s->unwinder).
 * capture_begin calls it before the targets are tracked.  0 or -errno.
 */
int capture_unwind_start(struct session *s, struct bpf_object *obj);
/*
 * Reports table use in p's comments and, when final, on stderr (-v); final
 * also frees the unwinder.
 */
void capture_unwind_report(struct session *s, struct profile *p, bool final);

#endif
