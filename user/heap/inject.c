// SPDX-License-Identifier: Apache-2.0
/*
 * Injecting the heap sampler into a running process.
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
#include "heap/inject.h"
#include "heap/sampler/layout.h"
#include "proc/maps.h"
#include "util/util.h"
#include "sampler_blob.h"

#define MAX_THREADS 4096
#define STOP_TRIES 20
#define DATA_OFF SAMPLER_DATA_OFF
#define CODE_SIZE SAMPLER_CODE_END_OFF
#define MAP_SIZE SAMPLER_END_OFF
#define MEMFD_NAME "bpfprof-sampler"

_Static_assert(sizeof(struct sampler_data) <= SAMPLER_END_OFF - SAMPLER_DATA_OFF,
	       "layout.h and the blob disagree");

static const char *const fn_names[SFN__MAX] = {
	[SFN_MALLOC] = "malloc",
	[SFN_CALLOC] = "calloc",
	[SFN_REALLOC] = "realloc",
	[SFN_REALLOCARRAY] = "reallocarray",
	[SFN_MEMALIGN] = "memalign",
	[SFN_ALIGNED_ALLOC] = "aligned_alloc",
	[SFN_POSIX_MEMALIGN] = "posix_memalign",
	[SFN_VALLOC] = "valloc",
	[SFN_PVALLOC] = "pvalloc",
	[SFN_FREE] = "free",
};

static const uint64_t wrapper_off[SFN__MAX] = {
	[SFN_MALLOC] = SAMPLER_MALLOC_OFF,
	[SFN_CALLOC] = SAMPLER_CALLOC_OFF,
	[SFN_REALLOC] = SAMPLER_REALLOC_OFF,
	[SFN_REALLOCARRAY] = SAMPLER_REALLOCARRAY_OFF,
	[SFN_MEMALIGN] = SAMPLER_MEMALIGN_OFF,
	[SFN_ALIGNED_ALLOC] = SAMPLER_ALIGNED_ALLOC_OFF,
	[SFN_POSIX_MEMALIGN] = SAMPLER_POSIX_MEMALIGN_OFF,
	[SFN_VALLOC] = SAMPLER_VALLOC_OFF,
	[SFN_PVALLOC] = SAMPLER_PVALLOC_OFF,
	[SFN_FREE] = SAMPLER_FREE_OFF,
};

struct stopped {
	int pid;
	int mem; /* /proc/PID/mem, read-write */
	int tids[MAX_THREADS];
	int sigs[MAX_THREADS]; /* a signal the stop took from the thread: given back at resume */
	int n;
	int main; /* the main thread's index */
	int64_t t0;
	struct user_regs_struct saved; /* the main thread's */
	uint64_t syscall_insn;
};

#define D_FIELD(base, f) ((base) + DATA_OFF + offsetof(struct sampler_data, f))

static int rd(struct stopped *s, uint64_t addr, void *buf, size_t n)
{
	ssize_t r = pread(s->mem, buf, n, (off_t)addr);

	return r == (ssize_t)n ? 0 : r < 0 ? -errno : -EIO;
}

static int wr(struct stopped *s, uint64_t addr, const void *buf, size_t n)
{
	ssize_t r = pwrite(s->mem, buf, n, (off_t)addr);

	return r == (ssize_t)n ? 0 : r < 0 ? -errno : -EIO;
}

static int wr64(struct stopped *s, uint64_t addr, uint64_t v)
{
	return wr(s, addr, &v, sizeof(v));
}

static bool has_tid(const struct stopped *s, int tid)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->tids[i] == tid)
			return true;
	return false;
}

/* Waits for tid's stop after PTRACE_INTERRUPT; a signal stop is kept to give back. */
static int wait_stop(struct stopped *s, int i)
{
	int st;

	for (;;) {
		if (waitpid(s->tids[i], &st, __WALL) < 0)
			return -errno;
		if (!WIFSTOPPED(st))
			return -ESRCH;
		if ((st >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* A signal-delivery stop came first: keep the signal, take the interrupt too. */
		s->sigs[i] = WSTOPSIG(st);
		return 0;
	}
}

static void resume_all(struct stopped *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		ptrace(PTRACE_DETACH, s->tids[i], 0, (void *)(long)s->sigs[i]);
	s->n = 0;
}

/*
 * Seizes and stops every thread of pid, again until no new one appears.
 * All are interrupted before any is waited for: the stop lasts as long as
 * the slowest thread takes to notice, not the sum.
 */
static int stop_all(struct stopped *s, char *why, size_t whylen)
{
	char path[64];
	struct dirent *e;
	int tid, first, i, err;
	DIR *d;

	s->n = 0;
	s->t0 = mono_ns();
	snprintf(path, sizeof(path), "/proc/%d/task", s->pid);
	do {
		first = s->n;
		d = opendir(path);
		if (!d) {
			snprintf(why, whylen, "pid %d is gone", s->pid);
			resume_all(s);
			return -ESRCH;
		}
		while ((e = readdir(d))) {
			tid = atoi(e->d_name);
			if (tid <= 0 || has_tid(s, tid))
				continue;
			if (s->n >= MAX_THREADS) {
				closedir(d);
				resume_all(s);
				snprintf(why, whylen, "pid %d has more than %d threads", s->pid,
					 MAX_THREADS);
				return -E2BIG;
			}
			if (ptrace(PTRACE_SEIZE, tid, 0, 0)) {
				if (errno == ESRCH)
					continue; /* exited */
				err = -errno;
				closedir(d);
				resume_all(s);
				return err;
			}
			if (ptrace(PTRACE_INTERRUPT, tid, 0, 0)) {
				ptrace(PTRACE_DETACH, tid, 0, 0);
				continue;
			}
			if (tid == s->pid)
				s->main = s->n;
			s->tids[s->n] = tid;
			s->sigs[s->n] = 0;
			s->n++;
		}
		closedir(d);
		for (i = first; i < s->n; i++) {
			if (wait_stop(s, i) == 0)
				continue;
			/* Gone while stopping: forget it. */
			s->tids[i] = s->tids[s->n - 1];
			s->sigs[i] = s->sigs[s->n - 1];
			if (s->main == s->n - 1)
				s->main = i;
			s->n--;
			i--;
		}
	} while (s->n > first);
	if (!has_tid(s, s->pid)) {
		resume_all(s);
		snprintf(why, whylen, "pid %d is gone", s->pid);
		return -ESRCH;
	}
	return 0;
}

/* Why ptrace refused: Yama, another tracer, or plain permission. */
static void explain_ptrace(int pid, int err, char *why, size_t whylen)
{
	char path[64], line[256];
	int scope = -1, tracer = 0;
	FILE *f;

	f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "TracerPid: %d", &tracer) == 1)
				break;
		fclose(f);
	}
	if (tracer > 0)
		snprintf(why, whylen, "pid %d is already traced by pid %d (a debugger?)", pid,
			 tracer);
	else if (scope == 3)
		snprintf(why, whylen, "ptrace is forbidden here (Yama ptrace_scope is 3)");
	else
		snprintf(why, whylen, "cannot ptrace pid %d: %s", pid, strerror(err));
}

static bool in_loader(const struct vma_list *maps, uint64_t pc)
{
	const struct vma *v = procmaps__find(maps, pc);
	const char *base;

	if (!v || !v->path[0])
		return false;
	base = strrchr(v->path, '/');
	base = base ? base + 1 : v->path;
	return !strncmp(base, "ld-linux", 8) || !strncmp(base, "ld.so", 5) ||
	       !strncmp(base, "ld-musl", 7);
}

/* Whether a stopped thread is inside the dynamic loader (it may be writing a GOT slot). */
static int busy_in_loader(struct stopped *s, const struct vma_list *maps)
{
	struct user_regs_struct r;
	int i;

	for (i = 0; i < s->n; i++) {
		if (ptrace(PTRACE_GETREGS, s->tids[i], 0, &r))
			return -errno;
		if (in_loader(maps, r.rip))
			return 1;
	}
	return 0;
}

/* A `syscall` instruction the main thread can single-step: in the vDSO, else any code. */
static int find_syscall_insn(struct stopped *s, const struct vma_list *maps)
{
	unsigned char buf[65536];
	size_t i, pass, k, len;
	const struct vma *v;

	for (pass = 0; pass < 2; pass++) {
		for (k = 0; k < maps->n; k++) {
			v = &maps->vmas[k];
			if (!v->exec || (pass == 0) != !strcmp(v->path, "[vdso]"))
				continue;
			len = v->end - v->start < sizeof(buf) ? v->end - v->start : sizeof(buf);
			if (rd(s, v->start, buf, len))
				continue;
			for (i = 0; i + 1 < len; i++)
				if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
					s->syscall_insn = v->start + i;
					return 0;
				}
		}
	}
	return -ENOENT;
}

/* Makes the main thread run one syscall; its result, or -errno of ptrace. */
static int remote_syscall(struct stopped *s, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
			  uint64_t a4, uint64_t a5, uint64_t a6, int64_t *ret)
{
	struct user_regs_struct r = s->saved;
	int tries, st, tid = s->pid;

	r.rax = nr;
	r.orig_rax = -1; /* no syscall restart on this resume */
	r.rdi = a1;
	r.rsi = a2;
	r.rdx = a3;
	r.r10 = a4;
	r.r8 = a5;
	r.r9 = a6;
	r.rip = s->syscall_insn;
	if (!s->syscall_insn)
		return -EINVAL;
	for (tries = 0; tries < 8; tries++) {
		if (ptrace(PTRACE_SETREGS, tid, 0, &r) || ptrace(PTRACE_SINGLESTEP, tid, 0, 0))
			return -errno;
		if (waitpid(tid, &st, __WALL) < 0)
			return -errno;
		if (!WIFSTOPPED(st))
			return -ESRCH;
		if (ptrace(PTRACE_GETREGS, tid, 0, &r))
			return -errno;
		if (r.rip == s->syscall_insn + 2) {
			*ret = (int64_t)r.rax;
			return 0;
		}
		/* A fault of the injected step is ours: never given to the process. */
		if (WSTOPSIG(st) == SIGSEGV || WSTOPSIG(st) == SIGBUS || WSTOPSIG(st) == SIGILL ||
		    WSTOPSIG(st) == SIGFPE)
			return -EFAULT;
		/* Stopped by a signal before the instruction: give it back at resume, retry. */
		if (WSTOPSIG(st) != SIGTRAP && s->sigs[s->main] == 0)
			s->sigs[s->main] = WSTOPSIG(st);
		r = s->saved;
		r.rax = nr;
		r.orig_rax = -1;
		r.rdi = a1;
		r.rsi = a2;
		r.rdx = a3;
		r.r10 = a4;
		r.r8 = a5;
		r.r9 = a6;
		r.rip = s->syscall_insn;
	}
	return -EIO;
}

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

static int open_map_file(int pid, uint64_t start, uint64_t end, int flags)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, start, end);
	return open(path, flags | O_CLOEXEC);
}

/* Maps a new sampler into the stopped process: its code's address, or 0 and why. */
static uint64_t map_sampler(struct stopped *s, int *memfd, char *why, size_t whylen)
{
	uint64_t name = (s->saved.rsp - 1024) & ~15ULL, base;
	char path[64];
	int64_t fd = -1, ret;
	int err, mine = -1;

	if ((err = wr(s, name, MEMFD_NAME, sizeof(MEMFD_NAME))) ||
	    (err = remote_syscall(s, SYS_memfd_create, name, MFD_CLOEXEC, 0, 0, 0, 0, &fd)))
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
	if ((err = remote_syscall(s, SYS_mmap, 0, MAP_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0, &ret)))
		goto fail;
	if (ret < 0 && ret > -4096) {
		snprintf(why, whylen, "mmap in pid %d failed: %s", s->pid, strerror((int)-ret));
		goto out;
	}
	base = (uint64_t)ret;
	if ((err = remote_syscall(s, SYS_mmap, base, CODE_SIZE, PROT_READ | PROT_EXEC,
				  MAP_PRIVATE | MAP_FIXED, fd, 0, &ret)))
		goto fail;
	if ((uint64_t)ret != base) {
		snprintf(why, whylen, "mapping the sampler's code in pid %d failed: %s", s->pid,
			 strerror((int)-ret));
		goto out;
	}
	remote_syscall(s, SYS_close, fd, 0, 0, 0, 0, 0, &ret);
	*memfd = mine;
	return base;
fail:
	snprintf(why, whylen, "cannot map the sampler into pid %d: %s", s->pid, strerror(-err));
out:
	if (fd >= 0)
		remote_syscall(s, SYS_close, fd, 0, 0, 0, 0, 0, &ret);
	if (mine >= 0)
		close(mine);
	return 0;
}

static int fn_of(const char *name)
{
	int f;

	for (f = 0; f < SFN__MAX; f++)
		if (!strcmp(name, fn_names[f]))
			return f;
	return -1;
}

/* The load bias of the object whose first mapping (offset 0) is v. */
static uint64_t load_bias(Elf *elf, const struct vma *v)
{
	uint64_t lowest = UINT64_MAX;
	GElf_Ehdr eh;
	GElf_Phdr ph;
	size_t i, np;

	if (!gelf_getehdr(elf, &eh) || eh.e_type != ET_DYN || elf_getphdrnum(elf, &np))
		return 0;
	for (i = 0; i < np; i++)
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < lowest)
			lowest = ph.p_vaddr & ~4095ULL;
	return lowest == UINT64_MAX ? 0 : v->start - lowest;
}

/*
 * The allocator's functions, as addresses in the process (its dynamic
 * symbols by name, as the loader binds them): 0 where it has none.
 */
static void real_functions(int pid, const struct heap_allocator *a, const struct vma_list *maps,
			   uint64_t real[SFN__MAX])
{
	const struct vma *v = NULL;
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	GElf_Sym sym;
	const char *name;
	uint64_t bias;
	size_t k, i, n;
	Elf *elf;
	int fd, f;

	memset(real, 0, sizeof(uint64_t) * SFN__MAX);
	for (k = 0; k < maps->n && !v; k++)
		if (maps->vmas[k].offset == 0 && !strcmp(maps->vmas[k].path, a->file))
			v = &maps->vmas[k];
	if (!v)
		return;
	fd = open_map_file(pid, v->start, v->end, O_RDONLY);
	if (fd < 0)
		return;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	bias = elf ? load_bias(elf, v) : 0;
	while (elf && (scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		n = data ? sh.sh_size / sh.sh_entsize : 0;
		for (i = 0; i < n; i++) {
			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && (f = fn_of(name)) >= 0)
				real[f] = bias + sym.st_value;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
}

struct patch_ctx {
	struct stopped *s;
	uint64_t base;
	const uint64_t *real;
	struct sampler_slot *slots; /* the sampler's table, read and written back */
	uint64_t nslots;
	int patched;
	int objects;
};

static int patch_slot(struct patch_ctx *c, uint64_t addr, int f)
{
	uint64_t cur, want = c->base + wrapper_off[f];
	uint64_t i;
	int err;

	if ((err = rd(c->s, addr, &cur, sizeof(cur))))
		return err;
	if (cur == want)
		return 0; /* an earlier bpfprof's redirection, kept (its original is in slots[]) */
	for (i = 0; i < c->nslots; i++)
		if (c->slots[i].addr == addr)
			break;
	if (i == c->nslots) {
		if (c->nslots >= SAMPLER_MAX_SLOTS)
			return -E2BIG;
		c->nslots++;
		c->slots[i].addr = addr;
	}
	c->slots[i].orig = cur;
	if ((err = wr64(c->s, addr, want)))
		return err;
	c->patched++;
	return 0;
}

/* Every allocation function's JUMP_SLOT and GLOB_DAT relocation in one mapped object. */
static int patch_object(struct patch_ctx *c, const struct vma *v, const struct vma_list *maps)
{
	uint64_t bias;
	int fd, err = 0, f, before = c->patched;
	Elf_Scn *scn = NULL, *syms;
	GElf_Shdr sh, ssh;
	GElf_Ehdr eh;
	GElf_Rela rela;
	GElf_Sym sym;
	Elf_Data *data, *sdata;
	size_t i, n;
	const char *name;
	Elf *elf;

	fd = open_map_file(c->s->pid, v->start, v->end, O_RDONLY);
	if (fd < 0)
		return 0; /* not readable: nothing of it patched */
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || !gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64)
		goto out;
	bias = load_bias(elf, v);
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
			continue;
		syms = elf_getscn(elf, sh.sh_link);
		if (!syms || !gelf_getshdr(syms, &ssh) || ssh.sh_type != SHT_DYNSYM)
			continue;
		data = elf_getdata(scn, NULL);
		sdata = elf_getdata(syms, NULL);
		if (!data || !sdata)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			if (!gelf_getrela(data, (int)i, &rela))
				break;
			if (GELF_R_TYPE(rela.r_info) != R_X86_64_JUMP_SLOT &&
			    GELF_R_TYPE(rela.r_info) != R_X86_64_GLOB_DAT)
				continue;
			if (!gelf_getsym(sdata, (int)GELF_R_SYM(rela.r_info), &sym))
				continue;
			name = elf_strptr(elf, ssh.sh_link, sym.st_name);
			if (!name || (f = fn_of(name)) < 0 || !c->real[f])
				continue;
			if ((rela.r_offset + bias) & 7)
				continue; /* not an aligned slot: leave it */
			if (!procmaps__find(maps, rela.r_offset + bias))
				continue;
			err = patch_slot(c, rela.r_offset + bias, f);
			if (err)
				goto out;
		}
	}
	c->objects += c->patched > before;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

static int patch_all(struct patch_ctx *c, const struct vma_list *maps)
{
	const struct vma *v;
	size_t k;
	int err;

	for (k = 0; k < maps->n; k++) {
		v = &maps->vmas[k];
		if (v->offset != 0 || v->path[0] != '/' || strstr(v->path, "/memfd:") ||
		    in_loader(maps, v->start))
			continue;
		if (k > 0 && maps->vmas[k - 1].offset == 0 &&
		    !strcmp(maps->vmas[k - 1].path, v->path))
			continue;
		err = patch_object(c, v, maps);
		if (err)
			return err;
	}
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

static int open_mem(struct stopped *s)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", s->pid);
	s->mem = open(path, O_RDWR | O_CLOEXEC);
	return s->mem < 0 ? -errno : 0;
}

/* Stops every thread with none in the loader, and reads the maps; 0 or -errno with why. */
static int stop_quiet(struct stopped *s, struct vma_list *maps, int *ntries, char *why,
		      size_t whylen)
{
	int tries, err;

	for (tries = 0; tries < STOP_TRIES; tries++) {
		*ntries = tries + 1;
		err = stop_all(s, why, whylen);
		if (err) {
			if (err != -ESRCH && err != -E2BIG)
				explain_ptrace(s->pid, -err, why, whylen);
			return err;
		}
		err = procmaps__read("/proc", s->pid, maps);
		if (err) {
			resume_all(s);
			snprintf(why, whylen, "cannot read the maps of pid %d: %s", s->pid,
				 strerror(-err));
			return err;
		}
		err = busy_in_loader(s, maps);
		if (err == 0)
			return 0;
		procmaps__free(maps);
		resume_all(s);
		if (err < 0) {
			snprintf(why, whylen, "cannot read the registers of pid %d: %s", s->pid,
				 strerror(-err));
			return err;
		}
		usleep(2000 * (tries + 1));
	}
	snprintf(why, whylen, "pid %d stayed inside the dynamic loader in %d tries", s->pid,
		 STOP_TRIES);
	return -EAGAIN;
}

/* Writes back every slot still pointing into the sampler at base; how many. */
static int undo_slots(struct stopped *s, uint64_t base, const struct sampler_slot *slots,
		      uint64_t n)
{
	uint64_t i, cur;
	int restored = 0;

	for (i = 0; i < n; i++) {
		if (rd(s, slots[i].addr, &cur, sizeof(cur)))
			continue; /* unmapped (dlclose): nothing to restore */
		if (cur < base || cur >= base + CODE_SIZE)
			continue; /* rewritten since: not ours any more */
		if (wr64(s, slots[i].addr, slots[i].orig))
			return -EIO;
		restored++;
	}
	return restored;
}

/* A hash of the objects mapped (each file's first mapping): it changes with dlopen and dlclose. */
static uint64_t objects_hash(const struct vma_list *maps)
{
	uint64_t h = 1469598103934665603ULL;
	size_t k;

	for (k = 0; k < maps->n; k++)
		if (maps->vmas[k].offset == 0 && maps->vmas[k].path[0] == '/')
			h = (h ^ maps->vmas[k].start) * 1099511628211ULL;
	return h;
}

int heap_inject(int pid, const struct heap_allocator *a, uint64_t rate,
		heap_inject_attach_fn attach, void *ctx, struct heap_injection *out, char *why,
		size_t whylen)
{
	struct stopped *s = calloc(1, sizeof(*s));
	struct sampler_data *d =
		calloc(1, sizeof(*d)); /* lazily zeroed pages: only the head is touched */
	struct vma_list maps = { 0 };
	struct patch_ctx c = { 0 };
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
	if ((err = open_mem(s))) {
		explain_ptrace(pid, -err, why, whylen);
		goto done;
	}
	err = stop_quiet(s, &maps, &out->tries, why, whylen);
	if (err)
		goto done;
	out->phase_ns[0] = mono_ns() - s->t0;
	real_functions(pid, a, &maps, real);
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
	err = find_syscall_insn(s, &maps);
	out->phase_ns[1] = mono_ns() - s->t0;
	if (err) {
		snprintf(why, whylen, "no syscall instruction found in pid %d", pid);
		goto resume;
	}
	base = find_sampler(&maps);
	if (base) {
		memfd = open_map_file(pid, base, base + CODE_SIZE, O_RDONLY);
		if (memfd < 0 || pread(memfd, code, sizeof(code), 0) != (ssize_t)sizeof(code) ||
		    memcmp(code, sampler_blob, sizeof(code)) ||
		    rd(s, base + DATA_OFF, d, offsetof(struct sampler_data, threads)) ||
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
		err = remote_syscall(s, SYS_madvise, D_FIELD(base, table),
				     sizeof(((struct sampler_data *)0)->table), MADV_DONTNEED, 0, 0,
				     0, &ret);
		if (err || ret) {
			snprintf(why, whylen, "cannot clear the sampler's table in pid %d", pid);
			err = err ? err : -EIO;
			goto restore_regs;
		}
		d->ntracked = 0;
		d->dropped = 0;
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
	c = (struct patch_ctx){
		.s = s, .base = base, .real = real, .slots = d->slots, .nslots = d->nslots
	};
	/* The data first (rate, functions), the probe, then the slots that lead to them. */
	err = wr(s, base + DATA_OFF, d, offsetof(struct sampler_data, threads));
	out->phase_ns[2] = mono_ns() - s->t0;
	if (!err && attach) {
		/*
		 * The uprobe is attached with the process running (attaching
		 * takes the kernel milliseconds), then it is stopped again for
		 * the slots: nothing reaches the sampler before they point to it.
		 */
		ptrace(PTRACE_SETREGS, pid, 0, &s->saved);
		resume_all(s);
		out->stopped_ns = mono_ns() - s->t0;
		procmaps__free(&maps);
		err = attach(ctx, memfd, SAMPLER_PROBE_OFF);
		if (err) {
			snprintf(why, whylen, "cannot attach to the sampler's probe in pid %d: %s",
				 pid, strerror(-err));
			goto done;
		}
		err = stop_quiet(s, &maps, &out->tries, why, whylen);
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
		err = patch_all(&c, &maps);
	out->phase_ns[3] = mono_ns() - s->t0;
	d->nslots = c.nslots;
	if (!err)
		err = wr(s, base + DATA_OFF, d, offsetof(struct sampler_data, threads));
	if (err) {
		/* Half done: what was redirected goes back, nothing is left half-attached. */
		undo_slots(s, base, d->slots, d->nslots);
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
	out->objects_hash = objects_hash(&maps);
restore_regs:
	ptrace(PTRACE_SETREGS, pid, 0, &s->saved);
resume:
	resume_all(s);
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
static int read_slots(struct stopped *s, uint64_t base, struct sampler_slot *slots, uint64_t *n)
{
	int err = rd(s, D_FIELD(base, nslots), n, sizeof(*n));

	if (!err && *n > SAMPLER_MAX_SLOTS)
		err = -EINVAL;
	if (!err && *n)
		err = rd(s, D_FIELD(base, slots), slots, *n * sizeof(*slots));
	return err;
}

int heap_uninject(struct heap_injection *in, char *why, size_t whylen)
{
	struct stopped *s = calloc(1, sizeof(*s));
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
	err = open_mem(s);
	if (!err)
		err = stop_all(s, why, whylen);
	if (err == -ENOENT)
		err = -ESRCH; /* gone: nothing to restore */
	if (err) {
		if (err != -ESRCH)
			explain_ptrace(in->pid, -err, why, whylen);
		goto out;
	}
	/* Still our sampler there (not an exec'd new program): else nothing to restore. */
	if (procmaps__read("/proc", in->pid, &maps) || find_sampler(&maps) != in->base ||
	    rd(s, D_FIELD(in->base, magic), &magic, sizeof(magic)) || magic != SAMPLER_MAGIC) {
		procmaps__free(&maps);
		resume_all(s);
		err = -ESRCH;
		goto out;
	}
	procmaps__free(&maps);
	err = read_slots(s, in->base, slots, &n);
	if (!err)
		err = rd(s, D_FIELD(in->base, dropped), &in->dropped, sizeof(in->dropped));
	if (!err) {
		restored = undo_slots(s, in->base, slots, n);
		err = restored < 0 ? restored : 0;
	}
	if (!err) {
		n = 0;
		err = wr(s, D_FIELD(in->base, nslots), &n, sizeof(n));
	}
	resume_all(s);
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
	struct stopped s = { .pid = in->pid, .mem = -1 };
	uint64_t n = 0, i;
	int err;

	if (!slots)
		return -ENOMEM;
	err = open_mem(&s);
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

int heap_inject_refresh(struct heap_injection *in, char *why, size_t whylen)
{
	struct stopped *s;
	struct sampler_data *d;
	struct vma_list maps = { 0 };
	struct patch_ctx c = { 0 };
	uint64_t h, real[SFN__MAX];
	int err, ntries;

	if (procmaps__read("/proc", in->pid, &maps))
		return -ESRCH;
	h = objects_hash(&maps);
	procmaps__free(&maps);
	if (h == in->objects_hash)
		return 0;
	s = calloc(1, sizeof(*s));
	d = calloc(1, sizeof(*d));
	if (!s || !d) {
		free(s);
		free(d);
		return -ENOMEM;
	}
	s->pid = in->pid;
	s->mem = -1;
	err = open_mem(s);
	if (!err)
		err = stop_quiet(s, &maps, &ntries, why, whylen);
	if (err)
		goto out;
	err = -ESRCH; /* not our sampler any more (exec) */
	if (find_sampler(&maps) != in->base ||
	    rd(s, in->base + DATA_OFF, d, offsetof(struct sampler_data, threads)) ||
	    d->magic != SAMPLER_MAGIC)
		goto resume;
	memcpy(real, d->real, sizeof(real));
	c = (struct patch_ctx){
		.s = s, .base = in->base, .real = real, .slots = d->slots, .nslots = d->nslots
	};
	err = patch_all(&c, &maps);
	if (c.nslots != d->nslots) {
		d->nslots = c.nslots;
		err = wr(s, D_FIELD(in->base, slots), d->slots, d->nslots * sizeof(d->slots[0]))
			      ?: err;
		err = wr(s, D_FIELD(in->base, nslots), &d->nslots, sizeof(d->nslots)) ?: err;
	}
	if (err)
		snprintf(why, whylen, "cannot redirect new objects' slots in pid %d: %s", in->pid,
			 strerror(-err));
	else
		err = c.patched;
	in->objects_hash = objects_hash(&maps);
	in->nslots += c.patched;
resume:
	resume_all(s);
	procmaps__free(&maps);
out:
	if (s->mem >= 0)
		close(s->mem);
	free(s);
	free(d);
	return err;
}
