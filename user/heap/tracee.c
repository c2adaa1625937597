// SPDX-License-Identifier: Apache-2.0
/*
 * Stopping every thread of a running process with ptrace, reading and
 * writing its memory, and making it run a syscall: what injecting the heap
 * sampler (heap/inject.c) is built on.
 *
 * Every thread is seized and interrupted (PTRACE_SEIZE + PTRACE_INTERRUPT),
 * all before any is waited for, again until no new one appears.  A signal
 * a stop took from a thread is given back when it is let go.  A syscall is
 * run by the main thread single-stepping an existing `syscall` instruction
 * (in the vDSO) with its registers saved and restored.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "heap/tracee.h"
#include "util/util.h"

#define STOP_TRIES 20

int tracee_read(struct tracee *s, uint64_t addr, void *buf, size_t n)
{
	ssize_t r = pread(s->mem, buf, n, (off_t)addr);

	return r == (ssize_t)n ? 0 : r < 0 ? -errno : -EIO;
}

int tracee_write(struct tracee *s, uint64_t addr, const void *buf, size_t n)
{
	ssize_t r = pwrite(s->mem, buf, n, (off_t)addr);

	return r == (ssize_t)n ? 0 : r < 0 ? -errno : -EIO;
}

int tracee_write64(struct tracee *s, uint64_t addr, uint64_t v)
{
	return tracee_write(s, addr, &v, sizeof(v));
}

static bool has_tid(const struct tracee *s, int tid)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->tids[i] == tid)
			return true;
	return false;
}

/* Waits for tid's stop after PTRACE_INTERRUPT; a signal stop is kept to give back. */
static int wait_stop(struct tracee *s, int i)
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

void tracee_resume_all(struct tracee *s)
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
int tracee_stop_all(struct tracee *s, char *why, size_t whylen)
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
			tracee_resume_all(s);
			return -ESRCH;
		}
		while ((e = readdir(d))) {
			tid = atoi(e->d_name);
			if (tid <= 0 || has_tid(s, tid))
				continue;
			if (s->n >= MAX_THREADS) {
				closedir(d);
				tracee_resume_all(s);
				snprintf(why, whylen, "pid %d has more than %d threads", s->pid,
					 MAX_THREADS);
				return -E2BIG;
			}
			if (ptrace(PTRACE_SEIZE, tid, 0, 0)) {
				if (errno == ESRCH)
					continue; /* exited */
				err = -errno;
				closedir(d);
				tracee_resume_all(s);
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
		tracee_resume_all(s);
		snprintf(why, whylen, "pid %d is gone", s->pid);
		return -ESRCH;
	}
	return 0;
}

/* Why ptrace refused: Yama, another tracer, or plain permission. */
void tracee_explain(int pid, int err, char *why, size_t whylen)
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

bool tracee_in_loader(const struct vma_list *maps, uint64_t pc)
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
static int busy_in_loader(struct tracee *s, const struct vma_list *maps)
{
	struct user_regs_struct r;
	int i;

	for (i = 0; i < s->n; i++) {
		if (ptrace(PTRACE_GETREGS, s->tids[i], 0, &r))
			return -errno;
		if (tracee_in_loader(maps, r.rip))
			return 1;
	}
	return 0;
}

/* A `syscall` instruction the main thread can single-step: in the vDSO, else any code. */
int tracee_find_syscall(struct tracee *s, const struct vma_list *maps)
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
			if (tracee_read(s, v->start, buf, len))
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

/* The main thread's saved registers, set up to run syscall nr at s->syscall_insn. */
static struct user_regs_struct syscall_regs(const struct tracee *s, long nr, const uint64_t a[6])
{
	struct user_regs_struct r = s->saved;

	r.rax = nr;
	r.orig_rax = -1; /* no syscall restart on this resume */
	r.rdi = a[0];
	r.rsi = a[1];
	r.rdx = a[2];
	r.r10 = a[3];
	r.r8 = a[4];
	r.r9 = a[5];
	r.rip = s->syscall_insn;
	return r;
}

/* Makes the main thread run one syscall; its result, or -errno of ptrace. */
int tracee_syscall(struct tracee *s, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		   uint64_t a5, uint64_t a6, int64_t *ret)
{
	const uint64_t a[6] = { a1, a2, a3, a4, a5, a6 };
	struct user_regs_struct r;
	int tries, st, tid = s->pid;

	if (!s->syscall_insn)
		return -EINVAL;
	for (tries = 0; tries < 8; tries++) {
		r = syscall_regs(s, nr, a);
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
	}
	return -EIO;
}

int tracee_open_mem(struct tracee *s)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", s->pid);
	s->mem = open(path, O_RDWR | O_CLOEXEC);
	return s->mem < 0 ? -errno : 0;
}

/* Stops every thread with none in the loader, and reads the maps; 0 or -errno with why. */
int tracee_stop_quiet(struct tracee *s, struct vma_list *maps, int *ntries, char *why,
		      size_t whylen)
{
	int tries, err;

	for (tries = 0; tries < STOP_TRIES; tries++) {
		*ntries = tries + 1;
		err = tracee_stop_all(s, why, whylen);
		if (err) {
			if (err != -ESRCH && err != -E2BIG)
				tracee_explain(s->pid, -err, why, whylen);
			return err;
		}
		err = procmaps__read("/proc", s->pid, maps);
		if (err) {
			tracee_resume_all(s);
			snprintf(why, whylen, "cannot read the maps of pid %d: %s", s->pid,
				 strerror(-err));
			return err;
		}
		err = busy_in_loader(s, maps);
		if (err == 0)
			return 0;
		procmaps__free(maps);
		tracee_resume_all(s);
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
