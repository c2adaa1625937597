/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * User stack unwinding from DWARF CFI tables (user/unwind/ builds them from
 * .eh_frame / .debug_frame).  Frame by frame: find the mapping of the pc,
 * find its table row, compute the CFA, read the return address and the
 * caller's rbp, repeat.  A frame without a table falls back to the frame
 * pointer.  Works on code without frame pointers (Debian's glibc, -O2).
 *
 * Two variants, chosen at compile time.  By default the stack is read with
 * bpf_probe_read_user: the current task (sampling, tracepoints), any program
 * type.  A program that defines UNWIND_OTHER_TASKS before including this
 * reads the stack of the task given to unwind_user() with
 * bpf_copy_from_user_task, which may fault pages in and so is allowed only
 * in sleepable programs (the threads iterator).  A compile-time choice, not
 * a branch on the task: a non-sleepable program that could reach that
 * helper would not load.
 */
#ifndef BPFPROF_UNWIND_BPF_H
#define BPFPROF_UNWIND_BPF_H

#include "counters.bpf.h"
#ifndef UNWIND_OTHER_TASKS
#include "target.bpf.h" /* emit_proc_event */
#endif

/*
 * Frames unwound with CFI, the rest by frame pointer: all of them, or 1
 * with --unwind fp, where the leaf's CFI still finds its caller (gcc gives
 * leaf functions no frame even with -fno-omit-frame-pointer).
 */
const volatile __u32 unwind_cfi_frames = BPFPROF_MAX_STACK_DEPTH;

#define UNWIND_PAGE_SHIFT 16
/* Binary search steps within one page of rows: enough for 2^20 rows. */
#define UNWIND_SEARCH_STEPS 20

/* Every file's rows, one after the other; userspace writes it through mmap. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* userspace sizes it before load */
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct unwind_row);
} unwind_rows SEC(".maps");

/* Where the rows of a 64 KiB page of a file's addresses are. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct unwind_page_key);
	__type(value, struct unwind_page);
} unwind_pages SEC(".maps");

/* The executable mappings of each target process. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tgid */
	__type(value, struct unwind_proc);
} unwind_procs SEC(".maps");

struct uregs {
	__u64 ip, sp, bp;
};

#ifndef UNWIND_OTHER_TASKS
/*
 * The rule of each pc seen lately on this CPU, direct-mapped: a hit skips
 * the mapping scan, the page lookup and the binary search, a dozen or more
 * cache lines when cold.  Keyed by process, the generation of its maps
 * (userspace makes a new one at every write) and pc, so a frame is never
 * read with the rule of code mapped there before.  Not in the sleepable
 * variant, which may move between CPUs.
 */
#define UNWIND_CACHE_SIZE 2048

struct unwind_cached {
	__u64 pc; /* 0: empty, or being written */
	__u32 tgid;
	__u32 gen;
	struct unwind_row row; /* cfa UNWIND_NONE: no table, frame pointer */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UNWIND_CACHE_SIZE);
	__type(key, __u32);
	__type(value, struct unwind_cached);
} unwind_cache SEC(".maps");
#endif

struct unwind_ctx {
	struct stack_trace *st;
	struct unwind_proc *proc;
#ifdef UNWIND_OTHER_TASKS
	/*
	 * Whose stack.  Only in this variant: a task pointer kept in the loop
	 * state costs the current-task variant 50% more verifier work.
	 */
	struct task_struct *task;
#endif
	__u64 ip, sp, bp;
	__u32 n;
	__u32 tgid, gen; /* the process and its maps' generation, for unwind_cache */
	bool truncated;
	/*
	 * The leaf is at a function's entry, or where its stack pointer is
	 * still the entry's (a uprobe): its return address is at sp, whatever
	 * the tables say (and without any, before they are built).
	 */
	bool at_entry;
};

struct map_search {
	struct unwind_proc *proc;
	__u64 pc;
	__u32 i;
	bool found;
};

static long map_step(__u64 i, void *data)
{
	struct map_search *c = data;
	struct unwind_map *m;

	if (i >= c->proc->n || i >= UNWIND_MAX_MAPS)
		return 1;
	m = &c->proc->maps[i & (UNWIND_MAX_MAPS - 1)];
	if (c->pc >= m->start && c->pc < m->end) {
		c->i = i;
		c->found = true;
		return 1;
	}
	return 0;
}

/* The mapping holding pc: a bpf_loop of its own, to keep verification flat. */
static __always_inline const struct unwind_map *find_map(struct unwind_proc *proc, __u64 pc)
{
	struct map_search c = { .proc = proc, .pc = pc };

	bpf_loop(UNWIND_MAX_MAPS, map_step, &c, 0);
	if (!c.found)
		return NULL;
	return &proc->maps[c.i & (UNWIND_MAX_MAPS - 1)];
}

struct search_ctx {
	__u32 lo, hi;
	__u64 pc;
};

static long search_step(__u64 i, void *data)
{
	struct search_ctx *c = data;
	struct unwind_row *row;
	__u32 mid;

	if (c->lo + 1 >= c->hi)
		return 1;
	mid = c->lo + (c->hi - c->lo) / 2;
	row = bpf_map_lookup_elem(&unwind_rows, &mid);
	if (!row)
		return 1;
	if (row->pc <= c->pc)
		c->lo = mid;
	else
		c->hi = mid;
	return 0;
}

/*
 * The row of file_id holding the ELF address pc, or NULL.  The search is a
 * bpf_loop of its own: as a plain loop inside the unwinding callback its
 * branches multiplied the verifier's states, and loading took a second.
 */
static __always_inline struct unwind_row *find_row(__u32 file_id, __u64 pc)
{
	struct unwind_page_key pk = { .file_id = file_id, .page = pc >> UNWIND_PAGE_SHIFT };
	struct unwind_page *page = bpf_map_lookup_elem(&unwind_pages, &pk);
	struct search_ctx c;

	if (!page)
		return NULL;
	/* The last row with row->pc <= pc, in [first, first + count). */
	c.lo = page->first;
	c.hi = page->first + page->count;
	c.pc = pc;
	bpf_loop(UNWIND_SEARCH_STEPS, search_step, &c, 0);
	return bpf_map_lookup_elem(&unwind_rows, &c.lo);
}

/*
 * Reads user memory of task: the current task's in the default variant
 * (task unused), any task's with UNWIND_OTHER_TASKS (sleepable programs).
 */
static __always_inline bool read_task_user(struct task_struct *task, void *dst, __u32 size,
					   __u64 addr)
{
#ifdef UNWIND_OTHER_TASKS
	return bpf_copy_from_user_task(dst, size, (void *)addr, task, 0) == 0;
#else
	return bpf_probe_read_user(dst, size, (void *)addr) == 0;
#endif
}

static __always_inline bool read_user_bytes(const struct unwind_ctx *c, void *dst, __u32 size,
					    __u64 addr)
{
#ifdef UNWIND_OTHER_TASKS
	return read_task_user(c->task, dst, size, addr);
#else
	return read_task_user(NULL, dst, size, addr);
#endif
}

static __always_inline bool read_user(const struct unwind_ctx *c, __u64 *dst, __u64 addr)
{
	return read_user_bytes(c, dst, sizeof(*dst), addr);
}

/*
 * The leaf stands right after a syscall instruction (0f 05) in code no CFI
 * covers: a system call stub in assembly that keeps no frame, so its return
 * address is at sp.  glibc's __clone3 and __clone are such stubs (they end
 * their FDE before the syscall, whose child would unwind wrongly): without
 * this, every thread creation stopped at __clone3, its creator unknown.
 * The return address must lie in a mapping of the process.
 */
static __always_inline bool syscall_stub_return(struct unwind_ctx *c, __u64 *ra)
{
	__u16 insn;

	if (!c->proc || !read_user_bytes(c, &insn, sizeof(insn), c->ip - 2) || insn != 0x050f)
		return false;
	return read_user(c, ra, c->sp) && *ra && find_map(c->proc, *ra - 1);
}

/*
 * A return address in code without CFI followed by an epilogue that finds
 * the caller from sp alone: "add $imm8, %rsp; ret" or "pop %rbp; ret".
 * Emulated, it is exact whatever rbp holds.  That is the shape of the
 * trampolines runtimes generate between their own frames (CPython 3.12+'s
 * -X perf: "sub $8, %rsp; call *%rcx; add $8, %rsp; ret", 3.13's "push
 * %rbp; mov %rsp, %rbp; call *%rcx; pop %rbp; ret"), where the
 * interpreter around them keeps no frame pointer for the fallback.
 */
static __always_inline bool epilogue_return(struct unwind_ctx *c, __u64 *ra)
{
	__u8 insn[5];
	__u64 sp = c->sp, bp = c->bp;

	if (!read_user_bytes(c, insn, sizeof(insn), c->ip))
		return false;
	if (insn[0] == 0x48 && insn[1] == 0x83 && insn[2] == 0xc4 && insn[4] == 0xc3) {
		sp += insn[3];
	} else if (insn[0] == 0x5d && insn[1] == 0xc3) {
		if (!read_user(c, &bp, sp))
			return false;
		sp += 8;
	} else {
		return false;
	}
	if (!read_user(c, ra, sp) || !*ra || (c->proc && !find_map(c->proc, *ra - 1)))
		return false;
	c->sp = sp + 8;
	c->bp = bp;
	return true;
}

/*
 * A launched command, when its profile type asks (stop_for_maps in
 * session.h): stop it when a stack runs through code
 * whose mapping userspace has not read yet (the libraries the loader maps
 * after exec), until it has read them and sends SIGCONT, so that stacks
 * are not walked without their tables.
 */
const volatile bool stop_for_maps = false;

#ifndef UNWIND_OTHER_TASKS
#define UNWIND_SIGSTOP 19

/* Processes without unwind maps yet, when last asked for (stop_for_maps). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} unwind_asked SEC(".maps");

static __always_inline void ask_maps(__u32 tgid)
{
	if (stop_for_maps)
		bpf_send_signal(UNWIND_SIGSTOP);
	emit_proc_event(BPFPROF_PROC_MAPS, tgid,
			BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), group_leader));
}

/*
 * A uprobe on a launched command's entry point (userspace attaches it for
 * that process only): the loader has mapped every library by then and no
 * code of the program has run.  Stop it until its maps are read and its
 * tables built, so that its first stacks are whole: without this, the
 * first event of a fresh process (a thread pool made in main, say) was
 * unwound before userspace knew its libraries.
 */
/* Threads entry_stop stopped: their stop is bpfprof's, not the program's (offcpu). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32); /* tid */
	__type(value, __u8);
} entry_stopped SEC(".maps");

SEC("uprobe")
int entry_stop(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 one = 1;

	bpf_map_update_elem(&entry_stopped, &tid, &one, BPF_ANY);
	bpf_send_signal(UNWIND_SIGSTOP);
	emit_proc_event(BPFPROF_PROC_ENTRY, bpf_get_current_pid_tgid() >> 32,
			BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), group_leader));
	return 0;
}

/* Whether this switch-out of tid in a stopped state is entry_stop's stop (then forgotten). */
static __always_inline bool stopped_by_entry_stop(__u32 tid)
{
	return bpf_map_delete_elem(&entry_stopped, &tid) == 0;
}

/* A process with no unwind maps at all yet: ask, at most every 200 ms. */
static __always_inline void maps_missing(__u32 tgid)
{
	__u64 now = bpf_ktime_get_ns(), *last = bpf_map_lookup_elem(&unwind_asked, &tgid);

	if (!stop_for_maps || (last && now - *last < 200000000ULL))
		return;
	bpf_map_update_elem(&unwind_asked, &tgid, &now, BPF_ANY);
	ask_maps(tgid);
}

/*
 * A pc in no known mapping: the process mapped code since userspace last
 * read its maps (dlopen, a library the loader mapped after exec).  Ask for
 * a re-read, at most every 200 ms per process (JIT code lands here too).
 */
static __always_inline void maps_stale(struct unwind_proc *proc)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - proc->stale_ns < 200000000ULL)
		return;
	proc->stale_ns = now;
	ask_maps(bpf_get_current_pid_tgid() >> 32);
}
#else
/* A snapshot loads every table first: nothing to ask for. */
static __always_inline void maps_stale(struct unwind_proc *proc)
{
}

static __always_inline void maps_missing(__u32 tgid)
{
}
#endif

#ifndef UNWIND_OTHER_TASKS
static __always_inline struct unwind_cached *cache_slot(__u64 pc)
{
	__u32 k = (__u32)((pc ^ (pc >> 11)) & (UNWIND_CACHE_SIZE - 1));

	return bpf_map_lookup_elem(&unwind_cache, &k);
}

/* The rule cached for pc in c's process, or NULL. */
static __always_inline struct unwind_row *cached_rule(struct unwind_ctx *c, __u64 pc)
{
	struct unwind_cached *e = cache_slot(pc);

	if (!e || !c->proc || e->pc != pc || e->tgid != c->tgid || e->gen != c->gen)
		return NULL;
	return &e->row;
}

/* Remembers the rule found for pc (row, or NULL for none: frame pointer). */
static __always_inline void cache_rule(struct unwind_ctx *c, __u64 pc, struct unwind_row *row)
{
	struct unwind_cached *e = cache_slot(pc);

	if (!e || !c->proc)
		return;
	e->pc = 0; /* a program nested on this CPU reads it as empty meanwhile */
	e->tgid = c->tgid;
	e->gen = c->gen;
	if (row) {
		e->row = *row;
	} else {
		e->row.pc = 0;
		e->row.cfa = UNWIND_NONE;
		e->row.cfa_off = 0;
		e->row.rbp_off = 0;
	}
	e->pc = pc;
}
#else
static __always_inline struct unwind_row *cached_rule(struct unwind_ctx *c, __u64 pc)
{
	return NULL;
}

static __always_inline void cache_rule(struct unwind_ctx *c, __u64 pc, struct unwind_row *row)
{
}
#endif

static long unwind_step(__u64 i, void *data)
{
	struct unwind_ctx *c = data;
	const struct unwind_map *m;
	struct unwind_row *row = NULL;
	__u64 pc, cfa, ra;

	/*
	 * Index by the loop counter, not by a count kept in c: the verifier
	 * would track every value of that count precisely and walk this
	 * callback once per value (141k instructions, 0.25 s to load).
	 */
	if (i >= BPFPROF_MAX_STACK_DEPTH) {
		c->truncated = true;
		return 1;
	}
	c->st->ips[i] = c->ip;
	c->n = i + 1;
	if (i == 0 && c->at_entry) {
		if (stop_for_maps && c->proc && !find_map(c->proc, c->ip))
			maps_stale(c->proc);
		if (!read_user(c, &ra, c->sp)) {
			count(CNT_UNWIND_READ_FAILED);
			c->truncated = true;
			return 1;
		}
		c->sp += 8;
		c->ip = ra;
		return ra ? 0 : 1;
	}
	/* Callers' pcs are return addresses: the call is the byte before. */
	pc = i ? c->ip - 1 : c->ip;
	if (i < unwind_cfi_frames)
		row = cached_rule(c, pc);
	if (!row) {
		m = c->proc ? find_map(c->proc, pc) : NULL;
		if (!m && c->proc)
			maps_stale(c->proc);
		if (m && m->file_id && i < unwind_cfi_frames)
			row = find_row(m->file_id, pc - m->bias);
		if (m && i < unwind_cfi_frames)
			cache_rule(c, pc, row);
	}
	if ((!row || row->cfa == UNWIND_NONE) && i == 0 && syscall_stub_return(c, &ra)) {
		c->sp += 8;
		c->ip = ra;
		return 0;
	}
	if ((!row || row->cfa == UNWIND_NONE) && i > 0 && i < unwind_cfi_frames &&
	    epilogue_return(c, &ra)) {
		count(CNT_UNWIND_EPILOGUE);
		c->ip = ra;
		return ra ? 0 : 1;
	}
	if (!row || row->cfa == UNWIND_NONE) {
		/* No table (or --unwind fp past the leaf): trust the frame pointer. */
		if (i < unwind_cfi_frames)
			count(CNT_UNWIND_FP_FALLBACK);
		if (!c->bp || !read_user(c, &ra, c->bp + 8) || !read_user(c, &cfa, c->bp))
			return 1;
		c->sp = c->bp + 16;
		c->bp = cfa;
		c->ip = ra;
		return ra ? 0 : 1;
	}
	switch (row->cfa) {
	case UNWIND_END:
		return 1;
	case UNWIND_RSP:
		cfa = c->sp + row->cfa_off;
		break;
	case UNWIND_RBP:
		cfa = c->bp + row->cfa_off;
		break;
	case UNWIND_PLT:
		cfa = c->sp + 8 + ((c->ip & 15) >= 11 ? 8 : 0);
		break;
	default:
		return 1;
	}
	if (!read_user(c, &ra, cfa - 8)) {
		count(CNT_UNWIND_READ_FAILED);
		c->truncated = true;
		return 1;
	}
	if (row->rbp_off && !read_user(c, &c->bp, cfa + 8 * (__s64)row->rbp_off)) {
		count(CNT_UNWIND_READ_FAILED);
		c->truncated = true;
		return 1;
	}
	c->sp = cfa;
	c->ip = ra;
	return ra ? 0 : 1;
}

struct fp_walk {
	struct stack_trace *st;
	struct task_struct *task;
	__u64 fp; /* the current frame record: saved rbp, then the return address */
};

/*
 * Step i stores the return address of frame i at ips[i + 1] (ips[0] is the
 * ip).  Indexing by i, not by a count kept in w, keeps the verifier from
 * following every iteration with an exact count.
 */
static long fp_step(__u64 i, void *data)
{
	struct fp_walk *w = data;
	__u64 frame[2];

	if (i >= BPFPROF_MAX_STACK_DEPTH - 1)
		return 1;
	/* Unreadable: rbp was not a frame pointer (code without them), or the end. */
	if (!read_task_user(w->task, frame, sizeof(frame), w->fp) || !frame[1])
		return 1;
	w->st->ips[i + 1] = frame[1];
	w->st->nr = i + 2;
	/* Frames lie at rising addresses: anything else is not a frame pointer. */
	if (frame[0] <= w->fp || frame[0] & 7)
		return 1;
	w->fp = frame[0];
	return 0;
}

/*
 * The user stack of task from regs by frame pointers alone, as the kernel
 * walks them: for a process without tables, or --unwind fp where the
 * kernel's own walk cannot serve (a task other than the current one, or
 * registers other than the current ones).  Returns the number of frames.
 */
static __always_inline int unwind_user_fp(const struct uregs *regs, struct task_struct *task,
					  struct stack_trace *st)
{
	struct fp_walk w = { .st = st, .task = task, .fp = regs->bp };

	st->ips[0] = regs->ip;
	st->nr = 1;
	st->flags = 0;
	if (w.fp && !(w.fp & 7))
		bpf_loop(BPFPROF_MAX_STACK_DEPTH - 1, fp_step, &w, 0);
	return st->nr;
}

/*
 * Unwinds the user stack of task, a thread of process tgid, from regs (its
 * user-mode registers) into st.  task must be the current task unless
 * UNWIND_OTHER_TASKS is defined.  Returns the number of frames, or -1 when
 * the process has no tables (the caller then walks frame pointers).
 */
static __always_inline int unwind_user_from(const struct uregs *regs, __u32 tgid,
					    struct task_struct *task, struct stack_trace *st,
					    bool at_entry)
{
	struct unwind_ctx c = {
		.st = st,
#ifdef UNWIND_OTHER_TASKS
		.task = task,
#endif
		.ip = regs->ip,
		.sp = regs->sp,
		.bp = regs->bp,
		.at_entry = at_entry,
	};

	c.proc = bpf_map_lookup_elem(&unwind_procs, &tgid);
	c.tgid = tgid;
	if (c.proc)
		c.gen = c.proc->gen;
	if (!c.proc && !at_entry) {
		maps_missing(tgid);
		return -1;
	}
	if (!c.proc)
		maps_missing(tgid);
	bpf_loop(BPFPROF_MAX_STACK_DEPTH + 1, unwind_step, &c, 0);
	st->nr = c.n;
	st->flags = c.truncated ? STACK_TRUNCATED : 0;
	if (c.truncated)
		count(CNT_UNWIND_TRUNCATED);
	return c.n;
}

static __always_inline int unwind_user(const struct uregs *regs, __u32 tgid,
				       struct task_struct *task, struct stack_trace *st)
{
	return unwind_user_from(regs, tgid, task, st, false);
}

/*
 * The same from a probe at a function's entry (or where its stack pointer
 * is still the entry's): the leaf's caller is the word at sp.  Without
 * tables for the process yet, the rest is a frame-pointer walk.
 */
static __always_inline int unwind_user_at_entry(const struct uregs *regs, __u32 tgid,
						struct task_struct *task, struct stack_trace *st)
{
	return unwind_user_from(regs, tgid, task, st, true);
}

#endif
