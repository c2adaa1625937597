// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/watchdog.h"
#include "proc/stat.h"
#include "util/log.h"
#include "util/util.h"

enum { MSG_DONE = 0xff };

struct watchdog_msg {
	int kind;
	pid_t pid;
};

/* The entry's process still lives (not a reused pid); its state in st. */
static bool entry_alive(const struct watchdog_entry *e, struct proc_stat *st)
{
	return proc_stat_read(e->pid, st) && st->start == e->start;
}

static void resumed_add(pid_t pid, pid_t *resumed, int max, int *n)
{
	int i;

	for (i = 0; i < *n && i < max; i++)
		if (resumed[i] == pid)
			return; /* stopped again after the first SIGCONT: one process */
	if (*n < max)
		resumed[*n] = pid;
	(*n)++;
}

/* Whether pid has one of the live tree roots among its ancestors. */
static bool below_tree(pid_t ppid, const pid_t *roots, int nroots)
{
	struct proc_stat st;
	int depth, i;

	for (depth = 0; depth < 64 && ppid > 1; depth++) {
		for (i = 0; i < nroots; i++)
			if (roots[i] == ppid)
				return true;
		if (!proc_stat_read(ppid, &st))
			return false;
		ppid = st.ppid;
	}
	return false;
}

/* Continues the stopped processes below the live trees; adds to *n. */
static void resume_trees(const pid_t *roots, int nroots, pid_t *resumed, int max, int *n)
{
	struct proc_stat st;
	struct dirent *d;
	DIR *dir;
	long pid;

	dir = opendir("/proc");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (parse_long(d->d_name, 2, INT32_MAX, &pid) || !proc_stat_read(pid, &st))
			continue;
		if (st.state == 'T' && below_tree(st.ppid, roots, nroots) &&
		    kill(pid, SIGCONT) == 0)
			resumed_add(pid, resumed, max, n);
	}
	closedir(dir);
}

int watchdog__resume(const struct watchdog_entry *e, int n, pid_t *resumed, int max)
{
	struct proc_stat st;
	pid_t *roots;
	int i, nroots = 0, count = 0;

	roots = calloc(n ? n : 1, sizeof(*roots));
	for (i = 0; i < n; i++) {
		if (!entry_alive(&e[i], &st))
			continue;
		if (e[i].kind == WATCHDOG_TREE && roots)
			roots[nroots++] = e[i].pid;
		if (st.state == 'T' && kill(e[i].pid, SIGCONT) == 0)
			resumed_add(e[i].pid, resumed, max, &count);
	}
	if (nroots)
		resume_trees(roots, nroots, resumed, max, &count);
	free(roots);
	return count;
}

struct watch_list {
	struct watchdog_entry *e;
	int n, cap;
};

/* Drops the entries whose process has gone, to make room. */
static void list_prune(struct watch_list *l)
{
	struct proc_stat st;
	int i, kept = 0;

	for (i = 0; i < l->n; i++)
		if (entry_alive(&l->e[i], &st))
			l->e[kept++] = l->e[i];
	l->n = kept;
}

static void list_add(struct watch_list *l, const struct watchdog_msg *m)
{
	struct watchdog_entry *grown;
	struct proc_stat st;
	int i;

	if (!proc_stat_read(m->pid, &st))
		return; /* gone already */
	/* A target someone else stopped before bpfprof came is not ours to continue. */
	if (m->kind == WATCHDOG_TARGET && st.state == 'T')
		return;
	for (i = 0; i < l->n; i++) {
		if (l->e[i].pid == m->pid && l->e[i].start == st.start) {
			if (m->kind == WATCHDOG_TREE)
				l->e[i].kind = WATCHDOG_TREE;
			return;
		}
	}
	if (l->n == l->cap)
		list_prune(l);
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 64;

		grown = realloc(l->e, cap * sizeof(*grown));
		if (!grown)
			return;
		l->e = grown;
		l->cap = cap;
	}
	l->e[l->n++] = (struct watchdog_entry){ .pid = m->pid, .start = st.start, .kind = m->kind };
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void report(const pid_t *resumed, int n, int max)
{
	char line[256];
	int i, len;

	len = snprintf(line, sizeof(line), "pid");
	for (i = 0; i < n && i < max && len < (int)sizeof(line) - 16; i++)
		len += snprintf(line + len, sizeof(line) - len, "%s %d", i ? "," : "", resumed[i]);
	if (n > max)
		snprintf(line + len, sizeof(line) - len, " and %d more", n - max);
	pr_warn("watchdog: bpfprof ended without its cleanup; continued %d process%s it had "
		"stopped (%s)\n",
		n, n == 1 ? "" : "es", line);
}

/*
 * bpfprof is gone: continue what it left stopped, now and again for a
 * second, for a stop BPF sent deferred (from interrupts-off context) that
 * lands after the first look.
 */
static void resume_all(struct watch_list *l)
{
	static const long waits_ms[] = { 0, 50, 150, 300, 500 };
	pid_t resumed[16], more[16];
	int i, j, n = 0, got;

	for (i = 0; i < (int)ARRAY_SIZE(waits_ms); i++) {
		sleep_ms(waits_ms[i]);
		got = watchdog__resume(l->e, l->n, more, ARRAY_SIZE(more));
		for (j = 0; j < got && j < (int)ARRAY_SIZE(more); j++)
			resumed_add(more[j], resumed, ARRAY_SIZE(resumed), &n);
		if (got > j)
			n += got - j; /* counted, not named */
	}
	if (n)
		report(resumed, n, ARRAY_SIZE(resumed));
}

/*
 * Out of bpfprof's process group (its Ctrl-C is bpfprof's to handle) and
 * holding no descriptor but its socket and stderr: a BPF link or a pipe
 * held open here would outlive bpfprof.
 */
static void detach(int fd)
{
	static const int ignored[] = {
		SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU
	};
	int null, i;

	setpgid(0, 0);
	for (i = 0; i < (int)ARRAY_SIZE(ignored); i++)
		signal(ignored[i], SIG_IGN);
	prctl(PR_SET_NAME, "bpfprof-watch");
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	dup2(fd, 3);
	close_range(4, ~0U, 0);
}

static void __attribute__((noreturn)) watchdog_main(int fd)
{
	struct watch_list l = { 0 };
	struct watchdog_msg m;
	ssize_t n;

	detach(fd);
	for (;;) {
		n = recv(3, &m, sizeof(m), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(m))
			break; /* EOF: bpfprof is gone */
		if (m.kind == MSG_DONE)
			_exit(0);
		list_add(&l, &m);
	}
	resume_all(&l);
	_exit(0);
}

void watchdog__init(struct watchdog *w)
{
	w->fd = -1;
	w->pid = 0;
}

int watchdog__start(struct watchdog *w)
{
	int sv[2];
	pid_t pid;

	if (w->pid)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	fflush(NULL); /* nothing buffered printed twice */
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		close(sv[0]);
		watchdog_main(sv[1]);
	}
	close(sv[1]);
	w->fd = sv[0];
	w->pid = pid;
	return 0;
}

/* Never blocks but for MSG_DONE, which must arrive (the watchdog reads at once). */
static void send_msg(struct watchdog *w, int kind, pid_t pid)
{
	struct watchdog_msg m = { .kind = kind, .pid = pid };
	int flags = MSG_NOSIGNAL | (kind == MSG_DONE ? 0 : MSG_DONTWAIT);

	if (w->fd >= 0 && send(w->fd, &m, sizeof(m), flags) < 0)
		pr_debug("watchdog: cannot hand over pid %d: %s\n", pid, strerror(errno));
}

void watchdog__watch(struct watchdog *w, enum watchdog_kind kind, pid_t pid)
{
	send_msg(w, kind, pid);
}

void watchdog__stop(struct watchdog *w)
{
	if (!w->pid)
		return;
	send_msg(w, MSG_DONE, 0);
	close(w->fd);
	waitpid(w->pid, NULL, 0);
	watchdog__init(w);
}

void watchdog__forget(struct watchdog *w)
{
	if (w->fd >= 0)
		close(w->fd);
	watchdog__init(w);
}
