/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* In-kernel aggregation: one value per key, shared by every profile type. */
#ifndef BPFPROF_AGGREGATE_BPF_H
#define BPFPROF_AGGREGATE_BPF_H

#include "counters.bpf.h"

/* Keep the thread in keys (the tid label); off for -a and --cgroup by default. */
const volatile bool per_thread = true;

/*
 * The generation of the keys counted now.  A long-running capture (the
 * agent) drains a map by flipping it: programs that read the old value have
 * all ended once an RCU grace period has passed, so userspace then reads
 * and deletes the old generation's keys while the new one is counted.
 */
volatile __u32 agg_gen;

/* Fills the task part of a key for the current task: process, thread, name. */
static __always_inline void key_current(struct stack_key *key, __u32 tgid, __u32 tid)
{
	key->pid = tgid;
	key->tid = per_thread ? tid : 0;
	bpf_get_current_comm(&key->comm, sizeof(key->comm));
}

/*
 * The value of key in map (its generation set to the current one),
 * inserted as a copy of init when absent.  NULL
 * when the map is full: the event is lost, and counted.  Callers add to the
 * value with atomics, since other CPUs update the same slot.
 */
static __always_inline void *aggregate_slot(void *map, void *key, const void *init)
{
	void *v;

	/* Every aggregation key starts with a struct stack_key. */
	((struct stack_key *)key)->gen = agg_gen;
	v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	/* Fails with -EEXIST when another CPU inserted it just now: look again. */
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		count(CNT_COUNTS_MAP_FULL);
	return v;
}

#endif
