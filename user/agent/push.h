/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's Pyroscope sink: finished interval profiles go, as batches of
 * series, into a bounded queue that one background thread POSTs to Grafana
 * Pyroscope's push API (`{url}/push.v1.PusherService/Push`, Connect
 * protocol, a `push.v1.PushRequest` protobuf).  A backend that is down is
 * retried with backoff, in order; when the queue is full the oldest request
 * falls out (the newest intervals matter most), counted.
 */
#ifndef BPFPROF_AGENT_PUSH_H
#define BPFPROF_AGENT_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "profile/pb.h"

/* Defaults of push_opts.max_requests and .max_bytes. */
#define PUSH_MAX_REQUESTS 64
#define PUSH_MAX_BYTES (32u << 20)

struct push_label {
	const char *name, *value;
};

/*
 * One series: its labels, kept in the order given (the caller includes
 * `__name__`, `service_name` and `__delta__="false"`; the pusher invents
 * none), and one profile, gzipped pprof.  Everything is copied.
 */
struct push_series {
	const struct push_label *labels;
	size_t nlabels;
	const uint8_t *profile;
	size_t len;
};

struct push_opts {
	const char *url;	/* http:// or https://, Pyroscope's base URL */
	const char *tenant;	/* X-Scope-OrgID, or NULL */
	const char *basic_auth; /* "user:password", or NULL */
	const char *bearer;	/* a token, or NULL; not with basic_auth */
	size_t max_requests;	/* queued requests; 0: PUSH_MAX_REQUESTS */
	/*
	 * Queued request bytes; 0: PUSH_MAX_BYTES.  A request dropped while
	 * being sent is freed when its transfer ends, so memory stays under
	 * twice this.
	 */
	size_t max_bytes;
	/* For tests; 0: the defaults (1 s doubling to 30 s, 5 s, 30 s). */
	unsigned int backoff_min_ms, backoff_max_ms;
	unsigned int connect_timeout_ms, timeout_ms;
};

/*
 * A snapshot for /metrics.  "Requests" are PushRequests (one submit each),
 * "series" the RawProfileSeries in them.
 */
struct push_stats {
	uint64_t requests_ok, series_ok, bytes_ok; /* 2xx answers */
	uint64_t permanent_errors;		   /* 4xx but 429, or refused: dropped */
	uint64_t transient_errors;		   /* 5xx, 429, no connection: retried */
	uint64_t dropped_requests, dropped_series; /* fell out of the full queue */
	uint64_t queue_requests, queue_bytes;	   /* waiting or being sent now */
	double last_latency_s;			   /* of the last successful push */
	double latency_sum_s;			   /* over latency_count successes */
	uint64_t latency_count;
	double last_success; /* Unix time in seconds, 0 before the first */
};

struct pusher;

/* Starts the push thread; NULL after one line saying why. */
struct pusher *pusher__new(const struct push_opts *o);
/*
 * Queues n series as one PushRequest (copied, so the caller's memory is
 * free again on return), dropping the oldest requests when the queue is
 * full.  0, or after one line -EINVAL (no series, a label without a name,
 * no profile), -E2BIG (larger than max_bytes alone) or -ENOMEM; the last
 * two count the request as dropped.  Thread-safe.
 */
int pusher__submit(struct pusher *p, const struct push_series *s, size_t n);
/* Thread-safe. */
void pusher__stats(struct pusher *p, struct push_stats *out);
/*
 * Sends what is queued now, retrying at once rather than after the
 * backoff, for at most timeout_ms; returns how many requests remain.
 */
size_t pusher__flush(struct pusher *p, int timeout_ms);
/*
 * Stops the thread (a transfer in flight is aborted at once, a hung
 * server is not waited for) and frees everything queued.  NULL is fine.
 */
void pusher__free(struct pusher *p);

/*
 * Appends one PushRequest holding the n series to out, each with a new
 * random UUID as its sample ID.  0 or out->err.  Exposed for tests.
 */
int push_encode(const struct push_series *s, size_t n, struct pb_buf *out);

#endif
