// SPDX-License-Identifier: Apache-2.0
/*
 * Injecting the heap sampler into a running process: the steps of one
 * injection, on heap/tracee.c (stopping the threads, the target's own
 * syscalls) and heap/got.c (finding and rewriting the slots).
 *
 * Every thread is stopped (PTRACE_SEIZE + PTRACE_INTERRUPT).  If one is
 * inside the dynamic loader, which writes GOT slots while it binds lazily,
 * they are let go and stopped again a little later.  A thread inside the
 * allocator is no danger: the allocator is not touched, a call in flight
 * returns from the real function, only later calls go through the new slot
 * value.  The sampler's code goes into a memfd the target creates (so BPF
 * can put a uprobe on it: uprobes need a file) and maps executable, its
 * data on an anonymous mapping after it; the target makes those syscalls
 * itself, from its main thread single-stepping an existing `syscall`
 * instruction (in the vDSO) with its registers saved and restored.  Then
 * every JUMP_SLOT and GLOB_DAT relocation of an allocation function, in
 * every loaded object, is rewritten through /proc/PID/mem (which writes
 * read-only RELRO pages too, as a debugger's breakpoints do), and the
 * threads resume.  What each slot held is kept in the sampler's own data,
 * so any later bpfprof restores them, even after this one was killed.
 *
 * Objects loaded later get the same: at the loader's report, stopped by
 * BPF at r_brk (heap_inject_loaded, heap/dlopen.c), else as soon as no
 * thread is in the loader (heap_inject_refresh, also polled once a second).
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <libelf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heap/alloc.h"
#include "heap/dlopen.h"
#include "heap/got.h"
#include "heap/inject.h"
#include "heap/sampler/layout.h"
#include "heap/tracee.h"
#include "proc/maps.h"
#include "util/util.h"
#include "sampler_blob.h"

#define DATA_OFF SAMPLER_DATA_OFF
#define CODE_SIZE SAMPLER_CODE_END_OFF
#define MAP_SIZE SAMPLER_END_OFF
#define MEMFD_NAME "bpfprof-sampler"

_Static_assert(sizeof(struct sampler_data) <= SAMPLER_END_OFF - SAMPLER_DATA_OFF,
	       "layout.h and the blob disagree");

#define D_FIELD(base, f) ((base) + DATA_OFF + offsetof(struct sampler_data, f))

/* The sampler an earlier bpfprof left in the process, if any: its code's start. */
static uint64_t find_sampler(const struct vma_list *maps)
{
	size_t k;

	for (k = 0; k < maps->n; k++)
		if (maps->vmas[k].exec && strstr(maps->vmas[k].path, "/memfd:" MEMFD_NAME) &&
		    maps->vmas[k].offset == 0)
			return maps->vmas[k].start;
	return 0;
}

/* Maps a new sampler into the stopped process: its code's address, or 0 and why. */
static uint64_t map_sampler(struct tracee *s, int *memfd, char *why, size_t whylen)
{
	uint64_t name = (s->saved.rsp - 1024) & ~15ULL, base;
	char path[64];
	int64_t fd = -1, ret;
	int err, mine = -1;

	if ((err = tracee_write(s, name, MEMFD_NAME, sizeof(MEMFD_NAME))) ||
	    (err = tracee_syscall(s, SYS_memfd_create, name, MFD_CLOEXEC, 0, 0, 0, 0, &fd)))
		goto fail;
	if (fd < 0) {
		snprintf(why, whylen, "memfd_create in pid %d failed: %s (seccomp?)", s->pid,
			 strerror((int)-fd));
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", s->pid, (int)fd);
	mine = open(path, O_RDWR | O_CLOEXEC);
	if (mine < 0 || ftruncate(mine, CODE_SIZE) ||
	    pwrite(mine, sampler_blob, sizeof(sampler_blob), 0) != (ssize_t)sizeof(sampler_blob)) {
		err = -errno;
		goto fail;
	}
	if ((err = tracee_syscall(s, SYS_mmap, 0, MAP_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0, &ret)))
		goto fail;
	if (ret < 0 && ret > -4096) {
		snprintf(why, whylen, "mmap in pid %d failed: %s", s->pid, strerror((int)-ret));
		goto out;
	}
	base = (uint64_t)ret;
	if ((err = tracee_syscall(s, SYS_mmap, base, CODE_SIZE, PROT_READ | PROT_EXEC,
				  MAP_PRIVATE | MAP_FIXED, fd, 0, &ret)))
		goto fail;
	if ((uint64_t)ret != base) {
		snprintf(why, whylen, "mapping the sampler's code in pid %d failed: %s", s->pid,
			 strerror((int)-ret));
		goto out;
	}
	tracee_syscall(s, SYS_close, fd, 0, 0, 0, 0, 0, &ret);
	*memfd = mine;
	return base;
fail:
	snprintf(why, whylen, "cannot map the sampler into pid %d: %s", s->pid, strerror(-err));
out:
	if (fd >= 0)
		tracee_syscall(s, SYS_close, fd, 0, 0, 0, 0, 0, &ret);
	if (mine >= 0)
		close(mine);
	return 0;
}

static int exe_is_x86_64(int pid)
{
	char path[64];
	Elf64_Ehdr eh;
	int fd, ok;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ok = pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) && eh.e_machine == EM_X86_64 &&
	     eh.e_ident[EI_CLASS] == ELFCLASS64;
	close(fd);
	return ok ? 0 : -ENOEXEC;
}

/*
 * The executable defines the allocator (statically linked, or its own
 * malloc): its calls are direct, not through a slot, and nothing can be
 * redirected.
 */
static bool allocator_in_executable(int pid, const struct heap_allocator *a)
{
	char link[64], exe[PATH_MAX];
	ssize_t n;

	if (!strcmp(a->kind, "Go"))
		return true;
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		exe[n - 10] = '\0';
	return !strcmp(exe, a->file);
}

static void fill_exp(unsigned int *exp)
{
	int i;

	for (i = 0; i < (1 << SAMPLER_EXP_BITS); i++)
		exp[i] = (unsigned int)(-log((i + 0.5) / (1 << SAMPLER_EXP_BITS)) *
					(1 << SAMPLER_EXP_SHIFT));
}

/* Remembers the objects mapped now: those a later dlopen adds are the others. */
static void note_objects(struct heap_injection *in, const struct vma_list *maps)
{
	uint64_t *starts;
	int n = got_objects(maps, &starts);

	in->objects_hash = got_objects_hash(maps);
	if (n < 0)
		return; /* out of memory: the old list stays, more constructors get breakpoints */
	free(in->known);
	in->known = starts;
	in->nknown = n;
}

int heap_inject(int pid, const struct heap_allocator *a, uint64_t rate,
		heap_inject_attach_fn attach, void *ctx, struct heap_injection *out, char *why,
		size_t whylen)
{
	struct tracee *s = calloc(1, sizeof(*s));
	struct sampler_data *d =
		calloc(1, sizeof(*d)); /* lazily zeroed pages: only the head is touched */
	struct vma_list maps = { 0 };
	struct got_patch c = { 0 };
	uint64_t real[SFN__MAX], base;
	unsigned char code[sizeof(sampler_blob)];
	int64_t ret;
	int err, memfd = -1;

	memset(out, 0, sizeof(*out));
	out->memfd = -1;
	if (!s || !d) {
		free(s);
		free(d);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	s->pid = pid;
	s->mem = -1;
	err = exe_is_x86_64(pid);
	if (err) {
		snprintf(why, whylen, "pid %d is not an x86-64 process: no in-process sampler",
			 pid);
		goto done;
	}
	if (allocator_in_executable(pid, a)) {
		snprintf(why, whylen,
			 "pid %d's allocator is linked into its executable (%s): no GOT slot to "
			 "redirect",
			 pid, a->file);
		err = -ENOTSUP;
		goto done;
	}
	if ((err = tracee_open_mem(s))) {
		tracee_explain(pid, -err, why, whylen);
		goto done;
	}
	err = tracee_stop_quiet(s, &maps, &out->tries, why, whylen);
	if (err)
		goto done;
	out->phase_ns[0] = mono_ns() - s->t0;
	got_real_functions(pid, a, &maps, real);
	if (!real[SFN_MALLOC] || !real[SFN_FREE]) {
		snprintf(why, whylen, "%s has no malloc or free mapped in pid %d", a->file, pid);
		err = -ENOENT;
		goto resume;
	}
	if (ptrace(PTRACE_GETREGS, pid, 0, &s->saved)) {
		err = -errno;
		snprintf(why, whylen, "cannot read the registers of pid %d: %s", pid,
			 strerror(-err));
		goto resume;
	}
	err = tracee_find_syscall(s, &maps);
	out->phase_ns[1] = mono_ns() - s->t0;
	if (err) {
		snprintf(why, whylen, "no syscall instruction found in pid %d", pid);
		goto resume;
	}
	base = find_sampler(&maps);
	if (base) {
		memfd = heap_open_map_file(pid, base, base + CODE_SIZE, O_RDONLY);
		if (memfd < 0 || pread(memfd, code, sizeof(code), 0) != (ssize_t)sizeof(code) ||
		    memcmp(code, sampler_blob, sizeof(code)) ||
		    tracee_read(s, base + DATA_OFF, d, offsetof(struct sampler_data, threads)) ||
		    d->magic != SAMPLER_MAGIC) {
			snprintf(why, whylen,
				 "pid %d holds another bpfprof version's sampler: restart it to "
				 "use this one",
				 pid);
			err = -EEXIST;
			goto resume;
		}
		out->reused = true;
		/* Blocks its last user sampled may be gone: start with an empty table. */
		err = tracee_syscall(s, SYS_madvise, D_FIELD(base, table),
				     sizeof(((struct sampler_data *)0)->table), MADV_DONTNEED, 0, 0,
				     0, &ret);
		if (err || ret) {
			snprintf(why, whylen, "cannot clear the sampler's table in pid %d", pid);
			err = err ? err : -EIO;
			goto restore_regs;
		}
		d->ntracked = 0;
		d->dropped = 0;
		memset(d->busy, 0, sizeof(d->busy));
	} else {
		base = map_sampler(s, &memfd, why, whylen);
		if (!base) {
			err = -EIO;
			goto restore_regs;
		}
		d->magic = SAMPLER_MAGIC;
		d->version = SAMPLER_VERSION;
		fill_exp(d->exp);
	}
	d->seed = (uint64_t)mono_ns() ^ ((uint64_t)pid << 32);
	d->rate = rate;
	memcpy(d->real, real, sizeof(real));
	c = (struct got_patch){
		.s = s, .base = base, .real = real, .slots = d->slots, .nslots = d->nslots
	};
	/* The data first (rate, functions), the probe, then the slots that lead to them. */
	err = tracee_write(s, base + DATA_OFF, d, offsetof(struct sampler_data, threads));
	out->phase_ns[2] = mono_ns() - s->t0;
	if (!err && attach) {
		/*
		 * The uprobe is attached with the process running (attaching
		 * takes the kernel milliseconds), then it is stopped again for
		 * the slots: nothing reaches the sampler before they point to it.
		 */
		ptrace(PTRACE_SETREGS, pid, 0, &s->saved);
		tracee_resume_all(s);
		out->stopped_ns = mono_ns() - s->t0;
		procmaps__free(&maps);
		err = attach(ctx, memfd, SAMPLER_PROBE_OFF);
		if (err) {
			snprintf(why, whylen, "cannot attach to the sampler's probe in pid %d: %s",
				 pid, strerror(-err));
			goto done;
		}
		err = tracee_stop_quiet(s, &maps, &out->tries, why, whylen);
		if (err) {
			out->stopped_ns += mono_ns() - s->t0;
			goto done;
		}
		if (ptrace(PTRACE_GETREGS, pid, 0, &s->saved) || find_sampler(&maps) != base) {
			err = -ESRCH;
			snprintf(why, whylen, "pid %d changed while being injected (exec?)", pid);
			goto resume;
		}
	}
	if (!err)
		err = got_patch_all(&c, &maps);
	out->phase_ns[3] = mono_ns() - s->t0;
	d->nslots = c.nslots;
	if (!err)
		err = tracee_write(s, base + DATA_OFF, d, offsetof(struct sampler_data, threads));
	if (err) {
		/* Half done: what was redirected goes back, nothing is left half-attached. */
		got_undo(s, base, d->slots, d->nslots);
		snprintf(why, whylen, "cannot redirect the allocator's slots in pid %d: %s", pid,
			 strerror(-err));
		goto restore_regs;
	}
	out->pid = pid;
	out->base = base;
	out->memfd = memfd;
	memfd = -1;
	out->probe_off = SAMPLER_PROBE_OFF;
	out->nslots = c.patched;
	out->nobjects = c.objects;
	out->nthreads = s->n;
	note_objects(out, &maps);
restore_regs:
	ptrace(PTRACE_SETREGS, pid, 0, &s->saved);
resume:
	tracee_resume_all(s);
	out->stopped_ns += mono_ns() - s->t0;
	procmaps__free(&maps);
done:
	if (memfd >= 0)
		close(memfd);
	if (s->mem >= 0)
		close(s->mem);
	free(s);
	free(d);
	return err;
}

/* Reads the sampler's slot table; its count in *n. */
static int read_slots(struct tracee *s, uint64_t base, struct sampler_slot *slots, uint64_t *n)
{
	int err = tracee_read(s, D_FIELD(base, nslots), n, sizeof(*n));

	if (!err && *n > SAMPLER_MAX_SLOTS)
		err = -EINVAL;
	if (!err && *n)
		err = tracee_read(s, D_FIELD(base, slots), slots, *n * sizeof(*slots));
	return err;
}

int heap_uninject(struct heap_injection *in, char *why, size_t whylen)
{
	struct tracee *s = calloc(1, sizeof(*s));
	struct sampler_slot *slots = calloc(SAMPLER_MAX_SLOTS, sizeof(*slots));
	uint64_t n = 0, magic = 0;
	struct vma_list maps = { 0 };
	int err, restored = 0;

	if (!s || !slots) {
		free(s);
		free(slots);
		return -ENOMEM;
	}
	s->pid = in->pid;
	s->mem = -1;
	if (in->memfd >= 0)
		close(in->memfd);
	in->memfd = -1;
	free(in->known);
	in->known = NULL;
	in->nknown = 0;
	err = tracee_open_mem(s);
	if (!err)
		err = tracee_stop_all(s, why, whylen);
	if (err == -ENOENT)
		err = -ESRCH; /* gone: nothing to restore */
	if (err) {
		if (err != -ESRCH)
			tracee_explain(in->pid, -err, why, whylen);
		goto out;
	}
	/* Still our sampler there (not an exec'd new program): else nothing to restore. */
	if (procmaps__read("/proc", in->pid, &maps) || find_sampler(&maps) != in->base ||
	    tracee_read(s, D_FIELD(in->base, magic), &magic, sizeof(magic)) ||
	    magic != SAMPLER_MAGIC) {
		procmaps__free(&maps);
		tracee_resume_all(s);
		err = -ESRCH;
		goto out;
	}
	procmaps__free(&maps);
	err = read_slots(s, in->base, slots, &n);
	if (!err)
		err = tracee_read(s, D_FIELD(in->base, dropped), &in->dropped, sizeof(in->dropped));
	if (!err) {
		restored = got_undo(s, in->base, slots, n);
		err = restored < 0 ? restored : 0;
	}
	if (!err) {
		n = 0;
		err = tracee_write(s, D_FIELD(in->base, nslots), &n, sizeof(n));
	}
	tracee_resume_all(s);
	if (err)
		snprintf(why, whylen, "cannot restore the allocator's slots in pid %d: %s", in->pid,
			 strerror(-err));
out:
	if (s->mem >= 0)
		close(s->mem);
	free(s);
	free(slots);
	return err ? err : restored;
}

int heap_inject_slots(const struct heap_injection *in, uint64_t *addrs, uint64_t *origs, int max)
{
	struct sampler_slot *slots = calloc(SAMPLER_MAX_SLOTS, sizeof(*slots));
	struct tracee s = { .pid = in->pid, .mem = -1 };
	uint64_t n = 0, i;
	int err;

	if (!slots)
		return -ENOMEM;
	err = tracee_open_mem(&s);
	if (!err)
		err = read_slots(&s, in->base, slots, &n);
	for (i = 0; !err && i < n && (int)i < max; i++) {
		addrs[i] = slots[i].addr;
		origs[i] = slots[i].orig;
	}
	if (s.mem >= 0)
		close(s.mem);
	free(slots);
	return err ? err : (int)(n < (uint64_t)max ? n : (uint64_t)max);
}

uint64_t heap_inject_code_size(void)
{
	return CODE_SIZE;
}

/*
 * s stopped: every object's slots redirected to in's sampler, those of
 * objects mapped since the last time new.  Returns how many slots, or
 * -errno (-ESRCH: not our sampler any more, an exec) with why.
 */
static int patch_stopped(struct heap_injection *in, struct tracee *s, const struct vma_list *maps,
			 bool only_new, char *why, size_t whylen)
{
	struct sampler_data *d = calloc(1, sizeof(*d));
	struct got_patch c = { 0 };
	uint64_t real[SFN__MAX];
	int err = -ESRCH;

	if (!d)
		return -ENOMEM;
	if (find_sampler(maps) != in->base ||
	    tracee_read(s, in->base + DATA_OFF, d, offsetof(struct sampler_data, threads)) ||
	    d->magic != SAMPLER_MAGIC)
		goto out;
	memcpy(real, d->real, sizeof(real));
	c = (struct got_patch){
		.s = s,
		.base = in->base,
		.real = real,
		.slots = d->slots,
		.nslots = d->nslots,
		.skip = only_new ? in->known : NULL,
		.nskip = only_new ? in->nknown : 0,
	};
	err = got_patch_all(&c, maps);
	if (c.nslots != d->nslots) {
		d->nslots = c.nslots;
		err = tracee_write(s, D_FIELD(in->base, slots), d->slots,
				   d->nslots * sizeof(d->slots[0]))
			      ?: err;
		err = tracee_write(s, D_FIELD(in->base, nslots), &d->nslots, sizeof(d->nslots))
			      ?: err;
	}
	if (err)
		snprintf(why, whylen, "cannot redirect new objects' slots in pid %d: %s", in->pid,
			 strerror(-err));
	else
		err = c.patched;
	note_objects(in, maps);
	in->nslots += c.patched;
	in->late_objects += c.objects;
out:
	free(d);
	return err;
}

static struct tracee *new_tracee(int pid)
{
	struct tracee *s = calloc(1, sizeof(*s));

	if (s) {
		s->pid = pid;
		s->mem = -1;
	}
	return s;
}

static void free_tracee(struct tracee *s)
{
	if (s->mem >= 0)
		close(s->mem);
	free(s);
}

int heap_inject_refresh(struct heap_injection *in, char *why, size_t whylen)
{
	struct vma_list maps = { 0 };
	struct tracee *s;
	uint64_t h;
	int err, ntries;

	if (procmaps__read("/proc", in->pid, &maps))
		return -ESRCH;
	h = got_objects_hash(&maps);
	procmaps__free(&maps);
	if (h == in->objects_hash)
		return 0;
	s = new_tracee(in->pid);
	if (!s)
		return -ENOMEM;
	err = tracee_open_mem(s);
	if (!err)
		err = tracee_stop_quiet(s, &maps, &ntries, why, whylen);
	if (!err) {
		err = patch_stopped(in, s, &maps, false, why, whylen);
		tracee_resume_all(s);
		procmaps__free(&maps);
	}
	free_tracee(s);
	return err;
}

/* The index of thread tid among those stopped, or -1. */
static int thread_index(const struct tracee *s, int tid)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->tids[i] == tid)
			return i;
	return -1;
}

int heap_inject_loaded(struct heap_injection *in, int tid, bool held, int64_t timeout_ns, char *why,
		       size_t whylen)
{
	struct vma_list maps = { 0 };
	struct tracee *s;
	int err, i;

	if (!held)
		return -EAGAIN; /* the thread ran on: only a stop outside the loader is safe */
	s = new_tracee(in->pid);
	if (!s) {
		kill(in->pid, SIGCONT);
		return -ENOMEM;
	}
	err = tracee_open_mem(s);
	if (!err)
		err = tracee_stop_all(s, why, whylen);
	if (err) {
		if (err != -ESRCH && err != -E2BIG)
			tracee_explain(in->pid, -err, why, whylen);
		goto out;
	}
	for (i = 0; held && i < s->n; i++)
		if (s->sigs[i] == SIGSTOP)
			s->sigs[i] = 0; /* BPF's, holding the process: not given back */
	i = thread_index(s, tid);
	err = procmaps__read("/proc", in->pid, &maps);
	if (!err && find_sampler(&maps) != in->base)
		err = -ESRCH; /* an exec'd program's loader: not ours to follow */
	if (!err)
		err = i < 0 ? -EAGAIN
			    : heap_dl_run_to_init(s, i, &maps, in->known, in->nknown, timeout_ns);
	procmaps__free(&maps);
	/* The relocations done: the maps again (RELRO's mprotect split mappings). */
	if (!err)
		err = procmaps__read("/proc", in->pid, &maps);
	if (!err) {
		err = patch_stopped(in, s, &maps, true, why, whylen);
		procmaps__free(&maps);
	} else if (err != -EAGAIN) {
		snprintf(why, whylen, "cannot follow pid %d's dlopen: %s", in->pid, strerror(-err));
	}
	tracee_resume_all(s);
out:
	if (held)
		kill(in->pid, SIGCONT);
	free_tracee(s);
	return err;
}
