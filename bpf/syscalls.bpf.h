/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A few syscalls traced at their entry and exit, two ways, with one pair of
 * handlers:
 *
 *   - the syscalls' own tracepoints (syscalls:sys_enter_NAME and
 *     sys_exit_NAME), which run BPF for those calls only: SYSCALL_ENTER_TP
 *     and SYSCALL_EXIT_TP;
 *   - raw_syscalls sys_enter/sys_exit, which run it for every syscall of the
 *     machine and check the number first, where tracefs lacks the events:
 *     SYSCALL_RAW_TP (a TP_PROG pair each, sys_enter_btf/_raw and
 *     sys_exit_btf/_raw).
 *
 * The handlers:
 *	void enter(void *ctx, long nr, __u64 a0, __u64 a1, __u64 a2, __u64 a3);
 *	void exit(void *ctx, long nr, long ret);
 *	bool traced(long nr);	(raw_syscalls only: one of ours?)
 * Userspace (capture/syscalls.c) keeps one way before loading and attaches
 * the per-syscall programs by name.
 */
#ifndef BPFPROF_SYSCALLS_BPF_H
#define BPFPROF_SYSCALLS_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "tp.bpf.h"

/* The records of syscalls:sys_enter_* and sys_exit_* (events/syscalls/.../format). */
struct syscall_enter_rec {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};

struct syscall_exit_rec {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/* Argument i of the record, or 0 past the nargs the syscall has. */
#define SYSCALL_ARG(ctx, i, nargs) ((i) < (nargs) ? (ctx)->args[i] : 0)

/*
 * NAME_enter_tp, for syscalls:sys_enter_NAME (userspace may attach it to
 * other syscalls too).  nr is the syscall number: a constant, or ctx->nr
 * when the program serves several.  Only the first nargs (at most 4)
 * arguments are read: the kernel refuses to attach a program that reads
 * past the record of the event (sys_enter_brk has one argument).
 */
#define SYSCALL_ENTER_TP(name, nr, nargs, enter)                                                   \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int name##_enter_tp(struct syscall_enter_rec *ctx)                                         \
	{                                                                                          \
		_Static_assert((nargs) <= 4, "the handlers take four arguments");                  \
		enter(ctx, nr, SYSCALL_ARG(ctx, 0, nargs), SYSCALL_ARG(ctx, 1, nargs),             \
		      SYSCALL_ARG(ctx, 2, nargs), SYSCALL_ARG(ctx, 3, nargs));                     \
		return 0;                                                                          \
	}

/* syscall_exit_tp, for syscalls:sys_exit_NAME; the exit records are alike, one serves all. */
#define SYSCALL_EXIT_TP(name, exit)                                                                \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int syscall_exit_tp(struct syscall_exit_rec *ctx)                                          \
	{                                                                                          \
		exit(ctx, ctx->nr, ctx->ret);                                                      \
		return 0;                                                                          \
	}

/* raw_syscalls: every syscall of the machine, the number checked first. */
#define SYSCALL_RAW_TP(traced, enter, exit)                                                        \
	TP_PROG(sys_enter, sys_enter, struct pt_regs *regs, long nr)                               \
	{                                                                                          \
		if (traced(nr))                                                                    \
			enter(ctx, nr, PT_REGS_PARM1_CORE_SYSCALL(regs),                           \
			      PT_REGS_PARM2_CORE_SYSCALL(regs), PT_REGS_PARM3_CORE_SYSCALL(regs),  \
			      PT_REGS_PARM4_CORE_SYSCALL(regs));                                   \
		return 0;                                                                          \
	}                                                                                          \
	TP_PROG(sys_exit, sys_exit, struct pt_regs *regs, long ret)                                \
	{                                                                                          \
		long nr = BPF_CORE_READ(regs, orig_ax);                                            \
                                                                                                   \
		if (traced(nr))                                                                    \
			exit(ctx, nr, ret);                                                        \
		return 0;                                                                          \
	}

#endif
