// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * CPU profile: a perf_event program on the cpu-clock software event of every
 * CPU.  Each sample of a target task adds one to the count of its
 * (pid, tid, user stack, kernel stack, comm) key; nothing is sent to
 * userspace per sample.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "bpfprof/common.h"
#include "target.bpf.h"
#include "stack.bpf.h"
#include "follow.bpf.h"
#include "aggregate.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* userspace sizes it before load */
	__type(key, struct stack_key);
	__type(value, __u64); /* samples */
} counts SEC(".maps");

/*
 * The sample interrupted user code.  The context allows only whole-word
 * reads of the registers: cs is read as the word it starts.
 */
static __always_inline bool interrupted_user_mode(struct bpf_perf_event_data *ctx)
{
	return (*(volatile __u64 *)&ctx->regs.cs & 3) == 3;
}

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct stack_key key = {};
	__u64 zero = 0, *val;

	if (!is_target(tgid))
		return 0;
	count(CNT_EVENTS);
	note_process(tgid);

	key_current(&key, tgid, (__u32)id);
	if (capture_kernel && interrupted_user_mode(ctx)) {
		/*
		 * No kernel frames to find, and bpf_get_stack would take 0.2-0.4
		 * µs to find none: most samples of a busy program land here.
		 */
		key.user_stack = capture_user ? capture_user_stack(ctx) : STACK_ID_NONE;
		key.kern_stack = STACK_ID_NONE;
		count(CNT_KSTACK_NONE);
	} else {
		capture_stacks(ctx, &key, 0);
	}

	val = aggregate_slot(&counts, &key, &zero);
	if (val)
		__sync_fetch_and_add(val, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
