/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `bpfprof agent --listen ADDR`: Go's /debug/pprof/ endpoints and /metrics,
 * answered from the agent's running capture.  The HTTP side only (on
 * serve/server.h's plumbing, a thread per connection): every profile is
 * built by the agent, through the ops below, on its own thread.
 *
 *   GET /debug/pprof/               index of the endpoints live
 *   GET /debug/pprof/profile        CPU, the next ?seconds=N (default 30)
 *   GET /debug/pprof/block          off-CPU   } cumulative since the agent
 *   GET /debug/pprof/mutex          mutex     } started, or with ?seconds=N
 *   GET /debug/pprof/allocs         growth    } the next N seconds
 *   GET /metrics                    Prometheus text
 *
 * Query: seconds=1..3600, service=, pod=, namespace=, container=,
 * container_id= (hex, a prefix will do), debug=0; anything else is a 400.  Methods other than GET and HEAD get 405, other paths 404.
 */
#ifndef BPFPROF_AGENT_HTTP_H
#define BPFPROF_AGENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_HTTP_DEFAULT_SECONDS 30 /* /profile without seconds, as Go */
#define AGENT_HTTP_MAX_SECONDS 3600
#define AGENT_HTTP_MAX_REQUESTS 8 /* profile requests at once, by default */
/* The longest filter value (service=, pod=, namespace=, container=, container_id=). */
#define AGENT_HTTP_MAX_FILTER 255

struct agent_query {
	const char *endpoint; /* "profile", "block", "mutex", "allocs" */
	int seconds;	      /* the next N seconds; 0: cumulative since the agent started */
	/* Filters, NULL: any (agent/filter.h says how they match). */
	const char *service, *pod, *namespace, *container, *container_id;
};

/* Called from the HTTP threads, several at once: each op must be thread-safe. */
struct agent_http_ops {
	/*
	 * Called on an HTTP thread; blocks until the profile is built (the
	 * query's strings live until it returns).  0 and a malloc'd body
	 * (gzipped pprof) of len bytes, which the listener frees; or an HTTP
	 * status (400, 404, 503...) with a one-line message in err; -errno is
	 * a 500.  When the client goes away meanwhile the result is dropped.
	 */
	int (*profile)(void *ctx, const struct agent_query *q, uint8_t **body, size_t *len,
		       char *err, size_t errlen);
	/* A malloc'd Prometheus text of len bytes; 0 or -errno (500). */
	int (*metrics)(void *ctx, char **text, size_t *len);
	/* Whether an endpoint's type runs (--types): 404 and the index otherwise.  NULL: all. */
	bool (*has_endpoint)(void *ctx, const char *endpoint);
	/*
	 * Called by agent_http__stop() once new requests are refused: every
	 * profile() call waiting must return soon (a 503, say), and every call
	 * after it at once: a request that got in just before the stop may call
	 * after cancel.  NULL: stop waits for the calls to end by themselves.
	 */
	void (*cancel)(void *ctx);
	void *ctx;
};

struct agent_http_opts {
	const char *listen;	/* HOST:PORT, :PORT (every address), PORT (localhost) */
	const char *token_file; /* NULL, or requests need "Authorization: Bearer TOKEN" */
	int max_requests;	/* profile requests at once, then 503; 0: 8 */
	const struct agent_http_ops *ops;
};

struct agent_http;

/*
 * Listens and serves.  NULL after one line saying why (the address, the
 * token file).  A non-loopback address prints a warning.
 */
struct agent_http *agent_http__start(const struct agent_http_opts *o);
/* The port bound (for --listen :0, tests and logs). */
int agent_http__port(const struct agent_http *h);
/*
 * New requests get 503, ops->cancel releases those waiting, then the
 * connections are closed and their threads joined; frees h (NULL is fine).
 */
void agent_http__stop(struct agent_http *h);

/* The endpoint's profile type, as --types names it ("block" → "offcpu"); NULL: none. */
const char *agent_http_type_of(const char *endpoint);

#endif
