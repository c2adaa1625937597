// SPDX-License-Identifier: Apache-2.0
/*
 * The index is an array of our files sorted by (start, path): new intervals
 * append at its end and retention removes from its front, so neither scans the
 * tree again.  Paths are relative to the directory's descriptor, so the
 * directory can be renamed under a running agent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/outdir.h"
#include "util/log.h"
#include "util/util.h"

#define COMPONENT_MAX 100
#define TYPE_MAX 64
#define STAMP_LEN 16 /* 20261203T121500Z */
#define SUFFIX ".pb.gz"
#define TMP_MARK SUFFIX ".tmp"

struct ofile {
	char *rel; /* "service/type-stamp.pb.gz" */
	uint64_t size;
	int64_t start; /* seconds since the epoch, from the name */
};

struct outdir {
	pthread_mutex_t lock;
	char *path;
	int dirfd;
	uint64_t max_disk;
	int64_t max_age_s;
	struct ofile *files;
	size_t n, cap;
	uint64_t tmp_seq;
	int last_err; /* of the previous write, to print a persisting error once */
	struct outdir_stats st;
};

void outdir_component(const char *service, char *out, size_t size)
{
	size_t i, max = size - 1 < COMPONENT_MAX ? size - 1 : COMPONENT_MAX;
	unsigned char c;

	for (i = 0; service && service[i] && i < max; i++) {
		c = service[i];
		if (c <= ' ' || c > '~' || c == '/' || (i == 0 && c == '.'))
			c = '_';
		out[i] = c;
	}
	if (i == 0)
		out[i++] = '_';
	out[i] = '\0';
}

static bool valid_type(const char *s, size_t len)
{
	if (len == 0 || len > TYPE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

static int format_stamp(int64_t t, char out[STAMP_LEN + 1])
{
	time_t tt = t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, STAMP_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != STAMP_LEN)
		return -EINVAL;
	return 0;
}

/* The start of a file named type-stamp.pb.gz, or -1 when the name is not ours. */
static int64_t parse_name(const char *name)
{
	size_t len = strlen(name), tlen;
	char stamp[STAMP_LEN + 1], again[STAMP_LEN + 1];
	struct tm tm = {};
	time_t t;

	if (len < 1 + 1 + STAMP_LEN + strlen(SUFFIX))
		return -1;
	tlen = len - strlen(SUFFIX) - STAMP_LEN - 1;
	if (strcmp(name + len - strlen(SUFFIX), SUFFIX) || name[tlen] != '-' ||
	    !valid_type(name, tlen))
		return -1;
	memcpy(stamp, name + tlen + 1, STAMP_LEN);
	stamp[STAMP_LEN] = '\0';
	if (sscanf(stamp, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	/* Formatting back rejects 20261332T..., signs and spaces sscanf let pass. */
	if (t < 0 || format_stamp(t, again) || strcmp(again, stamp))
		return -1;
	return t;
}

/* A temporary file of ours: ".<our name>.tmp<anything>". */
static bool is_our_tmp(const char *name)
{
	const char *mark = strstr(name, TMP_MARK);
	char base[NAME_MAX + 1];
	size_t len;

	if (name[0] != '.' || !mark)
		return false;
	len = mark + strlen(SUFFIX) - (name + 1);
	if (len > NAME_MAX)
		return false;
	memcpy(base, name + 1, len);
	base[len] = '\0';
	return parse_name(base) >= 0;
}

static int cmp_file(const struct ofile *a, int64_t start, const char *rel)
{
	if (a->start != start)
		return a->start < start ? -1 : 1;
	return strcmp(a->rel, rel);
}

/* The first index whose entry is not before (start, rel). */
static size_t lower_bound(const struct outdir *o, int64_t start, const char *rel)
{
	size_t lo = 0, hi = o->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cmp_file(&o->files[mid], start, rel) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds or replaces (a rename over an older file of the same name) one entry. */
static int index_put(struct outdir *o, const char *rel, int64_t start, uint64_t size)
{
	size_t i = lower_bound(o, start, rel);
	struct ofile *f;
	char *copy;

	if (i < o->n && !cmp_file(&o->files[i], start, rel)) {
		o->st.bytes -= o->files[i].size;
		o->st.bytes += size;
		o->files[i].size = size;
		return 0;
	}
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;

		f = realloc(o->files, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		o->files = f;
		o->cap = cap;
	}
	copy = strdup(rel);
	if (!copy)
		return -ENOMEM;
	memmove(&o->files[i + 1], &o->files[i], (o->n - i) * sizeof(*o->files));
	o->files[i] = (struct ofile){ .rel = copy, .size = size, .start = start };
	o->n++;
	o->st.files++;
	o->st.bytes += size;
	return 0;
}

/* Removes the n oldest entries from the index (their files are gone). */
static void index_drop_front(struct outdir *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(o->files[i].rel);
	memmove(o->files, o->files + n, (o->n - n) * sizeof(*o->files));
	o->n -= n;
}

static void scan_service(struct outdir *o, const char *svc)
{
	char rel[PATH_MAX];
	struct dirent *d;
	struct stat sb;
	int64_t start;
	DIR *dir;
	int fd;

	fd = openat(o->dirfd, svc, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	while ((d = readdir(dir))) {
		if (is_our_tmp(d->d_name)) {
			/* A predecessor died between create and rename. */
			unlinkat(fd, d->d_name, 0);
			continue;
		}
		start = parse_name(d->d_name);
		if (start < 0 || fstatat(fd, d->d_name, &sb, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(sb.st_mode))
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", svc, d->d_name);
		if (index_put(o, rel, start, sb.st_size))
			break;
	}
	closedir(dir);
}

static int scan(struct outdir *o)
{
	struct dirent *d;
	DIR *dir;
	int fd;

	fd = openat(o->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((d = readdir(dir))) {
		/* Our service directories never start with '.', and skip "." and "..". */
		if (d->d_name[0] == '.' || strlen(d->d_name) > COMPONENT_MAX)
			continue;
		if (d->d_type == DT_DIR || d->d_type == DT_UNKNOWN)
			scan_service(o, d->d_name);
	}
	closedir(dir);
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

struct outdir *outdir__open(const char *dir, uint64_t max_disk, int64_t max_age_s)
{
	struct outdir *o;
	int err;

	if (!dir || !*dir) {
		pr_warn("output directory: an empty path\n");
		return NULL;
	}
	if (max_age_s < 0) {
		pr_warn("output directory: a negative maximum age\n");
		return NULL;
	}
	err = mkdir_p(dir);
	if (err) {
		pr_warn("output directory %s: cannot create it: %s\n", dir, strerror(-err));
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (!o || !(o->path = strdup(dir))) {
		pr_warn("output directory %s: out of memory\n", dir);
		free(o);
		return NULL;
	}
	o->max_disk = max_disk;
	o->max_age_s = max_age_s;
	pthread_mutex_init(&o->lock, NULL);
	o->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = o->dirfd < 0 ? -errno : scan(o);
	if (!err && access(dir, W_OK))
		err = -errno;
	if (err) {
		pr_warn("output directory %s: %s\n", dir, strerror(-err));
		outdir__close(o);
		return NULL;
	}
	return o;
}

static void remove_file(struct outdir *o, const struct ofile *f, uint64_t *counter)
{
	const char *slash = strchr(f->rel, '/');
	char svc[COMPONENT_MAX + 1];
	int dfd, err = 0;

	snprintf(svc, sizeof(svc), "%.*s", (int)(slash - f->rel), f->rel);
	/* As for writes, a link in place of the service directory is not followed. */
	dfd = openat(o->dirfd, svc, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || unlinkat(dfd, slash + 1, 0))
		err = errno;
	if (dfd >= 0)
		close(dfd);
	if (err && err != ENOENT) {
		pr_warn("output directory %s: cannot remove %s: %s\n", o->path, f->rel,
			strerror(err));
		o->st.remove_errors++;
	} else {
		(*counter)++;
	}
	o->st.files--;
	o->st.bytes -= f->size;
	/* Fails while the service has files, ours or not: as wanted. */
	unlinkat(o->dirfd, svc, AT_REMOVEDIR);
}

static void prune_locked(struct outdir *o, int64_t now_wall_ns)
{
	int64_t cutoff = now_wall_ns / 1000000000 - o->max_age_s;
	size_t i = 0;

	if (o->max_age_s > 0)
		for (; i < o->n && o->files[i].start < cutoff; i++)
			remove_file(o, &o->files[i], &o->st.removed_by_age);
	if (o->max_disk > 0)
		for (; i < o->n && o->st.bytes > o->max_disk; i++)
			remove_file(o, &o->files[i], &o->st.removed_by_size);
	index_drop_front(o, i);
}

void outdir__prune(struct outdir *o, int64_t now_wall_ns)
{
	pthread_mutex_lock(&o->lock);
	prune_locked(o, now_wall_ns);
	pthread_mutex_unlock(&o->lock);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * name and tmp are names inside the service directory, which is opened
 * without following a symbolic link: nothing but a directory of ours is
 * written into.
 */
static int write_locked(struct outdir *o, const char *svc, const char *name, const char *tmp,
			const void *data, size_t len)
{
	int dfd, fd, err;

	if (mkdirat(o->dirfd, svc, 0755) && errno != EEXIST)
		return -errno;
	dfd = openat(o->dirfd, svc, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		close(dfd);
		return err;
	}
	err = write_all(fd, data, len);
	/* Some filesystems (NFS, quotas) report a full disk only at sync or close. */
	if (!err && fdatasync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(dfd, tmp, dfd, name))
		err = -errno;
	if (err)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return err;
}

int outdir__write(struct outdir *o, const char *service, const char *type, int64_t start_wall_ns,
		  const void *data, size_t len)
{
	char svc[COMPONENT_MAX + 1], stamp[STAMP_LEN + 1], name[NAME_MAX + 1], rel[PATH_MAX];
	char tmp[NAME_MAX + 32];
	int64_t start = start_wall_ns / 1000000000;
	int err;

	if (!type || !valid_type(type, strlen(type)) || start_wall_ns < 0 ||
	    format_stamp(start, stamp)) {
		pr_warn("output directory: invalid profile type or start time\n");
		return -EINVAL;
	}
	outdir_component(service, svc, sizeof(svc));
	snprintf(name, sizeof(name), "%s-%s%s", type, stamp, SUFFIX);
	snprintf(rel, sizeof(rel), "%s/%s", svc, name);

	pthread_mutex_lock(&o->lock);
	snprintf(tmp, sizeof(tmp), ".%s.tmp%d-%llu", name, getpid(),
		 (unsigned long long)o->tmp_seq++);
	err = write_locked(o, svc, name, tmp, data, len);
	if (!err) {
		err = index_put(o, rel, start, len);
		if (err)
			unlinkat(o->dirfd, rel, 0); /* unindexed, it would escape retention */
	}
	if (err) {
		o->st.write_errors++;
		if (err != o->last_err)
			pr_warn("output directory %s: cannot write %s: %s\n", o->path, rel,
				strerror(-err));
		o->last_err = err;
		/* A service directory made for nothing goes again. */
		unlinkat(o->dirfd, svc, AT_REMOVEDIR);
	} else {
		o->last_err = 0;
		o->st.files_written++;
		o->st.bytes_written += len;
		prune_locked(o, wall_ns());
	}
	pthread_mutex_unlock(&o->lock);
	return err;
}

void outdir__stats(struct outdir *o, struct outdir_stats *out)
{
	pthread_mutex_lock(&o->lock);
	*out = o->st;
	pthread_mutex_unlock(&o->lock);
}

void outdir__close(struct outdir *o)
{
	if (!o)
		return;
	index_drop_front(o, o->n);
	free(o->files);
	if (o->dirfd >= 0)
		close(o->dirfd);
	pthread_mutex_destroy(&o->lock);
	free(o->path);
	free(o);
}
