/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A running process's threads stopped with ptrace, its memory read and
 * written through /proc/PID/mem, a syscall run in it (heap/tracee.c).
 */
#ifndef BPFPROF_HEAP_TRACEE_H
#define BPFPROF_HEAP_TRACEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

#include "proc/maps.h"

#define MAX_THREADS 4096

struct tracee {
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

/* Opens /proc/PID/mem read-write into s->mem: 0 or -errno. */
int tracee_open_mem(struct tracee *s);
int tracee_read(struct tracee *s, uint64_t addr, void *buf, size_t n);
int tracee_write(struct tracee *s, uint64_t addr, const void *buf, size_t n);
int tracee_write64(struct tracee *s, uint64_t addr, uint64_t v);

/* Seizes and stops every thread of s->pid: 0, or -errno with why (-ESRCH: gone). */
int tracee_stop_all(struct tracee *s, char *why, size_t whylen);
/* Lets every stopped thread go, each with the signal its stop took. */
void tracee_resume_all(struct tracee *s);
/*
 * Stops every thread with none inside the dynamic loader (retrying a little
 * later while one is) and reads the maps into *maps: 0 or -errno with why.
 */
int tracee_stop_quiet(struct tracee *s, struct vma_list *maps, int *ntries, char *why,
		      size_t whylen);
/* Why ptrace refused pid (Yama, another tracer, plain permission), into why. */
void tracee_explain(int pid, int err, char *why, size_t whylen);
/* Whether pc is in the dynamic loader's code. */
bool tracee_in_loader(const struct vma_list *maps, uint64_t pc);

/* Finds a `syscall` instruction for tracee_syscall: 0 or -ENOENT. */
int tracee_find_syscall(struct tracee *s, const struct vma_list *maps);
/*
 * The main thread (registers in s->saved) runs syscall nr; its result in
 * *ret.  Returns 0 or -errno of ptrace.  The caller restores s->saved.
 */
int tracee_syscall(struct tracee *s, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		   uint64_t a5, uint64_t a6, int64_t *ret);

#endif
