/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watchdog: a small process forked before any BPF is loaded that
 * outlives bpfprof by a second.  bpfprof stops processes (a launched
 * command at its entry point, and on mappings it has not read yet) and
 * continues them itself; when bpfprof dies without its cleanup (SIGKILL, a
 * crash, a second Ctrl-C) the watchdog sees its socket close and sends
 * SIGCONT to every process of the target still stopped, so none is left
 * stopped for good.  A normal exit tells it first, and it does nothing.
 */
#ifndef BPFPROF_WATCHDOG_H
#define BPFPROF_WATCHDOG_H

#include <sys/types.h>

struct watchdog {
	int fd;	   /* bpfprof's end of the socket, or -1 */
	pid_t pid; /* the watchdog process, or 0 */
};

enum watchdog_kind {
	/* A process bpfprof stops (or may): continued when found stopped. */
	WATCHDOG_OURS = 1,
	/* The same, and every stopped process below it (a launched command). */
	WATCHDOG_TREE,
	/*
	 * A process of -p: continued when found stopped, unless it was already
	 * stopped when it was given (then someone else stopped it).
	 */
	WATCHDOG_TARGET,
};

void watchdog__init(struct watchdog *w);
/* Forks the watchdog; 0 or -errno. */
int watchdog__start(struct watchdog *w);
/* Hands pid to the watchdog; never blocks, a no-op when none runs. */
void watchdog__watch(struct watchdog *w, enum watchdog_kind kind, pid_t pid);
/* Ends the watchdog without it touching anything: bpfprof cleaned up itself. */
void watchdog__stop(struct watchdog *w);
/* For a forked child: forget the watchdog without telling it anything. */
void watchdog__forget(struct watchdog *w);

/*
 * What the watchdog does when bpfprof is gone: continue the stopped
 * processes among e[] and below its trees; stores up to max of their pids
 * in resumed and returns how many it continued.
 */
struct watchdog_entry {
	pid_t pid;
	unsigned long long start; /* /proc/PID/stat starttime, to ignore a reused pid */
	enum watchdog_kind kind;
};
int watchdog__resume(const struct watchdog_entry *e, int n, pid_t *resumed, int max);

#endif
