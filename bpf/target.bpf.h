/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * "Is the current task a target?" (is_target), or another task, for task
 * iterators (is_target_task).  Set target_mode, and target_cgroup_id for
 * is_target_task, before load; fill target_bits or target_cgroup from
 * userspace.  Processes are reported to
 * userspace once, when first seen, so it can record their mappings while
 * they live.
 */
#ifndef BPFPROF_TARGET_BPF_H
#define BPFPROF_TARGET_BPF_H

#include "counters.bpf.h"

const volatile __u32 target_mode = TARGET_PIDS;
/* TARGET_CGROUP for is_target_task: the kernfs id of the cgroup v2 directory. */
const volatile __u64 target_cgroup_id;

/* The kernel's PID_MAX_LIMIT on 64-bit: no tgid reaches it. */
#define TARGET_PID_LIMIT (4 * 1024 * 1024)

/*
 * The target processes (TARGET_PIDS), one bit per tgid: 512 KiB, and a
 * lookup the verifier inlines, where a hash lookup costs ~45 ns.  The check
 * runs on every event of the machine (every context switch for offcpu).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TARGET_PID_LIMIT / 64);
	__type(key, __u32); /* tgid / 64 */
	__type(value, __u64);
} target_bits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_cgroup SEC(".maps");

/* Processes already reported to userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64); /* 64 bits: BPF's compare-and-swap */
} seen_pids SEC(".maps");

/* seen_pids values: reported to userspace; exec'd, its new image not yet reported. */
#define SEEN_REPORTED 1
#define SEEN_EXECED 2

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} proc_events SEC(".maps");

static __always_inline bool pid_is_target(__u32 tgid)
{
	__u32 word = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(&target_bits, &word);

	return bits && (*bits >> (tgid % 64)) & 1;
}

/* Adds tgid to the targets; -1 when it is out of range. */
static __always_inline int pid_add_target(__u32 tgid)
{
	__u32 word = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(&target_bits, &word);

	if (!bits)
		return -1;
	__sync_fetch_and_or(bits, 1ULL << (tgid % 64));
	return 0;
}

/*
 * The agent itself, left out of its off-CPU, lock and growth profiles: its
 * waits are its idling, and recording them fed back into its own cost (a
 * wake-up per process event made an off-CPU sample to unwind).  Its CPU
 * stays in the cpu profile, which does not set it.  0: none.
 */
const volatile __u32 exclude_tgid = 0;

static __always_inline bool is_target(__u32 tgid)
{
	if (tgid == 0 || tgid == exclude_tgid) /* the idle tasks; the agent */
		return false;
	switch (target_mode) {
	case TARGET_ALL:
		return true;
	case TARGET_PIDS:
		return pid_is_target(tgid);
	case TARGET_CGROUP:
		return bpf_current_task_under_cgroup(&target_cgroup, 0) == 1;
	}
	return false;
}

/* Cgroup v2 nesting is_target_task follows upwards; deeper targets are not found. */
#define TARGET_CGROUP_MAX_DEPTH 32

static __always_inline bool task_in_target_cgroup(struct task_struct *task)
{
	struct cgroup *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	int i;

	for (i = 0; i < TARGET_CGROUP_MAX_DEPTH && cg; i++) {
		if (BPF_CORE_READ(cg, kn, id) == target_cgroup_id)
			return true;
		/* self is the first member of struct cgroup: its parent css is the parent cgroup. */
		cg = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	}
	return false;
}

/*
 * The same question for a task other than the current one (a task
 * iterator's): bpf_current_task_under_cgroup cannot answer it, so the
 * cgroup is found among the task's cgroup's ancestors.
 */
static __always_inline bool is_target_task(struct task_struct *task, __u32 tgid)
{
	if (tgid == exclude_tgid)
		return false;
	switch (target_mode) {
	case TARGET_ALL:
		return true;
	case TARGET_PIDS:
		return pid_is_target(tgid);
	case TARGET_CGROUP:
		return task_in_target_cgroup(task);
	}
	return false;
}

/*
 * Not exec'd since its fork (exec bumps self_exec_id; the fork copied the
 * parent's into parent_exec_id) and the same executable as its parent (not
 * re-parented to another program since): its mappings are its parent's.
 */
static __always_inline bool forked_image(struct task_struct *leader)
{
	struct task_struct *parent = BPF_CORE_READ(leader, real_parent);
	struct file *exe = BPF_CORE_READ(leader, mm, exe_file);

	return BPF_CORE_READ(leader, self_exec_id) == BPF_CORE_READ(leader, parent_exec_id) &&
	       exe && exe == BPF_CORE_READ(parent, mm, exe_file);
}

static __noinline void emit_proc_event(__u32 type, __u32 tgid, struct task_struct *leader)
{
	struct bpfprof_proc_event *e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);

	if (!e) {
		count(CNT_PROC_EVENTS_LOST);
		return;
	}
	e->type = type;
	e->pid = tgid;
	BPF_CORE_READ_STR_INTO(&e->comm, leader, comm);
	e->ppid = BPF_CORE_READ(leader, real_parent, tgid);
	e->start_ns = BPF_CORE_READ(leader, start_boottime);
	e->flags = (type == BPFPROF_PROC_NEW || type == BPFPROF_PROC_FORK) && forked_image(leader)
			   ? BPFPROF_PROC_F_FORKED
			   : 0;
	bpf_ringbuf_submit(e, 0);
}

/* Tells userspace about a target process the first time it is seen; task is one of its threads. */
static __always_inline void note_process_of(__u32 tgid, struct task_struct *task)
{
	__u64 one = SEEN_REPORTED, *seen;

	seen = bpf_map_lookup_elem(&seen_pids, &tgid);
	if (seen) {
		if (*seen == SEEN_REPORTED)
			return;
		/* Exec'd since it was reported (follow.bpf.h): its new image, now. */
		if (!__sync_bool_compare_and_swap(seen, SEEN_EXECED, SEEN_REPORTED))
			return; /* another CPU reports it */
		emit_proc_event(BPFPROF_PROC_EXEC, tgid, BPF_CORE_READ(task, group_leader));
		return;
	}
	if (bpf_map_update_elem(&seen_pids, &tgid, &one, BPF_NOEXIST))
		return; /* another CPU reported it just now */
	emit_proc_event(BPFPROF_PROC_NEW, tgid, BPF_CORE_READ(task, group_leader));
}

/* The same, for the process of the current task. */
static __always_inline void note_process(__u32 tgid)
{
	note_process_of(tgid, (struct task_struct *)bpf_get_current_task());
}

#endif
