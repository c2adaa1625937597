// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

#include "heap/uprobe_multi.h"

/* The link_create part of union bpf_attr, as Linux 6.6 extended it. */
struct link_create_attr {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t uprobe_flags;
	uint32_t pid;
	uint32_t pad;
};

#define UPROBE_MULTI_RETURN 1 /* BPF_F_UPROBE_MULTI_RETURN */

static bool has_enum_value(const struct btf *btf, const char *enum_name, const char *value)
{
	int id = btf__find_by_name_kind(btf, enum_name, BTF_KIND_ENUM);
	const struct btf_type *t;
	const struct btf_enum *e;
	int i;

	if (id < 0)
		return false;
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, e[i].name_off), value))
			return true;
	return false;
}

enum uprobe_support uprobe_multi_support(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	enum uprobe_support s = UPROBE_NO_MULTI;

	if (!btf)
		return s;
	if (has_enum_value(btf, "bpf_attach_type", "BPF_TRACE_UPROBE_SESSION") &&
	    btf__find_by_name_kind(btf, "bpf_session_cookie", BTF_KIND_FUNC) > 0)
		s = UPROBE_SESSION;
	else if (has_enum_value(btf, "bpf_attach_type", "BPF_TRACE_UPROBE_MULTI"))
		s = UPROBE_MULTI_ONLY;
	btf__free(btf);
	return s;
}

int uprobe_multi_attach(int prog_fd, unsigned attach_type, const char *path,
			const uint64_t *offsets, const uint64_t *cookies, size_t n, int pid,
			bool ret)
{
	union {
		struct link_create_attr a;
		char bytes[sizeof(union bpf_attr) > sizeof(struct link_create_attr)
				   ? sizeof(union bpf_attr)
				   : sizeof(struct link_create_attr)];
	} attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.a.prog_fd = prog_fd;
	attr.a.attach_type = attach_type;
	attr.a.path = (uint64_t)(uintptr_t)path;
	attr.a.offsets = (uint64_t)(uintptr_t)offsets;
	attr.a.cookies = (uint64_t)(uintptr_t)cookies;
	attr.a.cnt = n;
	attr.a.uprobe_flags = ret ? UPROBE_MULTI_RETURN : 0;
	attr.a.pid = pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr.a));
	return fd < 0 ? -errno : (int)fd;
}
