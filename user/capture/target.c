// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "util/errors.h"
#include "util/log.h"
#include "capture/target.h"
#include "proc/stat.h"
#include "profile/profile.h"
#include "util/util.h"

void target__init(struct target *t)
{
	memset(t, 0, sizeof(*t));
	t->mode = TARGET_PIDS;
	t->cgroup_fd = -1;
	t->gate_fd = -1;
	t->exec_fd = -1;
	watchdog__init(&t->watchdog);
}

int target__add_pids(struct target *t, const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	long pid;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	/* strtok_r() would skip empty words: "1234," is a typo, not one pid. */
	if (*arg == ',' || strstr(arg, ",,") || (*arg && arg[strlen(arg) - 1] == ',')) {
		pr_warn("invalid pid list '%s': an empty pid between commas\n", arg);
		free(copy);
		return -EINVAL;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (parse_long(tok, 1, INT_MAX, &pid)) {
			pr_warn("invalid pid '%s': expected a positive number\n", tok);
			err = -EINVAL;
			break;
		}
		if (t->npids == TARGET_MAX_PIDS) {
			pr_warn("too many pids (at most %d)\n", TARGET_MAX_PIDS);
			err = -E2BIG;
			break;
		}
		t->pids[t->npids++] = pid;
	}
	if (!err && !t->npids) {
		pr_warn("invalid pid list '%s'\n", arg);
		err = -EINVAL;
	}
	free(copy);
	return err;
}

static int check_pids(struct target *t)
{
	char path[64];
	int i;

	for (i = 0; i < t->npids; i++) {
		snprintf(path, sizeof(path), "/proc/%d/status", t->pids[i]);
		if (kill(t->pids[i], 0) && errno == ESRCH) {
			pr_warn("no such process: pid %d\n", t->pids[i]);
			return -BPFPROF_ETARGET;
		}
		if (access(path, R_OK)) {
			pr_warn("no such process: pid %d\n", t->pids[i]);
			return -BPFPROF_ETARGET;
		}
	}
	return 0;
}

static int open_cgroup(struct target *t)
{
	struct statfs fs;
	int fd;

	fd = open(t->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		pr_warn("cannot open cgroup %s: %s\n", t->cgroup_path, strerror(errno));
		return -BPFPROF_ETARGET;
	}
	if (fstatfs(fd, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC) {
		pr_warn("%s is not a cgroup v2 directory (cgroup2 is usually mounted at "
			"/sys/fs/cgroup or /sys/fs/cgroup/unified)\n",
			t->cgroup_path);
		close(fd);
		return -BPFPROF_ETARGET;
	}
	t->cgroup_fd = fd;
	return 0;
}

int target__resolve_command(const char *cmd, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	const char *p, *end;
	int err = -ENOENT;

	if (strchr(cmd, '/')) {
		snprintf(buf, len, "%s", cmd);
		return access(cmd, X_OK) == 0 ? 0 : -errno;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		snprintf(buf, len, "%.*s/%s", (int)(end - p), *p && end > p ? p : ".", cmd);
		if (access(buf, X_OK) == 0)
			return 0;
		/* As execvp(): a file found but not executable is EACCES, not ENOENT. */
		if (errno == EACCES)
			err = -EACCES;
	}
	return err;
}

/*
 * Forks the command and holds it before exec: it waits for the gate pipe to
 * close, so the BPF programs are attached before its first instruction.
 */
static int launch(struct target *t)
{
	int gate[2], execp[2];
	char c, exe[PATH_MAX];
	pid_t pid;
	int err;

	/* Whether argv[0] names a file we could exec, following $PATH as execvp does. */
	err = target__resolve_command(t->argv[0], exe, sizeof(exe));
	if (err == -EACCES) {
		pr_warn("cannot run %s: permission denied (not executable)\n", t->argv[0]);
		return -BPFPROF_ETARGET;
	}
	if (err) {
		pr_warn("command not found: %s\n", t->argv[0]);
		return -BPFPROF_ETARGET;
	}
	if (pipe2(gate, O_CLOEXEC) || pipe2(execp, O_CLOEXEC)) {
		err = -errno;
		pr_warn("cannot create a pipe: %s\n", strerror(-err));
		return err;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		pr_warn("cannot fork: %s\n", strerror(-err));
		return err;
	}
	if (pid == 0) {
		watchdog__forget(&t->watchdog);
		close(gate[1]);
		close(execp[0]);
		/* Wait for the parent: EOF when it closes the gate, or when it dies. */
		if (read(gate[0], &c, 1) != 1 || c != 'g')
			_exit(127);
		execvp(t->argv[0], t->argv);
		err = errno;
		if (write(execp[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(gate[0]);
	close(execp[1]);
	t->child = pid;
	t->gate_fd = gate[1];
	t->exec_fd = execp[0];
	t->pids[t->npids++] = pid;
	watchdog__watch(&t->watchdog, WATCHDOG_TREE, pid);
	return 0;
}

/*
 * Only processes given by pid or launched can be stopped by bpfprof; a
 * -p target is handed over too, so that none is ever left stopped.
 */
static int start_watchdog(struct target *t)
{
	int err = watchdog__start(&t->watchdog);

	if (err)
		pr_warn("cannot start the watchdog process: %s\n", strerror(-err));
	return err;
}

static int prepare_pids(struct target *t)
{
	int ret, i;

	ret = start_watchdog(t);
	if (ret)
		return ret;
	if (t->argv) {
		ret = launch(t);
	} else {
		ret = check_pids(t);
		for (i = 0; !ret && i < t->npids; i++)
			watchdog__watch(&t->watchdog, WATCHDOG_TARGET, t->pids[i]);
	}
	if (ret)
		watchdog__stop(&t->watchdog);
	return ret;
}

int target__prepare(struct target *t)
{
	switch (t->mode) {
	case TARGET_ALL:
		return 0;
	case TARGET_CGROUP:
		return open_cgroup(t);
	case TARGET_PIDS:
		return prepare_pids(t);
	}
	return -BPFPROF_EUSAGE;
}

void target__note_stopped(struct target *t, int pid)
{
	watchdog__watch(&t->watchdog, WATCHDOG_OURS, pid);
}

/*
 * Waits until the launched child has exec'd (or failed to).  Between the
 * gate and its exec the child runs bpfprof's own image as a target, and
 * BPF may stop it for its unread mappings (stop_for_maps), which the
 * session, not running yet, would never continue: so a child stopped
 * before its exec is continued here.  After the exec (the pipe closes) its
 * stops are the session's.
 */
static void wait_exec(struct target *t)
{
	struct pollfd pfd = { .fd = t->exec_fd, .events = POLLIN };

	int n;

	for (;;) {
		n = poll(&pfd, 1, 50);
		if (n > 0 || (n < 0 && errno != EINTR))
			return;
		if (!proc_is_stopped(t->child))
			continue;
		if (poll(&pfd, 1, 0) != 0)
			return; /* exec'd meanwhile: a stop now is the session's */
		kill(t->child, SIGCONT);
	}
}

int target__start(struct target *t)
{
	ssize_t n;
	int err = 0;

	if (t->gate_fd < 0)
		return 0;
	if (write(t->gate_fd, "g", 1) != 1)
		return -errno;
	close(t->gate_fd);
	t->gate_fd = -1;
	/* The exec pipe closes on a successful exec; an int arrives on failure. */
	wait_exec(t);
	n = read(t->exec_fd, &err, sizeof(err));
	close(t->exec_fd);
	t->exec_fd = -1;
	if (n == sizeof(err)) {
		pr_warn("cannot run %s: %s\n", t->argv[0], strerror(err));
		waitpid(t->child, NULL, 0);
		t->child_exited = true;
		return -err;
	}
	return 0;
}

bool target__gone(struct target *t)
{
	int i, status;

	if (t->mode != TARGET_PIDS)
		return false;
	if (t->child) {
		if (!t->child_exited && waitpid(t->child, &status, WNOHANG) == t->child) {
			t->child_exited = true;
			t->child_status = status;
		}
		return t->child_exited;
	}
	for (i = 0; i < t->npids; i++)
		if (kill(t->pids[i], 0) == 0 || errno != ESRCH)
			return false;
	return true;
}

/*
 * Ends a launched command still running at the end.  A stopped child does
 * not act on SIGTERM, and BPF may have stopped it (stop_for_maps) after the
 * session's last SIGCONT: the stop can be deferred to an irq_work and land
 * late.  So it is continued with the SIGTERM and again while it lingers,
 * and killed if it outlives the grace period, never waited for forever.
 */
static void end_child(struct target *t)
{
	int i, status;

	kill(t->child, SIGTERM);
	for (i = 0; i < 500; i++) {
		kill(t->child, SIGCONT);
		if (waitpid(t->child, &status, WNOHANG) == t->child)
			goto reaped;
		usleep(10 * 1000);
	}
	pr_warn("%s did not end within 5 s of SIGTERM: killed\n", t->argv[0]);
	kill(t->child, SIGKILL);
	if (waitpid(t->child, &status, 0) != t->child)
		status = 0;
reaped:
	t->child_status = status;
	t->child_exited = true;
}

void target__cleanup(struct target *t)
{
	if (t->gate_fd >= 0) {
		/* Never started: closing the gate makes the child exit. */
		close(t->gate_fd);
		t->gate_fd = -1;
	}
	if (t->exec_fd >= 0) {
		close(t->exec_fd);
		t->exec_fd = -1;
	}
	if (t->child && !t->child_exited)
		end_child(t);
	if (t->cgroup_fd >= 0) {
		close(t->cgroup_fd);
		t->cgroup_fd = -1;
	}
	watchdog__stop(&t->watchdog);
}

const char *target__describe(const struct target *t, char *buf, size_t len)
{
	switch (t->mode) {
	case TARGET_ALL:
		snprintf(buf, len, "the whole system");
		break;
	case TARGET_CGROUP:
		snprintf(buf, len, "cgroup %s", t->cgroup_path);
		break;
	case TARGET_PIDS:
		if (t->argv)
			snprintf(buf, len, "%s (pid %d)", t->argv[0], t->child);
		else if (t->npids == 1)
			snprintf(buf, len, "pid %d", t->pids[0]);
		else
			snprintf(buf, len, "%d processes", t->npids);
		break;
	}
	return buf;
}

/* The pid label of a sample, or -1 when it has none. */
static int64_t sample_pid(const struct profile *p, const struct pf_sample *s)
{
	size_t i;

	for (i = 0; i < s->nlabels; i++)
		if (!s->labels[i].str && !strcmp(profile__str(p, s->labels[i].key), "pid"))
			return s->labels[i].num;
	return -1;
}

/* Every pid of -p is bpfprof's own. */
static bool targets_self(const struct target *t, pid_t self)
{
	int i;

	if (t->mode != TARGET_PIDS || t->argv || !t->npids)
		return false;
	for (i = 0; i < t->npids; i++)
		if (t->pids[i] != self)
			return false;
	return true;
}

bool target__saw_only_self(const struct target *t, const struct profile *p)
{
	pid_t self = getpid();
	size_t i;

	if (targets_self(t, self))
		return true;
	for (i = 0; i < p->nsamples; i++)
		if (sample_pid(p, &p->samples[i]) != self)
			return false;
	return p->nsamples > 0;
}
