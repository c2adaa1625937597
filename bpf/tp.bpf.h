/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One handler, two programs.  A tracepoint is attached as tp_btf where the
 * kernel has it (typed arguments, trusted task pointers) and as raw_tp where
 * it has not.  TP_PROG writes both from one body:
 *
 *	TP_PROG(fork, sched_process_fork, struct task_struct *parent,
 *		struct task_struct *child)
 *	{
 *		return on_fork(parent, child);
 *	}
 *
 * emits fork_btf in SEC("tp_btf/sched_process_fork") and fork_raw in
 * SEC("raw_tp/sched_process_fork"), which both call the body with the
 * arguments cast from ctx as BPF_PROG does.  The body sees ctx, the
 * arguments and tp_btf, a constant: true in the tp_btf program.  Code that
 * needs trusted pointers goes under `if (tp_btf)`; the compiler drops it
 * from the raw_tp program, which the verifier would otherwise reject.
 * Userspace keeps one of each pair by the suffix before loading
 * (capture_select_tp in user/capture/bpf.c).
 */
#ifndef BPFPROF_TP_BPF_H
#define BPFPROF_TP_BPF_H

#include <bpf/bpf_tracing.h>

/* clang-format off */
#define TP_PROG(name, tp, args...)						\
static __always_inline int ____tp_##name(bool tp_btf, unsigned long long *ctx, ##args); \
SEC("tp_btf/" #tp)								\
int name##_btf(unsigned long long *ctx)						\
{										\
	_Pragma("GCC diagnostic push")						\
	_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")			\
	return ____tp_##name(true, ___bpf_ctx_cast(args));			\
	_Pragma("GCC diagnostic pop")						\
}										\
SEC("raw_tp/" #tp)								\
int name##_raw(unsigned long long *ctx)						\
{										\
	_Pragma("GCC diagnostic push")						\
	_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")			\
	return ____tp_##name(false, ___bpf_ctx_cast(args));			\
	_Pragma("GCC diagnostic pop")						\
}										\
static __always_inline int ____tp_##name(bool tp_btf, unsigned long long *ctx, ##args)
/* clang-format on */

#endif
