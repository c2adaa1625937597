// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "util/errors.h"
#include "util/log.h"
#include "capture/preflight.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/*
 * The initial pid namespace's inode number (PROC_PID_INIT_INO in the
 * kernel's proc_ns.h): the initial namespaces have fixed numbers since 3.8,
 * below the range every later namespace takes its number from
 * (PROC_DYNAMIC_FIRST, 0xF0000000), so no other pid namespace can have it.
 * Comparing with /proc/1/ns/pid instead would prove nothing: in a container
 * pid 1 is the container's own init, in the container's namespace.
 */
#define PIDNS_INIT_INO 0xEFFFFFFCUL

/* The link's text, "pid:[INODE]", names the namespace by its inode number. */
int preflight_pidns_is_host(const char *ns_path, bool *host)
{
	char buf[64];
	unsigned long ino;
	ssize_t n;

	n = readlink(ns_path, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (sscanf(buf, "pid:[%lu]", &ino) != 1)
		return -EINVAL;
	*host = ino == PIDNS_INIT_INO;
	return 0;
}

/*
 * BPF sees every task by its pid in the host's namespace; /proc, -p, a
 * launched command's fork and the cgroup's procs give pids in ours.  In any
 * other namespace they disagree (or the host's processes are not in /proc
 * at all), so every capture would target, read and name the wrong
 * processes: refuse, naming the fix.
 */
static int check_pidns(void)
{
	bool host = false;
	int err;

	err = preflight_pidns_is_host("/proc/self/ns/pid", &host);
	if (err == -ENOENT)
		return 0; /* a kernel without pid namespaces has only the host's */
	if (err) {
		pr_warn("cannot read this process's pid namespace (/proc/self/ns/pid): %s\n",
			strerror(-err));
		return -BPFPROF_ESYSTEM;
	}
	if (!host) {
		pr_warn("bpfprof runs in a container's pid namespace and needs the host's: run the "
			"container with --pid=host (Kubernetes: hostPID: true)\n");
		return -BPFPROF_ESYSTEM;
	}
	return 0;
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

int preflight_check(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data)) {
		pr_warn("cannot read this process's capabilities: %s\n", strerror(errno));
		return -BPFPROF_ESYSTEM;
	}
	if (!has_cap(data, CAP_SYS_ADMIN) &&
	    !(has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON))) {
		pr_warn("not enough privilege: run as root, or with CAP_BPF, CAP_PERFMON "
			"and CAP_SYS_PTRACE\n");
		return -BPFPROF_ESYSTEM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr_warn("the kernel has no BTF (/sys/kernel/btf/vmlinux: %s): bpfprof needs a "
			"kernel built with CONFIG_DEBUG_INFO_BTF\n",
			strerror(errno));
		return -BPFPROF_ESYSTEM;
	}
	return check_pidns();
}
