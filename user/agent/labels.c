// SPDX-License-Identifier: Apache-2.0
/*
 * The process cache is one array allocated at its bound (untouched pages
 * cost nothing), so an answer never moves while it is cached; a hash table
 * finds a pid, a list through the entries keeps them in use order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/labels.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/util.h"

#define DEFAULT_CACHE_CAP 4096
#define CGROUP_CACHE_CAP 1024
#define CGROUP_READ_MAX 16384
#define NONE ((uint32_t)-1)

int service_info__add(struct service_info *si, const char *name, const char *value)
{
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;

	if (service_info__get(si, name))
		return 0;
	if (si->nlabels == SERVICE_LABELS_MAX || si->used + nl + vl > sizeof(si->buf))
		return -ENOSPC;
	si->labels[si->nlabels].name = memcpy(si->buf + si->used, name, nl);
	si->used += nl;
	si->labels[si->nlabels].value = memcpy(si->buf + si->used, value, vl);
	si->used += vl;
	si->nlabels++;
	return 0;
}

bool service_info__propose(struct service_info *si, const char *service)
{
	if (si->service[0] || !service || !service[0])
		return false;
	snprintf(si->service, sizeof(si->service), "%s", service);
	return true;
}

const char *service_info__get(const struct service_info *si, const char *name)
{
	for (int i = 0; i < si->nlabels; i++)
		if (!strcmp(si->labels[i].name, name))
			return si->labels[i].value;
	return NULL;
}

/* ---- cgroup paths ---- */

/* ---- the container provider, and its cache per cgroup path ---- */

struct cg_entry {
	char *path;
	char name[SERVICE_NAME_MAX]; /* "" when the lookup found none */
};

struct container_provider {
	struct container_cache *cc; /* borrowed; NULL: the process-wide one */
	container_name_fn name_fn;
	void *ctx;
	struct hashtab index;
	struct cg_entry *entries; /* a ring: the oldest goes first */
	size_t n, next;
	char scratch[SERVICE_NAME_MAX];
};

static bool cg_eq(const void *ctx, size_t idx, const void *key)
{
	const struct container_provider *cp = ctx;

	return !strcmp(cp->entries[idx].path, key);
}

/* The cached name for path ("" for none), looking it up the first time; NULL on ENOMEM. */
/*
 * The name for path ("" for none), looked up the first time; NULL on ENOMEM.
 * A name found, or -ENOENT, is cached; another error (the runtime's state
 * half written as the container starts) is asked again next time.
 */
static const char *container_name(struct container_provider *cp, const struct label_query *q,
				  const struct container_ref *c)
{
	uint64_t h = hash_bytes(q->cgroup_path, strlen(q->cgroup_path), 0);
	long i = hashtab__find(&cp->index, h, cg_eq, cp, q->cgroup_path);
	struct cg_entry *e;
	char *path;
	int err;

	if (i >= 0)
		return cp->entries[i].name;
	cp->scratch[0] = '\0';
	err = cp->name_fn ? cp->name_fn(cp->ctx, q->proc_root, q->pid, c, cp->scratch,
					sizeof(cp->scratch))
			  : -ENOENT;
	if (err)
		cp->scratch[0] = '\0';
	if (err && err != -ENOENT)
		return cp->scratch;
	path = strdup(q->cgroup_path);
	if (!path || hashtab__reserve(&cp->index, cp->index.len + 1)) {
		free(path);
		return NULL;
	}
	if (cp->n < CGROUP_CACHE_CAP) {
		i = cp->n++;
	} else {
		i = cp->next;
		cp->next = (cp->next + 1) % CGROUP_CACHE_CAP;
		e = &cp->entries[i];
		hashtab__remove(&cp->index, hash_bytes(e->path, strlen(e->path), 0), i);
		free(e->path);
	}
	e = &cp->entries[i];
	e->path = path;
	memcpy(e->name, cp->scratch, sizeof(e->name));
	hashtab__insert(&cp->index, h, i);
	return e->name;
}

static int container_lookup(void *priv, const struct label_query *q, struct service_info *si)
{
	struct container_provider *cp = priv;
	struct container_cache *cc = cp->cc ? cp->cc : container_cache__default();
	const struct container_meta *m;
	char service[SERVICE_NAME_MAX];
	struct container_ref c;
	const char *name;
	bool found = cgroup_file_container(q->cgroup, q->cgroup_path, &c);

	if (c.pod_uid[0])
		service_info__add(si, "pod_uid", c.pod_uid);
	if (!found)
		return 0;
	service_info__add(si, "container_id", c.id);
	if (cp->name_fn) {
		name = container_name(cp, q, &c);
		if (!name)
			return -ENOMEM;
		service_info__propose(si, name[0] ? name : q->exe[0] ? q->exe : c.id);
		return 0;
	}
	if (!cc || container_cache__lookup(cc, &c, q->cgroup_path, q->pid, &m))
		return -ENOMEM;
	/* Only what the files say: a label is left out, never empty or guessed. */
	if (m->name[0])
		service_info__add(si, "container", m->name);
	if (m->pod[0])
		service_info__add(si, "pod", m->pod);
	if (m->namespace[0])
		service_info__add(si, "namespace", m->namespace);
	container_service_name(m, service, sizeof(service));
	service_info__propose(si, service[0] ? service : q->exe[0] ? q->exe : c.id);
	return 0;
}

static void container_free(void *priv)
{
	struct container_provider *cp = priv;

	for (size_t i = 0; i < cp->n; i++)
		free(cp->entries[i].path);
	free(cp->entries);
	hashtab__fini(&cp->index);
	free(cp);
}

int label_provider_container(container_name_fn name_fn, void *ctx, struct label_provider *out)
{
	struct container_provider *cp = calloc(1, sizeof(*cp));

	if (!cp || !(cp->entries = calloc(CGROUP_CACHE_CAP, sizeof(*cp->entries)))) {
		free(cp);
		return -ENOMEM;
	}
	cp->name_fn = name_fn;
	cp->ctx = ctx;
	*out = (struct label_provider){
		.name = "container", .lookup = container_lookup, .free = container_free, .priv = cp
	};
	return 0;
}

/* ---- systemd and exe ---- */

static int systemd_lookup(void *priv, const struct label_query *q, struct service_info *si)
{
	char comp[256], unit[256] = "", last[256] = "";
	const char *p = q->cgroup_path;

	while (path_next_component(&p, comp, sizeof(comp))) {
		if (str_has_suffix(comp, ".service"))
			memcpy(unit, comp, sizeof(unit));
		memcpy(last, comp, sizeof(last));
	}
	if (!unit[0] || !strcmp(last, "init.scope"))
		return 0;
	/* Below the user manager, a scope or slice is the user's app, not user@UID. */
	if (!strncmp(unit, "user@", 5) && strcmp(last, unit))
		return 0;
	service_info__add(si, "systemd_unit", unit);
	unit[strlen(unit) - strlen(".service")] = '\0';
	service_info__propose(si, unit);
	return 0;
}

void label_provider_systemd(struct label_provider *out)
{
	*out = (struct label_provider){ .name = "systemd", .lookup = systemd_lookup };
}

static int exe_lookup(void *priv, const struct label_query *q, struct service_info *si)
{
	service_info__propose(si, q->exe);
	return 0;
}

void label_provider_exe(struct label_provider *out)
{
	*out = (struct label_provider){ .name = "exe", .lookup = exe_lookup };
}

/* ---- the providers and the process cache ---- */

/*
 * Processes share their answers: a service_info is about 1.3 KB, and the
 * cache holds thousands of processes of a few services.  Each distinct
 * answer is kept once, counted by the entries that hold it.
 */
struct shared_info {
	struct service_info si;
	uint32_t refs;
};

struct pentry {
	int pid; /* 0: free */
	uint64_t start;
	uint32_t prev, next; /* use order, most recent first */
	struct shared_info *info;
};

struct label_providers {
	char *proc_root;
	struct label_provider *p;
	size_t np;
	struct pentry *e;
	struct shared_info **infos; /* the distinct answers */
	size_t ninfos, infos_cap;
	struct service_info scratch;
	size_t cap, used;
	uint32_t head, tail, free_list; /* free_list chained through next */
	struct hashtab index;
	struct label_stats st;
	char cgroup[CGROUP_READ_MAX];
};

static bool pid_eq(const void *ctx, size_t idx, const void *key)
{
	const struct label_providers *lp = ctx;

	return lp->e[idx].pid == *(const int *)key;
}

static void unlink_entry(struct label_providers *lp, uint32_t i)
{
	struct pentry *e = &lp->e[i];

	if (e->prev != NONE)
		lp->e[e->prev].next = e->next;
	else
		lp->head = e->next;
	if (e->next != NONE)
		lp->e[e->next].prev = e->prev;
	else
		lp->tail = e->prev;
}

static void push_front(struct label_providers *lp, uint32_t i)
{
	struct pentry *e = &lp->e[i];

	e->prev = NONE;
	e->next = lp->head;
	if (lp->head != NONE)
		lp->e[lp->head].prev = i;
	lp->head = i;
	if (lp->tail == NONE)
		lp->tail = i;
}

static bool same_info(const struct service_info *a, const struct service_info *b)
{
	if (strcmp(a->service, b->service) || a->nlabels != b->nlabels)
		return false;
	for (int i = 0; i < a->nlabels; i++)
		if (strcmp(a->labels[i].name, b->labels[i].name) ||
		    strcmp(a->labels[i].value, b->labels[i].value))
			return false;
	return true;
}

static void release_info(struct label_providers *lp, struct shared_info *sh)
{
	if (!sh || --sh->refs)
		return;
	for (size_t i = 0; i < lp->ninfos; i++) {
		if (lp->infos[i] == sh) {
			lp->infos[i] = lp->infos[--lp->ninfos];
			break;
		}
	}
	free(sh);
}

/* si's answer, kept once; NULL without memory. */
static struct shared_info *share_info(struct label_providers *lp, const struct service_info *si)
{
	struct shared_info *sh;

	for (size_t i = 0; i < lp->ninfos; i++) {
		if (same_info(&lp->infos[i]->si, si)) {
			lp->infos[i]->refs++;
			return lp->infos[i];
		}
	}
	if (lp->ninfos == lp->infos_cap) {
		size_t cap = lp->infos_cap ? lp->infos_cap * 2 : 16;
		struct shared_info **p = realloc(lp->infos, cap * sizeof(*p));

		if (!p)
			return NULL;
		lp->infos = p;
		lp->infos_cap = cap;
	}
	sh = malloc(sizeof(*sh));
	if (!sh)
		return NULL;
	sh->si = *si;
	/* The labels point into the answer's own buffer: into the copy's now. */
	for (int i = 0; i < si->nlabels; i++) {
		sh->si.labels[i].name = sh->si.buf + (si->labels[i].name - si->buf);
		sh->si.labels[i].value = sh->si.buf + (si->labels[i].value - si->buf);
	}
	sh->refs = 1;
	lp->infos[lp->ninfos++] = sh;
	return sh;
}

static void drop_entry(struct label_providers *lp, uint32_t i)
{
	release_info(lp, lp->e[i].info);
	lp->e[i].info = NULL;
	unlink_entry(lp, i);
	hashtab__remove(&lp->index, hash_u64(lp->e[i].pid), i);
	lp->e[i].pid = 0;
	lp->e[i].next = lp->free_list;
	lp->free_list = i;
	lp->st.cached--;
}

struct label_providers *label_providers__new_with(const char *proc_root, size_t cache_cap,
						  const struct label_provider *p, size_t n)
{
	struct label_providers *lp = calloc(1, sizeof(*lp));

	if (!cache_cap)
		cache_cap = DEFAULT_CACHE_CAP;
	if (!lp || !(lp->proc_root = strdup(proc_root)) || !(lp->p = calloc(n, sizeof(*p))) ||
	    !(lp->e = calloc(cache_cap, sizeof(*lp->e))) ||
	    hashtab__reserve(&lp->index, cache_cap)) {
		pr_warn("service labels: out of memory\n");
		if (lp) {
			free(lp->proc_root);
			free(lp->p);
			free(lp->e);
			hashtab__fini(&lp->index);
			free(lp);
		}
		for (size_t i = 0; i < n; i++)
			if (p[i].free)
				p[i].free(p[i].priv);
		return NULL;
	}
	memcpy(lp->p, p, n * sizeof(*p));
	lp->np = n;
	lp->cap = cache_cap;
	lp->head = lp->tail = lp->free_list = NONE;
	return lp;
}

struct label_providers *label_providers__new(const char *proc_root, size_t cache_cap)
{
	struct label_provider p[3];

	if (label_provider_container(NULL, NULL, &p[0])) {
		pr_warn("service labels: out of memory\n");
		return NULL;
	}
	label_provider_systemd(&p[1]);
	label_provider_exe(&p[2]);
	return label_providers__new_with(proc_root, cache_cap, p, 3);
}

void label_providers__free(struct label_providers *lp)
{
	if (!lp)
		return;
	for (size_t i = 0; i < lp->np; i++)
		if (lp->p[i].free)
			lp->p[i].free(lp->p[i].priv);
	free(lp->p);
	for (size_t i = 0; i < lp->ninfos; i++)
		free(lp->infos[i]);
	free(lp->infos);
	free(lp->e);
	hashtab__fini(&lp->index);
	free(lp->proc_root);
	free(lp);
}

/* Reads proc_root/PID/cgroup into lp->cgroup ("" when gone) and returns its path. */
static const char *read_cgroup(struct label_providers *lp, int pid, char *path, size_t size)
{
	const char *line, *end, *colon, *v1 = NULL, *v2 = NULL, *v1end = NULL, *v2end = NULL;
	static const char systemd[] = "name=systemd:";
	ssize_t n = 0, r;
	char file[4096];
	int fd;

	lp->cgroup[0] = '\0';
	path[0] = '\0';
	snprintf(file, sizeof(file), "%s/%d/cgroup", lp->proc_root, pid);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return path;
	while (n < CGROUP_READ_MAX - 1 &&
	       (r = read(fd, lp->cgroup + n, CGROUP_READ_MAX - 1 - n)) > 0)
		n += r;
	close(fd);
	lp->cgroup[n] = '\0';
	for (line = lp->cgroup; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		colon = memchr(line, ':', end - line);
		if (!strncmp(line, "0::", 3)) {
			v2 = line + 3;
			v2end = end;
		} else if (colon && (size_t)(end - colon - 1) >= strlen(systemd) &&
			   !strncmp(colon + 1, systemd, strlen(systemd))) {
			v1 = colon + 1 + strlen(systemd);
			v1end = end;
		}
	}
	/* Hybrid hosts keep "0::/" while systemd's v1 hierarchy has the path. */
	if (v1 && (!v2 || (v2end - v2 == 1 && *v2 == '/'))) {
		v2 = v1;
		v2end = v1end;
	}
	if (v2)
		snprintf(path, size, "%.*s", (int)(v2end - v2), v2);
	return path;
}

static void resolve(struct label_providers *lp, int pid, const char *exe, struct service_info *si)
{
	char path[4096], name[SERVICE_NAME_MAX];
	const char *base = exe ? strrchr(exe, '/') : NULL;
	struct label_query q = { .pid = pid, .proc_root = lp->proc_root };

	snprintf(name, sizeof(name), "%s", base ? base + 1 : exe ? exe : "");
	memset(si, 0, sizeof(*si));
	q.cgroup_path = read_cgroup(lp, pid, path, sizeof(path));
	q.cgroup = lp->cgroup;
	q.exe = name;
	for (size_t i = 0; i < lp->np; i++)
		lp->p[i].lookup(lp->p[i].priv, &q, si);
	service_info__propose(si, "unknown");
}

int label_providers__lookup(struct label_providers *lp, int pid, uint64_t start_time,
			    const char *exe, const struct service_info **out)
{
	uint64_t h = hash_u64(pid);
	long i = hashtab__find(&lp->index, h, pid_eq, lp, &pid);
	struct pentry *e;

	lp->st.lookups++;
	if (i >= 0) {
		e = &lp->e[i];
		unlink_entry(lp, i);
		push_front(lp, i);
		if (e->start == start_time && e->info) {
			lp->st.hits++;
		} else {
			lp->st.reused++;
			e->start = start_time;
			resolve(lp, pid, exe, &lp->scratch);
			release_info(lp, e->info);
			e->info = share_info(lp, &lp->scratch);
			if (!e->info) {
				*out = &lp->scratch; /* good until the next lookup */
				return 0;
			}
		}
		*out = &e->info->si;
		return 0;
	}
	if (lp->free_list != NONE) {
		i = lp->free_list;
		lp->free_list = lp->e[i].next;
	} else if (lp->used < lp->cap) {
		i = lp->used++;
	} else {
		i = lp->tail;
		drop_entry(lp, i);
		lp->free_list = lp->e[i].next;
		lp->st.evictions++;
	}
	e = &lp->e[i];
	resolve(lp, pid, exe, &lp->scratch);
	e->info = share_info(lp, &lp->scratch);
	if (!e->info || hashtab__insert(&lp->index, h, i)) {
		/* Without memory: the answer, not kept; never leak the slot. */
		release_info(lp, e->info);
		e->info = NULL;
		e->pid = 0;
		e->next = lp->free_list;
		lp->free_list = i;
		*out = &lp->scratch;
		return 0;
	}
	e->pid = pid;
	e->start = start_time;
	push_front(lp, i);
	lp->st.cached++;
	*out = &e->info->si;
	return 0;
}

void label_providers__forget(struct label_providers *lp, int pid)
{
	long i = hashtab__find(&lp->index, hash_u64(pid), pid_eq, lp, &pid);

	if (i >= 0)
		drop_entry(lp, i);
}

void label_providers__stats(const struct label_providers *lp, struct label_stats *out)
{
	*out = lp->st;
}

static bool name_char(char c, bool first)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (!first && c >= '0' && c <= '9');
}

int label_parse_spec(const char *spec, char *name, size_t nlen, char *value, size_t vlen)
{
	const char *eq = strchr(spec, '=');
	size_t len = eq ? (size_t)(eq - spec) : 0;
	const char *why = NULL;

	if (!eq || len == 0)
		why = "not name=value";
	else if (!eq[1])
		why = "an empty value";
	for (size_t i = 0; !why && i < len; i++)
		if (!name_char(spec[i], i == 0))
			why = "a label name is [a-zA-Z_][a-zA-Z0-9_]*";
	if (!why && len >= 2 && spec[0] == '_' && spec[1] == '_')
		why = "names starting with __ are reserved";
	else if (!why && len == strlen("service_name") && !strncmp(spec, "service_name", len))
		why = "service_name is set per service";
	else if (!why && len == strlen("node") && !strncmp(spec, "node", len))
		why = "use --node";
	else if (!why && (len >= nlen || strlen(eq + 1) >= vlen))
		why = "too long";
	if (why) {
		pr_warn("--label %s: %s\n", spec, why);
		return -EINVAL;
	}
	memcpy(name, spec, len);
	name[len] = '\0';
	strcpy(value, eq + 1);
	return 0;
}
