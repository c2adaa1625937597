// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's capture: drains by generation, the history of per-second
 * slots, the running totals of Go's cumulative profiles, the services, and
 * profiles built from them (agent.h).
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/agent.h"
#include "agent/stackcache.h"
#include "capture/capture.h"
#include "capture/session.h"
#include "capture/stacks.h"
#include "proc/procs.h"
#include "symbolize/symbolize.h"
#include "unwind/unwinder.h"
#include "profile/profile.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/util.h"

/* One aggregate of one drain: the BPF key (its generation zeroed) and value. */
struct rec {
	uint16_t type;
	uint16_t pad;
	uint32_t service;
	uint8_t key[AGENT_KEY_MAX];
	uint64_t val[AGENT_VAL_WORDS];
};

/* What one drain took: the time since the previous one. */
struct slot {
	int64_t from_mono, to_mono, from_wall, to_wall;
	struct rec *recs;
	size_t n;
	uint64_t counters[CNT__MAX];
};

/* A running total since the start (block, mutex, allocs), as Go keeps them. */
struct cum {
	struct rec r;
	uint32_t used_s;
	bool live;
};

/* An ELF file no symbol lookup used for this long is closed. */
#define SYMBOLS_IDLE_S 60

/* Drains (seconds) between two fresh starts of the pid → service cache. */
#define PID_CACHE_S 60

struct agent {
	struct session *s;
	struct agent_type *types;
	int ntypes;
	struct agent_limits lim;
	agent_service_fn service_fn;
	void *service_ctx;
	struct stack_cache *stacks;
	int stacks_fd;
	uint32_t gen;
	int64_t start_mono, last_mono, last_wall;
	uint64_t last_counters[CNT__MAX];

	struct slot *slots; /* a ring: slots[(head + i) % cap], i < nslots */
	size_t head, nslots, cap;
	size_t slot_bytes;

	struct cum *cums;
	size_t ncums, cums_cap;
	struct hashtab cum_index;

	struct agent_service *services;
	size_t nservices, services_cap;
	struct hashtab service_index;
	/*
	 * pid → service.  Providers are asked once a pid per drain, or once
	 * per process where the session knows it: the answer then holds while
	 * its record's first_at does (an exec or a new process under the pid
	 * resets it).  Started afresh every PID_CACHE_S, which bounds it.
	 */
	struct pid_service {
		int pid;
		uint32_t service;
		int64_t first_at; /* of the process record; 0: this drain only */
		uint32_t drain;
	} * pid_cache;
	size_t npid_cache, pid_cache_cap;
	struct hashtab pid_index;
	uint32_t drains, pid_cache_from;

	void *keys, *vals; /* drain buffers */
	size_t buf_entries;
	struct agent_stats st;
};

static uint32_t now_s(const struct agent *a)
{
	return (uint32_t)((mono_ns() - a->start_mono) / 1000000000LL) + 1;
}

int agent__ntypes(const struct agent *a)
{
	return a->ntypes;
}

const struct agent_type *agent__type(const struct agent *a, int i)
{
	return i >= 0 && i < a->ntypes ? &a->types[i] : NULL;
}

int agent__find_type(const struct agent *a, const char *name)
{
	int i;

	for (i = 0; i < a->ntypes; i++)
		if (!strcmp(a->types[i].agent->go_name, name) ||
		    !strcmp(a->types[i].agent->name, name))
			return i;
	return -1;
}

const struct agent_service *agent__service(const struct agent *a, uint32_t i)
{
	return i < a->nservices ? &a->services[i] : NULL;
}

int64_t agent__last_drain(const struct agent *a)
{
	return a->last_mono;
}

/* --- services --- */

static uint64_t service_hash(const char *name, int n, const char *const *k, const char *const *v)
{
	uint64_t h = hash_bytes(name, strlen(name), 0);
	int i;

	for (i = 0; i < n; i++) {
		h = hash_bytes(k[i], strlen(k[i]), h);
		h = hash_bytes(v[i], strlen(v[i]), h);
	}
	return h;
}

struct service_key {
	const char *name;
	int n;
	const char *const *k, *const *v;
};

static bool service_eq(const void *ctx, size_t idx, const void *key)
{
	const struct agent *a = ctx;
	const struct agent_service *sv = &a->services[idx];
	const struct service_key *sk = key;
	int i;

	if (!sv->name || strcmp(sv->name, sk->name) || sv->nlabels != sk->n)
		return false;
	for (i = 0; i < sk->n; i++)
		if (strcmp(sv->label_names[i], sk->k[i]) || strcmp(sv->label_values[i], sk->v[i]))
			return false;
	return true;
}

/* The index of a service, interned; UINT32_MAX when out of memory. */
static uint32_t intern_service(struct agent *a, const char *name, int n, const char *const *k,
			       const char *const *v)
{
	struct service_key sk = { name, n, k, v };
	uint64_t h = service_hash(name, n, k, v);
	struct agent_service *sv;
	long i = hashtab__find(&a->service_index, h, service_eq, a, &sk);
	size_t cap;
	int j;

	if (i >= 0) {
		a->services[i].used_s = now_s(a);
		return i;
	}
	if (a->nservices == a->services_cap) {
		cap = a->services_cap ? a->services_cap * 2 : 64;
		sv = realloc(a->services, cap * sizeof(*sv));
		if (!sv)
			return UINT32_MAX;
		a->services = sv;
		a->services_cap = cap;
	}
	sv = &a->services[a->nservices];
	memset(sv, 0, sizeof(*sv));
	sv->name = strdup(name);
	for (j = 0; j < n && j < AGENT_MAX_SERIES_LABELS; j++) {
		sv->label_names[j] = strdup(k[j]);
		sv->label_values[j] = strdup(v[j]);
		sv->nlabels++;
		if (!sv->label_names[j] || !sv->label_values[j])
			sv->name = NULL; /* leaks a little, once, when out of memory */
	}
	if (!sv->name || hashtab__insert(&a->service_index, h, a->nservices))
		return UINT32_MAX;
	sv->used_s = now_s(a);
	return a->nservices++;
}

static bool pid_eq(const void *ctx, size_t idx, const void *key)
{
	const struct agent *a = ctx;

	return a->pid_cache[idx].pid == *(const int *)key;
}

/* The service of pid's samples. */
static uint32_t service_of(struct agent *a, int pid)
{
	const char *k[AGENT_MAX_SERIES_LABELS], *v[AGENT_MAX_SERIES_LABELS];
	const char *exe = session__process_name(a->s, pid), *name = NULL;
	uint64_t h = hash_u64(pid);
	long i = hashtab__find(&a->pid_index, h, pid_eq, a, &pid);
	uint32_t id;
	size_t cap;
	int n = 0;

	const struct pproc *p = proctab__find(a->s->procs_tab, pid);
	int64_t first_at = p ? p->first_at : 0;
	struct pid_service *e = i >= 0 ? &a->pid_cache[i] : NULL;

	if (e && (e->drain == a->drains || (first_at && e->first_at == first_at)))
		return e->service;
	/* One found gone has nothing left to ask (procfs) about. */
	if (a->service_fn && !(p && p->exited) &&
	    a->service_fn(a->service_ctx, pid, exe, &name, &n, k, v) == 0 && name) {
		id = intern_service(a, name, n, k, v);
	} else {
		/* Gone before it could be asked about: its executable still names it. */
		id = intern_service(a, exe && *exe ? exe : "unknown", 0, k, v);
	}
	if (e) {
		*e = (struct pid_service){ pid, id, first_at, a->drains };
		return id;
	}
	if (a->npid_cache == a->pid_cache_cap) {
		cap = a->pid_cache_cap ? a->pid_cache_cap * 2 : 256;
		struct pid_service *p = realloc(a->pid_cache, cap * sizeof(*p));

		if (!p)
			return id;
		a->pid_cache = p;
		a->pid_cache_cap = cap;
	}
	if (hashtab__insert(&a->pid_index, h, a->npid_cache) == 0)
		a->pid_cache[a->npid_cache++] =
			(struct pid_service){ pid, id, first_at, a->drains };
	return id;
}

/* --- the start --- */

static int map_sizes(int fd, size_t *key_size, size_t *value_size)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*key_size = info.key_size;
	*value_size = info.value_size;
	if (info.key_size < sizeof(struct stack_key) || info.key_size > AGENT_KEY_MAX ||
	    info.value_size > AGENT_VAL_WORDS * sizeof(uint64_t) || info.value_size % 8)
		return -EINVAL;
	return 0;
}

struct agent *agent__start(struct session *s, struct agent_type *types, int n,
			   const struct agent_limits *lim, agent_service_fn service_fn,
			   void *service_ctx, int *err)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct bpf_map *stacks;
	int i, ret = 0;

	if (!a) {
		*err = -ENOMEM;
		return NULL;
	}
	a->s = s;
	a->types = types;
	a->lim = *lim;
	a->service_fn = service_fn;
	a->service_ctx = service_ctx;
	a->cap = lim->history_s + 2;
	a->slots = calloc(a->cap, sizeof(*a->slots));
	a->stacks = stack_cache__new(lim->stack_bytes);
	a->buf_entries = 256;
	a->keys = malloc(a->buf_entries * AGENT_KEY_MAX);
	a->vals = malloc(a->buf_entries * AGENT_VAL_WORDS * sizeof(uint64_t));
	if (!a->slots || !a->stacks || !a->keys || !a->vals) {
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		ret = types[i].agent->start(s, types[i].opts, &types[i].cap);
		if (ret)
			goto fail;
		a->ntypes = i + 1;
		/* The first type set the session up; the others share its maps. */
		if (!s->shared_obj)
			s->shared_obj = types[i].cap.obj;
		ret = map_sizes(types[i].cap.counts_fd, &types[i].key_size, &types[i].value_size);
		if (ret) {
			pr_warn("agent: %s: unexpected aggregation map\n", types[i].agent->name);
			goto fail;
		}
	}
	stacks = bpf_object__find_map_by_name(s->shared_obj, "stacks");
	if (!stacks) {
		ret = -ENOENT;
		goto fail;
	}
	a->stacks_fd = bpf_map__fd(stacks);
	/* Launched commands aside, the session starts no target: its clock starts here. */
	s->start_mono = mono_ns();
	s->start_wall = wall_ns();
	a->start_mono = a->last_mono = s->start_mono;
	a->last_wall = s->start_wall;
	return a;
fail:
	*err = ret;
	agent__free(a);
	return NULL;
}

void agent__detach(struct agent *a)
{
	int i;

	for (i = 0; i < a->ntypes; i++)
		capture_detach(&a->types[i].cap.links);
}

static void slot_free(struct slot *sl)
{
	free(sl->recs);
	memset(sl, 0, sizeof(*sl));
}

void agent__free(struct agent *a)
{
	size_t i;
	int j;

	if (!a)
		return;
	/* The unwinder writes to the shared maps: it goes before the objects. */
	unwinder__free(a->s->unwinder);
	a->s->unwinder = NULL;
	for (j = 0; j < a->ntypes; j++)
		agent_capture__free(&a->types[j].cap);
	for (i = 0; i < a->cap && a->slots; i++)
		slot_free(&a->slots[i]);
	free(a->slots);
	free(a->cums);
	hashtab__fini(&a->cum_index);
	for (i = 0; i < a->nservices; i++) {
		free(a->services[i].name);
		for (j = 0; j < a->services[i].nlabels; j++) {
			free(a->services[i].label_names[j]);
			free(a->services[i].label_values[j]);
		}
	}
	free(a->services);
	hashtab__fini(&a->service_index);
	free(a->pid_cache);
	hashtab__fini(&a->pid_index);
	stack_cache__free(a->stacks);
	free(a->keys);
	free(a->vals);
	free(a);
}

/* --- the drain --- */

/*
 * Waits until every BPF program that may have read the old generation has
 * returned: they run under RCU (tracepoints, perf events), so one grace
 * period is enough, and MEMBARRIER_CMD_GLOBAL waits for one.
 */
static void wait_for_programs(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		usleep(20000); /* nohz_full refuses it: a grace period is far shorter */
}

static struct slot *slot_at(struct agent *a, size_t i)
{
	return &a->slots[(a->head + i) % a->cap];
}

static void drop_oldest_slot(struct agent *a)
{
	struct slot *sl = slot_at(a, 0);

	a->slot_bytes -= sl->n * sizeof(struct rec);
	slot_free(sl);
	a->head = (a->head + 1) % a->cap;
	a->nslots--;
}

static int slot_add(struct slot *sl, size_t *cap, const struct rec *r)
{
	struct rec *p;

	if (sl->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		p = realloc(sl->recs, *cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		sl->recs = p;
	}
	sl->recs[sl->n++] = *r;
	return 0;
}

static uint64_t rec_hash(const struct rec *r, size_t key_size)
{
	return hash_bytes(r->key, key_size, ((uint64_t)r->type << 32) | r->service);
}

struct cum_key {
	const struct rec *r;
	size_t key_size;
};

static bool cum_eq(const void *ctx, size_t idx, const void *key)
{
	const struct agent *a = ctx;
	const struct cum_key *k = key;
	const struct rec *c = &a->cums[idx].r;

	return c->type == k->r->type && c->service == k->r->service &&
	       !memcmp(c->key, k->r->key, k->key_size);
}

/* Adds r to the running total of its key. */
static void cum_add(struct agent *a, const struct rec *r, uint32_t now)
{
	size_t ks = a->types[r->type].key_size;
	struct cum_key k = { r, ks };
	uint64_t h = rec_hash(r, ks);
	long i = hashtab__find(&a->cum_index, h, cum_eq, a, &k);
	size_t cap;
	int w;

	if (i >= 0) {
		for (w = 0; w < AGENT_VAL_WORDS; w++)
			a->cums[i].r.val[w] += r->val[w];
		a->cums[i].used_s = now;
		return;
	}
	if ((a->ncums + 1) * (sizeof(struct cum) + 16) > a->lim.cumulative_bytes) {
		a->st.cumulative_dropped_full++;
		return;
	}
	if (a->ncums == a->cums_cap) {
		cap = a->cums_cap ? a->cums_cap * 2 : 256;
		struct cum *p = realloc(a->cums, cap * sizeof(*p));

		if (!p) {
			a->st.cumulative_dropped_full++;
			return;
		}
		a->cums = p;
		a->cums_cap = cap;
	}
	if (hashtab__insert(&a->cum_index, h, a->ncums)) {
		a->st.cumulative_dropped_full++;
		return;
	}
	a->cums[a->ncums++] = (struct cum){ .r = *r, .used_s = now, .live = true };
}

/* Reads type t's entries of generation old into sl, then deletes them. */
static int drain_type(struct agent *a, int t, uint32_t old, struct slot *sl, size_t *cap,
		      uint32_t now)
{
	struct agent_type *ty = &a->types[t];
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint8_t *dels = NULL;
	size_t ndels = 0, dels_cap = 0, ks = ty->key_size, vs = ty->value_size;
	uint64_t in = 0, out = 0;
	__u32 count, i, ndel;
	bool first = true, done = false;
	struct rec r;
	int err = 0;

	while (!done) {
		count = a->buf_entries;
		err = bpf_map_lookup_batch(ty->cap.counts_fd, first ? NULL : &in, &out, a->keys,
					   a->vals, &count, &opts);
		if (err) {
			err = -errno;
			if (err != -ENOENT)
				break;
			err = 0;
			done = true;
		}
		first = false;
		in = out;
		for (i = 0; i < count; i++) {
			uint8_t *key = (uint8_t *)a->keys + (size_t)i * ks;
			struct stack_key *sk = (struct stack_key *)key;

			if (sk->gen != old)
				continue;
			if (ndels == dels_cap) {
				dels_cap = dels_cap ? dels_cap * 2 : 256;
				uint8_t *p = realloc(dels, dels_cap * ks);

				if (!p) {
					err = -ENOMEM;
					goto out;
				}
				dels = p;
			}
			memcpy(dels + ndels++ * ks, key, ks);
			memset(&r, 0, sizeof(r));
			r.type = t;
			memcpy(r.key, key, ks);
			((struct stack_key *)r.key)->gen = 0;
			memcpy(r.val, (uint8_t *)a->vals + (size_t)i * vs, vs);
			r.service = service_of(a, sk->pid);
			stack_cache__touch(a->stacks, sk->user_stack, now);
			stack_cache__touch(a->stacks, sk->kern_stack, now);
			if (slot_add(sl, cap, &r)) {
				err = -ENOMEM;
				goto out;
			}
			if (ty->agent->cumulative)
				cum_add(a, &r, now);
		}
	}
	/* Nothing counts into these keys any more: delete them, in batches. */
	for (i = 0; i < ndels && !err; i += ndel) {
		ndel = ndels - i < 1024 ? ndels - i : 1024;
		if (bpf_map_delete_batch(ty->cap.counts_fd, dels + (size_t)i * ks, &ndel, &opts))
			err = -errno;
	}
out:
	free(dels);
	return err;
}

int agent__drain(struct agent *a)
{
	uint32_t old = a->gen, now = now_s(a);
	int64_t t0 = mono_ns();
	struct slot sl = { 0 };
	uint64_t c[CNT__MAX];
	size_t cap = 0;
	int i, err = 0, ret;

	a->gen ^= 1;
	for (i = 0; i < a->ntypes; i++)
		*a->types[i].cap.gen = a->gen;
	wait_for_programs();
	sl.from_mono = a->last_mono;
	sl.from_wall = a->last_wall;
	sl.to_mono = mono_ns();
	sl.to_wall = wall_ns();
	/* Every stack the old generation's aggregates name is in the map now. */
	ret = stack_cache__drain(a->stacks, a->stacks_fd, now);
	if (ret < 0)
		err = ret;
	if (++a->drains - a->pid_cache_from >= PID_CACHE_S) {
		a->pid_cache_from = a->drains;
		a->npid_cache = 0;
		hashtab__fini(&a->pid_index);
	}
	for (i = 0; i < a->ntypes; i++) {
		ret = drain_type(a, i, old, &sl, &cap, now);
		if (ret && !err)
			err = ret;
	}
	if (session__counters(a->s, c) == 0) {
		for (i = 0; i < CNT__MAX; i++) {
			sl.counters[i] = c[i] - a->last_counters[i];
			a->st.counters[i] = c[i];
		}
		memcpy(a->last_counters, c, sizeof(c));
	}
	a->last_mono = sl.to_mono;
	a->last_wall = sl.to_wall;
	if (a->nslots == a->cap)
		drop_oldest_slot(a);
	*slot_at(a, a->nslots++) = sl;
	a->slot_bytes += sl.n * sizeof(struct rec);
	while (a->slot_bytes > a->lim.history_bytes && a->nslots > 1) {
		a->st.records_dropped += slot_at(a, 0)->n;
		drop_oldest_slot(a);
	}
	a->st.drains++;
	a->st.records += sl.n;
	if (err)
		a->st.drain_errors++;
	a->st.last_drain_ms = (mono_ns() - t0) / 1e6;
	return err;
}

/* --- expiry --- */

static void expire_cumulative(struct agent *a, uint32_t before)
{
	size_t i, j = 0;
	int err = 0;

	for (i = 0; i < a->ncums; i++) {
		if (a->cums[i].used_s < before) {
			a->st.cumulative_dropped_idle++;
			continue;
		}
		a->cums[j++] = a->cums[i];
	}
	if (j == a->ncums)
		return;
	a->ncums = j;
	/* Rebuilt rather than patched: this runs every few seconds at most. */
	hashtab__fini(&a->cum_index);
	for (i = 0; i < a->ncums && !err; i++)
		err = hashtab__insert(&a->cum_index,
				      rec_hash(&a->cums[i].r, a->types[a->cums[i].r.type].key_size),
				      i);
}

void agent__expire(struct agent *a)
{
	uint32_t now = now_s(a), keep;
	int64_t oldest = mono_ns() - (int64_t)a->lim.history_s * 1000000000LL;
	size_t i;

	while (a->nslots && slot_at(a, 0)->to_mono < oldest)
		drop_oldest_slot(a);
	if (now > (uint32_t)a->lim.cumulative_idle_s)
		expire_cumulative(a, now - a->lim.cumulative_idle_s);
	/* Cumulative entries and slots keep touching the stacks they name. */
	for (i = 0; i < a->ncums; i++) {
		const struct stack_key *sk = (const struct stack_key *)a->cums[i].r.key;

		stack_cache__touch(a->stacks, sk->user_stack, a->cums[i].used_s);
		stack_cache__touch(a->stacks, sk->kern_stack, a->cums[i].used_s);
	}
	keep = (a->lim.history_s > a->lim.cumulative_idle_s ? a->lim.history_s
							    : a->lim.cumulative_idle_s) +
	       5;
	if (now > keep)
		stack_cache__expire(a->stacks, now - keep);
	else
		stack_cache__expire(a->stacks, 0);
	/*
	 * Processes gone: their symbols are needed while a slot or a running
	 * total may hold their samples, not after; and never more than the
	 * limit.  Their files (and the symbol tables read from them) go with
	 * the last process that maps them.
	 */
	a->st.processes_forgotten +=
		proctab__evict_gone(a->s->procs_tab, mono_ns() - (int64_t)keep * 1000000000LL);
	proctab__evict(a->s->procs_tab, a->lim.proc_bytes);
	symbolizer__jit_forget_gone(a->s->sym);
	/*
	 * Symbols of files no profile asked for lately: a host runs many
	 * programs over a day, the agent keeps the symbols of those it sees
	 * now (an ELF file's mapping and libdw's data are most of a file's).
	 */
	a->st.symbol_files_closed +=
		symbolizer__close_idle(a->s->sym, mono_ns() - SYMBOLS_IDLE_S * 1000000000LL);
	/*
	 * Builds and drains free as much as they take; glibc keeps freed
	 * memory in its arenas unless asked, and a long-running agent's RSS
	 * is what its users watch.
	 */
	malloc_trim(0);
}

void agent__stats(struct agent *a, struct agent_stats *out)
{
	size_t i;

	a->st.history_slots = a->nslots;
	a->st.history_bytes = a->slot_bytes;
	a->st.cumulative_entries = a->ncums;
	a->st.cumulative_bytes = a->ncums * (sizeof(struct cum) + 16);
	a->st.services = a->nservices;
	a->st.symbol_files = symbolizer__open_files(a->s->sym);
	*out = a->st;
	(void)i;
}

void agent__stack_stats(const struct agent *a, struct stack_cache_stats *out)
{
	stack_cache__stats(a->stacks, out);
}

/* --- building profiles --- */

static int cache_lookup(void *ctx, __u64 id, struct stack_trace *st)
{
	return stack_cache__get(ctx, id, st);
}

/* A profile being built: one per (type, service). */
struct build {
	int type;
	uint32_t service;
	struct sample_sink k;
};

struct build_set {
	struct agent *a;
	const struct agent_window *w;
	struct build *b;
	size_t n, cap;
	int64_t from_wall, to_wall;
};

static struct build *build_for(struct build_set *bs, int type, uint32_t service)
{
	struct agent *a = bs->a;
	const struct agent_capture *c = &a->types[type].cap;
	struct build *b;
	size_t i;
	int j, err = 0;

	for (i = 0; i < bs->n; i++)
		if (bs->b[i].type == type && bs->b[i].service == service)
			return &bs->b[i];
	if (bs->n == bs->cap) {
		size_t cap = bs->cap ? bs->cap * 2 : 16;
		b = realloc(bs->b, cap * sizeof(*b));
		if (!b)
			return NULL;
		bs->b = b;
		bs->cap = cap;
	}
	b = &bs->b[bs->n];
	memset(b, 0, sizeof(*b));
	b->type = type;
	b->service = service;
	b->k.s = a->s;
	b->k.trim_tracing = c->trim_tracing;
	b->k.trim_lo = c->trim_lo;
	b->k.trim_hi = c->trim_hi;
	b->k.p = profile__new();
	if (!b->k.p)
		return NULL;
	for (j = 0; j < c->shape.ntypes && !err; j++)
		err = profile__add_sample_type(b->k.p, c->shape.types[j].type,
					       c->shape.types[j].unit);
	if (!err)
		err = profile__set_period(b->k.p, c->shape.period_type.type,
					  c->shape.period_type.unit, c->shape.period);
	if (!err && c->default_type)
		err = profile__set_default_sample_type(b->k.p, c->default_type);
	b->k.r = err ? NULL : stack_resolver__new(b->k.p, a->s->sym, -1);
	if (!b->k.r) {
		profile__free(b->k.p);
		return NULL;
	}
	stack_resolver__set_lookup(b->k.r, cache_lookup, a->stacks);
	b->k.p->time_nanos = bs->from_wall;
	b->k.p->duration_nanos = bs->to_wall - bs->from_wall;
	bs->n++;
	return b;
}

static int add_rec(struct build_set *bs, const struct rec *r, uint32_t service)
{
	struct agent *a = bs->a;
	const struct agent_capture *c = &a->types[r->type].cap;
	struct pf_label_desc extra[CAPTURE_MAX_EXTRA_LABELS];
	int64_t values[8] = { 0 };
	struct build *b = build_for(bs, r->type, service);
	int nextra;

	if (!b)
		return -ENOMEM;
	nextra = c->entry(r->key, r->val, values, extra, c->entry_arg);
	if (nextra < 0)
		return 0;
	return capture_add_sample(&b->k, (const struct stack_key *)r->key, values, extra, nextra);
}

static bool wanted(const struct agent *a, const struct rec *r, int type,
		   const struct agent_filter *service)
{
	const struct agent_service *sv;

	if (type >= 0 && r->type != type)
		return false;
	if (agent_filter__empty(service))
		return true;
	if (r->service >= a->nservices)
		return false;
	sv = &a->services[r->service];
	return agent_filter__match(service, sv->name, sv->nlabels, sv->label_names,
				   sv->label_values);
}

int agent__build(struct agent *a, const struct agent_window *w, int type,
		 const struct agent_filter *service, bool merge, agent_profile_fn fn, void *ctx)
{
	struct build_set bs = { .a = a, .w = w };
	size_t i, j;
	int err = 0, ret;

	if (w->cumulative) {
		bs.from_wall = a->s->start_wall;
		bs.to_wall = a->last_wall;
		for (i = 0; i < a->ncums && !err; i++)
			if (wanted(a, &a->cums[i].r, type, service))
				err = add_rec(&bs, &a->cums[i].r,
					      merge ? UINT32_MAX : a->cums[i].r.service);
	} else {
		bs.from_wall = bs.to_wall = 0;
		for (i = 0; i < a->nslots && !err; i++) {
			const struct slot *sl = slot_at(a, i);

			if (sl->to_mono <= w->from_mono || sl->to_mono > w->to_mono)
				continue;
			if (!bs.from_wall)
				bs.from_wall = sl->from_wall;
			bs.to_wall = sl->to_wall;
			for (j = 0; j < sl->n && !err; j++)
				if (wanted(a, &sl->recs[j], type, service))
					err = add_rec(&bs, &sl->recs[j],
						      merge ? UINT32_MAX : sl->recs[j].service);
		}
		/* build_for read the times before the last slot: set them for all. */
		for (i = 0; i < bs.n; i++) {
			bs.b[i].k.p->time_nanos = bs.from_wall;
			bs.b[i].k.p->duration_nanos = bs.to_wall - bs.from_wall;
		}
	}
	for (i = 0; i < bs.n; i++) {
		struct build *b = &bs.b[i];

		stack_resolver__free(b->k.r);
		if (err) {
			profile__free(b->k.p);
			continue;
		}
		/* A service's program first; a failure (no memory) leaves the order. */
		capture_lead_mapping(a->s, b->k.p);
		a->st.profiles_built++;
		ret = fn(ctx, b->type, b->service, b->k.p); /* fn owns the profile */
		if (ret && !err)
			err = ret;
	}
	free(bs.b);
	if (err)
		a->st.build_errors++;
	return err;
}

struct profile *agent__empty_profile(struct agent *a, int type, const struct agent_window *w)
{
	struct build_set bs = { .a = a, .w = w };
	struct build *b;
	struct profile *p;

	bs.from_wall = w->cumulative ? a->s->start_wall : a->last_wall;
	bs.to_wall = a->last_wall;
	b = build_for(&bs, type, 0);
	if (!b)
		return NULL;
	stack_resolver__free(b->k.r);
	p = b->k.p;
	free(bs.b);
	return p;
}
