// SPDX-License-Identifier: Apache-2.0
/*
 * JSON through json-c (Debian's libjson-c5): maintained, small, and its
 * tokener takes a nesting limit, which files we do not trust need.  The caches are arrays allocated at their bound
 * (indices stay valid) with a util/hash index, the oldest out first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "proc/container.h"
#include "proc/stat.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/util.h"

#define JSON_DEPTH 32
#define STATE_MAX (4u << 20)	   /* runc's state.json: ~35 KiB here */
#define CONFIG_MAX (4u << 20)	   /* an OCI config.json: ~11 KiB here */
#define CONTAINERS_MAX (64u << 20) /* Podman's containers.json: ~0.5 KiB per container */
#define DEFAULT_CAP 1024
#define SWEEP_NS (10 * 1000000000LL)
#define PID_CAP 16384
#define PID_RECHECK_NS 1000000000LL

/* ---- cgroup paths ---- */

static bool is_hex64(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

/* A pod UID as the path carries it; systemd escapes its '-' as '_'. */
static bool copy_uid(const char *s, size_t len, char out[65])
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '_')
			c = '-';
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
		      c == '-'))
			return false;
		out[i] = c;
	}
	out[len] = '\0';
	return true;
}

/* kubepods-burstable-pod<uid>.slice, or pod<uid> below a kubepods component. */
static void match_pod(const char *comp, bool in_kubepods, char out[65])
{
	const char *p;

	if (!strncmp(comp, "kubepods", 8) && str_has_suffix(comp, ".slice")) {
		p = strstr(comp, "-pod");
		if (p)
			copy_uid(p + 4, strlen(p + 4) - strlen(".slice"), out);
	} else if (in_kubepods && !strncmp(comp, "pod", 3)) {
		copy_uid(comp + 3, strlen(comp + 3), out);
	}
}

/* The container id of one component, with its runtime; false when it is none. */
static bool match_container(const char *comp, struct container_ref *c)
{
	static const struct {
		const char *prefix, *runtime;
	} shapes[] = {
		{ "docker-", "docker" },
		{ "libpod-", "podman" },
		{ "cri-containerd-", "containerd" },
		{ "crio-", "crio" },
		{ "", "" }, /* the cgroupfs drivers: the bare id */
	};
	char id[80];
	size_t len;

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		len = strlen(shapes[i].prefix);
		if (strncmp(comp, shapes[i].prefix, len))
			continue;
		snprintf(id, sizeof(id), "%s", comp + len);
		if (str_has_suffix(id, ".scope"))
			id[strlen(id) - strlen(".scope")] = '\0';
		/* libpod-conmon-<id>, crio-conmon-<id>: the monitor, outside the container. */
		if (is_hex64(id)) {
			memcpy(c->id, id, sizeof(c->id));
			c->runtime = shapes[i].runtime;
			return true;
		}
	}
	return false;
}

bool cgroup_container(const char *path, struct container_ref *c)
{
	bool in_kubepods = false, found = false;
	char comp[256];

	memset(c, 0, sizeof(*c));
	c->runtime = "";
	/* The innermost container: nested ones (a pod's, podman's /container) below it. */
	while (path_next_component(&path, comp, sizeof(comp))) {
		struct container_ref here = { 0 };

		if (!strncmp(comp, "kubepods", 8))
			in_kubepods = true;
		match_pod(comp, in_kubepods, c->pod_uid);
		if (match_container(comp, &here)) {
			memcpy(c->id, here.id, sizeof(c->id));
			c->runtime = here.runtime;
			found = true;
		}
	}
	return found;
}

bool cgroup_file_container(const char *text, const char *path, struct container_ref *c)
{
	char line[4096];
	const char *end, *colon;
	struct container_ref v1;

	if (cgroup_container(path ? path : "", c))
		return true;
	for (; text && *text; text = *end ? end + 1 : end) {
		end = strchrnul(text, '\n');
		/* hierarchy-id:controllers:path; the path may hold ':' itself. */
		colon = memchr(text, ':', end - text);
		colon = colon ? memchr(colon + 1, ':', end - colon - 1) : NULL;
		if (!colon || (size_t)(end - colon) > sizeof(line))
			continue;
		snprintf(line, sizeof(line), "%.*s", (int)(end - colon - 1), colon + 1);
		if (cgroup_container(line, &v1)) {
			if (!v1.pod_uid[0])
				memcpy(v1.pod_uid, c->pod_uid, sizeof(v1.pod_uid));
			*c = v1;
			return true;
		}
	}
	return false;
}

/* ---- bounded reads and JSON ---- */

/* The whole of a regular file of at most max bytes, NUL-terminated; 0 or -errno. */
static int read_bounded(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd, err = 0;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
	} else if ((uint64_t)st.st_size > max) {
		err = -EFBIG;
	} else if (!(buf = malloc((size_t)st.st_size + 1))) {
		err = -ENOMEM;
	}
	/* Read no more than the size seen: a file growing meanwhile is cut, not trusted. */
	while (!err && n < (size_t)st.st_size) {
		r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* A JSON file's root, NULL with *err set (-ENOENT, -EFBIG, -EBADMSG...). */
static json_object *read_json(const char *path, size_t max, int *err)
{
	json_tokener *tok;
	json_object *o = NULL;
	size_t len = 0;
	char *buf;

	*err = read_bounded(path, max, &buf, &len);
	if (*err)
		return NULL;
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (tok) {
		o = json_tokener_parse_ex(tok, buf, (int)len);
		if (json_tokener_get_error(tok) != json_tokener_success) {
			json_object_put(o);
			o = NULL;
		}
		json_tokener_free(tok);
	}
	free(buf);
	if (!o)
		*err = tok ? -EBADMSG : -ENOMEM;
	return o;
}

static const char *get_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Keeps a value that can be a name: not empty, not too long, no control characters. */
static void set_value(char *dst, const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (dst[0] || n == 0 || n >= CONTAINER_VALUE_MAX)
		return;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return;
	memcpy(dst, v, n + 1);
}

static const char *const pod_keys[] = { "io.kubernetes.pod.name",
					"io.kubernetes.cri.sandbox-name" };
static const char *const ns_keys[] = { "io.kubernetes.pod.namespace",
				       "io.kubernetes.cri.sandbox-namespace" };
static const char *const name_keys[] = { "io.kubernetes.container.name",
					 "io.kubernetes.cri.container-name" };

/* One annotation; the first of its two spellings wins. */
static void annotate(struct container_meta *m, const char *key, const char *value)
{
	for (int i = 0; i < 2; i++) {
		if (!strcmp(key, pod_keys[i]))
			set_value(m->pod, value);
		else if (!strcmp(key, ns_keys[i]))
			set_value(m->namespace, value);
		else if (!strcmp(key, name_keys[i]))
			set_value(m->name, value);
	}
}

/* An OCI config.json's annotations.  0 when it was read. */
static int read_config(const char *path, struct container_meta *m)
{
	json_object *root, *ann;
	int err;

	root = read_json(path, CONFIG_MAX, &err);
	if (!root)
		return err;
	if (json_object_object_get_ex(root, "annotations", &ann) &&
	    json_object_is_type(ann, json_type_object)) {
		json_object_object_foreach(ann, key, val)
		{
			if (json_object_is_type(val, json_type_string))
				annotate(m, key, json_object_get_string(val));
		}
	}
	json_object_put(root);
	return 0;
}

/*
 * A runc state.json: its config's labels are "key=value" strings, the
 * bundle's path and the annotations among them.  The bundle's config.json
 * is read; the labels only where it cannot be.  0 when something was read.
 */
static int read_runc_state(const char *root, const char *path, struct container_meta *m)
{
	json_object *st, *cfg, *labels, *v;
	char bundle[4096] = "";
	const char *s;
	size_t n;
	int err;

	st = read_json(path, STATE_MAX, &err);
	if (!st)
		return err;
	/* Newer runc writes it at the top level as well. */
	if ((s = get_string(st, "bundle")))
		snprintf(bundle, sizeof(bundle), "%s%s/config.json", root, s);
	if (json_object_object_get_ex(st, "config", &cfg) &&
	    json_object_object_get_ex(cfg, "labels", &labels) &&
	    json_object_is_type(labels, json_type_array)) {
		n = json_object_array_length(labels);
		for (size_t i = 0; i < n && !bundle[0]; i++) {
			v = json_object_array_get_idx(labels, i);
			s = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
								     : "";
			if (!strncmp(s, "bundle=", 7) && s[7] == '/')
				snprintf(bundle, sizeof(bundle), "%s%s/config.json", root, s + 7);
		}
		if (!bundle[0] || read_config(bundle, m)) {
			for (size_t i = 0; i < n; i++) {
				char key[128];
				const char *eq;

				v = json_object_array_get_idx(labels, i);
				if (!json_object_is_type(v, json_type_string))
					continue;
				s = json_object_get_string(v);
				eq = strchr(s, '=');
				if (!eq || (size_t)(eq - s) >= sizeof(key))
					continue;
				snprintf(key, sizeof(key), "%.*s", (int)(eq - s), s);
				annotate(m, key, eq + 1);
			}
		}
	} else if (bundle[0]) {
		read_config(bundle, m);
	}
	json_object_put(st);
	return 0;
}

/* crun's status file: its "bundle". */
static int read_crun_status(const char *root, const char *path, struct container_meta *m)
{
	char bundle[4096];
	json_object *st;
	const char *s;
	int err;

	st = read_json(path, STATE_MAX, &err);
	if (!st)
		return err;
	s = get_string(st, "bundle");
	err = s && s[0] == '/' ? 0 : -ENOENT;
	if (!err) {
		snprintf(bundle, sizeof(bundle), "%s%s/config.json", root, s);
		err = read_config(bundle, m);
	}
	json_object_put(st);
	return err;
}

/* containerd keeps one runc root per namespace: k8s.io, moby, default... */
static int read_containerd(const char *root, const char *id, struct container_meta *m)
{
	char dir[4096], path[4096 + 512];
	struct dirent *d;
	int err = -ENOENT;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/run/containerd/runc", root);
	dp = opendir(dir);
	if (!dp)
		return -ENOENT;
	while (err && (d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s/state.json", dir, d->d_name, id);
		err = read_runc_state(root, path, m);
	}
	closedir(dp);
	return err;
}

/* Podman's name for id from containers.json's "names"; 0 when found. */
static int read_podman_name(const char *root, const char *id, struct container_meta *m)
{
	char path[4096];
	json_object *all, *c, *names;
	size_t n;
	int err;

	snprintf(path, sizeof(path),
		 "%s/var/lib/containers/storage/overlay-containers/containers.json", root);
	all = read_json(path, CONTAINERS_MAX, &err);
	if (!all)
		return err;
	err = -ENOENT;
	n = json_object_is_type(all, json_type_array) ? json_object_array_length(all) : 0;
	for (size_t i = 0; i < n && err; i++) {
		c = json_object_array_get_idx(all, i);
		if (!get_string(c, "id") || strcmp(get_string(c, "id"), id))
			continue;
		if (json_object_object_get_ex(c, "names", &names) &&
		    json_object_is_type(names, json_type_array) &&
		    json_object_array_length(names) > 0) {
			json_object *v = json_object_array_get_idx(names, 0);

			if (json_object_is_type(v, json_type_string)) {
				set_value(m->name, json_object_get_string(v));
				err = 0;
			}
		}
	}
	json_object_put(all);
	return err;
}

static int read_docker_name(const char *root, const char *id, struct container_meta *m)
{
	char path[4096];
	json_object *o;
	const char *s;
	int err;

	snprintf(path, sizeof(path), "%s/var/lib/docker/containers/%s/config.v2.json", root, id);
	o = read_json(path, CONFIG_MAX, &err);
	if (!o)
		return err;
	s = get_string(o, "Name");
	/* Docker keeps its names with a leading '/'. */
	set_value(m->name, s && s[0] == '/' ? s + 1 : s);
	json_object_put(o);
	return s ? 0 : -ENOENT;
}

/* Whether an error means "not there" rather than "could not be read". */
static bool missing(int err)
{
	return err == -ENOENT || err == -ENOTDIR;
}

int container_read_meta(const char *root, const char *id, struct container_meta *m)
{
	char path[4096];
	bool found = false, failed = false;
	int err;

	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	if (!is_hex64(id))
		return -EINVAL;
#define TRY(call)                                                                                  \
	do {                                                                                       \
		err = (call);                                                                      \
		found |= !err;                                                                     \
		failed |= err && !missing(err);                                                    \
	} while (0)
	/* The bundle, through the first runtime state that knows id. */
	snprintf(path, sizeof(path), "%s/run/runc/%s/state.json", root, id);
	TRY(read_runc_state(root, path, m));
	if (err) {
		snprintf(path, sizeof(path), "%s/run/docker/runtime-runc/moby/%s/state.json", root,
			 id);
		TRY(read_runc_state(root, path, m));
	}
	if (err)
		TRY(read_containerd(root, id, m));
	if (err) {
		snprintf(path, sizeof(path), "%s/run/crun/%s/status", root, id);
		TRY(read_crun_status(root, path, m));
	}
	if (err) {
		snprintf(path, sizeof(path),
			 "%s/var/lib/containers/storage/overlay-containers/%s/userdata/config.json",
			 root, id);
		TRY(read_config(path, m));
	}
	/* The engine's own name, where there is one; Kubernetes' name is kept first. */
	TRY(read_docker_name(root, id, m));
	if (err)
		TRY(read_podman_name(root, id, m));
#undef TRY
	if (found)
		return 0;
	return failed ? -EIO : -ENOENT;
}

/* ---- names ---- */

/* Kubernetes' generated names use this alphabet: no vowels, no 0, 1, 3. */
static bool k8s_generated(const char *s, size_t len, size_t min, size_t max)
{
	if (len < min || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("bcdfghjklmnpqrstvwxz2456789", s[i]) || !s[i])
			return false;
	return true;
}

void k8s_workload(const char *pod, char *out, size_t size)
{
	size_t len = strlen(pod);
	const char *dash = memrchr(pod, '-', len);
	size_t end = len;

	if (dash && dash > pod && k8s_generated(dash + 1, len - (dash + 1 - pod), 5, 5)) {
		end = dash - pod;
		/*
		 * A Deployment's ReplicaSet adds its pod-template-hash before it,
		 * a CronJob its Job's scheduled time in minutes.
		 */
		dash = memrchr(pod, '-', end);
		if (dash && dash > pod &&
		    (k8s_generated(dash + 1, end - (dash + 1 - pod), 6, 10) ||
		     (end - (dash + 1 - pod) >= 8 &&
		      strspn(dash + 1, "0123456789") == end - (size_t)(dash + 1 - pod))))
			end = dash - pod;
	} else if (dash && dash > pod && dash[1] &&
		   strspn(dash + 1, "0123456789") == strlen(dash + 1)) {
		end = dash - pod; /* a StatefulSet's ordinal */
	}
	snprintf(out, size, "%.*s", (int)end, pod);
}

void container_service_name(const struct container_meta *m, char *out, size_t size)
{
	char workload[CONTAINER_VALUE_MAX];

	if (m->pod[0] && m->namespace[0]) {
		k8s_workload(m->pod, workload, sizeof(workload));
		snprintf(out, size, "%s/%s", m->namespace, workload);
	} else {
		snprintf(out, size, "%s", m->name);
	}
}

/* ---- the cache per container id ---- */

struct centry {
	bool used;
	int pid;		  /* a process it was seen in, when no cgroup directory was */
	unsigned long long start; /* and that process's start */
	char *cgdir;		  /* the cgroup's directory; NULL: not found */
	int64_t absent_at;	  /* mono ns of a known absence; 0: found */
	struct container_meta m;
};

struct container_cache {
	char *root, *cgroupfs;
	struct centry *e;
	size_t cap, n, next;
	struct hashtab index;
	int64_t last_sweep;
	struct container_stats st;
};

/* A known absence is asked again after this: the runtime may not have written its state yet. */
#define ABSENT_TTL_NS (30 * 1000000000LL)

static bool id_eq(const void *ctx, size_t idx, const void *key)
{
	const struct container_cache *cc = ctx;

	return cc->e[idx].used && !strcmp(cc->e[idx].m.id, key);
}

struct container_cache *container_cache__new(const char *root, const char *cgroupfs, size_t cap)
{
	struct container_cache *cc = calloc(1, sizeof(*cc));

	if (!root)
		root = getenv("BPFPROF_HOST_ROOT");
	if (!root)
		root = "";
	if (!cgroupfs)
		cgroupfs = "/sys/fs/cgroup";
	if (!cap)
		cap = DEFAULT_CAP;
	if (!cc || !(cc->root = strdup(root)) || !(cc->cgroupfs = strdup(cgroupfs)) ||
	    !(cc->e = calloc(cap, sizeof(*cc->e))) || hashtab__reserve(&cc->index, cap)) {
		pr_warn("container metadata: out of memory\n");
		container_cache__free(cc);
		return NULL;
	}
	/* "/" as a root would double every path's slash; it means none. */
	if (!strcmp(cc->root, "/"))
		cc->root[0] = '\0';
	cc->cap = cap;
	return cc;
}

void container_cache__free(struct container_cache *cc)
{
	if (!cc)
		return;
	for (size_t i = 0; cc->e && i < cc->n; i++)
		free(cc->e[i].cgdir);
	free(cc->e);
	hashtab__fini(&cc->index);
	free(cc->root);
	free(cc->cgroupfs);
	free(cc);
}

static void drop(struct container_cache *cc, size_t i)
{
	struct centry *e = &cc->e[i];

	hashtab__remove(&cc->index, hash_bytes(e->m.id, strlen(e->m.id), 0), i);
	free(e->cgdir);
	e->cgdir = NULL;
	e->used = false;
	cc->st.cached--;
}

/* Where the cgroup's directory is: v2 at the top, or a hybrid's unified or systemd tree. */
static char *find_cgdir(const struct container_cache *cc, const char *cgroup_path)
{
	static const char *const trees[] = { "", "/unified", "/systemd" };
	char dir[4096];
	struct stat st;

	if (!cgroup_path[0] || strstr(cgroup_path, "/.."))
		return NULL; /* relative to another cgroup namespace */
	for (size_t i = 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
		snprintf(dir, sizeof(dir), "%s%s%s", cc->cgroupfs, trees[i], cgroup_path);
		if (!stat(dir, &st) && S_ISDIR(st.st_mode))
			return strdup(dir);
	}
	return NULL;
}

static bool gone(const struct centry *e)
{
	struct proc_stat st;

	if (e->cgdir)
		return access(e->cgdir, F_OK) && errno == ENOENT;
	return !proc_stat_read(e->pid, &st) || st.start != e->start;
}

void container_cache__sweep(struct container_cache *cc)
{
	cc->last_sweep = mono_ns();
	for (size_t i = 0; i < cc->n; i++)
		if (cc->e[i].used && gone(&cc->e[i])) {
			drop(cc, i);
			cc->st.evicted++;
		}
}

int container_cache__lookup(struct container_cache *cc, const struct container_ref *c,
			    const char *cgroup_path, int pid, const struct container_meta **out)
{
	uint64_t h = hash_bytes(c->id, strlen(c->id), 0);
	int64_t now = mono_ns();
	struct proc_stat st;
	struct centry *e;
	long i;
	int err;

	cc->st.lookups++;
	if (now - cc->last_sweep >= SWEEP_NS)
		container_cache__sweep(cc);
	i = hashtab__find(&cc->index, h, id_eq, cc, c->id);
	if (i >= 0 && (!cc->e[i].absent_at || now - cc->e[i].absent_at < ABSENT_TTL_NS)) {
		cc->st.hits++;
		*out = &cc->e[i].m;
		return 0;
	}
	if (i >= 0)
		drop(cc, i);
	/* Free slots first (a sweep leaves some), then the oldest. */
	if (cc->n < cc->cap) {
		i = cc->n++;
	} else {
		size_t k;

		for (k = 0; k < cc->cap && cc->e[(cc->next + k) % cc->cap].used; k++)
			;
		i = (cc->next + (k < cc->cap ? k : 0)) % cc->cap;
		if (cc->e[i].used) {
			drop(cc, i);
			cc->st.evicted_cap++;
		}
		cc->next = (i + 1) % cc->cap;
	}
	e = &cc->e[i];
	memset(e, 0, sizeof(*e));
	err = container_read_meta(cc->root, c->id, &e->m);
	if (err && err != -ENOENT) {
		/* Half-written state as a container starts: not an answer to keep. */
		cc->st.errors++;
		snprintf(e->m.id, sizeof(e->m.id), "%s", c->id);
		e->absent_at = now - ABSENT_TTL_NS;
	} else if (err) {
		cc->st.absent++;
		e->absent_at = now;
	} else {
		cc->st.found++;
	}
	e->used = true;
	e->pid = pid;
	e->start = proc_stat_read(pid, &st) ? st.start : 0;
	e->cgdir = find_cgdir(cc, cgroup_path);
	if (hashtab__insert(&cc->index, h, i)) {
		e->used = false;
		free(e->cgdir);
		e->cgdir = NULL;
		return -ENOMEM;
	}
	cc->st.cached++;
	*out = &e->m;
	return 0;
}

void container_cache__stats(const struct container_cache *cc, struct container_stats *out)
{
	*out = cc->st;
}

static struct container_cache *default_cache;

static void free_default(void)
{
	container_cache__free(default_cache);
	default_cache = NULL;
}

struct container_cache *container_cache__default(void)
{
	if (!default_cache && (default_cache = container_cache__new(NULL, NULL, 0)))
		atexit(free_default);
	return default_cache;
}

/* ---- per pid, for the one-shot commands' samples ---- */

/*
 * Small, as a long capture sees thousands of processes: the metadata (about
 * 850 bytes) is a copy of its own for the few in a container only.
 */
struct pentry {
	int pid; /* 0: free */
	bool in_container;
	bool gone; /* its /proc/PID/stat was gone at the last check */
	unsigned long long start;
	int64_t checked;	  /* mono ns */
	struct container_meta *m; /* when in_container */
};

static struct {
	struct pentry *e;
	size_t n;
	struct hashtab index;
} pids;

static bool pid_eq(const void *ctx, size_t idx, const void *key)
{
	return pids.e[idx].pid == *(const int *)key;
}

static void free_metas(void)
{
	for (size_t i = 0; i < pids.n; i++) {
		free(pids.e[i].m);
		pids.e[i].m = NULL;
	}
}

static void free_pids(void)
{
	if (pids.e)
		free_metas();
	free(pids.e);
	hashtab__fini(&pids.index);
	memset(&pids, 0, sizeof(pids));
}

/* Reads procfs/PID/cgroup and fills e. */
static int resolve_pid(const char *procfs, struct pentry *e)
{
	char path[4096], text[16384], v2[4096] = "";
	struct container_cache *cc = container_cache__default();
	const struct container_meta *m;
	struct container_ref c;
	const char *line, *end;
	ssize_t n = 0, r;
	int fd, err;

	e->in_container = false;
	if (!cc)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%d/cgroup", procfs, e->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (n < (ssize_t)sizeof(text) - 1 && (r = read(fd, text + n, sizeof(text) - 1 - n)) > 0)
		n += r;
	close(fd);
	text[n] = '\0';
	for (line = text; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		if (!strncmp(line, "0::", 3))
			snprintf(v2, sizeof(v2), "%.*s", (int)(end - line - 3), line + 3);
	}
	if (!cgroup_file_container(text, v2, &c))
		return 0;
	err = container_cache__lookup(cc, &c, v2, e->pid, &m);
	if (err)
		return err;
	if (!e->m && !(e->m = malloc(sizeof(*e->m))))
		return -ENOMEM;
	*e->m = *m;
	e->in_container = true;
	return 0;
}

/* pid's entry, made (empty, e->pid 0 on return) when there is none; NULL: no memory. */
static struct pentry *pid_entry(int pid)
{
	uint64_t h = hash_u64(pid);
	long i;

	if (!pids.e) {
		if (!(pids.e = calloc(PID_CAP, sizeof(*pids.e))) ||
		    hashtab__reserve(&pids.index, PID_CAP)) {
			free_pids();
			return NULL;
		}
		atexit(free_pids);
	}
	i = hashtab__find(&pids.index, h, pid_eq, NULL, &pid);
	if (i >= 0)
		return &pids.e[i];
	if (pids.n == PID_CAP) {
		/* PID_CAP processes seen: start over rather than track age. */
		free_metas();
		memset(pids.e, 0, PID_CAP * sizeof(*pids.e));
		hashtab__fini(&pids.index);
		pids.n = 0;
		if (hashtab__reserve(&pids.index, PID_CAP))
			return NULL;
	}
	i = pids.n++;
	hashtab__insert(&pids.index, h, i);
	return &pids.e[i];
}

/* /proc/PID/stat's start time of pid, when start (from elsewhere) is 0; 0 when gone. */
static unsigned long long start_of(int pid, unsigned long long start)
{
	struct proc_stat st;

	if (start)
		return start;
	return proc_stat_read(pid, &st) ? st.start : 0;
}

int container_of_pid_at(const char *procfs, int pid, unsigned long long start,
			const struct container_meta **out)
{
	int64_t now = mono_ns();
	struct pentry *e;
	int err;

	*out = NULL;
	if (pid <= 0)
		return 0;
	e = pid_entry(pid);
	if (!e)
		return -ENOMEM;
	if (e->pid) {
		if (now - e->checked < PID_RECHECK_NS)
			goto found;
		e->checked = now;
		/* Found gone: asked again only for a process under the pid. */
		if (e->gone && !start)
			goto found;
		start = start_of(pid, start);
		e->gone = !start;
		/*
		 * The same process keeps its answer, unless its runtime had not
		 * written its state yet (the cache asks again after a while).
		 */
		if ((!start || start == e->start) &&
		    (!e->in_container || e->m->name[0] || e->m->pod[0]))
			goto found;
		if (start)
			e->start = start; /* another process with the pid */
	} else {
		e->pid = pid;
		e->start = start_of(pid, start);
		e->gone = !e->start;
		e->checked = now;
	}
	err = resolve_pid(procfs, e);
	if (err)
		return err;
found:
	if (e->in_container)
		*out = e->m;
	return 0;
}

int container_of_pid(const char *procfs, int pid, const struct container_meta **out)
{
	return container_of_pid_at(procfs, pid, 0, out);
}

int container_of_pid_inherit(int pid, int ppid, unsigned long long start)
{
	const struct pentry *parent;
	struct pentry *e;
	long i;

	if (pid <= 0 || ppid <= 0 || !pids.e)
		return -ENOENT;
	i = hashtab__find(&pids.index, hash_u64(ppid), pid_eq, NULL, &ppid);
	if (i < 0)
		return -ENOENT;
	e = pid_entry(pid);
	if (!e)
		return -ENOMEM;
	/* pid_entry may have started over: the parent again. */
	i = hashtab__find(&pids.index, hash_u64(ppid), pid_eq, NULL, &ppid);
	if (i < 0)
		return -ENOENT;
	parent = &pids.e[i];
	if (parent->in_container) {
		if (!e->m && !(e->m = malloc(sizeof(*e->m))))
			return -ENOMEM;
		*e->m = *parent->m;
	}
	e->pid = pid;
	e->gone = false;
	e->in_container = parent->in_container;
	e->start = start;
	e->checked = mono_ns();
	return 0;
}
