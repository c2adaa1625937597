// SPDX-License-Identifier: Apache-2.0
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "agent/http.h"
#include "serve/server.h"
#include "util/log.h"
#include "util/util.h"

#define PREFIX "/debug/pprof/"

/* The endpoints, in name order as Go's index lists them. */
struct endpoint {
	const char *name;
	const char *type; /* the --types value that makes it live */
	const char *desc;
};

static const struct endpoint endpoints[] = {
	{ "allocs", "growth",
	  "Where private anonymous memory grew (page faults, memory syscalls): since the agent "
	  "started, or the next seconds=N." },
	{ "block", "offcpu",
	  "Stack traces where threads waited off the CPU: since the agent started, or the next "
	  "seconds=N." },
	{ "mutex", "mutex",
	  "Stack traces of contended locks (futex waits): since the agent started, or the next "
	  "seconds=N." },
	{ "profile", "cpu", "CPU profile of the next seconds=N (default 30)." },
};

struct agent_http {
	struct agent_http_ops ops;
	int max_requests;
	struct MHD_Daemon *mhd;
	int port;
	bool has_token;
	char token[SERVE_MAX_TOKEN + 2];
	pthread_mutex_t lock;
	pthread_cond_t idle; /* signalled when open reaches 0 */
	int running;	     /* profile() calls under way */
	int open;	     /* requests being answered, until their answer is sent */
	bool stopping;
};

/*
 * How long stop gives the requests being answered to send their answers
 * (the 503s of those released, a profile still going out): at most half of
 * the 2 s the agent has to flush at SIGTERM.
 */
#define STOP_GRACE_NS 1000000000LL

static const struct endpoint *find_endpoint(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(endpoints); i++)
		if (!strcmp(endpoints[i].name, name))
			return &endpoints[i];
	return NULL;
}

const char *agent_http_type_of(const char *endpoint)
{
	const struct endpoint *e = find_endpoint(endpoint);

	return e ? e->type : NULL;
}

static bool live(const struct agent_http *h, const struct endpoint *e)
{
	return !h->ops.has_endpoint || h->ops.has_endpoint(h->ops.ctx, e->name);
}

/* The query of a profile request, checked: the first problem is the 400's message. */
struct params {
	struct agent_query q;
	int seen_seconds, seen_debug;
	char error[256];
};

static void bad_param(struct params *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bad_param(struct params *p, const char *fmt, ...)
{
	va_list ap;

	if (p->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
}

/* A filter's value: visible text of bounded length, since it goes into labels and logs. */
static const char *filter_value(struct params *p, const char *key, const char *value)
{
	size_t i, n = value ? strlen(value) : 0;

	if (!n) {
		bad_param(p, "bpfprof: %s wants a value", key);
		return NULL;
	}
	if (n > AGENT_HTTP_MAX_FILTER) {
		bad_param(p, "bpfprof: invalid %s: longer than %d bytes", key,
			  AGENT_HTTP_MAX_FILTER);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)value[i] < ' ' || value[i] == 0x7f) {
			bad_param(p, "bpfprof: invalid %s: control characters", key);
			return NULL;
		}
	return value;
}

/* The query's field for a filter's key, or NULL. */
static const char **filter_slot(struct params *p, const char *key)
{
	if (!strcmp(key, "service"))
		return &p->q.service;
	if (!strcmp(key, "pod"))
		return &p->q.pod;
	if (!strcmp(key, "namespace"))
		return &p->q.namespace;
	if (!strcmp(key, "container"))
		return &p->q.container;
	if (!strcmp(key, "container_id"))
		return &p->q.container_id;
	return NULL;
}

static bool is_hex_id(const char *s)
{
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct params *p = cls;
	const char **f;
	long v;

	if (!strcmp(key, "seconds")) {
		/* Go's handlers take whole seconds; so do the scrapers that call them. */
		if (p->seen_seconds++)
			bad_param(p, "bpfprof: seconds given twice");
		else if (!value || parse_long(value, 1, AGENT_HTTP_MAX_SECONDS, &v))
			bad_param(p, "bpfprof: invalid seconds '%s': expected 1..%d",
				  value ? value : "", AGENT_HTTP_MAX_SECONDS);
		else
			p->q.seconds = v;
	} else if ((f = filter_slot(p, key))) {
		if (*f)
			bad_param(p, "bpfprof: %s given twice", key);
		else
			*f = filter_value(p, key, value);
		if (*f && !strcmp(key, "container_id") && !is_hex_id(*f)) {
			bad_param(p, "bpfprof: invalid container_id '%s': expected hex digits", *f);
			*f = NULL;
		}
	} else if (!strcmp(key, "debug")) {
		/* debug=0 is Go's protobuf; the text forms are not built here. */
		if (value && *value && strcmp(value, "0"))
			bad_param(p,
				  "bpfprof: debug=%s: the agent serves pprof protobuf only "
				  "(debug=0)",
				  value);
	} else {
		bad_param(p,
			  "bpfprof: unknown parameter '%s': expected seconds, service, pod, "
			  "namespace, container or container_id",
			  key);
	}
	return MHD_YES;
}

/* Takes a place among the profile requests under way; false when there is none. */
static bool take_slot(struct agent_http *h, char *msg, size_t len)
{
	bool ok;

	pthread_mutex_lock(&h->lock);
	ok = !h->stopping && h->running < h->max_requests;
	if (ok)
		h->running++;
	else if (h->stopping)
		snprintf(msg, len, "bpfprof: the agent is stopping");
	else
		snprintf(msg, len,
			 "bpfprof: busy: %d profile requests are being answered; try again later",
			 h->running);
	pthread_mutex_unlock(&h->lock);
	return ok;
}

static void put_slot(struct agent_http *h)
{
	pthread_mutex_lock(&h->lock);
	h->running--;
	pthread_mutex_unlock(&h->lock);
}

static enum MHD_Result answer_profile(struct agent_http *h, struct MHD_Connection *conn,
				      const struct endpoint *e, int *status)
{
	struct params p = { .q = { .endpoint = e->name } };
	struct MHD_Response *resp;
	char msg[320], disposition[64];
	uint8_t *body = NULL;
	size_t len = 0;
	int rc;

	if (!live(h, e)) {
		*status = 404;
		snprintf(msg, sizeof(msg),
			 "bpfprof: %s: this agent does not capture it: add %s to its --types",
			 e->name, e->type);
		return serve_send_error(conn, 404, msg);
	}
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_param, &p);
	if (p.error[0]) {
		*status = 400;
		return serve_send_error(conn, 400, p.error);
	}
	/* CPU has nothing to accumulate since the start: Go's default window. */
	if (!strcmp(e->name, "profile") && !p.q.seconds)
		p.q.seconds = AGENT_HTTP_DEFAULT_SECONDS;
	if (!take_slot(h, msg, sizeof(msg))) {
		*status = 503;
		return serve_send_error(conn, 503, msg);
	}
	msg[0] = '\0';
	rc = h->ops.profile(h->ops.ctx, &p.q, &body, &len, msg, sizeof(msg));
	put_slot(h);
	if (rc) {
		free(body);
		*status = rc >= 400 && rc <= 599 ? rc : 500;
		/* The agent's message says it best; else what the error code says. */
		if (!msg[0])
			snprintf(msg, sizeof(msg), "bpfprof: %s",
				 rc < 0 ? strerror(-rc) : "the profile could not be built");
		return serve_send_error(conn, *status, msg);
	}
	/*
	 * Queued now, sent after we return: a client gone meanwhile makes the
	 * send fail and libmicrohttpd frees the body with the response.
	 */
	*status = 200;
	resp = serve_response(200, "application/octet-stream", body, len, MHD_RESPMEM_MUST_FREE);
	snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", e->name);
	if (resp)
		MHD_add_response_header(resp, "Content-Disposition", disposition);
	return serve_queue(conn, 200, resp);
}

static enum MHD_Result answer_metrics(struct agent_http *h, struct MHD_Connection *conn,
				      int *status)
{
	char *text = NULL, msg[128];
	size_t len = 0;
	int rc;

	if (!h->ops.metrics) {
		*status = 404;
		return serve_send_error(conn, 404, "bpfprof: this agent keeps no metrics");
	}
	rc = h->ops.metrics(h->ops.ctx, &text, &len);
	if (rc) {
		free(text);
		*status = 500;
		snprintf(msg, sizeof(msg), "bpfprof: cannot render the metrics: %s",
			 strerror(rc < 0 ? -rc : EIO));
		return serve_send_error(conn, 500, msg);
	}
	*status = 200;
	/* Prometheus's text exposition format, version 0.0.4. */
	return serve_queue(conn, 200,
			   serve_response(200, "text/plain; version=0.0.4; charset=utf-8", text,
					  len, MHD_RESPMEM_MUST_FREE));
}

static enum MHD_Result answer_index(struct agent_http *h, struct MHD_Connection *conn, int *status)
{
	char *html = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&html, &len);

	*status = 500;
	if (!f)
		return serve_send_error(conn, 500, "bpfprof: out of memory");
	fputs("<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n"
	      "<p>bpfprof agent: profiles of this host from its running capture.</p>\n<table>\n",
	      f);
	for (i = 0; i < ARRAY_SIZE(endpoints); i++) {
		const struct endpoint *e = &endpoints[i];

		if (live(h, e))
			fprintf(f, "<tr><td><a href='%s%s'>%s</a></td><td>%s</td></tr>\n", e->name,
				strcmp(e->name, "profile") ? "" : "?seconds=30", e->name, e->desc);
		else
			fprintf(f,
				"<tr><td>%s</td><td>Not captured: add %s to --types.</td></tr>\n",
				e->name, e->type);
	}
	fputs("</table>\n<p>Filters: <code>service=NAME</code>, <code>pod=</code>, "
	      "<code>namespace=</code>, <code>container=</code> (its name), "
	      "<code>container_id=</code> (a prefix will do). The agent's own health: <a "
	      "href='/metrics'>/metrics</a>."
	      "</p>\n<p>For example: <code>go tool pprof "
	      "http://HOST:PORT/debug/pprof/profile?seconds=30&amp;service=NAME</code></p>\n"
	      "</body>\n</html>\n",
	      f);
	if (fclose(f)) {
		free(html);
		return serve_send_error(conn, 500, "bpfprof: out of memory");
	}
	*status = 200;
	return serve_queue(
		conn, 200,
		serve_response(200, "text/html; charset=utf-8", html, len, MHD_RESPMEM_MUST_FREE));
}

static enum MHD_Result not_allowed(struct MHD_Connection *conn, const char *method)
{
	struct MHD_Response *resp;
	char *body;
	int n = asprintf(&body, "bpfprof: method %s not allowed: use GET\n", method);

	if (n < 0)
		return MHD_NO;
	resp = serve_response(405, "text/plain; charset=utf-8", body, n, MHD_RESPMEM_MUST_FREE);
	if (resp)
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
	return serve_queue(conn, 405, resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	struct agent_http *h = cls;
	const struct endpoint *e;
	enum MHD_Result ret;
	char query[256], msg[128];
	bool stopping;
	int64_t t0;
	int status;

	if (!serve_request_ready(state, upload_size, &ret))
		return ret;
	t0 = mono_ns();
	serve_query_string(conn, query, sizeof(query));
	pthread_mutex_lock(&h->lock);
	stopping = h->stopping;
	h->open++;
	((struct serve_request *)*state)->counted = true;
	pthread_mutex_unlock(&h->lock);
	if ((status = serve_check_request(conn, version, h->has_token ? h->token : NULL, &ret))) {
		/* Answered. */
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = 405;
		ret = not_allowed(conn, method);
	} else if (stopping) {
		status = 503;
		ret = serve_send_error(conn, 503, "bpfprof: the agent is stopping");
	} else if (!strcmp(url, "/metrics")) {
		ret = answer_metrics(h, conn, &status);
	} else if (!strcmp(url, PREFIX) || !strcmp(url, "/debug/pprof")) {
		ret = answer_index(h, conn, &status);
	} else if (!strncmp(url, PREFIX, sizeof(PREFIX) - 1) &&
		   (e = find_endpoint(url + sizeof(PREFIX) - 1))) {
		ret = answer_profile(h, conn, e, &status);
	} else {
		status = 404;
		if (strncmp(url, PREFIX, sizeof(PREFIX) - 1))
			snprintf(msg, sizeof(msg),
				 "bpfprof: the agent serves %s and /metrics, not %.64s", PREFIX,
				 url);
		else
			/* Go's words, which its tools know. */
			snprintf(msg, sizeof(msg), "Unknown profile: %.64s",
				 url + sizeof(PREFIX) - 1);
		ret = serve_send_error(conn, 404, msg);
	}
	pr_info("%s %s%s: %d (%.1f s)\n", method, url, query, status, (mono_ns() - t0) / 1e9);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
			 enum MHD_RequestTerminationCode code)
{
	struct agent_http *h = cls;
	struct serve_request *req = *state;

	if (req && req->counted) {
		pthread_mutex_lock(&h->lock);
		if (!--h->open)
			pthread_cond_broadcast(&h->idle);
		pthread_mutex_unlock(&h->lock);
	}
	serve_request_end(state);
}

struct agent_http *agent_http__start(const struct agent_http_opts *o)
{
	pthread_condattr_t ca;
	struct agent_http *h;
	char shown[320];
	int fd;

	if (!o->listen || !o->ops || !o->ops->profile) {
		pr_warn("agent: --listen: no address or no profile source\n");
		return NULL;
	}
	if (o->max_requests < 0) {
		pr_warn("agent: --listen: invalid max_requests %d\n", o->max_requests);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		pr_warn("agent: --listen: out of memory\n");
		return NULL;
	}
	h->ops = *o->ops;
	h->max_requests = o->max_requests ? o->max_requests : AGENT_HTTP_MAX_REQUESTS;
	/* Read now: a bad token file is an error at start, not at the first request. */
	if (o->token_file) {
		if (serve_read_token(o->token_file, h->token, sizeof(h->token)))
			goto fail;
		h->has_token = true;
	}
	fd = serve_listen(o->listen, shown, sizeof(shown));
	if (fd < 0)
		goto fail;
	h->port = serve_listen_port(fd);
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->idle, &ca);
	pthread_condattr_destroy(&ca);
	h->mhd = serve_start_daemon(fd, on_request, h, on_completed);
	if (!h->mhd) {
		pr_warn("cannot serve on %s: libmicrohttpd did not start\n", shown);
		close(fd);
		pthread_cond_destroy(&h->idle);
		pthread_mutex_destroy(&h->lock);
		goto fail;
	}
	serve_warn_exposed(fd, h->has_token, "profiles");
	pr_info("serving profiles on http://%s%s and /metrics\n", shown, PREFIX);
	return h;
fail:
	free(h);
	return NULL;
}

int agent_http__port(const struct agent_http *h)
{
	return h->port;
}

void agent_http__stop(struct agent_http *h)
{
	struct timespec until;
	int64_t end;

	if (!h)
		return;
	/*
	 * Under the lock take_slot() reads, so no request takes a place from now
	 * on; one that took it just before may call profile() after cancel: the
	 * agent's cancel is for good (http.h).
	 */
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_mutex_unlock(&h->lock);
	if (h->ops.cancel)
		h->ops.cancel(h->ops.ctx);
	/*
	 * Stopping the daemon closes every connection at once: the answers of
	 * the requests just released (and the 503s) get a moment to be sent.
	 */
	clock_gettime(CLOCK_MONOTONIC, &until);
	end = until.tv_sec * 1000000000LL + until.tv_nsec + STOP_GRACE_NS;
	until.tv_sec = end / 1000000000;
	until.tv_nsec = end % 1000000000;
	pthread_mutex_lock(&h->lock);
	while (h->open)
		if (pthread_cond_timedwait(&h->idle, &h->lock, &until))
			break;
	pthread_mutex_unlock(&h->lock);
	/* Joins every connection's thread, once its handler has returned. */
	MHD_stop_daemon(h->mhd);
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->lock);
	explicit_bzero(h->token, sizeof(h->token));
	free(h);
}
