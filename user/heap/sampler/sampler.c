// SPDX-License-Identifier: Apache-2.0
/*
 * The in-process heap sampler: position-independent, freestanding code that
 * bpfprof maps into a running process and points the process's allocator GOT
 * slots at.  Each wrapper counts the bytes its thread allocates and, once per
 * exponentially distributed interval of mean rate bytes (Go's
 * MemProfileRate), marks the allocation sampled: it remembers the block's
 * address in a lock-free table and tail-calls sampler_probe, on which BPF
 * has a uprobe; the probe's stack is the allocating caller's, as at the
 * allocator's entry.  Every other call is a few instructions and a tail
 * jump to the real function.  A free looks its address up in the table and
 * traps only for a sampled block.  No libc, no syscalls, no locks: signal
 * handlers, forks and threads may enter at any point.
 */
#include "layout.h"

typedef unsigned long size_t;

struct sampler_data sampler_data __attribute__((visibility("hidden")));
#define D sampler_data

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define noinline __attribute__((noinline))

/*
 * BPF's uprobe: (address, size, enum heap_fn, value to return, the real
 * function for the leaf frame).  The uprobe sits on a push, which the
 * kernel emulates rather than single-steps; not on a 5-byte nop, which
 * Linux 6.16+ rewrites into a call to a trampoline that a forked child
 * does not have (the child crashed).  Then it returns its fourth argument.
 */
void *sampler_probe(void *p, size_t n, long fn, long ret, unsigned long leaf)
	__attribute__((visibility("hidden")));
__asm__(".text\n"
	".globl sampler_probe\n"
	".hidden sampler_probe\n"
	".type sampler_probe,@function\n"
	".p2align 4\n"
	"sampler_probe:\n"
	"\tpush %rbp\n" /* the uprobe's: emulated by the kernel, not single-stepped */
	"\tpop %rbp\n"
	"\tmov %rcx, %rax\n"
	"\tret\n"
	".size sampler_probe, .-sampler_probe\n"
	".hidden sampler_probe_int\n"
	".set sampler_probe_int, sampler_probe\n");

/* The same probe, typed for posix_memalign's int result (so its call stays a tail call). */
int sampler_probe_int(void *p, size_t n, long fn, long ret, unsigned long leaf)
	__attribute__((visibility("hidden")));

/* heap_fn values (bpfprof/common.h), kept here: the blob includes no tree header. */
enum {
	H_MALLOC = 1,
	H_CALLOC,
	H_REALLOC,
	H_REALLOCARRAY,
	H_MEMALIGN,
	H_POSIX_MEMALIGN,
	H_PVALLOC,
	H_FREE
};

static inline struct sampler_thread *thread(void)
{
	unsigned long fs;

	__asm__("mov %%fs:0, %0" : "=r"(fs));
	return &D.threads[(fs * 0x9e3779b97f4a7c15ULL) >> (64 - SAMPLER_THREAD_BITS)];
}

static long long interval(struct sampler_thread *t)
{
	unsigned long long x = t->rng;

	if (D.rate <= 1)
		return 0;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->rng = x;
	x *= 0x2545f4914f6cdd1dULL;
	return (long long)((D.rate * D.exp[x >> (64 - SAMPLER_EXP_BITS)]) >> SAMPLER_EXP_SHIFT);
}

/* The thread's countdown ran out: whether this allocation of n bytes is sampled. */
static noinline int decide(struct sampler_thread *t, size_t n)
{
	if (unlikely(!t->started) && D.rate > 1) {
		t->started = 1;
		t->rng = D.seed ^ ((unsigned long)t * 0x9e3779b97f4a7c15ULL) ^ 1;
		t->left = interval(t) - (long long)n;
		if (t->left > 0)
			return 0;
	}
	t->left = interval(t);
	return n != 0;
}

static inline unsigned long bucket_no(unsigned long long p)
{
	return ((p >> 4) * 0x9e3779b97f4a7c15ULL) >> (64 - SAMPLER_BUCKET_BITS);
}

static inline unsigned long long *bucket(unsigned long b)
{
	return &D.table[b << 3];
}

#define BUSY_WORD(b) (&D.busy[(b) >> 6])
#define BUSY_BIT(b) (1ULL << ((b)&63))

/*
 * Remembers a sampled block; 0 when its bucket is full (the sample is
 * dropped).  The bucket's busy bit is set after the block is in it, before
 * the caller gets the block (so before any free of it).
 */
static int track(void *p)
{
	unsigned long b = bucket_no((unsigned long long)p);
	unsigned long long *e = bucket(b), zero;
	int i;

	for (i = 0; i < SAMPLER_BUCKET_WAYS; i++) {
		zero = 0;
		if (!__atomic_load_n(&e[i], __ATOMIC_RELAXED) &&
		    __atomic_compare_exchange_n(&e[i], &zero, (unsigned long long)p, 0,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			__atomic_fetch_or(BUSY_WORD(b), BUSY_BIT(b), __ATOMIC_SEQ_CST);
			__atomic_fetch_add(&D.ntracked, 1, __ATOMIC_RELAXED);
			return 1;
		}
	}
	__atomic_fetch_add(&D.dropped, 1, __ATOMIC_RELAXED);
	return 0;
}

static int bucket_empty(const unsigned long long *e)
{
	int i;

	for (i = 0; i < SAMPLER_BUCKET_WAYS; i++)
		if (__atomic_load_n(&e[i], __ATOMIC_SEQ_CST))
			return 0;
	return 1;
}

/*
 * The bucket emptied: its busy bit cleared, then the bucket looked at
 * again, and the bit set back if a track() filled it meanwhile (that one
 * sets the bit after its insert too: whichever comes last, a bucket with
 * a block keeps its bit).
 */
static noinline void bucket_emptied(unsigned long b, const unsigned long long *e)
{
	__atomic_fetch_and(BUSY_WORD(b), ~BUSY_BIT(b), __ATOMIC_SEQ_CST);
	if (!bucket_empty(e))
		__atomic_fetch_or(BUSY_WORD(b), BUSY_BIT(b), __ATOMIC_SEQ_CST);
}

/* Whether p may be a sampled block: a few instructions, no miss, for every free. */
static inline int maybe_tracked(void *p)
{
	unsigned long b;

	if (likely(!__atomic_load_n(&D.ntracked, __ATOMIC_RELAXED)) || !p)
		return 0;
	b = bucket_no((unsigned long long)p);
	return (__atomic_load_n(BUSY_WORD(b), __ATOMIC_RELAXED) & BUSY_BIT(b)) != 0;
}

/* Forgets p if it was sampled: 1 when it was. */
static noinline int untrack(void *p)
{
	unsigned long b = bucket_no((unsigned long long)p);
	unsigned long long *e = bucket(b), v;
	int i;

	for (i = 0; i < SAMPLER_BUCKET_WAYS; i++) {
		v = (unsigned long long)p;
		if (__atomic_load_n(&e[i], __ATOMIC_RELAXED) == v &&
		    __atomic_compare_exchange_n(&e[i], &v, 0, 0, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED)) {
			__atomic_fetch_sub(&D.ntracked, 1, __ATOMIC_RELAXED);
			if (bucket_empty(e))
				bucket_emptied(b, e);
			return 1;
		}
	}
	return 0;
}

/* A sampled block's free: BPF forgets it before the allocator may hand it out again. */
static noinline void freed(void *p, unsigned long real)
{
	sampler_probe(p, 0, H_FREE, 0, real);
}

typedef void *(*malloc_t)(size_t);
typedef void *(*calloc_t)(size_t, size_t);
typedef void *(*realloc_t)(void *, size_t);
typedef void *(*reallocarray_t)(void *, size_t, size_t);
typedef void *(*memalign_t)(size_t, size_t);
typedef int (*posix_memalign_t)(void **, size_t, size_t);
typedef void (*free_t)(void *);

#define REAL(f, type) ((type)D.real[f])

/* Counts n bytes on this thread: true when the countdown ran out. */
#define COUNT(n)                                                                                   \
	struct sampler_thread *t = thread();                                                       \
	long long left = t->left - (long long)(n);                                                 \
	t->left = left;                                                                            \
	if (likely(left > 0))

static noinline void *malloc_slow(struct sampler_thread *t, size_t n, int sfn, int hfn)
{
	void *p = REAL(sfn, malloc_t)(n);

	if (p && decide(t, n) && track(p))
		return sampler_probe(p, n, hfn, (long)p, D.real[sfn]);
	return p;
}

void *sampler_malloc(size_t n)
{
	COUNT(n)
	return REAL(SFN_MALLOC, malloc_t)(n);
	return malloc_slow(t, n, SFN_MALLOC, H_MALLOC);
}

void *sampler_valloc(size_t n)
{
	COUNT(n)
	return REAL(SFN_VALLOC, malloc_t)(n);
	return malloc_slow(t, n, SFN_VALLOC, H_MALLOC);
}

void *sampler_pvalloc(size_t n)
{
	COUNT(n)
	return REAL(SFN_PVALLOC, malloc_t)(n);
	return malloc_slow(t, n, SFN_PVALLOC, H_PVALLOC);
}

static noinline void *calloc_slow(struct sampler_thread *t, size_t a, size_t b, size_t n)
{
	void *p = REAL(SFN_CALLOC, calloc_t)(a, b);

	if (p && decide(t, n) && track(p))
		return sampler_probe(p, n, H_CALLOC, (long)p, D.real[SFN_CALLOC]);
	return p;
}

void *sampler_calloc(size_t a, size_t b)
{
	size_t n;

	if (__builtin_mul_overflow(a, b, &n))
		return REAL(SFN_CALLOC, calloc_t)(a, b);
	COUNT(n)
	return REAL(SFN_CALLOC, calloc_t)(a, b);
	return calloc_slow(t, a, b, n);
}

static noinline void *realloc_slow(struct sampler_thread *t, void *p, size_t n)
{
	void *q = REAL(SFN_REALLOC, realloc_t)(p, n);

	if (q && decide(t, n) && track(q))
		return sampler_probe(q, n, H_REALLOC, (long)q, D.real[SFN_REALLOC]);
	return q;
}

void *sampler_realloc(void *p, size_t n)
{
	if (unlikely(maybe_tracked(p)) && untrack(p))
		freed(p, D.real[SFN_REALLOC]);
	COUNT(n)
	return REAL(SFN_REALLOC, realloc_t)(p, n);
	return realloc_slow(t, p, n);
}

static noinline void *reallocarray_slow(struct sampler_thread *t, void *p, size_t a, size_t b,
					size_t n)
{
	void *q = REAL(SFN_REALLOCARRAY, reallocarray_t)(p, a, b);

	if (q && decide(t, n) && track(q))
		return sampler_probe(q, n, H_REALLOC, (long)q, D.real[SFN_REALLOCARRAY]);
	return q;
}

void *sampler_reallocarray(void *p, size_t a, size_t b)
{
	size_t n;

	if (__builtin_mul_overflow(a, b, &n))
		return REAL(SFN_REALLOCARRAY, reallocarray_t)(p, a, b);
	if (unlikely(maybe_tracked(p)) && untrack(p))
		freed(p, D.real[SFN_REALLOCARRAY]);
	COUNT(n)
	return REAL(SFN_REALLOCARRAY, reallocarray_t)(p, a, b);
	return reallocarray_slow(t, p, a, b, n);
}

static noinline void *memalign_slow(struct sampler_thread *t, size_t al, size_t n, int sfn)
{
	void *p = REAL(sfn, memalign_t)(al, n);

	if (p && decide(t, n) && track(p))
		return sampler_probe(p, n, H_MALLOC, (long)p, D.real[sfn]);
	return p;
}

void *sampler_memalign(size_t al, size_t n)
{
	COUNT(n)
	return REAL(SFN_MEMALIGN, memalign_t)(al, n);
	return memalign_slow(t, al, n, SFN_MEMALIGN);
}

void *sampler_aligned_alloc(size_t al, size_t n)
{
	COUNT(n)
	return REAL(SFN_ALIGNED_ALLOC, memalign_t)(al, n);
	return memalign_slow(t, al, n, SFN_ALIGNED_ALLOC);
}

static noinline int posix_memalign_slow(struct sampler_thread *t, void **out, size_t al, size_t n)
{
	int r = REAL(SFN_POSIX_MEMALIGN, posix_memalign_t)(out, al, n);
	void *p;

	if (r == 0 && (p = *out) && decide(t, n) && track(p))
		return sampler_probe_int(p, n, H_MALLOC, 0, D.real[SFN_POSIX_MEMALIGN]);
	return r;
}

int sampler_posix_memalign(void **out, size_t al, size_t n)
{
	COUNT(n)
	return REAL(SFN_POSIX_MEMALIGN, posix_memalign_t)(out, al, n);
	return posix_memalign_slow(t, out, al, n);
}

/* Out of line, so that the free of an unsampled block saves no register. */
static noinline void free_slow(void *p)
{
	if (untrack(p))
		freed(p, D.real[SFN_FREE]);
	REAL(SFN_FREE, free_t)(p);
}

void sampler_free(void *p)
{
	if (unlikely(maybe_tracked(p)))
		return free_slow(p);
	REAL(SFN_FREE, free_t)(p);
}
