/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Process lifecycle of targets: follow the children of target processes
 * (when asked) and tell userspace when a target execs, so it records the new
 * image's mappings.  Each a TP_PROG: tp_btf, or raw_tp where tp_btf does
 * not load.
 */
#ifndef BPFPROF_FOLLOW_BPF_H
#define BPFPROF_FOLLOW_BPF_H

#include "target.bpf.h"
#include "tp.bpf.h"

const volatile bool follow_children = false;

static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 cpid = BPF_CORE_READ(child, pid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);

	if (cpid != ctgid)
		return 0; /* a new thread is covered by its tgid already */
	if (target_mode != TARGET_PIDS) {
		/*
		 * A new process, maybe under the pid of one reported before
		 * (pids wrap, and nothing here watches exits): reported as new
		 * at its first event.
		 */
		bpf_map_delete_elem(&seen_pids, &ctgid);
		return 0;
	}
	if (!follow_children)
		return 0;
	if (!pid_is_target(ptgid))
		return 0;
	if (pid_add_target(ctgid)) {
		count(CNT_TARGET_PIDS_FULL);
		return 0;
	}
	emit_proc_event(BPFPROF_PROC_FORK, ctgid, child);
	return 0;
}

static __always_inline int on_exec(struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	__u64 execed = SEEN_EXECED;

	if (!is_target(tgid))
		return 0;
	if (target_mode != TARGET_PIDS) {
		/*
		 * The whole host or a cgroup: most processes that exec are
		 * never sampled (a shell's /bin/true at 19 Hz), and at exec
		 * their libraries are not mapped yet anyway.  The exec is
		 * reported with the first event of the new image, if any
		 * (note_process_of); one never seen before is reported then
		 * as new.
		 */
		if (bpf_map_lookup_elem(&seen_pids, &tgid))
			bpf_map_update_elem(&seen_pids, &tgid, &execed, BPF_EXIST);
		return 0;
	}
	/* Reported afresh: the next sample is taken in the new image. */
	bpf_map_delete_elem(&seen_pids, &tgid);
	emit_proc_event(BPFPROF_PROC_EXEC, tgid, task);
	return 0;
}

/*
 * One fork program per object: a profile type that does more on fork
 * defines BPFPROF_OWN_FORK_PROGRAMS and its own TP_PROG(fork, ...), which
 * call on_fork() too.
 */
#ifndef BPFPROF_OWN_FORK_PROGRAMS
TP_PROG(fork, sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child);
}
#endif

TP_PROG(exec, sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return on_exec(p);
}

#endif
