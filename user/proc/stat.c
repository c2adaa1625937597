// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc/stat.h"

bool proc_stat_read(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may hold anything */
	return p && sscanf(p + 1,
			   " %c %d %d %*d %*d %d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			   "%*d %*d %llu",
			   &st->state, &st->ppid, &st->pgrp, &st->tpgid, &st->start) == 5;
}

unsigned long long proc_start_ticks(uint64_t boot_ns)
{
	static long tck;

	if (!tck)
		tck = sysconf(_SC_CLK_TCK);
	return tck > 0 && tck <= 1000000000 ? boot_ns / (1000000000 / tck) : 0;
}

bool proc_is_stopped(pid_t pid)
{
	struct proc_stat st;

	return proc_stat_read(pid, &st) && st.state == 'T';
}

int64_t proc_thread_cpu_ns(pid_t pid, pid_t tid)
{
	char path[64];
	long long ns;
	FILE *f;
	int n;

	/* schedstat: ns on CPU, ns waiting, timeslices. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%lld", &ns);
	fclose(f);
	return n == 1 ? ns : -EINVAL;
}

int64_t proc_cpu_ns(pid_t pid)
{
	char path[64], *end;
	struct dirent *d;
	int64_t total = 0, ns;
	DIR *dir;
	long tid;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		tid = strtol(d->d_name, &end, 10);
		if (end == d->d_name || *end)
			continue; /* "." and ".." */
		ns = proc_thread_cpu_ns(pid, tid);
		if (ns > 0)
			total += ns; /* a thread gone meanwhile counts nothing */
	}
	closedir(dir);
	return total;
}
