// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfprof/types.h"
#include "capture/capture.h"
#include "elf/section.h"
#include "util/errors.h"
#include "util/log.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "capture/target.h"
#include "util/util.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (log_level < LOG_DEBUG)
		return 0;
	fputs("libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void capture_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

void capture_select_tp(struct bpf_object *obj, bool btf)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj)
	{
		const char *name = bpf_program__name(prog);

		if (str_has_suffix(name, "_btf"))
			bpf_program__set_autoload(prog, btf);
		else if (str_has_suffix(name, "_raw"))
			bpf_program__set_autoload(prog, !btf);
	}
}

void *capture_load(capture_open_load_fn open_load, struct session *s, const void *opts, int *ret)
{
	/* Tests set BPFPROF_RAW_TP=1 to exercise the fallback on kernels with tp_btf. */
	const char *raw = getenv("BPFPROF_RAW_TP");
	void *skel = NULL;
	int err;

	if (!raw || strcmp(raw, "1")) {
		skel = open_load(s, opts, true, &err);
		if (!skel)
			pr_debug("tp_btf programs did not load (%s), trying raw tracepoints\n",
				 strerror(-err));
	}
	if (!skel) {
		skel = open_load(s, opts, false, &err);
	}
	if (!skel)
		*ret = capture_explain("load the BPF program", err);
	return skel;
}

int capture_explain(const char *what, int err)
{
	if (err == -EPERM || err == -EACCES) {
		pr_warn("cannot %s: %s (needs root, or CAP_BPF and CAP_PERFMON)\n", what,
			strerror(-err));
		return -BPFPROF_ESYSTEM;
	}
	if (err == -EOPNOTSUPP || err == -ENOTSUP || err == -ENOENT || err == -EINVAL) {
		pr_warn("cannot %s: %s (the kernel lacks a needed BPF feature; -v shows "
			"libbpf's log)\n",
			what, strerror(-err));
		return -BPFPROF_ESYSTEM;
	}
	pr_warn("cannot %s: %s\n", what, strerror(-err));
	return err < 0 ? err : -EINVAL;
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

static int links_add(struct capture_links *l, struct bpf_link *link)
{
	struct bpf_link **grown;
	int cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 8;
		grown = realloc(l->links, cap * sizeof(*grown));
		if (!grown) {
			bpf_link__destroy(link);
			return -ENOMEM;
		}
		l->links = grown;
		l->cap = cap;
	}
	l->links[l->n++] = link;
	return 0;
}

int capture_attach_cpu_clock(struct bpf_program *prog, int freq, bool kernel_only,
			     struct capture_links *out)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.freq = 1,
		.sample_freq = freq,
		.exclude_user = kernel_only,
	};
	struct bpf_link *link;
	bool *online = NULL;
	int ncpus, cpu, fd, err, ret = 0;

	err = online_cpus(&online, &ncpus);
	if (err) {
		pr_warn("cannot read the online CPUs: %s\n", strerror(-err));
		return err;
	}
	for (cpu = 0; cpu < ncpus && !ret; cpu++) {
		if (!online[cpu])
			continue;
		fd = perf_event_open(&attr, cpu);
		if (fd < 0) {
			err = -errno;
			if (err == -EINVAL && max_sample_rate() > 0 && freq > max_sample_rate()) {
				pr_warn("-F %d is above the kernel's limit of %ld "
					"(kernel.perf_event_max_sample_rate)\n",
					freq, max_sample_rate());
				ret = -BPFPROF_EUSAGE;
			} else {
				ret = capture_explain("open the cpu-clock perf event", err);
			}
			break;
		}
		link = bpf_program__attach_perf_event(prog, fd);
		if (!link) {
			err = -errno;
			close(fd);
			ret = capture_explain("attach to the cpu-clock perf event", err);
			break;
		}
		/* Destroying a perf_event link closes its event fd too. */
		err = links_add(out, link);
		if (err)
			ret = capture_explain("attach to the cpu-clock perf event", err);
	}
	free(online);
	return ret;
}

int capture_links_add(struct capture_links *l, struct bpf_link *link)
{
	return links_add(l, link);
}

void capture_detach(struct capture_links *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		bpf_link__destroy(l->links[i]);
	free(l->links);
	memset(l, 0, sizeof(*l));
}

/* Sets the bit of every target pid in target.bpf.h's target_bits (tgid / 64 → 64 bits). */
static int fill_target_bits(struct bpf_map *map, const struct target *t)
{
	__u32 word;
	__u64 bits;
	int i;

	for (i = 0; i < t->npids; i++) {
		word = t->pids[i] / 64;
		if (bpf_map__lookup_elem(map, &word, sizeof(word), &bits, sizeof(bits), 0))
			return capture_explain("set the target pids", -errno);
		bits |= 1ULL << (t->pids[i] % 64);
		if (bpf_map__update_elem(map, &word, sizeof(word), &bits, sizeof(bits), BPF_ANY))
			return capture_explain("set the target pids", -errno);
	}
	return 0;
}

int capture_fill_target(struct session *s, struct bpf_object *obj)
{
	struct target *t = s->target;
	struct bpf_map *map;
	__u32 key = 0;
	int fd;

	if (t->mode == TARGET_CGROUP) {
		map = bpf_object__find_map_by_name(obj, "target_cgroup");
		fd = t->cgroup_fd;
		if (!map || bpf_map__update_elem(map, &key, sizeof(key), &fd, sizeof(fd), BPF_ANY))
			return capture_explain("set the target cgroup", -errno);
		return 0;
	}
	if (t->mode != TARGET_PIDS)
		return 0;
	map = bpf_object__find_map_by_name(obj, "target_bits");
	if (!map)
		return capture_explain("find the target map", -ENOENT);
	return fill_target_bits(map, t);
}

/* The tracepoint programs capture_select_tp() kept of obj. */
static int attach_tracepoints(struct bpf_object *obj, struct capture_links *links)
{
	struct bpf_program *prog;
	struct bpf_link *link;
	const char *name;
	int err;

	bpf_object__for_each_program(prog, obj)
	{
		name = bpf_program__name(prog);
		if (!bpf_program__autoload(prog) ||
		    !(str_has_suffix(name, "_btf") || str_has_suffix(name, "_raw")))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			err = -errno;
			pr_debug("cannot attach %s: %s\n", name, strerror(-err));
			return capture_explain("attach to the sched tracepoints", err);
		}
		err = links_add(links, link);
		if (err)
			return capture_explain("attach to the sched tracepoints", err);
	}
	return 0;
}

/*
 * A launched command stops at its entry point until its maps are read
 * (unwind.bpf.h's entry_stop), so its first stacks have their tables.
 * Best effort: a script, or a kernel without uprobes, goes without.
 */
static void attach_entry_stop(struct session *s, struct bpf_object *obj,
			      struct capture_links *links)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "entry_stop");
	char exe[PATH_MAX];
	unsigned long off;
	struct bpf_link *link;
	int err;

	if (!prog || !s->target->argv || s->target->npids != 1)
		return;
	err = target__resolve_command(s->target->argv[0], exe, sizeof(exe));
	if (!err)
		err = elf_entry_offset(exe, &off);
	if (err) {
		pr_debug("%s: no stop at its entry point: %s\n", s->target->argv[0],
			 strerror(-err));
		return;
	}
	link = bpf_program__attach_uprobe(prog, false, s->target->pids[0], exe, off);
	err = link ? links_add(links, link) : -errno; /* links_add destroys it on failure */
	if (err) {
		pr_debug("%s: no stop at its entry point: %s\n", exe, strerror(-err));
		return;
	}
	pr_debug("%s: stops at its entry point (file offset 0x%lx) until its maps are read\n", exe,
		 off);
}

/* The maps of the shared headers that hold one state for the whole session. */
static const char *const shared_maps[] = {
	"target_bits",	 "target_cgroup", "seen_pids",	  "proc_events",
	"unwind_rows",	 "unwind_pages",  "unwind_procs", "unwind_asked",
	"entry_stopped", "counters",	  "stacks",
};

int capture_share_maps(struct bpf_object *obj, struct session *s)
{
	struct bpf_map *m, *from;
	size_t i;
	int err;

	if (!s->shared_obj || s->shared_obj == obj)
		return 0;
	for (i = 0; i < ARRAY_SIZE(shared_maps); i++) {
		m = bpf_object__find_map_by_name(obj, shared_maps[i]);
		from = bpf_object__find_map_by_name(s->shared_obj, shared_maps[i]);
		if (!m || !from)
			continue; /* a type without stacks, say */
		err = bpf_map__reuse_fd(m, bpf_map__fd(from));
		if (err) {
			pr_warn("cannot share the %s map: %s\n", shared_maps[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

int capture_begin(struct session *s, struct bpf_object *obj, struct capture_links *links)
{
	struct bpf_map *events = bpf_object__find_map_by_name(obj, "proc_events");
	struct bpf_map *counters = bpf_object__find_map_by_name(obj, "counters");
	int ret, err, i;

	ret = capture_fill_target(s, obj);
	if (ret)
		return ret;
	if (s->shared_obj && s->shared_obj != obj)
		return attach_tracepoints(obj, links); /* the first object set up the rest */
	if (!events || !counters)
		return capture_explain("read process events", -ENOENT);
	err = session__watch_processes(s, bpf_map__fd(events), bpf_map__fd(counters));
	if (err)
		return capture_explain("read process events", err);
	err = capture_unwind_start(s, obj);
	if (err)
		return capture_explain("set up DWARF unwinding", err);
	/* A launched command is still bpfprof's fork: it is tracked at its exec. */
	for (i = 0; i < s->target->npids && !s->target->argv; i++)
		session__track(s, s->target->pids[i], NULL);
	attach_entry_stop(s, obj, links);
	return attach_tracepoints(obj, links);
}

int capture_run(struct session *s, struct capture_links *links)
{
	int err;

	/* target__start says why: the command could not run. */
	if (target__start(s->target))
		return -BPFPROF_ETARGET;
	err = session__run(s);
	capture_detach(links);
	if (err)
		pr_warn("capture ended early: %s\n", strerror(-err));
	return 0;
}
