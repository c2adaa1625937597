// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpfprof/types.h"
#include "heap/alloc.h"
#include "heap/cost.h"
#include "heap/uprobe_multi.h"
#include "proc/maps.h"
#include "util/util.h"

/*
 * Two functions to probe, with known first instructions: a push (which the
 * kernel emulates) and a test (which it single-steps), as at the entries of
 * glibc's malloc and free.
 */
void heap_calib_emulated(void);
void heap_calib_stepped(void);
__asm__(".pushsection .text\n"
	".globl heap_calib_emulated\n"
	".type heap_calib_emulated, @function\n"
	"heap_calib_emulated:\n"
	"\tpush %rbp\n"
	"\tpop %rbp\n"
	"\tret\n"
	".size heap_calib_emulated, .-heap_calib_emulated\n"
	".globl heap_calib_stepped\n"
	".type heap_calib_stepped, @function\n"
	"heap_calib_stepped:\n"
	"\ttest %rdi, %rdi\n"
	"\tret\n"
	".size heap_calib_stepped, .-heap_calib_stepped\n"
	".popsection\n");

#define CALIB_CALLS 3000

static int64_t time_calls(void (*volatile fn)(void), int n)
{
	int64_t t0 = mono_ns();
	int i;

	for (i = 0; i < n; i++)
		fn();
	return mono_ns() - t0;
}

/* The file and file offset of code at addr in this process. */
static int self_offset(const void *addr, char *path, size_t len, uint64_t *off)
{
	struct vma_list maps = { 0 };
	const struct vma *v;
	int err;

	err = procmaps__read("/proc", getpid(), &maps);
	if (err)
		return err;
	v = procmaps__find(&maps, (uint64_t)(uintptr_t)addr);
	if (!v || v->path[0] != '/') {
		procmaps__free(&maps);
		return -ENOENT;
	}
	snprintf(path, len, "%s", v->path);
	*off = (uint64_t)(uintptr_t)addr - v->start + v->offset;
	procmaps__free(&maps);
	return 0;
}

/* ns per probed call of fn: timed with and without the probe, the best of three. */
static int measure(int prog_fd, unsigned attach_type, void (*fn)(void), double *out)
{
	uint64_t off, cookie = HEAP_FN_CALIBRATE;
	char path[4096];
	int64_t bare = INT64_MAX, probed = INT64_MAX, t;
	int link, i, err;

	err = self_offset((const void *)fn, path, sizeof(path), &off);
	if (err)
		return err;
	for (i = 0; i < 3; i++) {
		t = time_calls(fn, CALIB_CALLS);
		bare = t < bare ? t : bare;
	}
	link = uprobe_multi_attach(prog_fd, attach_type, path, &off, &cookie, 1, getpid(), false);
	if (link < 0)
		return link;
	for (i = 0; i < 3; i++) {
		t = time_calls(fn, CALIB_CALLS);
		probed = t < probed ? t : probed;
	}
	close(link);
	*out = probed > bare ? (double)(probed - bare) / CALIB_CALLS : 0;
	return 0;
}

int heap_calibrate(int prog_fd, unsigned attach_type, struct heap_costs *out)
{
	int err;

	err = measure(prog_fd, attach_type, heap_calib_emulated, &out->emulated_ns);
	if (!err)
		err = measure(prog_fd, attach_type, heap_calib_stepped, &out->stepped_ns);
	return err;
}

double heap_expected_slowdown(const struct heap_allocator *a, const struct heap_costs *c,
			      const struct heap_rate *r, uint64_t rate, bool session,
			      double *calls_per_s)
{
	double probe_ns = 0, full_ns = 0, hit, native_ns, samples;
	uint64_t ncalls = 0, nallocs = 0;
	int i;

	for (i = 0; i < a->nfuncs && i < HEAP_MAX_PROBES; i++) {
		const struct heap_func *f = &a->funcs[i];

		hit = f->emulated ? c->emulated_ns : c->stepped_ns;
		probe_ns += r->calls[i] * hit;
		full_ns += r->calls[i] * hit;
		ncalls += r->calls[i];
		if (f->fn != HEAP_FN_FREE) {
			nallocs += r->calls[i];
			if (!session)
				full_ns += r->calls[i] * HEAP_RETPROBE_NS;
		}
	}
	samples = rate <= 1 ? (double)nallocs : (double)r->bytes / rate;
	if (samples > nallocs)
		samples = nallocs;
	full_ns += samples * HEAP_SAMPLE_NS;
	*calls_per_s = r->window_ns > 0 ? ncalls * 1e9 / r->window_ns : 0;
	if (!ncalls)
		return 0;
	/* The window's CPU time includes the probes' own cost: counting, or all of it. */
	native_ns = r->cpu_ns - (r->attached ? full_ns : probe_ns);
	if (native_ns < r->window_ns / 1000.0)
		native_ns = r->window_ns / 1000.0;
	return 100.0 * full_ns / native_ns;
}
