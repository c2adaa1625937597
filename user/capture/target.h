/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What to profile: pids, the whole system, a cgroup v2, or a command that
 * bpfprof launches itself.  Shared by every profile type.
 */
#ifndef BPFPROF_TARGET_H
#define BPFPROF_TARGET_H

#include <stdbool.h>
#include <sys/types.h>

#include "bpfprof/types.h"
#include "capture/watchdog.h"

#define TARGET_MAX_PIDS 1024

struct target {
	enum target_mode mode;
	int pids[TARGET_MAX_PIDS];
	int npids;
	const char *cgroup_path;
	int cgroup_fd; /* open cgroup v2 directory, or -1 */
	char **argv;   /* command to launch, NULL-terminated, or NULL */
	pid_t child;   /* the launched command, 0 before launch or when none */
	int gate_fd;   /* write end of the pipe the child waits on, or -1 */
	int exec_fd;   /* read end of the pipe that reports exec failure, or -1 */
	bool child_exited;
	int child_status;
	/* Continues what bpfprof stopped if it dies (pid targets: see watchdog.h). */
	struct watchdog watchdog;
};

void target__init(struct target *t);
/* Adds the pids of a "-p" argument: one pid or a comma-separated list. */
int target__add_pids(struct target *t, const char *arg);
/*
 * Checks the target and prepares it: the pids exist, the cgroup is a cgroup
 * v2 directory, the command is found.  A command is forked here but held
 * before exec until target__start().  Prints the error; returns 0 or
 * -errno (-BPFPROF_ETARGET: no such target).
 */
int target__prepare(struct target *t);
/*
 * bpfprof stopped pid (BPF stops a launched command's processes until their
 * maps are read): the watchdog continues it should bpfprof die first.
 */
void target__note_stopped(struct target *t, int pid);
/* Lets a held command exec; fails when the exec failed (command not runnable). */
int target__start(struct target *t);
/* Non-blocking: true when every target process has gone. */
bool target__gone(struct target *t);
/*
 * Ends a launched command that is still running (after Ctrl-C it got the
 * signal too), then the watchdog.
 */
void target__cleanup(struct target *t);
/* The file cmd runs, found in $PATH as execvp does; 0 or -errno. */
int target__resolve_command(const char *cmd, char *buf, size_t len);
struct profile;
/*
 * Whether the capture only ever saw bpfprof itself: -p gave its own pid, or
 * p has samples and every one is of bpfprof's process (its pid label).
 */
bool target__saw_only_self(const struct target *t, const struct profile *p);
/* A short description for messages: "pid 42", "the whole system", ... */
const char *target__describe(const struct target *t, char *buf, size_t len);

#endif
