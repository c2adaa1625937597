/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Collectors: one per profile type.  Each loads its BPF program, attaches
 * it, runs the session and turns the kernel's aggregates into a profile.
 * Shared helpers for them live in collect/bpf.c.
 */
#ifndef BPFPROF_COLLECT_H
#define BPFPROF_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

struct bpf_link;
struct bpf_object;
struct bpf_program;
struct profile;
struct session;
struct stack_resolver;
struct stack_key;

struct cpu_opts {
	int freq;	  /* samples per second per CPU */
	bool user;	  /* capture user stacks */
	bool kernel;	  /* capture kernel stacks */
	bool kernel_only; /* sample only in kernel mode */
	bool per_thread;  /* keep a tid label per sample */
	bool follow_children;
};

/* Returns 0 and a profile, or an exit code (exitcode.h) after printing why. */
int collect_cpu(struct session *s, const struct cpu_opts *o, struct profile **out);

/* --- collect/bpf.c: shared by collectors --- */

/* libbpf's messages go through pr_debug (shown with -v). */
void collect_setup_libbpf(void);

/*
 * Keeps either the tp_btf programs (names ending "_btf") or their raw_tp
 * twins ("_raw") of obj for loading; call before load.
 */
void collect_select_tp(struct bpf_object *obj, bool btf);

/* Explains a failed BPF load/attach in one line; returns the exit code. */
int collect_explain(const char *what, int err);

struct perf_links {
	struct bpf_link **links;
	int n;
};

/*
 * Opens the cpu-clock software event at freq Hz on every online CPU and
 * attaches prog to each.  Returns 0 or an exit code after printing why.
 */
int collect_attach_cpu_clock(struct bpf_program *prog, int freq, bool kernel_only,
			     struct perf_links *out);
void collect_detach(struct perf_links *l);

/* Fills target maps (target_pids, target_cgroup) of obj from the session's target. */
int collect_fill_target(struct session *s, struct bpf_object *obj);

/*
 * Adds the standard labels of a stack key: pid, tid (when non-zero), comm
 * and process.  Returns how many were written to labels (at most 4); the
 * strings point into key and the session.
 */
struct pf_label_desc;
int collect_key_labels(struct session *s, const struct stack_key *key, char *comm_buf,
		       struct pf_label_desc *labels);

#endif
