/* SPDX-License-Identifier: Apache-2.0 */
/* The few fields of /proc/PID/stat bpfprof needs. */
#ifndef BPFPROF_PROC_STAT_H
#define BPFPROF_PROC_STAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
	char state; /* R, S, D, T, t, Z, ... */
	pid_t ppid;
	pid_t pgrp;		  /* its process group */
	pid_t tpgid;		  /* its terminal's foreground process group, -1 without one */
	unsigned long long start; /* clock ticks after boot: with the pid, a process's identity */
};

/* Reads pid's stat into st; false when the process is gone or the file odd. */
bool proc_stat_read(pid_t pid, struct proc_stat *st);

/* The start field's value (clock ticks after boot) of a task's start_boottime in ns. */
unsigned long long proc_start_ticks(uint64_t boot_ns);

/* Whether pid is stopped by a signal (state T). */
bool proc_is_stopped(pid_t pid);

/* CPU time (ns, from schedstat: exact, unlike stat's ticks) of one thread, or -errno. */
int64_t proc_thread_cpu_ns(pid_t pid, pid_t tid);
/* ... of every live thread of pid, summed, or -errno when pid is gone. */
int64_t proc_cpu_ns(pid_t pid);

#endif
