// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * heap --mode growth: which user stacks grow a process's private anonymous
 * memory, without a probe on the allocator.  Two sources, both rare next to
 * allocations (a malloc/free loop that does not grow the heap runs none of
 * this):
 *
 * - Page faults (exceptions:page_fault_user, and page_fault_kernel for user
 *   addresses the kernel writes on the process's behalf, e.g. read() into a
 *   fresh buffer): a write fault on a private anonymous, writable VMA is
 *   where a page is first written, i.e. where the resident memory grows.
 *   One fault in fault_every (per-CPU countdown) captures a stack and counts
 *   one; userspace scales by fault_every and the page size.
 * - Memory syscalls (syscalls:sys_{enter,exit}_{brk,mmap,munmap,mremap,
 *   mprotect}, else raw_syscalls filtered by number): the address space they
 *   add to or take from private anonymous memory, charged at the exit of a
 *   successful call to the calling stack.  The entry notes what the call
 *   will do (brk: the old break) in the pending map by tid.
 *
 * A stack is captured only for what is recorded: a sampled anonymous fault,
 * or a call that grew or released something.  User stacks only: a kernel
 * stack at a fault or a syscall's entry is the entry code.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "bpfprof/common.h"
#include "bpfprof/growth.h"
#include "target.bpf.h"
#include "stack.bpf.h"
#include "follow.bpf.h"
#include "aggregate.bpf.h"
#include "syscalls.bpf.h"

#ifndef __TARGET_ARCH_x86
#error "syscall numbers, registers and page fault error codes are x86-64's"
#endif
#define NR_mmap 9
#define NR_mprotect 10
#define NR_munmap 11
#define NR_brk 12
#define NR_mremap 25

/* include/uapi/asm-generic/mman*.h */
#define PROT_ACCESS 0x7 /* PROT_READ | PROT_WRITE | PROT_EXEC */
#define MAP_TYPE 0x0f	/* MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE */
#define MAP_PRIVATE 0x02
#define MAP_ANONYMOUS 0x20
#define MAP_HUGETLB 0x40000

/* include/linux/mm.h */
#define VM_READ 0x1
#define VM_WRITE 0x2
#define VM_EXEC 0x4
#define VM_ACCESS (VM_READ | VM_WRITE | VM_EXEC)

/* arch/x86/include/asm/trap_pf.h */
#define X86_PF_WRITE 0x2

#define ENOENT 2

/* One fault in this many captures a stack (and counts for this many). */
const volatile __u32 fault_every = 1;
/*
 * Memory syscalls: 0 records every call; else a call of size bytes is
 * recorded with probability size / syscall_rate (always when it is larger)
 * and counts max(size, syscall_rate) bytes, an unbiased estimate.  Every
 * process's start maps a few small anonymous regions (the loader's TLS,
 * libc's .bss): host-wide, recording each made every short-lived process
 * one to track.
 */
const volatile __u64 syscall_rate = 0;
/* sysconf(_SC_PAGESIZE): mmap and mremap lengths are rounded up to it. */
const volatile __u64 page_size = 4096;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* userspace sizes it before load */
	__type(key, struct stack_key);
	__type(value, struct growth_val);
} growth SEC(".maps");

struct {
	/* Entries live from a syscall's entry to its exit. */
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* userspace sizes it before load */
	__type(key, __u32);	    /* tid */
	__type(value, struct growth_pending);
} pending SEC(".maps");

/* Faults of targets still to go on this CPU before the next one is sampled. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fault_countdown SEC(".maps");

static __always_inline void count_add(enum bpfprof_counter c, __u64 n)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v)
		*v += n;
}

/* What the VMA holding an address is. */
struct vma_info {
	__u64 vma; /* the struct vm_area_struct */
	__u64 end;
	__u64 flags; /* vm_flags */
	__u32 anon;  /* private anonymous memory */
	__u32 pad;
};

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_info *v = data;

	/* The kernel's vma_is_anonymous(): no vm_ops, and so no file (nor shmem) behind it. */
	v->anon = !vma->vm_ops && !vma->vm_file;
	v->flags = vma->vm_flags;
	v->end = vma->vm_end;
	v->vma = (__u64)vma;
	return 0;
}

/*
 * The VMA of the current process holding addr: 0 when found, else 1 (no VMA
 * there).  bpf_find_vma only try-locks the mmap lock; a lookup that finds
 * it taken (by a writer: another thread's mmap, munmap...) is counted.
 */
static __always_inline int lookup_vma(__u64 addr, struct vma_info *v)
{
	long err = bpf_find_vma(bpf_get_current_task_btf(), addr, vma_cb, v, 0);

	if (err && err != -ENOENT)
		count(CNT_GROWTH_VMA_BUSY);
	return err ? 1 : 0;
}

/*
 * The VMA of this CPU's last sampled fault.  Faults come in runs over one
 * region (a buffer being filled), and bpf_find_vma is dear in a fault: with
 * interrupts off it can only unlock the mmap lock from an irq_work, a
 * self-IPI (~18 us per fault measured here, where the fault itself costs
 * 3-5 us).  So the last VMA is checked first, without the lock.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64); /* struct vm_area_struct *, 0: none */
} last_vma SEC(".maps");

/*
 * Whether the cached VMA ptr still holds addr in the current process; if
 * so, fills v from it.  VMAs are SLAB_TYPESAFE_BY_RCU and every read is a
 * probe read, so a freed or reused one is harmless: it must belong to this
 * mm, be attached (vm_refcnt, 6.15+: 0 once detached, before it is freed)
 * and still cover addr.  A writer changing it now (the window in which
 * bpf_find_vma would find the lock taken) may be seen half done.
 */
static __always_inline bool cached_vma(__u64 ptr, __u64 addr, struct vma_info *v)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct vm_area_struct *vma = (struct vm_area_struct *)ptr;
	__u64 start, end;

	if (!bpf_core_field_exists(vma->vm_refcnt))
		return false; /* no way to tell a detached VMA: always look up */
	if (BPF_CORE_READ(vma, vm_mm) != BPF_CORE_READ(task, mm) ||
	    !BPF_CORE_READ(vma, vm_refcnt.refs.counter))
		return false;
	start = BPF_CORE_READ(vma, vm_start);
	end = BPF_CORE_READ(vma, vm_end);
	if (addr < start || addr >= end)
		return false;
	v->vma = ptr;
	v->end = end;
	v->flags = BPF_CORE_READ(vma, vm_flags);
	v->anon = !BPF_CORE_READ(vma, vm_ops) && !BPF_CORE_READ(vma, vm_file);
	return true;
}

/* lookup_vma() for a fault: the last VMA of this CPU first. */
static __always_inline int fault_vma(__u64 addr, struct vma_info *v)
{
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&last_vma, &zero);

	if (last && *last && cached_vma(*last, addr, v))
		return 0;
	if (lookup_vma(addr, v))
		return 1;
	if (last)
		*last = v->vma;
	return 0;
}

static __always_inline __u64 page_align(__u64 len)
{
	return (len + page_size - 1) & ~(page_size - 1);
}

static __always_inline __u64 min_u64(__u64 a, __u64 b)
{
	return a < b ? a : b;
}

/* Adds to the current thread's stack: faults sampled, bytes grown, bytes released. */
static __always_inline void record(void *ctx, __u32 tgid, __u32 tid, __u64 faults, __u64 grown,
				   __u64 released)
{
	struct growth_val zero = {}, *v;
	struct stack_key key = {};

	note_process(tgid);
	key_current(&key, tgid, tid);
	capture_stacks(ctx, &key, 0);
	v = aggregate_slot(&growth, &key, &zero);
	if (!v)
		return;
	if (faults)
		__sync_fetch_and_add(&v->faults, faults);
	if (grown)
		__sync_fetch_and_add(&v->grown_bytes, grown);
	if (released)
		__sync_fetch_and_add(&v->released_bytes, released);
}

/* One target fault in fault_every, counted per CPU: the first one, then every fault_every-th. */
static __always_inline bool fault_sampled(void)
{
	__u32 zero = 0, *left;

	if (fault_every <= 1)
		return true;
	left = bpf_map_lookup_elem(&fault_countdown, &zero);
	if (!left)
		return false;
	if (*left > 1) {
		(*left)--;
		return false;
	}
	*left = fault_every;
	return true;
}

/*
 * A page fault of the current task.  Only writes count: a read of a page
 * never written maps the shared zero page and adds no memory; the write
 * that follows faults again (on a present page) and counts then.  The
 * sampling draw comes before the VMA lookup, so unsampled faults cost a
 * bitmap lookup and a decrement; a sampled fault stands for fault_every
 * write faults of the target, and counts only when its VMA is anonymous,
 * so the scaled counts estimate the anonymous faults without bias.
 */
static __always_inline void on_fault(void *ctx, __u64 address, __u64 error_code)
{
	struct vma_info v = {};
	__u64 id;

	/* A kernel address (page_fault_kernel): the upper half of the address space. */
	if (!(error_code & X86_PF_WRITE) || (long)address < 0)
		return;
	id = bpf_get_current_pid_tgid();
	if (!is_target(id >> 32) || !fault_sampled())
		return;
	if (fault_vma(address, &v) || !v.anon || !(v.flags & VM_WRITE))
		return;
	count_add(CNT_EVENTS, fault_every);
	record(ctx, id >> 32, (__u32)id, 1, 0, 0);
}

TP_PROG(fault_user, page_fault_user, unsigned long address, struct pt_regs *regs,
	unsigned long error_code)
{
	on_fault(ctx, address, error_code);
	return 0;
}

/* A fault in kernel mode on a user address: copy_to_user() into untouched memory. */
TP_PROG(fault_kernel, page_fault_kernel, unsigned long address, struct pt_regs *regs,
	unsigned long error_code)
{
	on_fault(ctx, address, error_code);
	return 0;
}

/*
 * The VMA at the start of a munmap/mremap/mprotect range decides: private
 * anonymous memory or not, and how much of the range it holds (the rest of
 * a range over several VMAs is not counted: glibc's calls stay in one).
 */
static __always_inline bool enter_munmap(__u64 addr, __u64 len, struct growth_pending *p)
{
	struct vma_info v = {};

	if (lookup_vma(addr, &v) || !v.anon || !(v.flags & VM_ACCESS))
		return false;
	p->release = min_u64(page_align(len), v.end - addr);
	return true;
}

static __always_inline bool enter_mremap(__u64 addr, __u64 old_len, __u64 new_len,
					 struct growth_pending *p)
{
	struct vma_info v = {};

	old_len = page_align(old_len);
	new_len = page_align(new_len);
	if (old_len == new_len || lookup_vma(addr, &v) || !v.anon || !(v.flags & VM_ACCESS))
		return false;
	if (new_len > old_len)
		p->grow = new_len - old_len;
	else
		p->release = old_len - new_len;
	return true;
}

/*
 * PROT_NONE → accessible grows, the reverse releases: glibc reserves each
 * thread arena's 64 MiB with PROT_NONE and makes it usable piece by piece
 * with mprotect, and pthread stacks are made usable the same way.
 */
static __always_inline bool enter_mprotect(__u64 addr, __u64 len, __u64 prot,
					   struct growth_pending *p)
{
	struct vma_info v = {};
	bool was, now = prot & PROT_ACCESS;

	if (lookup_vma(addr, &v) || !v.anon)
		return false;
	was = v.flags & VM_ACCESS;
	if (was == now)
		return false;
	len = min_u64(page_align(len), v.end - addr);
	if (now)
		p->grow = len;
	else
		p->release = len;
	return true;
}

/* The entry of a memory syscall: args as the syscall got them. */
static __always_inline void on_enter(__u32 nr, __u64 a0, __u64 a1, __u64 a2, __u64 a3)
{
	struct growth_pending p = { .nr = nr };
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	bool keep = false;

	if (!is_target(id >> 32))
		return;
	switch (nr) {
	case NR_brk:
		p.old_brk = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), mm, brk);
		keep = a0 != 0; /* brk(0) asks for the break */
		break;
	case NR_mmap: /* addr, len, prot, flags: private anonymous and accessible */
		if ((a3 & (MAP_ANONYMOUS | MAP_TYPE | MAP_HUGETLB)) ==
			    (MAP_ANONYMOUS | MAP_PRIVATE) &&
		    (a2 & PROT_ACCESS)) {
			p.grow = page_align(a1);
			keep = true;
		}
		break;
	case NR_munmap:
		keep = enter_munmap(a0, a1, &p);
		break;
	case NR_mremap:
		keep = enter_mremap(a0, a1, a2, &p);
		break;
	case NR_mprotect:
		keep = enter_mprotect(a0, a1, a2, &p);
		break;
	}
	if (keep && bpf_map_update_elem(&pending, &tid, &p, BPF_ANY))
		count(CNT_GROWTH_PENDING_FULL);
}

/*
 * The draw for a call that grew or released *grow + *release bytes (one of
 * them is 0): true with probability bytes / syscall_rate, the amount then
 * raised to syscall_rate.  syscall_rate is at most 1 GiB (the option's
 * bound): the products fit in 64 bits.
 */
static __always_inline bool syscall_sampled(__u64 *grow, __u64 *release)
{
	__u64 *amount = *grow ? grow : release;

	if (*amount >= syscall_rate)
		return true;
	if ((__u64)bpf_get_prandom_u32() * syscall_rate >= *amount << 32)
		return false;
	*amount = syscall_rate;
	return true;
}

/* The exit of a memory syscall of the current thread. */
static __always_inline void on_exit(void *ctx, __u32 nr, long ret)
{
	__u64 id = bpf_get_current_pid_tgid(), grow, release;
	__u32 tid = (__u32)id;
	struct growth_pending *p = bpf_map_lookup_elem(&pending, &tid);

	if (!p)
		return;
	grow = p->grow;
	release = p->release;
	if (p->nr != nr) {
		/* Left by a call whose exit was not seen: drop it. */
		grow = release = 0;
	} else if (nr == NR_brk) {
		/* brk returns the new break, or the old one when it failed. */
		if ((__u64)ret > p->old_brk)
			grow = ret - p->old_brk;
		else
			release = p->old_brk - ret;
	} else if (ret < 0) {
		grow = release = 0; /* -errno; mmap and mremap's addresses are positive */
	}
	bpf_map_delete_elem(&pending, &tid);
	if (!grow && !release)
		return;
	if (syscall_rate && !syscall_sampled(&grow, &release))
		return;
	record(ctx, id >> 32, tid, 0, grow, release);
}

static __always_inline void mem_enter(void *ctx, long nr, __u64 a0, __u64 a1, __u64 a2, __u64 a3)
{
	on_enter(nr, a0, a1, a2, a3);
}

static __always_inline bool is_mem_nr(long nr)
{
	return (nr >= NR_mmap && nr <= NR_brk) || nr == NR_mremap;
}

/* One entry program per syscall, each reading the arguments its record has. */
SYSCALL_ENTER_TP(brk, NR_brk, 1, mem_enter)
SYSCALL_ENTER_TP(mmap, NR_mmap, 4, mem_enter)
SYSCALL_ENTER_TP(munmap, NR_munmap, 2, mem_enter)
SYSCALL_ENTER_TP(mremap, NR_mremap, 3, mem_enter)
SYSCALL_ENTER_TP(mprotect, NR_mprotect, 3, mem_enter)
SYSCALL_EXIT_TP(brk, on_exit)
SYSCALL_RAW_TP(is_mem_nr, mem_enter, on_exit)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
