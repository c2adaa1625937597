// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util/log.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "proc/container.h"
#include "proc/procs.h"
#include "proc/stat.h"
#include "symbolize/symbolize.h"
#include "capture/target.h"
#include "util/util.h"

volatile sig_atomic_t session_exiting;
static volatile sig_atomic_t snapshot_requested;

static void on_usr1(int sig)
{
	snapshot_requested = 1;
}

static void on_signal(int sig)
{
	static const char msg[] = "\nbpfprof: aborted, nothing written\n";

	if (session_exiting) {
		/* A second Ctrl-C: the user wants out now. */
		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			_exit(130);
		_exit(130);
	}
	session_exiting = 1;
}

int session__init(struct session *s, struct target *t, int64_t duration_ns, bool quiet)
{
	struct sigaction sa = { .sa_handler = on_signal };

	memset(s, 0, sizeof(*s));
	s->target = t;
	s->duration_ns = duration_ns;
	s->progress = !quiet && isatty(STDERR_FILENO);
	s->noun = "samples";
	s->idle = "did not run on a CPU during the capture";
	s->counters_fd = -1;
	s->procs_tab = proctab__new("/proc");
	if (!s->procs_tab)
		return -errno;
	s->sym = symbolizer__new(s->procs_tab);
	if (!s->sym) {
		proctab__free(s->procs_tab);
		s->procs_tab = NULL;
		return -ENOMEM;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	return 0;
}

void session__free(struct session *s)
{
	ring_buffer__free(s->rb);
	symbolizer__free(s->sym);
	proctab__free(s->procs_tab);
	memset(s, 0, sizeof(*s));
}

/* Names p after its executable (its path too), else after comm. */
static void exe_name(struct session *s, struct pproc *p, const char *comm)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;
	char *base;

	snprintf(path, sizeof(path), "/proc/%d/exe", p->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		/* A replaced binary reads "/usr/bin/app (deleted)": keep the name. */
		if (n > 10 && strcmp(exe + n - 10, " (deleted)") == 0)
			exe[n - 10] = '\0';
		base = strrchr(exe, '/');
		snprintf(p->name, sizeof(p->name), "%.63s", base ? base + 1 : exe);
		/* Without it (no memory) the profile only loses its main mapping. */
		proctab__set_exe(s->procs_tab, p, exe);
		return;
	}
	snprintf(p->name, sizeof(p->name), "%s", comm && *comm ? comm : "[unknown]");
	p->exe = NULL;
}

static void read_maps(struct session *s, struct pproc *p, bool reset)
{
	int err;

	err = reset ? proctab__exec(s->procs_tab, p->pid) : proctab__refresh(s->procs_tab, p->pid);
	if (err)
		pr_debug("pid %d: cannot record mappings: %s\n", p->pid, strerror(-err));
	p->read_at = mono_ns();
	if (reset)
		p->first_at = p->read_at;
	if (!err)
		symbolizer__jit_refresh(s->sym, p->pid);
	if (!err && s->on_maps)
		s->on_maps(s->on_maps_ctx, p->pid);
}

/*
 * exec: the image changed, forget the old mappings.  Otherwise the maps are
 * read again and merged, since a process seen at exec or at its first sample
 * may not have mapped its libraries yet.
 */
static void track(struct session *s, int pid, const char *comm, bool exec, unsigned long long start)
{
	struct pproc *p = proctab__get(s->procs_tab, pid);
	const struct container_meta *m;

	if (!p)
		return;
	if (!p->first_at)
		exec = true; /* first seen by the session: a clean start */
	read_maps(s, p, exec);
	/*
	 * Its container, while /proc/PID/cgroup is there to say (samples.c
	 * labels); not for one found gone already (a short life).
	 */
	if (exec && !p->exited)
		container_of_pid_at(proctab__procfs(s->procs_tab), pid, start, &m);
	if (p->exited && (exec || !p->name[0])) /* found gone: its comm, not procfs */
		snprintf(p->name, sizeof(p->name), "%s", comm && *comm ? comm : "[unknown]");
	else if (exec || !p->name[0])
		exe_name(s, p, comm);
}

/*
 * How old a process is when its exec'd image's maps are read (see
 * session.h): by then the loader has mapped its libraries.  An older one is
 * read at once, so a process first seen late in its life (an off-CPU wait
 * reported as it ends) is read before it exits.
 */
#define READ_DELAY_NS 3000000LL

static bool is_pending(const struct session *s, int pid)
{
	for (size_t i = 0; i < s->npending; i++)
		if (s->pending[i].pid == pid)
			return true;
	return false;
}

/*
 * Queues pid's read until it is READ_DELAY_NS old (start_ns: its start,
 * CLOCK_BOOTTIME); false when it is that old already or the queue is full
 * (read it now).
 */
static bool defer_read(struct session *s, int pid, const char *comm, unsigned long long start,
		       uint64_t start_ns)
{
	struct pending_read *r;
	struct timespec ts;
	int64_t age;
	size_t i;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	age = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - (int64_t)start_ns;
	if (!start_ns || age >= READ_DELAY_NS)
		return false;
	for (i = 0; i < s->npending && s->pending[i].pid != pid; i++)
		;
	if (i == sizeof(s->pending) / sizeof(s->pending[0]))
		return false;
	r = &s->pending[i];
	if (i == s->npending) {
		s->npending++;
		r->due = mono_ns() + READ_DELAY_NS - age;
	}
	r->pid = pid;
	r->start = start;
	snprintf(r->comm, sizeof(r->comm), "%s", comm);
	return true;
}

/* Reads the queued processes due by now (all: every one); the ms until the next is due. */
static int read_pending(struct session *s, bool all)
{
	int64_t now = mono_ns(), next = INT64_MAX;
	size_t i = 0;

	while (i < s->npending) {
		struct pending_read r = s->pending[i];

		if (!all && r.due > now) {
			next = r.due < next ? r.due : next;
			i++;
			continue;
		}
		s->pending[i] = s->pending[--s->npending];
		track(s, r.pid, r.comm, true, r.start);
	}
	if (next == INT64_MAX)
		return -1;
	return (int)((next - now + 999999) / 1000000);
}

/*
 * A fork that has not exec'd (a shell's child before its exec, a server's
 * worker): its parent's mappings, executable and container, when they are
 * known, without reading procfs.  The usual refresh reads its own maps if
 * it lives on.  False: track it the usual way.
 */
static bool track_fork(struct session *s, const struct bpfprof_proc_event *e)
{
	const struct pproc *parent = proctab__find(s->procs_tab, e->ppid);
	struct pproc *p;

	if (!parent || parent->exited || !parent->read_at || !parent->n || e->ppid == e->pid ||
	    is_pending(s, e->ppid))
		return false; /* (pending: its record still holds the image before its exec) */
	p = proctab__fork(s->procs_tab, e->pid, parent);
	if (!p)
		return false;
	p->read_at = p->first_at = mono_ns();
	snprintf(p->name, sizeof(p->name), "%s", parent->name);
	container_of_pid_inherit(e->pid, e->ppid, proc_start_ticks(e->start_ns));
	symbolizer__jit_refresh(s->sym, p->pid);
	if (s->on_maps)
		s->on_maps(s->on_maps_ctx, p->pid);
	return true;
}

void session__track(struct session *s, int pid, const char *comm)
{
	track(s, pid, comm, false, 0);
}

void session__process_gone(struct session *s, int pid)
{
	proctab__exit(s->procs_tab, pid);
}

const char *session__process_name(struct session *s, int pid)
{
	const struct pproc *p = proctab__find(s->procs_tab, pid);

	return p && p->name[0] ? p->name : NULL;
}

/*
 * BPF stopped pid, at its entry or to have its maps read (stop_for_maps):
 * they are read, continue it, and keep watching it a second, for a stop
 * that BPF could only send deferred (from interrupts-off context) and that
 * lands after this SIGCONT.
 */
static void resume_after_stop(struct session *s, int pid)
{
	size_t i, free_slot = 0;
	int64_t now = mono_ns();

	target__note_stopped(s->target, pid);
	kill(pid, SIGCONT);
	for (i = 0; i < sizeof(s->resumed) / sizeof(s->resumed[0]); i++) {
		if (s->resumed[i].pid == pid || s->resumed[i].until < now) {
			free_slot = i;
			break;
		}
	}
	s->resumed[free_slot] = (struct resumed_watch){ .pid = pid, .until = now + 1000000000LL };
}

static void stop_for_maps_watch(struct session *s, bool all)
{
	int64_t now = mono_ns();
	size_t i;

	for (i = 0; i < sizeof(s->resumed) / sizeof(s->resumed[0]); i++)
		if (s->resumed[i].pid && (all || s->resumed[i].until >= now) &&
		    proc_is_stopped(s->resumed[i].pid))
			kill(s->resumed[i].pid, SIGCONT);
}

static int on_proc_event(void *ctx, void *data, size_t len)
{
	struct session *s = ctx;
	const struct bpfprof_proc_event *e = data;
	char comm[BPFPROF_COMM_LEN + 1];
	bool host = s->target && s->target->mode != TARGET_PIDS, reset;
	unsigned long long start = proc_start_ticks(e->start_ns);
	const struct pproc *p;

	if (len < sizeof(*e))
		return 0;
	memcpy(comm, e->comm, BPFPROF_COMM_LEN);
	comm[BPFPROF_COMM_LEN] = '\0';
	pr_debug("process event %u: pid %u (%s)\n", e->type, e->pid, comm);
	/*
	 * A pid found gone: its events still queued are about the process
	 * that was (a new one under the pid would come as new first).
	 */
	if ((e->type == BPFPROF_PROC_EXEC || (e->type == BPFPROF_PROC_MAPS && !s->stop_for_maps)) &&
	    (p = proctab__find(s->procs_tab, e->pid)) && p->exited)
		return 0;
	if ((e->type == BPFPROF_PROC_NEW || e->type == BPFPROF_PROC_FORK) &&
	    e->flags & BPFPROF_PROC_F_FORKED && track_fork(s, e))
		return 0;
	/*
	 * Host-wide or a cgroup, "new" may be a new process under a pid seen
	 * before (pids wrap; BPF reports it afresh after its fork): its
	 * mappings start afresh.  A target given by pid keeps what was read.
	 */
	reset = e->type == BPFPROF_PROC_EXEC || (e->type == BPFPROF_PROC_NEW && host);
	if (e->type == BPFPROF_PROC_MAPS && is_pending(s, e->pid))
		return 0; /* read soon anyway */
	if (reset && host && defer_read(s, e->pid, comm, start, e->start_ns))
		return 0;
	track(s, e->pid, comm, reset, start);
	if ((e->type == BPFPROF_PROC_MAPS && s->stop_for_maps) || e->type == BPFPROF_PROC_ENTRY)
		resume_after_stop(s, e->pid);
	return 0;
}

int session__watch_processes(struct session *s, int ringbuf_fd, int counters_fd)
{
	s->counters_fd = counters_fd;
	s->rb = ring_buffer__new(ringbuf_fd, on_proc_event, s, NULL);
	if (!s->rb)
		return -errno;
	return 0;
}

int session__counters(struct session *s, uint64_t out[CNT__MAX])
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 *vals;
	__u32 key;
	int i;

	memset(out, 0, sizeof(uint64_t) * CNT__MAX);
	if (s->counters_fd < 0 || ncpus <= 0)
		return -EINVAL;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (key = 0; key < CNT__MAX; key++) {
		if (bpf_map_lookup_elem(s->counters_fd, &key, vals))
			continue;
		for (i = 0; i < ncpus; i++)
			out[key] += vals[i];
	}
	free(vals);
	return 0;
}

static void show_progress(struct session *s, int64_t now)
{
	uint64_t c[CNT__MAX];
	long el = (now - s->start_mono) / 1000000000;

	session__counters(s, c);
	if (s->duration_ns)
		fprintf(stderr, "\r\033[Kbpfprof: %lds / %llds, %" PRIu64 " %s", el,
			(long long)((s->duration_ns + 999999999) / 1000000000), c[CNT_EVENTS],
			s->noun);
	else
		fprintf(stderr, "\r\033[Kbpfprof: %lds, %" PRIu64 " %s (Ctrl-C to stop)", el,
			c[CNT_EVENTS], s->noun);
	fflush(stderr);
}

/*
 * Mappings grow (the dynamic loader, dlopen): read them again while processes
 * live, every second for young processes, every ten seconds for the others;
 * all = true reads every live one now.
 */
static void refresh_mappings(struct session *s, bool all)
{
	int64_t now = mono_ns();
	struct pproc *p;
	size_t i;

	for (i = 0; i < proctab__slots(s->procs_tab); i++) {
		p = proctab__slot(s->procs_tab, i);
		if (!p || p->read_at == 0 || p->exited)
			continue; /* gone */
		if (!all && now - p->read_at < (now - p->first_at < 10000000000LL ? 1000000000LL
										  : 10000000000LL))
			continue;
		if (proctab__refresh(s->procs_tab, p->pid) == -ESRCH) {
			p->read_at = 0;
			continue;
		}
		p->read_at = now;
		symbolizer__jit_refresh(s->sym, p->pid);
		if (s->on_maps)
			s->on_maps(s->on_maps_ctx, p->pid);
	}
}

int session__run(struct session *s)
{
	int64_t now, next_progress, next_refresh, next_snapshot = 0, next_tick, deadline = 0;
	int err = 0;

	s->start_mono = mono_ns();
	s->start_wall = wall_ns();
	next_progress = s->start_mono;
	next_refresh = s->start_mono + 1000000000LL;
	next_tick = next_refresh;
	if (s->duration_ns)
		deadline = s->start_mono + s->duration_ns;
	if (s->snapshot_ns)
		next_snapshot = s->start_mono + s->snapshot_ns;
	snapshot_requested = 0;

	while (!session_exiting) {
		now = mono_ns();
		if (deadline && now >= deadline)
			break;
		if (target__gone(s->target)) {
			s->target_gone = true;
			break;
		}
		if (s->progress && now >= next_progress) {
			show_progress(s, now);
			next_progress += 1000000000;
		}
		if (s->stop_for_maps)
			stop_for_maps_watch(s, false);
		if (now >= next_refresh) {
			refresh_mappings(s, false);
			next_refresh = now + 1000000000LL;
		}
		if (s->on_snapshot &&
		    (snapshot_requested || (next_snapshot && now >= next_snapshot))) {
			if (next_snapshot && now >= next_snapshot)
				next_snapshot += s->snapshot_ns;
			snapshot_requested = 0;
			if (s->progress)
				fprintf(stderr, "\r\033[K");
			read_pending(s, true);
			refresh_mappings(s, true);
			err = s->on_snapshot(s->on_snapshot_ctx);
			if (err)
				break;
		}
		if (s->on_tick && now >= next_tick) {
			next_tick = now + 1000000000LL;
			read_pending(s, true); /* its samples are read now */
			if (s->on_tick(s->on_tick_ctx))
				break;
		}
		if (s->rb) {
			int wait = read_pending(s, false);

			err = ring_buffer__poll(s->rb, wait < 0 || wait > 100 ? 100 : wait);
			if (err == -EINTR) {
				err = 0;
				continue;
			}
			if (err < 0) {
				pr_warn("cannot read process events: %s\n", strerror(-err));
				break;
			}
			err = 0;
		} else {
			usleep(100000);
		}
	}
	s->interrupted = session_exiting;
	s->elapsed_ns = mono_ns() - s->start_mono;
	if (s->rb)
		ring_buffer__consume(s->rb);
	read_pending(s, true);
	refresh_mappings(s, true);
	if (s->stop_for_maps)
		stop_for_maps_watch(s, true); /* none stays stopped by us when the capture ends */
	if (s->progress)
		fprintf(stderr, "\r\033[K");
	return err;
}
