// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
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
	return 0;
}
