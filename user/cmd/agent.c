// SPDX-License-Identifier: Apache-2.0
/*
 * bpfprof agent: continuous, whole-host profiling.  The profile types are
 * loaded once (agent/agent.c), drained each second into a short history,
 * and every interval each service's profile of each type goes to the sinks:
 * a directory, Grafana Pyroscope's push API, and Go's /debug/pprof
 * endpoints with /metrics on a listener.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/http.h"
#include "agent/labels.h"
#include "agent/outdir.h"
#include "agent/push.h"
#include "agent/stackcache.h"
#include "capture/capture.h"
#include "capture/preflight.h"
#include "capture/session.h"
#include "capture/target.h"
#include "cmd/cmd.h"
#include "proc/container.h"
#include "symbolize/elf.h"
#include "symbolize/symbolize.h"
#include "proc/procs.h"
#include "proc/stat.h"
#include "profile/pprof.h"
#include "profile/profile.h"
#include "profile_type/profile_type.h"
#include "unwind/unwinder.h"
#include "util/errors.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "util/util.h"

#define MAX_EXTRA_LABELS 16

struct agent_opts {
	const char *types;
	int hz;
	int64_t block_rate_ns;
	int64_t interval_ns;
	int64_t duration_ns;
	int64_t history_ns;
	const char *cgroup;
	const char *output_dir;
	uint64_t max_disk;
	int64_t max_age_ns;
	const char *push;
	const char *tenant;
	const char *basic_auth_file;
	const char *bearer_file;
	int push_queue;
	const char *listen;
	const char *token_file;
	const char *node;
	int nlabels;
	char label_names[MAX_EXTRA_LABELS][64];
	char label_values[MAX_EXTRA_LABELS][256];
	uint32_t unwind_mib;
	bool quiet;
	int verbose;
};

enum {
	OPT_TYPES = 0x400,
	OPT_HZ,
	OPT_BLOCK_RATE,
	OPT_INTERVAL,
	OPT_HISTORY,
	OPT_CGROUP,
	OPT_OUTPUT_DIR,
	OPT_MAX_DISK,
	OPT_MAX_AGE,
	OPT_PUSH,
	OPT_TENANT,
	OPT_BASIC_AUTH_FILE,
	OPT_BEARER_FILE,
	OPT_PUSH_QUEUE,
	OPT_LISTEN,
	OPT_TOKEN_FILE,
	OPT_LABEL,
	OPT_NODE,
	OPT_UNWIND_MEM,
};

static const struct argp_option agent_options[] = {
	{ NULL, 0, NULL, 0, "What to profile:", 1 },
	{ "types", OPT_TYPES, "LIST", 0,
	  "Profile types, comma-separated: cpu, offcpu, mutex, growth (default cpu)", 1 },
	{ "hz", OPT_HZ, "HZ", 0, "CPU samples per second on each CPU, 1..1000 (default 19)", 1 },
	{ "block-rate", OPT_BLOCK_RATE, "DURATION", 0,
	  "offcpu: sample shorter waits as Go's block profile rate (default 10ms)", 1 },
	{ "cgroup", OPT_CGROUP, "PATH", 0, "Only this cgroup v2 (default: the whole host)", 1 },
	{ "unwind-mem", OPT_UNWIND_MEM, "MIB", 0,
	  "Memory for DWARF unwind tables, MiB (default 16)", 1 },
	{ NULL, 0, NULL, 0, "When:", 2 },
	{ "interval", OPT_INTERVAL, "DURATION", 0,
	  "A profile per service and type this often, 1s or more (default 15s)", 2 },
	{ "duration", 'd', "DURATION", 0,
	  "Run this long, then flush and exit (default: until SIGTERM or Ctrl-C)", 2 },
	{ "history", OPT_HISTORY, "DURATION", 0,
	  "Keep this much of the past, second by second, for windows that start in it "
	  "(default 5m)",
	  2 },
	{ NULL, 0, NULL, 0, "Where (any combination; at least one):", 3 },
	{ "output-dir", OPT_OUTPUT_DIR, "DIR", 0, "Write DIR/SERVICE/TYPE-TIME.pb.gz each interval",
	  3 },
	{ "max-disk", OPT_MAX_DISK, "SIZE", 0,
	  "--output-dir: remove the oldest files above this size (default 1G; K, M, G)", 3 },
	{ "max-age", OPT_MAX_AGE, "DURATION", 0,
	  "--output-dir: remove files older than this (default 24h)", 3 },
	{ "push", OPT_PUSH, "URL", 0, "Push each interval to Grafana Pyroscope at URL", 3 },
	{ "tenant", OPT_TENANT, "ID", 0, "--push: the tenant (X-Scope-OrgID)", 3 },
	{ "basic-auth-file", OPT_BASIC_AUTH_FILE, "FILE", 0,
	  "--push: basic auth, USER:PASSWORD read from FILE", 3 },
	{ "bearer-token-file", OPT_BEARER_FILE, "FILE", 0, "--push: a bearer token read from FILE",
	  3 },
	{ "push-queue", OPT_PUSH_QUEUE, "N", 0,
	  "--push: intervals kept while the backend is down, 1..10000 (default 40)", 3 },
	{ "listen", OPT_LISTEN, "ADDR", 0,
	  "Serve /debug/pprof/ and /metrics on HOST:PORT, :PORT or PORT", 3 },
	{ "token-file", OPT_TOKEN_FILE, "FILE", 0,
	  "--listen: require 'Authorization: Bearer TOKEN', TOKEN read from FILE", 3 },
	{ NULL, 0, NULL, 0, "Labels:", 4 },
	{ "label", OPT_LABEL, "NAME=VALUE", 0, "A label of every series (repeatable)", 4 },
	{ "node", OPT_NODE, "NAME", 0, "The node label (default: the hostname)", 4 },
	{ NULL, 0, NULL, 0, "Output:", 5 },
	{ "quiet", 'q', NULL, 0, "Print nothing but errors", 5 },
	{ "verbose", 'v', NULL, 0, "Say more (libbpf's messages too)", 5 },
	{ 0 },
};

static error_t parse_agent(int key, char *arg, struct argp_state *state)
{
	struct agent_opts *o = state->input;
	long v;

	switch (key) {
	case OPT_TYPES:
		o->types = arg;
		break;
	case OPT_HZ:
		if (parse_long(arg, 1, 1000, &v))
			return opt_error("invalid --hz '%s': expected 1..1000", arg);
		o->hz = v;
		break;
	case OPT_BLOCK_RATE:
		if (parse_duration_ns(arg, &o->block_rate_ns) || o->block_rate_ns <= 0 ||
		    o->block_rate_ns > 1000000000LL)
			return opt_error("invalid --block-rate '%s': expected a duration up to 1s",
					 arg);
		break;
	case OPT_INTERVAL:
		if (parse_duration_ns(arg, &o->interval_ns) || o->interval_ns < 1000000000LL)
			return opt_error(
				"invalid --interval '%s': expected a duration of 1s or more", arg);
		break;
	case 'd':
		if (parse_duration_ns(arg, &o->duration_ns) || o->duration_ns <= 0)
			return opt_error("invalid duration '%s': expected e.g. 30s, 5m", arg);
		break;
	case OPT_HISTORY:
		if (parse_duration_ns(arg, &o->history_ns) || o->history_ns < 1000000000LL ||
		    o->history_ns > 3600 * 1000000000LL)
			return opt_error("invalid --history '%s': expected 1s..1h", arg);
		break;
	case OPT_CGROUP:
		o->cgroup = arg;
		break;
	case OPT_OUTPUT_DIR:
		o->output_dir = arg;
		break;
	case OPT_MAX_DISK:
		if (parse_bytes(arg, UINT64_MAX, &o->max_disk))
			return opt_error("invalid --max-disk '%s': expected a size such as 500M",
					 arg);
		break;
	case OPT_MAX_AGE:
		if (parse_duration_ns(arg, &o->max_age_ns) || o->max_age_ns < 1000000000LL)
			return opt_error("invalid --max-age '%s': expected a duration such as 6h",
					 arg);
		break;
	case OPT_PUSH:
		if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8))
			return opt_error("invalid --push '%s': expected an http:// or https:// URL",
					 arg);
		o->push = arg;
		break;
	case OPT_TENANT:
		o->tenant = arg;
		break;
	case OPT_BASIC_AUTH_FILE:
		o->basic_auth_file = arg;
		break;
	case OPT_BEARER_FILE:
		o->bearer_file = arg;
		break;
	case OPT_PUSH_QUEUE:
		if (parse_long(arg, 1, 10000, &v))
			return opt_error("invalid --push-queue '%s': expected 1..10000", arg);
		o->push_queue = v;
		break;
	case OPT_LISTEN:
		o->listen = arg;
		break;
	case OPT_TOKEN_FILE:
		o->token_file = arg;
		break;
	case OPT_LABEL:
		if (o->nlabels == MAX_EXTRA_LABELS)
			return opt_error("too many --label options (at most %d)", MAX_EXTRA_LABELS);
		if (label_parse_spec(arg, o->label_names[o->nlabels], sizeof(o->label_names[0]),
				     o->label_values[o->nlabels], sizeof(o->label_values[0])))
			return -BPFPROF_EUSAGE; /* it said why */
		o->nlabels++;
		break;
	case OPT_NODE:
		if (!*arg)
			return opt_error("--node needs a name");
		o->node = arg;
		break;
	case OPT_UNWIND_MEM:
		if (parse_long(arg, 1, 4096, &v))
			return opt_error("invalid --unwind-mem '%s': expected 1..4096 MiB", arg);
		o->unwind_mib = v;
		break;
	case 'q':
		o->quiet = true;
		break;
	case 'v':
		o->verbose++;
		break;
	case ARGP_KEY_ARG:
		return opt_error("unexpected argument '%s'", arg);
	case ARGP_KEY_END:
		if (!o->output_dir && !o->push && !o->listen)
			return opt_error(
				"no sink: give --output-dir DIR, --push URL or --listen ADDR");
		if (o->token_file && !o->listen)
			return opt_error("--token-file is for --listen");
		if ((o->tenant || o->basic_auth_file || o->bearer_file) && !o->push)
			return opt_error("--tenant and the auth files are for --push");
		if (o->basic_auth_file && o->bearer_file)
			return opt_error(
				"--basic-auth-file and --bearer-token-file exclude each other");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp agent_argp = {
	.options = agent_options,
	.parser = parse_agent,
	.doc = "Profile the whole host continuously; ship each service's profiles.\n"
	       "\v"
	       "A service is a container where a process runs in one, else its systemd unit, "
	       "else its executable.  Each interval gives one profile per service and type, "
	       "labelled service_name and node (plus --label); samples keep pid, comm and "
	       "process labels.\n\n"
	       "Examples:\n"
	       "  bpfprof agent --output-dir /var/lib/bpfprof\n"
	       "  bpfprof agent --push http://pyroscope:4040 --label cluster=prod\n"
	       "  bpfprof agent --listen :6060 --types cpu,offcpu,mutex,growth\n"
	       "  go tool pprof "
	       "'http://localhost:6060/debug/pprof/profile?seconds=15&service=api'\n"
	       "  curl http://localhost:6060/metrics\n"
	       "\n" EXIT_CODES_HELP,
};

/* --- the running agent --- */

/* A /debug/pprof request waiting for its window to be drained. */
struct request {
	int type;
	int64_t from_mono, due_mono; /* due: a drain at or after it closes the window */
	bool cumulative;
	bool anchored; /* the window starts at the first drain the main thread saw it at */
	int seconds;
	struct agent_filter filter; /* the query's strings: its caller waits for done */
	bool done;
	int status;
	uint8_t *body;
	size_t len;
	char err[256];
	struct request *next;
};

struct agent_run {
	struct agent_opts *o;
	struct session s;
	struct agent *a;
	struct label_providers *lp;
	struct outdir *outdir;
	struct pusher *pusher;
	struct agent_http *http;
	char node[256];
	int64_t interval_from; /* mono: the last interval ended at this drain */
	int64_t next_interval;
	int64_t next_expire;
	uint64_t intervals, interval_errors;
	/* Requests and the metrics text are shared with the HTTP threads. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct request *requests;
	bool stopping;
	char *metrics;
	size_t metrics_len;
	/* Push batch of the interval being shipped. */
	struct push_series *series;
	size_t nseries, series_cap;
	struct push_label *labels; /* nseries × labels_per */
	uint8_t **blobs;
	size_t labels_per;
};

static int service_adapter(void *ctx, int pid, const char *exe, const char **name, int *n,
			   const char **keys, const char **values)
{
	struct agent_run *r = ctx;
	const struct service_info *info = NULL;
	struct proc_stat st;
	int i, err;

	char path[64], link[16];

	if (!proc_stat_read(pid, &st)) {
		session__process_gone(&r->s, pid);
		return -ESRCH;
	}
	/* Kernel threads have no executable: one service, not one per thread name. */
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (readlink(path, link, sizeof(link)) < 0 && errno == ENOENT) {
		*name = "kernel";
		*n = 0;
		return 0;
	}
	err = label_providers__lookup(r->lp, pid, st.start, exe, &info);
	if (err || !info)
		return err ? err : -ENOENT;
	*name = info->service;
	*n = 0;
	for (i = 0; i < info->nlabels && i < AGENT_MAX_SERIES_LABELS; i++) {
		keys[i] = info->labels[i].name;
		values[i] = info->labels[i].value;
		(*n)++;
	}
	return 0;
}

/* The series labels of a profile: Pyroscope's, ours, the service's. */
static size_t series_labels(struct agent_run *r, const struct agent_type *t,
			    const struct agent_service *sv, struct push_label *l)
{
	size_t n = 0;
	int i;

	l[n++] = (struct push_label){ "__name__", t->agent->metric };
	l[n++] = (struct push_label){ "service_name", sv->name };
	l[n++] = (struct push_label){ "node", r->node };
	l[n++] = (struct push_label){ "__delta__", "false" };
	for (i = 0; i < sv->nlabels; i++)
		l[n++] = (struct push_label){ sv->label_names[i], sv->label_values[i] };
	for (i = 0; i < r->o->nlabels; i++)
		l[n++] = (struct push_label){ r->o->label_names[i], r->o->label_values[i] };
	return n;
}

/*
 * The output directory of a service: its name, and in a container the
 * container's short id, since replicas of one workload share the name
 * (their series differ by container_id) and would write the same file.
 */
static const char *service_dir(const struct agent_service *sv, char *buf, size_t size)
{
	for (int i = 0; i < sv->nlabels; i++) {
		if (!strcmp(sv->label_names[i], "container_id")) {
			snprintf(buf, size, "%s@%.12s", sv->name, sv->label_values[i]);
			return buf;
		}
	}
	return sv->name;
}

static int ship(void *ctx, int type, uint32_t service, struct profile *p)
{
	struct agent_run *r = ctx;
	char dir[SERVICE_NAME_MAX + 16];
	const struct agent_type *t = agent__type(r->a, type);
	const struct agent_service *sv = agent__service(r->a, service);
	uint8_t *gz = NULL;
	size_t len = 0;
	int err;

	err = pprof_encode_gz(p, &gz, &len);
	if (err || !sv)
		goto out;
	if (r->outdir)
		outdir__write(r->outdir, service_dir(sv, dir, sizeof(dir)), t->agent->name,
			      p->time_nanos, gz, len);
	if (r->pusher && r->nseries < r->series_cap) {
		struct push_label *l = r->labels + r->nseries * r->labels_per;

		r->series[r->nseries] = (struct push_series){
			.labels = l,
			.nlabels = series_labels(r, t, sv, l),
			.profile = gz,
			.len = len,
		};
		r->blobs[r->nseries++] = gz;
		gz = NULL;
	}
out:
	free(gz);
	profile__free(p);
	return err;
}

/* Ships the profiles of every service drained since the last interval. */
static void flush_interval(struct agent_run *r)
{
	struct agent_window w = { .from_mono = r->interval_from,
				  .to_mono = agent__last_drain(r->a) };
	size_t i;
	int err;

	if (w.to_mono <= w.from_mono)
		return;
	r->nseries = 0;
	err = agent__build(r->a, &w, -1, NULL, false, ship, r);
	if (r->pusher && r->nseries)
		pusher__submit(r->pusher, r->series, r->nseries);
	for (i = 0; i < r->nseries; i++)
		free(r->blobs[i]);
	r->nseries = 0;
	r->interval_from = w.to_mono;
	r->intervals++;
	if (err) {
		r->interval_errors++;
		pr_warn("agent: interval incomplete: %s\n", strerror(-err));
	}
	if (r->outdir)
		outdir__prune(r->outdir, wall_ns());
}

/* --- /debug/pprof requests, answered on the main thread --- */

static int keep_one(void *ctx, int type, uint32_t service, struct profile *p)
{
	struct profile **out = ctx;

	profile__free(*out);
	*out = p;
	return 0;
}

static void answer(struct agent_run *r, struct request *q)
{
	struct agent_window w = { .from_mono = q->from_mono,
				  .to_mono = agent__last_drain(r->a),
				  .cumulative = q->cumulative };
	struct profile *p = NULL;
	int err;

	err = agent__build(r->a, &w, q->type, &q->filter, true, keep_one, &p);
	if (!err && !p)
		p = agent__empty_profile(r->a, q->type, &w);
	if (!err && !p)
		err = -ENOMEM;
	if (!err)
		err = pprof_encode_gz(p, &q->body, &q->len);
	profile__free(p);
	if (err) {
		q->status = 500;
		snprintf(q->err, sizeof(q->err), "cannot build the profile: %s", strerror(-err));
	}
}

static void answer_due(struct agent_run *r, bool all)
{
	struct request *q, **pp, *ready = NULL;
	int64_t last = agent__last_drain(r->a);

	pthread_mutex_lock(&r->lock);
	for (pp = &r->requests; (q = *pp);) {
		/*
		 * "The next N seconds": from the drain that first saw the request,
		 * so the window holds N seconds of slots, not part of the one
		 * running when the request came.
		 */
		if (!q->anchored) {
			q->anchored = true;
			q->from_mono = last;
			q->due_mono = last + (int64_t)q->seconds * 1000000000LL;
		}
		if (all || q->cumulative || q->due_mono <= last) {
			*pp = q->next;
			q->next = ready;
			ready = q;
		} else {
			pp = &q->next;
		}
	}
	pthread_mutex_unlock(&r->lock);
	/* The waiters keep their requests until done is set: build outside the lock. */
	for (q = ready; q; q = q->next)
		answer(r, q);
	pthread_mutex_lock(&r->lock);
	while ((q = ready)) {
		ready = q->next;
		q->done = true;
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static bool has_endpoint(void *ctx, const char *endpoint)
{
	struct agent_run *r = ctx;

	return agent__find_type(r->a, endpoint) >= 0;
}

static int on_profile(void *ctx, const struct agent_query *aq, uint8_t **body, size_t *len,
		      char *err, size_t errlen)
{
	struct agent_run *r = ctx;
	struct request q = { 0 };

	q.type = agent__find_type(r->a, aq->endpoint);
	if (q.type < 0) {
		snprintf(err, errlen, "the agent does not record %s profiles (see --types)",
			 aq->endpoint);
		return 404;
	}
	q.cumulative = aq->seconds == 0;
	q.seconds = aq->seconds;
	q.filter = (struct agent_filter){ .service = aq->service,
					  .pod = aq->pod,
					  .namespace = aq->namespace,
					  .container = aq->container,
					  .container_id = aq->container_id };
	pthread_mutex_lock(&r->lock);
	if (r->stopping) {
		pthread_mutex_unlock(&r->lock);
		snprintf(err, errlen, "the agent is stopping");
		return 503;
	}
	q.next = r->requests;
	r->requests = &q;
	while (!q.done && !r->stopping)
		pthread_cond_wait(&r->cond, &r->lock);
	if (!q.done) {
		struct request **pp;

		for (pp = &r->requests; *pp && *pp != &q; pp = &(*pp)->next)
			;
		if (*pp)
			*pp = q.next;
		pthread_mutex_unlock(&r->lock);
		snprintf(err, errlen, "the agent is stopping");
		return 503;
	}
	pthread_mutex_unlock(&r->lock);
	if (q.status) {
		snprintf(err, errlen, "%s", q.err);
		free(q.body);
		return q.status;
	}
	*body = q.body;
	*len = q.len;
	return 0;
}

static int on_metrics(void *ctx, char **text, size_t *len)
{
	struct agent_run *r = ctx;
	int err = 0;

	pthread_mutex_lock(&r->lock);
	*text = r->metrics ? malloc(r->metrics_len + 1) : NULL;
	if (*text) {
		memcpy(*text, r->metrics, r->metrics_len + 1);
		*len = r->metrics_len;
	} else {
		err = -ENOMEM;
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

/* --- /metrics --- */

struct text {
	char *buf;
	size_t len, cap;
};

static void tprintf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt,
			      ap);
		va_end(ap);
		if (n < 0)
			return;
		if (t->buf && t->len + n < t->cap) {
			t->len += n;
			return;
		}
		size_t cap = (t->cap ? t->cap * 2 : 8192) + n;
		char *p = realloc(t->buf, cap);

		if (!p)
			return;
		t->buf = p;
		t->cap = cap;
	}
}

static void metric(struct text *t, const char *name, const char *kind, const char *help, double v)
{
	tprintf(t,
		"# HELP bpfprof_agent_%s %s\n# TYPE bpfprof_agent_%s %s\nbpfprof_agent_%s %.17g\n",
		name, help, name, kind, name, v);
}

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

static void render_metrics(struct agent_run *r)
{
	struct agent_stats st;
	struct stack_cache_stats sc;
	struct text t = { 0 };
	struct rusage ru;
	int i;

	agent__stats(r->a, &st);
	agent__stack_stats(r->a, &sc);
	tprintf(&t, "# HELP bpfprof_agent_bpf_events_total Events the BPF programs counted, "
		    "by counter (see 'kind': loss, note, debug).\n"
		    "# TYPE bpfprof_agent_bpf_events_total counter\n");
	for (i = 0; i < CNT__MAX; i++)
		tprintf(&t,
			"bpfprof_agent_bpf_events_total{counter=\"%s\",kind=\"%s\"} %" PRIu64 "\n",
			capture_counters[i].name,
			capture_counters[i].kind == COUNTER_LOSS   ? "loss"
			: capture_counters[i].kind == COUNTER_NOTE ? "note"
								   : "debug",
			st.counters[i]);
	metric(&t, "drains_total", "counter", "Drains of the BPF maps.", st.drains);
	metric(&t, "drain_errors_total", "counter", "Drains that failed in part.", st.drain_errors);
	metric(&t, "last_drain_seconds", "gauge", "How long the last drain took.",
	       st.last_drain_ms / 1e3);
	metric(&t, "aggregates_total", "counter", "Aggregates drained from the BPF maps.",
	       st.records);
	metric(&t, "history_dropped_total", "counter",
	       "Aggregates dropped from the history early to stay under its memory limit.",
	       st.records_dropped);
	metric(&t, "history_seconds", "gauge", "Seconds of history kept.", st.history_slots);
	metric(&t, "history_bytes", "gauge", "Memory of the history.", st.history_bytes);
	metric(&t, "cumulative_entries", "gauge", "Running totals kept (block, mutex, allocs).",
	       st.cumulative_entries);
	metric(&t, "cumulative_bytes", "gauge", "Memory of the running totals.",
	       st.cumulative_bytes);
	metric(&t, "cumulative_dropped_total", "counter",
	       "Running totals dropped: idle too long, or over the memory limit.",
	       st.cumulative_dropped_idle + st.cumulative_dropped_full);
	metric(&t, "stacks", "gauge", "Stacks kept in the agent's cache.", sc.entries);
	metric(&t, "stack_bytes", "gauge", "Memory of the stack cache.", sc.bytes);
	metric(&t, "stacks_evicted_total", "counter",
	       "Stacks evicted from the cache (idle, or over its limit).",
	       sc.evicted_idle + sc.evicted_full);
	metric(&t, "stacks_missing_total", "counter",
	       "Stacks named by a sample but no longer kept (shown as a marker frame).", sc.misses);
	metric(&t, "services", "gauge", "Services seen.", st.services);
	metric(&t, "processes_tracked", "gauge", "Processes whose mappings are tracked.",
	       proctab__count(r->s.procs_tab));
	{
		struct container_stats cs;

		container_cache__stats(container_cache__default(), &cs);
		metric(&t, "containers_cached", "gauge", "Containers whose names are cached.",
		       cs.cached);
		metric(&t, "container_lookups_total", "counter",
		       "Containers looked up in the runtimes' files.", cs.lookups - cs.hits);
		metric(&t, "container_lookup_errors_total", "counter",
		       "Runtime files that could not be read (asked again later).", cs.errors);
	}
	metric(&t, "processes_forgotten_total", "counter",
	       "Exited processes forgotten (with their files) once nothing kept names them.",
	       st.processes_forgotten);
	metric(&t, "process_table_bytes", "gauge", "Memory of the process and file tables.",
	       proctab__bytes(r->s.procs_tab));
	metric(&t, "symbol_files", "gauge",
	       "ELF files open for symbols: one per mapped file (build id), shared by every "
	       "process and container that maps it.",
	       st.symbol_files);
	metric(&t, "symbol_files_closed_total", "counter",
	       "ELF files closed after a minute without a lookup (opened again when needed).",
	       st.symbol_files_closed);
	if (r->s.sym) {
		struct symcache_stats ss;

		symbolizer__stats(r->s.sym, &ss);
		metric(&t, "symbol_files_opened_total", "counter", "ELF files opened for symbols.",
		       ss.opened);
		metric(&t, "symbol_file_bytes", "gauge",
		       "Sizes of the ELF files open for symbols (mapped: shared, reclaimable "
		       "pages).",
		       ss.file_bytes);
		metric(&t, "symbol_table_bytes", "gauge",
		       "Memory the open symbol files' tables allocated (segments, sorted symbols, "
		       "address caches; libdw's own not counted).",
		       ss.cache_bytes);
	}
	if (r->s.unwinder) {
		struct unwinder_stats us;

		unwinder__stats(r->s.unwinder, &us);
		metric(&t, "unwind_rows", "gauge", "DWARF unwind rows in the BPF map.", us.rows);
		metric(&t, "unwind_rows_max", "gauge", "Rows the unwind map holds.", us.max_rows);
		metric(&t, "unwind_evictions_total", "counter", "Unwind tables evicted for room.",
		       us.evictions);
	}
	metric(&t, "profiles_built_total", "counter", "Profiles built.", st.profiles_built);
	metric(&t, "intervals_total", "counter", "Intervals shipped.", r->intervals);
	metric(&t, "interval_errors_total", "counter", "Intervals shipped in part.",
	       r->interval_errors);
	if (r->outdir) {
		struct outdir_stats os;

		outdir__stats(r->outdir, &os);
		metric(&t, "files_written_total", "counter", "Profiles written to --output-dir.",
		       os.files_written);
		metric(&t, "file_write_errors_total", "counter",
		       "Profiles that could not be written.", os.write_errors);
		metric(&t, "files_removed_total", "counter",
		       "Files removed by --max-age and --max-disk.",
		       os.removed_by_age + os.removed_by_size);
		metric(&t, "output_dir_bytes", "gauge", "Bytes of profiles in --output-dir.",
		       os.bytes);
	}
	if (r->pusher) {
		struct push_stats ps;

		pusher__stats(r->pusher, &ps);
		metric(&t, "push_requests_total", "counter", "Push requests accepted.",
		       ps.requests_ok);
		metric(&t, "push_series_total", "counter", "Profiles pushed.", ps.series_ok);
		metric(&t, "push_errors_total", "counter", "Push attempts that failed.",
		       ps.permanent_errors + ps.transient_errors);
		metric(&t, "push_dropped_total", "counter",
		       "Profiles dropped: the queue was full, or the backend refused them.",
		       ps.dropped_series);
		metric(&t, "push_queue_requests", "gauge", "Requests waiting to be pushed.",
		       ps.queue_requests);
		metric(&t, "push_queue_bytes", "gauge", "Bytes waiting to be pushed.",
		       ps.queue_bytes);
		metric(&t, "push_latency_seconds_sum", "counter", "Time spent pushing.",
		       ps.latency_sum_s);
		metric(&t, "push_latency_seconds_count", "counter", "Pushes timed.",
		       ps.latency_count);
	}
	metric(&t, "resident_memory_bytes", "gauge", "The agent's resident memory.", rss_bytes());
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		metric(&t, "cpu_seconds_total", "counter", "The agent's CPU time, user and system.",
		       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
			       ru.ru_stime.tv_usec / 1e6);
	pthread_mutex_lock(&r->lock);
	free(r->metrics);
	r->metrics = t.buf;
	r->metrics_len = t.len;
	pthread_mutex_unlock(&r->lock);
}

/* Once a second, on the session's thread. */
static bool tick(void *ctx)
{
	struct agent_run *r = ctx;
	int64_t now;
	int err;

	err = agent__drain(r->a);
	if (err)
		pr_debug("agent: drain: %s\n", strerror(-err));
	now = mono_ns();
	if (now >= r->next_interval) {
		flush_interval(r);
		while (r->next_interval <= now)
			r->next_interval += r->o->interval_ns;
	}
	answer_due(r, false);
	if (now >= r->next_expire) {
		agent__expire(r->a);
		r->next_expire = now + 5000000000LL;
	}
	/* Rendered for a listener only: nothing else reads them. */
	if (r->o->listen)
		render_metrics(r);
	return false;
}

/* --- set-up --- */

/* The options of type t in the agent, parsed as its own command line would be. */
static int type_options(const struct agent_opts *o, const struct profile_type *t, void **out)
{
	struct type_args a = { .type = t };
	char *argv[24], hz[16], rate[32], mib[16];
	int argc = 0, i, err;

	argv[argc++] = (char *)t->name;
	if (o->cgroup) {
		argv[argc++] = "--cgroup";
		argv[argc++] = (char *)o->cgroup;
	} else {
		argv[argc++] = "-a";
	}
	for (i = 0; t->agent->args[i]; i++)
		argv[argc++] = (char *)t->agent->args[i];
	if (t->agent->rate_opt) {
		snprintf(hz, sizeof(hz), "%d", o->hz);
		argv[argc++] = (char *)t->agent->rate_opt;
		argv[argc++] = hz;
	}
	if (!strcmp(t->agent->name, "offcpu")) {
		snprintf(rate, sizeof(rate), "%" PRId64 "ns", o->block_rate_ns);
		argv[argc++] = "--block-rate";
		argv[argc++] = rate;
	}
	snprintf(mib, sizeof(mib), "%u", o->unwind_mib);
	argv[argc++] = "--unwind-mem";
	argv[argc++] = mib;
	argv[argc] = NULL;
	a.opts = calloc(1, t->opts_size);
	if (!a.opts)
		return -ENOMEM;
	err = cmd_parse_type(&a, argc, argv, ARGP_NO_EXIT | ARGP_NO_HELP);
	if (!err && t->stacks == TYPE_STACKS_THREADS) {
		stack_args__resolve(&a.stack, &a.common);
		*(struct stack_opts *)a.opts = a.stack.opts;
	}
	if (!err && t->setup)
		err = t->setup(&a);
	if (err) {
		pr_warn("agent: cannot set up the %s profile\n", t->agent->name);
		free(a.opts);
		return err;
	}
	*out = a.opts;
	return 0;
}

/* --types: each name once, in the table's order. */
static int select_types(const struct agent_opts *o, struct agent_type *types, int *n)
{
	char *list = strdup(o->types), *name, *save = NULL;
	size_t i;
	int err = 0, j;

	if (!list)
		return -ENOMEM;
	*n = 0;
	for (name = strtok_r(list, ",", &save); name && !err; name = strtok_r(NULL, ",", &save)) {
		const struct profile_type *t = NULL;

		for (i = 0; i < nprofile_types; i++)
			if (profile_types[i]->agent && !strcmp(profile_types[i]->agent->name, name))
				t = profile_types[i];
		if (!t) {
			pr_warn("agent: unknown type '%s' in --types: expected cpu, offcpu, mutex "
				"or "
				"growth\n",
				name);
			err = -BPFPROF_EUSAGE;
			break;
		}
		for (j = 0; j < *n; j++)
			if (types[j].type == t)
				break;
		if (j < *n)
			continue;
		types[*n].type = t;
		types[*n].agent = t->agent;
		err = type_options(o, t, &types[*n].opts);
		if (!err)
			(*n)++;
	}
	free(list);
	if (!err && !*n) {
		pr_warn("agent: --types names no type\n");
		err = -BPFPROF_EUSAGE;
	}
	return err;
}

static int read_secret(const char *path, char *buf, size_t len, const char *what)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		pr_warn("cannot read the %s file %s: %s\n", what, path, strerror(errno));
		return -BPFPROF_EUSAGE;
	}
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (!n) {
		pr_warn("the %s file %s is empty\n", what, path);
		return -BPFPROF_EUSAGE;
	}
	return 0;
}

static int start_sinks(struct agent_run *r)
{
	struct agent_opts *o = r->o;
	static char auth[1024], bearer[4096];

	if (o->output_dir) {
		r->outdir = outdir__open(o->output_dir, o->max_disk, o->max_age_ns / 1000000000LL);
		if (!r->outdir)
			return -BPFPROF_EUSAGE;
	}
	if (o->push) {
		struct push_opts po = {
			.url = o->push,
			.tenant = o->tenant,
			.max_requests = o->push_queue,
		};

		if (o->basic_auth_file) {
			if (read_secret(o->basic_auth_file, auth, sizeof(auth), "basic auth"))
				return -BPFPROF_EUSAGE;
			po.basic_auth = auth;
		}
		if (o->bearer_file) {
			if (read_secret(o->bearer_file, bearer, sizeof(bearer), "bearer token"))
				return -BPFPROF_EUSAGE;
			po.bearer = bearer;
		}
		r->pusher = pusher__new(&po);
		if (!r->pusher)
			return -BPFPROF_EUSAGE;
	}
	return 0;
}

/* Waiting requests get a 503, later ones too. */
static void cancel_requests(void *ctx)
{
	struct agent_run *r = ctx;

	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static int start_http(struct agent_run *r)
{
	static const struct agent_http_ops ops = {
		.profile = on_profile,
		.metrics = on_metrics,
		.has_endpoint = has_endpoint,
		.cancel = cancel_requests,
	};
	struct agent_http_ops *o;
	struct agent_http_opts ho = { .listen = r->o->listen, .token_file = r->o->token_file };

	if (!r->o->listen)
		return 0;
	o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	*o = ops;
	o->ctx = r;
	ho.ops = o;
	r->http = agent_http__start(&ho);
	if (!r->http) {
		free(o);
		return -BPFPROF_EUSAGE;
	}
	return 0;
}

static void stop_http(struct agent_run *r)
{
	cancel_requests(r);
	if (r->http)
		agent_http__stop(r->http);
	r->http = NULL;
}

static int run(struct agent_opts *o)
{
	struct agent_type types[AGENT_MAX_TYPES] = { 0 };
	struct agent_limits lim = {
		.history_s = o->history_ns / 1000000000LL,
		.cumulative_idle_s = 300,
		.history_bytes = 64 << 20,
		.cumulative_bytes = 32 << 20,
		.stack_bytes = 32 << 20,
		.proc_bytes = 16 << 20,
	};
	struct agent_run r = { .o = o };
	struct target t;
	int ntypes = 0, err, i;
	int64_t flush_start = 0;

	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	if (o->node)
		snprintf(r.node, sizeof(r.node), "%s", o->node);
	else if (gethostname(r.node, sizeof(r.node) - 1))
		snprintf(r.node, sizeof(r.node), "unknown");
	err = preflight_check();
	if (err)
		return err;
	err = select_types(o, types, &ntypes);
	if (err)
		goto out;
	r.series_cap = 4096;
	r.labels_per = 4 + AGENT_MAX_SERIES_LABELS + MAX_EXTRA_LABELS;
	r.series = calloc(r.series_cap, sizeof(*r.series));
	r.blobs = calloc(r.series_cap, sizeof(*r.blobs));
	r.labels = calloc(r.series_cap * r.labels_per, sizeof(*r.labels));
	r.lp = label_providers__new("/proc", 0);
	if (!r.series || !r.blobs || !r.labels || !r.lp) {
		err = -ENOMEM;
		goto out;
	}
	err = start_sinks(&r);
	if (err)
		goto out;
	target__init(&t);
	if (o->cgroup) {
		t.mode = TARGET_CGROUP;
		t.cgroup_path = o->cgroup;
	} else {
		t.mode = TARGET_ALL;
	}
	err = target__prepare(&t);
	if (err)
		goto out;
	err = session__init(&r.s, &t, o->duration_ns, true);
	if (err) {
		target__cleanup(&t);
		goto out;
	}
	r.s.noun = "samples";
	r.s.exclude_self = true;
	capture_setup_libbpf();
	r.a = agent__start(&r.s, types, ntypes, &lim, service_adapter, &r, &err);
	if (!r.a)
		goto end_session;
	r.interval_from = agent__last_drain(r.a);
	r.next_interval = r.interval_from + o->interval_ns;
	r.next_expire = r.interval_from + 5000000000LL;
	render_metrics(&r);
	err = start_http(&r);
	if (err)
		goto end_agent;
	r.s.on_tick = tick;
	r.s.on_tick_ctx = &r;
	{
		char what[128] = "";

		for (i = 0; i < ntypes; i++)
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s%s",
				 i ? ", " : "", types[i].agent->name);
		pr_info("agent: recording %s on %s, a profile per service every %.0fs\n", what,
			o->cgroup ? o->cgroup : "the whole host", o->interval_ns / 1e9);
	}
	err = session__run(&r.s);
	if (err)
		pr_warn("agent: stopped early: %s\n", strerror(-err));
	/* The current interval goes to every sink within about 2 s. */
	flush_start = mono_ns();
	agent__detach(r.a);
	pr_debug("agent: detached in %.0f ms\n", (mono_ns() - flush_start) / 1e6);
	agent__drain(r.a);
	flush_interval(&r);
	pr_debug("agent: last interval out %.0f ms after the stop\n",
		 (mono_ns() - flush_start) / 1e6);
	answer_due(&r, true);
	stop_http(&r);
	if (r.pusher) {
		int64_t left = 2000 - (mono_ns() - flush_start) / 1000000;
		size_t n = pusher__flush(r.pusher, left > 100 ? left : 100);

		if (n)
			pr_warn("agent: %zu push requests not sent at exit\n", n);
	}
	err = 0;
end_agent:
	stop_http(&r);
	agent__free(r.a);
	if (flush_start)
		pr_debug("agent: BPF objects freed %.0f ms after the stop\n",
			 (mono_ns() - flush_start) / 1e6);
end_session:
	session__free(&r.s);
	target__cleanup(&t);
out:
	if (r.pusher)
		pusher__free(r.pusher);
	if (r.outdir)
		outdir__close(r.outdir);
	if (r.lp)
		label_providers__free(r.lp);
	for (i = 0; i < AGENT_MAX_TYPES; i++)
		free(types[i].opts);
	free(r.series);
	free(r.blobs);
	free(r.labels);
	free(r.metrics);
	return err;
}

int cmd_agent(int argc, char **argv)
{
	struct agent_opts o = {
		.types = "cpu",
		.hz = 19,
		.block_rate_ns = 10000000LL,
		.interval_ns = 15000000000LL,
		.history_ns = 300000000000LL,
		.max_disk = 1ULL << 30,
		.max_age_ns = 86400 * 1000000000LL,
		.push_queue = 40,
		.unwind_mib = 16,
	};

	if (argp_parse(&agent_argp, argc, argv, 0, NULL, &o))
		return EXIT_USAGE;
	if (o.quiet)
		log_level = LOG_QUIET;
	else if (o.verbose)
		log_level = LOG_DEBUG;
	else
		log_level = LOG_INFO;
	return cmd_exit_code(run(&o));
}
