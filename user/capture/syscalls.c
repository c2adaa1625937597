// SPDX-License-Identifier: Apache-2.0
/*
 * Syscalls traced with bpf/syscalls.bpf.h: through their own tracepoints
 * where tracefs has them, else through raw_syscalls.  The choice before load,
 * the attaching after.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "capture/capture.h"
#include "util/log.h"

/* The raw_syscalls programs of SYSCALL_RAW_TP, both twins of each. */
static const char *const raw_progs[] = { "sys_enter_btf", "sys_enter_raw", "sys_exit_btf",
					 "sys_exit_raw" };

/*
 * tracefs is where libbpf finds a classic tracepoint's id.  A fresh machine
 * may have it unmounted (nothing has traced yet): mount it where the kernel
 * provides its mount point, once, as perf does.  Failing that, the callers
 * fall back to raw tracepoints, which need no tracefs.
 */
static void mount_tracefs(void)
{
	static bool tried;

	if (tried)
		return;
	tried = true;
	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
		pr_debug("tracefs is not mounted and mounting it failed: %s\n", strerror(errno));
	else
		pr_debug("mounted tracefs on /sys/kernel/tracing\n");
}

/* Whether tracefs has the event events/syscalls/DIR_NAME (DIR: sys_enter or sys_exit). */
static bool has_event(const char *dir, const char *name)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[160];
	size_t i;

	mount_tracefs();
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/syscalls/%s_%s/id", roots[i], dir, name);
		if (access(path, R_OK) == 0)
			return true;
	}
	return false;
}

/* Whether names[0..n) each have an entry and an exit event, and may use them. */
static bool use_events(const char *const *names, size_t n)
{
	const char *raw = getenv("BPFPROF_RAW_SYSCALLS");
	size_t i;

	if (raw && !strcmp(raw, "1"))
		return false;
	for (i = 0; i < n; i++)
		if (!has_event("sys_enter", names[i]) || !has_event("sys_exit", names[i]))
			return false;
	return true;
}

/* The entry program for set->names[i]: NAME_enter_tp, or names[0]'s when it serves all. */
static struct bpf_program *enter_prog(struct bpf_object *obj, const struct syscall_set *set,
				      size_t i)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_enter_tp", set->names[set->shared_enter ? 0 : i]);
	return bpf_object__find_program_by_name(obj, name);
}

static void set_autoload(struct bpf_object *obj, const char *name, bool on)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, name);

	if (prog)
		bpf_program__set_autoload(prog, on);
}

bool capture_syscalls_select(struct bpf_object *obj, const struct syscall_set *set)
{
	bool events = use_events(set->names, set->required);
	struct bpf_program *prog;
	size_t i;

	for (i = 0; i < set->n; i++) {
		prog = enter_prog(obj, set, i);
		if (prog)
			bpf_program__set_autoload(prog, events);
	}
	set_autoload(obj, "syscall_exit_tp", events);
	/* Else capture_select_tp already chose between the raw_syscalls twins. */
	if (events) {
		for (i = 0; i < sizeof(raw_progs) / sizeof(raw_progs[0]); i++)
			set_autoload(obj, raw_progs[i], false);
	}
	return events;
}

static int attach_event(struct bpf_program *prog, const char *dir, const char *name,
			struct capture_links *links)
{
	struct bpf_link *link;
	char event[64];
	int err;

	snprintf(event, sizeof(event), "%s_%s", dir, name);
	link = bpf_program__attach_tracepoint(prog, "syscalls", event);
	if (!link) {
		err = -errno;
		pr_debug("cannot attach to syscalls:%s: %s\n", event, strerror(-err));
		return err;
	}
	return capture_links_add(links, link); /* destroys link on failure */
}

/* Attaches the program of each name to syscalls:DIR_NAME (enter or exit). */
static int attach_dir(struct bpf_object *obj, const struct syscall_set *set, const char *dir,
		      struct capture_links *links)
{
	struct bpf_program *prog;
	bool enter = !strcmp(dir, "sys_enter");
	size_t i;
	int err;

	for (i = 0; i < set->n; i++) {
		if (i >= set->required && !has_event(dir, set->names[i]))
			continue; /* a newer syscall this kernel lacks */
		prog = enter ? enter_prog(obj, set, i)
			     : bpf_object__find_program_by_name(obj, "syscall_exit_tp");
		if (!prog)
			return -ENOENT;
		err = attach_event(prog, dir, set->names[i], links);
		if (err)
			return err;
	}
	return 0;
}

int capture_syscalls_attach(struct bpf_object *obj, const struct syscall_set *set,
			    struct capture_links *links)
{
	struct bpf_program *exit = bpf_object__find_program_by_name(obj, "syscall_exit_tp");
	int err;

	if (!exit || !bpf_program__autoload(exit)) {
		/* Attached with the other tracepoints by capture_begin. */
		pr_debug("%s seen through raw_syscalls sys_enter/sys_exit\n", set->what);
		return 0;
	}
	pr_debug("%s seen through the syscalls:sys_{enter,exit}_%s%s tracepoints\n", set->what,
		 set->shared_enter ? set->names[0] : "*", set->shared_enter ? "*" : "");
	/* Exits first: an entry seen then always has its exit seen. */
	err = attach_dir(obj, set, "sys_exit", links);
	if (!err)
		err = attach_dir(obj, set, "sys_enter", links);
	return err;
}
