// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfprof/types.h"
#include "collect/collect.h"
#include "exitcode.h"
#include "log.h"
#include "profile.h"
#include "session.h"
#include "target.h"
#include "util.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (log_level < LOG_DEBUG)
		return 0;
	fputs("libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void collect_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

void collect_select_tp(struct bpf_object *obj, bool btf)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj)
	{
		const char *name = bpf_program__name(prog);

		if (has_suffix(name, "_btf"))
			bpf_program__set_autoload(prog, btf);
		else if (has_suffix(name, "_raw"))
			bpf_program__set_autoload(prog, !btf);
	}
}

int collect_explain(const char *what, int err)
{
	if (err == -EPERM || err == -EACCES) {
		pr_warn("cannot %s: %s (needs root, or CAP_BPF and CAP_PERFMON)\n", what,
			strerror(-err));
		return EXIT_SYSTEM;
	}
	if (err == -EOPNOTSUPP || err == -ENOTSUP || err == -ENOENT || err == -EINVAL) {
		pr_warn("cannot %s: %s (the kernel lacks a needed BPF feature; -v shows "
			"libbpf's log)\n",
			what, strerror(-err));
		return EXIT_SYSTEM;
	}
	pr_warn("cannot %s: %s\n", what, strerror(-err));
	return EXIT_FAIL;
}

static int perf_event_open(struct perf_event_attr *attr, int cpu)
{
	return syscall(__NR_perf_event_open, attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static long max_sample_rate(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_max_sample_rate", "r");
	long rate = -1;

	if (f) {
		if (fscanf(f, "%ld", &rate) != 1)
			rate = -1;
		fclose(f);
	}
	return rate;
}

int collect_attach_cpu_clock(struct bpf_program *prog, int freq, bool kernel_only,
			     struct perf_links *out)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.freq = 1,
		.sample_freq = freq,
		.exclude_user = kernel_only,
	};
	bool *online = NULL;
	int ncpus, cpu, fd, err;

	err = online_cpus(&online, &ncpus);
	if (err) {
		pr_warn("cannot read the online CPUs: %s\n", strerror(-err));
		return EXIT_FAIL;
	}
	out->links = calloc(ncpus, sizeof(*out->links));
	out->n = 0;
	if (!out->links) {
		free(online);
		return EXIT_FAIL;
	}
	for (cpu = 0; cpu < ncpus; cpu++) {
		if (!online[cpu])
			continue;
		fd = perf_event_open(&attr, cpu);
		if (fd < 0) {
			err = -errno;
			free(online);
			if (err == -EINVAL && max_sample_rate() > 0 && freq > max_sample_rate()) {
				pr_warn("-F %d is above the kernel's limit of %ld "
					"(kernel.perf_event_max_sample_rate)\n",
					freq, max_sample_rate());
				return EXIT_USAGE;
			}
			return collect_explain("open the cpu-clock perf event", err);
		}
		out->links[out->n] = bpf_program__attach_perf_event(prog, fd);
		if (!out->links[out->n]) {
			err = -errno;
			close(fd);
			free(online);
			return collect_explain("attach to the cpu-clock perf event", err);
		}
		out->n++;
	}
	free(online);
	return 0;
}

void collect_detach(struct perf_links *l)
{
	int i;

	/* Destroying a perf_event link closes its event fd too. */
	for (i = 0; i < l->n; i++)
		bpf_link__destroy(l->links[i]);
	free(l->links);
	l->links = NULL;
	l->n = 0;
}

int collect_fill_target(struct session *s, struct bpf_object *obj)
{
	struct target *t = s->target;
	struct bpf_map *map;
	__u32 key = 0, pid;
	__u8 one = 1;
	int i, fd;

	if (t->mode == TARGET_CGROUP) {
		map = bpf_object__find_map_by_name(obj, "target_cgroup");
		fd = t->cgroup_fd;
		if (!map || bpf_map__update_elem(map, &key, sizeof(key), &fd, sizeof(fd), BPF_ANY))
			return collect_explain("set the target cgroup", -errno);
		return 0;
	}
	if (t->mode != TARGET_PIDS)
		return 0;
	map = bpf_object__find_map_by_name(obj, "target_pids");
	if (!map)
		return collect_explain("find the target map", -ENOENT);
	for (i = 0; i < t->npids; i++) {
		pid = t->pids[i];
		if (bpf_map__update_elem(map, &pid, sizeof(pid), &one, sizeof(one), BPF_ANY))
			return collect_explain("set the target pids", -errno);
	}
	return 0;
}

int collect_key_labels(struct session *s, const struct stack_key *key, char *comm_buf,
		       struct pf_label_desc *labels)
{
	const char *process = session__process_name(s, key->pid);
	int n = 0;

	memcpy(comm_buf, key->comm, BPFPROF_COMM_LEN);
	comm_buf[BPFPROF_COMM_LEN] = '\0';
	labels[n++] = (struct pf_label_desc){ .key = "pid", .num = key->pid };
	if (key->tid)
		labels[n++] = (struct pf_label_desc){ .key = "tid", .num = key->tid };
	labels[n++] = (struct pf_label_desc){ .key = "comm", .str = comm_buf };
	labels[n++] =
		(struct pf_label_desc){ .key = "process", .str = process ? process : comm_buf };
	return n;
}
